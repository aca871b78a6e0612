//! iCalendar (RFC 5545) feeds: events with their zones, recurrence rules, cancelled
//! and moved occurrences, and team bookings; each zone used gets a `VTIMEZONE` built
//! from chrono-tz's offsets, so other applications place recurring events right
//! without knowing the IANA names. The same components, with an organizer, attendees
//! and a sequence, make the iTIP (RFC 5546) invitations and cancellations sent by mail.
//!
//! Written here rather than with a crate: `icalendar` cannot emit VTIMEZONE; `calcard`
//! builds them only inside its JSCalendar conversion and brings a mail stack with it.
//! What is written is small: text escaping, 75-octet folding, and the components below.

use super::observances;
use super::recurrence;
use super::time;
use super::time::Transition;
use cflows_protocol::{BookingState, BookingView, EventView};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (never inside a UTF-8 character).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn local_stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    format!("{sign}{:02}{:02}", secs / 3600, secs % 3600 / 60)
}

/// A `VTIMEZONE` for `tz`, valid for every instant from 1 January `from` on: the zone's
/// current yearly rule as `RRULE` observances, the changes before it one by one (see
/// [`observances`]); rule-less zones are listed through `to` and their last offset stands.
pub fn vtimezone(out: &mut String, tz: Tz, from: i32, to: i32) {
    let o = observances::observances(tz, from, to);
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", tz.name()));
    let observance = |out: &mut String, t: &Transition, rrule: Option<String>| {
        let kind = if t.dst { "DAYLIGHT" } else { "STANDARD" };
        line(out, &format!("BEGIN:{kind}"));
        let onset = t.at.naive_utc() + Duration::seconds(i64::from(t.before));
        line(out, &format!("DTSTART:{}", local_stamp(onset)));
        line(out, &format!("TZOFFSETFROM:{}", offset(t.before)));
        line(out, &format!("TZOFFSETTO:{}", offset(t.after)));
        if let Some(name) = &t.name {
            line(out, &format!("TZNAME:{}", text(name)));
        }
        if let Some(rule) = rrule {
            line(out, &format!("RRULE:{rule}"));
        }
        line(out, &format!("END:{kind}"));
    };
    observance(out, &o.initial, None);
    for t in &o.explicit {
        observance(out, t, None);
    }
    for rule in &o.yearly {
        observance(out, &rule.change, Some(rule.rrule()));
    }
    line(out, "END:VTIMEZONE");
}

/// Something to put in a feed.
pub enum Entry<'a> {
    Event(&'a EventView),
    /// A booking with its team's name, shown in the team's zone.
    Booking(&'a BookingView, &'a str, Tz),
}

/// A date-time property at an instant. Timed: the local time with its zone when that
/// local time names this instant and no other; otherwise UTC (the second 02:30 of a
/// fall-back night, which a reader would place at the first), so no reader's own DST
/// handling decides it. All-day: the local date.
fn dt(out: &mut String, name: &str, tz: Tz, instant: i64, all_day: bool) {
    let t = DateTime::from_timestamp_millis(instant).unwrap_or_default();
    let local = time::local(tz, t);
    if all_day {
        line(
            out,
            &format!("{name};VALUE=DATE:{}", local.format("%Y%m%d")),
        );
    } else if matches!(tz.from_local_datetime(&local), LocalResult::Single(_)) {
        line(
            out,
            &format!("{name};TZID={}:{}", tz.name(), local_stamp(local)),
        );
    } else {
        line(out, &format!("{name}:{}", utc_stamp(t)));
    }
}

/// A series' `DTSTART`: always local with its zone, which the `RRULE` repeats in.
fn series_start(out: &mut String, tz: Tz, local: NaiveDateTime, all_day: bool) {
    if all_day {
        line(
            out,
            &format!("DTSTART;VALUE=DATE:{}", local.format("%Y%m%d")),
        );
    } else {
        line(
            out,
            &format!("DTSTART;TZID={}:{}", tz.name(), local_stamp(local)),
        );
    }
}

