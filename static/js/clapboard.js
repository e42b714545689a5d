/* Clapboard page behaviour: live regions, local times, copy buttons, form focus.
 *
 * Everything works without this script (plain links and forms, UTC times); it only makes
 * pages live. No inline handlers: the pages run under a CSP without 'unsafe-inline'. */
(function () {
  "use strict";

  var lastOk = Date.now();
  var failing = false;
  var lastPoll = new WeakMap();

  /* --- live regions: poll while the tab is visible, never pile up ------------------ */

  function tick() {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      var every = (parseFloat(el.getAttribute("data-poll")) || 5) * 1000;
      if (!lastPoll.has(el)) lastPoll.set(el, Date.now()); // fresh content: wait a full period
      if (Date.now() - lastPoll.get(el) >= every) {
        lastPoll.set(el, Date.now());
        window.htmx.trigger(el, "poll"); // hx-sync="this:drop" drops it if one is in flight
      }
    });
    renderFreshness();
  }

  function renderFreshness() {
    var el = document.querySelector("[data-freshness]");
    if (!el || !document.querySelector("[data-poll]")) return;
    var seconds = Math.max(0, Math.round((Date.now() - lastOk) / 1000));
    var text = (failing ? "update failed · data from " : "updated ") + relative(seconds * -1000);
    /* The page may be fresh while the data is not: the server marks the live region
       when accounts fail, with the oldest good answer behind what it shows. */
    var marked = document.querySelector("[data-poll][data-stale-since]");
    if (marked && !failing) {
      var since = new Date(marked.getAttribute("data-stale-since"));
      text += isNaN(since) ? " · data not yet checked OK" : " · data up to " + age(since) + " old";
    }
    el.textContent = text;
    el.classList.toggle("stale", failing || !!marked);
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !event.detail.elt.hasAttribute("data-poll")) return;
    if (xhr.status === 286) event.detail.elt.removeAttribute("data-poll");
    if (event.detail.successful || xhr.status === 204 || xhr.status === 286) {
      lastOk = Date.now();
      failing = false;
    } else {
      failing = true;
    }
    renderFreshness();
  });
  document.addEventListener("htmx:sendError", function () {
    failing = true;
    renderFreshness();
  });

  /* A refreshed row flashes softly once. Live regions that morph (hx-swap="morph:…")
     keep their rows, so focus and scroll stay where the person left them. */
  var versions = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    versions = {};
    event.detail.target.querySelectorAll("tr[data-version]").forEach(function (row) {
      versions[row.id] = row.getAttribute("data-version");
    });
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.elt && event.detail.elt.isConnected ? event.detail.elt : document;
    (root.querySelectorAll ? root : document).querySelectorAll("tr[data-version]").forEach(function (row) {
      var before = versions[row.id];
      if (before !== undefined && before !== row.getAttribute("data-version")) {
        row.classList.remove("flash");
        void row.offsetWidth; // restart the animation if the row flashed before
        row.classList.add("flash");
      }
    });
    renderTimes(document);
    renderFreshness();
  });
  document.addEventListener("animationend", function (event) {
    var row = event.target.closest && event.target.closest("tr.flash");
    if (row) row.classList.remove("flash");
  });

  /* --- times in the viewer's zone, UTC on hover -------------------------------------- */

  var thisYear = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  var otherYear = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  var clock = {
    format: function (when) {
      return (when.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(when);
    },
  };

  function relative(deltaMs) {
    var past = deltaMs <= 0; // "now" (0 ms, or -0) reads "just now", not "in 0 s"
    var s = Math.round(Math.abs(deltaMs) / 1000);
    var text;
    if (s < 5 && past) return "just now";
    if (s < 90) text = s + " s";
    else if (s < 5400) text = Math.round(s / 60) + " min";
    else if (s < 172800) text = Math.round(s / 3600) + " h";
    else text = Math.round(s / 86400) + " days";
    return past ? text + " ago" : "in " + text;
  }

  function age(when) {
    return relative(when - Date.now()).replace(/ ago$/, "").replace("just now", "a few s");
  }

  function renderTimes(root) {
    root.querySelectorAll("time[datetime][data-age]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = age(when);
    });
    root.querySelectorAll("time[datetime][data-local], time[datetime][data-relative]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var utc = el.getAttribute("data-utc") || el.getAttribute("title") || "";
      el.setAttribute("data-utc", utc);
      el.title = clock.format(when) + " (your time) · " + utc;
      el.textContent = el.hasAttribute("data-relative") ? relative(when - Date.now()) : clock.format(when);
      // A next check that has just passed is due, not "… ago" (the server says "overdue").
      if (el.hasAttribute("data-due") && when <= Date.now()) el.textContent = "due now";
    });
  }

  /* Expanded <details> (timeline runs) stay open when a poll swaps their region. */
  var openDetails = new Set();
  document.addEventListener("toggle", function (event) {
    var el = event.target;
    if (!(el instanceof HTMLDetailsElement) || !el.id) return;
    if (el.open) openDetails.add(el.id); else openDetails.delete(el.id);
  }, true);
  function reopenDetails() {
    openDetails.forEach(function (id) {
      var el = document.getElementById(id);
      if (el && !el.open) el.open = true;
    });
  }
  document.addEventListener("htmx:oobAfterSwap", reopenDetails);
  document.addEventListener("htmx:afterSettle", reopenDetails);

  /* --- copy buttons -------------------------------------------------------------------- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
      area.remove();
    }
  });

  /* --- nav menu (phones): Escape or a tap outside closes it --------------------------- */

  function openMenu() {
    return document.querySelector("details.nav-menu[open]");
  }
  document.addEventListener("keydown", function (event) {
    var menu = openMenu();
    if (event.key !== "Escape" || !menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    var menu = openMenu();
    if (menu && !menu.contains(event.target)) menu.open = false;
  });

  /* --- forms: focus the first error ------------------------------------------------------ */

  function focusFirstError(root) {
    var field = root.querySelector(".invalid input, .invalid select, .invalid textarea");
    if (field) field.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    renderTimes(document);
    focusFirstError(document);
    setInterval(tick, 1000);
    setInterval(function () { renderTimes(document); }, 1000);
  });
  document.addEventListener("visibilitychange", tick);
})();
