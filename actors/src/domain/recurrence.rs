//! Recurring events, expanded in local time.
//!
//! The `rrule` crate computes which *local* dates and times a rule yields: it is run on
//! the local wall-clock times written as if they were UTC (a zone without DST, so its
//! own DST handling never comes into play — its expansion near transitions drops or
//! repeats occurrences, rrule issues #109 and #115). Each local occurrence is then
//! resolved to an instant by [`time::resolve`], the one rule used everywhere.

use super::time;
use super::{Checked, Invalid};
use cflows_protocol::{EventView, Frequency, Recurrence};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Most occurrences one query expands.
pub const MAX_OCCURRENCES: usize = 5000;
/// Most occurrences walked from a series' start to reach a window (a daily series can
/// run for about 270 years before a query stops early).
const MAX_SCAN: usize = 100_000;
/// Largest `count` and `interval`.
pub const MAX_COUNT: u32 = *cflows_protocol::limits::RECURRENCE_COUNT.end();
pub const MAX_INTERVAL: u32 = *cflows_protocol::limits::RECURRENCE_INTERVAL.end();

/// The local-time format naming an occurrence.
pub const OCCURRENCE_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// Checks a rule.
///
/// # Errors
/// Out-of-range interval, count, weekdays or month days; both `count` and `until`; a
/// bad `until` date.
pub fn validate(r: &Recurrence) -> Checked<()> {
    if !(1..=MAX_INTERVAL).contains(&r.interval) {
        return Err(Invalid::new(format!("interval must be 1..={MAX_INTERVAL}")));
    }
    if r.by_day
        .iter()
        .any(|d| !cflows_protocol::limits::WEEKDAY.contains(d))
    {
        return Err(Invalid::new("by_day holds ISO weekdays 1..=7"));
    }
    if r.by_month_day
        .iter()
        .any(|d| *d == 0 || !(-31..=31).contains(d))
    {
        return Err(Invalid::new("by_month_day holds 1..=31 or -31..=-1"));
    }
    if r.by_day.len() > 7 || r.by_month_day.len() > 31 {
        return Err(Invalid::new("too many by_day or by_month_day values"));
    }
    if r.count.is_some() && r.until.is_some() {
        return Err(Invalid::new("give count or until, not both"));
    }
    if r.count.is_some_and(|c| c == 0 || c > MAX_COUNT) {
        return Err(Invalid::new(format!("count must be 1..={MAX_COUNT}")));
    }
    if let Some(u) = &r.until {
        until_date(u)?;
    }
    Ok(())
}

fn until_date(raw: &str) -> Checked<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| Invalid::new(format!("until '{raw}' is not a YYYY-MM-DD date")))
}

fn weekday(d: u8) -> rrule::Weekday {
    use rrule::Weekday::*;
    match d {
        1 => Mon,
        2 => Tue,
        3 => Wed,
        4 => Thu,
        5 => Fri,
        6 => Sat,
        _ => Sun,
    }
}

/// `naive` read as a UTC wall clock, in rrule's zone type.
fn as_utc(naive: NaiveDateTime) -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&naive)
}

fn rule(r: &Recurrence) -> rrule::RRule<rrule::Unvalidated> {
    let freq = match r.freq {
        Frequency::Daily => rrule::Frequency::Daily,
        Frequency::Weekly => rrule::Frequency::Weekly,
        Frequency::Monthly => rrule::Frequency::Monthly,
        Frequency::Yearly => rrule::Frequency::Yearly,
    };
    let mut rule = rrule::RRule::new(freq).interval(r.interval.min(MAX_INTERVAL) as u16);
    if !r.by_day.is_empty() {
        rule = rule.by_weekday(
            r.by_day
                .iter()
                .map(|d| rrule::NWeekday::Every(weekday(*d)))
                .collect(),
        );
    }
    if !r.by_month_day.is_empty() {
        rule = rule.by_month_day(r.by_month_day.clone());
    }
    if let Some(c) = r.count {
        rule = rule.count(c);
    }
    if let Some(until) = r.until.as_deref().and_then(|u| until_date(u).ok()) {
        // The whole local day is included.
        let end = until.and_hms_opt(23, 59, 59).expect("a valid time");
        rule = rule.until(as_utc(end));
    }
    rule
}

