/* Clapboard media player: the subtitle cue list and the word-level preview follow the
 * <video>/<audio> of the same job, and clicking a cue, a word or the timeline strip seeks it.
 *
 * Markup (templates/jobs/_media.html renders it; times are integer ms):
 *   .player[data-player] > video|audio            (the media element may be absent)
 *     + [data-media-error] (hidden; > [data-media-verdict]) + [data-media-slow] (hidden)
 *   ol[data-cues] > li > button.cue[data-start][data-end]
 *   section[data-words] > script[type="application/json"] (Django's json_script: per
 *     sentence, its words as [text, start, end]) + p.sentence (one per sentence, its plain
 *     text until bound) + div.word-strip[data-strip][data-duration] > span.playhead[data-playhead]
 *   Binding makes each sentence's words button.word[data-start][data-end][title] (text set
 *   as textContent, never parsed as markup) and the strip one span.bar per word, same order.
 *
 * Keyboard: the word preview is one Tab stop (a roving tabindex); arrows, Home and End move
 * between its words and Enter/Space seek, like a click.
 *
 * Loaded with <script defer>; binds itself on DOMContentLoaded and after every htmx swap, so
 * the page needs no inline script (the CSP forbids it). Exposes window.Clapboard.initPlayers
 * and window.Clapboard.players, nothing else.
 */
