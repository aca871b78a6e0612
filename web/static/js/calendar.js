// The calendar page: the member's calendars and team bookings in FullCalendar, live
// over the cflows socket (every change on a shown calendar or team refetches it), drag
// to create, drag or resize to move (a refused move snaps back with the reason), a
// quick-create dialog that shows a team's free capacity while choosing a slot.

import { sharedClient } from "./cflows.js";
import { addDays, dateIn, formatTime, formatWhen, toLocalInput, zonedToEpoch } from "./zones.js";

const boot = JSON.parse(document.getElementById("cal-boot").textContent);
const statusEl = document.getElementById("cal-status");
const csrf = document.querySelector("input[name=csrf]")?.value ?? "";
const zone = boot.zone;
const h12 = boot.h12;
const teams = new Map(boot.teams.map((t) => [t.id, t]));
const calendars = new Map(boot.calendars.map((c) => [c.id, c]));
const jobs = new Map(boot.job_types.map((j) => [j.id, j]));

function say(message, bad = false) {
  statusEl.textContent = message;
  statusEl.classList.toggle("bad", bad);
}

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = data.error ?? { code: "internal", message: resp.statusText };
    throw Object.assign(new Error(e.message), { code: e.code, refusal: e.refusal });
  }
  return data;
}

/** Why something was refused, with the free slots the server suggests. */
function reason(err) {
  let text = err.message || "refused";
  const r = err.refusal;
  if (r && r.suggestions && r.suggestions.length) {
    text += ". Free: " + r.suggestions.map((s) => formatWhen(s.start, zone, h12)).join(", ");
  }
  return text;
}

/** Dark or white text, whichever reads better on `colour` (`#rrggbb`). */
function inkOn(colour) {
  const m = /^#?([0-9a-f]{6})$/i.exec(colour || "");
  if (!m) return "#ffffff";
  const n = parseInt(m[1], 16);
  const lin = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const l = 0.2126 * lin(n >> 16) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  // Contrast with white (1.05 / (l + 0.05)) against with #111827 (l ≈ 0.011).
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.061 ? "#ffffff" : "#111827";
}

const client = sharedClient({
  onStatus: (s) => {
    document.body.dataset.live = s;
  },
});

// --- event sources -------------------------------------------------------------

function calendarEvents(c) {
  return async (info) => {
    const occ = await api("GET", `/api/v1/calendars/${c.id}/occurrences?from=${info.start.valueOf()}&to=${info.end.valueOf()}`);
    return occ.map((o) => ({
      id: `ev:${o.event}:${o.occurrence ?? ""}`,
      title: o.title,
      start: o.all_day ? dateIn(o.start + 43200000, zone) : o.start,
      end: o.all_day ? addDays(dateIn(o.end - 43200000, zone), 1) : o.end,
      allDay: o.all_day,
      color: o.colour || c.colour,
      contrastColor: inkOn(o.colour || c.colour),
      classNames: ["cal-event"],
      editable: c.editable,
      durationEditable: c.editable && !o.all_day,
      extendedProps: { kind: "event", calendar: c.id, event: o.event, occurrence: o.occurrence },
    }));
  };
}

function teamEvents(t) {
  return async (info) => {
    const from = info.start.valueOf();
    const to = Math.min(info.end.valueOf(), from + 62 * 86400000);
    const list = await api("GET", `/api/v1/teams/${t.id}/bookings?from=${from}&to=${to}`);
    return list.map((b) => ({
      id: `bk:${b.id}`,
      title: `${b.title} · ${t.name}${b.members_required > 1 ? ` ×${b.members_required}` : ""}`,
      start: b.start,
      end: b.end,
      color: t.colour,
      contrastColor: inkOn(t.colour),
      classNames: ["booking", `state-${b.state}`],
      editable: b.state === "held" || b.state === "confirmed",
      extendedProps: { kind: "booking", team: t.id, booking: b.id, state: b.state, expires: b.hold_expires_at, by: b.booked_by_name },
    }));
  };
}

