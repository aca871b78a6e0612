//! The WebSocket gateway with a real client over a real socket.

use crate::helpers::*;
use cflows_actors::{Caller, StoreConfig, TeamInput};
use cflows_load::client::{Client, Received};
use cflows_protocol::StreamName;
use cflows_protocol::wire::{
    ClientMsg, Op, ReplyBody, ServerMsg, StreamEvent, StreamPosition, StreamState, close,
};
use cflows_protocol::{ErrorCode, InboxEvent, OrgEvent, Role};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Subscribes and returns the snapshot's seq.
async fn subscribe(c: &mut Client, stream: &str) -> u64 {
    c.send(&ClientMsg::Subscribe {
        stream: StreamName::parse(stream).unwrap(),
        after: None,
    })
    .await
    .unwrap();
    match c.recv_within(WAIT).await.unwrap() {
        ServerMsg::Snapshot {
            seq, reset: false, ..
        } => seq,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

/// The next event on any stream: (stream, seq, event).
async fn next_event(c: &mut Client) -> (String, u64, StreamEvent) {
    loop {
        if let ServerMsg::Event { stream, seq, event } = c.recv_within(WAIT).await.unwrap() {
            return (stream.to_string(), seq, event);
        }
    }
}

#[tokio::test]
async fn a_change_over_http_reaches_subscribers_live() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "admin2@example.com", "Ada", Role::Admin)
        .await;
    let mut watcher = app.ws("owner@example.com").await;
    let stream = format!("org:{}", org.org.id);
    let start = subscribe(&mut watcher, &stream).await;

    let (admin, csrf) = app.login("admin2@example.com").await;
    let r = admin
        .post(app.url("/api/v1/teams"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Mechanics"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let (s, seq, event) = next_event(&mut watcher).await;
    assert_eq!((s.as_str(), seq), (stream.as_str(), start + 1));
    assert!(
        matches!(event, StreamEvent::Org(OrgEvent::TeamCreated { team }) if team.name == "Mechanics")
    );
}

#[tokio::test]
async fn resume_after_reconnect_has_no_gap_and_no_duplicate() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let stream = format!("org:{}", org.org.id);
    let mut c = app.ws("owner@example.com").await;
    let start = subscribe(&mut c, &stream).await;
    handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "T1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, seen, _) = next_event(&mut c).await;
    drop(c);
    for name in ["T2", "T3", "T4"] {
        handle
            .create_team(
                Caller::System,
                TeamInput {
                    name: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let session = app.ws_session("owner@example.com").await;
    let (mut c, _) = Client::connect(
        &app.addr,
        &session,
        None,
        vec![StreamPosition {
            stream: StreamName::parse(&stream).unwrap(),
            seq: seen,
        }],
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_event(&mut c).await.1);
    }
    assert_eq!(got, vec![start + 2, start + 3, start + 4]);
    handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "T5".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut c).await.1,
        start + 5,
        "live events continue after the replay"
    );

    // Up to date already: just a confirmation.
    let (mut d, _) = Client::connect(
        &app.addr,
        &session,
        None,
        vec![StreamPosition {
            stream: StreamName::parse(&stream).unwrap(),
            seq: start + 5,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        d.recv_within(WAIT).await.unwrap(),
        ServerMsg::Subscribed {
            stream: StreamName::parse(&stream).unwrap(),
            seq: start + 5
        }
    );
    // Ahead of the server (a stale client of a restored database): a reset snapshot.
    let (mut e, _) = Client::connect(
        &app.addr,
        &session,
        None,
        vec![StreamPosition {
            stream: StreamName::parse(&stream).unwrap(),
            seq: 999,
        }],
    )
    .await
    .unwrap();
    assert!(
        matches!(e.recv_within(WAIT).await.unwrap(), ServerMsg::Snapshot { reset: true, seq, .. } if seq == start + 5)
    );
}

#[tokio::test]
async fn cross_origin_and_anonymous_upgrades_are_refused() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let session = app.ws_session("owner@example.com").await;
    let upgrade = |origin: Option<&str>, cookie: Option<&str>| {
        let mut req = reqwest::Client::new()
            .get(app.url("/ws"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    assert_eq!(
        upgrade(Some("http://evil.example"), Some(&session.cookie))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        upgrade(Some(&app.url("")), None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        upgrade(Some(&app.url("")), Some(&session.cookie))
            .await
            .unwrap()
            .status(),
        StatusCode::SWITCHING_PROTOCOLS
    );
}

#[tokio::test]
async fn foreign_streams_answer_like_unknown_ones() {
    let app = spawn_app().await;
    app.org("Alpha", "alpha@example.com").await;
    let beta = app.org("Beta", "beta@example.com").await;
    let mut c = app.ws("alpha@example.com").await;
    async fn answer(c: &mut Client, stream: String) -> (ErrorCode, String) {
        c.send(&ClientMsg::Subscribe {
            stream: StreamName::parse(&stream).unwrap(),
            after: None,
        })
        .await
        .unwrap();
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Error {
                stream: Some(s),
                error,
            } => {
                assert_eq!(s.to_string(), stream);
                (error.code, error.message)
            }
            other => panic!("expected an error for {stream}, got {other:?}"),
        }
    }
    let foreign = answer(&mut c, format!("org:{}", beta.org.id)).await;
    let missing = answer(&mut c, "org:01a2000000007000800000000000dead".into()).await;
    let other_inbox = answer(&mut c, format!("inbox:{}", beta.owner.id)).await;
    let nonsense = answer(&mut c, "calendar:whatever".into()).await;
    assert_eq!(foreign, missing);
    assert_eq!(other_inbox, missing);
    assert_eq!(nonsense, missing);
    assert_eq!(foreign.0, ErrorCode::NotFound);
}

#[tokio::test]
async fn bad_frames_get_documented_answers_and_others_keep_being_served() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let stream = format!("org:{}", org.org.id);
    let mut healthy = app.ws("owner@example.com").await;
    let start = subscribe(&mut healthy, &stream).await;

    // Garbage, deep nesting and unknown types: an error message, the connection stays.
    let mut c = app.ws("owner@example.com").await;
    let mut deep = vec![0x91u8; 40];
    deep.push(0x90);
    let unknown = b"\x81\xa4type\xa9teleport!".to_vec();
    for (bytes, expect) in [
        (vec![0xc1, 0xff, 0x00], "MessagePack"),
        (deep, "nesting"),
        (unknown, "unknown message type"),
    ] {
        c.send_raw(bytes).await.unwrap();
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Error { error, .. } => {
                assert_eq!(error.code, ErrorCode::InvalidInput);
                assert!(error.message.contains(expect), "{}", error.message);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
    c.send(&ClientMsg::Ping { nonce: 7 }).await.unwrap();
    assert_eq!(
        c.recv_within(WAIT).await.unwrap(),
        ServerMsg::Pong { nonce: 7 }
    );

    // A frame over the limit: closed with 1009, before its payload is read.
    let mut big = app.ws("owner@example.com").await;
    big.send_raw(vec![0x90; 70 * 1024]).await.unwrap();
    assert_eq!(big.recv().await.unwrap(), Received::Closed(close::TOO_BIG));

    // Text frames: 1003.
    let mut text = app.ws("owner@example.com").await;
    text.send_text("hello").await.unwrap();
    assert_eq!(
        text.recv().await.unwrap(),
        Received::Closed(close::UNSUPPORTED_DATA)
    );

    // Anything before hello: 4002.
    let session = app.ws_session("owner@example.com").await;
    let mut rude = Client::open(&app.addr, Some(&session.cookie), None)
        .await
        .unwrap();
    rude.send(&ClientMsg::Ping { nonce: 1 }).await.unwrap();
    assert_eq!(
        rude.recv().await.unwrap(),
        Received::Closed(close::BAD_HELLO)
    );

    // The healthy subscriber still gets live events.
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "Still here".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(next_event(&mut healthy).await.1, start + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_while_healthy_clients_keep_receiving() {
    let app = spawn_app_with(StoreConfig::memory(), |s| {
        s.ws.max_queue_bytes = 2 * 1024 * 1024
    })
    .await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let stream = format!("org:{}", org.org.id);
    let mut healthy = app.ws("owner@example.com").await;
    let start = subscribe(&mut healthy, &stream).await;
    let mut slow = app.ws("owner@example.com").await;
    subscribe(&mut slow, &stream).await;
    // The slow client now stops reading. Each change carries a ~190 KB avatar: ~28 MB in
    // all, more than loopback socket buffers plus the 2 MiB queue can hold.
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let avatar = format!("data:image/png;base64,{}", "A".repeat(190 * 1024));
    let changes = 150;
    let (received_tx, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        for i in 1..=changes {
            let (_, seq, _) = next_event(&mut healthy).await;
            assert_eq!(seq, start + i);
            received_tx.send(seq).unwrap();
        }
    });
    for i in 0..changes {
        let profile = cflows_protocol::ProfileView {
            avatar: avatar.clone(),
            title: format!("v{i}"),
            ..Default::default()
        };
        handle
            .update_profile(Caller::System, org.owner.id.clone(), profile)
            .await
            .unwrap();
        // The healthy client reads each change before the next one is made.
        tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .expect("healthy client keeps receiving")
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("healthy client kept up")
        .unwrap();
    // The slow client reads what was buffered, then the documented close code.
    let code = slow.closed_within(Duration::from_secs(60)).await.unwrap();
    assert_eq!(code, close::SLOW_CONSUMER);
}

#[tokio::test]
async fn notifications_flow_live_with_unread_counts() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let mut inbox = app.ws("mia@example.com").await;
    let stream = format!("inbox:{}", mia.id);
    inbox
        .send(&ClientMsg::Subscribe {
            stream: StreamName::parse(&stream).unwrap(),
            after: None,
        })
        .await
        .unwrap();
    let ServerMsg::Snapshot {
        state: StreamState::Inbox(snap),
        ..
    } = inbox.recv_within(WAIT).await.unwrap()
    else {
        panic!("no inbox snapshot")
    };
    assert_eq!(snap.unread, 0);

    // The owner sends two messages over the socket: one notification, coalesced.
    let mut owner = app.ws("owner@example.com").await;
    for (id, body) in [(1, "Car 17 is ready"), (2, "Also car 18")] {
        owner
            .send(&ClientMsg::Request {
                id,
                op: Op::SendMessage {
                    to: mia.id.clone(),
                    body: body.into(),
                },
            })
            .await
            .unwrap();
        assert_eq!(
            owner.recv_within(WAIT).await.unwrap(),
            ServerMsg::Reply {
                id,
                ok: Some(ReplyBody::Done),
                error: None
            }
        );
    }
    let (_, _, first) = next_event(&mut inbox).await;
    let StreamEvent::Inbox(InboxEvent::NotificationAdded {
        notification,
        unread: 1,
    }) = first
    else {
        panic!("{first:?}")
    };
    let (_, _, second) = next_event(&mut inbox).await;
    assert!(
        matches!(second, StreamEvent::Inbox(InboxEvent::NotificationCoalesced { ref notification, unread: 1 }) if notification.count == 2 && notification.body == "Also car 18")
    );

    // Mark read over the socket; the count drops live.
    inbox
        .send(&ClientMsg::Request {
            id: 3,
            op: Op::MarkRead {
                notification: notification.id.clone(),
            },
        })
        .await
        .unwrap();
    let mut saw_reply = false;
    let mut saw_event = false;
    while !(saw_reply && saw_event) {
        match inbox.recv_within(WAIT).await.unwrap() {
            ServerMsg::Reply {
                id: 3,
                ok: Some(ReplyBody::Done),
                ..
            } => saw_reply = true,
            ServerMsg::Event {
                event: StreamEvent::Inbox(InboxEvent::NotificationRead { unread: 0, .. }),
                ..
            } => saw_event = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    inbox
        .send(&ClientMsg::Request {
            id: 4,
            op: Op::ListNotifications {
                before: None,
                limit: Some(10),
            },
        })
        .await
        .unwrap();
    let ServerMsg::Reply {
        ok: Some(ReplyBody::Notifications { items, unread }),
        ..
    } = inbox.recv_within(WAIT).await.unwrap()
    else {
        panic!()
    };
    assert_eq!((items.len(), unread, items[0].read), (1, 0, true));

    // Messages to a stranger or another org's user: not found, like a missing id.
    let beta = app.org("Beta", "beta@example.com").await;
    owner
        .send(&ClientMsg::Request {
            id: 5,
            op: Op::SendMessage {
                to: beta.owner.id.clone(),
                body: "psst".into(),
            },
        })
        .await
        .unwrap();
    let ServerMsg::Reply { error: Some(e), .. } = owner.recv_within(WAIT).await.unwrap() else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn requests_are_rate_limited_per_connection() {
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.requests_per_second = 2).await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    for id in 0..10 {
        c.send(&ClientMsg::Request {
            id,
            op: Op::MarkAllRead,
        })
        .await
        .unwrap();
    }
    let mut limited = 0;
    for _ in 0..10 {
        if let ServerMsg::Reply { error: Some(e), .. } = c.recv_within(WAIT).await.unwrap() {
            assert_eq!(e.code, ErrorCode::RateLimited);
            limited += 1;
        }
    }
    assert!(limited >= 5, "only {limited} of 10 requests were limited");
}

#[tokio::test]
async fn logging_out_closes_the_socket_with_4001() {
    // An hour between heartbeats: only a pushed session end can close it in time.
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.heartbeat_secs = 3600).await;
    app.org("Demo Motors", "owner@example.com").await;
    let session = app.ws_session("owner@example.com").await;
    let (mut c, _) = Client::connect(&app.addr, &session, None, vec![])
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .delete(app.url("/api/v1/session"))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let closed = c.closed_within(WAIT).await.unwrap();
    assert_eq!(closed, close::UNAUTHENTICATED);
}

#[tokio::test]
async fn deactivation_and_a_new_password_close_only_the_affected_sockets() {
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.heartbeat_secs = 3600).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    app.member(&org, "max@example.com", "Max", Role::Member)
        .await;
    let mut mia_socket = app.ws("mia@example.com").await;
    let mut max_socket = app.ws("max@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let r = owner
        .patch(app.url(&format!("/api/v1/members/{}", mia.id)))
        .header("x-csrf-token", &csrf)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let closed = mia_socket
        .closed_within(WAIT)
        .await
        .expect("the deactivated member's socket closes at once");
    assert_eq!(closed, close::UNAUTHENTICATED);
    // Max's socket is untouched: it still answers.
    max_socket
        .send(&ClientMsg::Ping { nonce: 9 })
        .await
        .unwrap();
    loop {
        if let ServerMsg::Pong { nonce } = max_socket.recv_within(WAIT).await.unwrap() {
            assert_eq!(nonce, 9);
            break;
        }
    }
    // A new password ends every session of that user, and their sockets.
    app.core
        .directory
        .set_password(
            app.core
                .directory
                .user_by_email("max@example.com")
                .await
                .unwrap()
                .map(|u| cflows_protocol::UserId::new(u.id))
                .unwrap(),
            "a brand new password",
        )
        .await
        .unwrap();
    let closed = max_socket
        .closed_within(WAIT)
        .await
        .expect("a new password closes the socket");
    assert_eq!(closed, close::UNAUTHENTICATED);
}

/// One heartbeat tick serves every socket: a client that answers the pings stays
/// open for many intervals, one that stays silent is closed with 4000 after three to
/// four intervals, and a closed socket is no longer followed.
#[tokio::test]
async fn heartbeats_keep_answering_clients_and_close_silent_ones() {
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.heartbeat_secs = 1).await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut lively = app.ws("owner@example.com").await;
    let mut silent = app.ws("owner@example.com").await;
    // The lively one reads (and so answers each ping) for five intervals.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        match tokio::time::timeout(Duration::from_millis(500), lively.recv()).await {
            Err(_) => {}
            Ok(Ok(Received::Closed(code))) => panic!("a lively socket was closed with {code}"),
            Ok(r) => {
                r.unwrap();
            }
        }
    }
    lively.send(&ClientMsg::Ping { nonce: 9 }).await.unwrap();
    assert!(matches!(
        lively.recv_within(WAIT).await.unwrap(),
        ServerMsg::Pong { nonce: 9 }
    ));
    // The silent one read nothing, so it answered no ping: closed as idle.
    let closed = silent.closed_within(WAIT).await.unwrap();
    assert_eq!(closed, close::IDLE);
    let mut followed = app_sockets(&app);
    for _ in 0..50 {
        if followed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        followed = app_sockets(&app);
    }
    assert_eq!(followed, 1, "only the lively socket is still followed");
}

fn app_sockets(app: &TestApp) -> usize {
    app.state.sockets.open()
}

/// A session that runs out while its socket is open closes the socket with 4001 at the
/// next heartbeat (no timer per socket), and the session's cookie no longer works.
#[tokio::test]
async fn a_session_that_expires_closes_its_socket_at_the_next_heartbeat() {
    let app = spawn_app_with(StoreConfig::memory(), |s| {
        s.ws.heartbeat_secs = 1;
        s.sessions.lifetime_secs = 3;
    })
    .await;
    app.org("Demo Motors", "owner@example.com").await;
    let session = app.ws_session("owner@example.com").await;
    let opened = std::time::Instant::now();
    let (mut c, _) = Client::connect(&app.addr, &session, None, Vec::new())
        .await
        .unwrap();
    let closed = c
        .closed_within(WAIT)
        .await
        .expect("the socket closes once the session expired");
    assert_eq!(closed, close::UNAUTHENTICATED);
    // Not before the session's end (it started just before the socket opened), and
    // within a heartbeat of it.
    let after = opened.elapsed();
    assert!(after >= Duration::from_secs(2), "closed after {after:?}");
    assert!(after < Duration::from_secs(6), "closed after {after:?}");
    // The cookie is refused now, as is a new socket with it.
    assert!(
        Client::connect(&app.addr, &session, None, Vec::new())
            .await
            .is_err()
    );
}

/// A server that stops closes its open sockets with 1001 (reconnect with backoff).
#[tokio::test]
async fn a_stopping_server_closes_its_sockets_with_1001() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = spawn_app_until(StoreConfig::memory(), |_| {}, async {
        let _ = stopped.await;
    })
    .await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    stop.send(()).unwrap();
    assert_eq!(c.closed_within(WAIT).await.unwrap(), close::GOING_AWAY);
}
