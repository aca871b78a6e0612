//! The capacity ledger: a team's bookings and the arithmetic of what fits. Pure — the
//! `TeamCalendar` actor owns one and is the only caller that changes it.
//!
//! At every instant the members required by the bookings that *take* capacity
//! (confirmed, completed, and held with an unexpired hold) never exceed the capacity.

use super::time::OpenHours;
use super::{Checked, Invalid};
use cflows_protocol::{BookingState, BookingView, Interval, SlotAvailability};
use std::collections::{BTreeMap, BTreeSet};

/// Where a suggestion search steps (ms): quarter hours.
pub const SUGGESTION_STEP_MS: i64 = 15 * 60 * 1000;
/// How far ahead suggestions are looked for (ms): 28 days.
pub const SUGGESTION_HORIZON_MS: i64 = 28 * 24 * 3_600_000;

/// How long a job of `duration_minutes` takes (ms).
pub fn job_length_ms(duration_minutes: u32) -> i64 {
    i64::from(duration_minutes) * 60_000
}

/// Where a booking from `start` ends: at `end` when the booker gave one, else after the
/// job type's length. Every way of booking (API, pages, socket, a work item's step,
/// the demo) computes it here.
///
/// # Errors
/// A start so late that the job would end past the representable time.
pub fn booking_end(start: i64, end: Option<i64>, duration_minutes: u32) -> Checked<i64> {
    match end {
        Some(end) => Ok(end),
        None => start
            .checked_add(job_length_ms(duration_minutes))
            .ok_or_else(|| Invalid::new("start out of range")),
    }
}

/// The interval a refusal reports, for messages.
pub fn describe(i: &Interval) -> String {
    let f = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    format!("{} – {}", f(i.start), f(i.end))
}

/// Whether a booking takes capacity at `now`.
pub fn takes(b: &BookingView, now: i64) -> bool {
    match b.state {
        BookingState::Confirmed | BookingState::Completed => true,
        BookingState::Held => b.hold_expires_at.is_some_and(|t| t > now),
        BookingState::Cancelled | BookingState::Expired => false,
    }
}

/// Why an interval does not fit: the first stretch over capacity and the peak there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clash {
    pub conflict: Interval,
    /// Members already taken at the stretch's peak.
    pub booked: u32,
}

/// A team's live bookings, indexed by start.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    bookings: BTreeMap<String, BookingView>,
    by_start: BTreeSet<(i64, String)>,
    /// Longest booking held, bounding how far back an overlap search looks.
    max_len: i64,
}

impl Ledger {
    /// A ledger of `bookings` (cancelled ones are ignored).
    pub fn new(bookings: impl IntoIterator<Item = BookingView>) -> Self {
        let mut l = Self::default();
        for b in bookings {
            l.put(b);
        }
        l
    }

    /// One booking.
    pub fn get(&self, id: &str) -> Option<&BookingView> {
        self.bookings.get(id)
    }

    /// Every booking, by start.
    pub fn iter(&self) -> impl Iterator<Item = &BookingView> {
        self.by_start.iter().map(|(_, id)| &self.bookings[id])
    }

    /// Number of bookings kept.
    pub fn len(&self) -> usize {
        self.bookings.len()
    }

    /// Whether no booking is kept.
    pub fn is_empty(&self) -> bool {
        self.bookings.is_empty()
    }

    /// Adds or replaces a booking; a released one (cancelled, expired) is removed.
    pub fn put(&mut self, b: BookingView) {
        self.remove(&b.id);
        if b.state.is_released() {
            return;
        }
        self.max_len = self.max_len.max(b.end - b.start);
        self.by_start.insert((b.start, b.id.clone()));
        self.bookings.insert(b.id.clone(), b);
    }

    /// Removes a booking.
    pub fn remove(&mut self, id: &str) -> Option<BookingView> {
        let b = self.bookings.remove(id)?;
        self.by_start.remove(&(b.start, b.id.clone()));
        Some(b)
    }

    /// Drops bookings that ended before `before` (they can no longer clash).
    pub fn forget_before(&mut self, before: i64) {
        let old: Vec<String> = self
            .bookings
            .values()
            .filter(|b| b.end < before)
            .map(|b| b.id.clone())
            .collect();
        for id in old {
            self.remove(&id);
        }
    }