async function invitedEvents(info) {
  const occ = await api("GET", `/api/v1/invited-events?from=${info.start.valueOf()}&to=${info.end.valueOf()}`);
  return occ
    .filter((o) => !calendars.has(o.calendar))
    .map((o) => ({
      id: `inv:${o.event}:${o.occurrence ?? ""}`,
      title: `${o.title} (invited)`,
      start: o.start,
      end: o.end,
      allDay: o.all_day,
      classNames: ["invited"],
      editable: false,
      extendedProps: { kind: "invited", calendar: o.calendar, event: o.event },
    }));
}

/** The member's open tasks with a due date, as all-day entries on that day. */
async function dueTasks() {
  const tasks = await api("GET", "/api/v1/me/tasks");
  return tasks
    .filter((t) => t.due)
    .map((t) => ({
      id: `task:${t.id}`,
      title: `Due: ${t.key} ${t.title}`,
      start: t.due,
      allDay: true,
      url: `/projects/${t.project}?task=${t.id}`,
      classNames: ["task-due"],
      editable: false,
      extendedProps: { kind: "task" },
    }));
}

/** An event source function whose failures are reported, not swallowed. */
function reported(fetcher, key) {
  return async (info) => {
    try {
      return await fetcher(info);
    } catch (err) {
      // Deleted between the page loading and this fetch: the same as being told live.
      if (err.code === "not_found" && key?.startsWith("calendar:")) {
        removeDeleted(key);
        return [];
      }
      say(`Could not load: ${err.message}`, true);
      throw err;
    }
  };
}

function sourceFor(key) {
  const [kind, id] = key.split(":");
  if (kind === "calendar") return { id: key, events: reported(calendarEvents(calendars.get(id)), key) };
  if (kind === "team") return { id: key, events: reported(teamEvents(teams.get(id)), key) };
  return null;
}

// --- the calendar --------------------------------------------------------------

const narrow = window.matchMedia("(max-width: 700px)").matches;
const calendarEl = document.getElementById("calendar");
const calendar = new FullCalendar.Calendar(calendarEl, {
  initialView: narrow ? "listWeek" : "timeGridWeek",
  // On a phone the toolbar wraps onto rows (see .cal-toolbar) instead of widening the page.
  headerToolbar: narrow
    ? { start: "title", end: "prev,next today newEvent listWeek,timeGridDay" }
    : { start: "prev,next today newEvent", center: "title", end: "dayGridMonth,timeGridWeek,timeGridDay,listWeek" },
  headerToolbarClass: "cal-toolbar",
  titleFormat: narrow ? { year: "numeric", month: "short", day: "numeric" } : undefined,
  buttons: {
    newEvent: { text: "New…", hint: "New… event or booking", click: () => openDialog(roundedNow(), null, false) },
    today: { text: "Today" },
  },
  timeZone: zone,
  // Accessible names that contain the visible text.
  todayHint: (unitText) => `Today: this ${unitText}`,
  firstDay: 1,
  nowIndicator: true,
  selectable: true,
  selectMirror: true,
  editable: true,
  // The working day without a scrolling region inside the page (night hours are in the
  // month and list views).
  height: "auto",
  slotMinTime: "07:00:00",
  slotMaxTime: "20:00:00",
  // Half-hours tall enough for a start time and a line of title.
  slotMinHeight: 36,
  eventTimeFormat: { hour: "numeric", minute: "2-digit", hour12: h12 },
  slotHeaderFormat: { hour: "numeric", minute: "2-digit", hour12: h12 },
  // Dense weeks: at most two side by side in a week column (six in a day; one and
  // three on a phone), four per month day; the rest behind "+N more".
  eventMaxStack: narrow ? 1 : 2,
  dayMaxEvents: 4,
  // Side by side, not overlapping; a week column shows start times only (the box's
  // height shows the length), leaving room for the title.
  slotEventOverlap: false,
  views: {
    timeGridWeek: { displayEventEnd: false },
    timeGridDay: { eventMaxStack: narrow ? 3 : 6 },
  },
  moreLinkHint: (n) => `Show ${n} more`,
  eventContent: (arg) => ({ domNodes: [eventBody(arg)] }),
  select: (info) => {
    calendar.unselect();
    openDialog(info.start.valueOf(), info.end.valueOf(), info.allDay);
  },
  eventDrop: onMove,
  eventResize: onMove,
  eventClick: (info) => {
    if (info.event.extendedProps.kind === "task") return; // its url opens the task
    openDetails(info.event);
  },
  // A day cell's label ("December 3, 2026") does not contain what it shows (its events,
  // "+2 more"): let the day number speak instead (axe label-content-name-mismatch).
  dayCellDidMount: (arg) => {
    if (!arg.el.hasAttribute("aria-label")) return;
    arg.el.removeAttribute("aria-label");
    for (const n of arg.el.querySelectorAll("[aria-hidden=true]")) n.removeAttribute("aria-hidden");
  },
  eventDidMount: (arg) => {
    const p = arg.event.extendedProps;
    // FullCalendar gives clickable events role=button, also inside a list view's
    // role=list, which then has no list items (axe aria-required-children, critical).
    if (arg.view.type.startsWith("list")) arg.el.setAttribute("role", "listitem");
    arg.el.dataset.kind = p.kind;
    if (p.booking) arg.el.dataset.booking = p.booking;
    if (p.state) arg.el.dataset.state = p.state;
    if (p.kind === "booking" && p.state === "held") arg.el.title = `${arg.event.title} — held by ${p.by || "someone"}`;
  },
  eventSources: [],
});
calendar.render();

