// The team capacity board: one lane per team, free / held / booked capacity per slot
// (half-hours of a day, or the days of a week), live over the cflows socket — a
// booking, hold, expiry or capacity change anywhere redraws that team's lane.

import { sharedClient } from "./cflows.js";
import { addDays, dateIn, formatTime, zonedToEpoch } from "./zones.js";

const boot = JSON.parse(document.getElementById("board-boot").textContent);
const zone = boot.org_zone;
const table = document.getElementById("board");
const headRow = table.querySelector("thead tr");
const title = document.getElementById("board-title");
const statusEl = document.getElementById("board-status");
const client = sharedClient({
  onStatus: (s) => {
    document.body.dataset.live = s;
    statusEl.textContent = s === "online" ? "Live" : "Reconnecting…";
  },
});

let date = boot.date && /^\d{4}-\d{2}-\d{2}$/.test(boot.date) ? boot.date : dateIn(Date.now(), zone);
const DAY_FROM = 6;
const DAY_TO = 20;
const SLOT_MIN = 30;

function mondayOf(d) {
  const [y, m, day] = d.split("-").map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, day)).getUTCDay() + 6) % 7;
  return addDays(d, -weekday);
}

/** The board's columns: `{ from, to, label }` instants. */
function columns() {
  if (boot.week) {
    const monday = mondayOf(date);
    return Array.from({ length: 7 }, (_, i) => {
      const d = addDays(monday, i);
      const from = zonedToEpoch(`${d}T00:00`, zone);
      const to = zonedToEpoch(`${addDays(d, 1)}T00:00`, zone);
      const label = new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", day: "numeric", month: "short" }).format(new Date(from + 43200000));
      return { from, to, label };
    });
  }
  const cols = [];
  for (let minute = DAY_FROM * 60; minute < DAY_TO * 60; minute += SLOT_MIN) {
    const hh = String(Math.floor(minute / 60)).padStart(2, "0");
    const mm = String(minute % 60).padStart(2, "0");
    const from = zonedToEpoch(`${date}T${hh}:${mm}`, zone);
    cols.push({ from, to: from + SLOT_MIN * 60000, label: formatTime(from, zone, boot.h12) });
  }
  return cols;
}

let cols = columns();

function drawHead() {
  cols = columns();
  headRow.replaceChildren(headRow.firstElementChild);
  for (const c of cols) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = c.label;
    headRow.append(th);
  }
  const shown = boot.week
    ? `Week of ${new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "medium" }).format(new Date(zonedToEpoch(`${mondayOf(date)}T12:00`, zone)))}`
    : new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: "full" }).format(new Date(zonedToEpoch(`${date}T12:00`, zone)));
  title.textContent = `${shown} · times in ${zone}`;
}

/** A day of the week view from its open half-hours `slots`: the most members free at
 * once (a booking of one member fits then), the free and open member-hours, and "full"
 * only when no open half-hour has anyone free. */
function dayOf(slots) {
  const open = slots.filter((s) => s.capacity > 0);
  if (!open.length) return { capacity: 0, free: 0, held: 0, confirmed: 0 };
  const hours = (f) => open.reduce((n, s) => n + f(s) * SLOT_MIN, 0) / 60;
  return {
    capacity: Math.max(...open.map((s) => s.capacity)),
    free: Math.max(...open.map((s) => s.free)),
    held: Math.max(...open.map((s) => s.held)),
    confirmed: Math.max(...open.map((s) => s.confirmed)),
    freeHours: hours((s) => s.free),
    openHours: hours((s) => s.capacity),
  };
}

/** `7.5` → "7.5", `8` → "8". */
const hoursText = (h) => (Math.round(h * 2) / 2).toLocaleString(undefined, { maximumFractionDigits: 1 });