    /// Bookings overlapping `[start, end)` that take capacity at `now`, except `skip`.
    pub fn overlapping<'a>(
        &'a self,
        start: i64,
        end: i64,
        now: i64,
        skip: Option<&'a str>,
    ) -> impl Iterator<Item = &'a BookingView> + 'a {
        let from = (start.saturating_sub(self.max_len), String::new());
        self.by_start
            .range(from..)
            .take_while(move |(s, _)| *s < end)
            .map(|(_, id)| &self.bookings[id])
            .filter(move |b| b.end > start && takes(b, now) && Some(b.id.as_str()) != skip)
    }

    /// Members taken over `[start, end)` as a step function: `(from, to, held, confirmed)`
    /// pieces covering the interval, in order.
    pub fn profile(
        &self,
        start: i64,
        end: i64,
        now: i64,
        skip: Option<&str>,
    ) -> Vec<(i64, i64, u32, u32)> {
        // Deltas at each boundary: (held, confirmed).
        let mut deltas: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        deltas.insert(start, (0, 0));
        deltas.insert(end, (0, 0));
        for b in self.overlapping(start, end, now, skip) {
            let n = i64::from(b.members_required);
            let (h, c) = if b.state == BookingState::Held {
                (n, 0)
            } else {
                (0, n)
            };
            let s = deltas.entry(b.start.max(start)).or_default();
            s.0 += h;
            s.1 += c;
            if b.end < end {
                let e = deltas.entry(b.end).or_default();
                e.0 -= h;
                e.1 -= c;
            }
        }
        let mut out = Vec::with_capacity(deltas.len());
        let (mut held, mut confirmed) = (0i64, 0i64);
        let points: Vec<(i64, (i64, i64))> = deltas.into_iter().collect();
        for w in points.windows(2) {
            held += w[0].1.0;
            confirmed += w[0].1.1;
            out.push((w[0].0, w[1].0, held as u32, confirmed as u32));
        }
        out
    }

    /// The most members taken at any instant of `[start, end)`.
    pub fn peak(&self, start: i64, end: i64, now: i64, skip: Option<&str>) -> u32 {
        self.profile(start, end, now, skip)
            .iter()
            .map(|&(_, _, h, c)| h + c)
            .max()
            .unwrap_or(0)
    }

    /// Whether `need` more members fit over `[start, end)` under `capacity`; otherwise
    /// the first stretch where they do not.
    pub fn check(
        &self,
        start: i64,
        end: i64,
        need: u32,
        capacity: u32,
        now: i64,
        skip: Option<&str>,
    ) -> Result<(), Clash> {
        let mut clash: Option<Clash> = None;
        for (s, e, h, c) in self.profile(start, end, now, skip) {
            let taken = h + c;
            if taken + need > capacity {
                match &mut clash {
                    None => {
                        clash = Some(Clash {
                            conflict: Interval { start: s, end: e },
                            booked: taken,
                        })
                    }
                    Some(cl) if cl.conflict.end == s => {
                        cl.conflict.end = e;
                        cl.booked = cl.booked.max(taken);
                    }
                    Some(_) => break,
                }
            } else if clash.is_some() {
                break;
            }
        }
        clash.map_or(Ok(()), Err)
    }

    /// Up to `n` free slots of `len` ms for `need` members, starting at or after `after`
    /// on quarter-hour steps inside working hours, earliest first.
    #[allow(clippy::too_many_arguments)]
    pub fn suggestions(
        &self,
        hours: &OpenHours,
        capacity: u32,
        len: i64,
        need: u32,
        after: i64,
        now: i64,
        skip: Option<&str>,
        n: usize,
    ) -> Vec<Interval> {
        let mut out = Vec::new();
        if need > capacity || len <= 0 {
            return out;
        }
        let from = after.max(now);
        for (open_start, open_end) in hours.open_intervals(from, from + SUGGESTION_HORIZON_MS) {
            // Quarter-hour grid anchored at the open period's start.
            let mut s = open_start;
            if s < from {
                s += (from - s + SUGGESTION_STEP_MS - 1) / SUGGESTION_STEP_MS * SUGGESTION_STEP_MS;
            }
            while s + len <= open_end {
                match self.check(s, s + len, need, capacity, now, skip) {
                    Ok(()) => {
                        out.push(Interval {
                            start: s,
                            end: s + len,
                        });
                        if out.len() == n {
                            return out;
                        }
                        s += len.max(SUGGESTION_STEP_MS);
                    }
                    Err(clash) => {
                        // Jump past the clash, back onto the grid.
                        let past = clash.conflict.end.max(s + SUGGESTION_STEP_MS);
                        s += (past - s + SUGGESTION_STEP_MS - 1) / SUGGESTION_STEP_MS
                            * SUGGESTION_STEP_MS;
                    }
                }
            }
        }
        out
    }

    /// Free capacity per slot of `slot` ms over `[from, to)`: slots inside working hours
    /// have the team's capacity, the rest 0.
    pub fn availability(
        &self,
        hours: &OpenHours,
        capacity: u32,
        from: i64,
        to: i64,
        slot: i64,
        now: i64,
    ) -> Vec<SlotAvailability> {
        let open = hours.open_intervals(from, to);
        let mut out = Vec::new();
        let mut s = from;
        while s < to {
            let e = (s + slot).min(to);
            let is_open = open.iter().any(|&(os, oe)| os <= s && e <= oe);
            let cap = if is_open { capacity } else { 0 };
            let (mut held, mut confirmed, mut peak) = (0, 0, 0);
            for (_, _, h, c) in self.profile(s, e, now, None) {
                if h + c >= peak {
                    peak = h + c;
                    held = h;
                    confirmed = c;
                }
            }
            out.push(SlotAvailability {
                start: s,
                end: e,
                capacity: cap,
                held,
                confirmed,
                free: cap.saturating_sub(peak),
            });
            s = e;
        }
        out
    }

    /// Bookings that take capacity at `now`, end after `now`, and overlap an instant
    /// where more than `capacity` members are taken.
    pub fn over(&self, capacity: u32, now: i64) -> Vec<BookingView> {
        let mut hit: BTreeSet<String> = BTreeSet::new();
        let live: Vec<&BookingView> = self
            .iter()
            .filter(|b| b.end > now && takes(b, now))
            .collect();
        let (Some(first), Some(last)) = (
            live.iter().map(|b| b.start).min(),
            live.iter().map(|b| b.end).max(),
        ) else {
            return Vec::new();
        };
        for (s, e, h, c) in self.profile(first.max(now), last, now, None) {
            if h + c > capacity {
                for b in self.overlapping(s, e, now, None) {
                    hit.insert(b.id.clone());
                }
            }
        }
        hit.into_iter()
            .map(|id| self.bookings[&id].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cflows_protocol::{TeamId, UserId};

    #[test]
    fn a_booking_ends_where_given_or_after_the_job() {
        let nine = 1_796_000_000_000;
        assert_eq!(booking_end(nine, None, 90), Ok(nine + 90 * 60_000));
        assert_eq!(
            booking_end(nine, Some(nine + 1), 90),
            Ok(nine + 1),
            "an end the booker gave wins"
        );
        assert_eq!(
            booking_end(i64::MAX - 1000, None, 5),
            Err(Invalid::new("start out of range")),
            "a start near the end of time is refused, not wrapped"
        );
        assert_eq!(booking_end(i64::MAX, Some(i64::MAX), 5), Ok(i64::MAX));
    }

    #[test]
    fn an_interval_is_described_in_utc() {
        let i = Interval {
            start: 0,
            end: 90 * 60_000,
        };
        assert_eq!(describe(&i), "1970-01-01 00:00 UTC – 1970-01-01 01:30 UTC");
    }

    pub(crate) fn booking(
        id: &str,
        start: i64,
        end: i64,
        need: u32,
        state: BookingState,
    ) -> BookingView {
        BookingView {
            id: id.into(),
            team: TeamId::new("t"),
            job_type: "j".into(),
            title: String::new(),
            start,
            end,
            members_required: need,
            state,
            hold_expires_at: (state == BookingState::Held).then_some(1_000),
            booked_by: UserId::new("u"),
            booked_by_name: "U".into(),
            assigned: vec![],
            work_item: None,
            step: None,
            completed_by: None,
            completed_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn check_reports_the_first_stretch_over_capacity() {
        let l = Ledger::new([
            booking("a", 10, 20, 2, BookingState::Confirmed),
            booking("b", 15, 30, 1, BookingState::Held),
            booking("c", 40, 50, 3, BookingState::Confirmed),
        ]);
        // capacity 3, now 0: peak 3 at 15..20.
        assert_eq!(l.peak(0, 60, 0, None), 3);
        assert_eq!(l.check(0, 10, 3, 3, 0, None), Ok(()));
        assert_eq!(
            l.check(12, 45, 1, 3, 0, None),
            Err(Clash {
                conflict: Interval { start: 15, end: 20 },
                booked: 3
            })
        );
        // The hold runs out at 1000: after that it takes nothing.
        assert_eq!(l.peak(0, 60, 1_000, None), 3, "c alone");
        assert_eq!(l.peak(15, 30, 1_000, None), 2);
        assert_eq!(l.check(20, 30, 3, 3, 1_000, None), Ok(()));
        // Moving "a" over itself: skip it.
        assert_eq!(l.check(10, 20, 2, 3, 0, Some("a")), Ok(()));
        let over: Vec<String> = l.over(2, 0).into_iter().map(|b| b.id).collect();
        assert_eq!(over, vec!["a", "b", "c"]);
    }
}
