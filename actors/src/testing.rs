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

pub(crate) fn rename(name: &str) -> SettingsChange {
    SettingsChange {
        name: name.into(),
        timezone: "Europe/Berlin".into(),
        clock: ClockFormat::H24,
    }
}

/// Two kernels on one store are two nodes holding an actor for the same organization
/// (here without the journal feed, so neither hears of the other's commit). Of two
/// racing changes one commits first; the other loses the journal's fence, reloads and
/// is decided once more on the stored state, so it commits next instead of answering
/// `conflict`. A node that missed a change reloads the same way at its next decision:
/// one writer per position, every change kept.
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
    let (ra, rb) = (ra.expect("decided"), rb.expect("decided"));
    let stored = store.org(id.as_str()).await.unwrap().unwrap();
    assert!(
        [ra.name.as_str(), rb.name.as_str()].contains(&stored.name.as_str()),
        "{stored:?}"
    );
    let seqs = |store: Store, id: cflows_protocol::OrgId| async move {
        store
            .journal(&StreamName::Org(id), 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<u64>>()
    };
    assert_eq!(
        seqs(store.clone(), id.clone()).await,
        vec![1, 2, 3, 4],
        "org_created, member_added, both changes: one writer per position"
    );
    // Each node's next change is decided on the stored state, whichever missed what.
    for (node, name) in [(&on_a, "Gamma Motors"), (&on_b, "Delta Motors")] {
        let next = node
            .update_settings(by.clone(), rename(name))
            .await
            .unwrap();
        assert_eq!(next.name, name);
        assert_eq!(
            node.settings().await.unwrap().name,
            name,
            "hot state = store"
        );
    }
    assert_eq!(
        seqs(store.clone(), id.clone()).await,
        vec![1, 2, 3, 4, 5, 6]
    );
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

/// A kernel configuration for a node that follows the journal feed (quick polls).
pub fn feed_config() -> crate::KernelConfig {
    crate::KernelConfig {
        feed: crate::kernel::FeedConfig {
            enabled: true,
            poll: std::time::Duration::from_millis(5),
            ..Default::default()
        },
        ..crate::KernelConfig::default()
    }
}

/// Waits (up to 10 s) for `n` frames from a hub receiver, and returns their positions.
///
/// # Panics
/// They do not arrive in time (a test failure).
pub async fn frames(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<std::sync::Arc<crate::streams::Frame>>,
    n: usize,
) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events arrived: {seqs:?}", seqs.len()))
            .expect("the hub keeps the channel");
        seqs.push(frame.seq);
    }
    seqs
}