/// The local start times the rule yields from `dtstart` (local), between the local
/// times `from` and `to`, at most [`MAX_OCCURRENCES`].
///
/// # Errors
/// The rule does not validate against its start.
pub fn local_occurrences(
    r: &Recurrence,
    dtstart: NaiveDateTime,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Checked<Vec<NaiveDateTime>> {
    let set = rule(r)
        .build(as_utc(dtstart))
        .map_err(|e| Invalid::new(format!("recurrence: {e}")))?;
    let (from, to) = (as_utc(from), as_utc(to));
    let mut out = Vec::new();
    // The iterator runs from the series' start; bounded so a rule that yields nothing
    // in the window (or forever) cannot spin.
    for (seen, t) in set.into_iter().enumerate() {
        if t > to || seen > MAX_SCAN {
            break;
        }
        if t >= from {
            out.push(t.naive_utc());
            if out.len() >= MAX_OCCURRENCES {
                break;
            }
        }
    }
    Ok(out)
}

/// How long each occurrence of a series lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// A timed event: every occurrence lasts exactly this long (RFC 5545 §3.8.5.3), so
    /// one whose start moved across a gap or an overlap keeps its length.
    Exact(Duration),
    /// An all-day event: whole local days, however long those days are.
    Days(Duration),
}

impl Length {
    /// The end of an occurrence starting at local `local`, which resolved to `start`.
    pub fn end(self, zone: Tz, local: NaiveDateTime, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Exact(d) => start + d,
            Self::Days(d) => time::resolve(zone, local + d),
        }
    }

    /// How far, in local time, an occurrence can reach past its start.
    fn reach(self) -> Duration {
        match self {
            Self::Exact(d) => d + Duration::hours(3),
            Self::Days(d) => d,
        }
    }
}

/// One expanded occurrence: its original local start, and its instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    pub local: NaiveDateTime,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Expanded {
    /// Whether a reader that resolves local times by its own DST handling and adds the
    /// length to the wall clock (ical.js, most calendar apps) finds this occurrence
    /// where we do: its start and its end each exist exactly once locally, and the end
    /// is the local start plus the length. Occurrences starting in a gap or an overlap,
    /// or spanning a change, are not.
    pub fn plain(&self, zone: Tz) -> bool {
        use chrono::LocalResult;
        let single = |local: NaiveDateTime, at: DateTime<Utc>| matches!(zone.from_local_datetime(&local), LocalResult::Single(t) if t == at);
        single(self.local, self.start) && single(self.local + (self.end - self.start), self.end)
    }
}

/// The zone, local wall-clock start and length of an event: exact for a timed event,
/// in local days for an all-day one.
///
/// # Errors
/// A bad zone or an instant out of range.
pub fn shape(e: &EventView) -> Checked<(Tz, NaiveDateTime, Length)> {
    let tz = time::zone(&e.zone)?;
    let (start, end) = (time::from_ms(e.start)?, time::from_ms(e.end)?);
    let local = time::local(tz, start);
    let length = if e.all_day {
        Length::Days(time::local(tz, end) - local)
    } else {
        Length::Exact(end - start)
    };
    Ok((tz, local, length))
}

