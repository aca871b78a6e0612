//! Load scenarios. Each is bounded in connections and time, talks only to the loopback
//! server it is given, checks its invariants, and returns a Markdown section.

use crate::client::{Client, Session, login};
use anyhow::{Context, bail, ensure};
use cflows_protocol::wire::{ClientMsg, ServerMsg, StreamPosition};
use cflows_protocol::{OrgId, StreamName};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Barrier;

/// Where and as whom to run.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port`; must be a loopback address.
    pub addr: String,
    pub email: String,
    pub password: String,
    /// The server's process id, to read its memory (Linux `/proc`).
    pub server_pid: Option<u32>,
    /// Hard limit on a scenario's duration.
    pub deadline: Duration,
}

impl Target {
    /// Refuses anything but loopback.
    ///
    /// # Errors
    /// A non-loopback address.
    pub fn check(&self) -> anyhow::Result<()> {
        let host = self
            .addr
            .rsplit_once(':')
            .map_or(self.addr.as_str(), |(h, _)| h);
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        ensure!(
            loopback,
            "load tests only target loopback addresses, not {host}"
        );
        Ok(())
    }
}

/// CPU seconds (user + system) the server process has used so far, from `/proc/{pid}/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// The server's resident memory in KiB, from `/proc/{pid}/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn org_stream(target: &Target, session: &Session) -> anyhow::Result<StreamName> {
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/me", target.addr))
        .header("cookie", &session.cookie)
        .send()
        .await?
        .json()
        .await?;
    let org = me["org"]["org"]["id"]
        .as_str()
        .context("the load user has no active organization")?;
    Ok(StreamName::Org(OrgId::new(org)))
}

/// Opens a connection subscribed to `stream` and waits for its snapshot.
async fn subscriber(
    target: &Target,
    session: &Session,
    stream: &StreamName,
) -> anyhow::Result<(Client, u64)> {
    let (mut c, _) = Client::connect(&target.addr, session, None, vec![]).await?;
    c.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await?;
    loop {
        if let ServerMsg::Snapshot { seq, .. } = c.recv_within(Duration::from_secs(30)).await? {
            return Ok((c, seq));
        }
    }
}

/// Opens `n` subscribers of `stream`, at most 256 handshakes at a time.
fn open_subscribers(
    target: &Target,
    session: &Session,
    stream: &StreamName,
    n: usize,
) -> tokio::task::JoinSet<anyhow::Result<(Client, u64)>> {
    let parallel = Arc::new(tokio::sync::Semaphore::new(256));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (t, s, st, p) = (
            target.clone(),
            session.clone(),
            stream.clone(),
            parallel.clone(),
        );
        set.spawn(async move {
            let _permit = p.acquire().await;
            subscriber(&t, &s, &st).await
        });
    }
    set
}

/// `p50 … · p99 … · p99.9 … · max …` in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms · p99 {:.2} ms · p99.9 {:.2} ms · max {:.2} ms",
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    )
}

/// `connect`: N connections authenticated and subscribed to the org stream.
///
/// # Errors
/// A connection failed or the deadline passed.
pub async fn connect(target: &Target, n: usize) -> anyhow::Result<String> {
    let session = login(&target.addr, &target.email, &target.password).await?;
    let stream = org_stream(target, &session).await?;
    let before = target.server_pid.and_then(rss_kib);
    let started = Instant::now();
    let mut clients = Vec::with_capacity(n);
    let mut tasks = open_subscribers(target, &session, &stream, n);
    while let Some(r) = tokio::time::timeout(target.deadline, tasks.join_next())
        .await
        .context("deadline passed while connecting")?
    {
        clients.push(r??.0);
    }
    let elapsed = started.elapsed();
    // Let the server settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = target.server_pid.and_then(rss_kib);
    let memory = match (before, after) {
        (Some(b), Some(a)) => format!(
            "server RSS {b} KiB → {a} KiB: **{:.1} KiB per subscribed connection**",
            a.saturating_sub(b) as f64 / n as f64
        ),
        _ => "server RSS not measured (pass --server-pid)".into(),
    };
    let report = format!(
        "## connect\n\n- {n} connections logged in, welcomed and subscribed to `{stream}` in {:.2} s (**{:.0} connections/s**)\n- {memory}\n",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    drop(clients);
    Ok(report)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A team the writer updates; its description carries the send time.
async fn writer_team(target: &Target, session: &Session) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("http://{}/api/v1/teams", target.addr))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&serde_json::json!({ "name": format!("Load {}", now_micros()) }))
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "cannot create the load team: {}",
        resp.status()
    );
    let team: serde_json::Value = resp.json().await?;
    Ok(team["id"].as_str().context("team id")?.to_string())
}

