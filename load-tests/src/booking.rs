//! `booking`: many clients hold, confirm, cancel and reschedule on teams with small
//! capacities, over their sockets. A monitor connection follows every team's stream
//! from its snapshot and checks, after every event, that no instant holds more members
//! than the team's capacity; at the end every acknowledged booking must be in the
//! final state as acknowledged. Reports decisions/s and request→reply latency.

use crate::client::{Client, Session, login};
use crate::scenarios::{Target, api, cpu_seconds, percentiles};
use anyhow::{Context, bail, ensure};
use cflows_protocol::wire::{
    ClientMsg, NewBooking, Op, ReplyBody, ServerMsg, StreamEvent, StreamState,
};
use cflows_protocol::{BookingState, BookingView, ErrorCode, StreamName, TeamEvent, TeamId};
use hdrhistogram::Histogram;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;
/// Slots per team the clients fight over (one-hour slots on one far-away day).
const SLOTS: i64 = 8;

/// What the run is configured with.
#[derive(Clone, Copy, Debug)]
pub struct BookingLoad {
    /// Teams created for the run.
    pub teams: usize,
    /// Concurrent clients (one socket each, one request in flight each).
    pub clients: usize,
    /// Decisions each client asks for.
    pub decisions: usize,
    /// Decisions per second all clients together aim at (0: as fast as each client's
    /// connection allows — never above the server's per-connection request limit).
    pub rate: f64,
}

/// Requests per second one client sends at most: under the server's default limit of
/// 50 per connection (PROTOCOL.md), so the generator never trips it.
const PER_CLIENT_MAX: f64 = 45.0;

/// What [`setup`] made for a run.
pub struct Setup {
    /// Each team and its capacity (1–3).
    pub teams: Vec<(TeamId, u32)>,
    /// A one-hour job type.
    pub job_type: String,
    /// Midnight (UTC, Unix ms) of a day nobody has booked: the slots are its first hours.
    pub day: i64,
}