// For tests and the console: the FullCalendar instance.
window.cflowsCalendar = calendar;
document.body.dataset.calendar = "ready";

/** An event's face: time, then the title, a held booking's countdown badge before it. */
function eventBody(arg) {
  const p = arg.event.extendedProps;
  const box = document.createElement("div");
  box.className = arg.view.type === "dayGridMonth" ? "ev ev-clamp" : "ev";
  if (arg.timeText) {
    const time = document.createElement("span");
    time.className = "ev-time";
    time.textContent = arg.timeText;
    box.append(time, " ");
  }
  const title = document.createElement("span");
  title.className = "ev-title";
  title.textContent = arg.event.title || "\u00a0";
  if (p.kind === "booking" && p.state === "held") {
    const badge = document.createElement("span");
    badge.className = "hold-badge";
    badge.dataset.expires = String(p.expires);
    tickHold(badge);
    title.prepend(badge, " ");
  }
  box.append(title);
  return box;
}

// "held 4:32", ticking; the event's tooltip and details say by whom.
function tickHold(badge) {
  const left = Math.max(0, Math.round((Number(badge.dataset.expires) - Date.now()) / 1000));
  const hours = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = String(left % 60).padStart(2, "0");
  badge.textContent = left === 0 ? "hold ran out" : `held ${hours > 0 ? `${hours}h ${String(m).padStart(2, "0")}m` : `${m}:${s}`}`;
}
setInterval(() => {
  for (const badge of calendarEl.querySelectorAll(".hold-badge[data-expires]")) tickHold(badge);
}, 1000);

function roundedNow() {
  const q = 15 * 60000;
  return Math.ceil(Date.now() / q) * q;
}

