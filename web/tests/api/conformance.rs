//! The protocol as a third-party client author reads it in PROTOCOL.md: each test is one
//! promise of the spec (RFC 6455 behaviour, limits and their units, error answers).

use crate::helpers::*;
use cflows_actors::StoreConfig;
use cflows_load::client::Received;
use cflows_protocol::wire::{ClientMsg, Op, ReplyBody, ServerMsg, close};
use cflows_protocol::{ErrorCode, StreamName};
use fastwebsockets::OpCode;
use serde::Serialize;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_client_ping_is_answered_with_a_pong_of_the_same_payload() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    c.send_ping(b"are you there?").await.unwrap();
    assert_eq!(c.recv_pong_within(WAIT).await.unwrap(), b"are you there?");
    // And the connection is still fine.
    c.send(&ClientMsg::Ping { nonce: 1 }).await.unwrap();
    assert!(matches!(
        c.recv_within(WAIT).await.unwrap(),
        ServerMsg::Pong { nonce: 1 }
    ));
}

#[tokio::test]
async fn text_that_is_not_utf8_is_closed_with_1007() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    c.send_text_bytes(vec![0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff, 0xfe])
        .await
        .unwrap();
    assert_eq!(c.closed_within(WAIT).await.unwrap(), close::INVALID_PAYLOAD);
    // Valid text is still refused as documented: binary MessagePack only.
    let mut c = app.ws("owner@example.com").await;
    c.send_text("hello").await.unwrap();
    assert_eq!(
        c.closed_within(WAIT).await.unwrap(),
        close::UNSUPPORTED_DATA
    );
}

#[tokio::test]
async fn a_client_close_is_answered_with_its_code_and_a_bad_code_with_1002() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    for (sent, answered) in [
        (close::NORMAL, close::NORMAL),
        (close::GOING_AWAY, close::GOING_AWAY),
        (4321, 4321),
        // 1005 and 1006 must never be sent on the wire; 999 is not a close code.
        (1005, close::PROTOCOL_ERROR),
        (999, close::PROTOCOL_ERROR),
    ] {
        let mut c = app.ws("owner@example.com").await;
        c.send_close(sent, "bye").await.unwrap();
        assert_eq!(
            c.closed_within(WAIT).await.unwrap(),
            answered,
            "after a close with {sent}"
        );
    }
}

/// A `ping` message padded to exactly `len` bytes of MessagePack.
fn ping_of(len: usize) -> Vec<u8> {
    #[derive(Serialize)]
    struct Padded {
        #[serde(rename = "type")]
        kind: &'static str,
        pad: String,
    }
    let mut pad = String::new();
    loop {
        let bytes = rmp_serde::to_vec_named(&Padded {
            kind: "ping",
            pad: pad.clone(),
        })
        .unwrap();
        if bytes.len() == len {
            return bytes;
        }
        assert!(bytes.len() < len, "cannot pad to exactly {len}");
        pad.push('x');
    }
}

#[tokio::test]
async fn the_frame_limit_refuses_only_frames_larger_than_it() {
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.max_frame_bytes = 1000).await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    c.send_raw(ping_of(1000)).await.unwrap();
    assert!(
        matches!(
            c.recv_within(WAIT).await.unwrap(),
            ServerMsg::Pong { nonce: 0 }
        ),
        "exactly max_frame_bytes is allowed"
    );
    c.send_raw(ping_of(1001)).await.unwrap();
    assert_eq!(c.closed_within(WAIT).await.unwrap(), close::TOO_BIG);
}

#[tokio::test]
async fn a_malformed_request_is_answered_with_its_own_id() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    #[derive(Serialize)]
    struct Bad {
        #[serde(rename = "type")]
        kind: &'static str,
        id: u32,
        op: Op,
    }
    #[derive(Serialize)]
    struct Op {
        op: &'static str,
    }
    let raw = rmp_serde::to_vec_named(&Bad {
        kind: "request",
        id: 77,
        op: Op {
            op: "fly_to_the_moon",
        },
    })
    .unwrap();
    c.send_raw(raw).await.unwrap();
    match c.recv_within(WAIT).await.unwrap() {
        ServerMsg::Reply {
            id: 77,
            ok: None,
            error: Some(e),
        } => assert_eq!(e.code, ErrorCode::InvalidInput),
        other => panic!("expected the reply to request 77, got {other:?}"),
    }
    // Without a readable id: an `error` without a stream.
    c.send_raw(vec![
        0x81, 0xa4, b't', b'y', b'p', b'e', 0xa3, b'b', b'a', b'd',
    ])
    .await
    .unwrap();
    assert!(matches!(
        c.recv_within(WAIT).await.unwrap(),
        ServerMsg::Error { stream: None, .. }
    ));
}