/// Creates a job type and `load.teams` teams (capacities 1–3, open every hour) as the
/// session's organization admin.
///
/// # Errors
/// The API refuses or the organization has no active members.
pub async fn setup(target: &Target, session: &Session, load: BookingLoad) -> anyhow::Result<Setup> {
    use reqwest::Method;
    let http = reqwest::Client::new();
    let stamp = chrono::Utc::now().timestamp_millis();
    let members = api(&http, target, session, Method::GET, "/members", None).await?;
    let ids: Vec<String> = members
        .as_array()
        .context("members")?
        .iter()
        .filter(|m| m["active"].as_bool() == Some(true))
        .filter_map(|m| m["user"]["id"].as_str().map(str::to_string))
        .take(3)
        .collect();
    ensure!(!ids.is_empty(), "the organization has no active members");
    let job = api(
        &http,
        target,
        session,
        Method::POST,
        "/job-types",
        Some(serde_json::json!({"name": format!("Load job {stamp}"), "duration_minutes": 60})),
    )
    .await?;
    let job_type = job["id"].as_str().context("job type id")?.to_string();
    let hours = serde_json::json!({
        "zone": "UTC",
        "weekly": (1..=7).map(|d| serde_json::json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "closed": [],
        "hold_minutes": 60
    });
    let mut teams = Vec::with_capacity(load.teams);
    for i in 0..load.teams {
        // Capacities 1..=3 (bounded by the members there are).
        let capacity = (1 + i % 3).min(ids.len()) as u32;
        let team = api(
            &http,
            target,
            session,
            Method::POST,
            "/teams",
            Some(serde_json::json!({
                "name": format!("Load bay {stamp}-{i}"),
                "members": ids,
                "bookable_count": capacity,
            })),
        )
        .await?;
        let id = team["id"].as_str().context("team id")?.to_string();
        api(
            &http,
            target,
            session,
            Method::PUT,
            &format!("/teams/{id}/hours"),
            Some(hours.clone()),
        )
        .await?;
        teams.push((TeamId::new(id), capacity));
    }
    // A day nobody has booked yet: ~3 years out, moved by the run's stamp.
    let day = {
        let base = stamp + 1000 * 24 * HOUR + (stamp / 1000 % 500) * 24 * HOUR;
        base - base.rem_euclid(24 * HOUR)
    };
    Ok(Setup {
        teams,
        job_type,
        day,
    })
}

/// One team's bookings as the monitor sees them, checked after every event.
#[derive(Default)]
pub(crate) struct Watched {
    pub(crate) capacity: u32,
    pub(crate) bookings: BTreeMap<String, BookingView>,
}

impl Watched {
    fn apply(&mut self, e: TeamEvent) {
        match e {
            TeamEvent::BookingCreated { booking }
            | TeamEvent::BookingConfirmed { booking }
            | TeamEvent::BookingChanged { booking }
            | TeamEvent::BookingCompleted { booking }
            | TeamEvent::BookingCancelled { booking }
            | TeamEvent::HoldExpired { booking } => {
                if booking.state.is_released() {
                    self.bookings.remove(&booking.id);
                } else {
                    self.bookings.insert(booking.id.clone(), booking);
                }
            }
            TeamEvent::CapacityChanged { capacity } => self.capacity = capacity,
            _ => {}
        }
    }

    /// Members taken at the busiest instant.
    fn peak(&self) -> u32 {
        let mut edges: Vec<(i64, i64)> = Vec::new();
        for b in self.bookings.values() {
            edges.push((b.start, i64::from(b.members_required)));
            edges.push((b.end, -i64::from(b.members_required)));
        }
        edges.sort();
        let (mut now, mut peak) = (0i64, 0i64);
        for (_, d) in edges {
            now += d;
            peak = peak.max(now);
        }
        peak as u32
    }
}

/// Follows every team's stream; fails the run on the first event after which a team is
/// over capacity.
pub(crate) async fn monitor(
    target: &Target,
    session: &Session,
    teams: &[(TeamId, u32)],
) -> anyhow::Result<(Client, HashMap<StreamName, (u64, Watched)>)> {
    let (mut c, _) = Client::connect(&target.addr, session, None, vec![]).await?;
    let mut watched = HashMap::new();
    for (team, _) in teams {
        c.send(&ClientMsg::Subscribe {
            stream: StreamName::Team(team.clone()),
            after: None,
        })
        .await?;
    }
    while watched.len() < teams.len() {
        match c.recv_within(Duration::from_secs(30)).await? {
            ServerMsg::Snapshot {
                stream,
                seq,
                state: StreamState::Team(s),
                ..
            } => {
                let mut w = Watched {
                    capacity: s.capacity,
                    ..Watched::default()
                };
                for b in s.bookings {
                    w.bookings.insert(b.id.clone(), b);
                }
                watched.insert(stream, (seq, w));
            }
            other => bail!("monitor: unexpected {other:?}"),
        }
    }
    Ok((c, watched))
}

/// Decisions as the clients were answered.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    /// Answered `unavailable` (the node timed out waiting on the database: overload).
    /// The booking it changed is left alone afterwards: the change may have committed.
    pub(crate) unavailable: AtomicU64,
    /// A change of the client's own acknowledged booking answered `not_found` (kept
    /// going, so the final check tells whether the booking is really gone).
    pub(crate) not_found: AtomicU64,
}

/// One booking event as a monitor received it: which booking, the node's decision time
/// (`updated_at`), and when it arrived here (both Unix ms).
pub(crate) struct Arrival {
    pub(crate) booking: String,
    pub(crate) updated_at: i64,
    pub(crate) received: i64,
}

/// What a monitor saw from its snapshot to the end of the run.
pub(crate) struct Followed {
    pub(crate) events: u64,
    pub(crate) watched: HashMap<StreamName, Watched>,
    pub(crate) arrivals: Vec<Arrival>,
}

