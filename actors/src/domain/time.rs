//! Wall-clock time: the one rule that turns a local time into an instant, and working
//! hours built on it.
//!
//! **The rule** (DESIGN, Time): a local time that does not exist (the spring-forward
//! gap) moves forward by the length of the gap — 02:30 on the day clocks go from 02:00 to
//! 03:00 is 03:30; a local time that happens twice (fall-back) is the earlier of the two
//! instants. Recurrence, working hours and bookings all resolve local times through
//! [`resolve`], never through a library's own DST handling.

use super::{Checked, Invalid};
use cflows_protocol::{ClosedDay, WorkingHours, WorkingPeriod};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Most weekly periods and closed days a team's hours may have.
pub const MAX_PERIODS: usize = 50;
pub const MAX_CLOSED_DAYS: usize = 400;

/// Resolves a local time in `tz` to an instant by the rule above.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: read the local time with the offset in force just before it,
            // which lands the same distance past the gap's end.
            let before = local - Duration::hours(26);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(t) => t.offset().fix(),
                LocalResult::Ambiguous(a, _) => a.offset().fix(),
                LocalResult::None => tz.offset_from_utc_datetime(&before).fix(),
            };
            let utc = local - Duration::seconds(i64::from(offset.local_minus_utc()));
            let instant = DateTime::<Utc>::from_naive_utc_and_offset(utc, Utc);
            // Offsets changed twice within a day (never seen in tzdata): fall back to the
            // first instant after the gap that exists.
            if tz.from_utc_datetime(&instant.naive_utc()).naive_local() < local {
                let mut probe = local;
                loop {
                    probe += Duration::minutes(1);
                    if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                        tz.from_local_datetime(&probe)
                    {
                        return t.with_timezone(&Utc);
                    }
                }
            }
            instant
        }
    }
}

/// One change of a zone's offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The first instant of the new offset.
    pub at: DateTime<Utc>,
    /// Offsets from UTC before and after, in seconds.
    pub before: i32,
    pub after: i32,
    /// Whether the new offset is daylight-saving time.
    pub dst: bool,
    /// The new offset's abbreviation (`CEST`), when the zone data has one.
    pub name: Option<String>,
}

/// The offset in force in `tz` at an instant, in seconds from UTC.
pub fn offset_at(tz: Tz, instant: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// Every offset change of `tz` in `[from, to)`, in order. chrono-tz answers offsets,
/// not changes: scanned a day at a time (no zone changes twice within a day) and each
/// change bisected to the second.
pub fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    use chrono_tz::{OffsetComponents, OffsetName};
    let mut out = Vec::new();
    let mut t = from;
    let mut current = offset_at(tz, t);
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        let o = offset_at(tz, next);
        if o != current {
            // Whole seconds: zone changes happen on them.
            let (mut lo, mut hi) = (t.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, DateTime::from_timestamp(mid, 0).unwrap_or(t)) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = DateTime::from_timestamp(hi, 0).unwrap_or(next);
            let after = tz.offset_from_utc_datetime(&hi.naive_utc());
            out.push(Transition {
                at: hi,
                before: current,
                after: o,
                dst: !after.dst_offset().is_zero(),
                name: after.abbreviation().map(str::to_string),
            });
            current = o;
        }
        t = next;
    }
    out
}

/// The local date and time of an instant in `tz`.
pub fn local(tz: Tz, instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&tz).naive_local()
}

/// An instant from Unix milliseconds.
///
/// # Errors
/// Out of chrono's range.
pub fn from_ms(ms: i64) -> Checked<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Invalid::new("time out of range"))
}

/// Parses an IANA zone name.
///
/// # Errors
/// Unknown zone.
pub fn zone(name: &str) -> Checked<Tz> {
    name.parse::<Tz>()
        .map_err(|_| Invalid::new(format!("unknown time zone '{name}'")))
}

/// Minutes after local midnight of `HH:MM` (`24:00` allowed when `end`).
fn minutes(raw: &str, end: bool) -> Option<u32> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Working hours compiled for queries.
#[derive(Clone, Debug)]
pub struct OpenHours {
    pub zone: Tz,
    /// Per ISO weekday (index 0 = Monday): sorted, non-overlapping `[start, end)` minutes.
    weekly: [Vec<(u32, u32)>; 7],
    closed: BTreeSet<NaiveDate>,
}

