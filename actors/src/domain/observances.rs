//! A zone's offsets as iCalendar observances (RFC 5545 §3.6.5), valid for every later
//! year: the zone's current yearly rule as two `RRULE` observances, and its history
//! before the rule began as one observance per change.
//!
//! chrono-tz answers offsets, not rules, so the rule is read back from the changes: the
//! last checked year's two changes give a month, a day (nth or last weekday, a weekday
//! on or after a date, or a fixed date) and a wall-clock time, and a rule is used only
//! when it reproduces chrono-tz's changes of every year from its start through
//! [`LAST_YEAR_CHECKED`]. A zone without a rule (no daylight saving, or changes that
//! follow no calendar rule) gets every change chrono-tz knows listed one by one; its
//! last offset stands.
//!
//! Pure: no I/O, no zone names beyond chrono-tz's.

use super::time::{self, Transition};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The last year a rule is checked against chrono-tz (its tables end in 2099).
pub const LAST_YEAR_CHECKED: i32 = 2098;

/// Which day of its month a yearly change falls on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Day {
    /// The nth (1..=4) or last (-1) given weekday of the month.
    Nth(i8, Weekday),
    /// The first given weekday on or after a day of the month (tzdata's `Sun>=8`).
    OnOrAfter(u32, Weekday),
    /// A fixed day of the month.
    Fixed(u32),
}

/// One change that recurs every year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearlyRule {
    pub month: u32,
    pub day: Day,
    /// The wall-clock time of the change, read in the offset before it.
    pub time: NaiveTime,
    /// The change itself (offsets, daylight saving, name); `at` is its first onset.
    pub change: Transition,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(28, |d| d.day())
}

const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn ical_weekday(w: Weekday) -> &'static str {
    WEEKDAYS[w.num_days_from_monday() as usize]
}

impl YearlyRule {
    /// The local date of the change in `year`.
    fn date(&self, year: i32) -> Option<NaiveDate> {
        match self.day {
            Day::Nth(n, w) if n > 0 => {
                NaiveDate::from_weekday_of_month_opt(year, self.month, w, n as u8)
            }
            Day::Nth(_, w) => {
                let last =
                    NaiveDate::from_ymd_opt(year, self.month, days_in_month(year, self.month))?;
                let back =
                    (7 + last.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
                Some(last - Duration::days(i64::from(back)))
            }
            Day::OnOrAfter(d, w) => {
                let first = NaiveDate::from_ymd_opt(year, self.month, d)?;
                let ahead =
                    (7 + w.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
                let date = first + Duration::days(i64::from(ahead));
                (date.month() == self.month).then_some(date)
            }
            Day::Fixed(d) => NaiveDate::from_ymd_opt(year, self.month, d),
        }
    }

    /// The change as it happens in `year` by this rule.
    fn in_year(&self, year: i32) -> Option<Transition> {
        let local = self.date(year)?.and_time(self.time);
        let at = Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(self.change.before))));
        Some(Transition {
            at,
            ..self.change.clone()
        })
    }

    /// The rule as an RFC 5545 `RRULE` value.
    pub fn rrule(&self) -> String {
        let day = match self.day {
            Day::Nth(n, w) => format!("BYDAY={n}{}", ical_weekday(w)),
            Day::OnOrAfter(d, w) => {
                let days: Vec<String> = (d..d + 7).map(|x| x.to_string()).collect();
                format!("BYDAY={};BYMONTHDAY={}", ical_weekday(w), days.join(","))
            }
            Day::Fixed(d) => format!("BYMONTHDAY={d}"),
        };
        format!("FREQ=YEARLY;BYMONTH={};{day}", self.month)
    }
}

/// A zone's observances for a calendar whose entries begin in `from` (a year).
#[derive(Clone, Debug)]
pub struct Observances {
    /// The offset in force on 1 January of `from` (an onset with no change).
    pub initial: Transition,
    /// Each change from `from` until the rule begins (every change chrono-tz knows
    /// when there is no rule: the last offset then stands).
    pub explicit: Vec<Transition>,
    /// The current rule's changes; each rule's `change.at` is its first onset.
    pub yearly: Vec<YearlyRule>,
}

/// The year (local, before the change) a change falls in.
fn onset_year(t: &Transition) -> i32 {
    (t.at + Duration::seconds(i64::from(t.before))).year()
}

/// Ways to describe the day of `t` as a yearly rule, most usual first.
fn candidates(t: &Transition) -> Vec<YearlyRule> {
    let local = t.at.naive_utc() + Duration::seconds(i64::from(t.before));
    let (year, month, day, w) = (local.year(), local.month(), local.day(), local.weekday());
    let mut days = Vec::new();
    if day <= 28 {
        days.push(Day::Nth(((day - 1) / 7 + 1) as i8, w));
    }
    if day + 7 > days_in_month(year, month) {
        days.push(Day::Nth(-1, w));
    }
    days.extend((day.saturating_sub(6).max(1)..=day).map(|d| Day::OnOrAfter(d, w)));
    days.push(Day::Fixed(day));
    days.into_iter()
        .map(|d| YearlyRule {
            month,
            day: d,
            time: local.time(),
            change: t.clone(),
        })
        .collect()
}