(() => {
  "use strict";

  const ns = (window.Clapboard = window.Clapboard || {});
  if (ns.initPlayers) return; // a swapped-in second copy of this script: the first one rules

  const READY = "data-player-ready";
  const GAP_MS = 1000; // silence longer than this is a gap worth showing
  const LONG_MS = 2000; // a single word longer than this is suspicious
  // currentTime = start / 1000 can read back a hair below start; never lose the word to that.
  const EPSILON_MS = 0.001;
  const USER_SCROLL_GRACE_MS = 3000; // don't yank a list the person is scrolling by hand
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  const players = [];
  const views = [];

  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
  const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

  function formatDuration(ms) {
    const tenths = Math.round(ms / 100);
    const seconds = Math.floor(tenths / 10);
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}.${tenths % 10}`;
  }

  function item(element, bar, start, end, position) {
    if (!Number.isFinite(start)) return null;
    const until = Number.isFinite(end) && end >= start ? end : start;
    return { element, bar, start, end: until, position, index: -1 };
  }

  function readItem(element, position) {
    const { start, end } = element.dataset;
    return item(element, null, parseInt(start, 10), parseInt(end, 10), position);
  }

  /** The sentences of a word preview's JSON payload: lists of [text, start, end]. */
  function readSentences(el) {
    const source = el.querySelector(':scope > script[type="application/json"]');
    try {
      const sentences = JSON.parse(source ? source.textContent : "[]");
      return Array.isArray(sentences) ? sentences : [];
    } catch {
      return [];
    }
  }

  /** Items sorted by start (ties keep document order) plus what the lookup needs.
   *  An item is current from its start until `until`: its end, or the next start when the
   *  pause between them is at most `holdMs` (so a word doesn't blink off between words). */
  class Timeline {
    constructor(items, holdMs) {
      this.items = items.slice().sort((a, b) => a.start - b.start || a.position - b.position);
      const count = this.items.length;
      this.starts = new Float64Array(count);
      this.until = new Float64Array(count);
      // cover[i]: among items 0..i, the one that lasts longest, for a time past item i's end
      // that an earlier, overlapping item still covers.
      this.cover = new Int32Array(count);
      let longest = -1;
      this.items.forEach((item, i) => {
        const next = this.items[i + 1];
        item.index = i;
        this.starts[i] = item.start;
        const end = Math.max(item.end, item.start + 1); // a zero-length word can still be clicked
        this.until[i] = next && next.start - end <= holdMs ? Math.max(end, next.start) : end;
        if (longest < 0 || this.until[i] >= this.until[longest]) longest = i;
        this.cover[i] = longest;
      });
    }

    covers(index, ms) {
      return index >= 0 && this.starts[index] <= ms && ms < this.until[index];
    }

    /** The index of the item current at `ms`, or -1. O(log n): a binary search over starts. */
    at(ms) {
      let low = 0;
      let high = this.starts.length - 1;
      let found = -1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        if (this.starts[middle] <= ms) {
          found = middle;
          low = middle + 1;
        } else {
          high = middle - 1;
        }
      }
      if (found < 0 || this.covers(found, ms)) return found;
      const earlier = this.cover[found];
      return ms < this.until[earlier] ? earlier : -1;
    }
  }

  /** One list of timed buttons (cues or words) bound to a container element. */
  class View {
    constructor(el, currentClass, holdMs) {
      this.el = el;
      this.currentClass = currentClass;
      this.player = null;
      this.current = -1;
      this.pinned = -1; // the item a person clicked: wins over others starting at the same time
      this.userScrolledAt = -Infinity;
      this.generated = [];
      this.events = new AbortController();
      this.byElement = new Map();

      this.clean();
      const items = this.collect().filter(Boolean);
      for (const item of items) {
        this.byElement.set(item.element, item);
        if (item.bar) this.byElement.set(item.bar, item);
      }
      this.timeline = new Timeline(items, holdMs);
      this.decorate();

      const options = { signal: this.events.signal };
      el.addEventListener("click", (event) => this.onClick(event), options);
      const scrolledByHand = () => (this.userScrolledAt = performance.now());
      el.addEventListener("wheel", scrolledByHand, { ...options, passive: true });
      el.addEventListener("touchmove", scrolledByHand, { ...options, passive: true });
      // A press on the container itself (not a button in it) is a grab of its scrollbar.
      el.addEventListener("pointerdown", (e) => e.target === el && scrolledByHand(), options);
      el.setAttribute(READY, "");
    }

    /** Undo what a previous binding left in the markup, so binding it again changes nothing. */
    clean() {
      for (const node of this.el.querySelectorAll(`.${this.currentClass}[aria-current]`)) {
        node.classList.remove(this.currentClass);
        node.removeAttribute("aria-current");
      }
    }

    collect() {
      return [];
    }

    decorate() {}

    seekTo(item) {
      this.player.seek(item.start, this, item.index);
    }

    update(ms, follow) {
      let index = this.pinned;
      if (!this.timeline.covers(index, ms)) {
        this.pinned = -1;
        index = this.timeline.at(ms);
      }
      if (index !== this.current) this.highlight(index, follow);
    }

    /** Moves the highlight: touches only the previous and the new item, and reads layout
     *  (to decide on scrolling) before writing anything. */
    highlight(index, follow) {
      const items = this.timeline.items;
      const previous = items[this.current];
      const next = items[index];
      const scrollTop = next && follow ? this.scrollTarget(next.element) : null;
      if (previous) this.mark(previous, false);
      if (next) this.mark(next, true);
      this.current = index;
      if (scrollTop !== null) {
        // Glide to the next line; jump after a seek (animating past pages of words helps no one).
        const far = Math.abs(scrollTop - this.el.scrollTop) > 2 * this.el.clientHeight;
        const behavior = far || reducedMotion.matches ? "auto" : "smooth";
        this.el.scrollTo({ top: scrollTop, behavior });
      }
    }

    mark(item, on) {
      for (const node of [item.element, item.bar]) {
        if (!node) continue;
        node.classList.toggle(this.currentClass, on);
        if (on) node.setAttribute("aria-current", "true");
        else node.removeAttribute("aria-current");
      }
    }

    /** Where to scroll this container so `element` is in view, or null to leave it alone.
     *  Only the container scrolls, never the page. */
    scrollTarget(element) {
      const box = this.el;
      if (performance.now() - this.userScrolledAt < USER_SCROLL_GRACE_MS) return null;
      if (box.scrollHeight <= box.clientHeight + 1) return null;
      const boxRect = box.getBoundingClientRect();
      let top = boxRect.top + box.clientTop;
      let bottom = top + box.clientHeight;
      for (const sticky of this.stickyEdges()) {
        const rect = sticky.getBoundingClientRect();
        if (rect.top <= top + 1) top = Math.max(top, rect.bottom);
        else bottom = Math.min(bottom, rect.top);
      }
      const rect = element.getBoundingClientRect();
      if (rect.top >= top && rect.bottom <= bottom) return null;
      // Land the item a third of the way down, so reading continues without another jump.
      return Math.max(0, box.scrollTop + rect.top - top - (bottom - top) / 3);
    }

    stickyEdges() {
      return [];
    }

    destroy() {
      this.events.abort();
      for (const node of this.generated) node.remove();
      if (this.current >= 0) this.mark(this.timeline.items[this.current], false);
      this.el.removeAttribute(READY);
    }
  }

  class CueView extends View {
    constructor(el) {
      super(el, "active", 0);
    }

    collect() {
      return Array.from(this.el.querySelectorAll(".cue"), readItem);
    }

    onClick(event) {
      const cue = event.target.closest(".cue");
      const item = cue && this.byElement.get(cue);
      if (item) this.seekTo(item);
    }
  }

  const FLAGS = ["overlap", "long", "after-gap"];

  let hints = 0; // ids for the keyboard hints of several previews on one page

  class WordView extends View {
    constructor(el) {
      super(el, "current", GAP_MS);
      this.rove();
    }

    /** Builds the word buttons and the strip's bars from the payload, replacing what a
     *  previous binding built (so binding again changes nothing), in one write per line. */
    collect() {
      this.strip = this.el.querySelector("[data-strip]");
      const lines = Array.from(this.el.querySelectorAll(":scope > p.sentence"));
      const bars = document.createDocumentFragment();
      const items = [];
      readSentences(this.el).forEach((words, index) => {
        let line = lines[index];
        if (!line) {
          line = document.createElement("p");
          line.className = "sentence";
          this.el.insertBefore(line, this.strip);
        }
        const parts = [];
        for (const word of Array.isArray(words) ? words : []) {
          const [text, start, end] = Array.isArray(word) ? word : [];
          if (!Number.isFinite(start)) continue;
          const button = document.createElement("button");
          button.type = "button";
          button.className = "word";
          button.textContent = String(text);
          button.dataset.start = start;
          button.dataset.end = end;
          button.title = `${start}–${end} ms`;
          let bar = null;
          if (this.strip) {
            bar = document.createElement("span");
            bar.className = "bar";
            bar.dataset.start = start;
            bar.dataset.end = end;
            bars.append(bar);
          }
          parts.push(...(parts.length ? [" ", button] : [button]));
          items.push(item(button, bar, start, end, items.length));
        }
        line.replaceChildren(...parts);
      });
      if (this.strip) {
        for (const old of this.strip.querySelectorAll(".bar")) old.remove();
        this.strip.insertBefore(bars, this.strip.querySelector("[data-playhead]"));
      }
      this.words = items.map((entry) => entry.element);
      return items;
    }

    /** One Tab stop for the whole preview (a roving tabindex): Left/Right move between words
     *  in reading order, Up/Down to the nearest word on the line above/below, Home/End to the
     *  first/last word; Enter and Space are the buttons' own clicks, which seek. */
    rove() {
      this.positions = new Map(this.words.map((word, position) => [word, position]));
      this.stop = null;
      for (const word of this.words) word.tabIndex = -1;
      this.setStop(this.words[0]);
      const options = { signal: this.events.signal };
      this.el.addEventListener("keydown", (event) => this.onKey(event), options);
      this.el.addEventListener(
        "focusin",
        (event) => this.positions.has(event.target) && this.setStop(event.target),
        options,
      );
    }

    setStop(word) {
      if (!word || word === this.stop) return;
      if (this.stop) {
        this.stop.tabIndex = -1;
        this.stop.removeAttribute("aria-describedby");
      }
      word.tabIndex = 0;
      if (this.hint) word.setAttribute("aria-describedby", this.hint.id);
      this.stop = word;
    }

    onKey(event) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const position = this.positions.get(event.target);
      if (position === undefined) return;
      const forward = getComputedStyle(this.el).direction === "rtl" ? -1 : 1;
      const moves = {
        ArrowRight: () => this.words[position + forward],
        ArrowLeft: () => this.words[position - forward],
        ArrowDown: () => this.lineNeighbour(position, 1),
        ArrowUp: () => this.lineNeighbour(position, -1),
        Home: () => this.words[0],
        End: () => this.words[this.words.length - 1],
      };
      if (!moves[event.key]) return;
      event.preventDefault(); // the arrows and Home/End would otherwise scroll the box
      const target = moves[event.key]();
      if (!target) return;
      this.setStop(target);
      target.focus({ preventScroll: true });
      this.userScrolledAt = -Infinity; // moving by key is asking to see where focus went
      const top = this.scrollTarget(target);
      if (top !== null) this.el.scrollTo({ top, behavior: "auto" });
    }

    /** The word on the next visual line (direction 1) or the previous one (-1) whose centre
     *  is nearest to this word's, or undefined on the first/last line. Walks outwards from
     *  `position` and stops after that line, so it reads a few dozen boxes, not all words. */
    lineNeighbour(position, direction) {
      const from = this.words[position].getBoundingClientRect();
      const centre = from.left + from.width / 2;
      let lineTop = null;
      let best;
      let bestDistance = Infinity;
      for (let i = position + direction; i >= 0 && i < this.words.length; i += direction) {
        const rect = this.words[i].getBoundingClientRect();
        if (lineTop === null) {
          const beyond = direction > 0 ? rect.top >= from.bottom - 1 : rect.bottom <= from.top + 1;
          if (!beyond) continue;
          lineTop = rect.top;
        } else if (Math.abs(rect.top - lineTop) > rect.height / 2) {
          break;
        }
        const distance = Math.abs(rect.left + rect.width / 2 - centre);
        if (distance < bestDistance) {
          best = this.words[i];
          bestDistance = distance;
        }
      }
      return best;
    }

    clean() {
      super.clean();
      for (const node of this.el.querySelectorAll(".gap, .overlap-zone, .bar-cursor")) {
        node.remove();
      }
      for (const node of this.el.querySelectorAll(".overlap, .long, .after-gap")) {
        node.classList.remove(...FLAGS);
      }
    }

    decorate() {
      const items = this.timeline.items;
      const lastEnd = items.reduce((latest, item) => Math.max(latest, item.end), 0);
      const declared = parseInt(this.strip ? this.strip.dataset.duration : "", 10);
      this.duration = Math.max(declared > 0 ? declared : 0, lastEnd) || 1;
      const percent = (ms) => `${+clamp((ms / this.duration) * 100, 0, 100).toFixed(4)}%`;
      const flag = (item, name) => {
        item.element.classList.add(name);
        if (item.bar) item.bar.classList.add(name);
      };
      this.placed = []; // [node, left, width]: inline positions, re-applied by place()
      const zones = document.createDocumentFragment();
      const zone = (name, start, end) => {
        const node = document.createElement("span");
        node.className = name;
        this.placed.push([node, percent(start), percent(end - start)]);
        zones.append(node);
        this.generated.push(node);
      };

      const counts = { overlap: 0, gap: 0, long: 0 };
      let reach = -Infinity; // the latest end so far, and the word that ends there
      let reacher = null;
      for (const item of items) {
        if (item.bar) {
          this.placed.push([item.bar, percent(item.start), percent(item.end - item.start)]);
        }
        if (item.start < reach) {
          flag(item, "overlap");
          flag(reacher, "overlap");
          zone("overlap-zone", item.start, Math.min(item.end, reach));
          counts.overlap += 1;
        } else if (reacher && item.start - reach > GAP_MS) {
          item.element.classList.add("after-gap");
          zone("gap", reach, item.start);
          counts.gap += 1;
        }
        if (item.end - item.start > LONG_MS) {
          flag(item, "long");
          counts.long += 1;
        }
        if (item.end > reach) {
          reach = item.end;
          reacher = item;
        }
      }

      if (this.strip) {
        this.playhead = this.strip.querySelector("[data-playhead]");
        if (!this.playhead) {
          this.playhead = document.createElement("span");
          this.playhead.className = "playhead";
          this.playhead.setAttribute("data-playhead", "");
          this.strip.append(this.playhead);
          this.generated.push(this.playhead);
        }
        // The current bar is drawn by one overlay moved with a transform: restyling a bar
        // itself would repaint every bar (each absolutely positioned bar is a paint layer).
        this.cursor = document.createElement("span");
        this.cursor.className = "bar-cursor";
        zones.append(this.cursor);
        this.generated.push(this.cursor);
        this.strip.insertBefore(zones, this.playhead);
        this.stripWidth = 0;
        this.resizes = new ResizeObserver(([entry]) => {
          this.stripWidth = entry.contentRect.width;
          this.moveCursor();
        });
        this.resizes.observe(this.strip);
      }
      this.place();
      this.summarize(items.length, counts);
    }

    place() {
      for (const [node, left, width] of this.placed) {
        node.style.left = left;
        node.style.width = width;
      }
      this.playheadPercent = -1;
      this.movePlayhead(this.lastMs);
      this.moveCursor();
    }

    /** A one-line verdict above the words: how many there are and what looks wrong. */
    summarize(total, counts) {
      let summary = this.el.querySelector("[data-word-summary]");
      if (!summary) {
        summary = document.createElement("p");
        summary.className = "word-summary";
        summary.setAttribute("data-word-summary", "");
        this.el.prepend(summary);
        this.generated.push(summary);
      }
      const parts = [[`${plural(total, "word", "words")} · ${formatDuration(this.duration)}`, ""]];
      const flags = [
        [counts.overlap, "overlap", "overlaps", "flag-overlap"],
        [counts.gap, "gap over 1 s", "gaps over 1 s", "flag-gap"],
        [counts.long, "word over 2 s", "words over 2 s", "flag-long"],
      ];
      for (const [count, one, many, name] of flags) {
        if (count) parts.push([plural(count, one, many), name]);
      }
      if (parts.length === 1 && total) parts.push(["no overlaps, gaps or long words", "flag-ok"]);
      summary.replaceChildren(
        ...parts.map(([text, name]) => {
          const span = document.createElement("span");
          span.className = name ? `flag ${name}` : "total";
          span.textContent = text;
          return span;
        }),
      );
      // Shown while a word has focus (player.css), and read out as each word's description.
      this.hint = document.createElement("span");
      this.hint.className = "keys";
      this.hint.id = `word-keys-${(hints += 1)}`;
      this.hint.textContent = "Arrow keys move between words, Home/End to the ends, Enter plays";
      summary.append(this.hint);
      this.summary = summary;
    }

    stickyEdges() {
      return [this.summary, this.strip].filter(Boolean);
    }

    update(ms, follow) {
      super.update(ms, follow);
      this.movePlayhead(ms);
    }

    highlight(index, follow) {
      super.highlight(index, follow);
      this.moveCursor();
      // Tabbing back in lands on the word being played, unless a word has focus now.
      const item = this.timeline.items[index];
      if (item && !this.el.contains(document.activeElement)) this.setStop(item.element);
    }

    moveCursor() {
      if (!this.cursor) return;
      const item = this.timeline.items[this.current];
      if (!item) {
        this.cursor.style.transform = "scaleX(0)";
        return;
      }
      const minimum = this.stripWidth ? 3 / this.stripWidth : 0; // keep 3 px visible
      const scale = Math.max((item.end - item.start) / this.duration, minimum);
      const left = clamp(item.start / this.duration, 0, 1 - scale) * 100;
      this.cursor.style.transform = `translateX(${left.toFixed(3)}%) scaleX(${scale.toFixed(5)})`;
    }

    movePlayhead(ms = 0) {
      this.lastMs = ms;
      if (!this.playhead) return;
      const percent = clamp((ms / this.duration) * 100, 0, 100);
      // Even a transform write costs Chromium a pre-paint walk that grows with the page; with
      // long media the playhead moves less than a pixel a frame, so skip what wouldn't show.
      const halfPixel = this.stripWidth ? 50 / this.stripWidth : 0.005;
      if (Math.abs(percent - this.playheadPercent) < halfPixel) return;
      this.playheadPercent = percent;
      // The playhead spans the strip, so translateX(%) is % of the strip: no layout.
      this.playhead.style.transform = `translateX(${percent.toFixed(3)}%)`;
    }

    onClick(event) {
      const hit = event.target.closest(".word, .bar");
      const item = hit && this.byElement.get(hit);
      if (item) {
        this.seekTo(item);
      } else if (this.strip && this.strip.contains(event.target)) {
        const rect = this.strip.getBoundingClientRect();
        const share = rect.width ? (event.clientX - rect.left) / rect.width : 0;
        this.player.seek(Math.round(clamp(share, 0, 1) * this.duration));
      }
    }

    destroy() {
      super.destroy();
      if (this.resizes) this.resizes.disconnect();
      for (const word of this.words) {
        word.removeAttribute("tabindex");
        word.removeAttribute("aria-describedby");
      }
      for (const item of this.timeline.items) {
        item.element.classList.remove(...FLAGS);
        if (item.bar) item.bar.classList.remove(...FLAGS);
      }
    }
  }

  /** One media element (or none) and the views that follow it. */
  class Player {
    constructor(key, media) {
      this.key = key;
      this.media = media;
      this.views = [];
      this.frame = 0;
      this.events = new AbortController();
      if (!media) return;
      const on = (type, handler) =>
        media.addEventListener(type, handler, { signal: this.events.signal });
      on("play", () => this.run());
      on("playing", () => this.run());
      on("pause", () => this.halt());
      on("ended", () => this.halt());
      for (const type of ["timeupdate", "seeking", "seeked", "loadedmetadata", "emptied"]) {
        on(type, () => this.sync());
      }
    }

    /** Follow playback every frame while the media plays; the loop ends itself on pause. */
    run() {
      if (this.frame) return;
      const tick = () => {
        this.frame = 0;
        if (!this.media || this.media.paused || this.media.ended) return;
        this.sync();
        this.frame = requestAnimationFrame(tick);
      };
      this.frame = requestAnimationFrame(tick);
    }

    halt() {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.sync();
    }

    sync() {
      if (this.media) this.show(this.media.currentTime * 1000 + EPSILON_MS);
    }

    show(ms) {
      for (const view of this.views) view.update(ms, true);
    }

    /** Seeks the media (if any) and highlights at once, even while paused. */
    seek(ms, source, index) {
      for (const view of this.views) view.pinned = -1;
      if (source) source.pinned = index;
      if (this.media) this.media.currentTime = ms / 1000;
      this.show(ms + EPSILON_MS);
    }

    resume() {
      if (!this.media) return;
      this.sync();
      if (!this.media.paused && !this.media.ended) this.run();
    }

    destroy() {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.events.abort();
    }
  }

  const VIEWS = "[data-words], [data-cues]";

  /** The media a view follows: the nearest [data-player] around it, and its video/audio.
   *  Without one (no media URL), views under one parent still move together: a key is shared
   *  by the nearest ancestor that holds more than one view. */
  function locateMedia(el) {
    let group = null;
    for (let node = el.parentElement; node; node = node.parentElement) {
      const anchor = node.querySelector("[data-player]");
      if (anchor) {
        const media = anchor.querySelector("video, audio");
        return { key: media || anchor, media };
      }
      if (!group && node.querySelectorAll(VIEWS).length > 1) group = node;
    }
    return { key: group || el, media: null };
  }

  function attach() {
    const touched = new Set();
    for (const view of views) {
      const { key, media } = locateMedia(view.el);
      if (view.player && view.player.key === key) continue;
      if (view.player) view.player.views.splice(view.player.views.indexOf(view), 1);
      let player = players.find((candidate) => candidate.key === key);
      if (!player) {
        player = new Player(key, media);
        players.push(player);
      }
      player.views.push(view);
      view.player = player;
      touched.add(player);
    }
    for (let i = players.length - 1; i >= 0; i -= 1) {
      if (!players[i].views.length) players.splice(i, 1)[0].destroy();
    }
    for (const player of touched) player.resume();
  }

  function forget(view) {
    views.splice(views.indexOf(view), 1);
    if (view.player) view.player.views.splice(view.player.views.indexOf(view), 1);
    view.destroy();
  }

  const SLOW_MS = 15000; // no answer from the media host for this long is worth saying
  const watched = new WeakSet();

  /** A media element that cannot load shows only "0:00 / 0:00"; say so instead, and ask the
   *  server (data-media-check, signed-in pages only) what the media host answers, since the
   *  browser reports a 404, a 403 and a closed port alike. */
  function watchMedia(root) {
    const anchors = Array.from(root.querySelectorAll("[data-player]"));
    if (root.matches && root.matches("[data-player]")) anchors.push(root);
    for (const anchor of anchors) {
      const media = anchor.querySelector("video, audio");
      if (!media || watched.has(media)) continue;
      watched.add(media);
      const box = anchor.querySelector("[data-media-error]");
      const slow = anchor.querySelector("[data-media-slow]");
      let asked = false;
      const fail = () => {
        anchor.classList.add("media-failed");
        if (slow) slow.hidden = true;
        if (box) box.hidden = false;
        const verdict = anchor.querySelector("[data-media-verdict]");
        const url = anchor.getAttribute("data-media-check");
        if (!verdict || !url || asked) return;
        asked = true;
        verdict.hidden = false;
        verdict.textContent = "Asking Clapboard's server what the media host answers…";
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
          .then((answer) => {
            verdict.textContent = String(answer.message || "");
            verdict.setAttribute("data-verdict", String(answer.verdict || ""));
          })
          .catch(() => {
            verdict.textContent = "Clapboard's server could not check the link either.";
          });
      };
      media.addEventListener("error", fail);
      if (media.error) fail(); // it failed before this script ran
      if (slow) {
        media.addEventListener("loadedmetadata", () => (slow.hidden = true));
        setTimeout(() => {
          const waiting = media.networkState === HTMLMediaElement.NETWORK_LOADING;
          if (!media.error && media.readyState === HTMLMediaElement.HAVE_NOTHING && waiting) {
            slow.hidden = false;
          }
        }, SLOW_MS);
      }
    }
  }

  /** Binds every cue list and word preview in `root` (a document or an element) and returns
   *  the players. Safe to call again: a bound container is left alone, unless `root` lies
   *  inside it (its content was swapped), in which case it is rebound. Bound containers carry
   *  data-player-ready (the word strip shows only then); the registry decides what is bound. */
  function init(root = document) {
    if (!root || !root.querySelectorAll) root = document;
    watchMedia(root);
    for (const view of views.filter((candidate) => !candidate.el.isConnected)) forget(view);
    const owner = root.closest ? root.closest(VIEWS) : null;
    const containers = owner ? [owner] : root.querySelectorAll(VIEWS);
    for (const el of containers) {
      const bound = views.find((view) => view.el === el);
      if (bound) {
        if (!owner) continue;
        forget(bound);
      }
      views.push(el.matches("[data-words]") ? new WordView(el) : new CueView(el));
    }
    attach();
    return players;
  }

  function afterSwap(event) {
    const target = (event.detail && event.detail.target) || event.target;
    // An outerHTML swap leaves the old target detached: look at the whole page instead.
    init(target && target.isConnected ? target : document);
  }

  ns.players = players;
  ns.initPlayers = init;
  document.addEventListener("htmx:afterSwap", afterSwap);
  document.addEventListener("htmx:oobAfterSwap", afterSwap);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => init(document));
  } else {
    init(document);
  }
})();
