//! `TeamCalendar(team_id)`: the only place a team's capacity is decided. It owns the
//! team's bookings, holds, waitlist and working hours, decides one request at a time,
//! and publishes `team:{id}`.
//!
//! Capacity is the team's bookable count (the Org actor's field). The Org asks this
//! actor before lowering it (`reserve_capacity`: refused with the affected bookings, or
//! the lower figure applies here at once) and tells it the figure it committed
//! (`capacity_committed`); in between the lower of the two applies, so no moment exists
//! in which more could be booked than either allows.
//!
//! Two processes holding the same team cannot overbook either: each decision commits
//! the journal's next `(stream, seq)`, which only one of them can take (the kernel's
//! fence); the loser reloads and answers `conflict`.

use crate::domain::capacity::{Ledger, takes};
use crate::domain::time::{self, OpenHours};
use crate::error::{CoreError, CoreResult};
use crate::kernel::{Entity, Journal, Kernel, decide};
use crate::notices::{self, Change, Notice};
use crate::store::{Write, new_id, writes};
use cflows_protocol::limits;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    BookingState, BookingView, CapacityRefusal, Interval, ItemId, OrgId, SlotAvailability,
    StreamName, TeamCalendarSnapshot, TeamEvent, TeamId, UserId, WaitlistEntry, WorkingHours,
    Workload, WorkloadPeriod,
};
use ractor::RpcReplyPort;
use std::collections::BTreeMap;

/// Bookings that ended longer ago than this are not kept hot (ms): 7 days.
const KEEP_HOT_MS: i64 = 7 * 24 * 3_600_000;
/// Most entries on one team's waitlist.
pub const MAX_WAITLIST: usize = 500;
/// Longest availability or workload query (ms): 62 days.
pub const MAX_RANGE_MS: i64 = 62 * 24 * 3_600_000;
/// Longest booking (ms): 24 hours.
pub const MAX_BOOKING_MS: i64 = 24 * 3_600_000;
/// How many free slots a refusal suggests.
pub const SUGGESTIONS: usize = 3;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Who asks: an active member of the organization (checked by the caller), or the system.
#[derive(Clone, Debug)]
pub struct Booker {
    pub user: UserId,
    pub name: String,
    /// Admins may change working hours.
    pub admin: bool,
}

/// A booking request, with the job type's length already resolved by the caller.
#[derive(Clone, Debug)]
pub struct BookingSpec {
    pub job_type: String,
    pub start: i64,
    pub end: i64,
    pub members_required: u32,
    pub title: String,
    pub confirm: bool,
    /// How long a hold lasts; the team's `hold_minutes` when `None`.
    pub hold_ms: Option<i64>,
    pub waitlist: bool,
    pub assigned: Vec<UserId>,
    pub work_item: Option<ItemId>,
    pub step: Option<String>,
}

/// A step of a booking's life the API and the socket offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingStep {
    Confirm,
    Cancel,
    Complete,
}

