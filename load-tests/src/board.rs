//! `board`: many workflow boards, kiosk screens following them, and a stream of moves.
//! Setup creates `boards` workflows (a cycle of three steps and a terminal one) with
//! `items` items each, and kiosks scoped to a few boards each; `screens` kiosk sockets
//! follow their boards. `movers` member sockets move items along the cycle at the paced
//! rate (each mover owns its items, so no move races another). Reports accepted moves/s,
//! request → reply latency, and publish → screen latency (the card's commit time on the
//! server to its arrival on each screen); fails if a screen misses or reorders an event,
//! or if what the screens show at the end differs from the boards read over the API.

use crate::client::{Client, Session, login};
use crate::scenarios::{Target, api, cpu_seconds, percentiles};
use anyhow::{Context, bail, ensure};
use cflows_protocol::wire::{ClientMsg, Op, ReplyBody, ServerMsg, StreamEvent, StreamState};
use cflows_protocol::{BoardEvent, ItemId, MoveRequest, StreamName, WorkflowId};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the run is configured with.
#[derive(Clone, Copy, Debug)]
pub struct BoardLoad {
    pub boards: usize,
    pub items: usize,
    /// Kiosk screens (sockets), spread over the kiosks.
    pub screens: usize,
    /// Boards each kiosk shows.
    pub boards_per_kiosk: usize,
    pub movers: usize,
    /// Moves each mover makes.
    pub moves: usize,
    /// Moves per second all movers together aim at (0: each as fast as allowed).
    pub rate: f64,
}

/// Requests per second one mover sends at most (under the per-connection limit).
const PER_CLIENT_MAX: f64 = 45.0;
/// The cycle items go round: a → b → c → a.
const CYCLE: [&str; 3] = ["a", "b", "c"];

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn key(stamp: i64, i: usize) -> String {
    // 1–6 capitals/digits starting with a letter, unique per run and board.
    let n = (stamp / 1000 % 1000) as usize * 100 + i;
    let mut s = String::from("L");
    let mut x = n;
    for _ in 0..5 {
        s.push((b'A' + (x % 26) as u8) as char);
        x /= 26;
    }
    s
}

struct Setup {
    boards: Vec<WorkflowId>,
    /// (item, board index)
    items: Vec<(ItemId, usize)>,
    /// (kiosk token, its boards)
    kiosks: Vec<(String, Vec<usize>)>,
}

async fn setup(target: &Target, session: &Session, load: BoardLoad) -> anyhow::Result<Setup> {
    use reqwest::Method;
    let http = reqwest::Client::new();
    let stamp = now_ms();
    let step = |id: &str, start: bool, terminal: bool| serde_json::json!({"id": id, "name": format!("Step {id}"), "start": start, "terminal": terminal, "target_minutes": 60});
    let mut boards = Vec::with_capacity(load.boards);
    let mut items = Vec::new();
    for i in 0..load.boards {
        let w = api(
            &http,
            target,
            session,
            Method::POST,
            "/workflows",
            Some(serde_json::json!({
                "name": format!("Load board {stamp}-{i}"),
                "key": key(stamp, i),
                "steps": [step("a", true, false), step("b", false, false), step("c", false, false), step("done", false, true)],
                "transitions": [
                    {"from": "a", "to": "b", "label": "On"},
                    {"from": "b", "to": "c", "label": "On"},
                    {"from": "c", "to": "a", "label": "Again"},
                    {"from": "c", "to": "done", "label": "Finish"},
                ],
            })),
        )
        .await?;
        let id = WorkflowId::new(w["id"].as_str().context("workflow id")?);
        for n in 0..load.items {
            let item = api(
                &http,
                target,
                session,
                Method::POST,
                &format!("/workflows/{id}/items"),
                Some(serde_json::json!({"title": format!("Vehicle {n}")})),
            )
            .await?;
            items.push((ItemId::new(item["id"].as_str().context("item id")?), i));
        }
        boards.push(id);
    }
    // Kiosks: each shows `boards_per_kiosk` consecutive boards (at most 100 kiosks).
    let per = load.boards_per_kiosk.clamp(1, load.boards);
    let count = load.boards.div_ceil(per).min(100);
    let mut kiosks = Vec::with_capacity(count);
    for k in 0..count {
        let shown: Vec<usize> = (0..per).map(|j| (k * per + j) % load.boards).collect();
        let created = api(
            &http,
            target,
            session,
            Method::POST,
            "/kiosks",
            Some(serde_json::json!({
                "name": format!("Load screen {stamp}-{k}"),
                "scope": {"boards": shown.iter().map(|b| &boards[*b]).collect::<Vec<_>>(), "cycle_seconds": 20},
            })),
        )
        .await?;
        let token = created["link"]
            .as_str()
            .context("kiosk link")?
            .trim_start_matches("/kiosk/k/")
            .to_string();
        kiosks.push((token, shown));
    }
    Ok(Setup {
        boards,
        items,
        kiosks,
    })
}

