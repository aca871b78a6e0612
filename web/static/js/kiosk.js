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
  const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: boot.zone });
  const STATES = { held: "held", confirmed: "booked", completed: "done", cancelled: "cancelled", expired: "hold expired" };
  const MAX_ROWS = 10;

  const views = [
    ...boot.boards.map((b) => ({ kind: "board", id: b.id, name: b.name })),
    ...(boot.teams.length ? [{ kind: "capacity", name: "Team capacity today" }] : []),
    ...(boot.today_bookings ? [{ kind: "bookings", name: "Bookings" }] : []),
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
        const booking = c.booking ? ` · ${STATES[c.booking.state] ?? c.booking.state}` : step.booking_job_type ? " · needs booking" : "";
        ul.append(el("li", { class: "wcard", "data-item": c.id, "data-late": late },
          el("span", { class: "key" }, c.key), " ", c.title,
          el("div", { class: "meta" }, el("span", { class: "in-step" }, elapsed(Date.now() - c.entered_at)), booking)));
      }
      cols.append(el("section", { class: "column", "data-step": step.id }, el("h2", {}, `${step.name} (${items.length})`), ul));
    }
    return cols;
  }

  /** Bookings that take capacity (not cancelled or expired). */
  function live(s) {
    return (s?.bookings ?? []).filter((b) => b.state === "held" || b.state === "confirmed" || b.state === "completed");
  }

  /** Hours from the earliest opening to the latest closing of today, over all teams. */
  function workingHours() {
    const open = boot.teams.flatMap((t) => t.open);
    if (!open.length) return [];
    const first = Math.min(...open.map(([s]) => s));
    const last = Math.max(...open.map(([, e]) => e));
    const hours = [];
    const h = 3600e3;
    // Whole local hours (zones are whole or half hours off UTC: align on the opening).
    for (let at = first; at < last; at += h) hours.push(at);
    return hours;
  }

  function renderCapacity() {
    const hours = workingHours();
    if (!hours.length) return el("p", { class: "kiosk-note" }, "All teams are closed today.");
    const now = Date.now();
    const head = el("tr", {}, el("th", { scope: "col" }, "Team"),
      ...hours.map((h) => el("th", { scope: "col", class: now >= h && now < h + 3600e3 ? "now" : null }, timeFmt.format(new Date(h)))));
    const body = el("tbody");
    for (const t of boot.teams) {
      const s = teams.get(t.id);
      const capacity = s ? s.capacity : t.capacity;
      const row = el("tr", { "data-team": t.id }, el("th", { scope: "row" }, t.name));
      for (const h of hours) {
        const end = h + 3600e3;
        const open = t.open.some(([os, oe]) => os < end && oe > h);
        if (!open) { row.append(el("td", { class: "cell closed" }, "closed")); continue; }
        if (!s) { row.append(el("td", { class: "cell" }, "…")); continue; }
        let peak = 0;
        for (let m = h; m < end; m += 15 * 60e3) {
          const used = live(s).filter((b) => b.start <= m && b.end > m).reduce((n, b) => n + b.members_required, 0);
          peak = Math.max(peak, used);
        }
        const free = Math.max(0, capacity - peak);
        const kind = free === 0 ? "full" : peak > 0 ? "partial" : "free";
        row.append(el("td", { class: `cell ${kind}` }, free === 0 ? "full" : `${free} of ${capacity} free`));
      }
      body.append(row);
    }
    return el("div", { class: "kiosk-scroll", tabindex: "0", role: "region", "aria-label": "Team capacity by hour" },
      el("table", { class: "kiosk-capacity" }, el("thead", {}, head), body));
  }

  /** Bookings still to come or under way today; else the next ones. */
  function upcoming() {
    const now = Date.now();
    const today = dayFmt.format(new Date(now));
    const rows = [];
    for (const t of boot.teams) {
      for (const b of live(teams.get(t.id))) {
        if (b.end > now && b.state !== "completed") rows.push({ ...b, teamName: t.name });
      }
    }
    rows.sort((a, b) => a.start - b.start);
    const todays = rows.filter((b) => dayFmt.format(new Date(b.start)) === today);
    return todays.length ? { today: true, rows: todays } : { today: false, rows };
  }

  function renderBookings() {
    const { today, rows } = upcoming();
    const v = views[current];
    if (v && v.kind === "bookings") title.textContent = `${boot.name} · ${today ? "Today's bookings" : "Next bookings"}`;
    if (!rows.length) return el("p", { class: "kiosk-note" }, "No bookings coming up.");
    const shown = rows.slice(0, MAX_ROWS);
    const when = (b) => today
      ? `${timeFmt.format(new Date(b.start))}–${timeFmt.format(new Date(b.end))}`
      : `${weekdayFmt.format(new Date(b.start))}, ${timeFmt.format(new Date(b.start))}`;
    const table = el("table", { class: "kiosk-bookings" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "When"), el("th", { scope: "col" }, "Team"), el("th", { scope: "col" }, "What"), el("th", { scope: "col" }, "State"))),
      el("tbody", {}, ...shown.map((b) => el("tr", { "data-state": b.state },
        el("td", { class: "when" }, when(b)), el("td", { class: "team" }, b.teamName), el("td", { class: "what" }, b.title), el("td", {}, STATES[b.state] ?? b.state)))));
    const more = rows.length - shown.length;
    return el("div", {}, table, ...(more > 0 ? [el("p", { class: "kiosk-note" }, `and ${more} more ${today ? "today" : "coming up"}`)] : []));
  }

  function render() {
    const v = views[current];
    if (!v) return;
    title.textContent = `${boot.name} · ${v.name}`;
    view.replaceChildren(v.kind === "board" ? renderBoard(v.id) : v.kind === "capacity" ? renderCapacity() : renderBookings());
    view.dataset.pane = v.kind;
  }

  // For tests and whoever stands at the screen with a keyboard: the panes, and showing one.
  window.cflowsKiosk = {
    panes: () => views.map((v) => (v.kind === "board" ? v.name : v.kind)),
    show: (i) => { current = i % views.length; render(); },
  };

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
        else if (event.kind === "hours_changed") location.reload(); // today's open hours come with the page
        render();
      },
    });
  }
  render();
  if (views.length > 1) {
    setInterval(() => { current = (current + 1) % views.length; render(); }, boot.cycle_seconds * 1000);
  }
  setInterval(render, 30000); // time in step
  // Today's hours come with the page: a new day, a new page.
  setTimeout(() => location.reload(), Math.max(60e3, boot.day_end - Date.now() + 5e3));
}