/// An exact length as an RFC 5545 `DURATION` in hours, minutes and seconds: exact
/// durations (§3.3.6), unlike days, which a reader would stretch or shrink on a day
/// with a change.
fn exact_duration(len: Duration) -> String {
    let secs = len.num_seconds().max(0);
    format!("PT{}H{}M{}S", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// How many years ahead a feed spells out the occurrences other readers would place
/// differently from us (see `event`).
pub const YEARS_SPELLED_OUT: i32 = 10;

/// One occurrence written on its own, replacing the series' instance named `local`.
struct Instance<'a> {
    local: NaiveDateTime,
    start: i64,
    end: i64,
    title: &'a str,
}

/// Properties every component of one message carries (an invitation's sequence,
/// organizer and attendees; nothing in a feed).
type Extra<'a> = &'a [String];

fn instance(
    out: &mut String,
    e: &EventView,
    tz: Tz,
    stamp: &str,
    x: &Instance<'_>,
    extra: Extra<'_>,
) {
    let uid = format!("{}@cflows", e.id);
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{uid}"));
    line(out, &format!("DTSTAMP:{stamp}"));
    for l in extra {
        line(out, l);
    }
    if e.all_day {
        line(
            out,
            &format!("RECURRENCE-ID;VALUE=DATE:{}", x.local.format("%Y%m%d")),
        );
    } else {
        line(
            out,
            &format!("RECURRENCE-ID;TZID={}:{}", tz.name(), local_stamp(x.local)),
        );
    }
    dt(out, "DTSTART", tz, x.start, e.all_day);
    dt(out, "DTEND", tz, x.end, e.all_day);
    line(out, &format!("SUMMARY:{}", text(x.title)));
    if !e.description.is_empty() {
        line(out, &format!("DESCRIPTION:{}", text(&e.description)));
    }
    if !e.location.is_empty() {
        line(out, &format!("LOCATION:{}", text(&e.location)));
    }
    line(out, "END:VEVENT");
}

/// Writes an event. A timed series is written as its local start, its rule and an
/// exact `DURATION` (not `DTEND`): ical.js, like most readers, places each occurrence
/// by its own DST handling and adds the length to the wall clock, which agrees with our
/// rule (DESIGN, Time; each occurrence keeps its exact length) except for occurrences
/// that start in a gap or an overlap or span a change. Those few (two a year at most
/// for a daily series) are written as overrides with their exact instants, from the
/// feed's first year through [`YEARS_SPELLED_OUT`] years ahead. RDATE/EXDATE would say
/// the same with two properties per occurrence and no way to keep its length.
fn event(out: &mut String, e: &EventView, tz: Tz, years: (i32, i32), extra: Extra<'_>) {
    let stamp = utc_stamp(DateTime::from_timestamp_millis(e.updated_at).unwrap_or_default());
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}@cflows", e.id));
    line(out, &format!("DTSTAMP:{stamp}"));
    for l in extra {
        line(out, l);
    }
    let shape = recurrence::shape(e).ok();
    match (&e.recurrence, shape) {
        (Some(_), Some((_, local, length))) => {
            series_start(out, tz, local, e.all_day);
            match length {
                recurrence::Length::Exact(len) => {
                    line(out, &format!("DURATION:{}", exact_duration(len)));
                }
                recurrence::Length::Days(_) => dt(out, "DTEND", tz, e.end, true),
            }
        }
        _ => {
            dt(out, "DTSTART", tz, e.start, e.all_day);
            dt(out, "DTEND", tz, e.end, e.all_day);
        }
    }
    line(out, &format!("SUMMARY:{}", text(&e.title)));
    if !e.description.is_empty() {
        line(out, &format!("DESCRIPTION:{}", text(&e.description)));
    }
    if !e.location.is_empty() {
        line(out, &format!("LOCATION:{}", text(&e.location)));
    }
    if let Some(rule) = &e.recurrence {
        let mut value = recurrence::rrule_value(rule);
        if let Some(until) = recurrence::until_local(rule) {
            if e.all_day {
                let _ = write!(value, ";UNTIL={}", until.format("%Y%m%d"));
            } else {
                // With a TZID start, UNTIL is UTC (RFC 5545 §3.3.10).
                let _ = write!(value, ";UNTIL={}", utc_stamp(time::resolve(tz, until)));
            }
        }
        line(out, &format!("RRULE:{value}"));
        for x in e.exceptions.iter().filter(|x| x.cancelled) {
            if let Ok(local) = recurrence::parse_occurrence(&x.occurrence) {
                if e.all_day {
                    line(
                        out,
                        &format!("EXDATE;VALUE=DATE:{}", local.format("%Y%m%d")),
                    );
                } else {
                    line(
                        out,
                        &format!("EXDATE;TZID={}:{}", tz.name(), local_stamp(local)),
                    );
                }
            }
        }
    }
    line(out, "END:VEVENT");
    let (Some(rule), Some((_, dtstart, length))) = (&e.recurrence, shape) else {
        return;
    };
    // Moved occurrences: overrides with the series' UID and the original start.
    for x in e.exceptions.iter().filter(|x| !x.cancelled) {
        let Ok(local) = recurrence::parse_occurrence(&x.occurrence) else {
            continue;
        };
        let start = x.start.map_or_else(
            || time::resolve(tz, local),
            |s| DateTime::from_timestamp_millis(s).unwrap_or_default(),
        );
        let end = x
            .end
            .unwrap_or_else(|| length.end(tz, local, start).timestamp_millis());
        let title = x.title.as_deref().unwrap_or(&e.title);
        let one = Instance {
            local,
            start: start.timestamp_millis(),
            end,
            title,
        };
        instance(out, e, tz, &stamp, &one, extra);
    }
    if e.all_day {
        return;
    }
    // Occurrences other readers would place differently: near the zone's changes only.
    let jan1 = |y: i32| {
        Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    };
    let changed: BTreeSet<&str> = e.exceptions.iter().map(|x| x.occurrence.as_str()).collect();
    let mut irregular = std::collections::BTreeMap::new();
    for t in time::transitions(tz, jan1(years.0), jan1(years.1 + 1)) {
        let around = recurrence::expand(
            rule,
            tz,
            dtstart,
            length,
            t.at - Duration::days(1),
            t.at + Duration::days(1),
        );
        for x in around.unwrap_or_default() {
            let name = x.local.format(recurrence::OCCURRENCE_FORMAT).to_string();
            if !x.plain(tz) && !changed.contains(name.as_str()) {
                irregular.insert(x.local, x);
            }
        }
    }
    for x in irregular.values() {
        let one = Instance {
            local: x.local,
            start: x.start.timestamp_millis(),
            end: x.end.timestamp_millis(),
            title: &e.title,
        };
        instance(out, e, tz, &stamp, &one, extra);
    }
}

