// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add("js");

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.requestSubmit();
  }
});

// Menus built on <details>: Escape closes the open one, a click outside closes all.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.removeAttribute("open");
    menu.querySelector("summary")?.focus();
  }
});
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
});

// Passkeys: django-allauth reports a failed or cancelled browser prompt as an event only;
// say it on the page, in the page's language (the text comes from a data attribute).
document.addEventListener("allauth.error", (event) => {
  const region = document.getElementById("js-errors");
  if (!region) return;
  event.preventDefault();
  region.textContent = region.dataset.passkeyError || "The passkey could not be used.";
  region.hidden = false;
});