/// Follows the monitor's streams until `stop` (then drains what is in flight, until
/// nothing came for `drain`): applies
/// every event, counts each one after which a team is over capacity into `overbooked`,
/// and fails on a gap or a repeat in any stream's `seq`.
pub(crate) fn follow(
    mut mon: Client,
    watched: HashMap<StreamName, (u64, Watched)>,
    stop: Arc<AtomicBool>,
    overbooked: Arc<AtomicU64>,
    drain: Duration,
) -> tokio::task::JoinHandle<anyhow::Result<Followed>> {
    tokio::spawn(async move {
        let (mut seqs, mut watched): (HashMap<_, _>, HashMap<_, _>) = watched
            .into_iter()
            .map(|(s, (seq, w))| ((s.clone(), seq), (s, w)))
            .unzip();
        let mut events = 0u64;
        let mut arrivals = Vec::new();
        let mut draining = false;
        loop {
            if !draining && stop.load(Ordering::Relaxed) {
                draining = true;
            }
            let wait = if draining {
                drain
            } else {
                Duration::from_millis(200)
            };
            let msg = match mon.recv_within(wait).await {
                Ok(m) => m,
                Err(_) if draining => break,
                Err(_) => continue,
            };
            let ServerMsg::Event {
                stream,
                seq,
                event: StreamEvent::Team(e),
            } = msg
            else {
                bail!("monitor: unexpected {msg:?}");
            };
            let last = seqs
                .get_mut(&stream)
                .context("an event of an unwatched stream")?;
            ensure!(
                seq == *last + 1,
                "{stream}: event {seq} arrived after {last} (a gap or a repeat)"
            );
            *last = seq;
            events += 1;
            if let Some(b) = booking_of(&e) {
                arrivals.push(Arrival {
                    booking: b.id.clone(),
                    updated_at: b.updated_at,
                    received: chrono::Utc::now().timestamp_millis(),
                });
            }
            let w = watched.get_mut(&stream).context("a watched team")?;
            w.apply(e);
            if w.peak() > w.capacity {
                overbooked.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(Followed {
            events,
            watched,
            arrivals,
        })
    })
}

fn booking_of(e: &TeamEvent) -> Option<&BookingView> {
    match e {
        TeamEvent::BookingCreated { booking }
        | TeamEvent::BookingConfirmed { booking }
        | TeamEvent::BookingChanged { booking }
        | TeamEvent::BookingCompleted { booking }
        | TeamEvent::BookingCancelled { booking }
        | TeamEvent::HoldExpired { booking } => Some(booking),
        _ => None,
    }
}

/// Decisions per second one client asks for.
pub(crate) fn per_client_rate(load: BookingLoad) -> f64 {
    if load.rate > 0.0 {
        (load.rate / load.clients as f64).min(PER_CLIENT_MAX)
    } else {
        PER_CLIENT_MAX
    }
}

/// One client's run: `decisions` holds, confirms, moves and cancels of its own bookings,
/// paced at `per_client` per second. Returns its request → reply latencies (µs) and the
/// bookings as it was last told them.
///
/// # Errors
/// A refusal other than `no_capacity`/`conflict`, a broken connection or the deadline.
pub(crate) async fn decide(
    mut c: Client,
    setup: Arc<Setup>,
    tally: Arc<Tally>,
    decisions: usize,
    per_client: f64,
    deadline: Duration,
) -> anyhow::Result<(Histogram<u64>, HashMap<String, BookingView>)> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_client));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    // What this client was told: booking id → booking.
    let mut mine: HashMap<String, BookingView> = HashMap::new();
    let mut id = 0u32;
    for _ in 0..decisions {
        tick.tick().await;
        let op = next_op(&setup, &mine);
        let asked = format!("{op:?}");
        let changes = match &op {
            Op::ConfirmBooking { booking, .. }
            | Op::MoveBooking { booking, .. }
            | Op::CancelBooking { booking, .. } => Some(booking.clone()),
            _ => None,
        };
        id += 1;
        let sent = Instant::now();
        c.send(&ClientMsg::Request { id, op }).await?;
        let reply = loop {
            match c.recv_within(deadline).await? {
                r @ ServerMsg::Reply { .. } => break r,
                ServerMsg::Pong { .. } => {}
                other => bail!("unexpected {other:?}"),
            }
        };
        h.record(sent.elapsed().as_micros().max(1) as u64).ok();
        match reply {
            ServerMsg::Reply {
                id: got,
                ok: Some(ReplyBody::Booking { booking }),
                ..
            } if got == id => {
                tally.accepted.fetch_add(1, Ordering::Relaxed);
                mine.insert(booking.id.clone(), *booking);
            }
            ServerMsg::Reply {
                id: got,
                error: Some(e),
                ..
            } if got == id => match e.code {
                ErrorCode::NoCapacity => {
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                }
                ErrorCode::Conflict => {
                    tally.conflicts.fetch_add(1, Ordering::Relaxed);
                }
                // The node gave up waiting; the decision may still commit after this
                // answer, so what became of the booking is unknown: leave it alone.
                ErrorCode::Unavailable => {
                    tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    if let Some(b) = &changes {
                        mine.remove(b);
                    }
                }
                ErrorCode::NotFound if !asked.starts_with("HoldBooking") => {
                    eprintln!("{asked} refused with not_found");
                    tally.not_found.fetch_add(1, Ordering::Relaxed);
                }
                other => bail!("{asked} refused with {other:?}: {}", e.message),
            },
            other => bail!("unexpected reply {other:?}"),
        }
    }
    Ok((h, mine))
}

