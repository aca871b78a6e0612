//! The codec's cost as numbers: encoding and decoding typical frames, MessagePack (what
//! the wire uses) against the same value as JSON. `cargo bench -p cflows-protocol`.

use cflows_protocol::wire::{
    ClientMsg, Limits, ServerMsg, StreamEvent, decode_client, decode_server, encode_client,
    encode_server,
};
use cflows_protocol::{
    EntityRef, InboxEvent, NotificationKind, NotificationView, OrgEvent, OrgId, StreamName, TeamId,
    TeamView, UserId,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn team_changed() -> ServerMsg {
    ServerMsg::Event {
        stream: StreamName::Org(OrgId::new("01a20c25b3f776fbbd5c272573ecca43")),
        seq: 1042,
        event: StreamEvent::Org(OrgEvent::TeamChanged {
            team: TeamView {
                id: TeamId::new("01a20c25b3f776fbbd5c272573ecca44"),
                name: "Mechanics".into(),
                description: "Repairs found in inspection".into(),
                colour: "#ea580c".into(),
                parent: None,
                members: (0..6)
                    .map(|i| UserId::new(format!("01a20c25b3f776fbbd5c272573ecca5{i}")))
                    .collect(),
                bookable_count: 3,
                manager: Some(UserId::new("01a20c25b3f776fbbd5c272573ecca50")),
                reminder_hours: None,
            },
        }),
    }
}

fn notification_added() -> ServerMsg {
    ServerMsg::Event {
        stream: StreamName::Inbox(UserId::new("01a20c25b3f776fbbd5c272573ecca50")),
        seq: 77,
        event: StreamEvent::Inbox(InboxEvent::NotificationAdded {
            notification: NotificationView {
                id: "01a20c25b3f776fbbd5c272573ecca60".into(),
                org: OrgId::new("01a20c25b3f776fbbd5c272573ecca43"),
                kind: NotificationKind::DirectMessage,
                title: "Message from Sam Seller".into(),
                body: "Car 17 is ready for photos".into(),
                link: "/notifications".into(),
                entity: Some(EntityRef {
                    kind: "user".into(),
                    id: "01a20c25b3f776fbbd5c272573ecca51".into(),
                }),
                from: Some(UserId::new("01a20c25b3f776fbbd5c272573ecca51")),
                created_at: 1_795_000_000_000,
                updated_at: 1_795_000_000_000,
                count: 1,
                read: false,
            },
            unread: 3,
        }),
    }
}

fn codec(c: &mut Criterion) {
    for (name, msg) in [
        ("team_changed", team_changed()),
        ("notification_added", notification_added()),
    ] {
        let packed = encode_server(&msg);
        let json = serde_json::to_vec(&msg).unwrap();
        println!(
            "{name}: {} bytes MessagePack, {} bytes JSON",
            packed.len(),
            json.len()
        );
        c.bench_function(&format!("{name}/encode/msgpack"), |b| {
            b.iter(|| encode_server(black_box(&msg)))
        });
        c.bench_function(&format!("{name}/encode/json"), |b| {
            b.iter(|| serde_json::to_vec(black_box(&msg)).unwrap())
        });
        c.bench_function(&format!("{name}/decode/msgpack"), |b| {
            b.iter(|| decode_server(black_box(&packed)).unwrap())
        });
        c.bench_function(&format!("{name}/decode/json"), |b| {
            b.iter(|| serde_json::from_slice::<ServerMsg>(black_box(&json)).unwrap())
        });
    }
    // What the server does per incoming frame: the limit walk, then the decode.
    let subscribe = encode_client(&ClientMsg::Subscribe {
        stream: StreamName::Org(OrgId::new("01a20c25b3f776fbbd5c272573ecca43")),
        after: Some(1041),
    });
    let limits = Limits::default();
    c.bench_function("subscribe/decode_client (checked)", |b| {
        b.iter(|| decode_client(black_box(&subscribe), &limits).unwrap())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
