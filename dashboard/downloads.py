"""Subtitle downloads: the response and a Content-Disposition header that no name can break.

Download names come from provider task IDs and job names, i.e. from outside. A CR or LF in a
header value makes Django refuse the response (a 500), and a quote ends the quoted filename
early, so `";filename*=UTF-8''evil.html;x=` would hand the browser a second, preferred name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from urllib.parse import quote

from django.http import HttpResponse
from django.urls import URLPattern, path
from django.utils.http import content_disposition_header

MAX_STEM = 120  # characters: file systems allow 255 bytes, and a name is for reading
# What Windows, macOS and Linux refuse in a file name, plus the characters that mean
# something in a header parameter.
_UNSAFE = re.compile(r'[\\/:*?"<>|;,=%\x00-\x1f\x7f]+')
_NOT_PLAIN_ASCII = re.compile(r"[^A-Za-z0-9 ._-]+")


def _clean_stem(name: str) -> str:
    visible = "".join(
        " " if unicodedata.category(char).startswith(("C", "Z")) else char for char in name
    )
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFC", visible))
    return " ".join(stem.split()).strip(" ._")[:MAX_STEM].strip(" ._")


def download_names(name: str, extension: str, *, fallback: str = "subtitles") -> tuple[str, str]:
    """(ASCII name, Unicode name) for a file called `name`, both ending in `.extension`.

    The ASCII name has only letters, digits, space, dot, dash and underscore; the Unicode one keeps
    what a file system accepts. An empty result becomes `fallback`.
    """
    suffix = "." + extension
    stem = _clean_stem(name)
    if stem.lower().endswith(suffix):
        stem = stem[: -len(suffix)].rstrip(" ._")
    stem = stem or fallback
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = _NOT_PLAIN_ASCII.sub("_", ascii_stem).strip(" ._-") or fallback
    return ascii_stem + suffix, stem + suffix


def content_disposition(name: str, extension: str, *, as_attachment: bool = True) -> str:
    """A Content-Disposition value naming the file `name`.`extension`: a plain ASCII
    `filename` for old clients and, when the name needs more, an RFC 5987 `filename*`."""
    ascii_name, unicode_name = download_names(name, extension)
    # Never None: Django gives None only to an inline response without a file name.
    header = content_disposition_header(as_attachment, ascii_name) or ""
    if unicode_name != ascii_name:
        header += f"; filename*=utf-8''{quote(unicode_name, safe='')}"
    return header


def subtitle_file(
    body: str, *, name: str, extension: str, content_type: str, as_attachment: bool = True
) -> HttpResponse:
    """`body` as a UTF-8 file download called `name`.`extension`."""
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition(
        name, extension, as_attachment=as_attachment
    )
    return response


def subtitle_routes(
    prefix: str, name: str, srt: Callable[..., HttpResponse], vtt: Callable[..., HttpResponse]
) -> list[URLPattern]:
    """The three downloads a job page and a share page both offer, under `prefix`:
    `<name>-srt`, `<name>-subtitles-vtt` (the player's <track>) and `<name>-words-vtt`."""
    return [
        path(f"{prefix}subtitles.srt", srt, name=f"{name}-srt"),
        path(f"{prefix}subtitles.vtt", vtt, {"source": "subtitles"}, name=f"{name}-subtitles-vtt"),
        path(f"{prefix}words.vtt", vtt, {"source": "words"}, name=f"{name}-words-vtt"),
    ]