/// Occurrences of an event starting at local `dtstart` and lasting `length`, in
/// `zone`, that overlap `[from, to)`. Each start is resolved by [`time::resolve`]; the
/// end follows from the length.
///
/// # Errors
/// The rule does not validate against its start.
pub fn expand(
    r: &Recurrence,
    zone: Tz,
    dtstart: NaiveDateTime,
    length: Length,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Checked<Vec<Expanded>> {
    // Local search window, widened by a day each side for offsets and the length.
    let lo = time::local(zone, from) - length.reach() - Duration::days(1);
    let hi = time::local(zone, to) + Duration::days(1);
    Ok(local_occurrences(r, dtstart, lo, hi)?
        .into_iter()
        .map(|local| {
            let start = time::resolve(zone, local);
            Expanded {
                local,
                start,
                end: length.end(zone, local, start),
            }
        })
        .filter(|e| e.start < to && e.end > from)
        .collect())
}

/// The rule as an RFC 5545 `RRULE` value (`UNTIL` as a floating local time, which the
/// RFC allows with a `TZID` start).
pub fn rrule_value(r: &Recurrence) -> String {
    let mut s = format!(
        "FREQ={}",
        match r.freq {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        }
    );
    if r.interval > 1 {
        s.push_str(&format!(";INTERVAL={}", r.interval));
    }
    if !r.by_day.is_empty() {
        let days: Vec<&str> = r
            .by_day
            .iter()
            .map(|d| ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][usize::from(d - 1)])
            .collect();
        s.push_str(&format!(";BYDAY={}", days.join(",")));
    }
    if !r.by_month_day.is_empty() {
        let days: Vec<String> = r.by_month_day.iter().map(i8::to_string).collect();
        s.push_str(&format!(";BYMONTHDAY={}", days.join(",")));
    }
    if let Some(c) = r.count {
        s.push_str(&format!(";COUNT={c}"));
    }
    s
}

/// The local `until` bound as a naive date-time (end of that local day), if any.
pub fn until_local(r: &Recurrence) -> Option<NaiveDateTime> {
    r.until
        .as_deref()
        .and_then(|u| until_date(u).ok())
        .and_then(|d| d.and_hms_opt(23, 59, 59))
}