async fn write_stamp(
    http: &reqwest::Client,
    target: &Target,
    session: &Session,
    team: &str,
    name: &str,
) -> anyhow::Result<()> {
    let resp = http
        .put(format!("http://{}/api/v1/teams/{team}", target.addr))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&serde_json::json!({ "name": name, "description": format!("t={}", now_micros()) }))
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "write failed: {}",
        resp.status()
    );
    Ok(())
}

/// The few fields `fanout` reads of a frame, decoded in place without building the
/// whole message: the load client reads tens of thousands of frames per second on one
/// core, and its own decoding must not be what the latency measures.
#[derive(serde::Deserialize)]
struct Stamped<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<u64>,
    #[serde(borrow)]
    event: Option<StampedEvent<'a>>,
}

#[derive(serde::Deserialize)]
struct StampedEvent<'a> {
    #[serde(borrow)]
    team: Option<StampedTeam<'a>>,
}

#[derive(serde::Deserialize)]
struct StampedTeam<'a> {
    #[serde(borrow)]
    description: Option<&'a str>,
}

/// An event frame's `seq` and, for a team change written by `write_stamp`, its time
/// stamp; `(None, None)` for any other message.
fn stamp_of(payload: &[u8]) -> anyhow::Result<(Option<u64>, Option<u64>)> {
    let msg: Stamped<'_> = rmp_serde::from_slice(payload)?;
    if msg.kind != "event" {
        return Ok((None, None));
    }
    let stamp = msg
        .event
        .and_then(|e| e.team)
        .and_then(|t| t.description)
        .and_then(|d| d.strip_prefix("t="))
        .and_then(|t| t.parse::<u64>().ok());
    Ok((msg.seq, stamp))
}

