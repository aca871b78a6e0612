//! Test scenarios shared by this crate's tests and the web crate's remote-mode tests
//! (feature `test-support`), so one scenario runs on the embedded engine and against a
//! real SurrealDB server. Not part of the server.

use crate::store::Store;
use crate::{Caller, Core, CoreError, NewOrg, Owner, SettingsChange};
use cflows_protocol::{ClockFormat, OrgView, StreamName, UserView};

/// A fresh in-memory store, migrated.
///
/// # Panics
/// The engine cannot start (a test failure).
pub async fn memory_store() -> Store {
    let store = Store::open(&crate::StoreConfig::memory()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// "Demo Motors" (Europe/Berlin, 24-hour clock) and its owner Olive
/// (`owner@example.com`, password `long enough pw`).
///
/// # Panics
/// Creating them fails (a test failure).
pub async fn org_with_owner(core: &Core) -> (OrgView, UserView) {
    org_owned_by(
        core,
        ("owner@example.com", "Olive Owner", "long enough pw"),
        false,
    )
    .await
}

/// "Demo Motors" (Europe/Berlin, 24-hour clock) owned by a new user `(email, name,
/// password)`, who runs the platform too when `operator`.
///
/// # Panics
/// Creating them fails (a test failure).
pub async fn org_owned_by(
    core: &Core,
    (email, name, password): (&str, &str, &str),
    operator: bool,
) -> (OrgView, UserView) {
    let owner = core
        .directory
        .create_user(email, name, password, operator)
        .await
        .unwrap();
    let org = core
        .directory
        .create_org(NewOrg {
            name: "Demo Motors".into(),
            slug: String::new(),
            timezone: "Europe/Berlin".into(),
            clock: ClockFormat::H24,
            owner: Some(Owner::Existing(owner.id.clone())),
        })
        .await
        .unwrap();
    (org, owner)
}

fn rename(name: &str) -> SettingsChange {
    SettingsChange {
        name: name.into(),
        timezone: "Europe/Berlin".into(),
        clock: ClockFormat::H24,
    }
}

/// Two kernels on one store are two nodes holding an actor for the same organization.
/// Exactly one of two racing changes commits; the other answers `Conflict`, reloads,
/// and its next change succeeds; both end with the store's state.
pub async fn two_nodes_race(node_a: Store, node_b: Store) {
    let store = node_a.clone();
    let a = Core::start(node_a).await.unwrap();
    let b = Core::start(node_b).await.unwrap();
    let (org, owner) = org_with_owner(&a).await;
    let (id, by) = (org.id, Caller::User(owner.id));
    let (on_a, on_b) = (
        a.directory.org(&id).await.unwrap(),
        b.directory.org(&id).await.unwrap(),
    );
    // Both hold the organization hot at the same journal position.
    assert_eq!(on_a.head().await.unwrap(), on_b.head().await.unwrap());
    let (ra, rb) = tokio::join!(
        on_a.update_settings(by.clone(), rename("Alpha Motors")),
        on_b.update_settings(by.clone(), rename("Beta Motors")),
    );
    let (winner, loser, loser_handle) = match (&ra, &rb) {
        (Ok(w), Err(e)) => (w.name.clone(), e, &on_b),
        (Err(e), Ok(w)) => (w.name.clone(), e, &on_a),
        other => panic!("exactly one must commit: {other:?}"),
    };
    assert!(matches!(loser, CoreError::Conflict(_)), "{loser:?}");
    let stored = store.org(id.as_str()).await.unwrap().unwrap();
    assert_eq!(stored.name, winner);
    for node in [&on_a, &on_b] {
        assert_eq!(
            node.settings().await.unwrap().name,
            winner,
            "hot state = store"
        );
        assert_eq!(
            node.head().await.unwrap(),
            3,
            "org_created, member_added, one change"
        );
    }
    // The loser reloaded: its next change goes through, on the next position.
    let next = loser_handle
        .update_settings(by.clone(), rename("Gamma Motors"))
        .await
        .unwrap();
    assert_eq!(next.name, "Gamma Motors");
    assert_eq!(loser_handle.head().await.unwrap(), 4);
    let seqs: Vec<u64> = store
        .journal(&StreamName::Org(id.clone()), 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "one writer per position");
    a.shutdown().await;
    b.shutdown().await;
}

/// A team of `size` new members (Member role; they cannot log in) with `bookable`
/// capacity, open around the clock in UTC.
///
/// # Panics
/// Creating them fails (a test failure).
pub async fn team_with_capacity(
    core: &Core,
    org: &cflows_protocol::OrgId,
    by: &Caller,
    name: &str,
    size: usize,
    bookable: u32,
) -> cflows_protocol::TeamView {
    let handle = core.directory.org(org).await.unwrap();
    let mut members = Vec::new();
    for i in 0..size {
        let m = handle
            .create_member(
                by.clone(),
                crate::directory::NewUser {
                    email: format!("{}-{i}@example.com", name.to_lowercase().replace(' ', "-")),
                    display_name: format!("{name} {i}"),
                    password_hash: "not a hash: cannot log in".into(),
                    platform_operator: false,
                },
                cflows_protocol::Role::Member,
            )
            .await
            .unwrap();
        members.push(m.user.id);
    }
    let team = handle
        .create_team(
            by.clone(),
            crate::TeamInput {
                name: name.into(),
                colour: "#336699".into(),
                members,
                bookable_count: bookable,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let calendar = crate::team_calendar::TeamCalendarHandle::new(&core.kernel, org, &team.id);
    calendar
        .set_hours(
            crate::team_calendar::Booker {
                user: cflows_protocol::UserId::new("system"),
                name: "System".into(),
                admin: true,
            },
            around_the_clock("UTC"),
        )
        .await
        .unwrap();
    team
}

/// Working hours open all day, every day, in `zone`.
pub fn around_the_clock(zone: &str) -> cflows_protocol::WorkingHours {
    cflows_protocol::WorkingHours {
        zone: zone.into(),
        weekly: (1..=7)
            .map(|weekday| cflows_protocol::WorkingPeriod {
                weekday,
                start: "00:00".into(),
                end: "24:00".into(),
            })
            .collect(),
        closed: vec![],
        hold_minutes: 60,
    }
}

/// Two kernels on one store hold the same team of capacity 3 (two nodes); 64 requests
/// for one slot race through both. However they interleave, the journal's unique
/// `(stream, seq)` index lets only one of two racing decisions commit: capacity is never
/// exceeded, every acknowledged booking is stored, the losers answer `conflict` or
/// `no_capacity`, and filling up through both nodes stops at exactly the capacity.
///
/// # Panics
/// On any of those failing (a test failure).
pub async fn two_nodes_booking_race(node_a: Store, node_b: Store) {
    use crate::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
    let store = node_a.clone();
    let a = Core::start(node_a).await.unwrap();
    let b = Core::start(node_b).await.unwrap();
    let (org, owner) = org_with_owner(&a).await;
    let by = Caller::User(owner.id.clone());
    let team = team_with_capacity(&a, &org.id, &by, "Workshop", 3, 3).await;
    let now = chrono::Utc::now().timestamp_millis();
    let t0 = now - now.rem_euclid(86_400_000) + 86_400_000 + 12 * 3_600_000;
    let spec = || BookingSpec {
        job_type: "job".into(),
        start: t0,
        end: t0 + 3_600_000,
        members_required: 1,
        title: "Race".into(),
        confirm: true,
        hold_ms: None,
        waitlist: false,
        assigned: vec![],
        work_item: None,
        step: None,
    };
    let booker = || Booker {
        user: owner.id.clone(),
        name: "Olive".into(),
        admin: true,
    };
    let on_a = TeamCalendarHandle::new(&a.kernel, &org.id, &team.id);
    let on_b = TeamCalendarHandle::new(&b.kernel, &org.id, &team.id);
    // Both nodes hold the team hot.
    assert_eq!(on_a.head().await.unwrap(), on_b.head().await.unwrap());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let cal = if i % 2 == 0 {
                on_a.clone()
            } else {
                on_b.clone()
            };
            let (by, spec) = (booker(), spec());
            tokio::spawn(async move { cal.hold(by, spec).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(CoreError::NoCapacity(_) | CoreError::Conflict(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let stored = store.live_bookings(team.id.as_str(), 0).await.unwrap();
    assert!(won <= 3, "won {won}");
    assert_eq!(stored.len(), won, "every acknowledged booking is stored");
    // Fill up what is left through both nodes; never more than capacity.
    for _ in 0..6 {
        let _ = on_a.hold(booker(), spec()).await;
        let _ = on_b.hold(booker(), spec()).await;
    }
    let stored = store.live_bookings(team.id.as_str(), 0).await.unwrap();
    assert_eq!(stored.len(), 3, "filled to capacity, never beyond");
    a.shutdown().await;
    b.shutdown().await;
}
