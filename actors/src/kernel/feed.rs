//! The journal feed: how a change committed by another node reaches this one.
//!
//! Every node follows the journal of the whole database and hands each row to the same
//! places a local commit goes (`Kernel::committed`): the stream hub (subscribers here
//! see the event, same `seq`), revocations (sockets close here too) and, for rows other
//! nodes wrote, the hot actor of that stream (reloaded before its next answer).
//!
//! # How it reads
//! SurrealDB gives no commit-ordered log we can rely on (`LIVE SELECT` is single-node in
//! the community edition; change feeds have had 3.x bugs), so the feed reads the `event`
//! table by its `at` index, stamped by the database server inside the committing
//! transaction. Commit order is not `at` order: a transaction stamped earlier can become
//! visible later. Three reads cover that:
//! - **tail** (every `poll`, backing off to four polls while nothing new comes): rows
//!   with `at` after the newest seen, less a small overlap; the usual path, one indexed
//!   range read that returns only what is new;
//! - **sweep** (every `sweep`): rows with `at` after the server's clock at the previous
//!   sweep less `window`: any row that became visible within `window` of its stamp. The
//!   window widens (up to 30 s) when a sweep finds rows later than half of it — a
//!   database server slow to commit under load — and narrows back afterwards;
//! - **gap fill**: per stream, `seq` is gap-free, so a row after a gap is held back and
//!   the missing ones are read by `(stream, seq)` if they do not arrive within
//!   `gap_wait` (a row later than `window` is still found by its stream's next row).
//!
//! - **head check** (every two seconds): a stream's *last* row that became visible later than
//!   `window` has no next row to reveal the gap, so for every stream delivered here in
//!   the last [`HEAD_WATCH`] the stored heads (one batched read by id) are compared with
//!   what was delivered, and a stream behind is read by `(stream, seq)`.
//!
//! Rows already delivered are told apart by their stream's last delivered `seq`, kept
//! while a row of that stream can still appear in a sweep or a head check. Lag is bounded by `poll` plus
//! one indexed read for ordinary rows, and by `sweep` for rows visible late.

use super::Kernel;
use crate::store::FeedRow;
use cflows_protocol::StreamName;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the feed follows the journal.
#[derive(Clone, Debug)]
pub struct FeedConfig {
    /// Follow the journal at all (a single process on an embedded database has no one
    /// else to hear from).
    pub enabled: bool,
    /// Between two tail reads.
    pub poll: Duration,
    /// Between two sweeps.
    pub sweep: Duration,
    /// How long after its `at` a row may become visible and still be found by a sweep.
    pub window: Duration,
    /// How long a row after a gap waits for the missing rows before they are read by
    /// stream.
    pub gap_wait: Duration,
    /// Rows per tail read.
    pub batch: u32,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            poll: Duration::from_millis(10),
            sweep: Duration::from_millis(250),
            window: Duration::from_secs(2),
            gap_wait: Duration::from_millis(200),
            batch: 1000,
        }
    }
}

/// The tail re-reads this much before the newest row it saw (a row stamped a moment
/// earlier that became visible a moment later is found without waiting for a sweep).
const OVERLAP: TimeDelta = TimeDelta::milliseconds(5);

/// What `/readyz` and `/metrics` read of the feed.
#[derive(Default)]
pub struct FeedStatus {
    /// Whether the feed is disabled (then the node is ready without it).
    pub disabled: AtomicBool,
    /// Whether the first read succeeded and the last one did not fail.
    pub following: AtomicBool,
    /// Rows other nodes wrote that this node applied.
    pub foreign: AtomicU64,
    /// Rows read (own and foreign, duplicates not counted).
    pub rows: AtomicU64,
    /// Gaps filled by reading a stream.
    pub gap_fills: AtomicU64,
    /// Last observed lag (µs) between a row's stamp and its delivery here.
    pub last_lag_us: AtomicU64,
}

impl FeedStatus {
    /// Whether this node may serve: it follows the feed, or has none to follow.
    pub fn ready(&self) -> bool {
        self.disabled.load(Ordering::Relaxed) || self.following.load(Ordering::Relaxed)
    }
}

/// Per stream: the last delivered `seq`, its `at`, and rows held behind a gap.
#[derive(Default)]
struct Streams {
    last: HashMap<String, Known>,
}

struct Known {
    seq: u64,
    at: DateTime<Utc>,
    held: BTreeMap<u64, FeedRow>,
    /// When the oldest held row was held.
    held_since: Option<Instant>,
    /// When a row of it was last delivered here.
    touched: Instant,
    /// Its stored head is past what was delivered (a late last row): read it now.
    behind: bool,
}

/// How long after its last delivered row a stream's head is still checked.
const HEAD_WATCH: Duration = Duration::from_secs(60);
/// Between two head checks.
const HEAD_EVERY: Duration = Duration::from_secs(2);

