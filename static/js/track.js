/* Track page: the button says it is working from the moment the paste is sent (the
 * server renders it disabled while the paste's IDs are being checked). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-busy-form")) return;
    var button = form.querySelector("[data-busy-label]");
    if (!button) return;
    // After this event the form is already being sent: disabling cannot cancel it.
    setTimeout(function () {
      button.disabled = true;
      button.textContent = button.getAttribute("data-busy-label");
    }, 0);
  });
})();
