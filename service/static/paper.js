// The "Print" button of the printable pages (her sheet, the consent form).
// Served from Maillage itself, as the Content-Security-Policy asks (nothing inline).
// Without JavaScript the button stays hidden and the page says to print from the browser.
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