/// Checks and compiles working hours.
///
/// # Errors
/// A bad zone, weekday, time, overlapping periods, a bad date or hold length.
pub fn compile(hours: &WorkingHours) -> Checked<OpenHours> {
    let zone = zone(&hours.zone)?;
    if hours.weekly.len() > MAX_PERIODS {
        return Err(Invalid::new(format!(
            "at most {MAX_PERIODS} weekly periods"
        )));
    }
    if hours.closed.len() > MAX_CLOSED_DAYS {
        return Err(Invalid::new(format!(
            "at most {MAX_CLOSED_DAYS} closed days"
        )));
    }
    if !(1..=1440).contains(&hours.hold_minutes) {
        return Err(Invalid::new("hold_minutes must be 1..=1440"));
    }
    let mut weekly: [Vec<(u32, u32)>; 7] = Default::default();
    for p in &hours.weekly {
        if !(1..=7).contains(&p.weekday) {
            return Err(Invalid::new("weekday must be 1 (Monday) to 7 (Sunday)"));
        }
        let (Some(start), Some(end)) = (minutes(&p.start, false), minutes(&p.end, true)) else {
            return Err(Invalid::new(format!(
                "working time '{}'–'{}' is not HH:MM",
                p.start, p.end
            )));
        };
        if start >= end {
            return Err(Invalid::new(format!(
                "a working period must end after it starts ({}–{})",
                p.start, p.end
            )));
        }
        weekly[usize::from(p.weekday - 1)].push((start, end));
    }
    for day in &mut weekly {
        day.sort_unstable();
        if day.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(Invalid::new("working periods of one day overlap"));
        }
    }
    let mut closed = BTreeSet::new();
    for c in &hours.closed {
        let date = NaiveDate::parse_from_str(&c.date, "%Y-%m-%d")
            .map_err(|_| Invalid::new(format!("'{}' is not a YYYY-MM-DD date", c.date)))?;
        closed.insert(date);
    }
    Ok(OpenHours {
        zone,
        weekly,
        closed,
    })
}

/// Canonical form of working hours (sorted, trimmed) after [`compile`] accepted them.
pub fn normalize(mut hours: WorkingHours) -> WorkingHours {
    hours
        .weekly
        .sort_by(|a, b| (a.weekday, &a.start).cmp(&(b.weekday, &b.start)));
    hours.closed.sort_by(|a, b| a.date.cmp(&b.date));
    hours.closed.dedup_by(|a, b| a.date == b.date);
    for c in &mut hours.closed {
        c.reason = c.reason.trim().chars().take(200).collect();
    }
    hours
}

/// Monday to Friday 08:00–17:00 in `zone`, holds of 10 minutes.
pub fn default_hours(zone: &str) -> WorkingHours {
    WorkingHours {
        zone: zone.to_string(),
        weekly: (1..=5)
            .map(|weekday| WorkingPeriod {
                weekday,
                start: "08:00".into(),
                end: "17:00".into(),
            })
            .collect(),
        closed: Vec::<ClosedDay>::new(),
        hold_minutes: 10,
    }
}

fn at(date: NaiveDate, minute: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute))
}

impl OpenHours {
    /// Open intervals (Unix ms) intersecting `[from, to)`, clipped to it, sorted and
    /// merged where one ends as the next begins.
    pub fn open_intervals(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let (Some(f), Some(t)) = (
            DateTime::from_timestamp_millis(from),
            DateTime::from_timestamp_millis(to),
        ) else {
            return Vec::new();
        };
        let first = local(self.zone, f).date() - Duration::days(1);
        let last = local(self.zone, t).date() + Duration::days(1);
        let mut out: Vec<(i64, i64)> = Vec::new();
        let mut date = first;
        while date <= last {
            if !self.closed.contains(&date) {
                let day = date.weekday().num_days_from_monday() as usize;
                for &(s, e) in &self.weekly[day] {
                    let start = resolve(self.zone, at(date, s)).timestamp_millis();
                    let end = resolve(self.zone, at(date, e)).timestamp_millis();
                    let (start, end) = (start.max(from), end.min(to));
                    if start >= end {
                        continue;
                    }
                    match out.last_mut() {
                        Some(prev) if prev.1 >= start => prev.1 = prev.1.max(end),
                        _ => out.push((start, end)),
                    }
                }
            }
            date += Duration::days(1);
        }
        out
    }

    /// Whether `[start, end)` lies inside one open interval.
    pub fn covers(&self, start: i64, end: i64) -> bool {
        self.open_intervals(start, end)
            .first()
            .is_some_and(|&(s, e)| s == start && e == end)
    }

    /// The local date of an instant.
    pub fn local_date(&self, ms: i64) -> NaiveDate {
        DateTime::from_timestamp_millis(ms)
            .map(|t| local(self.zone, t).date())
            .unwrap_or_default()
    }

    /// The instant local midnight of `date` begins (by the rule).
    pub fn day_start(&self, date: NaiveDate) -> i64 {
        resolve(self.zone, at(date, 0)).timestamp_millis()
    }
}