/// Messages the `TeamCalendar` handles. Tenancy is checked before a message is sent
/// ([`crate::kernel::Registry::call_in`]): another organization's team answers `NotFound`.
pub enum TeamMsg {
    Snapshot {
        reply: RpcReplyPort<CoreResult<TeamCalendarSnapshot>>,
    },
    Head {
        reply: RpcReplyPort<CoreResult<u64>>,
    },
    Hold {
        by: Booker,
        spec: BookingSpec,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Confirm {
        by: Booker,
        id: String,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Cancel {
        by: Booker,
        id: String,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Complete {
        by: Booker,
        id: String,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Move {
        by: Booker,
        id: String,
        start: i64,
        end: Option<i64>,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Booking {
        id: String,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    /// Replaces the members assigned to a held or confirmed booking (team members, checked
    /// by the caller; at most `members_required`).
    Assign {
        by: Booker,
        id: String,
        assigned: Vec<UserId>,
        reply: RpcReplyPort<CoreResult<BookingView>>,
    },
    Bookings {
        from: i64,
        to: i64,
        reply: RpcReplyPort<CoreResult<Vec<BookingView>>>,
    },
    LeaveWaitlist {
        by: Booker,
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    SetHours {
        by: Booker,
        hours: WorkingHours,
        reply: RpcReplyPort<CoreResult<WorkingHours>>,
    },
    Availability {
        from: i64,
        to: i64,
        slot_minutes: u32,
        reply: RpcReplyPort<CoreResult<Vec<SlotAvailability>>>,
    },
    Workload {
        from: i64,
        to: i64,
        reply: RpcReplyPort<CoreResult<Workload>>,
    },
    /// The next `n` free slots of `len_ms` for `need` members from `after` (the same
    /// search a refusal's suggestions use).
    FreeSlots {
        len_ms: i64,
        need: u32,
        after: i64,
        n: usize,
        reply: RpcReplyPort<CoreResult<Vec<Interval>>>,
    },
    /// A new secret feed token (replacing the old one), or revokes the team's feed.
    Feed {
        by: Booker,
        revoke: bool,
        reply: RpcReplyPort<CoreResult<Option<String>>>,
    },
    /// From the Org, before it lowers the bookable count: refused with the bookings
    /// that would no longer fit, or applied here at once.
    ReserveCapacity {
        capacity: u32,
        reply: RpcReplyPort<Result<(), Vec<BookingView>>>,
    },
    /// From the Org, after it committed (or gave up) a change of the bookable count.
    CapacityCommitted { capacity: u32 },
}

/// One team's capacity, hot; hosted by the kernel.
pub struct TeamCalendar {
    kernel: Kernel,
    org: OrgId,
    team: TeamId,
    capacity: u32,
    hours: WorkingHours,
    open: OpenHours,
    ledger: Ledger,
    waitlist: Vec<WaitlistEntry>,
    journal: Journal,
}

impl Entity for TeamCalendar {
    type Id = TeamId;
    type Msg = TeamMsg;
    const KIND: &'static str = "team_calendar";

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Team(id) => Some(id.clone()),
            _ => None,
        }
    }
    const SCOPE_TABLE: Option<&'static str> = Some("team");

    async fn load(kernel: &Kernel, team: &TeamId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Team(team.clone())).await?;
        let record = store
            .team(team.as_str())
            .await?
            .ok_or(CoreError::NotFound)?;
        let hours = match store.team_hours(team.as_str()).await? {
            Some(h) => h,
            None => {
                let zone = store
                    .org(&record.org)
                    .await?
                    .map_or_else(|| "UTC".to_string(), |o| o.timezone);
                time::default_hours(&zone)
            }
        };
        let open = time::compile(&hours)?;
        let journal = journal.in_org(&OrgId::new(record.org.clone()));
        let bookings = store
            .live_bookings(team.as_str(), now_ms() - KEEP_HOT_MS)
            .await?;
        let waitlist = store.waitlist(team.as_str()).await?;
        Ok(Self {
            kernel: kernel.clone(),
            org: OrgId::new(record.org),
            team: team.clone(),
            capacity: record.bookable_count,
            hours,
            open,
            ledger: Ledger::new(bookings.into_iter().map(BookingView::from)),
            waitlist: waitlist.into_iter().map(WaitlistEntry::from).collect(),
            journal,
        })
    }

    async fn handle(&mut self, kernel: &Kernel, msg: TeamMsg) {
        // Whether the change may have freed capacity for the waitlist.
        let mut freed = false;
        match msg {
            TeamMsg::Snapshot { reply } => {
                let _ = reply.send(Ok(self.snapshot()));
            }
            TeamMsg::Head { reply } => {
                let _ = reply.send(Ok(self.journal.seq()));
            }
            // Decisions on capacity are made once more on the reloaded state when another
            // node committed on this team first (`decide!`).
            TeamMsg::Hold { by, spec, reply } => {
                let team = self.team.clone();
                let r = decide!(self, kernel, &team, self.on_hold(&by, spec.clone()).await);
                let _ = reply.send(r);
            }
            TeamMsg::Confirm { by, id, reply } => {
                let team = self.team.clone();
                let r = decide!(self, kernel, &team, self.on_confirm(&by, &id).await);
                let _ = reply.send(r);
            }
            TeamMsg::Cancel { by, id, reply } => {
                let team = self.team.clone();
                let r = decide!(self, kernel, &team, self.on_cancel(&by, &id).await);
                freed = r.is_ok();
                let _ = reply.send(r);
            }
            TeamMsg::Complete { by, id, reply } => {
                let team = self.team.clone();
                let r = decide!(self, kernel, &team, self.on_complete(&by, &id).await);
                let _ = reply.send(r);
            }
            TeamMsg::Move {
                by,
                id,
                start,
                end,
                reply,
            } => {
                let team = self.team.clone();
                let r = decide!(
                    self,
                    kernel,
                    &team,
                    self.on_move(&by, &id, start, end).await
                );
                freed = r.is_ok();
                let _ = reply.send(r);
            }
            TeamMsg::Assign {
                by,
                id,
                assigned,
                reply,
            } => {
                let _ = reply.send(self.on_assign(&by, &id, assigned).await);
            }
            TeamMsg::Booking { id, reply } => {
                let _ = reply.send(self.find(&id).await);
            }
            TeamMsg::Bookings { from, to, reply } => {
                let _ = reply.send(self.on_bookings(kernel, from, to).await);
            }
            TeamMsg::LeaveWaitlist { by, id, reply } => {
                let _ = reply.send(self.on_leave_waitlist(&by, &id).await);
            }
            TeamMsg::SetHours { by, hours, reply } => {
                let r = self.on_set_hours(&by, hours).await;
                freed = r.is_ok();
                let _ = reply.send(r);
            }
            TeamMsg::Availability {
                from,
                to,
                slot_minutes,
                reply,
            } => {
                let _ = reply.send(self.on_availability(from, to, slot_minutes));
            }
            TeamMsg::Workload { from, to, reply } => {
                let _ = reply.send(self.on_workload(from, to));
            }
            TeamMsg::FreeSlots {
                len_ms,
                need,
                after,
                n,
                reply,
            } => {
                // From the next whole quarter hour: people book 09:30, not 09:23:41.
                let now = now_ms();
                let step = crate::domain::capacity::SUGGESTION_STEP_MS;
                let from = (after.max(now) + step - 1).div_euclid(step) * step;
                let _ = reply.send(Ok(self.ledger.suggestions(
                    &self.open,
                    self.capacity,
                    len_ms,
                    need,
                    from,
                    now,
                    None,
                    n.min(SUGGESTIONS * 4),
                )));
            }
            TeamMsg::Feed { by, revoke, reply } => {
                let _ = reply.send(self.on_feed(&by, revoke).await);
            }
            TeamMsg::ReserveCapacity { capacity, reply } => {
                let over = if capacity < self.capacity {
                    self.ledger.over(capacity, now_ms())
                } else {
                    Vec::new()
                };
                if over.is_empty() {
                    self.capacity = self.capacity.min(capacity);
                    let _ = reply.send(Ok(()));
                } else {
                    let _ = reply.send(Err(over));
                }
            }
            TeamMsg::CapacityCommitted { capacity } => {
                self.on_capacity_committed(capacity).await;
                freed = true;
            }
        }
        if freed {
            // After the reply: the waiters' holds are separate decisions.
            self.promote_waiters(kernel).await;
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }

    fn scope(&self) -> Option<&OrgId> {
        Some(&self.org)
    }

    fn wake_at(&self) -> Option<i64> {
        let holds = self
            .ledger
            .iter()
            .filter(|b| b.state == BookingState::Held)
            .filter_map(|b| b.hold_expires_at);
        holds.min()
    }

    async fn wake(&mut self, kernel: &Kernel) {
        self.expire_holds().await;
        self.promote_waiters(kernel).await;
    }
}

/// The refusal error of a request that does not fit.
fn refusal(r: CapacityRefusal) -> CoreError {
    CoreError::NoCapacity(Box::new(r))
}

impl TeamCalendar {
    fn snapshot(&self) -> TeamCalendarSnapshot {
        let now = now_ms();
        TeamCalendarSnapshot {
            team: self.team.clone(),
            capacity: self.capacity,
            hours: self.hours.clone(),
            bookings: self
                .ledger
                .iter()
                .filter(|b| b.state != BookingState::Held || takes(b, now))
                .cloned()
                .collect(),
            waitlist: self.waitlist.clone(),
            seq: self.journal.seq(),
        }
    }

    async fn commit(
        &mut self,
        write: Write,
        events: Vec<TeamEvent>,
        by: Option<&UserId>,
    ) -> CoreResult<()> {
        // Bookings serving a work item's step: the item hears each change of them.
        let linked: Vec<BookingView> = events
            .iter()
            .filter_map(|e| match e {
                TeamEvent::BookingCreated { booking }
                | TeamEvent::BookingConfirmed { booking }
                | TeamEvent::BookingChanged { booking }
                | TeamEvent::BookingCancelled { booking }
                | TeamEvent::BookingCompleted { booking }
                | TeamEvent::HoldExpired { booking } => {
                    booking.work_item.is_some().then(|| booking.clone())
                }
                _ => None,
            })
            .collect();
        self.journal
            .commit(
                write,
                events.into_iter().map(StreamEvent::Team).collect(),
                by,
            )
            .await?;
        for booking in linked {
            crate::work_item::booking_changed(&self.kernel, &self.org, booking).await;
        }
        Ok(())
    }

    fn hot(&self, id: &str) -> CoreResult<BookingView> {
        self.ledger.get(id).cloned().ok_or(CoreError::NotFound)
    }

    async fn find(&self, id: &str) -> CoreResult<BookingView> {
        if let Some(b) = self.ledger.get(id) {
            return Ok(b.clone());
        }
        self.journal_store()
            .booking(self.team.as_str(), id)
            .await?
            .map(BookingView::from)
            .ok_or(CoreError::NotFound)
    }

    fn journal_store(&self) -> &crate::store::Store {
        self.journal.store()
    }

    /// Refusal details for `[start, end)` × `need` (skipping `skip`), or `None` if it fits.
    fn does_not_fit(
        &self,
        start: i64,
        end: i64,
        need: u32,
        now: i64,
        skip: Option<&str>,
    ) -> Option<CapacityRefusal> {
        let suggest = || {
            self.ledger.suggestions(
                &self.open,
                self.capacity,
                end - start,
                need,
                start,
                now,
                skip,
                SUGGESTIONS,
            )
        };
        if !self.open.covers(start, end) {
            return Some(CapacityRefusal {
                conflict: None,
                booked: 0,
                capacity: self.capacity,
                suggestions: suggest(),
                waitlisted: None,
            });
        }
        match self
            .ledger
            .check(start, end, need, self.capacity, now, skip)
        {
            Ok(()) => None,
            Err(clash) => Some(CapacityRefusal {
                conflict: Some(clash.conflict),
                booked: clash.booked,
                capacity: self.capacity,
                suggestions: suggest(),
                waitlisted: None,
            }),
        }
    }

    fn check_shape(&self, start: i64, end: i64, need: u32, now: i64) -> CoreResult<()> {
        if end <= start {
            return Err(CoreError::invalid("a booking must end after it starts"));
        }
        if end - start > MAX_BOOKING_MS {
            return Err(CoreError::invalid("a booking lasts at most 24 hours"));
        }
        if start % 60_000 != 0 || end % 60_000 != 0 {
            return Err(CoreError::invalid(
                "bookings start and end on whole minutes",
            ));
        }
        if end <= now {
            return Err(CoreError::invalid("that time is already over"));
        }
        if need < *limits::MEMBERS_REQUIRED.start() {
            return Err(CoreError::invalid(format!(
                "members_required must be at least {}",
                limits::MEMBERS_REQUIRED.start()
            )));
        }
        if need > *limits::MEMBERS_REQUIRED.end() {
            return Err(CoreError::invalid(format!(
                "members_required must be at most {}",
                limits::MEMBERS_REQUIRED.end()
            )));
        }
        if need > self.capacity {
            return Err(CoreError::invalid(format!(
                "this team can take at most {} members at once",
                self.capacity
            )));
        }
        Ok(())
    }

    fn hold_ms(&self, spec: Option<i64>) -> CoreResult<i64> {
        match spec {
            Some(ms)
                if (i64::from(*limits::HOLD_SECONDS.start()) * 1000
                    ..=i64::from(*limits::HOLD_SECONDS.end()) * 1000)
                    .contains(&ms) =>
            {
                Ok(ms)
            }
            Some(_) => Err(CoreError::invalid(format!(
                "hold_seconds must be {}..={}",
                limits::HOLD_SECONDS.start(),
                limits::HOLD_SECONDS.end()
            ))),
            None => Ok(i64::from(self.hours.hold_minutes) * 60_000),
        }
    }

    async fn on_hold(&mut self, by: &Booker, spec: BookingSpec) -> CoreResult<BookingView> {
        let now = now_ms();
        self.check_shape(spec.start, spec.end, spec.members_required, now)?;
        if spec.assigned.len() > spec.members_required as usize {
            return Err(CoreError::invalid(
                "more members assigned than the booking requires",
            ));
        }
        let hold_ms = self.hold_ms(spec.hold_ms)?;
        if let Some(mut refused) =
            self.does_not_fit(spec.start, spec.end, spec.members_required, now, None)
        {
            if spec.waitlist && refused.conflict.is_some() {
                refused.waitlisted = Some(self.join_waitlist(by, &spec, now).await?);
            }
            return Err(refusal(refused));
        }
        let booking = BookingView {
            id: new_id(),
            team: self.team.clone(),
            job_type: spec.job_type,
            title: spec.title,
            start: spec.start,
            end: spec.end,
            members_required: spec.members_required,
            state: if spec.confirm {
                BookingState::Confirmed
            } else {
                BookingState::Held
            },
            hold_expires_at: (!spec.confirm).then_some(now + hold_ms),
            booked_by: by.user.clone(),
            booked_by_name: by.name.clone(),
            assigned: spec.assigned,
            work_item: spec.work_item,
            step: spec.step,
            completed_by: None,
            completed_at: None,
            created_at: now,
            updated_at: now,
        };
        self.commit(
            writes::put_bookings(self.org.as_str(), &[&booking], ""),
            vec![TeamEvent::BookingCreated {
                booking: booking.clone(),
            }],
            Some(&by.user),
        )
        .await?;
        self.ledger.put(booking.clone());
        Ok(booking)
    }

    async fn join_waitlist(
        &mut self,
        by: &Booker,
        spec: &BookingSpec,
        now: i64,
    ) -> CoreResult<WaitlistEntry> {
        if self.waitlist.len() >= MAX_WAITLIST {
            return Err(CoreError::Conflict("this team's waitlist is full".into()));
        }
        let entry = WaitlistEntry {
            id: new_id(),
            team: self.team.clone(),
            job_type: spec.job_type.clone(),
            title: spec.title.clone(),
            start: spec.start,
            end: spec.end,
            members_required: spec.members_required,
            user: by.user.clone(),
            work_item: spec.work_item.clone(),
            step: spec.step.clone(),
            hold_seconds: spec.hold_ms.map(|ms| (ms / 1000) as u32),
            created_at: now,
        };
        self.commit(
            writes::add_waiter(self.org.as_str(), &entry),
            vec![TeamEvent::WaitlistJoined {
                entry: entry.clone(),
            }],
            Some(&by.user),
        )
        .await?;
        self.waitlist.push(entry.clone());
        Ok(entry)
    }

    /// A changed copy of a hot booking, written and journalled with `event`.
    async fn change(
        &mut self,
        by: &UserId,
        next: BookingView,
        event: fn(BookingView) -> TeamEvent,
    ) -> CoreResult<BookingView> {
        self.commit(
            writes::put_bookings(self.org.as_str(), &[&next], ""),
            vec![event(next.clone())],
            Some(by),
        )
        .await?;
        self.ledger.put(next.clone());
        Ok(next)
    }

    async fn on_confirm(&mut self, by: &Booker, id: &str) -> CoreResult<BookingView> {
        let now = now_ms();
        // Any state: a hold that ran out (no longer hot) is a conflict, not a missing id.
        let b = self.find(id).await?;
        match b.state {
            BookingState::Held if takes(&b, now) => {}
            BookingState::Held | BookingState::Expired => {
                return Err(CoreError::Conflict(
                    "the hold has run out; book the slot again".into(),
                ));
            }
            BookingState::Confirmed => {
                return Err(CoreError::Conflict(
                    "the booking is already confirmed".into(),
                ));
            }
            BookingState::Completed | BookingState::Cancelled => {
                return Err(CoreError::Conflict(format!(
                    "a {} booking cannot be confirmed",
                    b.state.as_str()
                )));
            }
        }
        let next = BookingView {
            state: BookingState::Confirmed,
            hold_expires_at: None,
            updated_at: now,
            ..b
        };
        self.change(&by.user, next, |booking| TeamEvent::BookingConfirmed {
            booking,
        })
        .await
    }

    async fn on_cancel(&mut self, by: &Booker, id: &str) -> CoreResult<BookingView> {
        let now = now_ms();
        // Any state: cancelling a booking that is over already is a conflict.
        let b = self.find(id).await?;
        if !matches!(b.state, BookingState::Held | BookingState::Confirmed) {
            return Err(CoreError::Conflict(format!(
                "the booking is {}; it cannot be cancelled",
                b.state.as_str()
            )));
        }
        let next = BookingView {
            state: BookingState::Cancelled,
            hold_expires_at: None,
            updated_at: now,
            ..b
        };
        self.change(&by.user, next, |booking| TeamEvent::BookingCancelled {
            booking,
        })
        .await
    }

    async fn on_complete(&mut self, by: &Booker, id: &str) -> CoreResult<BookingView> {
        let now = now_ms();
        let b = self.hot(id)?;
        match b.state {
            BookingState::Completed => return Ok(b),
            BookingState::Confirmed => {}
            _ => {
                return Err(CoreError::Conflict(
                    "only a confirmed booking can be completed".into(),
                ));
            }
        }
        let next = BookingView {
            state: BookingState::Completed,
            completed_by: Some(by.user.clone()),
            completed_at: Some(now),
            updated_at: now,
            ..b
        };
        let done = self
            .change(&by.user, next, |booking| TeamEvent::BookingCompleted {
                booking,
            })
            .await?;
        Ok(done)
    }

    async fn on_move(
        &mut self,
        by: &Booker,
        id: &str,
        start: i64,
        end: Option<i64>,
    ) -> CoreResult<BookingView> {
        let now = now_ms();
        let b = self.hot(id)?;
        if !(b.state == BookingState::Confirmed
            || (b.state == BookingState::Held && takes(&b, now)))
        {
            return Err(CoreError::Conflict(format!(
                "a {} booking cannot be moved",
                if b.state == BookingState::Held {
                    "lapsed"
                } else {
                    b.state.as_str()
                }
            )));
        }
        let end = end.unwrap_or(start + (b.end - b.start));
        self.check_shape(start, end, b.members_required, now)?;
        if let Some(refused) = self.does_not_fit(start, end, b.members_required, now, Some(id)) {
            return Err(refusal(refused));
        }
        if (start, end) == (b.start, b.end) {
            return Ok(b);
        }
        let next = BookingView {
            start,
            end,
            updated_at: now,
            ..b
        };
        self.change(&by.user, next, |booking| TeamEvent::BookingChanged {
            booking,
        })
        .await
    }

    async fn on_assign(
        &mut self,
        by: &Booker,
        id: &str,
        assigned: Vec<UserId>,
    ) -> CoreResult<BookingView> {
        let b = self.hot(id)?;
        if !matches!(b.state, BookingState::Held | BookingState::Confirmed) {
            return Err(CoreError::Conflict(format!(
                "a {} booking cannot be reassigned",
                b.state.as_str()
            )));
        }
        let mut unique: Vec<UserId> = Vec::with_capacity(assigned.len());
        for u in assigned {
            if !unique.contains(&u) {
                unique.push(u);
            }
        }
        if unique.len() > b.members_required as usize {
            return Err(CoreError::invalid(
                "more members assigned than the booking requires",
            ));
        }
        if unique == b.assigned {
            return Ok(b);
        }
        let next = BookingView {
            assigned: unique,
            updated_at: now_ms(),
            ..b
        };
        self.change(&by.user, next, |booking| TeamEvent::BookingChanged {
            booking,
        })
        .await
    }

    async fn on_bookings(
        &self,
        kernel: &Kernel,
        from: i64,
        to: i64,
    ) -> CoreResult<Vec<BookingView>> {
        check_range(from, to)?;
        if from >= now_ms() - KEEP_HOT_MS {
            let now = now_ms();
            return Ok(self
                .ledger
                .iter()
                .filter(|b| b.start < to && b.end > from)
                .filter(|b| b.state != BookingState::Held || takes(b, now))
                .cloned()
                .collect());
        }
        Ok(kernel
            .store()
            .bookings_between(self.team.as_str(), from, to)
            .await?
            .into_iter()
            .map(BookingView::from)
            .filter(|b| b.state != BookingState::Held)
            .collect())
    }

    async fn on_leave_waitlist(&mut self, by: &Booker, id: &str) -> CoreResult<()> {
        let entry = self
            .waitlist
            .iter()
            .find(|w| w.id == id)
            .ok_or(CoreError::NotFound)?;
        if entry.user != by.user && !by.admin {
            return Err(CoreError::Forbidden(
                "only the waiter or an admin can withdraw it".into(),
            ));
        }
        self.commit(
            writes::remove_waiters(&[id.to_string()]),
            vec![TeamEvent::WaitlistLeft {
                id: id.to_string(),
                booking: None,
            }],
            Some(&by.user),
        )
        .await?;
        self.waitlist.retain(|w| w.id != id);
        Ok(())
    }

    async fn on_set_hours(&mut self, by: &Booker, hours: WorkingHours) -> CoreResult<WorkingHours> {
        if !by.admin {
            return Err(CoreError::Forbidden(
                "only admins can change working hours".into(),
            ));
        }
        let open = time::compile(&hours)?;
        let hours = time::normalize(hours);
        self.commit(
            writes::set_team_hours(self.org.as_str(), &self.team, &hours),
            vec![TeamEvent::HoursChanged {
                hours: hours.clone(),
            }],
            Some(&by.user),
        )
        .await?;
        // Existing bookings stay where they are: hours bound new requests only.
        self.hours = hours.clone();
        self.open = open;
        Ok(hours)
    }

    fn on_availability(
        &self,
        from: i64,
        to: i64,
        slot_minutes: u32,
    ) -> CoreResult<Vec<SlotAvailability>> {
        check_range(from, to)?;
        if !limits::SLOT_MINUTES.contains(&slot_minutes) {
            return Err(CoreError::invalid(format!(
                "slot_minutes must be {}..={}",
                limits::SLOT_MINUTES.start(),
                limits::SLOT_MINUTES.end()
            )));
        }
        let slot = i64::from(slot_minutes) * 60_000;
        if (to - from) / slot > 20_000 {
            return Err(CoreError::invalid(
                "too many slots; use longer slots or a shorter range",
            ));
        }
        Ok(self
            .ledger
            .availability(&self.open, self.capacity, from, to, slot, now_ms()))
    }

    fn on_workload(&self, from: i64, to: i64) -> CoreResult<Workload> {
        check_range(from, to)?;
        let now = now_ms();
        let mut days: BTreeMap<chrono::NaiveDate, WorkloadPeriod> = BTreeMap::new();
        let first = self.open.local_date(from);
        let last = self.open.local_date(to - 1);
        let mut d = first;
        while d <= last {
            days.insert(d, period(d.to_string()));
            d += chrono::Duration::days(1);
        }
        let minutes = |ms: i64| (ms / 60_000) as u64;
        for (s, e) in self.open.open_intervals(from, to) {
            let day = days
                .entry(self.open.local_date(s))
                .or_insert_with(|| period(String::new()));
            day.capacity_minutes += u64::from(self.capacity) * minutes(e - s);
        }
        for (s, e, held, confirmed) in self.ledger.profile(from, to, now, None) {
            if held + confirmed == 0 {
                continue;
            }
            // Split the piece at local midnights.
            let mut cursor = s;
            while cursor < e {
                let date = self.open.local_date(cursor);
                let next_midnight = self.open.day_start(date + chrono::Duration::days(1));
                let piece_end = e.min(next_midnight.max(cursor + 60_000));
                if let Some(day) = days.get_mut(&date) {
                    day.held_minutes += u64::from(held) * minutes(piece_end - cursor);
                    day.confirmed_minutes += u64::from(confirmed) * minutes(piece_end - cursor);
                }
                cursor = piece_end;
            }
        }
        let mut weeks: BTreeMap<String, WorkloadPeriod> = BTreeMap::new();
        for (date, day) in &days {
            let w = weeks
                .entry(time::iso_week(*date))
                .or_insert_with(|| period(time::iso_week(*date)));
            w.capacity_minutes += day.capacity_minutes;
            w.held_minutes += day.held_minutes;
            w.confirmed_minutes += day.confirmed_minutes;
        }
        let finish = |mut p: WorkloadPeriod| {
            p.utilization = if p.capacity_minutes == 0 {
                0.0
            } else {
                (p.held_minutes + p.confirmed_minutes) as f64 / p.capacity_minutes as f64
            };
            p
        };
        Ok(Workload {
            team: self.team.clone(),
            days: days.into_values().map(finish).collect(),
            weeks: weeks.into_values().map(finish).collect(),
        })
    }

    async fn on_feed(&mut self, by: &Booker, revoke: bool) -> CoreResult<Option<String>> {
        let target = self.team.to_string();
        crate::feeds::issue(
            &mut self.journal,
            &self.org,
            crate::feeds::FeedTarget::Team,
            &target,
            &by.user,
            revoke,
        )
        .await
    }

    async fn on_capacity_committed(&mut self, capacity: u32) {
        if capacity == self.capacity {
            return;
        }
        let done = self
            .commit(
                writes::nothing(),
                vec![TeamEvent::CapacityChanged { capacity }],
                None,
            )
            .await;
        match done {
            Ok(()) => self.capacity = capacity,
            Err(e) => {
                // Keep the lower figure (safe); the next load reads the team's row.
                tracing::warn!(team = %self.team, error = %e, "could not journal a capacity change");
                self.capacity = self.capacity.min(capacity);
            }
        }
    }

    /// Releases every hold that ran out, in one commit.
    async fn expire_holds(&mut self) {
        let now = now_ms();
        let expired: Vec<BookingView> = self
            .ledger
            .iter()
            .filter(|b| b.state == BookingState::Held && !takes(b, now))
            .map(|b| BookingView {
                state: BookingState::Expired,
                hold_expires_at: None,
                updated_at: now,
                ..b.clone()
            })
            .collect();
        if expired.is_empty() {
            return;
        }
        let refs: Vec<&BookingView> = expired.iter().collect();
        let events = expired
            .iter()
            .map(|b| TeamEvent::HoldExpired { booking: b.clone() })
            .collect();
        match self
            .commit(
                writes::put_bookings(self.org.as_str(), &refs, ""),
                events,
                None,
            )
            .await
        {
            Ok(()) => {
                for b in expired {
                    self.ledger.put(b);
                }
            }
            Err(e) => {
                // They take no capacity anyway; tried again at the next wake-up.
                tracing::warn!(team = %self.team, error = %e, "could not release expired holds");
            }
        }
        self.ledger.forget_before(now - KEEP_HOT_MS);
    }

    /// Gives freed capacity to the waitlist, first come first served: each waiter whose
    /// slot now fits gets a hold (of the team's hold length) and a notification. Waiters
    /// for slots that have begun leave the list.
    async fn promote_waiters(&mut self, kernel: &Kernel) {
        let now = now_ms();
        let team_hold_ms = i64::from(self.hours.hold_minutes) * 60_000;
        let mut i = 0;
        while i < self.waitlist.len() {
            let w = self.waitlist[i].clone();
            if w.start <= now {
                if self
                    .commit(
                        writes::remove_waiters(std::slice::from_ref(&w.id)),
                        vec![TeamEvent::WaitlistLeft {
                            id: w.id.clone(),
                            booking: None,
                        }],
                        None,
                    )
                    .await
                    .is_ok()
                {
                    self.waitlist.remove(i);
                } else {
                    i += 1;
                }
                continue;
            }
            if self
                .does_not_fit(w.start, w.end, w.members_required, now, None)
                .is_some()
            {
                i += 1;
                continue;
            }
            let booking = BookingView {
                id: new_id(),
                team: self.team.clone(),
                job_type: w.job_type.clone(),
                title: w.title.clone(),
                start: w.start,
                end: w.end,
                members_required: w.members_required,
                state: BookingState::Held,
                hold_expires_at: Some(
                    now + w.hold_seconds.map_or(team_hold_ms, |s| i64::from(s) * 1000),
                ),
                booked_by: w.user.clone(),
                booked_by_name: String::new(),
                assigned: Vec::new(),
                work_item: w.work_item.clone(),
                step: w.step.clone(),
                completed_by: None,
                completed_at: None,
                created_at: now,
                updated_at: now,
            };
            let write = writes::put_bookings(self.org.as_str(), &[&booking], "")
                .and(writes::remove_waiters(std::slice::from_ref(&w.id)));
            let events = vec![
                TeamEvent::WaitlistLeft {
                    id: w.id.clone(),
                    booking: Some(booking.id.clone()),
                },
                TeamEvent::BookingCreated {
                    booking: booking.clone(),
                },
            ];
            if let Err(e) = self.commit(write, events, None).await {
                tracing::warn!(team = %self.team, error = %e, "could not promote a waiter");
                return;
            }
            self.ledger.put(booking.clone());
            self.waitlist.remove(i);
            notify_waiter(kernel, &self.org, &booking);
        }
    }
}

fn period(name: String) -> WorkloadPeriod {
    WorkloadPeriod {
        period: name,
        capacity_minutes: 0,
        held_minutes: 0,
        confirmed_minutes: 0,
        utilization: 0.0,
    }
}

fn check_range(from: i64, to: i64) -> CoreResult<()> {
    if to <= from {
        return Err(CoreError::invalid("`to` must be after `from`"));
    }
    if to - from > MAX_RANGE_MS {
        return Err(CoreError::invalid("a range spans at most 62 days"));
    }
    time::from_ms(from)?;
    time::from_ms(to)?;
    Ok(())
}

/// Tells a waiter their slot is held for them (off the team's mailbox: the inbox is
/// another actor and must not slow capacity decisions).
fn notify_waiter(kernel: &Kernel, org: &OrgId, booking: &BookingView) {
    let notice = Notice::new(
        org,
        None,
        Change::WaitlistHeld {
            team: booking.team.clone(),
            booking: booking.id.clone(),
            title: booking.title.clone(),
        },
    )
    .to([booking.booked_by.clone()]);
    notices::send(kernel, &notice, "waitlist notification");
}

/// A typed handle on one team's calendar of one organization (started on demand by the
/// registry); another organization's team is `NotFound`.
#[derive(Clone)]
pub struct TeamCalendarHandle {
    kernel: Kernel,
    org: OrgId,
    team: TeamId,
}

macro_rules! team_call {
    ($self:ident, $variant:ident { $($field:ident $(: $value:expr)?),* }) => {
        $self
            .kernel
            .team_calendars()
            .call_in(&$self.kernel, &$self.org, &$self.team, |reply| TeamMsg::$variant {
                $($field $(: $value)?,)*
                reply,
            })
            .await?
    };
}

impl TeamCalendarHandle {
    /// A handle on `team` of `org` (nothing is checked until the first call).
    pub fn new(kernel: &Kernel, org: &OrgId, team: &TeamId) -> Self {
        Self {
            kernel: kernel.clone(),
            org: org.clone(),
            team: team.clone(),
        }
    }

    /// The team's stream state.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign team.
    pub async fn snapshot(&self) -> CoreResult<TeamCalendarSnapshot> {
        team_call!(self, Snapshot {})
    }

    /// The last position of `team:{id}`.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign team.
    pub async fn head(&self) -> CoreResult<u64> {
        team_call!(self, Head {})
    }

    /// Holds (or confirms) capacity.
    ///
    /// # Errors
    /// `NoCapacity` with the clash and suggestions; `InvalidInput` for a bad request.
    pub async fn hold(&self, by: Booker, spec: BookingSpec) -> CoreResult<BookingView> {
        team_call!(self, Hold { by, spec })
    }

    /// Confirms a hold.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the hold ran out or the booking is not held.
    pub async fn confirm(&self, by: Booker, id: String) -> CoreResult<BookingView> {
        team_call!(self, Confirm { by, id })
    }

    /// Cancels a held or confirmed booking.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` for a completed or cancelled one.
    pub async fn cancel(&self, by: Booker, id: String) -> CoreResult<BookingView> {
        team_call!(self, Cancel { by, id })
    }

    /// Marks a confirmed booking done (telling the workflow when linked to a work item).
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when not confirmed.
    pub async fn complete(&self, by: Booker, id: String) -> CoreResult<BookingView> {
        team_call!(self, Complete { by, id })
    }

    /// One step of a booking's life: confirm, cancel or complete.
    ///
    /// # Errors
    /// As [`TeamCalendarHandle::confirm`], [`TeamCalendarHandle::cancel`] and
    /// [`TeamCalendarHandle::complete`].
    pub async fn step(&self, by: Booker, id: String, step: BookingStep) -> CoreResult<BookingView> {
        match step {
            BookingStep::Confirm => self.confirm(by, id).await,
            BookingStep::Cancel => self.cancel(by, id).await,
            BookingStep::Complete => self.complete(by, id).await,
        }
    }

    /// Moves and/or resizes a booking: the new interval is taken or nothing changes.
    ///
    /// # Errors
    /// `NoCapacity` with the clash and suggestions; `NotFound`; `Conflict`.
    pub async fn move_to(
        &self,
        by: Booker,
        id: String,
        start: i64,
        end: Option<i64>,
    ) -> CoreResult<BookingView> {
        team_call!(self, Move { by, id, start, end })
    }

    /// Replaces the members assigned to a held or confirmed booking.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when not held or confirmed; `InvalidInput` when more than
    /// `members_required`.
    pub async fn assign(
        &self,
        by: Booker,
        id: String,
        assigned: Vec<UserId>,
    ) -> CoreResult<BookingView> {
        team_call!(self, Assign { by, id, assigned })
    }

    /// One booking, in any state.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn booking(&self, id: String) -> CoreResult<BookingView> {
        team_call!(self, Booking { id })
    }

    /// Bookings overlapping `[from, to)` (at most 62 days), without cancelled ones.
    ///
    /// # Errors
    /// `InvalidInput` for a bad range.
    pub async fn bookings(&self, from: i64, to: i64) -> CoreResult<Vec<BookingView>> {
        team_call!(self, Bookings { from, to })
    }

    /// Withdraws a waitlist entry.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` for someone else's entry (unless admin).
    pub async fn leave_waitlist(&self, by: Booker, id: String) -> CoreResult<()> {
        team_call!(self, LeaveWaitlist { by, id })
    }

    /// Replaces the team's working hours (admins).
    ///
    /// # Errors
    /// `Forbidden`; `InvalidInput` for bad hours.
    pub async fn set_hours(&self, by: Booker, hours: WorkingHours) -> CoreResult<WorkingHours> {
        team_call!(self, SetHours { by, hours })
    }

    /// Free capacity per slot.
    ///
    /// # Errors
    /// `InvalidInput` for a bad range or slot length.
    pub async fn availability(
        &self,
        from: i64,
        to: i64,
        slot_minutes: u32,
    ) -> CoreResult<Vec<SlotAvailability>> {
        team_call!(
            self,
            Availability {
                from,
                to,
                slot_minutes
            }
        )
    }

    /// The next `n` (at most 12) free slots of `len_ms` for `need` members, from `after`
    /// (or now, if later), within the next four weeks; empty when none.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn free_slots(
        &self,
        len_ms: i64,
        need: u32,
        after: i64,
        n: usize,
    ) -> CoreResult<Vec<Interval>> {
        team_call!(
            self,
            FreeSlots {
                len_ms,
                need,
                after,
                n
            }
        )
    }

    /// A new secret `.ics` feed token for the team (the old one stops working), or
    /// `None` after revoking it.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn feed(&self, by: Booker, revoke: bool) -> CoreResult<Option<String>> {
        team_call!(self, Feed { by, revoke })
    }

    /// Utilization per day and ISO week.
    ///
    /// # Errors
    /// `InvalidInput` for a bad range.
    pub async fn workload(&self, from: i64, to: i64) -> CoreResult<Workload> {
        team_call!(self, Workload { from, to })
    }
}

/// How often a node says it is alive and looks for teams whose holds it must wake.
pub const DUTY_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// A node not seen for this long is gone: its share of wake-ups passes to the others.
pub const NODE_GONE_SECS: u64 = 15;

/// Keeps holds running out on time with several nodes, without every node waking every
/// team: every [`DUTY_EVERY`] this node says it is alive and starts the team calendars
/// with holds that rendezvous hashing over the live nodes gives to it (each started
/// calendar arms its own wake-up). A team another node also holds hot may be woken
/// there too; the journal's fence lets only one expiry commit, and the other node
/// reloads and finds nothing left to expire. Runs until the kernel stops.
pub async fn share_wake_ups(kernel: Kernel) {
    let me = kernel.store().node().to_string();
    let version = env!("CARGO_PKG_VERSION");
    let stopped = kernel.stopped();
    let mut tick = tokio::time::interval(DUTY_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.cancelled() => {
                let _ = kernel.store().node_gone(&me).await;
                return;
            }
        }
        if let Err(e) = kernel.store().node_seen(&me, version).await {
            tracing::warn!(error = %e, "could not record this node as alive");
            continue;
        }
        let live: Vec<String> = match kernel.store().live_nodes(NODE_GONE_SECS).await {
            Ok(nodes) => nodes.into_iter().map(|n| n.id).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not list the live nodes");
                continue;
            }
        };
        let teams = match kernel.store().teams_with_holds().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "could not list teams with holds");
                continue;
            }
        };
        for team in teams {
            if owner(&team, &live).is_some_and(|n| *n != me) {
                continue;
            }
            if let Err(e) = kernel
                .team_calendars()
                .actor(&kernel, &TeamId::new(team.clone()))
                .await
            {
                tracing::debug!(%team, error = %e, "team with holds not started");
            }
        }
    }
}

