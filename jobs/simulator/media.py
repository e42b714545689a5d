"""What a simulated job produces: a playable tone, its words, their subtitles, a cover.

All of it is derived from the job's seed, so the same job always "says" the same words
whichever provider renders it and however often it is asked.
"""

from __future__ import annotations

import functools
import io
import math
import random
import re
import wave

from jobs.simulator.clock import SimJob
from jobs.simulator.wire import SimRequest, SimResponse


def silent_wav(seconds: float = 12.0, rate: int = 8000) -> bytes:
    """A small playable WAV (a quiet tone) so players and word previews can run."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        frames = bytearray(
            128 + int(4 * math.sin(2 * math.pi * 220 * i / rate))
            for i in range(int(seconds * rate))
        )
        out.writeframes(bytes(frames))
    return buffer.getvalue()


@functools.cache
def demo_wav() -> bytes:
    """The one recording every simulated job serves (built once, on first use)."""
    return silent_wav()


WORDS = (
    "welcome to the evening news our virtual anchor reads the headlines "
    "markets rose today while the weather turns cold across the north"
).split()


def demo_sentences(job: SimJob, count: int = 3) -> list[list[tuple[str, int, int]]]:
    """Deterministic sentences of (word, start_ms, end_ms) for a job."""
    sentences, cursor = [], 0
    rng = random.Random(job.seed)
    for _ in range(count):
        words = []
        for _ in range(rng.randint(5, 9)):
            word = rng.choice(WORDS)
            length = 180 + 40 * len(word)
            words.append((word, cursor, cursor + length))
            cursor += length + 60
        sentences.append(words)
        cursor += 300
    return sentences


def srt_for(job: SimJob) -> str:
    def stamp(ms: int) -> str:
        return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02},{ms % 1000:03}"

    blocks = []
    for number, words in enumerate(demo_sentences(job), 1):
        text = " ".join(w for w, _, _ in words)
        blocks.append(f"{number}\n{stamp(words[0][1])} --> {stamp(words[-1][2])}\n{text}\n")
    return "\n".join(blocks)


def cover_svg(job: SimJob) -> str:
    """A flat cover whose hue is the job's own, so covers tell jobs apart at a glance."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180">'
        f'<rect width="320" height="180" fill="hsl({job.seed % 360},40%,40%)"/></svg>'
    )


def ranged(request: SimRequest, body: bytes, content_type: str) -> SimResponse:
    """Serve bytes with Range support: browsers only seek in media that allows it."""
    headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.header("Range").strip())
    if not match or not any(match.groups()):
        return SimResponse(200, body, headers)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else len(body) - 1, len(body) - 1)
    else:
        start, end = max(0, len(body) - int(last)), len(body) - 1
    if start > end:
        return SimResponse(416, b"", {"Content-Range": f"bytes */{len(body)}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
    return SimResponse(206, body[start : end + 1], headers)
