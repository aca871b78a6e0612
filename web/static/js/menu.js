// The header's disclosures (the phone "Menu" and the "Staff" menu) are plain <details>:
// they open and close without JavaScript. This only closes an open one when Escape is
// pressed (focus returns to its button) or when the pointer goes down outside it.
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