/// The next decision of a client that holds `mine`: a new hold (45 %, a tenth of them
/// confirmed at once), else a confirm, move or cancel of one of its live bookings.
fn next_op(setup: &Setup, mine: &HashMap<String, BookingView>) -> Op {
    let mut rng = rand::rng();
    let live: Vec<&BookingView> = mine
        .values()
        .filter(|b| matches!(b.state, BookingState::Held | BookingState::Confirmed))
        .collect();
    let roll = rng.random_range(0..100);
    if live.is_empty() || roll < 45 {
        let (team, _) = &setup.teams[rng.random_range(0..setup.teams.len())];
        Op::HoldBooking {
            team: team.clone(),
            booking: NewBooking {
                job_type: setup.job_type.clone(),
                start: setup.day + rng.random_range(0..SLOTS) * HOUR,
                end: None,
                members_required: Some(1),
                title: None,
                confirm: roll < 10,
                hold_seconds: Some(3600),
                waitlist: false,
                assigned: vec![],
                work_item: None,
                step: None,
            },
        }
    } else {
        let b = live[rng.random_range(0..live.len())];
        match roll {
            45..=69 if b.state == BookingState::Held => Op::ConfirmBooking {
                team: b.team.clone(),
                booking: b.id.clone(),
            },
            45..=84 => Op::MoveBooking {
                team: b.team.clone(),
                booking: b.id.clone(),
                start: setup.day + rng.random_range(0..SLOTS) * HOUR,
                end: None,
            },
            _ => Op::CancelBooking {
                team: b.team.clone(),
                booking: b.id.clone(),
            },
        }
    }
}

/// Reads every team's bookings back over `target`'s API: no team over capacity, every
/// acknowledged booking there as acknowledged (cancelled ones gone). Returns the stored
/// bookings.
///
/// # Errors
/// Any of those does not hold, or the API fails.
pub(crate) async fn check_final(
    target: &Target,
    session: &Session,
    setup: &Setup,
    acknowledged: &HashMap<String, BookingView>,
) -> anyhow::Result<HashMap<String, BookingView>> {
    let http = reqwest::Client::new();
    let mut stored: HashMap<String, BookingView> = HashMap::new();
    for (team, capacity) in &setup.teams {
        let list = api(
            &http,
            target,
            session,
            reqwest::Method::GET,
            &format!(
                "/teams/{team}/bookings?from={}&to={}",
                setup.day,
                setup.day + 24 * HOUR
            ),
            None,
        )
        .await?;
        let list: Vec<BookingView> = serde_json::from_value(list)?;
        let w = Watched {
            capacity: *capacity,
            bookings: list.iter().map(|b| (b.id.clone(), b.clone())).collect(),
        };
        ensure!(w.peak() <= *capacity, "team {team} ends over capacity");
        stored.extend(list.into_iter().map(|b| (b.id.clone(), b)));
    }
    for (id, b) in acknowledged {
        match (b.state, stored.get(id)) {
            (BookingState::Cancelled, None) => {}
            (BookingState::Cancelled, Some(s)) => {
                bail!("cancelled booking {id} is stored as {:?}", s.state)
            }
            (_, None) => bail!("acknowledged booking {id} is missing"),
            (_, Some(s)) => ensure!(
                (s.start, s.end, s.state) == (b.start, b.end, b.state),
                "booking {id} differs from what was acknowledged"
            ),
        }
    }
    Ok(stored)
}