/// `fanout`: one writer changes a team `events` times — back to back (`rate` 0: a burst,
/// the elapsed time is the drain time) or at `rate` events per second — and N
/// subscribers of the org stream measure publish-to-receive latency from the time stamp
/// in each event.
///
/// # Errors
/// A subscriber missed an event, or the deadline passed.
pub async fn fanout(target: &Target, n: usize, events: usize, rate: f64) -> anyhow::Result<String> {
    let session = login(&target.addr, &target.email, &target.password).await?;
    let stream = org_stream(target, &session).await?;
    let team = writer_team(target, &session).await?;
    let mut subs = Vec::with_capacity(n);
    let mut opening = open_subscribers(target, &session, &stream, n);
    while let Some(r) = opening.join_next().await {
        subs.push(r??);
    }
    let barrier = Arc::new(Barrier::new(n + 1));
    let delivered = Arc::new(AtomicU64::new(0));
    // The latest arrival of each event (µs after its stamp), for the slowest events.
    let last_arrival: Arc<Vec<AtomicU64>> =
        Arc::new((0..events).map(|_| AtomicU64::new(0)).collect());
    let mut receivers = tokio::task::JoinSet::new();
    for (mut c, start) in subs {
        let (b, d, deadline) = (barrier.clone(), delivered.clone(), target.deadline);
        let last = last_arrival.clone();
        receivers.spawn(async move {
            b.wait().await;
            let mut h =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let mut next = start + 1;
            let mut got = 0;
            while got < events {
                let (seq, stamp) = tokio::time::timeout(deadline, c.recv_with(stamp_of))
                    .await
                    .context("nothing received in time")???;
                let Some(seq) = seq else { continue };
                ensure!(seq == next, "gap: expected seq {next}, got {seq}");
                next += 1;
                if let Some(t) = stamp {
                    let latency = now_micros().saturating_sub(t).max(1);
                    h.record(latency).ok();
                    if let Some(slot) = last.get(got) {
                        slot.fetch_max(latency, Ordering::Relaxed);
                    }
                    got += 1;
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Kept open until every receiver is done: a connection closing while others
            // still receive would add its close to their latency.
            anyhow::Ok((h, c))
        });
    }
    barrier.wait().await;
    // Let every receiver reach its first read before the first event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = target.server_pid.and_then(cpu_seconds);
    let started = Instant::now();
    // The writer runs on a thread and runtime of its own, so its stamps and requests do
    // not wait behind the receivers' tasks (the stamp is taken just before the request).
    let writer = {
        let (target, session, team) = (target.clone(), session.clone(), team.clone());
        std::thread::spawn(move || -> anyhow::Result<Vec<u64>> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let http = reqwest::Client::new();
                let mut tick = (rate > 0.0).then(|| {
                    let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    t
                });
                let mut writes = Vec::with_capacity(events);
                for i in 0..events {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let sent = Instant::now();
                    write_stamp(
                        &http,
                        &target,
                        &session,
                        &team,
                        &format!("Load {team} #{i}"),
                    )
                    .await?;
                    writes.push(sent.elapsed().as_micros() as u64);
                }
                Ok(writes)
            })
        })
    };
    let writes = tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut open = Vec::with_capacity(n);
    while let Some(r) = tokio::time::timeout(target.deadline, receivers.join_next())
        .await
        .context("deadline passed while receiving")?
    {
        let (h, c) = r??;
        all.add(h).ok();
        open.push(c);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let frames = delivered.load(Ordering::Relaxed);
    ensure!(
        frames == (n * events) as u64,
        "delivered {frames} of {} frames",
        n * events
    );
    let server_cpu = match (cpu_before, target.server_pid.and_then(cpu_seconds)) {
        (Some(b), Some(a)) if a > b => format!(
            "- server CPU {:.2} s (the load client shares the machine): **{:.0} frames per server CPU-second**\n",
            a - b,
            frames as f64 / (a - b)
        ),
        _ => String::new(),
    };
    drop(open);
    let mut reach: Vec<u64> = last_arrival
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    reach.sort_unstable();
    let reach = format!(
        "median {:.1} ms, max {:.1} ms",
        reach.get(reach.len() / 2).copied().unwrap_or(0) as f64 / 1000.0,
        reach.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    let mut slowest: Vec<(usize, u64)> = last_arrival
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .enumerate()
        .collect();
    slowest.sort_by_key(|(_, l)| std::cmp::Reverse(*l));
    let slowest = slowest
        .iter()
        .take(3)
        .map(|(i, l)| {
            format!(
                "#{i} (write answered in {:.1} ms, last subscriber reached {:.1} ms after the stamp)",
                writes.get(*i).copied().unwrap_or(0) as f64 / 1000.0,
                *l as f64 / 1000.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut w = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for x in &writes {
        w.record((*x).max(1)).ok();
    }
    let pace = if rate > 0.0 {
        format!("at {rate} events/s")
    } else {
        format!("as one burst, drained in {elapsed:.2} s")
    };
    Ok(format!(
        "## fanout\n\n- {n} subscribers × {events} events {pace} = {frames} frames delivered in {elapsed:.2} s: **{:.0} frames/s**\n{server_cpu}- publish-to-receive latency: {}\n- the writer's HTTP write (stamp to answer): {}\n- an event reached its last subscriber (after its stamp): {reach}\n- slowest events: {slowest}\n- every subscriber saw every event once, in order\n",
        frames as f64 / elapsed,
        percentiles(&all),
        percentiles(&w)
    ))
}

/// `resume`: subscribers are dropped mid-stream and reconnect with their last `seq`;
/// each must end with every event exactly once, in order.
///
/// # Errors
/// A gap or duplicate, or the deadline passed.
pub async fn resume(target: &Target, n: usize, events: usize) -> anyhow::Result<String> {
    let session = login(&target.addr, &target.email, &target.password).await?;
    let stream = org_stream(target, &session).await?;
    let team = writer_team(target, &session).await?;
    let mut subs = Vec::new();
    for _ in 0..n {
        subs.push(subscriber(target, &session, &stream).await?);
    }
    let writer = {
        let (t, s, team) = (target.clone(), session.clone(), team.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..events {
                write_stamp(&http, &t, &s, &team, &format!("Resume {team} #{i}")).await?;
            }
            anyhow::Ok(())
        })
    };
    let reconnects = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (k, (c, start)) in subs.into_iter().enumerate() {
        let (t, s, st, r) = (
            target.clone(),
            session.clone(),
            stream.clone(),
            reconnects.clone(),
        );
        tasks.spawn(async move {
            let mut c = c;
            let mut last = start;
            let mut seen: HashMap<u64, u32> = HashMap::new();
            let mut cut_after = 3 + k % 7;
            let goal = start + events as u64;
            while last < goal {
                match c.recv_within(t.deadline).await? {
                    ServerMsg::Event { seq, .. } => {
                        ensure!(
                            seq == last + 1,
                            "connection {k}: expected {}, got {seq}",
                            last + 1
                        );
                        *seen.entry(seq).or_default() += 1;
                        last = seq;
                        cut_after -= 1;
                        if cut_after == 0 {
                            // Drop the connection without a goodbye and resume.
                            drop(c);
                            r.fetch_add(1, Ordering::Relaxed);
                            c = Client::connect(
                                &t.addr,
                                &s,
                                None,
                                vec![StreamPosition {
                                    stream: st.clone(),
                                    seq: last,
                                }],
                            )
                            .await?
                            .0;
                            cut_after = 3 + (last as usize + k) % 11;
                        }
                    }
                    ServerMsg::Snapshot { reset: true, .. } => {
                        bail!("connection {k} was reset instead of resumed")
                    }
                    _ => {}
                }
            }
            ensure!(
                seen.values().all(|n| *n == 1) && seen.len() == events,
                "connection {k}: duplicates or missing events"
            );
            anyhow::Ok(())
        });
    }
    while let Some(r) = tokio::time::timeout(target.deadline, tasks.join_next())
        .await
        .context("deadline passed")?
    {
        r??;
    }
    writer.await??;
    Ok(format!(
        "## resume\n\n- {n} subscribers, {events} events, **{} reconnects mid-stream**: every subscriber received every event exactly once, in order\n",
        reconnects.load(Ordering::Relaxed)
    ))
}

/// Keeps reading a socket (which answers the server's pings); a close is a failure.
async fn hold_open(mut c: Client) -> anyhow::Result<()> {
    loop {
        if let crate::client::Received::Closed(code) = c.recv().await? {
            bail!("a socket was closed during the hold with {code}");
        }
    }
}

/// `soak`: N subscribed sockets held idle for `hold`, answering the server's heartbeat
/// pings; reports the server's memory per socket and its CPU while idle, also per 10k.
///
/// # Errors
/// A connection failed or was closed during the hold.
pub async fn soak(target: &Target, n: usize, hold: Duration) -> anyhow::Result<String> {
    let session = login(&target.addr, &target.email, &target.password).await?;
    let stream = org_stream(target, &session).await?;
    let rss_before = target.server_pid.and_then(rss_kib);
    let mut opening = open_subscribers(target, &session, &stream, n);
    let mut readers = tokio::task::JoinSet::new();
    while let Some(r) = tokio::time::timeout(target.deadline, opening.join_next())
        .await
        .context("deadline passed while connecting")?
    {
        readers.spawn(hold_open(r??.0));
    }
    // Let the server settle, then measure an idle stretch.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = target.server_pid.and_then(rss_kib);
    let cpu_before = target.server_pid.and_then(cpu_seconds);
    let started = Instant::now();
    if let Ok(Some(r)) = tokio::time::timeout(hold, readers.join_next()).await {
        r??;
    }
    let held = started.elapsed().as_secs_f64();
    let cpu_after = target.server_pid.and_then(cpu_seconds);
    let memory = match (rss_before, rss_after) {
        (Some(b), Some(a)) => {
            let per = a.saturating_sub(b) as f64 / n as f64;
            format!(
                "server RSS {b} KiB → {a} KiB: **{per:.1} KiB per idle subscribed socket** ({:.0} MiB per 10k)",
                per * 10_000.0 / 1024.0
            )
        }
        _ => "server RSS not measured (pass --server-pid)".into(),
    };
    let cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => {
            let percent = (a - b) / held * 100.0;
            format!(
                "server CPU while idle: {:.2} s in {held:.0} s = **{percent:.2}% of one core** ({:.2}% per 10k sockets)",
                a - b,
                percent * 10_000.0 / n as f64
            )
        }
        _ => "server CPU not measured (pass --server-pid)".into(),
    };
    readers.abort_all();
    Ok(format!(
        "## soak\n\n- {n} subscribed sockets held idle for {held:.0} s, answering heartbeats; none was closed\n- {memory}\n- {cpu}\n"
    ))
}

/// One JSON API call as `session` (cookie and CSRF header); the body of a 2xx answer.
///
/// # Errors
/// The request fails or answers something else than 2xx.
pub async fn api(
    http: &reqwest::Client,
    target: &Target,
    session: &crate::client::Session,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let mut req = http
        .request(method, format!("http://{}/api/v1{path}", target.addr))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "{path}: {status} {text}");
    Ok(if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text)?
    })
}

