// The menu button of narrow screens: it shows and hides the main menu (a disclosure).
// Served from Maillage itself, as the Content-Security-Policy asks (default-src 'self', nothing inline).
// Without JavaScript the button stays hidden and the whole menu shows, as on wide screens;
// on wide screens the stylesheet hides the button and always shows the menu.
(function () {
  "use strict";
  var button = document.querySelector(".site-header .menu-button");
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) return;

  function show(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  show(false);
  button.hidden = false;
  button.closest(".site-header").classList.add("has-menu-button");

  button.addEventListener("click", function () {
    show(button.getAttribute("aria-expanded") !== "true");
  });

  // Escape closes the open menu and brings the focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
    if (getComputedStyle(button).display === "none") return; // wide screen: no menu to close
    var inside = menu.contains(document.activeElement);
    show(false);
    if (inside || document.activeElement === button) button.focus();
  });
})();
