/* casebook: the one script of every page (no inline scripts under the CSP). Pages work without
   it; it only moves focus where a keyboard or screen-reader user needs it. */
(function () {
  "use strict";
  function focusField(id) {
    var target = document.getElementById(id);
    if (!target) { return false; }
    if (!target.matches("input, select, textarea, button, a, [tabindex]")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
    return true;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();  /* the summary first: it names every problem and links to each field */
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[href^='#']");
        if (link && focusField(decodeURIComponent(link.getAttribute("href").slice(1)))) {
          event.preventDefault();
        }
      });
    } else {
      var invalid = document.querySelector("[aria-invalid='true']");
      if (invalid) { invalid.focus(); }
    }
  });
})();
