// Kiosk screens. Pairing (/kiosk): shows a code, polls until an admin pairs the screen,
// then opens the kiosk's link. Screen (/kiosk/k/{token}): follows its boards and teams
// over one socket (`?kiosk=token`), cycles between views, keeps the last good data with a
// "reconnecting" mark while offline, and goes blank when the kiosk is revoked.
import { CflowsClient } from "/static/js/cflows.js";

const boot = JSON.parse(document.getElementById("kiosk-boot").textContent);

if (boot.mode === "pair") pair();
else screen();

async function pair() {
  const code = document.getElementById("pair-code");
  const status = document.getElementById("pair-status");
  let secret = null;
  for (;;) {
    try {
      if (!secret) {
        const r = await fetch("/api/v1/kiosk-pairings", { method: "POST" });
        if (!r.ok) throw new Error(`status ${r.status}`);
        const started = await r.json();
        secret = started.secret;
        code.textContent = started.code;
        status.textContent = "Waiting to be paired…";
      }
      const r = await fetch(`/api/v1/kiosk-pairings/${secret}`);
      if (r.status === 200) {
        location.href = (await r.json()).link;
        return;
      }
      if (r.status === 404) secret = null; // expired: a new code
    } catch {
      status.textContent = "No connection; retrying…";
    }
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

function screen() {
  const view = document.getElementById("kiosk-view");
  const mark = document.getElementById("kiosk-mark");
  const title = document.getElementById("kiosk-title");
  const boards = new Map(); // workflow id -> { workflow, cards: Map }
  const teams = new Map(); // team id -> snapshot
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hour12: boot.h12, timeZone: boot.zone });
  const dayFmt = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: boot.zone });

  const views = [
    ...boot.boards.map((b) => ({ kind: "board", id: b.id, name: b.name })),
    ...(boot.teams.length ? [{ kind: "capacity", name: "Team capacity today" }] : []),
    ...(boot.today_bookings ? [{ kind: "bookings", name: "Today's bookings" }] : []),
  ];
  let current = 0;

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, v);
    e.append(...children);
    return e;
  }

  function elapsed(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min`;
  }

  function lateness(step, entered) {
    const target = step?.target_minutes;
    if (!target) return "ok";
    const spent = (Date.now() - entered) / 60000;
    return spent > target ? "red" : spent > 0.75 * target ? "amber" : "ok";
  }

  function renderBoard(id) {
    const b = boards.get(id);
    if (!b) return el("p", { class: "muted" }, "Loading…");
    const cols = el("div", { class: "columns", tabindex: "0", role: "region", "aria-label": b.workflow.name });
    for (const step of b.workflow.steps) {
      const items = [...b.cards.values()].filter((c) => c.step === step.id && !c.done).sort((a, c) => a.entered_at - c.entered_at);
      const ul = el("ul", { class: "cards", "data-step": step.id });
      for (const c of items) {
        const late = lateness(step, c.entered_at);
        const booking = c.booking ? ` · ${c.booking.state}` : step.booking_job_type ? " · needs booking" : "";
        ul.append(el("li", { class: "wcard", "data-item": c.id, "data-late": late },
          el("span", { class: "key" }, c.key), " ", c.title,
          el("div", { class: "meta" }, el("span", { class: "in-step" }, elapsed(Date.now() - c.entered_at)), booking)));
      }
      cols.append(el("section", { class: "column", "data-step": step.id }, el("h2", {}, `${step.name} (${items.length})`), ul));
    }
    return cols;
  }

  function dayBounds() {
    const today = dayFmt.format(new Date());
    const from = Date.now() - 24 * 3600e3, to = Date.now() + 24 * 3600e3;
    return { today, inToday: (ms) => ms >= from && ms <= to && dayFmt.format(new Date(ms)) === today };
  }

  function renderCapacity() {
    const { inToday } = dayBounds();
    const hours = [];
    const start = new Date();
    start.setMinutes(0, 0, 0);
    for (let i = -1; i < 10; i++) hours.push(start.getTime() + i * 3600e3);
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Team"), ...hours.map((h) => el("th", {}, timeFmt.format(new Date(h)))))));
    const body = el("tbody");
    for (const t of boot.teams) {
      const s = teams.get(t.id);
      const row = el("tr", {}, el("th", {}, t.name));
      for (const h of hours) {
        if (!s) { row.append(el("td", {}, "…")); continue; }
        let peak = 0;
        for (let m = h; m < h + 3600e3; m += 15 * 60e3) {
          const used = s.bookings.filter((b) => b.state !== "cancelled" && b.start <= m && b.end > m && inToday(b.start)).reduce((n, b) => n + b.members_required, 0);
          peak = Math.max(peak, used);
        }
        row.append(el("td", {}, `${Math.max(0, s.capacity - peak)} free`));
      }
      body.append(row);
    }
    table.append(body);
    return table;
  }

  function renderBookings() {
    const { inToday } = dayBounds();
    const rows = [];
    for (const t of boot.teams) {
      for (const b of teams.get(t.id)?.bookings ?? []) {
        if (b.state !== "cancelled" && inToday(b.start)) rows.push({ team: t.name, ...b });
      }
    }
    rows.sort((a, b) => a.start - b.start);
    const tbody = el("tbody", {}, ...rows.map((b) => el("tr", {},
      el("td", {}, `${timeFmt.format(new Date(b.start))}–${timeFmt.format(new Date(b.end))}`),
      el("td", {}, b.team), el("td", {}, b.title), el("td", {}, b.state))));
    return rows.length ? el("table", {}, tbody) : el("p", { class: "muted" }, "No bookings today.");
  }

  function render() {
    const v = views[current];
    if (!v) return;
    title.textContent = `${boot.name} · ${v.name}`;
    view.replaceChildren(v.kind === "board" ? renderBoard(v.id) : v.kind === "capacity" ? renderCapacity() : renderBookings());
  }

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const client = new CflowsClient({
    url: `${scheme}://${location.host}/ws?kiosk=${encodeURIComponent(boot.token)}`,
    onStatus: async (status, code) => {
      mark.hidden = status === "online";
      if (status === "offline" && code === 4001) {
        // Revoked (blank) or rescoped (reload). Unknown while the server is away: retry.
        for (;;) {
          try {
            const r = await fetch(`/kiosk/k/${encodeURIComponent(boot.token)}/alive`);
            if (r.status === 404) {
              document.body.replaceChildren(el("main", {}, el("p", { class: "blank" }, "This screen was disconnected by an administrator.")));
              return;
            }
            if (r.ok) return location.reload();
          } catch { /* the server is away */ }
          await new Promise((ok) => setTimeout(ok, 5000));
        }
      }
    },
  });
  for (const b of boot.boards) {
    client.subscribe(`board:${b.id}`, {
      onSnapshot: (state) => {
        boards.set(b.id, { workflow: state.workflow, cards: new Map(state.cards.map((c) => [c.id, c])) });
        render();
      },
      onEvent: (event) => {
        const board = boards.get(b.id);
        if (!board) return;
        if (event.kind === "card_added" || event.kind === "card_changed") board.cards.set(event.card.id, event.card);
        else if (event.kind === "card_removed") board.cards.delete(event.id);
        else if (event.kind === "workflow_changed") board.workflow = event.workflow;
        render();
      },
    });
  }
  for (const t of boot.teams) {
    client.subscribe(`team:${t.id}`, {
      onSnapshot: (state) => { teams.set(t.id, state); render(); },
      onEvent: (event) => {
        const s = teams.get(t.id);
        if (!s) return;
        if (event.booking) {
          s.bookings = s.bookings.filter((b) => b.id !== event.booking.id);
          if (event.kind !== "booking_cancelled" && event.kind !== "hold_expired") s.bookings.push(event.booking);
        } else if (event.kind === "capacity_changed") s.capacity = event.capacity;
        render();
      },
    });
  }
  render();
  if (views.length > 1) {
    setInterval(() => { current = (current + 1) % views.length; render(); }, boot.cycle_seconds * 1000);
  }
  setInterval(render, 30000); // time in step
}
