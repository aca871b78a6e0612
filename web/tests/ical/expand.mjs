// Reads an iCalendar feed on stdin and prints, as JSON, every occurrence Mozilla's
// ical.js finds in [from, to) (Unix ms, argv[2] and argv[3]):
// [uid, start, end, recurrence id or null, summary]; start and end are Unix ms, or
// `YYYY-MM-DD` dates for all-day events.
//
// ical.js places each time by the feed's own VTIMEZONE (it has no zone database of its
// own), so this checks what we wrote, not what a reader knows about zone names.
import ICAL from "ical.js";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const from = Number(process.argv[2]);
const to = Number(process.argv[3]);
const root = new ICAL.Component(ICAL.parse(Buffer.concat(chunks).toString("utf8")));

// Every zoned time must come from a VTIMEZONE in this feed.
for (const vevent of root.getAllSubcomponents("vevent")) {
  for (const name of ["dtstart", "dtend", "recurrence-id"]) {
    const prop = vevent.getFirstProperty(name);
    const tzid = prop && prop.getParameter("tzid");
    if (tzid && !root.getAllSubcomponents("vtimezone").some((z) => z.getFirstPropertyValue("tzid") === tzid)) {
      throw new Error(`${name} names ${tzid}, which the feed does not define`);
    }
  }
}

const ms = (t) => t.toJSDate().getTime();
const shown = (t) => (t.isDate ? t.toString() : ms(t));
// Each series gets the overrides carrying its UID (left alone, ical.js relates every
// override in the calendar to every series).
const vevents = root.getAllSubcomponents("vevent");
const overrides = (uid) =>
  vevents.filter((v) => v.hasProperty("recurrence-id") && v.getFirstPropertyValue("uid") === uid);
const masters = vevents
  .filter((v) => !v.hasProperty("recurrence-id"))
  .map((v) => new ICAL.Event(v, { strictExceptions: true, exceptions: overrides(v.getFirstPropertyValue("uid")) }));

const out = [];
const slack = 3 * 24 * 3600 * 1000;
for (const event of masters) {
  if (!event.isRecurring()) {
    const [s, e] = [ms(event.startDate), ms(event.endDate)];
    if (s < to && e > from) out.push([event.uid, shown(event.startDate), shown(event.endDate), null, event.summary]);
    continue;
  }
  const it = event.iterator();
  for (let next = it.next(); next; next = it.next()) {
    if (ms(next) >= to + slack) break;
    const d = event.getOccurrenceDetails(next);
    const [s, e] = [ms(d.startDate), ms(d.endDate)];
    if (s < to && e > from) {
      out.push([event.uid, shown(d.startDate), shown(d.endDate), next.toString(), d.item.summary]);
    }
  }
}
const key = (r) => JSON.stringify(r);
out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
process.stdout.write(JSON.stringify(out));
