// "Copier l'adresse" buttons: each copies the text field it names (data-copy) to the clipboard.
// Served from Maillage itself, as the Content-Security-Policy asks (nothing inline). Without
// JavaScript the button stays hidden and the address is selected and copied by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var said = document.getElementById(button.getAttribute("data-copied"));
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      navigator.clipboard.writeText(field.value).then(function () {
        if (said) said.hidden = false;
      });
    });
  });
})();