/// Three nodes on one database, each following the journal feed: a subscriber on node C
/// receives, in order and without gaps, what nodes A and B commit; node B's hot copy of
/// the organization reloads when node A changes it, so B's next decision is made on
/// A's change (no conflict), and B answers with A's state at once.
///
/// # Panics
/// Any of that does not hold (a test failure).
pub async fn feed_reaches_every_node(stores: [Store; 3]) {
    let [sa, sb, sc] = stores;
    let a = Core::start_with(sa, feed_config()).await.unwrap();
    let b = Core::start_with(sb, feed_config()).await.unwrap();
    let c = Core::start_with(sc, feed_config()).await.unwrap();
    let (org, owner) = org_with_owner(&a).await;
    let (id, by) = (org.id, Caller::User(owner.id));
    let on_b = b.directory.org(&id).await.unwrap();
    let head = on_b.head().await.unwrap();
    let stream = StreamName::Org(id.clone());
    let mut on_c = c.kernel.hub().subscribe(&stream);

    let on_a = a.directory.org(&id).await.unwrap();
    on_a.update_settings(by.clone(), rename("Alpha Motors"))
        .await
        .unwrap();
    // B has not been told yet or has reloaded: either way its decision is made on A's
    // change once it knows it, and never answers `conflict` for a change it could see.
    let mut seen = false;
    for _ in 0..200 {
        if on_b.settings().await.unwrap().name == "Alpha Motors" {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(seen, "node B's hot organization follows node A's change");
    on_b.update_settings(by.clone(), rename("Beta Motors"))
        .await
        .expect("B decides on the reloaded state");
    on_a.update_settings(by.clone(), rename("Gamma Motors"))
        .await
        .expect("A reloaded B's change before deciding");
    let seqs = frames(&mut on_c, 3).await;
    assert_eq!(
        seqs,
        vec![head + 1, head + 2, head + 3],
        "in order, gap-free, once"
    );
    let status = c.kernel.feed_status();
    assert!(status.ready());
    assert!(status.foreign.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    for core in [a, b, c] {
        core.shutdown().await;
    }
}

/// One booking for tomorrow at noon (UTC), one person, confirmed or held for `hold_ms`.
fn noon_tomorrow(confirm: bool, hold_ms: Option<i64>) -> crate::team_calendar::BookingSpec {
    let now = chrono::Utc::now().timestamp_millis();
    let t0 = now - now.rem_euclid(86_400_000) + 86_400_000 + 12 * 3_600_000;
    crate::team_calendar::BookingSpec {
        job_type: "job".into(),
        start: t0,
        end: t0 + 3_600_000,
        members_required: 1,
        title: "Race".into(),
        confirm,
        hold_ms,
        waitlist: false,
        assigned: vec![],
        work_item: None,
        step: None,
    }
}

/// Three nodes following the feed, 64 holds at once for a team with three places, spread
/// over the nodes: exactly three win, and every other one is told there is no capacity
/// (a decision that lost the journal's fence is decided again on the stored state, so
/// nobody hears a bare `conflict` for a place that was not there).
///
/// # Panics
/// Any of that does not hold (a test failure).
pub async fn three_nodes_hold_the_last_places(stores: [Store; 3]) {
    use crate::team_calendar::{Booker, TeamCalendarHandle};
    let store = stores[0].clone();
    let mut cores = Vec::new();
    for s in stores {
        cores.push(Core::start_with(s, feed_config()).await.unwrap());
    }
    let (org, owner) = org_with_owner(&cores[0]).await;
    let by = Caller::User(owner.id.clone());
    let team = team_with_capacity(&cores[0], &org.id, &by, "Workshop", 3, 3).await;
    let booker = || Booker {
        user: owner.id.clone(),
        name: "Olive".into(),
        admin: true,
    };
    let nodes: Vec<TeamCalendarHandle> = cores
        .iter()
        .map(|c| TeamCalendarHandle::new(&c.kernel, &org.id, &team.id))
        .collect();
    for n in &nodes {
        n.head().await.unwrap();
    }
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let cal = nodes[i % 3].clone();
            let by = booker();
            tokio::spawn(async move { cal.hold(by, noon_tomorrow(false, None)).await })
        })
        .collect();
    let (mut won, mut full, mut conflicts) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(CoreError::NoCapacity(_)) => full += 1,
            Err(CoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    let stored = store.live_bookings(team.id.as_str(), 0).await.unwrap();
    assert_eq!(
        won, 3,
        "exactly capacity many win (full {full}, conflict {conflicts})"
    );
    assert_eq!(
        stored.len(),
        3,
        "every acknowledged hold is stored, no more"
    );
    assert_eq!(conflicts, 0, "the losers were told the truth: no capacity");
    for c in cores {
        c.shutdown().await;
    }
}

/// Three nodes hold the same team hot; one hold runs out: it expires once (one
/// `hold_expired` row in the journal), whichever node's timer fired first.
///
/// # Panics
/// Any of that does not hold (a test failure).
pub async fn a_hold_expires_once_on_three_nodes(stores: [Store; 3]) {
    use crate::team_calendar::{Booker, TeamCalendarHandle};
    let store = stores[0].clone();
    let mut cores = Vec::new();
    for s in stores {
        cores.push(Core::start_with(s, feed_config()).await.unwrap());
    }
    let (org, owner) = org_with_owner(&cores[0]).await;
    let by = Caller::User(owner.id.clone());
    let team = team_with_capacity(&cores[0], &org.id, &by, "Workshop", 3, 3).await;
    let nodes: Vec<TeamCalendarHandle> = cores
        .iter()
        .map(|c| TeamCalendarHandle::new(&c.kernel, &org.id, &team.id))
        .collect();
    for n in &nodes {
        n.head().await.unwrap();
    }
    let booker = Booker {
        user: owner.id.clone(),
        name: "Olive".into(),
        admin: true,
    };
    let hold = nodes[1]
        .hold(booker, noon_tomorrow(false, Some(1_000)))
        .await
        .unwrap();
    let stream = StreamName::Team(team.id.clone());
    let mut expired = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        expired = store
            .journal(&stream, 0, 1000)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.kind == "hold_expired")
            .count();
        if expired > 0 {
            break;
        }
    }
    assert_eq!(expired, 1, "the hold ran out");
    // Every node's timer has fired by now; still one expiry.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let rows = store.journal(&stream, 0, 1000).await.unwrap();
    assert_eq!(
        rows.iter().filter(|r| r.kind == "hold_expired").count(),
        1,
        "one expiry, once"
    );
    for n in &nodes {
        let b = n.booking(hold.id.clone()).await.unwrap();
        assert_eq!(
            b.state,
            cflows_protocol::BookingState::Expired,
            "every node agrees"
        );
    }
    for c in cores {
        c.shutdown().await;
    }
}
