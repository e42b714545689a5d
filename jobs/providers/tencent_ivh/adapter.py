"""Tencent Cloud IVH (AI digital human) video maker: `broadcastservice/getprogress`.

Wire facts are in docs/PROVIDERS.md §1. There is no batch endpoint: one TaskId per request.
"""

from __future__ import annotations

import json
from datetime import timedelta

from jobs import http
from jobs.providers.base import Provider, SchemaField
from jobs.providers.notify import Notice
from jobs.providers.status import JobStatus
from jobs.providers.tencent_ivh import notify
from jobs.providers.tencent_ivh.catalogue import FAILURE_CATALOGUE
from jobs.providers.tencent_ivh.parsing import _decode, parse_status, raise_for_response
from jobs.providers.tencent_ivh.signing import signed_query

CN_BASE_URL = "https://gw.tvs.qq.com"
INTL_BASE_URL = "https://gw-sg.tvs.qq.com"
GETPROGRESS_PATH = "/v2/ivh/videomaker/broadcastservice/getprogress"
CONTENT_TYPE = "application/json;charset=utf-8"


def request_body(task_id: str) -> bytes:
    # TaskId is typed string; one doc sample sends a number, we never do.
    return json.dumps(
        {"Header": {}, "Payload": {"TaskId": str(task_id)}}, separators=(",", ":")
    ).encode()


class TencentIvh(Provider):
    code = "tencent_ivh"
    label = "Tencent IVH video maker"
    notification_help = (
        "Pass it as the video-make request's CallbackUrl: IVH calls it once the video is "
        "done or has failed."
    )
    credential_fields = (
        SchemaField("appkey", "AppKey", secret=False, aliases=("AppKey", "appkey")),
        SchemaField(
            "access_token", "AccessToken", secret=True, aliases=("AccessToken", "accesstoken")
        ),
    )
    credentials_help = (
        "The project's appkey and accesstoken are shown in the digital human console "
        "(xiaowei.cloud.tencent.com; international: xiaowei.tencentcloud.com), on the "
        "project's API access details."
    )
    option_fields = ()
    default_rate_limit = 10.0
    batch_size = 1
    # Media without a custom storage URL is deleted after 7 days (docs/PROVIDERS.md §1.5).
    retention = timedelta(days=7)
    # [DOC] docs/PROVIDERS.md §1.5: "Audio and video resources without a custom storage URL are
    # retained for only 7 days."
    media_retention = timedelta(days=7)
    media_note = "keeps generated media for 7 days unless the job was given its own storage"
    can_submit = False
    # docs/PROVIDERS.md §1.6: the video-maker gateway has no cancel call.
    can_cancel = False
    cancel_unsupported_reason = (
        "Tencent IVH's video-maker API has no call to cancel a job: it runs until it "
        "succeeds or fails."
    )
    failure_catalogue = FAILURE_CATALOGUE

    def default_base_url(self) -> str:
        region = (self.region or "").strip().lower()
        if region == "intl" or region.startswith("ap-"):
            return INTL_BASE_URL
        return CN_BASE_URL

    def progress_url(self, timestamp: int) -> str:
        query = signed_query(
            self.credentials.get("appkey", ""), self.credentials.get("access_token", ""), timestamp
        )
        return f"{self.base_url()}{GETPROGRESS_PATH}?{query}"

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        return notify.parse(body, content_type)

    def fetch_one(self, external_id: str) -> JobStatus:
        """One getprogress call (IVH has no batch query); see Provider.fetch."""
        return self.exchange(
            "POST",
            self.progress_url(int(self.clock())),
            headers={"Content-Type": CONTENT_TYPE},
            body=request_body(external_id),
            parse=lambda response: parse_status(_decode(response.body), external_id=external_id),
        )

    def raise_for_response(self, response: http.Response) -> None:
        raise_for_response(response)

    def check_credentials(self) -> None:
        """Ask for a task that cannot exist: "task not found" proves the signature passed."""
        self.fetch(["clapboard-credential-check"])
