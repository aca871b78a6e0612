//! Every socket's outbound side: sharded writers and one heartbeat tick.
//!
//! A socket's queue ([`Socket`]) is pushed to directly by whoever produces a frame — the
//! hub publishing a stream's event (through the socket's [`Subscription`]), the
//! connection's reader answering a request, the heartbeat tick. A push that finds the
//! queue idle puts the socket on its shard's ready list, and only the first socket put
//! on an empty list wakes the shard: one wake-up serves every socket that became ready
//! meanwhile. The shard task then writes, for each ready socket, everything queued for
//! it as one buffer in one non-blocking write call. A socket whose client does not
//! read fast enough (the kernel's send buffer is full) keeps the rest and is put back on
//! the ready list by its own waker when it can be written again; its queue is bounded in
//! bytes, and past the bound it is closed as a slow consumer.
//!
//! There is no task per socket for writing, no channel per socket and no timer per
//! socket: a socket at rest is its queue's few words and its subscriptions.

use bytes::Bytes;
use cflows_actors::streams;
use cflows_protocol::StreamName;
use cflows_protocol::wire::close;
use fastwebsockets::{Frame, OpCode, Payload};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tokio::io::AsyncWrite;
use tokio::sync::Notify;

/// The write half of an upgraded connection.
pub(super) type WriteHalf = tokio::io::WriteHalf<super::WsStream>;

/// What one write call may carry (more when a single frame is larger).
const COALESCE_BYTES: usize = 64 * 1024;
/// Sockets a shard writes before it lets other tasks of its thread run.
const SOCKETS_PER_TURN: usize = 256;
/// Write calls one socket gets per visit of its shard; then it goes to the back of the
/// ready list, so a socket whose queue keeps filling cannot hold the others up.
const WRITES_PER_VISIT: usize = 16;
/// Live frames a subscription may hold while its snapshot or replay is prepared.
const MAX_HELD: usize = 4096;
/// Each heartbeat interval is cut in this many beats, each pinging its share of the
/// sockets: no burst of every socket's ping (and pong) at once.
const BEATS_PER_INTERVAL: u64 = 10;

const STOPPING: &str = "server stopping: reconnect";

/// The connection is closing; stop producing.
#[derive(Debug)]
pub(super) struct Closed;

/// Every socket of this server: the writer shards and the heartbeat tick.
pub struct Sockets {
    shards: Box<[Arc<Shard>]>,
    next: AtomicUsize,
    started: std::sync::Once,
    heartbeat: Duration,
    epoch: Instant,
    live: dashmap::DashMap<u64, Arc<Socket>>,
    /// The server is stopping: every socket closes, and any adopted later at once.
    stopping: AtomicBool,
}

impl Sockets {
    /// `shards` writer tasks (at least one; one per core is the usual choice) and a
    /// heartbeat every `heartbeat`.
    pub fn new(shards: usize, heartbeat: Duration) -> Arc<Self> {
        Arc::new(Self {
            shards: (0..shards.max(1))
                .map(|_| {
                    Arc::new(Shard {
                        ready: Mutex::new(Vec::new()),
                        wake: Notify::new(),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            started: std::sync::Once::new(),
            heartbeat: heartbeat.max(Duration::from_millis(10)),
            epoch: Instant::now(),
            live: dashmap::DashMap::new(),
            stopping: AtomicBool::new(false),
        })
    }

    /// One writer shard per core this process may run on.
    pub fn per_core(heartbeat: Duration) -> Arc<Self> {
        Self::new(
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            heartbeat,
        )
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.live.len()
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Takes over the write half of connection `id`; its queue holds at most `limit`
    /// bytes, and its session ends after `until_expiry`. The socket is followed by the
    /// heartbeat tick until [`Sockets::forget`].
    pub(super) fn adopt(
        self: &Arc<Self>,
        id: u64,
        half: WriteHalf,
        limit: usize,
        until_expiry: Duration,
    ) -> Arc<Socket> {
        self.started.call_once(|| self.start());
        let shard = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let socket = Arc::new(Socket {
            shard: self.shards[shard].clone(),
            limit,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                bytes: 0,
                scheduled: false,
                close: None,
            }),
            io: Mutex::new(Io {
                half: Some(half),
                unsent: Vec::new(),
                at: 0,
                counted: 0,
                close_sent: false,
            }),
            closing: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            changed: Notify::new(),
            heard: AtomicU64::new(self.now_ms()),
            expires: self
                .now_ms()
                .saturating_add(u64::try_from(until_expiry.as_millis()).unwrap_or(u64::MAX)),
        });
        self.live.insert(id, socket.clone());
        // Checked after the insert: `stop` sets the flag before it walks the sockets, so
        // a socket is either walked or sees the flag.
        if self.stopping.load(Ordering::Acquire) {
            socket.close(close::GOING_AWAY, STOPPING);
        }
        socket
    }

    /// Stops following connection `id`.
    pub(super) fn forget(&self, id: u64) {
        self.live.remove(&id);
    }

    /// Notes that the socket's client was heard from just now.
    pub(super) fn heard(&self, socket: &Socket) {
        socket.heard.store(self.now_ms(), Ordering::Relaxed);
    }

    fn start(self: &Arc<Self>) {
        for shard in &self.shards {
            tokio::spawn(shard.clone().run());
        }
        let weak = Arc::downgrade(self);
        let beat = self.heartbeat / BEATS_PER_INTERVAL as u32;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(beat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            for n in 0u64.. {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                me.beat(n % BEATS_PER_INTERVAL);
            }
        });
    }

    /// The server is stopping: every socket closes with 1001 (reconnect with backoff),
    /// now and when adopted from now on.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        for entry in &self.live {
            entry.value().close(close::GOING_AWAY, STOPPING);
        }
    }

