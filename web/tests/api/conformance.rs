//! The protocol as a third-party client author reads it in PROTOCOL.md: each test is one
//! promise of the spec (RFC 6455 behaviour, limits and their units, error answers).

use crate::helpers::*;
use cflows_actors::StoreConfig;
use cflows_protocol::wire::{ClientMsg, ServerMsg, close};
use cflows_protocol::{ErrorCode, StreamName};
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
