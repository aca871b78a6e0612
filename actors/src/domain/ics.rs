//! iCalendar (RFC 5545) feeds: events with their zones, recurrence rules, cancelled
//! and moved occurrences, and team bookings; each zone used gets a `VTIMEZONE` built
//! from chrono-tz's offsets, so other applications place recurring events right
//! without knowing the IANA names.
//!
//! Written here rather than with a crate: `icalendar` cannot emit VTIMEZONE; `calcard`
//! builds them only inside its JSCalendar conversion and brings a mail stack with it.
//! What is written is small: text escaping, 75-octet folding, and the components below.

use super::recurrence;
use super::time;
use cflows_protocol::{BookingState, BookingView, EventView};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
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

/// A `VTIMEZONE` for `tz` covering the years `from..=to`: one observance per offset
/// change found in that span (plus the offset in force at its start).
pub fn vtimezone(out: &mut String, tz: Tz, from: i32, to: i32) {
    let start = Utc
        .with_ymd_and_hms(from, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let end = Utc
        .with_ymd_and_hms(to + 1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let at = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc());
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", tz.name()));
    let observance = |out: &mut String, when: DateTime<Utc>, before: i32| {
        let o = at(when);
        let kind = if o.dst_offset().is_zero() {
            "STANDARD"
        } else {
            "DAYLIGHT"
        };
        line(out, &format!("BEGIN:{kind}"));
        let onset = when.naive_utc() + Duration::seconds(i64::from(before));
        line(out, &format!("DTSTART:{}", local_stamp(onset)));
        line(out, &format!("TZOFFSETFROM:{}", offset(before)));
        line(
            out,
            &format!("TZOFFSETTO:{}", offset(o.fix().local_minus_utc())),
        );
        if let Some(name) = o.abbreviation() {
            line(out, &format!("TZNAME:{}", text(name)));
        }
        line(out, &format!("END:{kind}"));
    };
    let first = at(start).fix().local_minus_utc();
    observance(out, start, first);
    // Scan a day at a time; bisect each change to the second.
    let mut t = start;
    let mut current = first;
    while t < end {
        let next = t + Duration::days(1);
        let o = at(next).fix().local_minus_utc();
        if o != current {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if at(mid).fix().local_minus_utc() == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            observance(out, hi, current);
            current = o;
        }
        t = next;
    }
    line(out, "END:VTIMEZONE");
}

/// Something to put in a feed.
pub enum Entry<'a> {
    Event(&'a EventView),
    /// A booking with its team's name, shown in the team's zone.
    Booking(&'a BookingView, &'a str, Tz),
}

fn dt(out: &mut String, name: &str, tz: Tz, instant: i64, all_day: bool) {
    let t = DateTime::from_timestamp_millis(instant).unwrap_or_default();
    let local = time::local(tz, t);
    if all_day {
        line(
            out,
            &format!("{name};VALUE=DATE:{}", local.format("%Y%m%d")),
        );
    } else {
        line(
            out,
            &format!("{name};TZID={}:{}", tz.name(), local_stamp(local)),
        );
    }
}

fn event(out: &mut String, e: &EventView, tz: Tz) {
    let stamp = utc_stamp(DateTime::from_timestamp_millis(e.updated_at).unwrap_or_default());
    let uid = format!("{}@cflows", e.id);
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{uid}"));
    line(out, &format!("DTSTAMP:{stamp}"));
    dt(out, "DTSTART", tz, e.start, e.all_day);
    dt(out, "DTEND", tz, e.end, e.all_day);
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
    // Moved occurrences: overrides with the series' UID and the original start.
    for x in e.exceptions.iter().filter(|x| !x.cancelled) {
        let Ok(local) = recurrence::parse_occurrence(&x.occurrence) else {
            continue;
        };
        let tz_len = match (
            DateTime::from_timestamp_millis(e.start),
            DateTime::from_timestamp_millis(e.end),
        ) {
            (Some(s), Some(en)) => time::local(tz, en) - time::local(tz, s),
            _ => continue,
        };
        let start = x
            .start
            .unwrap_or_else(|| time::resolve(tz, local).timestamp_millis());
        let end = x
            .end
            .unwrap_or_else(|| time::resolve(tz, local + tz_len).timestamp_millis());
        line(out, "BEGIN:VEVENT");
        line(out, &format!("UID:{uid}"));
        line(out, &format!("DTSTAMP:{stamp}"));
        if e.all_day {
            line(
                out,
                &format!("RECURRENCE-ID;VALUE=DATE:{}", local.format("%Y%m%d")),
            );
        } else {
            line(
                out,
                &format!("RECURRENCE-ID;TZID={}:{}", tz.name(), local_stamp(local)),
            );
        }
        dt(out, "DTSTART", tz, start, e.all_day);
        dt(out, "DTEND", tz, end, e.all_day);
        line(
            out,
            &format!("SUMMARY:{}", text(x.title.as_deref().unwrap_or(&e.title))),
        );
        line(out, "END:VEVENT");
    }
}

fn booking(out: &mut String, b: &BookingView, team: &str, tz: Tz) {
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}@cflows", b.id));
    line(
        out,
        &format!(
            "DTSTAMP:{}",
            utc_stamp(DateTime::from_timestamp_millis(b.updated_at).unwrap_or_default())
        ),
    );
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
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//cflows//cflows calendar//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    let zone_of = |e: &Entry<'_>| -> Tz {
        match e {
            Entry::Event(e) => e.zone.parse().unwrap_or(chrono_tz::UTC),
            Entry::Booking(_, _, tz) => *tz,
        }
    };
    let zones: BTreeSet<&str> = entries.iter().map(|e| zone_of(e).name()).collect();
    // Years the entries span (recurrences: up to two years ahead or their end).
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
    let last = last.min(first + 30);
    for z in zones {
        let tz: Tz = z.parse().unwrap_or(chrono_tz::UTC);
        vtimezone(&mut out, tz, first, last);
    }
    for e in entries {
        let tz = zone_of(e);
        match e {
            Entry::Event(ev) => event(&mut out, ev, tz),
            Entry::Booking(b, team, _) => booking(&mut out, b, team, tz),
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
