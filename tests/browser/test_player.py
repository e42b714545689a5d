"""The media player, cue list and word-level preview (static/js/player.js) in headless Chromium.

Pages follow the markup contract of templates/jobs/detail.html and are served from a local
http.server under a strict Content-Security-Policy (no inline script or style), so a CSP
violation shows up as a console error and fails the test.
"""

from __future__ import annotations

import html
import http.server
import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils.html import json_script
from playwright.sync_api import Browser, Page

from jobs.simulator.core import silent_wav
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'"
)
GAP_MS = 1000  # mirrors player.js: a pause up to this long keeps the previous word current


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


# Document order. "anchor" overlaps "virtual"; 4300 -> 5600 is a gap; "today" is long;
# "weather" comes before "turns" in the text but starts after it (unsorted input).
SENTENCES = [
    [
        Word("welcome", 200, 560),
        Word("to", 620, 740),
        Word("the", 800, 940),
        Word("evening", 1000, 1480),
        Word("news", 1540, 1900),
    ],
    [
        Word("our", 2300, 2440),
        Word("virtual", 2500, 2900),
        Word("anchor", 2820, 3200),
        Word("reads", 3260, 3560),
        Word("the", 3620, 3740),
        Word("headlines", 3800, 4300),
    ],
    [
        Word("markets", 5600, 6100),
        Word("rose", 6160, 6400),
        Word("today", 6460, 8900),
        Word("while", 8960, 9200),
        Word("the", 9260, 9400),
        Word("weather", 9700, 10100),
        Word("turns", 9460, 9680),
        Word("cold", 10160, 10600),
    ],
]
WORDS = [word for sentence in SENTENCES for word in sentence]
CUES = [
    (200, 1900, "welcome to the evening news"),
    (2300, 4300, "our virtual anchor reads the headlines"),
    (5600, 10600, "markets rose today while the weather turns cold"),
]
DURATION_MS = 12000


def expected_current(words: list[Word], ms: float) -> Word | None:
    """The word player.js must highlight at `ms`: the last to start, held through short pauses."""
    ordered = sorted(words, key=lambda word: word.start)
    until = []
    for i, word in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        held = following is not None and following.start - word.end <= GAP_MS
        until.append(max(word.end, following.start) if held else word.end)
    found = bisect_right([word.start for word in ordered], ms) - 1
    if found < 0:
        return None
    if ms < until[found]:
        return ordered[found]
    covering = [i for i in range(found + 1) if ms < until[i]]
    return ordered[max(covering, key=lambda i: (until[i], i))] if covering else None


# --- pages ------------------------------------------------------------------------------


def _clock(ms: int) -> str:
    return f"{ms // 60000:02}:{ms // 1000 % 60:02}.{ms // 100 % 10}"


def cues_html(cues: list[tuple[int, int, str]]) -> str:
    items = "".join(
        f'<li><button type="button" class="cue" data-start="{start}" data-end="{end}">'
        f"<time>{_clock(start)}</time> {html.escape(text)}</button></li>"
        for start, end, text in cues
    )
    return f'<ol class="cues" data-cues aria-label="Subtitles">{items}</ol>'


def words_html(sentences: list[list[Word]], duration_ms: int) -> str:
    """The word preview as jobs/_media.html renders it: the timings as JSON (Django's own
    json_script), each sentence's plain text, the strip with only its playhead."""
    payload = json_script([[[w.text, w.start, w.end] for w in sentence] for sentence in sentences])
    lines = "".join(
        f'<p class="sentence">{html.escape(" ".join(w.text for w in sentence))}</p>'
        for sentence in sentences
    )
    return (
        f'<section class="word-preview" data-words aria-label="Word timings">{payload}{lines}'
        f'<div class="word-strip" data-strip aria-hidden="true" data-duration="{duration_ms}">'
        '<span class="playhead" data-playhead></span></div></section>'
    )