fn booking(out: &mut String, b: &BookingView, team: &str, tz: Tz, extra: Extra<'_>) {
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}@cflows", b.id));
    line(
        out,
        &format!(
            "DTSTAMP:{}",
            utc_stamp(DateTime::from_timestamp_millis(b.updated_at).unwrap_or_default())
        ),
    );
    for l in extra {
        line(out, l);
    }
    dt(out, "DTSTART", tz, b.start, false);
    dt(out, "DTEND", tz, b.end, false);
    line(
        out,
        &format!("SUMMARY:{}", text(&format!("{} ({team})", b.title))),
    );
    line(
        out,
        &format!(
            "DESCRIPTION:{}",
            text(&format!(
                "{} member(s), booked by {}",
                b.members_required, b.booked_by_name
            ))
        ),
    );
    line(
        out,
        match b.state {
            BookingState::Held => "STATUS:TENTATIVE",
            _ => "STATUS:CONFIRMED",
        },
    );
    line(out, "END:VEVENT");
}

/// A whole feed: `VCALENDAR` named `name`, a `VTIMEZONE` per zone used, the entries.
pub fn feed(name: &str, entries: &[Entry<'_>]) -> String {
    calendar(&format!("X-WR-CALNAME:{}", text(name)), entries, &[])
}

/// Someone in an invitation: a name and a mail address.
pub struct Party<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

impl Party<'_> {
    /// `ORGANIZER` / `ATTENDEE` parameters and value: the name quoted (quotes and
    /// control characters dropped, RFC 5545 §3.2 allows neither), the address a URI.
    fn property(&self, name: &str, params: &str) -> String {
        let cn: String = self
            .name
            .chars()
            .filter(|c| *c != '"' && !c.is_control())
            .collect();
        let email: String = self
            .email
            .chars()
            .filter(|c| !c.is_control() && !c.is_whitespace())
            .collect();
        format!("{name};CN=\"{cn}\"{params}:mailto:{email}")
    }
}

/// How an attendee stands, as written in an invitation.
pub fn partstat(rsvp: cflows_protocol::Rsvp) -> &'static str {
    match rsvp {
        cflows_protocol::Rsvp::Accepted => "ACCEPTED",
        cflows_protocol::Rsvp::Declined => "DECLINED",
        cflows_protocol::Rsvp::Tentative => "TENTATIVE",
        cflows_protocol::Rsvp::Pending => "NEEDS-ACTION",
    }
}