/// `YYYY-Www` of a date.
pub fn iso_week(date: NaiveDate) -> String {
    let w = date.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The weekday of a date, Monday = 1.
pub fn iso_weekday(day: Weekday) -> u8 {
    day.number_from_monday() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tz: Tz, s: &str) -> String {
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        resolve(tz, local)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %z")
            .to_string()
    }

    #[test]
    fn the_rule_in_three_zones() {
        let sto: Tz = "Europe/Stockholm".parse().unwrap();
        // Spring forward 2026-03-29 02:00 → 03:00: 02:30 does not exist.
        assert_eq!(t(sto, "2026-03-29 02:30"), "2026-03-29 03:30 +0200");
        // Fall back 2026-10-25 03:00 → 02:00: 02:30 happens twice; earlier wins.
        assert_eq!(t(sto, "2026-10-25 02:30"), "2026-10-25 02:30 +0200");
        assert_eq!(t(sto, "2026-10-25 09:00"), "2026-10-25 09:00 +0100");

        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(t(ny, "2026-03-08 02:15"), "2026-03-08 03:15 -0400");
        assert_eq!(t(ny, "2026-11-01 01:30"), "2026-11-01 01:30 -0400");

        // Santiago changes at midnight: 2026-09-06 00:00 does not exist (→ 01:00);
        // 2026-04-04 23:00–24:00 happens twice.
        let scl: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(t(scl, "2026-09-06 00:00"), "2026-09-06 01:00 -0300");
        assert_eq!(t(scl, "2026-09-06 00:30"), "2026-09-06 01:30 -0300");
        assert_eq!(t(scl, "2026-04-04 23:30"), "2026-04-04 23:30 -0300");
        assert_eq!(t(scl, "2026-04-05 00:00"), "2026-04-05 00:00 -0400");
    }

    fn hours(zone: &str, start: &str, end: &str) -> OpenHours {
        compile(&WorkingHours {
            zone: zone.into(),
            weekly: (1..=7)
                .map(|weekday| WorkingPeriod {
                    weekday,
                    start: start.into(),
                    end: end.into(),
                })
                .collect(),
            closed: vec![],
            hold_minutes: 10,
        })
        .unwrap()
    }

    fn local_spans(h: &OpenHours, from: &str, to: &str) -> Vec<String> {
        let tz = h.zone;
        let ms = |s: &str| {
            resolve(
                tz,
                NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
            )
            .timestamp_millis()
        };
        h.open_intervals(ms(from), ms(to))
            .into_iter()
            .map(|(s, e)| {
                let f = |x: i64| {
                    DateTime::from_timestamp_millis(x)
                        .unwrap()
                        .with_timezone(&tz)
                        .format("%d %H:%M")
                        .to_string()
                };
                format!("{}-{} {}h", f(s), f(e), (e - s) / 3_600_000)
            })
            .collect()
    }

    fn next_day(day: &str) -> String {
        (NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap() + Duration::days(1)).to_string()
    }

    #[test]
    fn working_hours_keep_local_time_across_both_transitions() {
        // 08:00–17:00 every day: 9 real hours on both transition days (the change is at night).
        for (zone, spring, fall) in [
            ("Europe/Stockholm", "2026-03-28", "2026-10-24"),
            ("America/New_York", "2026-03-07", "2026-10-31"),
        ] {
            let h = hours(zone, "08:00", "17:00");
            for day in [spring, fall] {
                let next = (NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap()
                    + Duration::days(2))
                .to_string();
                let spans = local_spans(&h, &format!("{day} 00:00"), &format!("{next} 00:00"));
                let d0 = &day[8..10];
                let d1 = &next_day(day)[8..10];
                assert_eq!(
                    spans,
                    vec![
                        format!("{d0} 08:00-{d0} 17:00 9h"),
                        format!("{d1} 08:00-{d1} 17:00 9h")
                    ],
                    "{zone} {day}"
                );
            }
        }
        // A night shift across the Stockholm spring gap: 00:00–06:00 is 5 real hours.
        let night = hours("Europe/Stockholm", "00:00", "06:00");
        assert_eq!(
            local_spans(&night, "2026-03-29 00:00", "2026-03-29 12:00"),
            vec!["29 00:00-29 06:00 5h"]
        );
        // …and 7 real hours on the fall-back night.
        assert_eq!(
            local_spans(&night, "2026-10-25 00:00", "2026-10-25 12:00"),
            vec!["25 00:00-25 06:00 7h"]
        );
        // Santiago opens at 00:00 on the day midnight does not exist: it opens at 01:00.
        let scl = hours("America/Santiago", "00:00", "08:00");
        assert_eq!(
            local_spans(&scl, "2026-09-05 12:00", "2026-09-06 12:00"),
            vec!["06 01:00-06 08:00 7h"]
        );
    }

    #[test]
    fn bad_hours_are_refused() {
        let mut h = default_hours("Europe/Stockholm");
        h.weekly[0].end = "07:00".into();
        assert!(compile(&h).is_err());
        let mut h = default_hours("Mars/Olympus");
        assert!(compile(&h).is_err());
        h = default_hours("UTC");
        h.weekly.push(WorkingPeriod {
            weekday: 1,
            start: "16:00".into(),
            end: "18:00".into(),
        });
        assert!(compile(&h).is_err(), "overlap");
        h = default_hours("UTC");
        h.weekly[0].start = "8:00".into();
        assert!(compile(&h).is_err());
        h = default_hours("UTC");
        h.weekly[0].end = "24:00".into();
        assert!(compile(&h).is_ok());
    }
}
