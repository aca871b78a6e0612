// Wall-clock time in named IANA zones with Intl only (no library): an instant's local
// parts, and a local time back to an instant (using the server's rule for times that
// do not exist or happen twice: forward by the gap, the earlier instant).

const formats = new Map();
function parts(epoch, zone) {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    formats.set(zone, f);
  }
  const p = {};
  for (const { type, value } of f.formatToParts(new Date(epoch))) p[type] = value;
  return p;
}

/** The zone's offset from UTC at `epoch`, in ms. */
export function offsetMs(epoch, zone) {
  const p = parts(epoch, zone);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return asUtc - (epoch - (((epoch % 1000) + 1000) % 1000));
}

/** `YYYY-MM-DDTHH:MM` in `zone` → Unix ms. */
export function zonedToEpoch(local, zone) {
  const [d, t = "00:00"] = local.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [h, mi] = t.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, h, mi);
  // Offsets a day either side: before and after any change near this time.
  const before = offsetMs(wall - 86400000, zone);
  const after = offsetMs(wall + 86400000, zone);
  const early = wall - Math.max(before, after); // the earlier reading
  const late = wall - Math.min(before, after);
  for (const candidate of [early, late]) {
    if (toLocalInput(candidate, zone) === `${d}T${t.slice(0, 5)}`) return candidate;
  }
  // In a gap: read it with the offset before the gap (forward by the gap).
  return wall - before;
}

/** Unix ms → `YYYY-MM-DDTHH:MM` in `zone` (for datetime-local inputs). */
export function toLocalInput(epoch, zone) {
  const p = parts(epoch, zone);
  return `${p.year}-${p.month}-${p.day}T${String(+p.hour % 24).padStart(2, "0")}:${p.minute}`;
}

/** Unix ms → `YYYY-MM-DD` in `zone`. */
export function dateIn(epoch, zone) {
  return toLocalInput(epoch, zone).slice(0, 10);
}

/** A short local time ("14:30" or "2:30 PM"). */
export function formatTime(epoch, zone, h12) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "numeric", minute: "2-digit", hour12: h12 }).format(new Date(epoch));
}

/** A short local day and time ("Tue 25 Nov, 14:30"). */
export function formatWhen(epoch, zone, h12) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit", hour12: h12,
  }).format(new Date(epoch));
}

/** Adds `days` to a `YYYY-MM-DD` date. */
export function addDays(date, days) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}
