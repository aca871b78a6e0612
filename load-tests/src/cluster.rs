//! `cluster`: several `cflows` nodes on one `surreal` server, started here. Clients book,
//! confirm, move and cancel over sockets spread round-robin over the nodes (the `booking`
//! scenario's clients); a monitor on every node follows every team's stream. Reports
//! decisions/s, cross-node publish → receive latency (decided on node X, received on
//! node Y ≠ X), the feed's lag and fencing conflicts from each node's `/metrics`, and the
//! database server's CPU per event. Fails if a team is ever over capacity, an
//! acknowledged booking is missing at the end, or any monitor sees a gap.

use crate::booking::{
    Arrival, BookingLoad, Followed, Tally, check_final, decide, follow, monitor, per_client_rate,
    setup,
};
use crate::client::{Client, login};
use crate::scenarios::{Target, cpu_seconds, percentiles};
use anyhow::{Context, bail, ensure};
use cflows_protocol::BookingView;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the run is configured with.
#[derive(Clone, Debug)]
pub struct ClusterLoad {
    /// The `surreal` binary (SurrealDB 3 server).
    pub surreal_bin: PathBuf,
    /// The `cflows` binary every node runs.
    pub cflows_bin: PathBuf,
    /// How many `cflows` nodes.
    pub nodes: usize,
    /// Teams, clients, decisions per client and pacing, as in `booking`.
    pub booking: BookingLoad,
    /// Pin the database server and every node to this CPU.
    pub pin_server: Option<usize>,
}

const SURREAL_USER: &str = "root";
const SURREAL_PASS: &str = "cluster-load-pw";

/// A process started for the run; killed when dropped.
struct Process {
    child: Child,
    name: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited at start: {status}", self.name);
        }
        Ok(())
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<Stdio> {
    Ok(std::fs::File::create(dir.join(format!("{name}.log")))?.into())
}

/// Waits until `url` answers 200 (bounded), failing early if the process died.
async fn ready(http: &reqwest::Client, url: &str, p: &mut Process) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        p.exited()?;
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{} was not ready within 60 s ({url})", p.name)
}

fn start_node(
    load: &ClusterLoad,
    dir: &Path,
    i: usize,
    db_port: u16,
    password: &str,
) -> anyhow::Result<(Process, String)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let data = dir.join(format!("node-{i}"));
    std::fs::create_dir_all(&data)?;
    let child = Command::new(&load.cflows_bin)
        .arg("serve")
        .env("CFLOWS_HTTP__ADDR", &addr)
        .env("CFLOWS_DATA_DIR", &data)
        .env("CFLOWS_DATABASE__URL", format!("ws://127.0.0.1:{db_port}"))
        .env("CFLOWS_DATABASE__USERNAME", SURREAL_USER)
        .env("CFLOWS_DATABASE__PASSWORD", SURREAL_PASS)
        .env("CFLOWS_CLUSTER__NODES", load.nodes.to_string())
        .env("CFLOWS_DEMO_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .current_dir(&data)
        .stdout(log_file(dir, &format!("node-{i}"))?)
        .stderr(log_file(dir, &format!("node-{i}-err"))?)
        .spawn()
        .with_context(|| format!("cannot start {}", load.cflows_bin.display()))?;
    Ok((
        Process {
            child,
            name: format!("node {i} ({addr})"),
        },
        addr,
    ))
}

/// The booking's row as the database server holds it (JSON text), for a failure report.
async fn stored_row(http: &reqwest::Client, db_port: u16, id: &str) -> String {
    let sql = format!("SELECT * FROM booking WHERE record::id(id) = '{id}';");
    let answer = http
        .post(format!("http://127.0.0.1:{db_port}/sql"))
        .basic_auth(SURREAL_USER, Some(SURREAL_PASS))
        .header("surreal-ns", "cflows")
        .header("surreal-db", "cflows")
        .header("accept", "application/json")
        .body(sql)
        .send()
        .await;
    match answer {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => format!("not read: {e}"),
    }
}

