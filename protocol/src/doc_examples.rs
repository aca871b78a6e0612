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

/// The variant names serde expects where `value` names an unknown one: the enum's own
/// list, read from its error ("unknown variant `…`, expected one of `a`, `b`").
fn expected_variants(value: serde_json::Value) -> Vec<String> {
    let error = serde_json::from_value::<crate::wire::StreamEvent>(value)
        .expect_err("an unknown name")
        .to_string();
    let expected = error
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of variants in {error:?}"))
        .1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Backticked names in `text`, without their `{…}` part (`org:{id}` → `org`).
fn names_in(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|n| n.split(':').next().unwrap_or(n).to_string())
        .collect()
}

#[test]
fn every_stream_lists_the_same_events_in_sections_5_and_9_as_the_code() {
    use std::collections::BTreeSet;
    let section = |from: &str, to: &str| {
        let start = SPEC.find(from).unwrap_or_else(|| panic!("no {from}"));
        &SPEC[start..start + SPEC[start..].find(to).unwrap()]
    };
    let streams = section("## 5.", "## 6.");
    let events = section("## 9.", "## 10.");
    let stream_kinds = expected_variants(serde_json::json!({ "stream_kind": "\u{1}" }));
    for kind in stream_kinds.iter().filter(|k| *k != "platform") {
        let code: BTreeSet<String> =
            expected_variants(serde_json::json!({ "stream_kind": kind, "kind": "\u{1}" }))
                .into_iter()
                .collect();
        // §5: the row of the table whose first cell is `kind:{…}`.
        let row = streams
            .lines()
            .find(|l| l.starts_with(&format!("| `{kind}:")))
            .unwrap_or_else(|| panic!("§5 has no row for {kind}"));
        let listed: BTreeSet<String> = names_in(row.split('|').nth(4).unwrap())
            .into_iter()
            .collect();
        assert_eq!(
            listed, code,
            "§5's events of `{kind}:` differ from the code"
        );
        // §9: the table after the line that starts with `kind:{…}`.
        let heading = events
            .lines()
            .position(|l| l.starts_with(&format!("`{kind}:")))
            .unwrap_or_else(|| panic!("§9 has no table for {kind}"));
        let described: BTreeSet<String> = events
            .lines()
            .skip(heading + 1)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .flat_map(|l| names_in(l.split('|').nth(1).unwrap()))
            .collect();
        assert_eq!(
            described, code,
            "§9's events of `{kind}:` differ from the code"
        );
    }
}