// Which sources are shown: the checkboxes, remembered per browser.
const shown = new Set();
const refetchTimers = new Map();
function refetchSoon(key) {
  clearTimeout(refetchTimers.get(key));
  refetchTimers.set(key, setTimeout(() => calendar.getEventSourceById(key)?.refetch(), 100));
}
/** A calendar someone deleted: gone from the grid and the list, and said so. */
function removeDeleted(key) {
  setShown(key, false);
  const box = document.querySelector(`[data-source="${key}"]`);
  const name = calendars.get(key.slice("calendar:".length))?.name ?? "A calendar";
  box?.closest("li")?.remove();
  say(`${name} was deleted.`);
}
function setShown(key, on) {
  if (on && !shown.has(key)) {
    const src = sourceFor(key);
    if (!src) return;
    calendar.addEventSource(src);
    shown.add(key);
    // Live: any change on the stream refetches the source. Only shown sources are
    // followed, so a page with many teams stays under the socket's request limit.
    client.subscribe(key, {
      onSnapshot: () => refetchSoon(key),
      onEvent: (event) => {
        if (event?.kind === "calendar_deleted") return removeDeleted(key);
        refetchSoon(key);
        if (key.startsWith("team:")) {
          workloadSoon();
          // Capacity taken or freed while the dialog is open shows at once.
          if (dialog.open && key === `team:${qTeam.value}`) preview();
        }
      },
    });
  } else if (!on && shown.has(key)) {
    calendar.getEventSourceById(key)?.remove();
    shown.delete(key);
    client.unsubscribe(key);
  }
}
for (const box of document.querySelectorAll("[data-source]")) {
  const key = box.dataset.source;
  const saved = localStorage.getItem(`cflows.source.${key}`);
  if (saved !== null) box.checked = saved === "1";
  setShown(key, box.checked);
  box.addEventListener("change", () => {
    localStorage.setItem(`cflows.source.${key}`, box.checked ? "1" : "0");
    setShown(key, box.checked);
  });
}
/** Switches a source on (its checkbox too): what someone just booked is shown. */
function showSource(key) {
  const box = document.querySelector(`[data-source="${key}"]`);
  if (!box || box.checked) return;
  box.checked = true;
  box.dispatchEvent(new Event("change"));
}
calendar.addEventSource({ id: "invited", events: reported(invitedEvents) });
calendar.addEventSource({ id: "tasks", events: reported(dueTasks) });
// Due dates change in projects (the bell follows the inbox): refresh them each minute.
setInterval(() => refetchSoon("tasks"), 60000);

// --- moving --------------------------------------------------------------------

async function onMove(info) {
  const p = info.event.extendedProps;
  const start = info.event.start.valueOf();
  const end = info.event.end ? info.event.end.valueOf() : undefined;
  try {
    if (p.kind === "booking") {
      await client.request({ op: "move_booking", team: p.team, booking: p.booking, start, end });
    } else if (p.occurrence) {
      await api("PATCH", `/api/v1/calendars/${p.calendar}/events/${p.event}/occurrences/${encodeURIComponent(p.occurrence)}`, { start, end: end ?? start + 3600000 });
    } else {
      const e = await api("GET", `/api/v1/calendars/${p.calendar}/events/${p.event}`);
      const length = e.end - e.start;
      await api("PUT", `/api/v1/calendars/${p.calendar}/events/${p.event}`, {
        title: e.title, description: e.description, location: e.location, zone: e.zone, colour: e.colour,
        all_day: e.all_day, invitees: e.invitees.map((i) => i.user), recurrence: e.recurrence,
        start, end: end ?? start + length,
      });
    }
    say(`Moved to ${formatWhen(start, zone, h12)}.`);
  } catch (err) {
    info.revert();
    say(`Not moved: ${reason(err)}`, true);
  }
}

// --- the quick-create dialog ------------------------------------------------------

const dialog = document.getElementById("quick");
const form = document.getElementById("quick-form");
const qStart = document.getElementById("q-start");
const qEnd = document.getElementById("q-end");
const qTitle = document.getElementById("q-title");
const qTeam = document.getElementById("q-team");
const qJob = document.getElementById("q-job");
const qMembers = document.getElementById("q-members");
const qFree = document.getElementById("q-free");
const qError = document.getElementById("q-error");
const qCalendar = document.getElementById("q-calendar");
let allDay = false;

function what() {
  return form.querySelector("input[name=what]:checked")?.value ?? "event";
}
function showWhat() {
  for (const el of form.querySelectorAll("[data-when]")) el.hidden = el.dataset.when !== what();
  preview();
}
for (const r of form.querySelectorAll("input[name=what]")) r.addEventListener("change", showWhat);

function jobMinutes() {
  return jobs.get(qJob.value)?.duration_minutes ?? 60;
}