async function slotsFor(team) {
  if (boot.week) {
    // Half-hour slots over the week, summed up per day: a whole day as one slot is
    // never entirely inside working hours, so it read "closed" for every team.
    const r = await client.request({ op: "availability", team, from: cols[0].from, to: cols[cols.length - 1].to, slot_minutes: SLOT_MIN });
    return cols.map((c) => dayOf(r.slots.filter((s) => s.start >= c.from && s.start < c.to)));
  }
  const r = await client.request({ op: "availability", team, from: cols[0].from, to: cols[cols.length - 1].to, slot_minutes: SLOT_MIN });
  return r.slots;
}

async function drawLane(team) {
  const row = table.querySelector(`tr[data-team="${team}"]`);
  if (!row) return;
  let slots;
  try {
    slots = await slotsFor(team);
  } catch (err) {
    statusEl.textContent = err.message;
    return;
  }
  const name = row.querySelector("th").textContent.trim();
  row.replaceChildren(row.firstElementChild);
  slots.forEach((s, i) => {
    const td = document.createElement("td");
    const booked = s.held + s.confirmed;
    const kind = s.capacity === 0 ? "closed" : s.free === 0 ? "full" : booked > 0 ? "partial" : "free";
    td.className = `cell ${kind}`;
    td.dataset.free = String(s.free);
    td.dataset.held = String(s.held);
    td.dataset.confirmed = String(s.confirmed);
    if (s.capacity === 0) td.textContent = "closed";
    else {
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = s.free === 0 ? "full" : `${s.free} of ${s.capacity} free`;
      td.append(count);
      if (boot.week && s.free > 0 && booked > 0) {
        const hours = document.createElement("span");
        hours.className = "hours";
        hours.textContent = `${hoursText(s.freeHours)} of ${hoursText(s.openHours)} h free`;
        td.append(hours);
      }
      if (s.held) {
        const held = document.createElement("span");
        held.className = "held";
        held.textContent = `${s.held} held`;
        td.append(held);
      }
    }
    td.title = `${name}, ${cols[i]?.label ?? ""}: ${
      s.capacity === 0
        ? "closed"
        : boot.week
          ? `at most ${s.free} of ${s.capacity} free at once, ${hoursText(s.freeHours)} of ${hoursText(s.openHours)} member-hours free`
          : `${s.free} of ${s.capacity} free, ${s.confirmed} booked, ${s.held} held`
    }`;
    row.append(td);
  });
  row.dataset.drawn = String(Date.now());
  trimClosedEdges();
}

/** A day shows from the first team's opening to the last one's closing: the columns
 * before and after, closed for every team, are hidden once every lane is drawn. */
function trimClosedEdges() {
  if (boot.week) return;
  const rows = [...table.querySelectorAll("tbody tr")];
  if (!rows.every((r) => r.dataset.drawn)) return;
  const closedAt = (i) => rows.every((r) => r.children[i + 1]?.classList.contains("closed"));
  let first = 0;
  let last = cols.length - 1;
  while (first < last && closedAt(first)) first++;
  while (last > first && closedAt(last)) last--;
  for (const tr of [headRow, ...rows]) {
    [...tr.children].slice(1).forEach((cell, i) => (cell.hidden = i < first || i > last));
  }
}

const timers = new Map();
function laneSoon(team) {
  clearTimeout(timers.get(team));
  timers.set(team, setTimeout(() => drawLane(team), 150));
}

function drawAll() {
  drawHead();
  for (const t of boot.teams) laneSoon(t.id);
  const url = new URL(location.href);
  url.searchParams.set("date", date);
  history.replaceState(null, "", url);
}

for (const t of boot.teams) {
  client.subscribe(`team:${t.id}`, {
    onSnapshot: () => laneSoon(t.id),
    onEvent: () => laneSoon(t.id),
  });
}
for (const b of document.querySelectorAll("[data-shift]")) {
  b.addEventListener("click", () => {
    date = addDays(date, Number(b.dataset.shift) * (boot.week ? 7 : 1));
    drawAll();
  });
}
document.querySelector("[data-today]").addEventListener("click", () => {
  date = dateIn(Date.now(), zone);
  drawAll();
});
drawHead();
document.body.dataset.board = "ready";