/// Observances of `tz` valid from 1 January `from` on (checked through `to` at least).
pub fn observances(tz: Tz, from: i32, to: i32) -> Observances {
    let jan1 = |y: i32| {
        Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    };
    let start = jan1(from);
    let initial_offset = time::offset_at(tz, start);
    let initial = {
        let mut t = time::transitions(tz, start - Duration::days(400), start)
            .pop()
            .unwrap_or(Transition {
                at: start,
                before: initial_offset,
                after: initial_offset,
                dst: false,
                name: None,
            });
        // Onset at local midnight of 1 January.
        t.at = start - Duration::seconds(i64::from(initial_offset));
        t.before = initial_offset;
        t.after = initial_offset;
        t
    };
    let last = LAST_YEAR_CHECKED.max(to);
    let all = time::transitions(tz, start, jan1(last + 1));
    let of_year =
        |y: i32| -> Vec<&Transition> { all.iter().filter(|t| onset_year(t) == y).collect() };
    let explicit_through = |end: i32| -> Vec<Transition> {
        all.iter()
            .filter(|t| onset_year(t) <= end)
            .cloned()
            .collect()
    };
    let final_year = of_year(last);
    if final_year.len() != 2 {
        return Observances {
            initial,
            explicit: explicit_through(last),
            yearly: Vec::new(),
        };
    }
    // For each of the year's two changes, the description that holds for the longest
    // run of years back from the last; the rule starts where both hold.
    let holds = |rule: &YearlyRule, y: i32| {
        let actual = of_year(y);
        actual.len() == 2 && rule.in_year(y).is_some_and(|r| actual.contains(&&r))
    };
    let mut rules = Vec::new();
    let mut begins = from;
    for change in &final_year {
        let best = candidates(change)
            .into_iter()
            .map(|rule| {
                let mut y = last;
                while y > from && holds(&rule, y - 1) {
                    y -= 1;
                }
                (y, rule)
            })
            .filter(|(_, rule)| holds(rule, last))
            .min_by_key(|(y, _)| *y);
        let Some((y, rule)) = best else {
            return Observances {
                initial,
                explicit: explicit_through(last),
                yearly: Vec::new(),
            };
        };
        begins = begins.max(y);
        rules.push(rule);
    }
    for rule in &mut rules {
        if let Some(first) = rule.in_year(begins) {
            rule.change = first;
        }
    }
    Observances {
        initial,
        explicit: explicit_through(begins - 1),
        yearly: rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn europe_us_and_australia_have_their_rules() {
        let sto = observances("Europe/Stockholm".parse().unwrap(), 2026, 2028);
        let r: Vec<String> = sto.yearly.iter().map(YearlyRule::rrule).collect();
        assert_eq!(
            r,
            vec![
                "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"
            ]
        );
        assert!(sto.explicit.is_empty());
        assert_eq!(
            sto.yearly[0].time,
            NaiveTime::from_hms_opt(2, 0, 0).unwrap()
        );
        let ny = observances("America/New_York".parse().unwrap(), 2026, 2028);
        let r: Vec<String> = ny.yearly.iter().map(YearlyRule::rrule).collect();
        assert_eq!(
            r,
            vec![
                "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
                "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"
            ]
        );
        let syd = observances("Australia/Sydney".parse().unwrap(), 2026, 2028);
        let r: Vec<String> = syd.yearly.iter().map(YearlyRule::rrule).collect();
        assert_eq!(
            r,
            vec![
                "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
                "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU"
            ]
        );
        // No daylight saving: the offset in force, nothing else.
        let tokyo = observances("Asia/Tokyo".parse().unwrap(), 2026, 2028);
        assert!(tokyo.yearly.is_empty() && tokyo.explicit.is_empty());
        assert_eq!(tokyo.initial.after, 9 * 3600);
    }

    #[test]
    fn history_before_the_rule_is_explicit() {
        // The US rule changed in 2007: 2005 and 2006 are listed, the rule starts in 2007.
        let ny = observances("America/New_York".parse().unwrap(), 2005, 2010);
        assert_eq!(ny.explicit.len(), 4);
        assert_eq!(ny.yearly[0].change.at.year(), 2007);
    }

    /// What a reader of the observances finds: every change from `from` through 2098.
    fn replayed(o: &Observances, from: i32) -> Vec<Transition> {
        let mut out = o.explicit.clone();
        for rule in &o.yearly {
            let first = onset_year(&rule.change);
            out.extend((first..=LAST_YEAR_CHECKED).filter_map(|y| rule.in_year(y)));
        }
        out.retain(|t| onset_year(t) >= from);
        out.sort_by_key(|t| t.at);
        out
    }

    #[test]
    fn observances_reproduce_every_change_through_2098() {
        for zone in [
            "Europe/Stockholm",
            "Europe/London",
            "Europe/Lisbon",
            "America/New_York",
            "America/St_Johns",
            "America/Havana",
            "America/Santiago",
            "America/Asuncion",
            "America/Nuuk",
            "Atlantic/Azores",
            "Asia/Jerusalem",
            "Asia/Beirut",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Pacific/Auckland",
            "Pacific/Chatham",
            "Antarctica/Troll",
            "Asia/Tokyo",
            "Asia/Kolkata",
            "Africa/Casablanca",
        ] {
            let tz: Tz = zone.parse().unwrap();
            for from in [2000, 2026] {
                let o = observances(tz, from, from + 2);
                let jan1 = |y: i32| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
                let truth: Vec<Transition> =
                    time::transitions(tz, jan1(from), jan1(LAST_YEAR_CHECKED + 1))
                        .into_iter()
                        .filter(|t| onset_year(t) >= from && onset_year(t) <= LAST_YEAR_CHECKED)
                        .collect();
                assert_eq!(replayed(&o, from), truth, "{zone} from {from}");
            }
        }
    }
}
