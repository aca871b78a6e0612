//! Several nodes on one real SurrealDB server, each following the journal feed
//! (`cluster.feed = auto` is on for `ws://`): what one node commits reaches the others'
//! subscribers, hot actors and sockets. Runs when `CFLOWS_TEST_SURREAL_BIN` names a
//! `surreal` binary (always in CI).

use crate::helpers::*;
use crate::remote::{remote_config, start_surreal};
use cflows_actors::{Store, StoreConfig};
use cflows_protocol::wire::{ClientMsg, ServerMsg, close};
use cflows_protocol::{ErrorCode, Role, StreamName};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn database(port: u16, name: &str) -> StoreConfig {
    let mut config = remote_config(port);
    config.database = name.into();
    config
}

async fn stores(config: &StoreConfig) -> [Store; 3] {
    let a = Store::open(config).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(config).await.unwrap();
    let c = Store::open(config).await.unwrap();
    [a, b, c]
}

#[tokio::test]
async fn a_subscriber_on_node_c_hears_what_nodes_a_and_b_commit() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "feed");
    cflows_actors::testing::feed_reaches_every_node(stores(&config).await).await;
}

#[tokio::test]
async fn sixty_four_holds_over_three_nodes_on_a_server_win_exactly_capacity() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "holds");
    cflows_actors::testing::three_nodes_hold_the_last_places(stores(&config).await).await;
}

#[tokio::test]
async fn a_hold_runs_out_once_with_three_nodes_on_a_server() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "expiry");
    cflows_actors::testing::a_hold_expires_once_on_three_nodes(stores(&config).await).await;
}

/// A member deactivated through node A: their socket on node B closes with 4001 within a
/// second, and node B refuses them on the API, on pages and on a new subscription.
#[tokio::test]
async fn a_member_deactivated_on_node_a_is_refused_on_node_b_at_once() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "revoke");
    let a = spawn_app_on(config.clone()).await;
    let b = spawn_app_on(config).await;
    let org = a.org("Cluster Motors", "owner@example.com").await;
    let mia = a
        .member(&org, "mia@example.com", "Mia Mechanic", Role::Member)
        .await;
    let session = b.ws_session("mia@example.com").await;
    let mut socket = b.ws("mia@example.com").await;
    let (mia_http, _) = b.login("mia@example.com").await;
    let org_path = "/api/v1/org";
    assert_eq!(
        mia_http.get(b.url(org_path)).send().await.unwrap().status(),
        StatusCode::OK,
        "node B serves her before"
    );

    let (owner, csrf) = a.login("owner@example.com").await;
    let r = owner
        .patch(a.url(&format!("/api/v1/members/{}", mia.id)))
        .header("x-csrf-token", &csrf)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let changed = Instant::now();
    let code = socket
        .closed_within(Duration::from_secs(1))
        .await
        .expect("her socket on node B closes within a second");
    assert_eq!(code, close::UNAUTHENTICATED);
    assert!(changed.elapsed() < Duration::from_secs(1));

    let api = mia_http.get(b.url(org_path)).send().await.unwrap().status();
    assert!(api.is_client_error(), "API on node B: {api}");
    let page = mia_http.get(b.url("/calendar")).send().await.unwrap();
    assert_ne!(page.status(), StatusCode::OK, "pages on node B");
    let (mut late, _) = cflows_load::client::Client::connect(
        &b.addr,
        &session,
        Some(&format!("http://{}", b.addr)),
        vec![],
    )
    .await
    .unwrap();
    late.send(&ClientMsg::Subscribe {
        stream: StreamName::Org(org.org.id.clone()),
        after: None,
    })
    .await
    .unwrap();
    match late.recv_within(WAIT).await.unwrap() {
        ServerMsg::Error { error, .. } => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("node B let her subscribe: {other:?}"),
    }
}

