"""Subtitles and word timings as the pages, the downloads and the API read them: cues,
sentences of word chips, and WebVTT made from either."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import srt

from jobs.models import Job


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str

    @property
    def label(self) -> str:
        seconds = self.start_ms / 1000
        return f"{int(seconds // 60):02}:{seconds % 60:04.1f}"


def subtitle_cues(job: Job) -> list[Cue]:
    """The stored SRT as cues; empty when there is none or it does not parse."""
    if not job.subtitles or job.subtitles_error:
        return []
    try:
        return [
            Cue(
                int(item.start.total_seconds() * 1000),
                int(item.end.total_seconds() * 1000),
                item.content,
            )
            for item in srt.parse(job.subtitles)
        ]
    except (srt.SRTParseError, ValueError):
        return []


class WordChip(NamedTuple):
    """One word: a tuple, cheap to make by the thousand and a JSON [text, start, end]."""

    text: str
    start_ms: int
    end_ms: int


@dataclass
class SentenceView:
    text: str
    words: list[WordChip] = field(default_factory=list)

    @property
    def display_text(self) -> str:
        """The sentence as the page shows it before player.js makes its words buttons."""
        return self.text or " ".join(w.text for w in self.words)


def sentences(job: Job) -> list[SentenceView]:
    """Word timings as stored (ms); malformed entries are skipped, never fatal."""
    result = []
    for sentence in job.words or []:
        if not isinstance(sentence, dict):
            continue
        view = SentenceView(str(sentence.get("text", "")))
        for word in sentence.get("words") or []:
            if isinstance(word, list | tuple) and len(word) == 3:
                text, start, end = word
                if isinstance(start, int) and isinstance(end, int):
                    view.words.append(WordChip(str(text), start, end))
        if view.words:
            result.append(view)
    return result


def word_timings(views: list[SentenceView]) -> list[list[WordChip]]:
    """The word preview's payload for player.js (json_script): per sentence, its words as
    [text, start_ms, end_ms], a few bytes a word where markup took two elements."""
    return [s.words for s in views]


def word_cues(job: Job) -> list[Cue]:
    """One cue per sentence, timed by its first and last word."""
    return [
        Cue(
            s.words[0].start_ms,
            max(w.end_ms for w in s.words),
            s.text or " ".join(w.text for w in s.words),
        )
        for s in sentences(job)
    ]


def webvtt(cues: list[Cue]) -> str:
    def stamp(ms: int) -> str:
        ms = max(0, ms)
        return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02}.{ms % 1000:03}"

    blocks = ["WEBVTT", ""]
    for number, cue in enumerate(cues, 1):
        # A blank line would end the cue early; "-->" inside text would confuse parsers.
        text = "\n".join(line for line in cue.text.splitlines() if line.strip()).replace("-->", "→")
        blocks += [
            str(number),
            f"{stamp(cue.start_ms)} --> {stamp(max(cue.end_ms, cue.start_ms + 1))}",
            text,
            "",
        ]
    return "\n".join(blocks)
