use super::*;
use crate::testing::{memory_store, org_with_owner, team_with_capacity};
use crate::{Caller, Core, TeamInput};
use cflows_protocol::{NotificationKind, StreamName, TeamView};
use std::time::Duration;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// The start of tomorrow, UTC (a whole hour, always in the future).
fn tomorrow() -> i64 {
    let now = now_ms();
    now - now.rem_euclid(24 * HOUR) + 24 * HOUR
}

fn booker(user: &UserId) -> Booker {
    Booker {
        user: user.clone(),
        name: "Olive Owner".into(),
        admin: true,
    }
}

fn spec(start: i64, len: i64, need: u32) -> BookingSpec {
    BookingSpec {
        job_type: "job".into(),
        start,
        end: start + len,
        members_required: need,
        title: "Test drive".into(),
        confirm: false,
        hold_ms: None,
        waitlist: false,
        assigned: vec![],
        work_item: None,
        step: None,
    }
}

struct World {
    core: Core,
    org: OrgId,
    owner: UserId,
    team: TeamView,
    cal: TeamCalendarHandle,
}

async fn world(capacity: u32) -> World {
    let core = Core::start(memory_store().await).await.unwrap();
    let (org, owner) = org_with_owner(&core).await;
    let by = Caller::User(owner.id.clone());
    let team = team_with_capacity(&core, &org.id, &by, "Workshop", 4, capacity).await;
    let cal = TeamCalendarHandle::new(&core.kernel, &org.id, &team.id);
    World {
        core,
        org: org.id,
        owner: owner.id,
        team,
        cal,
    }
}

fn no_capacity(e: CoreError) -> CapacityRefusal {
    match e {
        CoreError::NoCapacity(r) => *r,
        other => panic!("expected no_capacity, got {other:?}"),
    }
}

#[tokio::test]
async fn hold_refuse_with_suggestions_confirm_move_cancel() {
    let w = world(2).await;
    let by = booker(&w.owner);
    let t0 = tomorrow() + 9 * HOUR;
    let a = w.cal.hold(by.clone(), spec(t0, HOUR, 2)).await.unwrap();
    assert_eq!(a.state, BookingState::Held);
    assert!(a.hold_expires_at.unwrap() > now_ms());

    // Full from 09:00 to 10:00: a request 09:30–10:30 clashes on 09:30–10:00.
    let r = no_capacity(
        w.cal
            .hold(by.clone(), spec(t0 + 30 * MIN, HOUR, 1))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        r.conflict,
        Some(Interval {
            start: t0 + 30 * MIN,
            end: t0 + HOUR
        })
    );
    assert_eq!((r.booked, r.capacity), (2, 2));
    assert_eq!(
        r.suggestions.first(),
        Some(&Interval {
            start: t0 + HOUR,
            end: t0 + 2 * HOUR
        }),
        "the next free slot of the same length"
    );
    assert_eq!(r.suggestions.len(), SUGGESTIONS);

    let b = w
        .cal
        .hold(by.clone(), spec(t0 + HOUR, HOUR, 1))
        .await
        .unwrap();
    let a = w.cal.confirm(by.clone(), a.id).await.unwrap();
    assert_eq!(
        (a.state, a.hold_expires_at),
        (BookingState::Confirmed, None)
    );

    // Moving b onto a's hour is refused and changes nothing.
    let refused = w
        .cal
        .move_to(by.clone(), b.id.clone(), t0, None)
        .await
        .unwrap_err();
    assert!(matches!(refused, CoreError::NoCapacity(_)));
    assert_eq!(w.cal.booking(b.id.clone()).await.unwrap(), b);
    // Resizing b to two hours fits (nothing after it).
    let b2 = w
        .cal
        .move_to(by.clone(), b.id.clone(), t0 + HOUR, Some(t0 + 3 * HOUR))
        .await
        .unwrap();
    assert_eq!((b2.start, b2.end), (t0 + HOUR, t0 + 3 * HOUR));

    let a = w.cal.cancel(by.clone(), a.id).await.unwrap();
    assert_eq!(a.state, BookingState::Cancelled);
    // Now b can move onto 09:00.
    w.cal
        .move_to(by.clone(), b.id.clone(), t0, None)
        .await
        .unwrap();
    assert!(
        matches!(
            w.cal.cancel(by.clone(), a.id.clone()).await,
            Err(CoreError::Conflict(_))
        ),
        "a cancelled booking cannot be cancelled again (it is still found)"
    );

    // The journal tells the whole story, in order.
    let kinds: Vec<String> = w
        .core
        .kernel
        .store()
        .journal(&StreamName::Team(w.team.id.clone()), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "hours_changed",
            "booking_created",
            "booking_created",
            "booking_confirmed",
            "booking_changed",
            "booking_cancelled",
            "booking_changed"
        ]
    );
}

