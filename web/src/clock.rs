//! How instants are written for people: in the viewer's zone (their profile's, else the
//! organization's) and the organization's 12/24-hour clock. Pages and the messages of the
//! application layer (a refusal's clash, its free slots) format instants only here.

use cflows_protocol::{ClockFormat, MemberView, OrgView};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A viewer's zone and clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    tz: Tz,
    h12: bool,
}

impl Clock {
    /// The clock of someone whose profile names `zone` (empty: the organization's).
    pub fn new(org: &OrgView, zone: &str) -> Self {
        let zone = if zone.is_empty() { &org.timezone } else { zone };
        let tz = cflows_actors::domain::time::zone(zone)
            .or_else(|_| cflows_actors::domain::time::zone(&org.timezone))
            .unwrap_or(chrono_tz::UTC);
        Self {
            tz,
            h12: org.clock == ClockFormat::H12,
        }
    }

    fn at(&self, ms: i64) -> DateTime<Tz> {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&self.tz)
    }

    /// `2026-12-08 08:00` (or `2026-12-08 08:00 AM`).
    pub fn when(&self, ms: i64) -> String {
        format!("{} {}", self.at(ms).format("%Y-%m-%d"), self.time(ms))
    }

    /// `08:00` (or `8:00 AM`).
    pub fn time(&self, ms: i64) -> String {
        let t = self.at(ms);
        if self.h12 {
            t.format("%-I:%M %p").to_string()
        } else {
            t.format("%H:%M").to_string()
        }
    }

    /// `Tue 8 Dec`.
    pub fn day(&self, ms: i64) -> String {
        self.at(ms).format("%a %-d %b").to_string()
    }

    /// `Tue 8 Dec, 08:00–09:30` (an end on another day names its day too).
    pub fn span(&self, start: i64, end: i64) -> String {
        let end_day = if self.at(start).date_naive() == self.at(end - 1).date_naive() {
            String::new()
        } else {
            format!("{} ", self.day(end))
        };
        format!(
            "{}, {}–{end_day}{}",
            self.day(start),
            self.time(start),
            self.time(end)
        )
    }

    /// A `datetime-local` input's `YYYY-MM-DDTHH:MM`, read in this zone (a time the
    /// zone skips moves forward by the gap); `None` when it is not one.
    pub fn parse_local(&self, local: &str) -> Option<i64> {
        let naive = chrono::NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M").ok()?;
        Some(cflows_actors::domain::time::resolve(self.tz, naive).timestamp_millis())
    }

    /// The clock of `member` in `org`.
    pub fn of(member: &MemberView, org: &OrgView) -> Self {
        Self::new(org, &member.profile.timezone)
    }

    /// The local date of `ms`.
    pub fn date(&self, ms: i64) -> chrono::NaiveDate {
        self.at(ms).date_naive()
    }

    /// Where the local day of `ms` begins and ends (Unix ms; 23 or 25 hours on DST days).
    pub fn day_bounds(&self, ms: i64) -> (i64, i64) {
        let day = self.date(ms);
        let start = |d: chrono::NaiveDate| {
            cflows_actors::domain::time::resolve(self.tz, d.and_time(chrono::NaiveTime::MIN))
                .timestamp_millis()
        };
        (start(day), start(day.succ_opt().unwrap_or(day)))
    }

    /// The zone's name, for "times in Europe/Berlin".
    pub fn zone(&self) -> &'static str {
        self.tz.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(clock: ClockFormat) -> OrgView {
        OrgView {
            id: cflows_protocol::OrgId::new("o"),
            name: "Demo".into(),
            slug: "demo".into(),
            timezone: "Europe/Berlin".into(),
            clock,
        }
    }

    #[test]
    fn writes_the_viewers_zone_in_the_organizations_clock() {
        // 2026-12-07 08:00 UTC is 09:00 in Berlin, 03:00 in New York.
        let t = 1_796_630_400_000;
        let berlin = Clock::new(&org(ClockFormat::H24), "");
        assert_eq!(berlin.when(t), "2026-12-07 09:00");
        assert_eq!(berlin.span(t, t + 90 * 60_000), "Mon 7 Dec, 09:00–10:30");
        let ny = Clock::new(&org(ClockFormat::H12), "America/New_York");
        assert_eq!(ny.time(t), "3:00 AM");
        assert_eq!(
            ny.span(t, t + 22 * 3_600_000),
            "Mon 7 Dec, 3:00 AM–Tue 8 Dec 1:00 AM"
        );
    }

    #[test]
    fn times_follow_zone_and_clock_in_summer() {
        // 2026-07-01 12:30 UTC is 14:30 in Berlin (summer time) and 8:30 AM in New York.
        let ms = 1_782_909_000_000;
        let berlin = Clock::new(&org(ClockFormat::H24), "");
        assert_eq!(berlin.when(ms), "2026-07-01 14:30");
        assert_eq!(berlin.time(ms), "14:30");
        let ny = Clock::new(&org(ClockFormat::H12), "America/New_York");
        assert_eq!(ny.when(ms), "2026-07-01 8:30 AM");
    }

    #[test]
    fn a_day_with_a_clock_change_is_23_hours_long() {
        // 2026-03-29: Berlin springs forward.
        let noon = 1_774_778_400_000; // 2026-03-29 10:00 UTC
        let (start, end) = Clock::new(&org(ClockFormat::H24), "").day_bounds(noon);
        assert_eq!(end - start, 23 * 3_600_000);
        assert!(start <= noon && noon < end);
    }
}