#[tokio::test]
async fn a_message_of_2000_multibyte_characters_fits_the_limits() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(
            &org,
            "mia@example.com",
            "Mia",
            cflows_protocol::Role::Member,
        )
        .await;
    let mut c = app.ws("owner@example.com").await;
    c.send(&ClientMsg::Request {
        id: 5,
        op: cflows_protocol::wire::Op::SendMessage {
            to: mia.id.clone(),
            body: "€".repeat(2000),
        },
    })
    .await
    .unwrap();
    match c.recv_within(WAIT).await.unwrap() {
        ServerMsg::Reply {
            id: 5, ok: Some(_), ..
        } => {}
        other => panic!("2,000 characters are allowed whatever their script: {other:?}"),
    }
}

#[tokio::test]
async fn a_resumed_replay_ends_with_subscribed_at_the_head() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    for name in ["A", "B", "C"] {
        let r = client
            .post(app.url("/api/v1/teams"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    }
    let stream = StreamName::Org(org.org.id.clone());
    let mut c = app.ws("owner@example.com").await;
    // org_created, member_added, then the three teams: resume after 2.
    c.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: Some(2),
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    loop {
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Event { seq, .. } => seen.push(seq),
            ServerMsg::Subscribed { stream: s, seq } => {
                assert_eq!((s, seq), (stream.clone(), 5), "caught up at the head");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, vec![3, 4, 5]);
}

#[tokio::test]
async fn an_unmasked_client_frame_fails_the_connection_with_1002() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let c = app.ws("owner@example.com").await;
    // A well-formed `ping` message: only the missing mask is wrong (RFC 6455 §5.1).
    let ping = cflows_protocol::wire::encode_client(&ClientMsg::Ping { nonce: 9 });
    let mut c = c.send_unmasked(ping).await.unwrap();
    let first = tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap();
    assert_eq!(
        first,
        Received::Closed(close::PROTOCOL_ERROR),
        "an unmasked frame is not a message"
    );
}

#[tokio::test]
async fn a_continuation_frame_with_no_start_fails_the_connection_with_1002() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    let ping = cflows_protocol::wire::encode_client(&ClientMsg::Ping { nonce: 9 });
    c.send_frame(true, OpCode::Continuation, ping)
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap();
    assert_eq!(
        first,
        Received::Closed(close::PROTOCOL_ERROR),
        "a continuation of nothing is not a message (RFC 6455 §5.4)"
    );
}

#[tokio::test]
async fn the_hello_deadline_counts_from_the_upgrade_whatever_comes_before() {
    let deadline = Duration::from_millis(1500);
    let app = spawn_app_with(StoreConfig::memory(), |s| {
        s.ws.hello_timeout_ms = deadline.as_millis() as u64;
    })
    .await;
    app.org("Demo Motors", "owner@example.com").await;
    let session = app.ws_session("owner@example.com").await;
    let mut c = cflows_load::client::Client::open(&app.addr, Some(&session.cookie), None)
        .await
        .unwrap();
    let opened = std::time::Instant::now();
    // A client that keeps the socket busy (unsolicited pongs, as heartbeats answered) but
    // never says hello.
    let received = loop {
        match tokio::time::timeout(Duration::from_millis(200), c.recv()).await {
            Ok(r) => break r.unwrap(),
            Err(_) => {
                assert!(
                    opened.elapsed() < deadline * 4,
                    "still open long after the hello deadline"
                );
                c.send_frame(true, OpCode::Pong, b"beat".to_vec())
                    .await
                    .unwrap();
            }
        }
    };
    assert_eq!(received, Received::Closed(close::BAD_HELLO));
    assert!(opened.elapsed() >= deadline, "not before the deadline");
}