#[tokio::test]
async fn bad_requests_and_other_organizations() {
    let w = world(2).await;
    let by = booker(&w.owner);
    let t0 = tomorrow();
    for (s, e, need, why) in [
        (t0, t0, 1, "end after"),
        (t0 + 1, t0 + HOUR, 1, "whole minutes"),
        (t0, t0 + 25 * HOUR, 1, "24 hours"),
        (t0 - 3 * 24 * HOUR, t0 - 2 * 24 * HOUR, 1, "over"),
        (t0, t0 + HOUR, 0, "at least 1"),
        (t0, t0 + HOUR, 3, "at most 2"),
    ] {
        let mut sp = spec(s, 0, need);
        sp.end = e;
        let err = w.cal.hold(by.clone(), sp).await.unwrap_err();
        assert!(
            matches!(&err, CoreError::InvalidInput(m) if m.contains(why)),
            "{why}: {err:?}"
        );
    }
    // Another organization's handle on this team finds nothing.
    let other = TeamCalendarHandle::new(&w.core.kernel, &OrgId::new("elsewhere"), &w.team.id);
    assert!(matches!(other.snapshot().await, Err(CoreError::NotFound)));
    assert!(matches!(
        other.hold(by.clone(), spec(t0, HOUR, 1)).await,
        Err(CoreError::NotFound)
    ));
    let missing = TeamCalendarHandle::new(&w.core.kernel, &w.org, &TeamId::new("nope"));
    assert!(matches!(missing.head().await, Err(CoreError::NotFound)));
}