/// Runs the scenario.
///
/// # Errors
/// Capacity exceeded, an acknowledged booking missing or different, or the deadline.
pub async fn booking(target: &Target, load: BookingLoad) -> anyhow::Result<String> {
    let session = login(&target.addr, &target.email, &target.password).await?;
    let setup = Arc::new(setup(target, &session, load).await?);
    let (mon, watched) = monitor(target, &session, &setup.teams).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let overbooked = Arc::new(AtomicU64::new(0));
    let monitor_task = follow(
        mon,
        watched,
        stop.clone(),
        overbooked.clone(),
        Duration::from_millis(500),
    );

    let tally = Arc::new(Tally::default());
    let mut clients = Vec::with_capacity(load.clients);
    for _ in 0..load.clients {
        clients.push(
            Client::connect(&target.addr, &session, None, vec![])
                .await?
                .0,
        );
    }
    let cpu_before = target.server_pid.and_then(cpu_seconds);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for c in clients {
        workers.spawn(decide(
            c,
            setup.clone(),
            tally.clone(),
            load.decisions,
            per_client_rate(load),
            target.deadline,
        ));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let mut acknowledged: HashMap<String, BookingView> = HashMap::new();
    while let Some(r) = tokio::time::timeout(target.deadline, workers.join_next())
        .await
        .context("deadline passed while booking")?
    {
        let (h, mine) = r??;
        latency.add(h).ok();
        acknowledged.extend(mine);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, target.server_pid.and_then(cpu_seconds)) {
        (Some(b), Some(a)) if a > b => Some(a - b),
        _ => None,
    };
    stop.store(true, Ordering::Relaxed);
    let Followed {
        events, watched, ..
    } = monitor_task.await??;
    let over = overbooked.load(Ordering::Relaxed);
    ensure!(over == 0, "capacity exceeded after {over} events");

    // Final state, read back over the API: every acknowledged booking as acknowledged.
    let stored = check_final(target, &session, &setup, &acknowledged).await?;
    let watched_total: usize = watched.values().map(|w| w.bookings.len()).sum();
    ensure!(
        watched_total == stored.len(),
        "the streams show {watched_total} bookings, the API {}",
        stored.len()
    );
    let accepted = tally.accepted.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    let conflicts = tally.conflicts.load(Ordering::Relaxed);
    let unavailable = tally.unavailable.load(Ordering::Relaxed);
    ensure!(
        unavailable == 0,
        "{unavailable} decisions answered unavailable"
    );
    let not_found = tally.not_found.load(Ordering::Relaxed);
    ensure!(
        not_found == 0,
        "{not_found} changes of acknowledged bookings answered not_found"
    );
    let decisions = accepted + refused + conflicts;
    let cpu_line = cpu.map_or(String::new(), |c| {
        format!(
            "- server CPU {c:.2} s: **{:.0} decisions per server CPU-second**\n",
            decisions as f64 / c
        )
    });
    Ok(format!(
        "## booking\n\n- {} teams (capacities 1–3, {SLOTS} one-hour slots each) · {} clients × {} decisions, {}\n- {decisions} decisions in {elapsed:.2} s: **{:.0} decisions/s** ({accepted} accepted and durable, {refused} refused for capacity, {conflicts} conflicts)\n{cpu_line}- request → reply latency: {}\n- {events} stream events checked one by one: capacity never exceeded; {} acknowledged bookings all in the final state as acknowledged\n",
        load.teams,
        load.clients,
        load.decisions,
        if load.rate > 0.0 {
            format!("paced at {} decisions/s in all", load.rate)
        } else {
            format!("each client at most {PER_CLIENT_MAX} per second")
        },
        decisions as f64 / elapsed,
        percentiles(&latency),
        acknowledged.len(),
    ))
}