    /// One beat: a ping on the sockets of `share` (so each socket gets one every
    /// interval); of those, the ones silent for three intervals close, and those whose
    /// session expired.
    fn beat(&self, share: u64) {
        let now = self.now_ms();
        let silent = 3 * self.heartbeat.as_millis() as u64;
        for entry in &self.live {
            if entry.key() % BEATS_PER_INTERVAL != share {
                continue;
            }
            let socket = entry.value();
            if now >= socket.expires {
                socket.close(close::UNAUTHENTICATED, "session ended");
            } else if now.saturating_sub(socket.heard.load(Ordering::Relaxed)) >= silent {
                socket.close(close::IDLE, "idle");
            } else {
                socket.control(OpCode::Ping, Bytes::from_static(b"hb"));
            }
        }
    }
}

/// One writer task and the sockets ready for it.
struct Shard {
    ready: Mutex<Vec<Arc<Socket>>>,
    wake: Notify,
}

impl Shard {
    fn schedule(&self, socket: Arc<Socket>) {
        let first = {
            let mut ready = lock(&self.ready);
            ready.push(socket);
            ready.len() == 1
        };
        if first {
            self.wake.notify_one();
        }
    }

    async fn run(self: Arc<Self>) {
        let mut batch: Vec<Arc<Socket>> = Vec::new();
        let mut scratch = Vec::with_capacity(COALESCE_BYTES + 64);
        loop {
            std::mem::swap(&mut *lock(&self.ready), &mut batch);
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let mut served = 0;
            for socket in batch.drain(..) {
                socket.write_out(&mut scratch);
                served += 1;
                if served % SOCKETS_PER_TURN == 0 {
                    tokio::task::yield_now().await;
                }
            }
            if scratch.capacity() > 4 * COALESCE_BYTES {
                scratch = Vec::with_capacity(COALESCE_BYTES + 64);
            }
            if batch.capacity() > 4096 && served < 1024 {
                batch.shrink_to(1024);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; go on with it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What waits to be written to a socket.
enum Item {
    /// An encoded message (a reply, a snapshot, a replayed event).
    Data(Bytes),
    /// A stream's live event, shared by every subscriber.
    Live(Arc<streams::Frame>),
    /// A ping or a pong.
    Control(OpCode, Bytes),
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::Data(b) => b.len(),
            Item::Live(f) => f.bytes.len(),
            Item::Control(_, b) => b.len() + 2,
        }
    }

    fn append_to(&self, out: &mut Vec<u8>) {
        match self {
            Item::Data(b) => append_frame(out, OpCode::Binary, b),
            Item::Live(f) => append_frame(out, OpCode::Binary, &f.bytes),
            Item::Control(op, b) => append_frame(out, *op, b),
        }
    }
}

/// Appends one whole WebSocket frame (server to client: unmasked).
fn append_frame(out: &mut Vec<u8>, op: OpCode, payload: &[u8]) {
    let mut head = [0u8; 16];
    let n = Frame::new(true, op, None, Payload::Borrowed(payload)).fmt_head(&mut head);
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(payload);
}

struct Queue {
    items: VecDeque<Item>,
    /// Bytes queued and not yet written, including those taken for a write in progress.
    bytes: usize,
    /// On its shard's ready list, being written, or waiting to be writable.
    scheduled: bool,
    /// The close frame's payload, once a close was asked for.
    close: Option<Bytes>,
}

/// What only the shard touches.
struct Io {
    half: Option<WriteHalf>,
    /// Bytes taken from the queue that the socket has not accepted yet.
    unsent: Vec<u8>,
    at: usize,
    /// Queue bytes that `unsent` (or the write in progress) stands for.
    counted: usize,
    close_sent: bool,
}

/// One connection's outbound queue, bounded in bytes, written by its shard.
pub(super) struct Socket {
    shard: Arc<Shard>,
    limit: usize,
    queue: Mutex<Queue>,
    io: Mutex<Io>,
    /// A close was asked for: nothing more is queued.
    closing: AtomicBool,
    /// Writing is over: the close frame left, or the socket failed or was abandoned.
    finished: AtomicBool,
    /// Woken when `closing` or `finished` is set.
    changed: Notify,
    /// When the client was last heard (ms since the heartbeats' epoch).
    heard: AtomicU64,
    /// When the session ends (ms since the heartbeats' epoch).
    expires: u64,
}

impl Wake for Socket {
    /// The socket can be written again.
    fn wake(self: Arc<Self>) {
        self.shard.clone().schedule(self);
    }
}

impl Socket {
    /// Queues an encoded message.
    pub(super) fn send_bytes(self: &Arc<Self>, bytes: Bytes) -> Result<(), Closed> {
        self.enqueue(Item::Data(bytes))
    }

    /// Queues a ping or pong. It counts against the byte limit like data, so a client
    /// that pings faster than it reads is a slow consumer too.
    pub(super) fn control(self: &Arc<Self>, op: OpCode, payload: Bytes) {
        let _ = self.enqueue(Item::Control(op, payload));
    }

    fn enqueue(self: &Arc<Self>, item: Item) -> Result<(), Closed> {
        let len = item.len();
        let schedule = {
            let mut q = lock(&self.queue);
            if q.close.is_some() {
                return Err(Closed);
            }
            if q.bytes + len > self.limit {
                drop(q);
                metrics::counter!("cflows_ws_slow_consumers_total").increment(1);
                self.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
                return Err(Closed);
            }
            q.bytes += len;
            q.items.push_back(item);
            !std::mem::replace(&mut q.scheduled, true)
        };
        if schedule {
            self.shard.schedule(self.clone());
        }
        Ok(())
    }

    /// Closes with `code`: what is queued and not yet started is dropped, the close frame
    /// goes next. Only the first close counts.
    pub(super) fn close(self: &Arc<Self>, code: u16, reason: &str) {
        let mut payload = Vec::with_capacity(2 + reason.len());
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        self.close_echo(Bytes::from(payload));
    }

    pub(super) fn close_echo(self: &Arc<Self>, payload: Bytes) {
        let schedule = {
            let mut q = lock(&self.queue);
            if q.close.is_some() {
                return;
            }
            q.close = Some(payload);
            let dropped: usize = q.items.drain(..).map(|i| i.len()).sum();
            q.bytes -= dropped;
            !std::mem::replace(&mut q.scheduled, true)
        };
        self.closing.store(true, Ordering::Release);
        self.changed.notify_waiters();
        if schedule {
            self.shard.schedule(self.clone());
        }
    }

    /// Whether a close was asked for.
    pub(super) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Resolves once a close was asked for.
    pub(super) async fn closed(&self) {
        self.wait_for(&self.closing).await;
    }

    /// Resolves once writing is over (the close frame left, or the socket failed).
    pub(super) async fn finished(&self) {
        self.wait_for(&self.finished).await;
    }

    async fn wait_for(&self, flag: &AtomicBool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if flag.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Gives up on a socket whose client does not take its close frame: drops the
    /// write half and what is queued.
    pub(super) fn abandon(self: &Arc<Self>) {
        let mut io = lock(&self.io);
        self.end(&mut io);
    }

    /// Writing is over: no more bytes go out, nothing more is queued.
    fn end(&self, io: &mut Io) {
        io.half = None;
        io.unsent = Vec::new();
        io.at = 0;
        io.counted = 0;
        {
            let mut q = lock(&self.queue);
            q.items.clear();
            q.bytes = 0;
            q.scheduled = false;
            q.close.get_or_insert_with(Bytes::new);
        }
        self.closing.store(true, Ordering::Release);
        self.finished.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Drops the queued frames of `stream` (unsubscribed).
    fn drop_stream(&self, stream: &StreamName) {
        let mut q = lock(&self.queue);
        let mut dropped = 0;
        q.items.retain(|i| match i {
            Item::Live(f) if &f.stream == stream => {
                dropped += f.bytes.len();
                false
            }
            _ => true,
        });
        q.bytes -= dropped;
    }

    /// Writes what is queued, one buffer per call, until the queue is empty or the
    /// socket would block (its waker then puts it back on the ready list).
    fn write_out(self: &Arc<Self>, scratch: &mut Vec<u8>) {
        let mut io = lock(&self.io);
        if io.half.is_none() {
            // Ended while it waited on the ready list; `end` emptied the queue.
            return;
        }
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        for visit in 0.. {
            if visit == WRITES_PER_VISIT {
                // Still scheduled: back of the line.
                self.shard.schedule(self.clone());
                return;
            }
            let leftover = io.at < io.unsent.len();
            if !leftover {
                scratch.clear();
                let mut q = lock(&self.queue);
                q.bytes -= std::mem::take(&mut io.counted);
                if io.unsent.capacity() > COALESCE_BYTES {
                    io.unsent = Vec::new();
                } else {
                    io.unsent.clear();
                }
                io.at = 0;
                while scratch.len() < COALESCE_BYTES {
                    let Some(item) = q.items.pop_front() else {
                        break;
                    };
                    io.counted += item.len();
                    item.append_to(scratch);
                }
                if scratch.is_empty() {
                    match &q.close {
                        Some(payload) if !io.close_sent => {
                            io.close_sent = true;
                            append_frame(scratch, OpCode::Close, payload);
                        }
                        Some(_) => {
                            drop(q);
                            return self.end(&mut io);
                        }
                        None => {
                            q.scheduled = false;
                            return;
                        }
                    }
                }
            }
            let io = &mut *io;
            let Some(half) = io.half.as_mut() else {
                return;
            };
            let buf: &[u8] = if leftover {
                &io.unsent[io.at..]
            } else {
                scratch
            };
            match Pin::new(half).poll_write(&mut cx, buf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    if leftover {
                        io.at += n;
                    } else if n < scratch.len() {
                        io.unsent.extend_from_slice(&scratch[n..]);
                    }
                }
                // The peer is gone.
                Poll::Ready(_) => return self.end(io),
                Poll::Pending => {
                    if !leftover {
                        io.unsent.extend_from_slice(scratch);
                    }
                    return;
                }
            }
        }
    }
}

/// One stream followed by one socket: what the hub pushes that stream's live frames to.
/// Until its snapshot or replay is queued it holds them; then it queues each frame after
/// the last one sent, skipping what the snapshot or replay already covered.
pub(super) struct Subscription {
    socket: Arc<Socket>,
    follow: Mutex<Follow>,
}

enum Follow {
    /// The first messages are not queued yet: live frames wait.
    Held(Vec<Arc<streams::Frame>>),
    /// Live after this `seq`.
    Live(u64),
    /// Unsubscribed, or closed.
    Gone,
}

impl Subscription {
    /// A subscription of `socket` holding its live frames until [`Subscription::release`].
    pub(super) fn held(socket: &Arc<Socket>) -> Arc<Self> {
        Arc::new(Self {
            socket: socket.clone(),
            follow: Mutex::new(Follow::Held(Vec::new())),
        })
    }

    /// The subscription's first messages are queued, up to `head`: queue the held live
    /// frames after it, and every later one as it comes.
    pub(super) fn release(&self, head: u64) {
        let mut follow = lock(&self.follow);
        let Follow::Held(held) = std::mem::replace(&mut *follow, Follow::Live(head)) else {
            return;
        };
        for frame in held {
            if !self.follow_one(&mut follow, &frame) {
                break;
            }
        }
    }

    /// Unsubscribed: no more frames, and those queued and not yet written are dropped.
    pub(super) fn forget(&self, stream: &StreamName) {
        *lock(&self.follow) = Follow::Gone;
        self.socket.drop_stream(stream);
    }

    fn follow_one(&self, follow: &mut Follow, frame: &Arc<streams::Frame>) -> bool {
        match follow {
            Follow::Gone => false,
            Follow::Held(held) => {
                if held.len() >= MAX_HELD {
                    *follow = Follow::Gone;
                    self.socket
                        .close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
                    return false;
                }
                held.push(frame.clone());
                true
            }
            Follow::Live(last) => {
                if frame.seq <= *last {
                    // Already in the snapshot or replay.
                    return true;
                }
                if frame.seq != *last + 1 {
                    // The hub pushes each stream in order after the head was read, so
                    // this cannot happen; if it ever did, the client resumes rather than
                    // silently missing an event.
                    tracing::error!(stream = %frame.stream, seq = frame.seq, last = *last, "gap in a live stream");
                    *follow = Follow::Gone;
                    self.socket
                        .close(close::INTERNAL, "server fault: reconnect and resume");
                    return false;
                }
                *last = frame.seq;
                if self.socket.enqueue(Item::Live(frame.clone())).is_err() {
                    *follow = Follow::Gone;
                    return false;
                }
                true
            }
        }
    }
}

impl streams::Sink for Subscription {
    fn push(&self, frame: &Arc<streams::Frame>) -> bool {
        let mut follow = lock(&self.follow);
        self.follow_one(&mut follow, frame)
    }

    fn alive(&self) -> bool {
        !self.socket.is_closing() && !matches!(*lock(&self.follow), Follow::Gone)
    }
}