#[tokio::test]
async fn holds_run_out_live_and_pass_to_the_waitlist() {
    let w = world(1).await;
    let by = booker(&w.owner);
    let stream = StreamName::Team(w.team.id.clone());
    let mut live = w.core.kernel.hub().subscribe(&stream);
    let t0 = tomorrow() + 8 * HOUR;
    let mut first = spec(t0, HOUR, 1);
    first.hold_ms = Some(1_000);
    let held = w.cal.hold(by.clone(), first).await.unwrap();

    // A waiter for the same slot.
    let waiter = w
        .core
        .directory
        .create_user("wait@example.com", "Walt Waiter", "long enough pw", false)
        .await
        .unwrap();
    let mut wanted = spec(t0, HOUR, 1);
    wanted.waitlist = true;
    let refused = no_capacity(
        w.cal
            .hold(
                Booker {
                    user: waiter.id.clone(),
                    name: "Walt".into(),
                    admin: false,
                },
                wanted,
            )
            .await
            .unwrap_err(),
    );
    let entry = refused.waitlisted.expect("joined the waitlist");
    assert_eq!(
        w.cal.snapshot().await.unwrap().waitlist,
        vec![entry.clone()]
    );

    // Without any request, the hold runs out; the waiter gets the slot and is told.
    let mut kinds = Vec::new();
    while kinds.len() < 5 {
        let frame = tokio::time::timeout(Duration::from_secs(10), live.recv())
            .await
            .expect("the expiry is published")
            .unwrap();
        let msg = cflows_protocol::wire::decode_server(&frame.bytes).unwrap();
        if let cflows_protocol::wire::ServerMsg::Event {
            event: StreamEvent::Team(e),
            ..
        } = msg
        {
            kinds.push(e.kind().to_string());
        }
    }
    assert_eq!(
        kinds,
        vec![
            "booking_created",
            "waitlist_joined",
            "hold_expired",
            "waitlist_left",
            "booking_created"
        ]
    );
    let snap = w.cal.snapshot().await.unwrap();
    assert!(snap.waitlist.is_empty());
    assert_eq!(snap.bookings.len(), 1);
    let promoted = &snap.bookings[0];
    assert_eq!(
        (&promoted.booked_by, promoted.state, promoted.start),
        (&waiter.id, BookingState::Held, t0)
    );
    assert_ne!(promoted.id, held.id);
    // The notification reaches the waiter's inbox.
    let inbox = crate::inbox::InboxHandle::get(&w.core.kernel, &waiter.id)
        .await
        .unwrap();
    let mut found = false;
    for _ in 0..100 {
        let list = inbox.list(None, 10).await.unwrap();
        if let Some(n) = list.first() {
            assert_eq!(n.kind, NotificationKind::BookingHeld);
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the waiter is notified");
    // The expired hold cannot be confirmed: a conflict, not a missing booking.
    assert!(matches!(
        w.cal.confirm(by.clone(), held.id).await,
        Err(CoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn lowering_the_bookable_count_asks_the_team_calendar() {
    let w = world(3).await;
    let by = booker(&w.owner);
    let org = w.core.directory.org(&w.org).await.unwrap();
    let t0 = tomorrow() + 10 * HOUR;
    let mut s = spec(t0, HOUR, 2);
    s.confirm = true;
    let b = w.cal.hold(by.clone(), s).await.unwrap();
    let input = |n: u32| TeamInput {
        name: w.team.name.clone(),
        colour: w.team.colour.clone(),
        members: w.team.members.clone(),
        bookable_count: n,
        ..Default::default()
    };
    let err = org
        .update_team(Caller::User(w.owner.clone()), w.team.id.clone(), input(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Conflict(m) if m.contains(&b.id)),
        "{err:?}"
    );
    assert_eq!(
        org.team(w.team.id.clone())
            .await
            .unwrap()
            .unwrap()
            .bookable_count,
        3
    );
    assert_eq!(
        w.cal.snapshot().await.unwrap().capacity,
        3,
        "nothing changed"
    );

    // Down to 2 fits; the calendar applies it and streams it.
    org.update_team(Caller::User(w.owner.clone()), w.team.id.clone(), input(2))
        .await
        .unwrap();
    assert_eq!(w.cal.snapshot().await.unwrap().capacity, 2);
    assert!(matches!(
        w.cal.hold(by.clone(), spec(t0, HOUR, 1)).await,
        Err(CoreError::NoCapacity(_))
    ));
    // Up again: the new capacity is usable at once.
    org.update_team(Caller::User(w.owner.clone()), w.team.id.clone(), input(3))
        .await
        .unwrap();
    w.cal.hold(by.clone(), spec(t0, HOUR, 1)).await.unwrap();
    // Removing a member would drop the count below what is booked: refused.
    let removed = org
        .remove_member(Caller::User(w.owner.clone()), w.team.members[0].clone())
        .await;
    assert!(removed.is_ok(), "4 members, 3 bookable: one can leave");
    let removed = org
        .remove_member(Caller::User(w.owner.clone()), w.team.members[1].clone())
        .await;
    assert!(
        matches!(removed, Err(CoreError::Conflict(_))),
        "{removed:?}"
    );
}

#[tokio::test]
async fn availability_and_workload() {
    let w = world(2).await;
    let by = booker(&w.owner);
    let day = tomorrow();
    let hours = crate::domain::time::default_hours("UTC");
    // Monday–Friday 08–17 UTC; pick the next weekday.
    let mut d = day;
    while !matches!(
        chrono::DateTime::from_timestamp_millis(d)
            .unwrap()
            .format("%u")
            .to_string()
            .as_str(),
        "1" | "2" | "3" | "4" | "5"
    ) {
        d += 24 * HOUR;
    }
    w.cal.set_hours(by.clone(), hours).await.unwrap();
    let mut s = spec(d + 9 * HOUR, HOUR, 1);
    s.confirm = true;
    w.cal.hold(by.clone(), s).await.unwrap();
    w.cal
        .hold(by.clone(), spec(d + 9 * HOUR + 30 * MIN, HOUR, 1))
        .await
        .unwrap();
    // Outside working hours: refused without a conflict, with suggestions inside them.
    let r = no_capacity(
        w.cal
            .hold(by.clone(), spec(d + 6 * HOUR, HOUR, 1))
            .await
            .unwrap_err(),
    );
    assert_eq!(r.conflict, None);
    assert_eq!(r.suggestions[0].start, d + 8 * HOUR);

    let slots = w
        .cal
        .availability(d + 8 * HOUR, d + 11 * HOUR, 30)
        .await
        .unwrap();
    let free: Vec<(u32, u32, u32)> = slots
        .iter()
        .map(|s| (s.held, s.confirmed, s.free))
        .collect();
    assert_eq!(
        free,
        vec![
            (0, 0, 2),
            (0, 0, 2),
            (0, 1, 1),
            (1, 1, 0),
            (1, 0, 1),
            (0, 0, 2)
        ]
    );
    let closed = w.cal.availability(d, d + HOUR, 60).await.unwrap();
    assert_eq!(closed[0].capacity, 0);

    let load = w.cal.workload(d, d + 24 * HOUR).await.unwrap();
    assert_eq!(load.days.len(), 1);
    let today = &load.days[0];
    assert_eq!(
        (
            today.capacity_minutes,
            today.held_minutes,
            today.confirmed_minutes
        ),
        (2 * 9 * 60, 60, 60)
    );
    assert!((today.utilization - 120.0 / 1080.0).abs() < 1e-9);
    assert_eq!(load.weeks.len(), 1);
    assert!(w.cal.availability(d, d + 90 * 24 * HOUR, 60).await.is_err());
}

/// Bookings follow local working hours across both DST transitions: a 08:00 booking is
/// 08:00 local the day before and after each change, and a request at a local time the
/// rule moves is treated as the resolved instant.
#[tokio::test]
async fn bookings_keep_local_time_across_dst() {
    use chrono::{NaiveDate, TimeZone};
    let w = world(1).await;
    let by = booker(&w.owner);
    for (zone, days) in [
        (
            "Europe/Stockholm",
            ["2027-03-27", "2027-03-28", "2027-10-30", "2027-10-31"],
        ),
        (
            "America/New_York",
            ["2027-03-13", "2027-03-14", "2027-11-06", "2027-11-07"],
        ),
        (
            "America/Santiago",
            ["2027-04-03", "2027-04-04", "2027-09-04", "2027-09-05"],
        ),
    ] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let mut hours = crate::domain::time::default_hours(zone);
        hours.weekly = (1..=7)
            .map(|weekday| cflows_protocol::WorkingPeriod {
                weekday,
                start: "08:00".into(),
                end: "12:00".into(),
            })
            .collect();
        w.cal.set_hours(by.clone(), hours).await.unwrap();
        for day in days {
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
            let open = tz
                .from_local_datetime(&date.and_hms_opt(8, 0, 0).unwrap())
                .single()
                .unwrap()
                .timestamp_millis();
            // The first and last hour of the day's hours fit; an hour earlier does not.
            let mut s = spec(open, 4 * HOUR, 1);
            s.confirm = true;
            let b = w
                .cal
                .hold(by.clone(), s)
                .await
                .unwrap_or_else(|e| panic!("{zone} {day}: {e}"));
            let r = no_capacity(
                w.cal
                    .hold(by.clone(), spec(open - HOUR, HOUR, 1))
                    .await
                    .unwrap_err(),
            );
            assert_eq!(r.conflict, None, "{zone} {day}: 07:00 is closed");
            let next = r.suggestions[0].start;
            let local = chrono::DateTime::from_timestamp_millis(next)
                .unwrap()
                .with_timezone(&tz);
            assert_eq!(
                local.format("%H:%M").to_string(),
                "08:00",
                "{zone} {day}: next opening is 08:00 local"
            );
            w.cal.cancel(by.clone(), b.id).await.unwrap();
        }
    }
}

#[tokio::test]
async fn sixty_four_racers_for_the_last_slots() {
    let w = world(3).await;
    let t0 = tomorrow() + 12 * HOUR;
    let by = booker(&w.owner);
    // One member already booked: two places left.
    w.cal.hold(by.clone(), spec(t0, HOUR, 1)).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let cal = w.cal.clone();
            let by = by.clone();
            tokio::spawn(async move { cal.hold(by, spec(t0, HOUR, 1)).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(CoreError::NoCapacity(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(won, 2);
    let stored = w
        .core
        .kernel
        .store()
        .live_bookings(w.team.id.as_str(), 0)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
}

/// Two kernels on one store hold the same team (two nodes): see
/// [`crate::testing::two_nodes_booking_race`] (also run against a SurrealDB server).
#[tokio::test]
async fn two_nodes_never_overbook() {
    let store = memory_store().await;
    crate::testing::two_nodes_booking_race(store.clone(), store).await;
}

mod model {
    //! The property test: random operations against the real actor and store, and
    //! against a reference model that checks capacity minute by minute.
    use super::*;
    use proptest::prelude::*;

    const SLOT: i64 = 15 * MIN;
    const SLOTS: usize = 32;

    #[derive(Clone, Debug)]
    enum Op {
        Hold {
            slot: usize,
            len: usize,
            need: u32,
            confirm: bool,
        },
        Confirm(usize),
        Cancel(usize),
        Complete(usize),
        Move {
            which: usize,
            slot: usize,
            len: usize,
        },
        Capacity(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..SLOTS - 1, 1..6usize, 1..4u32, any::<bool>())
                .prop_map(|(slot, len, need, confirm)| Op::Hold { slot, len, need, confirm }),
            1 => (0..64usize).prop_map(Op::Confirm),
            1 => (0..64usize).prop_map(Op::Cancel),
            1 => (0..64usize).prop_map(Op::Complete),
            2 => (0..64usize, 0..SLOTS - 1, 1..6usize).prop_map(|(which, slot, len)| Op::Move { which, slot, len }),
            1 => (1..5u32).prop_map(Op::Capacity),
        ]
    }

    #[derive(Clone, Debug, PartialEq)]
    struct B {
        start: usize,
        end: usize,
        need: u32,
        state: BookingState,
    }

    /// The reference: bookings in 15-minute slots, capacity checked slot by slot.
    struct Model {
        capacity: u32,
        bookings: Vec<B>,
    }

    impl Model {
        fn used(&self, slot: usize, skip: Option<usize>) -> u32 {
            self.bookings
                .iter()
                .enumerate()
                .filter(|(i, b)| {
                    Some(*i) != skip
                        && b.state != BookingState::Cancelled
                        && b.start <= slot
                        && slot < b.end
                })
                .map(|(_, b)| b.need)
                .sum()
        }
        fn fits(&self, start: usize, end: usize, need: u32, skip: Option<usize>) -> bool {
            need <= self.capacity
                && end <= SLOTS
                && (start..end).all(|s| self.used(s, skip) + need <= self.capacity)
        }
        fn peak(&self) -> u32 {
            (0..SLOTS).map(|s| self.used(s, None)).max().unwrap_or(0)
        }
    }

    async fn run(ops: Vec<Op>) {
        let w = world(3).await;
        let by = booker(&w.owner);
        let org = w.core.directory.org(&w.org).await.unwrap();
        let t0 = tomorrow() + 24 * HOUR;
        let at = |slot: usize| t0 + slot as i64 * SLOT;
        let mut model = Model {
            capacity: 3,
            bookings: vec![],
        };
        let mut ids: Vec<String> = Vec::new();
        for op in ops {
            match op {
                Op::Hold {
                    slot,
                    len,
                    need,
                    confirm,
                } => {
                    let end = (slot + len).min(SLOTS);
                    let mut s = spec(at(slot), at(end) - at(slot), need);
                    s.confirm = confirm;
                    s.hold_ms = Some(3_600_000);
                    let got = w.cal.hold(by.clone(), s).await;
                    let expect = model.fits(slot, end, need, None);
                    match got {
                        Ok(b) => {
                            assert!(expect, "accepted {op:?} the model refuses");
                            ids.push(b.id);
                            model.bookings.push(B {
                                start: slot,
                                end,
                                need,
                                state: if confirm {
                                    BookingState::Confirmed
                                } else {
                                    BookingState::Held
                                },
                            });
                        }
                        Err(CoreError::NoCapacity(_)) => {
                            assert!(!expect, "refused {op:?} the model accepts")
                        }
                        Err(CoreError::InvalidInput(_)) => assert!(need > model.capacity, "{op:?}"),
                        Err(e) => panic!("{e:?}"),
                    }
                }
                Op::Confirm(i) | Op::Cancel(i) | Op::Complete(i) if !ids.is_empty() => {
                    let i = i % ids.len();
                    let b = &mut model.bookings[i];
                    let id = ids[i].clone();
                    let (got, allowed, next) = match op {
                        Op::Confirm(_) => (
                            w.cal.confirm(by.clone(), id).await,
                            // Confirming twice is a conflict (PROTOCOL §3).
                            b.state == BookingState::Held,
                            BookingState::Confirmed,
                        ),
                        Op::Cancel(_) => (
                            w.cal.cancel(by.clone(), id).await,
                            matches!(b.state, BookingState::Held | BookingState::Confirmed),
                            BookingState::Cancelled,
                        ),
                        _ => (
                            w.cal.complete(by.clone(), id).await,
                            matches!(b.state, BookingState::Confirmed | BookingState::Completed),
                            BookingState::Completed,
                        ),
                    };
                    assert_eq!(got.is_ok(), allowed, "{op:?} on {b:?}: {got:?}");
                    if allowed {
                        b.state = next;
                    }
                }
                Op::Move { which, slot, len } if !ids.is_empty() => {
                    let i = which % ids.len();
                    let end = (slot + len).min(SLOTS);
                    let got = w
                        .cal
                        .move_to(by.clone(), ids[i].clone(), at(slot), Some(at(end)))
                        .await;
                    let b = &model.bookings[i];
                    let movable = matches!(b.state, BookingState::Held | BookingState::Confirmed);
                    let expect = movable && model.fits(slot, end, b.need, Some(i));
                    assert_eq!(got.is_ok(), expect, "{op:?} on {b:?}: {got:?}");
                    if expect {
                        let b = &mut model.bookings[i];
                        b.start = slot;
                        b.end = end;
                    }
                }
                Op::Capacity(n) => {
                    let got = org
                        .update_team(
                            Caller::User(w.owner.clone()),
                            w.team.id.clone(),
                            TeamInput {
                                name: w.team.name.clone(),
                                colour: w.team.colour.clone(),
                                members: w.team.members.clone(),
                                bookable_count: n,
                                ..Default::default()
                            },
                        )
                        .await;
                    let expect = n >= model.capacity || model.peak() <= n;
                    assert_eq!(
                        got.is_ok(),
                        expect,
                        "{op:?} with peak {}: {got:?}",
                        model.peak()
                    );
                    if expect {
                        model.capacity = n;
                    }
                }
                _ => {}
            }
            assert!(model.peak() <= model.capacity);
        }
        // Final state: the actor's snapshot and the store agree with the model.
        let want: Vec<(i64, i64, u32, BookingState)> = {
            let mut v: Vec<_> = model
                .bookings
                .iter()
                .filter(|b| b.state != BookingState::Cancelled)
                .map(|b| (at(b.start), at(b.end), b.need, b.state))
                .collect();
            v.sort_by_key(|x| (x.0, x.1, x.2, x.3.as_str()));
            v
        };
        let shape = |bs: Vec<BookingView>| {
            let mut v: Vec<_> = bs
                .into_iter()
                .map(|b| (b.start, b.end, b.members_required, b.state))
                .collect();
            v.sort_by_key(|x| (x.0, x.1, x.2, x.3.as_str()));
            v
        };
        let snap = w.cal.snapshot().await.unwrap();
        assert_eq!(snap.capacity, model.capacity);
        assert_eq!(shape(snap.bookings), want, "hot state");
        let stored = w
            .core
            .kernel
            .store()
            .live_bookings(w.team.id.as_str(), 0)
            .await
            .unwrap();
        assert_eq!(
            shape(stored.into_iter().map(BookingView::from).collect()),
            want,
            "store"
        );
        // And a fresh actor loaded from the store decides the same way.
        w.core.kernel.stop_scope(&w.org);
        let reloaded = TeamCalendarHandle::new(&w.core.kernel, &w.org, &w.team.id);
        let mut snap = None;
        for _ in 0..100 {
            match reloaded.snapshot().await {
                Ok(s) => {
                    snap = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let snap = snap.expect("restarts from the store");
        assert_eq!(shape(snap.bookings), want, "reloaded");
        assert_eq!(snap.capacity, model.capacity);
        w.core.shutdown().await;
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn decisions_match_the_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(run(ops));
        }
    }
}

#[tokio::test]
async fn working_hours_survive_a_restart() {
    let w = world(1).await;
    let by = booker(&w.owner);
    let mut hours = crate::domain::time::default_hours("America/Santiago");
    hours.closed.push(cflows_protocol::ClosedDay {
        date: "2027-01-01".into(),
        reason: "New Year".into(),
    });
    let saved = w.cal.set_hours(by, hours).await.unwrap();
    let stored = w
        .core
        .kernel
        .store()
        .team_hours(w.team.id.as_str())
        .await
        .unwrap();
    assert_eq!(stored, Some(saved.clone()));
    // A new process on the same store: the team calendar loads them back.
    w.core.shutdown().await;
    let core = Core::start(w.core.kernel.store().clone()).await.unwrap();
    let reloaded = TeamCalendarHandle::new(&core.kernel, &w.org, &w.team.id)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(reloaded.hours, saved);
    core.shutdown().await;
}

/// A hold that ran out while the server was down is released right after start, without
/// anyone booking that team (and its waiter gets the slot).
#[tokio::test]
async fn holds_expire_after_a_restart_without_new_requests() {
    let store = memory_store().await;
    let core = Core::start(store.clone()).await.unwrap();
    let (org, owner) = org_with_owner(&core).await;
    let by = Caller::User(owner.id.clone());
    let team = team_with_capacity(&core, &org.id, &by, "Workshop", 2, 1).await;
    let cal = TeamCalendarHandle::new(&core.kernel, &org.id, &team.id);
    let mut s = spec(tomorrow() + 9 * HOUR, HOUR, 1);
    s.hold_ms = Some(1_000);
    let held = cal.hold(booker(&owner.id), s).await.unwrap();
    core.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // A new process on the same store.
    let core = Core::start(store.clone()).await.unwrap();
    let mut state = BookingState::Held;
    for _ in 0..200 {
        state = store
            .booking(team.id.as_str(), &held.id)
            .await
            .unwrap()
            .unwrap()
            .state;
        if state == BookingState::Expired {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, BookingState::Expired, "released on start");
    core.shutdown().await;
}

/// A waiter's hold that runs out passes the slot on to the next waiter, in order.
#[tokio::test]
async fn an_expired_waiter_hold_passes_to_the_next_waiter() {
    let w = world(1).await;
    let t0 = tomorrow() + 8 * HOUR;
    let mut first = spec(t0, HOUR, 1);
    first.hold_ms = Some(1_000);
    w.cal.hold(booker(&w.owner), first).await.unwrap();
    let mut waiters = Vec::new();
    for (name, hold_ms) in [("w1@example.com", 1_000), ("w2@example.com", 600_000)] {
        let u = w
            .core
            .directory
            .create_user(name, name, "long enough pw", false)
            .await
            .unwrap();
        let mut wanted = spec(t0, HOUR, 1);
        wanted.waitlist = true;
        wanted.hold_ms = Some(hold_ms);
        let by = Booker {
            user: u.id.clone(),
            name: name.into(),
            admin: false,
        };
        let refused = no_capacity(w.cal.hold(by, wanted).await.unwrap_err());
        assert!(refused.waitlisted.is_some());
        waiters.push(u.id);
    }
    // The first hold runs out → the first waiter holds for 1 s → it runs out → the
    // second waiter holds.
    let mut holder = None;
    for _ in 0..200 {
        let snap = w.cal.snapshot().await.unwrap();
        if snap.waitlist.is_empty()
            && let [b] = snap.bookings.as_slice()
            && b.booked_by == waiters[1]
        {
            holder = Some(b.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let holder = holder.expect("the second waiter gets the slot");
    assert_eq!((holder.state, holder.start), (BookingState::Held, t0));
    let journal: Vec<String> = w
        .core
        .kernel
        .store()
        .journal(&StreamName::Team(w.team.id.clone()), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        journal.iter().filter(|k| *k == "hold_expired").count(),
        2,
        "the first booking's hold and the first waiter's: {journal:?}"
    );
}
