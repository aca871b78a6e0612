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

// In a 24-hour organization (`<body data-clock="24h">`), a date-and-time input becomes a
// date box and a 24-hour time box ("14:30"): Chromium shows `datetime-local` and
// `type=time` with AM/PM wherever the browser's language says so, whatever the
// organization writes. The original input stays in the form as a hidden field with the
// same name and `YYYY-MM-DDTHH:MM` value, and its `value` reads and writes the two boxes,
// so scripts that use it (the calendar's dialog) and what the server receives are as before.
const NATIVE_VALUE = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value");

/** `930`, `9:30`, `09.30` → `09:30`; "" when it is not a time of day. */
function timeOfDay(text) {
  const m = /^\s*(\d{1,2})[:.]?(\d{2})\s*$/.exec(text);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return "";
  return `${m[1].padStart(2, "0")}:${m[2]}`;
}

function clock24(input) {
  if ("clock24" in input.dataset) return;
  input.dataset.clock24 = "";
  const id = input.id || `dt-${Math.random().toString(36).slice(2)}`;
  const wrap = document.createElement("span");
  wrap.className = "datetime24";
  const date = Object.assign(document.createElement("input"), { type: "date", id: `${id}-date` });
  const time = Object.assign(document.createElement("input"), {
    type: "text", id: `${id}-time`, inputMode: "numeric", maxLength: 5, size: 5, autocomplete: "off",
    placeholder: "14:30", pattern: "([01]?[0-9]|2[0-3])[:.]?[0-5][0-9]", title: "24-hour time, e.g. 08:00 or 17:30",
  });
  const label = input.id ? document.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
  const name = label?.textContent.trim() || input.getAttribute("aria-label") || "Date";
  if (label) label.htmlFor = date.id;
  else date.setAttribute("aria-label", name);
  time.setAttribute("aria-label", `${name}: time (24-hour)`);
  if (input.required) {
    date.required = time.required = true;
    input.required = false;
  }
  const show = (v) => {
    const [d = "", t = ""] = (v || "").split("T");
    date.value = d;
    time.value = t.slice(0, 5);
  };
  const joined = () => {
    const t = timeOfDay(time.value);
    return date.value && t ? `${date.value}T${t}` : "";
  };
  show(NATIVE_VALUE.get.call(input));
  input.type = "hidden";
  Object.defineProperty(input, "value", {
    configurable: true,
    get: joined,
    set: (v) => {
      show(v);
      NATIVE_VALUE.set.call(input, v);
    },
  });
  for (const kind of ["input", "change"]) {
    for (const part of [date, time]) {
      part.addEventListener(kind, () => {
        NATIVE_VALUE.set.call(input, joined());
        input.dispatchEvent(new Event(kind, { bubbles: true }));
      });
    }
  }
  time.addEventListener("change", () => {
    const t = timeOfDay(time.value);
    if (t) time.value = t;
  });
  wrap.append(date, time);
  input.after(wrap);
}

if (document.body.dataset.clock === "24h") {
  const sel = "input[type=datetime-local]";
  document.querySelectorAll(sel).forEach(clock24);
  // Inputs added later: the booking panel's refresh, the calendar's dialogs.
  new MutationObserver((changes) => {
    for (const c of changes) {
      for (const n of c.addedNodes) {
        if (n.nodeType !== 1) continue;
        if (n.matches(sel)) clock24(n);
        n.querySelectorAll(sel).forEach(clock24);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
}
