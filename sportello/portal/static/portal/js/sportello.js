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

// Copy buttons (hidden until this file runs): data-copy names the field whose text is copied;
// the element with the same data-copy-status says it was, in the page's language.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const name = button.dataset.copy;
  const source = document.getElementById(name);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = "value" in source ? source.value : source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      source.select?.();
      document.execCommand("copy");
    }
    const status = document.querySelector(`[data-copy-status="${name}"]`);
    if (status) status.textContent = button.dataset.copied || "";
  });
}
