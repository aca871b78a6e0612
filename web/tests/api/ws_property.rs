//! Property: any interleaving of publish / disconnect / resume / read delivers each
//! stream's events to the client exactly once and in order — over real sockets, against
//! the real server and engine.

use crate::helpers::*;
use cflows_actors::{Caller, TeamInput};
use cflows_load::client::Client;
use cflows_protocol::StreamName;
use cflows_protocol::wire::{ClientMsg, ServerMsg, StreamPosition};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;

#[derive(Clone, Debug)]
enum Step {
    Publish(u8),
    Disconnect,
    Resume,
    Read,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u8..5).prop_map(Step::Publish),
        1 => Just(Step::Disconnect),
        1 => Just(Step::Resume),
        1 => Just(Step::Read),
    ]
}

/// Reads until `last` reaches `head`; every event must be exactly `last + 1`.
async fn read_until(c: &mut Client, last: &mut u64, head: u64, delivered: &mut Vec<u64>) {
    while *last < head {
        match c.recv_within(Duration::from_secs(10)).await.unwrap() {
            ServerMsg::Event { seq, .. } => {
                assert_eq!(seq, *last + 1, "gap or duplicate: after {last} came {seq}");
                *last = seq;
                delivered.push(seq);
            }
            ServerMsg::Subscribed { seq, .. } => assert_eq!(seq, *last),
            ServerMsg::Snapshot { reset, .. } => {
                panic!("unexpected snapshot (reset {reset}) while resuming")
            }
            _ => {}
        }
    }
}

#[test]
fn any_interleaving_delivers_every_event_once_in_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app());
    // One organization and login for all cases (logins are rate-limited per IP); each
    // case continues the same stream from wherever the previous one left it.
    let org = rt.block_on(app.org("Prop Motors", "prop@example.com"));
    let session = rt.block_on(app.ws_session("prop@example.com"));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&proptest::collection::vec(step(), 1..16), |steps| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            rt.block_on(async {
                let handle = app.core.directory.org(&org.org.id).await.unwrap();
                let stream = format!("org:{}", org.org.id);
                let (mut c, _) = Client::connect(&app.addr, &session, None, vec![])
                    .await
                    .unwrap();
                c.send(&ClientMsg::Subscribe {
                    stream: StreamName::parse(&stream).unwrap(),
                    after: None,
                })
                .await
                .unwrap();
                let mut last = loop {
                    if let ServerMsg::Snapshot { seq, .. } =
                        c.recv_within(Duration::from_secs(10)).await.unwrap()
                    {
                        break seq;
                    }
                };
                let start = last;
                let mut head = last;
                let mut conn = Some(c);
                let mut delivered = Vec::new();
                let mut teams = 0;
                for s in &steps {
                    match s {
                        Step::Publish(k) => {
                            for _ in 0..*k {
                                teams += 1;
                                handle
                                    .create_team(
                                        Caller::System,
                                        TeamInput {
                                            name: format!("T{n}-{teams}"),
                                            ..Default::default()
                                        },
                                    )
                                    .await
                                    .unwrap();
                                head += 1;
                            }
                        }
                        Step::Disconnect => conn = None,
                        Step::Resume => {
                            if conn.is_none() {
                                let pos = vec![StreamPosition {
                                    stream: StreamName::parse(&stream).unwrap(),
                                    seq: last,
                                }];
                                conn = Some(
                                    Client::connect(&app.addr, &session, None, pos)
                                        .await
                                        .unwrap()
                                        .0,
                                );
                            }
                        }
                        Step::Read => {
                            if let Some(c) = conn.as_mut() {
                                read_until(c, &mut last, head, &mut delivered).await;
                            }
                        }
                    }
                }
                if conn.is_none() {
                    let pos = vec![StreamPosition {
                        stream: StreamName::parse(&stream).unwrap(),
                        seq: last,
                    }];
                    conn = Some(
                        Client::connect(&app.addr, &session, None, pos)
                            .await
                            .unwrap()
                            .0,
                    );
                }
                read_until(conn.as_mut().unwrap(), &mut last, head, &mut delivered).await;
                let expected: Vec<u64> = (start + 1..=head).collect();
                assert_eq!(delivered, expected);
            });
            Ok(())
        })
        .unwrap();
}