/// Starts following the journal in a task of its own (until the kernel stops).
pub(super) fn start(kernel: Kernel) {
    let config = kernel.config().feed.clone();
    let status = kernel.feed_status().clone();
    if !config.enabled {
        status.disabled.store(true, Ordering::Relaxed);
        return;
    }
    tokio::spawn(async move {
        let mut follower = Follower {
            kernel: kernel.clone(),
            status,
            streams: Streams::default(),
            window: TimeDelta::from_std(config.window).unwrap_or(TimeDelta::seconds(2)),
            late: TimeDelta::zero(),
            late_path: false,
            config,
        };
        follower.run().await;
    });
}

struct Follower {
    kernel: Kernel,
    status: Arc<FeedStatus>,
    streams: Streams,
    config: FeedConfig,
    /// How far back a sweep looks now: `config.window`, widened when rows turn up later
    /// than half of it (a database server slow to commit), narrowing back by a tenth a
    /// sweep.
    window: TimeDelta,
    /// The latest a row delivered by a sweep or a gap fill was, since the last sweep.
    late: TimeDelta,
    /// Whether rows being delivered come from a sweep or a gap fill.
    late_path: bool,
}

/// The widest a sweep looks back.
const MAX_WINDOW: TimeDelta = TimeDelta::seconds(30);

impl Follower {
    async fn run(&mut self) {
        let window = self.window;
        // Start from the server's clock less a window: rows committed while this node
        // started are delivered (twice at worst, which every consumer ignores).
        let start = loop {
            match self.kernel.store().server_now().await {
                Ok(now) => break now - window,
                Err(e) => {
                    tracing::warn!(error = %e, "journal feed: cannot read the server clock; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let mut tail = start;
        let mut sweep_since = start;
        let mut last_sweep = Instant::now();
        let mut last_head_check = Instant::now();
        let stopped = self.kernel.stopped();
        // Quiet journal: the pause between reads doubles up to four polls (the standing
        // cost on the database server falls fourfold); a new row brings it back.
        let mut pause = self.config.poll;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopped.cancelled() => return,
            }
            let before = self.status.rows.load(Ordering::Relaxed);
            let ok = self
                .round(
                    &mut tail,
                    &mut sweep_since,
                    &mut last_sweep,
                    &mut last_head_check,
                )
                .await;
            self.status.following.store(ok, Ordering::Relaxed);
            pause = if self.status.rows.load(Ordering::Relaxed) > before {
                self.config.poll
            } else {
                (pause * 2).min(self.config.poll * 4)
            };
        }
    }

    /// One tail read (more while a full batch comes back), a sweep when due, gap fills.
    async fn round(
        &mut self,
        tail: &mut DateTime<Utc>,
        sweep_since: &mut DateTime<Utc>,
        last_sweep: &mut Instant,
        last_head_check: &mut Instant,
    ) -> bool {
        let store = self.kernel.store().clone();
        loop {
            let rows = match store.feed_after(*tail - OVERLAP, self.config.batch).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "journal feed: tail read failed");
                    metrics::counter!("cflows_feed_errors_total").increment(1);
                    return false;
                }
            };
            metrics::counter!("cflows_feed_reads_total", "read" => "tail").increment(1);
            let full = rows.len() as u32 >= self.config.batch;
            if let Some(newest) = rows.iter().map(|r| r.at).max() {
                *tail = (*tail).max(newest);
            }
            self.deliver_all(rows).await;
            if !full {
                break;
            }
        }
        if last_sweep.elapsed() >= self.config.sweep {
            match store.feed_sweep(*sweep_since).await {
                Ok((now, rows)) => {
                    metrics::counter!("cflows_feed_reads_total", "read" => "sweep").increment(1);
                    self.late_path = true;
                    self.deliver_all(rows).await;
                    self.late_path = false;
                    self.adapt_window();
                    let window = self.window;
                    *sweep_since = now - window;
                    *last_sweep = Instant::now();
                    // Streams quiet for longer than a sweep looks back: no row of theirs
                    // can be read again, only new ones.
                    let horizon = *sweep_since - window;
                    self.streams.last.retain(|_, k| {
                        k.at > horizon || !k.held.is_empty() || k.touched.elapsed() < HEAD_WATCH
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "journal feed: sweep failed");
                    metrics::counter!("cflows_feed_errors_total").increment(1);
                    return false;
                }
            }
        }
        if last_head_check.elapsed() >= HEAD_EVERY {
            *last_head_check = Instant::now();
            if !self.check_heads().await {
                return false;
            }
        }
        self.fill_gaps().await
    }