#[tokio::test]
async fn text_limits_count_characters_in_any_script_and_name_the_field() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let r = owner
        .post(app.url("/api/v1/projects"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({ "name": "Spring showroom event" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let project: serde_json::Value = r.json().await.unwrap();
    let project = cflows_protocol::ProjectId::new(project["id"].as_str().unwrap());
    let mut c = app.ws("owner@example.com").await;
    let mut request = async |id: u32, op: Op| {
        c.send(&ClientMsg::Request { id, op }).await.unwrap();
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Reply { id: got, ok, error } if got == id => (ok, error),
            other => panic!("expected the reply to {id}, got {other:?}"),
        }
    };
    // 10,000 Cyrillic characters (20,000 bytes): a description at its limit.
    let (ok, error) = request(
        1,
        Op::CreateTask {
            project: project.clone(),
            task: cflows_protocol::NewTask {
                title: "Заказать шары".into(),
                description: "Ж".repeat(10_000),
                ..Default::default()
            },
        },
    )
    .await;
    let Some(ReplyBody::Task { task }) = ok else {
        panic!("10,000 characters of Cyrillic are a valid description: {error:?}")
    };
    assert_eq!(task.description.chars().count(), 10_000);
    // 5,000 emoji (20,000 bytes): a comment at its limit.
    let (ok, error) = request(
        2,
        Op::CommentTask {
            project: project.clone(),
            task: task.key.clone(),
            body: "😀".repeat(5000),
        },
    )
    .await;
    assert!(
        matches!(ok, Some(ReplyBody::Comment { .. })),
        "5,000 emoji are a valid comment: {error:?}"
    );
    // One more: refused by the rule of that field, in characters.
    let (_, error) = request(
        3,
        Op::CommentTask {
            project: project.clone(),
            task: task.key.clone(),
            body: "😀".repeat(5001),
        },
    )
    .await;
    let error = error.expect("5,001 characters are too many for a comment");
    assert_eq!(error.code, ErrorCode::InvalidInput);
    assert!(error.message.contains("comment") && error.message.contains("5000"));
    // Past the longest text of any field: the codec names the field and its limit.
    let (_, error) = request(
        4,
        Op::CreateTask {
            project,
            task: cflows_protocol::NewTask {
                title: "Too long".into(),
                description: "Ж".repeat(10_001),
                ..Default::default()
            },
        },
    )
    .await;
    let error = error.expect("10,001 characters are too many");
    assert_eq!(error.code, ErrorCode::InvalidInput);
    assert!(
        error.message.contains("`op.description`") && error.message.contains("10000"),
        "{}",
        error.message
    );
}

/// A team of the owner with capacity 1, open all day, and a one-hour job type: (team id,
/// job type id).
async fn workshop(
    app: &TestApp,
    org: &Org,
    owner: &reqwest::Client,
    csrf: &str,
) -> (String, String) {
    let post = |path: &str, body: serde_json::Value| {
        owner
            .post(app.url(path))
            .header("x-csrf-token", csrf)
            .json(&body)
            .send()
    };
    let job: serde_json::Value = post(
        "/api/v1/job-types",
        serde_json::json!({"name": "Test drive", "duration_minutes": 60}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team: serde_json::Value = post(
        "/api/v1/teams",
        serde_json::json!({"name": "Workshop", "members": [org.owner.id], "bookable_count": 1}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team = team["id"].as_str().unwrap().to_string();
    let hours = owner
        .put(app.url(&format!("/api/v1/teams/{team}/hours")))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({
            "zone": "UTC",
            "weekly": (1..=7).map(|d| serde_json::json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
            "closed": [],
            "hold_minutes": 15
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(hours.status(), reqwest::StatusCode::OK);
    (team, job["id"].as_str().unwrap().to_string())
}

/// Tomorrow 10:00 UTC, in ms.
fn tomorrow_at_ten() -> i64 {
    let day = 24 * 3_600_000;
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(day) + day + 10 * 3_600_000
}

#[tokio::test]
async fn confirming_a_hold_that_ran_out_or_a_confirmed_booking_is_a_conflict() {
    use cflows_protocol::wire::{NewBooking, StreamEvent};
    use cflows_protocol::{BookingState, TeamEvent, TeamId};
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let (team, job_type) = workshop(&app, &org, &owner, &csrf).await;
    let team = TeamId::new(team);
    let mut c = app.ws("owner@example.com").await;
    let stream = StreamName::Team(team.clone());
    c.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv_within(WAIT).await.unwrap(),
        ServerMsg::Snapshot { .. }
    ));
    let hold = |start: i64, confirm: bool| Op::HoldBooking {
        team: team.clone(),
        booking: NewBooking {
            job_type: job_type.clone(),
            start,
            end: None,
            members_required: None,
            title: None,
            confirm,
            hold_seconds: Some(1),
            waitlist: false,
            assigned: vec![],
            work_item: None,
            step: None,
        },
    };
    // Replies and events interleave: the reply to `id`, events of the stream collected.
    async fn reply(
        c: &mut cflows_load::client::Client,
        id: u32,
        events: &mut Vec<TeamEvent>,
    ) -> Result<ReplyBody, cflows_protocol::wire::WireError> {
        loop {
            match c.recv_within(WAIT).await.unwrap() {
                ServerMsg::Reply { id: got, ok, error } if got == id => {
                    return ok.ok_or_else(|| error.unwrap());
                }
                ServerMsg::Event {
                    event: StreamEvent::Team(e),
                    ..
                } => events.push(e),
                other => panic!("{other:?}"),
            }
        }
    }
    let mut events = Vec::new();
    c.send(&ClientMsg::Request {
        id: 1,
        op: hold(tomorrow_at_ten(), false),
    })
    .await
    .unwrap();
    let Ok(ReplyBody::Booking { booking: held }) = reply(&mut c, 1, &mut events).await else {
        panic!("the hold fits")
    };
    // The hold runs out: its event says so, with the state `expired`.
    let expired = loop {
        if let Some(TeamEvent::HoldExpired { booking }) = events.pop() {
            break booking;
        }
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Event {
                event: StreamEvent::Team(e),
                ..
            } => events.push(e),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(expired.id, held.id);
    assert_eq!(expired.state, BookingState::Expired);
    // Confirming it: a conflict (§3), not a missing booking.
    c.send(&ClientMsg::Request {
        id: 2,
        op: Op::ConfirmBooking {
            team: team.clone(),
            booking: held.id.clone(),
        },
    })
    .await
    .unwrap();
    let refused = reply(&mut c, 2, &mut events).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Conflict, "{}", refused.message);
    assert!(refused.message.contains("run out"), "{}", refused.message);
    // The API reads it as expired too.
    let read: serde_json::Value = owner
        .get(app.url(&format!("/api/v1/teams/{team}/bookings/{}", held.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["state"], "expired");

    // A confirmed booking confirmed again: a conflict, nothing changes.
    c.send(&ClientMsg::Request {
        id: 3,
        op: hold(tomorrow_at_ten() + 2 * 3_600_000, true),
    })
    .await
    .unwrap();
    let Ok(ReplyBody::Booking { booking: confirmed }) = reply(&mut c, 3, &mut events).await else {
        panic!("the booking fits")
    };
    assert_eq!(confirmed.state, BookingState::Confirmed);
    c.send(&ClientMsg::Request {
        id: 4,
        op: Op::ConfirmBooking {
            team: team.clone(),
            booking: confirmed.id.clone(),
        },
    })
    .await
    .unwrap();
    let refused = reply(&mut c, 4, &mut events).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Conflict, "{}", refused.message);
    // An id that does not exist is still `not_found`.
    c.send(&ClientMsg::Request {
        id: 5,
        op: Op::ConfirmBooking {
            team,
            booking: "0192000000000000000000000000dead".into(),
        },
    })
    .await
    .unwrap();
    let refused = reply(&mut c, 5, &mut events).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn a_stream_name_that_breaks_the_grammar_is_named_in_its_error() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let mut c = app.ws("owner@example.com").await;
    #[derive(Serialize)]
    struct Raw {
        #[serde(rename = "type")]
        kind: &'static str,
        stream: &'static str,
    }
    // Two subscribes in flight, both broken: each error says which one it answers.
    let names = ["org:not an id!", "weather:today"];
    for stream in names {
        c.send_raw(
            rmp_serde::to_vec_named(&Raw {
                kind: "subscribe",
                stream,
            })
            .unwrap(),
        )
        .await
        .unwrap();
    }
    for expected in names {
        match c.recv_within(WAIT).await.unwrap() {
            ServerMsg::Error { stream, error } => {
                assert_eq!(stream.as_deref(), Some(expected));
                assert_eq!(error.code, ErrorCode::InvalidInput);
            }
            other => panic!("expected the error of {expected}, got {other:?}"),
        }
    }
}