fn itip_extra(
    sequence: u64,
    organizer: &Party<'_>,
    attendees: &[(Party<'_>, &str)],
) -> Vec<String> {
    let mut extra = vec![
        format!("SEQUENCE:{sequence}"),
        organizer.property("ORGANIZER", ""),
    ];
    for (a, stat) in attendees {
        extra.push(a.property(
            "ATTENDEE",
            &format!(";ROLE=REQ-PARTICIPANT;PARTSTAT={stat}"),
        ));
    }
    extra
}

/// An iTIP `REQUEST` (RFC 5546 §3.2.2): `entry` with its zone's `VTIMEZONE`, sent by
/// `organizer` to `attendees` (with how each stands). `sequence` grows with each
/// change (the journal position of the change).
pub fn request(
    entry: &Entry<'_>,
    sequence: u64,
    organizer: &Party<'_>,
    attendees: &[(Party<'_>, &str)],
) -> String {
    let extra = itip_extra(sequence, organizer, attendees);
    calendar("METHOD:REQUEST", std::slice::from_ref(entry), &extra)
}

/// What a cancellation names: the last invitation's identity, time and title.
pub struct Cancelled<'a> {
    /// The booking's or event's id (the `UID` is made from it as in a feed).
    pub id: &'a str,
    pub title: &'a str,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    pub tz: Tz,
}

/// An iTIP `CANCEL` (RFC 5546 §3.2.5) of the whole event or booking `c`.
pub fn cancel(
    c: &Cancelled<'_>,
    sequence: u64,
    organizer: &Party<'_>,
    attendees: &[(Party<'_>, &str)],
) -> String {
    let mut out = String::new();
    head(&mut out, "METHOD:CANCEL");
    let year = DateTime::from_timestamp_millis(c.start).map_or(2026, |t| t.year());
    vtimezone(&mut out, c.tz, year - 1, year + 1);
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}@cflows", c.id));
    line(&mut out, &format!("DTSTAMP:{}", utc_stamp(Utc::now())));
    for l in itip_extra(sequence, organizer, attendees) {
        line(&mut out, &l);
    }
    dt(&mut out, "DTSTART", c.tz, c.start, c.all_day);
    dt(&mut out, "DTEND", c.tz, c.end, c.all_day);
    line(&mut out, &format!("SUMMARY:{}", text(c.title)));
    line(&mut out, "STATUS:CANCELLED");
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    out
}

fn head(out: &mut String, property: &str) {
    line(out, "BEGIN:VCALENDAR");
    line(out, "VERSION:2.0");
    line(out, "PRODID:-//cflows//cflows calendar//EN");
    line(out, "CALSCALE:GREGORIAN");
    line(out, property);
}

/// A `VCALENDAR` with `property` (its name or method), a `VTIMEZONE` per zone used and
/// the entries, each component with `extra`.
fn calendar(property: &str, entries: &[Entry<'_>], extra: Extra<'_>) -> String {
    let mut out = String::new();
    head(&mut out, property);
    let zone_of = |e: &Entry<'_>| -> Tz {
        match e {
            Entry::Event(e) => e.zone.parse().unwrap_or(chrono_tz::UTC),
            Entry::Booking(_, _, tz) => *tz,
        }
    };
    let zones: BTreeSet<&str> = entries.iter().map(|e| zone_of(e).name()).collect();
    // Years the entries span (recurrences: their end, if any).
    let now = Utc::now().year();
    let mut first = now;
    let mut last = now + 2;
    for e in entries {
        let (start, end) = match e {
            Entry::Event(e) => (e.start, e.end),
            Entry::Booking(b, _, _) => (b.start, b.end),
        };
        if let Some(t) = DateTime::from_timestamp_millis(start) {
            first = first.min(t.year() - 1);
        }
        if let Some(t) = DateTime::from_timestamp_millis(end) {
            last = last.max(t.year() + 1);
        }
        if let Entry::Event(e) = e
            && let Some(until) = e.recurrence.as_ref().and_then(recurrence::until_local)
        {
            last = last.max(until.year() + 1);
        }
    }
    // Rule-less zones list their changes through the years spelled out at least.
    let first = first.max(now - 30);
    let spelled_until = now + YEARS_SPELLED_OUT;
    let last = last.clamp(spelled_until, first + 60);
    for z in zones {
        let tz: Tz = z.parse().unwrap_or(chrono_tz::UTC);
        vtimezone(&mut out, tz, first, last);
    }
    for e in entries {
        let tz = zone_of(e);
        match e {
            Entry::Event(ev) => event(&mut out, ev, tz, (first, spelled_until), extra),
            Entry::Booking(b, team, _) => booking(&mut out, b, team, tz, extra),
        }
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", "å".repeat(60)));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{l}");
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "å".repeat(60)));
        assert_eq!(text("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
    }

    #[test]
    fn vtimezone_has_both_changes_of_each_year() {
        let mut out = String::new();
        vtimezone(&mut out, "Europe/Stockholm".parse().unwrap(), 2026, 2026);
        assert!(out.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"), "{out}");
        assert!(out.contains("BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"), "{out}");
        let mut utc = String::new();
        vtimezone(&mut utc, chrono_tz::UTC, 2026, 2027);
        assert_eq!(utc.matches("BEGIN:STANDARD").count(), 1);
    }
}