#[cfg(test)]
mod tests {
    use super::stamp_of;
    use cflows_protocol::wire::{ServerMsg, StreamEvent, encode_server};
    use cflows_protocol::{OrgEvent, StreamName, TeamId, TeamView, UserId};

    fn team_changed(seq: u64, description: &str) -> Vec<u8> {
        encode_server(&ServerMsg::Event {
            stream: StreamName::parse("org:01a2000000007000800000000000beef").unwrap(),
            seq,
            event: StreamEvent::Org(OrgEvent::TeamChanged {
                team: TeamView {
                    id: TeamId::new("t1"),
                    name: "Load".into(),
                    description: description.into(),
                    colour: "#336699".into(),
                    parent: None,
                    members: vec![UserId::new("u1")],
                    bookable_count: 1,
                    manager: None,
                    reminder_hours: None,
                },
            }),
        })
    }

    #[test]
    fn the_lean_decoder_reads_what_the_full_one_reads() {
        assert_eq!(
            stamp_of(&team_changed(42, "t=1234567")).unwrap(),
            (Some(42), Some(1_234_567))
        );
        assert_eq!(
            stamp_of(&team_changed(43, "a plain team")).unwrap(),
            (Some(43), None)
        );
        let pong = encode_server(&ServerMsg::Pong { nonce: 9 });
        assert_eq!(stamp_of(&pong).unwrap(), (None, None));
        assert!(stamp_of(&[0xc1]).is_err());
    }
}