def page_html(
    sentences: list[list[Word]],
    cues: list[tuple[int, int, str]],
    *,
    media: bool = True,
    duration_ms: int = DURATION_MS,
) -> str:
    # Without a media URL the template leaves the whole player out, as jobs/_media.html does.
    player = (
        '<div class="player" data-player><video id="job-media" controls preload="metadata" '
        'src="/media/news.wav"><track kind="subtitles" label="Subtitles" src="/media/news.vtt" '
        "default></video></div>"
        if media
        else '<p class="no-media">No media URL yet: the timings below come from the provider.</p>'
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Evening news · Clapboard</title>
  <link rel="stylesheet" href="/static/css/clapboard.css">
  <link rel="stylesheet" href="/static/css/player.css">
  <link rel="stylesheet" href="/fixture.css">
  <script src="/static/js/player.js" defer></script>
</head>
<body>
  <header class="topbar"><a class="brand" href="/">Clapboard</a>
    <nav aria-label="Main"><a href="/">Jobs</a><a href="/">Track</a><a href="/">Accounts</a></nav>
    <span class="user">olivia</span></header>
  <main>
    <section class="card head">
      <h1>Evening news</h1>
      <p><code>task-1a2b3c</code> · Tencent IVH · prod-ivh · virtual anchor
        · <span class="badge state-succeeded">Succeeded</span></p>
    </section>
    <div class="columns">
      <section class="card" aria-label="Media">
        <h2>Media</h2>
        {player}
        <section class="subtitles"><h2>Subtitles</h2>{cues_html(cues)}</section>
        <h2>Words</h2>
        {words_html(sentences, duration_ms)}
      </section>
      <aside class="card" aria-label="Timeline">
        <h2>Timeline</h2>
        <ol class="events"><li><time>10:02:11</time> Submitted</li>
          <li><time>10:02:15</time> Running · 0 %</li><li><time>10:04:40</time> Succeeded</li></ol>
      </aside>
    </div>
  </main>
</body>
</html>"""


FIXTURE_CSS = """
.columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px;
  margin-top: 16px; align-items: start; }
