"""The provider registry: one line per cloud API, classes imported lazily.

Model choices, admin forms and the refresh engine all read this table, so a sixth
provider is a new package, one line here, a simulator module and its tests
(docs/ADDING_A_PROVIDER.md).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.providers.base import Provider

PROVIDERS: dict[str, tuple[str, str]] = {
    "tencent_ivh": ("Tencent IVH video maker", "jobs.providers.tencent_ivh.TencentIvh"),
    "tencent_vod": ("Tencent VOD", "jobs.providers.tencent_vod.TencentVod"),
    "tencent_ci": ("Tencent Cloud Infinite", "jobs.providers.tencent_ci.TencentCi"),
    "huawei_metastudio": (
        "Huawei MetaStudio",
        "jobs.providers.huawei_metastudio.HuaweiMetaStudio",
    ),
    "aliyun_ice": ("Alibaba Cloud ICE", "jobs.providers.aliyun_ice.AliyunIce"),
}


def provider_choices() -> list[tuple[str, str]]:
    return [(code, label) for code, (label, _) in PROVIDERS.items()]


@cache
def provider_class(code: str) -> type[Provider]:
    """Return the adapter class for `code`; raises KeyError for an unknown code."""
    _, dotted = PROVIDERS[code]
    module_name, class_name = dotted.rsplit(".", 1)
    adapter: type[Provider] = getattr(import_module(module_name), class_name)
    return adapter
