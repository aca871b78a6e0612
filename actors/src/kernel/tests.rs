//! Kernel tests against the real SurrealDB engine in memory: two nodes racing on one
//! store, idle stop and restart, scope stops, live counts.

use crate::kernel::RegistryStats;
use crate::org::TeamInput;
use crate::store::Store;
use crate::team_calendar::TeamCalendarHandle;
use crate::testing::{memory_store, org_with_owner};
use crate::{Caller, Core, CoreError, KernelConfig};
use cflows_protocol::wire::{ServerMsg, StreamEvent, decode_server};
use cflows_protocol::{OrgEvent, OrgId, StreamName, TeamId, UserId};
use std::time::Duration;

async fn store() -> Store {
    memory_store().await
}

async fn org(core: &Core) -> (OrgId, UserId) {
    let (org, owner) = org_with_owner(core).await;
    (org.id, owner.id)
}

#[tokio::test]
async fn two_registries_on_one_store_race_and_the_loser_recovers() {
    let store = store().await;
    crate::testing::two_nodes_race(store.clone(), store).await;
}

#[tokio::test]
async fn an_idle_actor_stops_and_restarts_transparently() {
    let store = store().await;
    let core = Core::start_with(
        store.clone(),
        KernelConfig {
            idle_after: Duration::from_millis(200),
            ..KernelConfig::default()
        },
    )
    .await
    .unwrap();
    let (id, owner) = org(&core).await;
    let by = Caller::User(owner);
    let stream = StreamName::Org(id.clone());
    let mut live = core.kernel.hub().subscribe(&stream);
    let handle = core.directory.org(&id).await.unwrap();
    handle.create_team(by.clone(), team("Sales")).await.unwrap();
    assert_eq!(live_orgs(&core), 1);

    // Wait for the actor's own exit, not for a clock.
    let actor = core.kernel.orgs().actor(&core.kernel, &id).await.unwrap();
    actor
        .get_cell()
        .wait(Some(Duration::from_secs(10)))
        .await
        .expect("the idle actor stops by itself");
    assert_eq!(live_orgs(&core), 0, "its memory is freed");

    // The same handle keeps working: a fresh actor loads the committed state.
    handle
        .create_team(by.clone(), team("Testers"))
        .await
        .unwrap();
    assert_eq!(live_orgs(&core), 1);
    let again = core.kernel.orgs().actor(&core.kernel, &id).await.unwrap();
    assert_ne!(again.get_id(), actor.get_id());
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(snap.teams.len(), 2);
    // No lost or duplicated sequence numbers, in the journal or live.
    let seqs: Vec<u64> = store
        .journal(&stream, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let mut published = Vec::new();
    for _ in 0..2 {
        let frame = live.recv().await.unwrap();
        let ServerMsg::Event { seq, event, .. } = decode_server(&frame.bytes).unwrap() else {
            panic!("an event frame");
        };
        assert!(matches!(
            event,
            StreamEvent::Org(OrgEvent::TeamCreated { .. })
        ));
        published.push(seq);
    }
    assert_eq!(published, vec![3, 4]);
    core.shutdown().await;
}

#[tokio::test]
async fn stopping_an_organizations_scope_stops_only_its_actors() {
    let core = Core::start(store().await).await.unwrap();
    let (id, owner) = org(&core).await;
    let inbox = core.directory.inbox(&owner).await.unwrap();
    let actor = core.kernel.orgs().actor(&core.kernel, &id).await.unwrap();
    let counts = core.kernel.live_counts();
    assert!(
        counts.contains(&("org", 1)) && counts.contains(&("inbox", 1)),
        "{counts:?}"
    );
    core.kernel.stop_scope(&id);
    actor
        .get_cell()
        .wait(Some(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(live_orgs(&core), 0);
    assert!(inbox.head().await.is_ok(), "an unscoped inbox is untouched");
    assert!(core.kernel.live_counts().contains(&("inbox", 1)));
    core.shutdown().await;
}

/// PROTOCOL §7: another organization's id is indistinguishable from a missing one, in
/// time too. Both take the same path: one read of the entity's organization, and no
/// actor starts — even when the foreign entity is running for its own organization.
#[tokio::test]
async fn another_organizations_id_costs_what_a_missing_one_costs() {
    let store = store().await;
    let core = Core::start(store.clone()).await.unwrap();
    let (ours, _) = org(&core).await;
    let (theirs, their_owner) = other_org(&core).await;
    let their_team = core
        .directory
        .org(&theirs)
        .await
        .unwrap()
        .create_team(Caller::User(their_owner), team("Mechanics"))
        .await
        .unwrap()
        .id;
    // Running for its own organization.
    TeamCalendarHandle::new(&core.kernel, &theirs, &their_team)
        .head()
        .await
        .unwrap();
    let live = core.kernel.live_counts();

    let cost = |team: TeamId| {
        let (core, store, ours) = (core.clone(), store.clone(), ours.clone());
        async move {
            let before = store.queries_run();
            let answer = TeamCalendarHandle::new(&core.kernel, &ours, &team)
                .head()
                .await;
            (
                answer.err().map(|e| e.to_string()),
                store.queries_run() - before,
            )
        }
    };
    let foreign = cost(their_team.clone()).await;
    let missing = cost(TeamId::new(crate::store::new_id())).await;
    assert_eq!(foreign.0, Some(CoreError::NotFound.to_string()));
    assert_eq!(
        foreign, missing,
        "(answer, store queries): foreign vs missing"
    );
    assert_eq!(foreign.1, 1, "one read decides");
    assert_eq!(
        core.kernel.live_counts(),
        live,
        "no actor started for either"
    );
    // The organization's own team still answers, from its running actor.
    TeamCalendarHandle::new(&core.kernel, &theirs, &their_team)
        .head()
        .await
        .unwrap();
    core.shutdown().await;
}

async fn other_org(core: &Core) -> (OrgId, UserId) {
    let owner = core
        .directory
        .create_user("other@example.com", "Otto Other", "long enough pw", false)
        .await
        .unwrap();
    let org = core
        .directory
        .create_org(crate::NewOrg {
            name: "Other Motors".into(),
            slug: String::new(),
            timezone: "Europe/Berlin".into(),
            clock: cflows_protocol::ClockFormat::H24,
            owner: Some(crate::Owner::Existing(owner.id.clone())),
        })
        .await
        .unwrap();
    (org.id, owner.id)
}

fn team(name: &str) -> TeamInput {
    TeamInput {
        name: name.into(),
        ..Default::default()
    }
}

fn live_orgs(core: &Core) -> usize {
    core.kernel
        .live_counts()
        .into_iter()
        .find(|(k, _)| *k == "org")
        .map_or(0, |(_, n)| n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_mid_start_leaves_no_second_actor() {
    let core = Core::start(store().await).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        let o = core
            .directory
            .create_org(crate::NewOrg {
                name: format!("Dealer {i}"),
                slug: String::new(),
                timezone: "UTC".into(),
                clock: cflows_protocol::ClockFormat::H24,
                owner: None,
            })
            .await
            .unwrap();
        ids.push(o.id);
    }
    for id in &ids {
        core.kernel.stop_scope(id);
    }
    let children = || core.kernel.supervisor().get_children().len();
    // Until the stopped actors have exited.
    let mut before = children();
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = children();
        if now == before && core.kernel.orgs().live() == 0 {
            break;
        }
        before = now;
    }
    // Each first call is abandoned while its actor loads (as a dropped HTTP request).
    for id in &ids {
        let (kernel, id) = (core.kernel.clone(), id.clone());
        let first = tokio::spawn(async move { crate::org::OrgHandle::get(&kernel, &id).await });
        tokio::task::yield_now().await;
        first.abort();
    }
    for id in &ids {
        crate::org::OrgHandle::get(&core.kernel, id).await.unwrap();
    }
    assert_eq!(core.kernel.orgs().live(), ids.len());
    assert_eq!(
        children() - before,
        ids.len(),
        "one actor per organization, none left outside the registry"
    );
}

#[tokio::test]
async fn three_nodes_on_one_store_hear_each_other_through_the_feed() {
    let store = store().await;
    crate::testing::feed_reaches_every_node([
        store.clone(),
        store.as_new_node(),
        store.as_new_node(),
    ])
    .await;
}

#[tokio::test]
async fn sixty_four_holds_over_three_nodes_win_exactly_capacity() {
    let store = store().await;
    crate::testing::three_nodes_hold_the_last_places([
        store.clone(),
        store.as_new_node(),
        store.as_new_node(),
    ])
    .await;
}

#[tokio::test]
async fn a_hold_runs_out_once_with_three_nodes() {
    let store = store().await;
    crate::testing::a_hold_expires_once_on_three_nodes([
        store.clone(),
        store.as_new_node(),
        store.as_new_node(),
    ])
    .await;
}

#[tokio::test]
async fn a_streams_last_row_visible_later_than_the_sweep_looks_back_still_arrives() {
    let store = store().await;
    let (a, b) = (store.clone(), store.as_new_node());
    let a = Core::start_with(a, crate::testing::feed_config())
        .await
        .unwrap();
    let b = Core::start_with(b, crate::testing::feed_config())
        .await
        .unwrap();
    let (org, owner) = crate::testing::org_with_owner(&a).await;
    let stream = StreamName::Org(org.id.clone());
    let mut on_b = b.kernel.hub().subscribe(&stream);
    let on_a = a.directory.org(&org.id).await.unwrap();
    let head = on_a.head().await.unwrap();
    on_a.update_settings(
        Caller::User(owner.id.clone()),
        crate::testing::rename("Alpha Motors"),
    )
    .await
    .unwrap();
    // B hears the organization's earlier rows too (its feed starts a window back).
    while crate::testing::frames(&mut on_b, 1).await != vec![head + 1] {}
    // The stream's next row, as a transaction stamped 20 s before it became visible
    // leaves it (a database server stalled under load): past every sweep's look-back,
    // and no later row of the stream reveals the gap.
    let (event, payload) = store
        .journal(&stream, head, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.payload))
        .next()
        .unwrap();
    store
        .tamper_for_tests(&format!(
            "BEGIN; CREATE event CONTENT {{ stream: '{stream}', seq: {seq}, kind: '{event}', payload: {payload:?}, actor: NULL, org: '{org}', node: 'stalled', at: time::now() - 20s }}; UPSERT stream_head:⟨{stream}⟩ SET seq = {seq}; COMMIT;",
            seq = head + 2,
            org = org.id,
        ))
        .await
        .unwrap();
    assert_eq!(
        crate::testing::frames(&mut on_b, 1).await,
        vec![head + 2],
        "the head check finds it"
    );
    assert!(
        b.kernel
            .feed_status()
            .gap_fills
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn one_persons_changes_through_two_nodes_in_turn_are_never_refused_as_races() {
    let store = store().await;
    let (sa, sb) = (store.clone(), store.as_new_node());
    // A feed slower than the requests: each node hears of the other's change late.
    let slow = KernelConfig {
        feed: crate::kernel::FeedConfig {
            enabled: true,
            poll: Duration::from_secs(5),
            sweep: Duration::from_secs(30),
            ..Default::default()
        },
        ..KernelConfig::default()
    };
    let a = Core::start_with(sa, slow.clone()).await.unwrap();
    let b = Core::start_with(sb, slow).await.unwrap();
    let (org, owner) = crate::testing::org_with_owner(&a).await;
    let by = Caller::User(owner.id.clone());
    let on_a = a.directory.org(&org.id).await.unwrap();
    let on_b = b.directory.org(&org.id).await.unwrap();
    // Both copies are hot; each request goes to the other node than the one before, at
    // once (a browser behind a round-robin proxy), faster than the feed tells.
    on_b.settings().await.unwrap();
    for i in 0..10 {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        node.create_team(by.clone(), team(&format!("Team {i}")))
            .await
            .unwrap_or_else(|e| panic!("change {i} refused: {e}"));
    }
    assert_eq!(store.teams_of_org(org.id.as_str()).await.unwrap().len(), 10);
    a.shutdown().await;
    b.shutdown().await;
}