    /// Marks the streams whose stored head is past what was delivered here.
    async fn check_heads(&mut self) -> bool {
        let watched: Vec<String> = self
            .streams
            .last
            .iter()
            .filter(|(_, k)| k.held.is_empty() && k.touched.elapsed() < HEAD_WATCH)
            .map(|(s, _)| s.clone())
            .collect();
        if watched.is_empty() {
            return true;
        }
        match self.kernel.store().stream_heads(&watched).await {
            Ok(heads) => {
                metrics::counter!("cflows_feed_reads_total", "read" => "heads").increment(1);
                for (stream, head) in heads {
                    if let Some(k) = self.streams.last.get_mut(&stream)
                        && head > k.seq
                    {
                        k.behind = true;
                    }
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "journal feed: head check failed");
                metrics::counter!("cflows_feed_errors_total").increment(1);
                false
            }
        }
    }

    /// Widens the sweep's look-back when a row came later than half of it; narrows it
    /// back towards the configured window otherwise.
    fn adapt_window(&mut self) {
        let base = TimeDelta::from_std(self.config.window).unwrap_or(TimeDelta::seconds(2));
        if self.late * 2 > self.window {
            self.window = (self.late * 2).min(MAX_WINDOW);
            tracing::info!(
                window_ms = self.window.num_milliseconds(),
                "journal feed: rows commit late; the sweep looks further back"
            );
        } else {
            self.window = (self.window * 9 / 10).max(base);
        }
        metrics::gauge!("cflows_feed_window_seconds")
            .set(self.window.num_milliseconds() as f64 / 1e3);
        self.late = TimeDelta::zero();
    }

    async fn deliver_all(&mut self, rows: Vec<FeedRow>) {
        for row in rows {
            self.offer(row);
        }
    }

    /// Delivers `row` if it is next in its stream, holds it if rows are missing before
    /// it, drops it if it was delivered already.
    fn offer(&mut self, row: FeedRow) {
        let known = match self.streams.last.get_mut(&row.stream) {
            Some(k) => k,
            None => {
                // First row of a stream since this node started (or since it was quiet
                // long enough to be forgotten): nothing of it can be missing before.
                let stream = row.stream.clone();
                let (seq, at) = (row.seq, row.at);
                self.deliver(row);
                self.streams.last.insert(
                    stream,
                    Known {
                        seq,
                        at,
                        held: BTreeMap::new(),
                        held_since: None,
                        touched: Instant::now(),
                        behind: false,
                    },
                );
                return;
            }
        };
        if row.seq <= known.seq || known.held.contains_key(&row.seq) {
            return;
        }
        if row.seq > known.seq + 1 {
            known.held_since.get_or_insert_with(Instant::now);
            known.held.insert(row.seq, row);
            return;
        }
        let mut next = vec![row];
        let mut seq = known.seq + 1;
        while let Some(r) = known.held.remove(&(seq + 1)) {
            next.push(r);
            seq += 1;
        }
        if known.held.is_empty() {
            known.held_since = None;
        }
        known.seq = seq;
        known.touched = Instant::now();
        if let Some(last) = next.last() {
            known.at = known.at.max(last.at);
        }
        for r in next {
            self.deliver(r);
        }
    }

    /// Reads the missing rows of streams whose held rows waited `gap_wait`.
    async fn fill_gaps(&mut self) -> bool {
        let due: Vec<(String, u64)> = self
            .streams
            .last
            .iter()
            .filter(|(_, k)| {
                k.behind
                    || k.held_since
                        .is_some_and(|t| t.elapsed() >= self.config.gap_wait)
            })
            .map(|(s, k)| (s.clone(), k.seq))
            .collect();
        for (stream, after) in due {
            match self.kernel.store().feed_stream(&stream, after, 500).await {
                Ok(rows) => {
                    self.status.gap_fills.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("cflows_feed_gap_fills_total").increment(1);
                    self.late_path = true;
                    for row in rows {
                        self.offer(row);
                    }
                    self.late_path = false;
                    if let Some(k) = self.streams.last.get_mut(&stream) {
                        k.behind = false;
                        if !k.held.is_empty() {
                            // Still missing (not visible yet): wait again.
                            k.held_since = Some(Instant::now());
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, %stream, "journal feed: gap fill failed");
                    return false;
                }
            }
        }
        true
    }

    /// Hands one row, in order for its stream, to this node's consumers.
    fn deliver(&mut self, row: FeedRow) {
        self.status.rows.fetch_add(1, Ordering::Relaxed);
        let late = Utc::now() - row.at;
        if self.late_path {
            self.late = self.late.max(late);
        }
        let lag = late.to_std().unwrap_or_default();
        self.status
            .last_lag_us
            .store(lag.as_micros() as u64, Ordering::Relaxed);
        let Ok(stream) = row.stream.parse::<StreamName>() else {
            tracing::error!(stream = %row.stream, "journal feed: a row names no stream");
            return;
        };
        let foreign = row.node.as_deref() != Some(self.kernel.store().node());
        if foreign {
            self.status.foreign.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!("cflows_feed_lag_seconds").record(lag.as_secs_f64());
            metrics::counter!("cflows_feed_foreign_total").increment(1);
        }
        self.kernel
            .committed_row(&stream, row.seq, &row.kind, &row.payload, foreign);
    }
}
