"""The two operator roles as Django groups; admins are staff users.

Created (and kept in line) after every migrate, so a fresh database has them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

VIEWERS = "Viewers"
OPERATORS = "Operators"

ROLE_PERMISSIONS = {
    VIEWERS: ["jobs.view_job", "jobs.view_jobevent", "jobs.view_account"],
    OPERATORS: [
        "jobs.view_job",
        "jobs.view_jobevent",
        "jobs.view_account",
        "jobs.operate_job",
        "jobs.add_sharelink",
        "jobs.view_sharelink",
        "jobs.view_auditentry",
    ],
}


def ensure_roles(**kwargs: Any) -> None:
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def user_roles(user: Any) -> list[str]:
    """The role groups `user` is in, in role order."""
    names = set(user.groups.values_list("name", flat=True))
    return [name for name in ROLE_PERMISSIONS if name in names]


def missing_role(user: Any) -> str | None:
    """The first role, in order, whose permissions `user` lacks; None when only an admin
    (staff) could do more."""
    for group_name, perms in ROLE_PERMISSIONS.items():
        if not user.has_perms(perms):
            return group_name
    return None