/// A screen shows the code node A gave it; an admin pairs it through node B; the screen's
/// poll (through node A) gets its link, and the kiosk's socket opens on node B.
#[tokio::test]
async fn a_kiosk_paired_through_one_node_shows_its_screen_through_another() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "pairing");
    let a = spawn_app_on(config.clone()).await;
    let b = spawn_app_on(config).await;
    let org = a.org("Cluster Motors", "owner@example.com").await;
    let screen = reqwest::Client::new();
    let started: Value = screen
        .post(a.url("/api/v1/kiosk-pairings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (code, secret) = (
        started["code"].as_str().unwrap().to_string(),
        started["secret"].as_str().unwrap().to_string(),
    );
    let (admin, csrf) = b.login("owner@example.com").await;
    let team = admin
        .post(b.url("/api/v1/teams"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Workshop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(team.status(), StatusCode::CREATED);
    let team: Value = team.json().await.unwrap();
    let paired = admin
        .post(b.url("/api/v1/kiosks/pair"))
        .header("x-csrf-token", &csrf)
        .json(
            &json!({"code": code.to_lowercase(), "name": "Workshop wall",
                      "scope": {"teams": [team["id"]]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        paired.status(),
        StatusCode::CREATED,
        "node B knows node A's code"
    );
    let again = admin
        .post(b.url("/api/v1/kiosks/pair"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": code, "name": "Second", "scope": {"teams": [team["id"]]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code pairs once"
    );
    let poll = screen
        .get(a.url(&format!("/api/v1/kiosk-pairings/{secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        poll.status(),
        StatusCode::OK,
        "node A's screen gets its link"
    );
    let link: Value = poll.json().await.unwrap();
    let token = link["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/kiosk/k/")
        .to_string();
    let (mut kiosk, _) = cflows_load::client::Client::connect_kiosk(&b.addr, &token)
        .await
        .expect("the kiosk connects through node B");
    kiosk
        .send(&ClientMsg::Subscribe {
            stream: StreamName::Team(cflows_protocol::TeamId::new(team["id"].as_str().unwrap())),
            after: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        kiosk.recv_within(WAIT).await.unwrap(),
        ServerMsg::Snapshot { .. }
    ));
    let _ = org;
}

/// What a socket has of each stream: the last `seq`. Every event must be the next one.
type Positions = std::collections::HashMap<StreamName, u64>;

/// Reads `ws` until it holds every stream of `positions` at the store's head (read
/// through `store`), checking that each event is the next of its stream; returns how
/// many events came.
async fn follow_to_heads(
    ws: &mut cflows_load::client::Client,
    positions: &mut Positions,
    store: &Store,
) -> usize {
    let mut events = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut behind = Vec::new();
        for (stream, at) in positions.iter() {
            let head = store.last_seq(stream).await.unwrap();
            if *at < head {
                behind.push((stream.to_string(), *at, head));
            }
        }
        if behind.is_empty() {
            return events;
        }
        assert!(Instant::now() < deadline, "still behind: {behind:?}");
        let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), ws.recv_msg()).await else {
            continue;
        };
        match msg.unwrap() {
            ServerMsg::Event { stream, seq, .. } => {
                let at = positions.get_mut(&stream).expect("a subscribed stream");
                assert_eq!(seq, *at + 1, "{stream}: in order, no gap, no duplicate");
                *at = seq;
                events += 1;
            }
            ServerMsg::Subscribed { stream, seq } => {
                assert_eq!(positions[&stream], seq, "{stream}: caught up where it said");
            }
            ServerMsg::Snapshot { stream, seq, .. } => {
                positions.insert(stream, seq);
            }
            _ => {}
        }
    }
}

/// The dealership's day spread over three nodes: bookings, board moves, task changes and
/// messages committed through nodes A and B reach a subscriber on node C in order and
/// gap-free; the subscriber then drops and resumes on node A, missing nothing that was
/// committed meanwhile, and getting nothing twice.
#[tokio::test]
async fn what_nodes_a_and_b_commit_reaches_a_socket_on_node_c_and_resumes_on_node_a() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let config = database(surreal.port, "day");
    let a = spawn_app_on(config.clone()).await;
    let b = spawn_app_on(config.clone()).await;
    let c = spawn_app_on(config).await;
    let store = a.core.directory.store().clone();
    let s = crate::workflows::shop(&a, "Cluster Motors", "owner@example.com").await;
    let wf = s.id();
    let testers = s.workflow["steps"][1]["team"].as_str().unwrap().to_string();
    let (on_b, b_csrf) = b.login("owner@example.com").await;
    let post_b = |path: String, body: Value| {
        on_b.post(b.url(&path))
            .header("x-csrf-token", &b_csrf)
            .json(&body)
            .send()
    };
    let project: Value = post_b("/api/v1/projects".into(), json!({"name": "Spring event"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = project["id"].as_str().unwrap().to_string();

    // The subscriber, on node C: board, team calendar, project and inbox.
    let mut ws = c.ws("owner@example.com").await;
    let streams = [
        StreamName::Board(cflows_protocol::WorkflowId::new(wf.clone())),
        StreamName::Team(cflows_protocol::TeamId::new(testers.clone())),
        StreamName::Project(cflows_protocol::ProjectId::new(pid.clone())),
        StreamName::Inbox(cflows_protocol::UserId::new(s.org.owner.id.to_string())),
    ];
    let mut positions = Positions::new();
    for stream in &streams {
        ws.send(&ClientMsg::Subscribe {
            stream: stream.clone(),
            after: None,
        })
        .await
        .unwrap();
        match ws.recv_within(WAIT).await.unwrap() {
            ServerMsg::Snapshot { stream, seq, .. } => {
                positions.insert(stream, seq);
            }
            other => panic!("{other:?}"),
        }
    }

    // Node A: a vehicle arrives. Node B: it moves to Test & Inspect with a hold on the
    // testers' calendar. Node A: a task; node B: it changes. Node A: a message to the owner.
    let item: Value = s
        .post(
            &a,
            &format!("/api/v1/workflows/{wf}/items"),
            json!({"title": "Golf 1.4 TSI", "data": {"vin": "WVW1"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp_millis();
    let t0 = now - now.rem_euclid(86_400_000) + 86_400_000 + 9 * 3_600_000;
    let moved = post_b(
        format!("/api/v1/items/{id}/moves"),
        json!({"from": "request", "to": "test", "booking_start": t0}),
    )
    .await
    .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let task = s
        .post(
            &a,
            &format!("/api/v1/projects/{pid}/tasks"),
            json!({"title": "Order balloons", "assignee": s.org.owner.id}),
        )
        .await;
    assert_eq!(task.status(), StatusCode::CREATED);
    let task: Value = task.json().await.unwrap();
    let key = task["key"].as_str().unwrap();
    let changed = on_b
        .patch(b.url(&format!("/api/v1/projects/{pid}/tasks/{key}")))
        .header("x-csrf-token", &b_csrf)
        .json(&json!({"status": "doing"}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    let (crew, crew_csrf) = a.login("crew.owner@example.com").await;
    let sent = crew
        .post(a.url("/api/v1/messages"))
        .header("x-csrf-token", &crew_csrf)
        .json(&json!({"to": s.org.owner.id, "body": "Golf keys are on your desk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::NO_CONTENT);
    let heard = follow_to_heads(&mut ws, &mut positions, &store).await;
    assert!(
        heard >= 5,
        "board, team, project (2) and inbox events: {heard}"
    );

    // Node C's socket drops; more happens through node B; the client resumes on node A.
    drop(ws);
    let second: Value = post_b(
        format!("/api/v1/workflows/{wf}/items"),
        json!({"title": "Polo", "data": {"vin": "WVW2"}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(second["id"].is_string());
    let comment = post_b(
        format!("/api/v1/projects/{pid}/tasks/{key}/comments"),
        json!({"body": "Blue and white"}),
    )
    .await
    .unwrap();
    assert!(comment.status().is_success());
    let session = a.ws_session("owner@example.com").await;
    let resume = positions
        .iter()
        .map(|(stream, seq)| cflows_protocol::wire::StreamPosition {
            stream: stream.clone(),
            seq: *seq,
        })
        .collect();
    let (mut again, _) = cflows_load::client::Client::connect(
        &a.addr,
        &session,
        Some(&format!("http://{}", a.addr)),
        resume,
    )
    .await
    .unwrap();
    let missed = follow_to_heads(&mut again, &mut positions, &store).await;
    assert!(missed >= 2, "the new card and the comment: {missed}");
}
