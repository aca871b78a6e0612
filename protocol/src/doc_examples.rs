//! Keeps the hex examples of PROTOCOL.md true: each is encoded here and compared with
//! the text of the document itself.

use crate::{ErrorCode, OrgEvent, OrgId, StreamName, UserId};

const SPEC: &str = include_str!("../PROTOCOL.md");

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_documented(value: &impl serde::Serialize) {
    let encoded = hex(&rmp_serde::to_vec_named(value).unwrap());
    assert!(
        SPEC.contains(&format!("`{encoded}`")),
        "PROTOCOL.md lacks the example `{encoded}`"
    );
}

#[test]
fn examples_in_the_spec_match_the_encoder() {
    assert_documented(&OrgId::new("0192abc"));
    assert_documented(&ErrorCode::NotFound);
    assert_documented(&OrgEvent::MemberRemoved {
        user: UserId::new("u1"),
    });
}

#[test]
fn websocket_examples_in_the_spec_match_the_encoder() {
    use crate::wire::*;
    assert_documented(&ClientMsg::Hello {
        version: 2,
        resume: vec![StreamPosition {
            stream: StreamName::parse("org:o1").unwrap(),
            seq: 7,
        }],
    });
    assert_documented(&ClientMsg::Subscribe {
        stream: StreamName::parse("inbox:u1").unwrap(),
        after: None,
    });
    assert_documented(&ClientMsg::Request {
        id: 1,
        op: Op::MarkAllRead,
    });
    assert_documented(&ClientMsg::Request {
        id: 2,
        op: Op::MoveItem {
            item: crate::ItemId::new("i1"),
            change: crate::MoveRequest {
                from: "request".into(),
                to: "test".into(),
                comment: None,
                booking_start: None,
            },
        },
    });
    assert_documented(&ClientMsg::Ping { nonce: 7 });
    assert_documented(&ServerMsg::Pong { nonce: 7 });
    assert_documented(&ServerMsg::Reply {
        id: 1,
        ok: Some(ReplyBody::Done),
        error: None,
    });
    assert_documented(&ServerMsg::Event {
        stream: StreamName::parse("inbox:u1").unwrap(),
        seq: 3,
        event: StreamEvent::Inbox(crate::InboxEvent::AllRead { unread: 0 }),
    });
    assert_documented(&ServerMsg::Subscribed {
        stream: StreamName::parse("org:o1").unwrap(),
        seq: 7,
    });
}