/// Parses an occurrence name (`YYYY-MM-DDTHH:MM`, local).
///
/// # Errors
/// Not in that form.
pub fn parse_occurrence(raw: &str) -> Checked<NaiveDateTime> {
    NaiveDateTime::parse_from_str(raw, OCCURRENCE_FORMAT)
        .map_err(|_| Invalid::new(format!("occurrence '{raw}' is not YYYY-MM-DDTHH:MM")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(day: u8) -> Recurrence {
        Recurrence {
            freq: Frequency::Weekly,
            interval: 1,
            by_day: vec![day],
            by_month_day: vec![],
            count: None,
            until: None,
        }
    }

    fn local_times(zone: &str, r: &Recurrence, start: &str, from: &str, to: &str) -> Vec<String> {
        let tz: Tz = zone.parse().unwrap();
        let p = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let from = time::resolve(tz, p(from));
        let to = time::resolve(tz, p(to));
        expand(r, tz, p(start), Length::Exact(Duration::hours(1)), from, to)
            .unwrap()
            .into_iter()
            .map(|e| {
                e.start
                    .with_timezone(&tz)
                    .format("%m-%d %H:%M %z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_weekly_0900_stays_0900_local_across_both_transitions() {
        // Sundays 09:00 in Stockholm, over the spring and autumn changes of 2026.
        assert_eq!(
            local_times(
                "Europe/Stockholm",
                &weekly(7),
                "2026-03-15 09:00",
                "2026-03-20 00:00",
                "2026-04-06 00:00"
            ),
            vec![
                "03-22 09:00 +0100",
                "03-29 09:00 +0200",
                "04-05 09:00 +0200"
            ]
        );
        assert_eq!(
            local_times(
                "Europe/Stockholm",
                &weekly(7),
                "2026-03-15 09:00",
                "2026-10-20 00:00",
                "2026-11-02 00:00"
            ),
            vec!["10-25 09:00 +0100", "11-01 09:00 +0100"]
        );
        assert_eq!(
            local_times(
                "America/New_York",
                &weekly(7),
                "2026-01-04 09:00",
                "2026-03-01 00:00",
                "2026-03-16 00:00"
            ),
            vec![
                "03-01 09:00 -0500",
                "03-08 09:00 -0400",
                "03-15 09:00 -0400"
            ]
        );
        assert_eq!(
            local_times(
                "America/New_York",
                &weekly(7),
                "2026-01-04 09:00",
                "2026-10-31 00:00",
                "2026-11-09 00:00"
            ),
            vec!["11-01 09:00 -0500", "11-08 09:00 -0500"]
        );
    }

    #[test]
    fn times_in_the_gap_move_forward_and_repeated_times_take_the_earlier() {
        let daily = Recurrence {
            freq: Frequency::Daily,
            ..weekly(1)
        };
        let daily = Recurrence {
            by_day: vec![],
            ..daily
        };
        // 02:30 daily in Stockholm: the spring day has it at 03:30; none is lost.
        assert_eq!(
            local_times(
                "Europe/Stockholm",
                &daily,
                "2026-03-27 02:30",
                "2026-03-28 00:00",
                "2026-03-31 00:00"
            ),
            vec![
                "03-28 02:30 +0100",
                "03-29 03:30 +0200",
                "03-30 02:30 +0200"
            ]
        );
        // Autumn: 02:30 happens twice; one occurrence, the earlier instant.
        assert_eq!(
            local_times(
                "Europe/Stockholm",
                &daily,
                "2026-10-20 02:30",
                "2026-10-24 00:00",
                "2026-10-27 00:00"
            ),
            vec![
                "10-24 02:30 +0200",
                "10-25 02:30 +0200",
                "10-26 02:30 +0100"
            ]
        );
        // Santiago skips midnight: a daily 00:00 still occurs on that day, at 01:00.
        assert_eq!(
            local_times(
                "America/Santiago",
                &daily,
                "2026-09-01 00:00",
                "2026-09-05 00:00",
                "2026-09-08 00:00"
            ),
            vec![
                "09-05 00:00 -0400",
                "09-06 01:00 -0300",
                "09-07 00:00 -0300"
            ]
        );
        // …and on the day 23:00–24:00 repeats, a 23:30 occurrence is the earlier one.
        assert_eq!(
            local_times(
                "America/Santiago",
                &daily,
                "2026-04-01 23:30",
                "2026-04-03 12:00",
                "2026-04-06 00:00"
            ),
            vec![
                "04-03 23:30 -0300",
                "04-04 23:30 -0300",
                "04-05 23:30 -0400"
            ]
        );
    }

    #[test]
    fn count_until_and_month_days() {
        let r = Recurrence {
            freq: Frequency::Monthly,
            interval: 1,
            by_day: vec![],
            by_month_day: vec![-1],
            count: Some(3),
            until: None,
        };
        assert_eq!(
            local_times(
                "UTC",
                &r,
                "2026-01-31 10:00",
                "2026-01-01 00:00",
                "2027-01-01 00:00"
            ),
            vec![
                "01-31 10:00 +0000",
                "02-28 10:00 +0000",
                "03-31 10:00 +0000"
            ]
        );
        let r = Recurrence {
            count: None,
            until: Some("2026-02-28".into()),
            ..r
        };
        assert_eq!(
            local_times(
                "UTC",
                &r,
                "2026-01-31 10:00",
                "2026-01-01 00:00",
                "2027-01-01 00:00"
            )
            .len(),
            2
        );
        assert_eq!(rrule_value(&weekly(3)), "FREQ=WEEKLY;BYDAY=WE");
        let bad = Recurrence {
            count: Some(2),
            until: Some("2026-01-01".into()),
            ..weekly(1)
        };
        assert!(validate(&bad).is_err());
        assert!(
            validate(&Recurrence {
                interval: 0,
                ..weekly(1)
            })
            .is_err()
        );
        assert!(
            validate(&Recurrence {
                by_day: vec![8],
                ..weekly(1)
            })
            .is_err()
        );
    }

    fn daily() -> Recurrence {
        Recurrence {
            freq: Frequency::Daily,
            by_day: vec![],
            ..weekly(1)
        }
    }

    /// Start and end, local with offset, of the occurrence of a daily series on `day`.
    fn on_day(zone: &str, start: &str, minutes: i64, day: &str) -> (String, String) {
        let tz: Tz = zone.parse().unwrap();
        let p = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let from = time::resolve(tz, p(&format!("{day} 00:00")));
        let x = expand(
            &daily(),
            tz,
            p(start),
            Length::Exact(Duration::minutes(minutes)),
            from,
            from + Duration::hours(23),
        )
        .unwrap()
        .into_iter()
        .find(|x| x.local.date() == p(&format!("{day} 00:00")).date())
        .unwrap();
        let show = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M %z").to_string();
        (show(x.start), show(x.end))
    }

    #[test]
    fn an_occurrence_keeps_its_exact_length_across_a_change() {
        // 02:30–03:00 on Stockholm's spring-forward day: 03:30–04:00, not 03:30–03:00.
        assert_eq!(
            on_day("Europe/Stockholm", "2027-03-01 02:30", 30, "2027-03-28"),
            ("03:30 +0200".into(), "04:00 +0200".into())
        );
        // 01:30–02:00 on New York's fall-back night: 30 minutes, not 90.
        assert_eq!(
            on_day("America/New_York", "2027-11-01 01:30", 30, "2027-11-07"),
            ("01:30 -0400".into(), "01:00 -0500".into())
        );
        // A night shift 22:00–06:00 spanning either change stays eight hours.
        assert_eq!(
            on_day("Europe/Stockholm", "2027-03-01 22:00", 480, "2027-03-27"),
            ("22:00 +0100".into(), "07:00 +0200".into())
        );
    }

    /// Zones with every kind of change: both hemispheres, half-hour and 30-minute DST
    /// (Lord Howe), changes at midnight (Santiago, Havana), irregular ones (Casablanca),
    /// rules that changed (New York 2007, Moscow 2011, Cairo).
    const ZONES: [&str; 36] = [
        "Europe/Stockholm",
        "Europe/London",
        "Europe/Dublin",
        "Europe/Lisbon",
        "Europe/Moscow",
        "Europe/Istanbul",
        "Europe/Kyiv",
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "America/Anchorage",
        "America/Halifax",
        "America/St_Johns",
        "America/Havana",
        "America/Mexico_City",
        "America/Santiago",
        "America/Sao_Paulo",
        "America/Asuncion",
        "America/Godthab",
        "Atlantic/Azores",
        "Africa/Casablanca",
        "Africa/Cairo",
        "Asia/Tehran",
        "Asia/Jerusalem",
        "Asia/Beirut",
        "Asia/Amman",
        "Asia/Damascus",
        "Asia/Gaza",
        "Australia/Sydney",
        "Australia/Adelaide",
        "Australia/Lord_Howe",
        "Pacific/Auckland",
        "Pacific/Chatham",
        "Pacific/Apia",
        "Antarctica/Troll",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(72))]

        /// Around every change of a zone from 1990 to 2040, every occurrence of a daily
        /// series starting at any minute and lasting up to 36 hours starts where the
        /// one rule puts its local time and lasts exactly the series' length.
        #[test]
        fn every_occurrence_lasts_exactly_its_length(
            zone in 0..ZONES.len(),
            minute in 0i64..1440,
            length in 1i64..(36 * 60),
        ) {
            let tz: Tz = ZONES[zone].parse().unwrap();
            let jan1 = |y: i32| DateTime::<Utc>::from_naive_utc_and_offset(
                NaiveDate::from_ymd_opt(y, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
                Utc,
            );
            let len = Duration::minutes(length);
            for t in time::transitions(tz, jan1(1990), jan1(2041)) {
                let day = time::local(tz, t.at).date() - Duration::days(3);
                let dtstart = day.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(minute);
                let around = expand(
                    &daily(),
                    tz,
                    dtstart,
                    Length::Exact(len),
                    t.at - Duration::days(2),
                    t.at + Duration::days(2),
                )
                .unwrap();
                proptest::prop_assert!(around.len() >= 3);
                for x in around {
                    proptest::prop_assert_eq!(x.end - x.start, len, "{} {:?}", ZONES[zone], x);
                    proptest::prop_assert_eq!(x.start, time::resolve(tz, x.local));
                    proptest::prop_assert!(x.local >= dtstart);
                }
            }
        }
    }
}