/// What one screen saw.
struct Seen {
    /// Board stream → last seq.
    seq: HashMap<StreamName, u64>,
    /// Item → its last step.
    steps: HashMap<ItemId, String>,
    latency: Histogram<u64>,
    events: u64,
}

/// A kiosk screen: subscribes to its boards, then follows them until `stop`, checking
/// that each stream's seq grows by one.
async fn screen(
    addr: String,
    token: String,
    boards: Vec<WorkflowId>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Seen> {
    let (mut c, _) = Client::connect_kiosk(&addr, &token).await?;
    let mut seen = Seen {
        seq: HashMap::new(),
        steps: HashMap::new(),
        latency: Histogram::new_with_bounds(1, 600_000, 3).expect("bounds"),
        events: 0,
    };
    for b in &boards {
        c.send(&ClientMsg::Subscribe {
            stream: StreamName::Board(b.clone()),
            after: None,
        })
        .await?;
    }
    let mut quiet = 0;
    loop {
        let msg = match c.recv_within(Duration::from_millis(250)).await {
            Ok(m) => m,
            Err(_) if stop.load(Ordering::Relaxed) => {
                quiet += 1;
                if quiet >= 4 {
                    break;
                }
                continue;
            }
            Err(_) => continue,
        };
        quiet = 0;
        match msg {
            ServerMsg::Snapshot {
                stream,
                seq,
                state: StreamState::Board(s),
                ..
            } => {
                seen.seq.insert(stream, seq);
                for card in s.cards {
                    seen.steps.insert(card.id, card.step);
                }
            }
            ServerMsg::Event {
                stream,
                seq,
                event: StreamEvent::Board(e),
            } => {
                let last = seen
                    .seq
                    .get(&stream)
                    .copied()
                    .context("an event before its snapshot")?;
                ensure!(seq == last + 1, "{stream}: seq {seq} after {last}");
                seen.seq.insert(stream, seq);
                seen.events += 1;
                if let BoardEvent::CardAdded { card } | BoardEvent::CardChanged { card } = e {
                    let lag = (now_ms() - card.updated_at).max(0) as u64;
                    seen.latency.record(lag.max(1) * 1000).ok();
                    seen.steps.insert(card.id, card.step);
                }
            }
            ServerMsg::Pong { .. } => {}
            other => bail!("screen: unexpected {other:?}"),
        }
    }
    Ok(seen)
}

/// Runs the scenario.
///
/// # Errors
/// A screen missed or reordered an event, ended showing something else than the boards,
/// a move was refused, or the deadline passed.
pub async fn board(target: &Target, load: BoardLoad) -> anyhow::Result<String> {
    ensure!(
        load.boards > 0 && load.items > 0 && load.movers > 0,
        "boards, items and movers must be positive"
    );
    let session = login(&target.addr, &target.email, &target.password).await?;
    let setup = setup(target, &session, load).await?;
    let stop = Arc::new(AtomicBool::new(false));
    // Screens, spread over the kiosks.
    let mut screens = tokio::task::JoinSet::new();
    for s in 0..load.screens {
        let (token, shown) = &setup.kiosks[s % setup.kiosks.len()];
        let boards = shown.iter().map(|b| setup.boards[*b].clone()).collect();
        screens.spawn(screen(
            target.addr.clone(),
            token.clone(),
            boards,
            stop.clone(),
        ));
        if s % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Let every screen take its snapshots before the moves begin.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let moved = Arc::new(AtomicU64::new(0));
    let mut movers = tokio::task::JoinSet::new();
    let cpu_before = target.server_pid.and_then(cpu_seconds);
    let started = Instant::now();
    for m in 0..load.movers {
        let mine: Vec<ItemId> = setup
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| i % load.movers == m)
            .map(|(_, (id, _))| id.clone())
            .collect();
        if mine.is_empty() {
            continue;
        }
        let (mut c, _) = Client::connect(&target.addr, &session, None, vec![]).await?;
        let per_client = if load.rate > 0.0 {
            (load.rate / load.movers as f64).min(PER_CLIENT_MAX)
        } else {
            PER_CLIENT_MAX
        };
        let (moved, deadline, moves) = (moved.clone(), target.deadline, load.moves);
        movers.spawn(async move {
            let mut at: HashMap<ItemId, usize> = mine.iter().map(|i| (i.clone(), 0)).collect();
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_client));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            for n in 0..moves {
                tick.tick().await;
                let item = &mine[n % mine.len()];
                let from = at[item];
                let to = (from + 1) % CYCLE.len();
                let id = n as u32 + 1;
                let sent = Instant::now();
                c.send(&ClientMsg::Request {
                    id,
                    op: Op::MoveItem {
                        item: item.clone(),
                        change: MoveRequest {
                            from: CYCLE[from].into(),
                            to: CYCLE[to].into(),
                            comment: None,
                            booking_start: None,
                        },
                    },
                })
                .await?;
                loop {
                    match c.recv_within(deadline).await? {
                        ServerMsg::Reply {
                            id: got,
                            ok: Some(ReplyBody::Item { .. }),
                            ..
                        } if got == id => break,
                        ServerMsg::Reply { error: Some(e), .. } => {
                            bail!("move refused: {:?} {}", e.code, e.message)
                        }
                        ServerMsg::Pong { .. } => {}
                        other => bail!("mover: unexpected {other:?}"),
                    }
                }
                h.record(sent.elapsed().as_micros().max(1) as u64).ok();
                at.insert(item.clone(), to);
                moved.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(h)
        });
    }
    let mut reply = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    while let Some(r) = tokio::time::timeout(target.deadline, movers.join_next())
        .await
        .context("deadline passed while moving")?
    {
        reply.add(r??).ok();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, target.server_pid.and_then(cpu_seconds)) {
        (Some(b), Some(a)) if a > b => Some(a - b),
        _ => None,
    };
    stop.store(true, Ordering::Relaxed);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    let mut delivered = 0u64;
    let mut shown: HashMap<ItemId, String> = HashMap::new();
    let mut screens_done = 0;
    while let Some(r) = tokio::time::timeout(target.deadline, screens.join_next())
        .await
        .context("deadline passed while the screens drained")?
    {
        let seen = r??;
        latency.add(seen.latency).ok();
        delivered += seen.events;
        shown.extend(seen.steps);
        screens_done += 1;
    }
    // What the screens show is what the boards hold.
    let http = reqwest::Client::new();
    for b in &setup.boards {
        let snap = api(
            &http,
            target,
            &session,
            reqwest::Method::GET,
            &format!("/workflows/{b}/board"),
            None,
        )
        .await?;
        for card in snap["cards"].as_array().context("cards")? {
            let id = ItemId::new(card["id"].as_str().context("card id")?);
            if let Some(step) = shown.get(&id) {
                ensure!(
                    Some(step.as_str()) == card["step"].as_str(),
                    "a screen shows {id} in {step}, the board has it in {}",
                    card["step"]
                );
            }
        }
    }
    let moves = moved.load(Ordering::Relaxed);
    let cpu_line = cpu.map_or(String::new(), |c| {
        format!(
            "- server CPU {c:.2} s: **{:.0} moves per server CPU-second**, {:.0} screen frames per CPU-second\n",
            moves as f64 / c,
            delivered as f64 / c
        )
    });
    Ok(format!(
        "## board\n\n- {} boards × {} items · {} kiosks ({} boards each) · {screens_done} screens · {} movers × {} moves, {}\n- {moves} moves in {elapsed:.2} s: **{:.0} moves/s**, every one accepted and durable\n{cpu_line}- move request → reply: {}\n- publish → screen (server commit time to arrival, ms resolution): **{}**\n- {delivered} board events delivered to screens, each stream gap-free and in order; every screen ends showing what the boards hold\n",
        load.boards,
        load.items,
        setup.kiosks.len(),
        load.boards_per_kiosk,
        load.movers,
        load.moves,
        if load.rate > 0.0 {
            format!("paced at {} moves/s in all", load.rate)
        } else {
            format!("each mover at most {PER_CLIENT_MAX} per second")
        },
        moves as f64 / elapsed,
        percentiles(&reply),
        percentiles(&latency),
    ))
}