let previewSeq = 0;
let touched = false; // the free capacity shows once the person has chosen something
async function preview() {
  if (!touched || what() !== "booking" || !qStart.value || !qTeam.value) {
    qFree.textContent = "";
    return;
  }
  const seq = ++previewSeq;
  const start = zonedToEpoch(qStart.value, zone);
  const minutes = jobMinutes();
  try {
    const reply = await client.request({ op: "availability", team: qTeam.value, from: start, to: start + minutes * 60000, slot_minutes: Math.min(1440, Math.max(5, minutes)) });
    if (seq !== previewSeq) return;
    const slots = reply.slots;
    const capacity = Math.min(...slots.map((s) => s.capacity));
    const free = Math.min(...slots.map((s) => s.free));
    const need = Number(qMembers.value || 1);
    qFree.textContent = capacity === 0
      ? "The team is closed then."
      : `${free} of ${capacity} free from ${formatTime(start, zone, h12)} for ${minutes} min${free < need ? " — full: it will be refused" : ""}.`;
    qFree.classList.toggle("bad", capacity === 0 || free < need);
  } catch (err) {
    if (seq === previewSeq) qFree.textContent = reason(err);
  }
}
for (const el of [qStart, qTeam, qJob, qMembers]) el.addEventListener("change", () => { touched = true; preview(); });

function openDialog(start, end, isAllDay) {
  allDay = isAllDay;
  touched = false;
  qError.hidden = true;
  qTitle.value = "";
  qStart.value = toLocalInput(start, zone);
  qEnd.value = toLocalInput(end ?? start + 3600000, zone);
  showWhat();
  dialog.showModal();
  qTitle.focus();
}
document.getElementById("q-cancel").addEventListener("click", () => dialog.close());

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  qError.hidden = true;
  const start = zonedToEpoch(qStart.value, zone);
  try {
    if (what() === "booking") {
      const reply = await client.request({
        op: "hold_booking", team: qTeam.value, job_type: qJob.value, start,
        members_required: Number(qMembers.value || 1), title: qTitle.value.trim() || undefined,
      });
      const b = reply.booking;
      say(`Held ${b.title} until ${formatTime(b.hold_expires_at, zone, h12)}: open it to confirm.`);
      showSource(`team:${qTeam.value}`);
      refetchSoon(`team:${qTeam.value}`);
    } else {
      const end = zonedToEpoch(qEnd.value, zone);
      await api("POST", `/api/v1/calendars/${qCalendar.value}/events`, {
        title: qTitle.value.trim() || "New event", start, end, all_day: allDay, zone,
      });
      refetchSoon(`calendar:${qCalendar.value}`);
      say("Event added.");
    }
    dialog.close();
  } catch (err) {
    qError.textContent = reason(err);
    qError.hidden = false;
  }
});

// --- details of an event or booking --------------------------------------------------

