// The booking panel of an item's step (`#booking-panel`, rendered by the server): on the
// item page and in the board's dialog. Its forms post in place (header `x-panel`) and the
// panel the server answers with replaces it; a hold counts down to its end and, once
// run out, the panel is read again (it then says "Hold expired" and offers to book again).

async function fragment(item) {
  const r = await fetch(`/items/${encodeURIComponent(item)}/booking`, { headers: { "x-panel": "1" } });
  return r.text();
}

/** Puts the panel the server sent (`html`) in place of `old`; returns it. */
function replace(old, html) {
  const t = document.createElement("template");
  t.innerHTML = html;
  const fresh = t.content.querySelector("#booking-panel");
  if (fresh) old.replaceWith(fresh);
  tick();
  return fresh ?? old;
}

/** Reads the panel of `item` into `container` (replacing what it held). */
export async function loadPanel(container, item) {
  const holder = document.createElement("div");
  container.replaceChildren(holder);
  return replace(holder, await fragment(item));
}

/** Posts the panels' forms under `root` in place; `onAnswer(panel)` runs after each. */
export function enhance(root, onAnswer = () => {}) {
  root.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form[data-panel]");
    const panel = form?.closest("#booking-panel");
    if (!panel) return;
    ev.preventDefault();
    const buttons = [...form.querySelectorAll("button")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const r = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "x-panel": "1" },
      });
      const fresh = replace(panel, await r.text());
      const said = fresh.querySelector("[role=alert], .notice");
      if (said) {
        said.tabIndex = -1;
        said.focus();
      }
      onAnswer(fresh);
    } catch {
      buttons.forEach((b) => { b.disabled = false; });
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = "Not sent: the connection failed. Check it and try again.";
      form.after(p);
    }
  });
}

/** Reads the panel on this page again (after a change made elsewhere). */
export async function refreshPanel() {
  const panel = document.getElementById("booking-panel");
  if (panel) replace(panel, await fragment(panel.dataset.forItem));
}

function left(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Updates every hold's countdown; a hold that ran out has its panel read again. */
function tick() {
  for (const span of document.querySelectorAll("[data-expires]")) {
    const ms = Number(span.dataset.expires) - Date.now();
    if (ms > 0) {
      span.textContent = `hold ends in ${left(ms)}`;
      continue;
    }
    if (span.dataset.ran) continue;
    span.dataset.ran = "1";
    span.textContent = "hold expired";
    // The team calendar releases it at that instant; read the panel once it has.
    setTimeout(refreshPanel, 1500);
  }
}
tick();
setInterval(tick, 1000);
