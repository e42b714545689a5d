/* The job list's selection for bulk actions: a box per row, "select all on this page",
 * shift-click for a range and, once the page is all selected, "all N matching".
 *
 * The boxes are plain form controls of #bulk-form (a POST with the CSRF token), so the
 * actions work without this script. The selection is kept here by job code, because the
 * list's live poll morphs the rows and would otherwise clear their boxes. */
(function () {
  "use strict";

  var selected = new Set();
  var lastClicked = null;

  function form() { return document.getElementById("bulk-form"); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("input[data-bulk-row]")); }
  function pageBox() { return document.querySelector("input[data-bulk-page]"); }
  function allBox() { return document.querySelector("input[data-bulk-all]"); }

  function matchingText() {
    var live = document.getElementById("job-live");
    return live ? live.getAttribute("data-matching") || "" : "";
  }

  function render() {
    var bar = form();
    if (!bar) return;
    var boxes = rows();
    boxes.forEach(function (box) { box.checked = selected.has(box.value); });
    var count = boxes.filter(function (box) { return box.checked; }).length;
    var page = pageBox();
    if (page) {
      page.checked = count > 0 && count === boxes.length;
      page.indeterminate = count > 0 && count < boxes.length;
    }
    var all = allBox();
    var whole = count > 0 && count === boxes.length;
    if (all && !whole) all.checked = false;
    var matching = matchingText();
    var label = bar.querySelector("[data-bulk-all-label]");
    if (label) {
      label.hidden = !whole;
      var text = matching
        ? "Select all " + matching + " jobs matching this filter" +
          (matching.indexOf("+") >= 0 ? " (at least: the count stopped there)" : "")
        : "Select every job matching this filter (how many is not counted)";
      label.lastChild.textContent = " " + text;
    }
    var status = bar.querySelector("[data-bulk-count]");
    if (all && all.checked) {
      status.textContent = matching
        ? "All " + matching + " matching jobs selected"
        : "Every matching job selected";
    } else {
      status.textContent = count + " job" + (count === 1 ? "" : "s") + " selected";
    }
    bar.classList.toggle("bulk-none", count === 0);
  }

  document.addEventListener("click", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.hasAttribute("data-bulk-row")) {
      var boxes = rows();
      var here = boxes.indexOf(box);
      var from = lastClicked ? boxes.indexOf(lastClicked) : -1;
      var range = event.shiftKey && from >= 0 ? boxes.slice(Math.min(from, here), Math.max(from, here) + 1) : [box];
      range.forEach(function (each) {
        if (box.checked) selected.add(each.value); else selected.delete(each.value);
      });
      lastClicked = box;
      render();
    } else if (box.hasAttribute("data-bulk-page")) {
      rows().forEach(function (each) {
        if (box.checked) selected.add(each.value); else selected.delete(each.value);
      });
      render();
    } else if (box.hasAttribute("data-bulk-all")) {
      render();
    }
  });

  /* After a poll: boxes for rows still listed get their state back; rows that left the
     page leave the selection (the form could not send them anyway). */
  document.addEventListener("htmx:afterSwap", function () {
    var present = new Set(rows().map(function (box) { return box.value; }));
    selected.forEach(function (code) { if (!present.has(code)) selected.delete(code); });
    if (lastClicked && !lastClicked.isConnected) lastClicked = null;
    render();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var bar = form();
    if (!bar) return;
    bar.classList.add("bulk-js");
    rows().forEach(function (box) { if (box.checked) selected.add(box.value); }); // back button
    render();
  });
})();