const details = document.createElement("dialog");
details.id = "details";
details.setAttribute("aria-labelledby", "details-title");
document.body.append(details);

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function openDetails(ev) {
  const p = ev.extendedProps;
  details.replaceChildren();
  const h = document.createElement("h2");
  h.id = "details-title";
  h.textContent = ev.title;
  const when = document.createElement("p");
  when.textContent = `${formatWhen(ev.start.valueOf(), zone, h12)} – ${ev.end ? formatTime(ev.end.valueOf(), zone, h12) : ""}`;
  const actions = document.createElement("div");
  actions.className = "actions";
  const act = (label, fn, kind) =>
    actions.append(Object.assign(button(label, async () => {
      try {
        await fn();
        details.close();
      } catch (err) {
        say(reason(err), true);
        details.close();
      }
    }), { className: kind ?? "" }));
  if (p.kind === "booking") {
    const state = document.createElement("p");
    state.textContent = p.state === "held" ? `Held by ${p.by} until ${formatTime(p.expires, zone, h12)}` : `${p.state[0].toUpperCase()}${p.state.slice(1)} · booked by ${p.by}`;
    details.append(h, when, state);
    if (p.state === "held" || p.state === "confirmed") {
      // Moving from the keyboard: a new start, same length.
      const label = document.createElement("label");
      label.htmlFor = "d-start";
      label.textContent = "Move to";
      const input = document.createElement("input");
      input.type = "datetime-local";
      input.id = "d-start";
      input.value = toLocalInput(ev.start.valueOf(), zone);
      details.append(label, input);
      const length = ev.end.valueOf() - ev.start.valueOf();
      act("Move", async () => {
        const start = zonedToEpoch(input.value, zone);
        await client.request({ op: "move_booking", team: p.team, booking: p.booking, start, end: start + length });
        say(`Moved to ${formatWhen(start, zone, h12)}.`);
      });
    }
    details.append(actions);
    if (p.state === "held") act("Confirm", () => api("POST", `/api/v1/teams/${p.team}/bookings/${p.booking}/confirm`).then(() => say("Confirmed.")));
    if (p.state === "confirmed") act("Mark done", () => api("POST", `/api/v1/teams/${p.team}/bookings/${p.booking}/complete`).then(() => say("Marked done.")));
    if (p.state === "held" || p.state === "confirmed") act("Cancel booking", () => api("POST", `/api/v1/teams/${p.team}/bookings/${p.booking}/cancel`).then(() => say("Booking cancelled.")), "danger");
  } else {
    details.append(h, when, actions);
    const link = document.createElement("a");
    link.href = `/api/v1/calendars/${p.calendar}/events/${p.event}/ics`;
    link.textContent = "Download .ics";
    actions.append(link);
    if (p.kind === "invited") {
      for (const [label, rsvp] of [["Accept", "accepted"], ["Tentative", "tentative"], ["Decline", "declined"]]) {
        act(label, () => api("POST", `/api/v1/calendars/${p.calendar}/events/${p.event}/rsvp`, { rsvp }).then(() => say(`Answered: ${rsvp}.`)));
      }
    } else if (calendars.get(p.calendar)?.editable) {
      if (p.occurrence) {
        act("Cancel this occurrence", () => api("POST", `/api/v1/calendars/${p.calendar}/events/${p.event}/occurrences/${encodeURIComponent(p.occurrence)}/cancel`));
      }
      act(p.occurrence ? "Delete the series" : "Delete", () => api("DELETE", `/api/v1/calendars/${p.calendar}/events/${p.event}`));
    }
  }
  actions.append(button("Close", () => details.close()));
  details.showModal();
}

// --- workload beside the calendar -------------------------------------------------

const workloadBody = document.querySelector("[data-workload]");
let workloadTimer;
function workloadSoon() {
  clearTimeout(workloadTimer);
  workloadTimer = setTimeout(loadWorkload, 300);
}
async function loadWorkload() {
  const today = dateIn(Date.now(), boot.org_zone);
  const [y, m, d] = today.split("-").map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  const monday = new Date(Date.UTC(y, m - 1, d - weekday)).toISOString().slice(0, 10);
  const from = zonedToEpoch(`${monday}T00:00`, boot.org_zone);
  const to = from + 7 * 86400000;
  const rows = [];
  for (const t of boot.teams.filter((t) => t.mine || boot.admin)) {
    try {
      const w = await api("GET", `/api/v1/teams/${t.id}/workload?from=${from}&to=${to}`);
      const total = w.weeks.reduce((a, p) => ({ cap: a.cap + p.capacity_minutes, used: a.used + p.held_minutes + p.confirmed_minutes }), { cap: 0, used: 0 });
      rows.push([t, total.cap ? Math.round((100 * total.used) / total.cap) : 0]);
    } catch {
      /* a team that went away */
    }
  }
  workloadBody.replaceChildren(
    ...rows.map(([t, pct]) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = t.name;
      const value = document.createElement("td");
      const meter = document.createElement("meter");
      meter.min = 0;
      meter.max = 100;
      meter.value = pct;
      meter.setAttribute("aria-label", `${t.name} ${pct}% booked`);
      value.append(meter, ` ${pct}%`);
      tr.append(name, value);
      return tr;
    }),
  );
}
loadWorkload();