/// One node's `/metrics`, as `name{labels}` → value.
async fn scrape(http: &reqwest::Client, addr: &str) -> anyhow::Result<HashMap<String, f64>> {
    let text = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

/// The sum of every series of `name` (whatever its labels).
fn total(m: &HashMap<String, f64>, name: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| *k == name || k.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

/// Runs the scenario.
///
/// # Errors
/// A process does not start, capacity is exceeded, an acknowledged booking is missing or
/// different, a monitor sees a gap, or the deadline passes.
pub async fn cluster(
    load: ClusterLoad,
    password: &str,
    deadline: Duration,
) -> anyhow::Result<String> {
    ensure!(load.nodes >= 2, "a cluster needs at least two nodes");
    let dir = std::env::temp_dir().join(format!("cflows-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&load, password, deadline, &dir).await;
    match result {
        Ok(_) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        // The processes' logs stay for a look.
        Err(_) => eprintln!("cluster: the nodes' logs are in {}", dir.display()),
    }
    result
}

async fn run(
    load: &ClusterLoad,
    password: &str,
    deadline: Duration,
    dir: &Path,
) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let db_port = free_port()?;
    let mut surreal = Process {
        child: Command::new(&load.surreal_bin)
            .args([
                "start",
                "--user",
                SURREAL_USER,
                "--pass",
                SURREAL_PASS,
                "--bind",
                &format!("127.0.0.1:{db_port}"),
                "memory",
            ])
            .stdout(log_file(dir, "surreal")?)
            .stderr(log_file(dir, "surreal-err")?)
            .spawn()
            .with_context(|| format!("cannot start {}", load.surreal_bin.display()))?,
        name: "surreal".into(),
    };
    ready(
        &http,
        &format!("http://127.0.0.1:{db_port}/health"),
        &mut surreal,
    )
    .await?;
    // The first node migrates and seeds the demo; the others start together after it.
    let mut nodes = Vec::with_capacity(load.nodes);
    let first = start_node(load, dir, 0, db_port, password)?;
    nodes.push(first);
    ready(
        &http,
        &format!("http://{}/readyz", nodes[0].1),
        &mut nodes[0].0,
    )
    .await?;
    for i in 1..load.nodes {
        nodes.push(start_node(load, dir, i, db_port, password)?);
    }
    for (p, addr) in &mut nodes {
        ready(&http, &format!("http://{addr}/readyz"), p).await?;
    }
    let mut pinned = String::new();
    if let Some(cpu) = load.pin_server {
        let mut threads = crate::pin::pin_process(surreal.pid(), cpu)?;
        for (p, _) in &nodes {
            threads += crate::pin::pin_process(p.pid(), cpu)?;
        }
        pinned = format!("- database server and nodes pinned to CPU {cpu} ({threads} threads)\n");
    }
    let targets: Vec<Target> = nodes
        .iter()
        .map(|(_, addr)| Target {
            addr: addr.clone(),
            email: "admin@demo-motors.example".into(),
            password: password.into(),
            server_pid: None,
            deadline,
        })
        .collect();
    // One session (sessions live in the store: every node knows it).
    let session = login(&targets[0].addr, &targets[0].email, password).await?;
    let setup = Arc::new(setup(&targets[0], &session, load.booking).await?);

    // A monitor on every node, following every team.
    let stop = Arc::new(AtomicBool::new(false));
    let overbooked = Arc::new(AtomicU64::new(0));
    let mut monitors = Vec::new();
    for t in &targets {
        let (mon, watched) = monitor(t, &session, &setup.teams).await?;
        // Other nodes' last events arrive a feed's lag late: a long quiet ends the drain.
        monitors.push(follow(
            mon,
            watched,
            stop.clone(),
            overbooked.clone(),
            Duration::from_secs(15),
        ));
    }
    // Clients round-robin over the nodes; client c talks to node c % nodes.
    let mut clients = Vec::with_capacity(load.booking.clients);
    for c in 0..load.booking.clients {
        let t = &targets[c % targets.len()];
        clients.push(Client::connect(&t.addr, &session, None, vec![]).await?.0);
    }

    // The feed's standing cost: the database server's CPU while every node only polls.
    let idle_secs = 3.0;
    let idle_before = cpu_seconds(surreal.pid());
    tokio::time::sleep(Duration::from_secs_f64(idle_secs)).await;
    let idle_cpu = match (idle_before, cpu_seconds(surreal.pid())) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };

    let mut metrics_before = Vec::new();
    for t in &targets {
        metrics_before.push(scrape(&http, &t.addr).await?);
    }
    let db_cpu_before = cpu_seconds(surreal.pid());
    let nodes_cpu_before: Option<f64> = nodes.iter().map(|(p, _)| cpu_seconds(p.pid())).sum();
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (c, client) in clients.into_iter().enumerate() {
        let node = c % targets.len();
        let work = decide(
            client,
            setup.clone(),
            tally.clone(),
            load.booking.decisions,
            per_client_rate(load.booking),
            deadline,
        );
        workers.spawn(async move { work.await.map(|(h, mine)| (node, h, mine)) });
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let mut acknowledged: HashMap<String, BookingView> = HashMap::new();
    // Which node decided each booking (a client only ever changes its own bookings).
    let mut decided_on: HashMap<String, usize> = HashMap::new();
    while let Some(r) = tokio::time::timeout(deadline, workers.join_next())
        .await
        .context("deadline passed while booking")?
    {
        let (node, h, mine) = r??;
        latency.add(h).ok();
        decided_on.extend(mine.keys().map(|id| (id.clone(), node)));
        acknowledged.extend(mine);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let db_cpu = match (db_cpu_before, cpu_seconds(surreal.pid())) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    let nodes_cpu_after: Option<f64> = nodes.iter().map(|(p, _)| cpu_seconds(p.pid())).sum();
    let nodes_cpu = nodes_cpu_after.zip(nodes_cpu_before).map(|(a, b)| a - b);

    // Every node's monitor must end with every event (the feed's lag is far below the
    // drain wait), gap-free, and agree with the store.
    stop.store(true, Ordering::Relaxed);
    let mut followed: Vec<Followed> = Vec::new();
    for m in monitors {
        followed.push(m.await??);
    }
    let over = overbooked.load(Ordering::Relaxed);
    ensure!(over == 0, "capacity exceeded after {over} events");
    let mut metrics_after = Vec::new();
    for t in &targets {
        metrics_after.push(scrape(&http, &t.addr).await?);
    }
    let stored = match check_final(&targets[1], &session, &setup, &acknowledged).await {
        Ok(stored) => stored,
        // Say what the database itself holds for the bookings the API did not show.
        Err(e) => {
            let mut what = String::new();
            for id in acknowledged
                .keys()
                .filter(|id| e.to_string().contains(id.as_str()))
            {
                what.push_str(&format!(
                    "; in the database: {}",
                    stored_row(&http, db_port, id).await
                ));
            }
            bail!("{e:#}{what}")
        }
    };
    let shown: Vec<(usize, u64)> = followed
        .iter()
        .map(|f| (f.watched.values().map(|w| w.bookings.len()).sum(), f.events))
        .collect();
    ensure!(
        shown.iter().all(|(n, _)| *n == stored.len()),
        "the nodes' monitors show (bookings, events) {shown:?}; the store has {} bookings",
        stored.len()
    );
    let events = followed[0].events;
    for (i, f) in followed.iter().enumerate() {
        ensure!(
            f.events == events,
            "node {i}'s monitor got {} events, node 0's {events}",
            f.events
        );
    }

    // Publish → receive: the node's decision time to the arrival on each monitor.
    let mut cross = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for (node, f) in followed.iter().enumerate() {
        for Arrival {
            booking,
            updated_at,
            received,
        } in &f.arrivals
        {
            let Some(&by) = decided_on.get(booking) else {
                continue;
            };
            let us = ((received - updated_at).max(0) as u64 * 1000).max(1);
            if by == node {
                local.record(us).ok();
            } else {
                cross.record(us).ok();
            }
        }
    }

    let accepted = tally.accepted.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    let conflicts = tally.conflicts.load(Ordering::Relaxed);
    let unavailable = tally.unavailable.load(Ordering::Relaxed);
    let not_found = tally.not_found.load(Ordering::Relaxed);
    ensure!(
        not_found == 0,
        "{not_found} changes of acknowledged bookings (all in the store) answered not_found by the node that made them"
    );
    let decisions = accepted + refused + conflicts + unavailable;
    let delta = |name: &str| -> f64 {
        metrics_after
            .iter()
            .zip(&metrics_before)
            .map(|(a, b)| total(a, name) - total(b, name))
            .sum()
    };
    let fenced = delta("cflows_journal_conflicts_total");
    let retried = delta("cflows_decisions_retried_total");
    let foreign = delta("cflows_feed_foreign_total");
    let mut lag_lines = String::new();
    for (i, m) in metrics_after.iter().enumerate() {
        let q = |q: &str| {
            m.get(&format!("cflows_feed_lag_seconds{{quantile=\"{q}\"}}"))
                .map_or("–".to_string(), |s| format!("{:.1} ms", s * 1000.0))
        };
        let b = &metrics_before[i];
        let rows =
            total(m, "cflows_feed_lag_seconds_count") - total(b, "cflows_feed_lag_seconds_count");
        let sum = total(m, "cflows_feed_lag_seconds_sum") - total(b, "cflows_feed_lag_seconds_sum");
        lag_lines.push_str(&format!(
            "  - node {i}: during the load {rows:.0} foreign rows, mean {:.1} ms; last minute p50 {} · p99 {} · p99.9 {} · max {}\n",
            sum / rows.max(1.0) * 1000.0,
            q("0.5"),
            q("0.99"),
            q("0.999"),
            q("1"),
        ));
    }
    let db_line = match (db_cpu, idle_cpu) {
        (Some(c), Some(idle)) => format!(
            "- database server CPU: {c:.2} s for {events} events = **{:.0} µs per event** (the writes themselves and {} nodes' feed reads); idle, {} nodes polling: {:.1} % of one core\n",
            c / events.max(1) as f64 * 1e6,
            load.nodes,
            load.nodes,
            idle / idle_secs * 100.0
        ),
        _ => String::new(),
    };
    let nodes_line = nodes_cpu.map_or(String::new(), |c| {
        format!(
            "- the {} nodes' CPU: {c:.2} s = {:.0} µs per event\n",
            load.nodes,
            c / events.max(1) as f64 * 1e6
        )
    });
    Ok(format!(
        "## cluster\n\n- {} nodes on one `surreal` server (memory storage), {} teams (capacities 1–3) · {} clients round-robin over the nodes × {} decisions, {}\n{pinned}- {decisions} decisions in {elapsed:.2} s: **{:.0} decisions/s** ({accepted} accepted and durable, {refused} refused for capacity, {conflicts} answered `conflict`, {unavailable} `unavailable`)\n- request → reply latency: {}\n- **cross-node publish → receive** (decided on node X, received on node Y ≠ X; {} arrivals): {}\n- same-node publish → receive, for comparison ({} arrivals): {}\n- feed lag (each node's `cflows_feed_lag_seconds`: a foreign row's server stamp to its hand-off there; {foreign:.0} foreign rows applied in all):\n{lag_lines}- fencing: {fenced:.0} decisions lost the fence ({:.1}/s), {retried:.0} decided again on the stored state ({:.1}/s)\n{db_line}{nodes_line}- {events} stream events on every node's monitor, each stream gap-free and in order; capacity never exceeded; {} acknowledged bookings all in the final state as acknowledged\n",
        load.nodes,
        load.booking.teams,
        load.booking.clients,
        load.booking.decisions,
        if load.booking.rate > 0.0 {
            format!("paced at {} decisions/s in all", load.booking.rate)
        } else {
            "each client as fast as its connection allows".to_string()
        },
        decisions as f64 / elapsed,
        percentiles(&latency),
        cross.len(),
        percentiles(&cross),
        local.len(),
        percentiles(&local),
        fenced / elapsed,
        retried / elapsed,
        acknowledged.len(),
    ))
}
