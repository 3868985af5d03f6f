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

// Pay invoices: the selected total follows the ticks. Amounts are added in minor units (the
// checkbox's data-pay-minor and data-pay-exponent), and shown in the page's language; the
// translated sentence comes from the line's data-format. The server says the same on submit.
const paySelected = document.getElementById("pay-selected");
if (paySelected) {
  const boxes = document.querySelectorAll("input[type=checkbox][data-pay-minor]");
  const update = () => {
    const totals = new Map();
    for (const box of boxes) {
      if (!box.checked) continue;
      const currency = box.dataset.payCurrency;
      const entry = totals.get(currency) || { minor: 0n, exponent: Number(box.dataset.payExponent) };
      entry.minor += BigInt(box.dataset.payMinor);
      totals.set(currency, entry);
    }
    if (totals.size === 0) {
      paySelected.hidden = true;
      paySelected.textContent = "";
      return;
    }
    paySelected.hidden = false;
    if (totals.size > 1) {
      paySelected.textContent = paySelected.dataset.mixed;
      return;
    }
    const [[currency, { minor, exponent }]] = totals;
    const scale = 10n ** BigInt(exponent);
    const whole = minor / scale;
    const part = (minor % scale).toString().padStart(exponent, "0");
    const amount = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    }).format(exponent ? `${whole}.${part}` : `${whole}`);
    paySelected.textContent = paySelected.dataset.format.replace("{amount}", amount);
  };
  for (const box of boxes) box.addEventListener("change", update);
}
