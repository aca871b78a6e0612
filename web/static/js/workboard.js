// The work board (/boards/{id}): live cards from `board:{workflow}`, drag and drop
// between columns (SortableJS) sent as `move_item`; an illegal move snaps back with the
// server's reason. The list view re-renders its rows live. Filters come from the URL.
import { sharedClient } from "/static/js/cflows.js";

const boot = JSON.parse(document.getElementById("wb-boot").textContent);
const csrf = document.querySelector("input[name=csrf]")?.value ?? "";
const status = document.getElementById("wb-status");
const params = new URLSearchParams(location.search);
const filter = {
  team: params.get("team") || null,
  assignee: params.get("assignee") || null,
  priority: params.get("priority") || null,
  q: (params.get("q") || "").toLowerCase().split(/\s+/).filter(Boolean),
  done: params.get("done") === "true",
};
let workflow = null;
const cards = new Map(); // item id -> card

function stepOf(id) {
  return workflow?.steps.find((s) => s.id === id);
}

function elapsed(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min`;
}

function lateness(step, entered) {
  const target = step?.target_minutes;
  if (!target) return "ok";
  const spent = (Date.now() - entered) / 60000;
  return spent > target ? "red" : spent > 0.75 * target ? "amber" : "ok";
}

const BOOKING = { held: "booking held", confirmed: "booked", completed: "booking done", cancelled: "booking cancelled", expired: "hold ran out" };

function shown(c) {
  if (c.done && !filter.done) return false;
  if (filter.assignee && c.assignee !== filter.assignee) return false;
  if (filter.priority && c.priority !== filter.priority) return false;
  if (filter.team && stepOf(c.step)?.team !== filter.team) return false;
  const hay = `${c.key} ${c.title}`.toLowerCase();
  return filter.q.every((w) => hay.includes(w));
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function cardElement(c) {
  const step = stepOf(c.step);
  const late = lateness(step, c.entered_at);
  const li = el("li", {
    class: "wcard", "data-item": c.id, "data-key": c.key, "data-step": c.step,
    "data-entered": c.entered_at, "data-priority": c.priority,
    "data-assignee": c.assignee ?? null, "data-late": late,
  });
  const link = el("a", { href: `/items/${c.id}` }, el("span", { class: "key" }, c.key), " ", el("span", { class: "title" }, c.title));
  const who = c.assignee ? boot.names[c.assignee] ?? "someone" : "unassigned";
  const meta1 = el("div", { class: "meta" }, el("span", { class: "priority" }, c.priority), " · ", el("span", { class: "assignee" }, who));
  const meta2 = el("div", { class: "meta" }, el("span", { class: "in-step", "data-late": late }, `in step ${elapsed(Date.now() - c.entered_at)}`));
  if (c.booking) meta2.append(" · ", el("span", { class: "booking", "data-state": c.booking.state }, BOOKING[c.booking.state]));
  else if (step?.booking_job_type) meta2.append(" · ", el("span", { class: "booking", "data-state": "none" }, "needs booking"));
  li.append(link, meta1, meta2);
  return li;
}

function renderCard(c) {
  document.querySelectorAll(`[data-item="${CSS.escape(c.id)}"]`).forEach((e) => e.remove());
  if (!shown(c)) return;
  if (boot.list) return renderList();
  const list = document.querySelector(`ul.cards[data-step="${CSS.escape(c.step)}"]`);
  if (!list) return;
  const node = cardElement(c);
  // Oldest in step first, as the server renders.
  const after = [...list.children].find((x) => Number(x.dataset.entered) > c.entered_at);
  list.insertBefore(node, after ?? null);
}

function renderCounts() {
  document.querySelectorAll("section.column").forEach((col) => {
    const n = col.querySelectorAll("li.wcard").length;
    const count = col.querySelector("[data-count]");
    if (count) count.textContent = n;
  });
}

function renderAll() {
  if (boot.list) return renderList();
  document.querySelectorAll("ul.cards").forEach((ul) => ul.replaceChildren());
  [...cards.values()].sort((a, b) => a.entered_at - b.entered_at).forEach(renderCard);
  renderCounts();
}

function renderList() {
  const tbody = document.querySelector("#items tbody");
  if (!tbody) return;
  // "Time in step" ascending: the shortest in its step first (the latest entered).
  const sort = params.get("sort") || "time_in_step";
  const desc = params.has("order") ? params.get("order") === "desc" : sort === "time_in_step";
  const order = (s) => workflow.steps.findIndex((x) => x.id === s);
  const num = (c) => Number(c.key.split("-").pop()) || 0;
  const PRIO = { low: 0, normal: 1, high: 2, urgent: 3 };
  const keyOf = {
    key: (c) => num(c), title: (c) => c.title.toLowerCase(), step: (c) => order(c.step) * 1e15 + c.entered_at,
    time_in_step: (c) => -c.entered_at, entered_at: (c) => c.entered_at, priority: (c) => -PRIO[c.priority] * 1e15 + c.entered_at, due: (c) => c.due ?? "9999",
  }[sort] ?? ((c) => c.entered_at);
  const rows = [...cards.values()].filter(shown).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  if (desc) rows.reverse();
  tbody.replaceChildren(...rows.map((c) => {
    const step = stepOf(c.step);
    return el("tr", { "data-item": c.id },
      el("td", {}, el("a", { href: `/items/${c.id}` }, c.key)),
      el("td", {}, c.title),
      el("td", {}, step?.name ?? c.step),
      el("td", { "data-late": lateness(step, c.entered_at) }, elapsed(Date.now() - c.entered_at)),
      el("td", {}, c.assignee ? boot.names[c.assignee] ?? "someone" : "—"),
      el("td", {}, c.priority),
      el("td", {}, c.due ?? "—"));
  }));
}

function showError(text) {
  const dialog = document.getElementById("move-error");
  document.getElementById("move-error-text").textContent = text;
  if (dialog?.showModal) dialog.showModal();
  else alert(text);
}

const client = sharedClient({
  onStatus: (s) => { status.textContent = s === "online" ? "" : "Reconnecting…"; },
});

client.subscribe(`board:${boot.workflow}`, {
  onSnapshot: (state) => {
    workflow = state.workflow;
    cards.clear();
    for (const c of state.cards) cards.set(c.id, c);
    renderAll();
    document.body.dataset.board = "live"; // the cards are the stream's now (tests wait for it)
  },
  onEvent: (event) => {
    switch (event.kind) {
      case "card_added":
      case "card_changed":
        cards.set(event.card.id, event.card);
        renderCard(event.card);
        renderCounts();
        break;
      case "card_removed":
        cards.delete(event.id);
        document.querySelectorAll(`[data-item="${CSS.escape(event.id)}"]`).forEach((e) => e.remove());
        renderCounts();
        break;
      case "workflow_changed":
        // New columns: the server renders them.
        location.reload();
        break;
    }
  },
});

// Drag and drop between columns.
if (!boot.list && globalThis.Sortable) {
  document.querySelectorAll("ul.cards").forEach((ul) => {
    globalThis.Sortable.create(ul, {
      group: "cards",
      forceFallback: true, // mouse and touch events, the same in every browser
      animation: 120,
      onEnd: async (evt) => {
        const from = evt.from.dataset.step, to = evt.to.dataset.step;
        const id = evt.item.dataset.item;
        if (from === to) return renderCard(cards.get(id));
        const back = () => {
          evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] ?? null);
          renderCounts();
        };
        evt.item.setAttribute("aria-busy", "true");
        try {
          const reply = await client.request({ op: "move_item", item: id, from, to });
          cards.set(id, { ...cards.get(id), ...reply.item });
          renderCard(cards.get(id));
          renderCounts();
        } catch (e) {
          back();
          showError(e.message);
        } finally {
          evt.item.removeAttribute("aria-busy");
        }
      },
    });
  });
}

// Time in step ticks.
setInterval(() => {
  document.querySelectorAll("li.wcard").forEach((li) => {
    const entered = Number(li.dataset.entered);
    const late = lateness(stepOf(li.dataset.step), entered);
    li.dataset.late = late;
    const span = li.querySelector(".in-step");
    if (span) {
      span.dataset.late = late;
      span.textContent = `in step ${elapsed(Date.now() - entered)}`;
    }
  });
}, 30000);

// Saving the current filters under a name.
document.getElementById("save-filter")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = ev.target.elements.name.value;
  const body = { name, filter: { team: filter.team, assignee: filter.assignee, priority: filter.priority } };
  const r = await fetch(`/api/v1/workflows/${boot.workflow}/filters`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: JSON.stringify(body),
  });
  if (r.ok) location.reload();
  else showError((await r.json()).error?.message ?? "not saved");
});

// Deleting a saved filter.
document.querySelectorAll("[data-delete-filter]").forEach((button) => {
  button.addEventListener("click", async () => {
    const r = await fetch(`/api/v1/workflows/${boot.workflow}/filters/${button.dataset.deleteFilter}`, {
      method: "DELETE",
      headers: { "x-csrf-token": csrf },
    });
    if (r.ok) location.reload();
    else showError((await r.json()).error?.message ?? "not deleted");
  });
});
