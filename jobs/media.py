"""Why a job's media does not load: the answer the media host gives Clapboard's server.

A browser that fails to load a <video> says nothing useful (Chromium reports the same
"Format error" for a 404, a 403 and a closed port), so the player asks the server, which
asks the media host once through the SSRF guard and turns the answer into a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from jobs import http

# One byte is enough to learn the status; a host that ignores Range sends more, and more
# than this means it is sending the media.
PROBE_MAX_BYTES = 64 * 1024
PROBE_TIMEOUT = (3.0, 5.0)  # (connect, read): the person is waiting on the page


@dataclass(frozen=True)
class MediaProbe:
    verdict: str  # available, gone, denied, unreachable, refused, error
    message: str


def media_probe(url: str) -> MediaProbe:
    """Ask the host behind `url` for the first byte of the media and say what it answered.

    Never raises for anything the host or the network does; the message names the host
    but never repeats the URL (signed links carry credentials in their query).
    """
    host = urlsplit(url).hostname or "the media host"
    try:
        response = http.public_request(
            "GET",
            url,
            # A signed link is signed for GET: a HEAD could be refused where GET works.
            headers={"Range": "bytes=0-0"},
            max_bytes=PROBE_MAX_BYTES,
            timeout=PROBE_TIMEOUT,
            allow_loopback=settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH,
        )
    except http.TooLarge:
        return _available(host)
    except http.Refused:
        return MediaProbe(
            "refused",
            f"Clapboard's server does not fetch from {host} (a private address or a redirect), "
            "so it cannot tell more.",
        )
    except http.Timeout:
        return MediaProbe(
            "unreachable",
            f"{host} does not answer Clapboard's server either (timed out): "
            "the media host is down or unreachable.",
        )
    except http.OutboundError:
        return MediaProbe(
            "unreachable",
            f"Clapboard's server cannot connect to {host} either: "
            "the media host is down or unreachable.",
        )
    status = response.status
    if status in (200, 206):
        return _available(host)
    if status in (404, 410):
        return MediaProbe(
            "gone",
            f"{host} answers HTTP {status}: the file is gone, so the link has expired "
            "or the media was deleted.",
        )
    if status in (401, 403):
        return MediaProbe(
            "denied",
            f"{host} answers HTTP {status}: access is refused, so a signed link has expired "
            "or the storage is private.",
        )
    return MediaProbe("error", f"{host} answers HTTP {status}.")


def _available(host: str) -> MediaProbe:
    return MediaProbe(
        "available",
        f"{host} does send the media to Clapboard's server: your browser may be unable to "
        f"reach {host} from its network, or unable to play this format.",
    )