/// The node that wakes `team`'s holds: the highest hash of (team, node) among the live
/// nodes (rendezvous hashing: a node leaving moves only its own teams).
pub fn owner<'a>(team: &str, live: &'a [String]) -> Option<&'a String> {
    use sha2::{Digest, Sha256};
    live.iter().max_by_key(|node| {
        let d = Sha256::digest(format!("{team}/{node}").as_bytes());
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    })
}

/// The Org's side of capacity changes.
pub(crate) async fn reserve_capacity(
    kernel: &Kernel,
    team: &TeamId,
    capacity: u32,
) -> CoreResult<Result<(), Vec<BookingView>>> {
    kernel
        .team_calendars()
        .call(kernel, team, |reply| TeamMsg::ReserveCapacity {
            capacity,
            reply,
        })
        .await
}

/// Tells a live team calendar the capacity the Org committed (or kept).
pub(crate) async fn capacity_committed(kernel: &Kernel, team: &TeamId, capacity: u32) {
    if let Err(e) = kernel
        .team_calendars()
        .send(kernel, team, TeamMsg::CapacityCommitted { capacity })
        .await
    {
        // Not live or gone: it reads the committed figure when it next starts.
        tracing::debug!(%team, error = %e, "capacity notice not delivered");
    }
}

#[cfg(test)]
mod tests;
