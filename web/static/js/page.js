// Small behaviours every page shares, each an improvement on what works without it:
// - The header's disclosures (the phone "Menu" and the "Staff" menu) are plain <details>
//   that open and close by themselves; this closes an open one on Escape (focus returns
//   to its button) or when the pointer goes down outside it.
// - A button `data-copy="#id"` copies that field's text and says so.
const menus = () => [...document.querySelectorAll("details[data-menu][open]")];

document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  // The innermost open menu first.
  const open = menus().reverse().find((d) => d.contains(document.activeElement)) ?? menus().at(-1);
  if (!open) return;
  open.open = false;
  open.querySelector("summary")?.focus();
});

document.addEventListener("pointerdown", (e) => {
  for (const d of menus()) {
    if (!d.contains(e.target)) d.open = false;
  }
});

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false; // without a script there is nothing to press: select the text
  button.addEventListener("click", async () => {
    const field = document.querySelector(button.dataset.copy);
    const status = document.getElementById(button.getAttribute("aria-describedby") ?? "");
    try {
      await navigator.clipboard.writeText(field.value ?? field.textContent);
      if (status) status.textContent = "Copied.";
    } catch {
      field.select?.();
      if (status) status.textContent = "Press Ctrl+C (⌘C on a Mac) to copy the selected link.";
    }
  });
}