.head h1 { margin: 0 0 4px; } .head p { margin: 0; color: var(--muted); }
h2 { font-size: 13px; margin: 12px 0 6px; color: var(--muted); font-weight: 600; }
h2:first-child { margin-top: 0; }
.events { list-style: none; margin: 0; padding: 0; font-variant-numeric: tabular-nums; }
.events li { padding: 4px 0; border-bottom: 1px solid var(--line); }
.events time { color: var(--muted); margin-right: 8px; }
.no-media { color: var(--muted); margin: 0; }
"""


def long_fixture(count: int = 5000, per_sentence: int = 10) -> tuple[list[list[Word]], list]:
    """`count` words of 2 ms each, back to back, so they fit the 12 s media."""
    words = [Word(f"w{i:04}", 2 * i, 2 * i + 2) for i in range(count)]
    sentences = [words[i : i + per_sentence] for i in range(0, count, per_sentence)]
    cues = [(s[0].start, s[-1].end, " ".join(w.text for w in s)) for s in sentences]
    return sentences, cues


def _vtt() -> str:
    def stamp(ms: int) -> str:
        return f"00:{ms // 60000:02}:{ms // 1000 % 60:02}.{ms % 1000:03}"

    return "WEBVTT\n\n" + "\n".join(
        f"{stamp(start)} --> {stamp(end)}\n{text}\n" for start, end, text in CUES
    )


# --- the little web server --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        content_type, produce = route
        body = produce()
        status, first, last = 200, 0, len(body) - 1
        # Chromium seeks media with Range requests; without 206 answers it can't seek.
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and body:
            first = int(match[1]) if match[1] else max(0, len(body) - int(match[2] or 0))
            last = min(int(match[2]), last) if match[1] and match[2] else last
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        try:
            self.wfile.write(body[first : last + 1])
        except (BrokenPipeError, ConnectionResetError):
            pass  # Chromium drops media range requests it no longer needs

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Site(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, tuple[str, Callable[[], bytes]]]) -> None:
        self.routes = routes
        super().__init__(("127.0.0.1", 0), _Handler)


def _static(relative: str) -> Callable[[], bytes]:
    return lambda: (ROOT / relative).read_bytes()  # read per request: edits show up live


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    wav = silent_wav(seconds=12)
    long_sentences, long_cues = long_fixture()
    pages = {
        "/player.html": page_html(SENTENCES, CUES),
        "/no-media.html": page_html(SENTENCES, CUES, media=False),
        "/long.html": page_html(long_sentences, long_cues, duration_ms=10000),
    }
    routes: dict[str, tuple[str, Callable[[], bytes]]] = {
        path: ("text/html; charset=utf-8", lambda text=text: text.encode())
        for path, text in pages.items()
    }
    routes |= {
        "/static/css/clapboard.css": ("text/css", _static("static/css/clapboard.css")),
        "/static/css/player.css": ("text/css", _static("static/css/player.css")),
        "/static/js/player.js": ("text/javascript", _static("static/js/player.js")),
        "/fixture.css": ("text/css", lambda: FIXTURE_CSS.encode()),
        "/media/news.wav": ("audio/wav", lambda: wav),
        "/media/news.vtt": ("text/vtt", lambda: _vtt().encode()),
        "/favicon.ico": ("image/x-icon", lambda: b""),
    }
    server = _Site(routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(chromium: Browser) -> Browser:
    """The session's Chromium (tests/browser/conftest.py): Playwright's sync API allows one
    instance per thread."""
    return chromium


@dataclass
class Opened:
    page: Page
    errors: list[str]


@pytest.fixture
def open_page(site: str, browser: Browser) -> Iterator[Callable[..., Opened]]:
    """Opens a fixture page; its console errors and uncaught exceptions are collected."""
    contexts = []

    def open_(path: str, *, init_script: str | None = None, **context_options) -> Opened:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(site + path)
        page.wait_for_selector("[data-words][data-player-ready]", state="attached")
        return Opened(page, errors)

    yield open_
    for context in contexts:
        context.close()


# --- helpers ----------------------------------------------------------------------------

CURRENT = """() => [...document.querySelectorAll('.word.current')].map(w => ({
    text: w.textContent, start: +w.dataset.start, aria: w.getAttribute('aria-current')}))"""
CURRENT_BARS = "() => [...document.querySelectorAll('.bar.current')].map(b => +b.dataset.start)"
ACTIVE_CUES = "() => [...document.querySelectorAll('.cue.active')].map(c => +c.dataset.start)"


def media_time(page: Page) -> float:
    return page.evaluate("() => document.getElementById('job-media').currentTime")


def wait_until_seekable(page: Page) -> None:
    page.wait_for_function("() => document.getElementById('job-media').readyState >= 1")


def seek(page: Page, seconds: float) -> None:
    """Seeks the way the native controls do, and waits for the seek to land."""
    page.evaluate(
        """seconds => new Promise(resolve => {
            const media = document.getElementById('job-media');
            media.addEventListener('seeked', () => resolve(), {once: true});
            media.currentTime = seconds;
        })""",
        seconds,
    )


def play_until(page: Page, seconds: float) -> float:
    """Plays until the media passes `seconds`, pauses, and returns where it stopped."""
    page.evaluate("() => document.getElementById('job-media').play()")
    page.wait_for_function(
        "s => document.getElementById('job-media').currentTime > s", arg=seconds, timeout=10000
    )
    page.evaluate("() => document.getElementById('job-media').pause()")
    return media_time(page)


def highlighted(page: Page) -> list[tuple[str, int]]:
    return [(word["text"], word["start"]) for word in page.evaluate(CURRENT)]


def as_highlight(word: Word | None) -> list[tuple[str, int]]:
    return [(word.text, word.start)] if word else []


def word_button(page: Page, word: Word):
    return page.locator(f'.word[data-start="{word.start}"]')


def by_text(text: str) -> Word:
    return next(word for word in WORDS if word.text == text)


# --- tests ------------------------------------------------------------------------------


def test_strip_positions_bars_and_marks_overlaps_gaps_and_long_words(open_page):
    opened = open_page("/player.html")
    page = opened.page
    bars = page.evaluate(
        """() => [...document.querySelectorAll('.word-strip .bar')].map(b => ({
            start: +b.dataset.start, end: +b.dataset.end, left: b.style.left,
            width: b.style.width, classes: [...b.classList]}))"""
    )
    assert len(bars) == len(WORDS)
    for bar in bars:
        assert bar["left"].endswith("%") and bar["width"].endswith("%")
        assert float(bar["left"][:-1]) == pytest.approx(bar["start"] / DURATION_MS * 100, abs=1e-3)
        assert float(bar["width"][:-1]) == pytest.approx(
            (bar["end"] - bar["start"]) / DURATION_MS * 100, abs=1e-3
        )

    def flagged(selector: str) -> set[str]:
        return set(page.locator(selector).all_text_contents())

    assert flagged(".word.overlap") == {"virtual", "anchor"}
    assert flagged(".word.long") == {"today"}
    assert flagged(".word.after-gap") == {"markets"}
    assert sorted(b["start"] for b in bars if "overlap" in b["classes"]) == [2500, 2820]
    assert [b["start"] for b in bars if "long" in b["classes"]] == [6460]

    zones = page.evaluate(
        """() => ['gap', 'overlap-zone'].map(name => [...document.querySelectorAll(
            '.word-strip .' + name)].map(z => [parseFloat(z.style.left),
                                               parseFloat(z.style.width)]))"""
    )
    gaps, overlaps = zones
    assert gaps == [pytest.approx([4300 / 120, 1300 / 120], abs=1e-3)]
    assert overlaps == [pytest.approx([2820 / 120, 80 / 120], abs=1e-3)]
    summary = page.locator("[data-word-summary]").inner_text()
    assert "19 words" in summary and "1 overlap" in summary
    assert "1 gap over 1 s" in summary and "1 word over 2 s" in summary
    assert page.locator(".word-strip").is_visible()
    assert opened.errors == []


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.1, None),  # before the first word
        (0.3, Word("welcome", 200, 560)),
        (0.59, Word("welcome", 200, 560)),  # a 60 ms pause keeps the word
        (2.85, Word("anchor", 2820, 3200)),  # overlap: the later start wins
        (3.1, Word("anchor", 2820, 3200)),
        (4.8, None),  # inside a gap over 1 s
        (9.5, Word("turns", 9460, 9680)),  # after "weather" in the text, before it in time
        (9.9, Word("weather", 9700, 10100)),
        (11.5, None),  # after the last word
    ],
)
def test_seeking_the_media_highlights_the_word_at_that_time(open_page, seconds, expected):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    seek(page, seconds)
    assert expected == expected_current(WORDS, seconds * 1000)  # the reference agrees
    assert highlighted(page) == as_highlight(expected)
    assert page.evaluate(CURRENT_BARS) == ([expected.start] if expected else [])
    if expected:
        assert page.evaluate(CURRENT)[0]["aria"] == "true"
    playhead = page.evaluate("() => document.querySelector('[data-playhead]').style.transform")
    assert float(re.search(r"translateX\(([\d.]+)%\)", playhead)[1]) == pytest.approx(
        seconds * 1000 / DURATION_MS * 100, abs=0.05
    )
    assert opened.errors == []


def test_playing_moves_the_highlight(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)

    stopped = play_until(page, 1.05)  # past the start of "evening"
    first = expected_current(WORDS, stopped * 1000)
    assert first is not None and first.start >= 1000
    assert highlighted(page) == as_highlight(first)

    stopped = play_until(page, 3.3)  # past the start of "reads"
    second = expected_current(WORDS, stopped * 1000)
    assert second is not None and second.start >= 3260 and second != first
    assert highlighted(page) == as_highlight(second)
    assert page.evaluate(ACTIVE_CUES) == [2300]

    # While playing (no pause to settle it), the highlight keeps up on its own.
    page.evaluate("() => document.getElementById('job-media').play()")
    page.wait_for_function(
        "() => document.querySelector('.word.current')?.textContent === 'headlines'",
        timeout=5000,
    )
    page.evaluate("() => document.getElementById('job-media').pause()")
    assert opened.errors == []


COUNT_FRAMES = """
window.__frames = 0;
const realRequest = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = callback => { window.__frames += 1; return realRequest(callback); };
"""


def test_animation_frames_run_only_while_playing(open_page):
    opened = open_page("/player.html", init_script=COUNT_FRAMES)
    page = opened.page
    wait_until_seekable(page)
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__frames") == 0  # idle page: no loop

    page.evaluate("() => document.getElementById('job-media').play()")
    page.wait_for_function("() => window.__frames > 10", timeout=5000)
    page.evaluate("() => document.getElementById('job-media').pause()")
    paused_at = page.evaluate("() => window.__frames")
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.__frames") <= paused_at + 1  # loop stopped

    seek(page, 11.8)
    page.evaluate("() => document.getElementById('job-media').play()")
    page.wait_for_function("() => document.getElementById('job-media').ended", timeout=5000)
    ended_at = page.evaluate("() => window.__frames")
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.__frames") <= ended_at + 1
    assert opened.errors == []


def test_clicking_a_word_seeks_and_highlights_it(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    for text in ["reads", "turns", "virtual"]:
        word = by_text(text)
        word_button(page, word).click()
        assert media_time(page) == pytest.approx(word.start / 1000, abs=0.01)
        assert highlighted(page) == as_highlight(word)
        assert page.evaluate(CURRENT)[0]["aria"] == "true"
        assert page.evaluate(CURRENT_BARS) == [word.start]
    assert page.evaluate(ACTIVE_CUES) == [2300]

    page.locator(f'.word-strip .bar[data-start="{by_text("today").start}"]').click(force=True)
    assert media_time(page) == pytest.approx(6.46, abs=0.01)
    assert highlighted(page) == [("today", 6460)]
    assert opened.errors == []


FOCUSED_START = "() => document.activeElement.classList.contains('word') ? +document.activeElement.dataset.start : null"
TAB_STOPS = "() => [...document.querySelectorAll('.word')].filter(w => w.tabIndex === 0).map(w => +w.dataset.start)"


def test_the_word_preview_is_one_tab_stop(open_page):
    opened = open_page("/player.html")
    page = opened.page
    assert page.evaluate(TAB_STOPS) == [200]
    # Tab around the whole page: of the 19 words only one is ever reached.
    landed = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        landed.add(page.evaluate(FOCUSED_START))
    assert landed - {None} == {200}
    # From the control before it, one Tab enters the preview and the next one leaves it.
    page.locator(".cue").last.focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_START) == 200
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_START) is None
    assert opened.errors == []


def test_arrow_keys_move_between_words_and_enter_seeks(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    page.locator(".cue").last.focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_START) == 200

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(FOCUSED_START) == 800
    assert page.evaluate(TAB_STOPS) == [800]  # the stop moves with focus
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('job-media').currentTime > 0.79")
    assert media_time(page) == pytest.approx(0.8, abs=0.01)
    assert highlighted(page) == [("the", 800)]

    page.keyboard.press("ArrowLeft")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('job-media').currentTime < 0.7")
    assert media_time(page) == pytest.approx(0.62, abs=0.01)
    assert highlighted(page) == [("to", 620)]

    page.keyboard.press("End")
    assert page.evaluate(FOCUSED_START) == by_text("cold").start  # last in reading order
    page.keyboard.press("ArrowRight")  # nothing after the last word: focus stays
    assert page.evaluate(FOCUSED_START) == by_text("cold").start
    page.keyboard.press("Home")
    assert page.evaluate(FOCUSED_START) == 200

    second_line = {word.start for word in SENTENCES[1]}
    page.keyboard.press("ArrowDown")
    assert page.evaluate(FOCUSED_START) in second_line
    page.keyboard.press("ArrowUp")
    assert page.evaluate(FOCUSED_START) in {word.start for word in SENTENCES[0]}
    page.keyboard.press("ArrowUp")  # nothing above the first line
    assert page.evaluate(FOCUSED_START) in {word.start for word in SENTENCES[0]}
    assert page.locator(".word-summary .keys").is_visible()  # the hint, while a word has focus

    # Tab leaves the preview at once; Shift+Tab comes back to the same word.
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_START) is None
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED_START) == by_text("cold").start
    assert page.evaluate("() => window.scrollY") == 0  # moving by key never scrolls the page
    assert opened.errors == []


def test_the_tab_stop_follows_playback_while_focus_is_elsewhere(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    seek(page, 6.5)
    assert page.evaluate(TAB_STOPS) == [by_text("today").start]
    page.locator(".cue").last.focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED_START) == by_text("today").start
    seek(page, 0.3)  # focus is on a word now: the stop stays where the person put it
    assert page.evaluate(TAB_STOPS) == [by_text("today").start]
    assert opened.errors == []


def test_active_cue_follows_playback_and_clicking_a_cue_seeks(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    assert page.evaluate(ACTIVE_CUES) == []

    seek(page, 1.8)
    assert page.evaluate(ACTIVE_CUES) == [200]
    play_until(page, 2.35)  # across the boundary into the second cue
    assert page.evaluate(ACTIVE_CUES) == [2300]
    assert page.locator(".cue.active").get_attribute("aria-current") == "true"

    seek(page, 5.0)  # between cues: nothing is on screen, nothing is active
    assert page.evaluate(ACTIVE_CUES) == []

    page.locator('.cue[data-start="5600"]').click()
    assert media_time(page) == pytest.approx(5.6, abs=0.01)
    assert page.evaluate(ACTIVE_CUES) == [5600]
    assert highlighted(page) == [("markets", 5600)]
    assert opened.errors == []


def test_five_thousand_words_follow_a_seek_without_scrolling_the_page(open_page):
    opened = open_page("/long.html")
    page = opened.page
    wait_until_seekable(page)
    assert page.locator(".word").count() == 5000
    assert (
        page.evaluate("() => document.querySelectorAll('.word-strip .bar')[4999].style.left")
        == "99.98%"
    )
    page_scroll = page.evaluate("() => window.scrollY")
    rebuild_ms = page.evaluate(
        """() => { const t = performance.now();
            Clapboard.initPlayers(document.querySelector('[data-words] .sentence'));
            return performance.now() - t; }"""
    )
    print(f"5,000 words: (re)initialized in {rebuild_ms:.1f} ms")

    seek(page, 5.0011)
    assert highlighted(page) == [("w2500", 5000)]
    assert page.evaluate(CURRENT_BARS) == [5000]
    assert page.evaluate(ACTIVE_CUES) == [5000]
    in_view = """selector => {
        const item = document.querySelector(selector);
        const box = item.closest('[data-words], [data-cues]');
        const r = item.getBoundingClientRect(), b = box.getBoundingClientRect();
        return box.scrollTop > 0 && r.top >= b.top && r.bottom <= b.bottom; }"""
    page.wait_for_function(in_view, arg=".word.current")
    page.wait_for_function(in_view, arg=".cue.active")
    assert page.evaluate("() => window.scrollY") == page_scroll

    # During playback each frame touches only the previous and the new word (and its bar).
    touched = page.evaluate(
        """() => new Promise(resolve => {
            const media = document.getElementById('job-media'), batches = [];
            const observer = new MutationObserver(records => batches.push(
                new Set(records.map(r => r.target)).size));
            observer.observe(document.querySelector('[data-words]'), {
                subtree: true, attributes: true, attributeFilter: ['class', 'aria-current']});
            media.play();
            setTimeout(() => { media.pause(); observer.disconnect(); resolve(batches); }, 600);
        })"""
    )
    assert len(touched) > 5 and max(touched) <= 4
    assert opened.errors == []


def test_without_media_the_preview_is_a_static_timeline(open_page):
    opened = open_page("/no-media.html")
    page = opened.page
    assert page.locator("[data-player], video, audio").count() == 0
    assert page.locator(".word-strip .gap").count() == 1

    word_button(page, by_text("reads")).click()
    assert highlighted(page) == [("reads", 3260)]
    assert page.evaluate(CURRENT)[0]["aria"] == "true"
    assert page.evaluate(CURRENT_BARS) == [3260]
    assert page.evaluate(ACTIVE_CUES) == [2300]

    word_button(page, by_text("markets")).click()
    assert highlighted(page) == [("markets", 5600)]
    page.locator('.cue[data-start="200"]').click()
    assert highlighted(page) == [("welcome", 200)]
    assert opened.errors == []


def test_rerendering_binds_new_markup_once(open_page):
    opened = open_page("/player.html")
    page = opened.page
    wait_until_seekable(page)
    page.evaluate("() => { Clapboard.initPlayers(document); Clapboard.initPlayers(document); }")
    counts = """() => ({players: Clapboard.players.length,
        views: Clapboard.players.reduce((n, p) => n + p.views.length, 0),
        gaps: document.querySelectorAll('.word-strip .gap').length,
        summaries: document.querySelectorAll('[data-word-summary]').length})"""
    once = {"players": 1, "views": 2, "gaps": 1, "summaries": 1}
    assert page.evaluate(counts) == once
    page.evaluate(
        """() => { window.__seeks = 0; document.getElementById('job-media')
            .addEventListener('seeking', () => window.__seeks++); }"""
    )
    word_button(page, by_text("news")).click()
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__seeks") == 1

    # htmx swaps in fresh markup (outerHTML: the old target is gone).
    page.evaluate(
        """markup => {
            document.querySelector('[data-words]').outerHTML = markup;
            document.body.dispatchEvent(new CustomEvent('htmx:afterSwap', {bubbles: true,
                detail: {target: document.body}}));
        }""",
        words_html(SENTENCES, DURATION_MS),
    )
    assert page.evaluate(counts) == once
    word_button(page, by_text("rose")).click()
    assert media_time(page) == pytest.approx(6.16, abs=0.01)
    assert highlighted(page) == [("rose", 6160)]
    word_button(page, by_text("cold")).click()
    assert highlighted(page) == [("cold", 10160)]
    assert opened.errors == []


def _contrast(page: Page, selector: str) -> float:
    return page.evaluate(
        """selector => {
            const style = getComputedStyle(document.querySelector(selector));
            // "rgb(r, g, b)" in 0..255, or "color(srgb r g b)" in 0..1 (from color-mix)
            const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number)
                .map(v => s.startsWith('color(') ? v * 255 : v);
            const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
                return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
            const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        selector,
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_and_contrast(open_page, scheme):
    opened = open_page("/player.html", color_scheme=scheme)
    page = opened.page
    wait_until_seekable(page)
    word_button(page, by_text("anchor")).click()
    page.mouse.move(0, 0)
    assert _contrast(page, ".word.current") >= 4.5
    assert _contrast(page, ".cue.active") >= 4.5
    # More than color: the current word is a filled chip with a ring.
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.word.current')).boxShadow")
        != "none"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / ("player.png" if scheme == "light" else "player-dark.png")
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    assert opened.errors == []
