"""The API's resubmit: POST /api/v1/jobs/{code}/resubmit, the job page's "Resubmit" and,
with a body, its "Edit and resubmit".

The same service as the page (jobs.services.submitting) and the same checks: edited
parameters go through the submit page's form, so the API takes exactly what the page
takes and refuses it in the page's words. The body's fields are built from that form.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from ninja import Field, Schema
from ninja.responses import Status
from pydantic import ConfigDict, create_model

from dashboard.api import auth, schemas
from dashboard.api.auth import ApiRequest
from dashboard.api.errors import ApiError
from dashboard.api.views import _endpoint, _form_errors, _job
from dashboard.jobs.submit_form import VoiceSeparationForm
from jobs.models import Job
from jobs.providers.base import ProviderError
from jobs.services import InvalidInput, ResubmitRefused, job_resubmit, resubmit_refusal
from jobs.services.audit import Via

EDITABLE = [name for name in VoiceSeparationForm.base_fields if name != "account"]


class _Edits(Schema):
    model_config = ConfigDict(extra="forbid")


def _edit_field(name: str) -> tuple[Any, Any]:
    """A body field for one of the form's fields: a number where the form wants one
    (null clears it), else text ("" clears it); left out, the stored value stays."""
    field = VoiceSeparationForm.base_fields[name]
    numeric = isinstance(field, forms.IntegerField) or getattr(field, "coerce", None) is int
    words = [str(field.label or name.replace("_", " ").capitalize())]
    if field.help_text:
        words.append(str(field.help_text))
    choices = [str(value) for value, _ in getattr(field, "choices", ()) if value != ""]
    if choices:
        words.append("One of " + ", ".join(choices) + ".")
    kind: Any = int | None if numeric else str
    return kind, Field(None, description=". ".join(words))


if TYPE_CHECKING:
    ResubmitRequest = _Edits
else:
    ResubmitRequest = create_model(
        "ResubmitRequest", __base__=_Edits, **{name: _edit_field(name) for name in EDITABLE}
    )


def _edited(job: Job, payload: Schema) -> dict[str, Any]:
    """The stored parameters with the body's edits, checked by the submit page's form."""
    edits = {k: "" if v is None else v for k, v in payload.model_dump(exclude_unset=True).items()}
    form = VoiceSeparationForm({**(job.submit_params or {}), **edits}, source=job)
    if not form.is_valid():
        raise ApiError("invalid", _form_errors(form))
    return form.submit_params()


@_endpoint(
    "POST",
    "jobs/{uuid:code}/resubmit",
    auth.OPERATE,
    schemas.JobDetail,
    "invalid",
    "not_found",
    "conflict",
    "provider_error",
    status=201,
    ids=("resubmitJob", "api-job-resubmit"),
)
def resubmit(
    request: ApiRequest, code: uuid.UUID, payload: ResubmitRequest | None = None
) -> Status[Job]:
    """Submit a job again, as it was or edited

    Needs the jobs.operate_job permission. Only jobs submitted through Clapboard (their
    parameters are kept), once they have finished (failed, canceled or succeeded), on an
    enabled account, and not already resubmitted (resubmit the newest one): else 409
    with the reason. Without a body the parameters are those the job was submitted
    with; a body changes the fields it names, checked as the submit page checks them.
    The answer is the new job, as GET /api/v1/jobs/{code} shows it; the two jobs link to
    each other (`resubmission_of`, `resubmitted_as`), and the audit log has the call."""
    found = _job(code)
    params = None
    if payload is not None and not resubmit_refusal(found):
        params = _edited(found, payload)
    try:
        later = job_resubmit(job=found, user=request.user, via=Via.API, params=params)
    except ResubmitRefused as exc:
        raise ApiError("conflict", str(exc)) from None
    except InvalidInput as exc:
        raise ApiError("invalid", f"{exc}.") from None
    except ProviderError as exc:
        label = found.account.provider_label
        raise ApiError("provider_error", f"{label} refused the job: {exc}") from None
    return Status(201, _job(later.code))
