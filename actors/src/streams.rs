//! Live streams: the hub where the kernel publishes each journalled change, and
//! [`open_into`], which decides who may read a stream, yields what a new subscriber
//! needs (snapshot, or the missed events from memory then from the journal) and attaches
//! the connection's queue for its live frames. The gateway only moves the bytes.
//!
//! A change is encoded once into a `ServerMsg::Event` frame; `publish` pushes the same
//! `Bytes` (a reference count, not a copy) straight into each subscribed connection's
//! queue ([`Sink`]) — no task per subscription. Each stream keeps its most
//! recent frames so a client that reconnects shortly after a drop resumes from memory;
//! older gaps are filled from the journal. Channels nobody listens to are evicted.

use crate::board::BoardHandle;
use crate::calendar::{CalendarHandle, Viewer};
use crate::error::{CoreError, CoreResult};
use crate::inbox::InboxHandle;
use crate::kernel::{Kernel, decode_journal};
use crate::org::OrgHandle;
use crate::project::ProjectHandle;
use crate::team_calendar::Booker;
use crate::team_calendar::TeamCalendarHandle;
use crate::work_item::WorkItemHandle;
use bytes::Bytes;
use cflows_protocol::wire::{ServerMsg, StreamEvent, StreamState, encode_server};
use cflows_protocol::{KioskId, KioskScope, OrgId, StreamName, UserId};
use dashmap::DashMap;
use indexmap::IndexMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How many recent frames a stream keeps for resume from memory.
pub const RECENT_FRAMES: usize = 256;
/// A client further behind than this many events gets a `snapshot` with `reset`.
pub const MAX_REPLAY: u64 = 1000;

/// One encoded event of one stream.
#[derive(Debug)]
pub struct Frame {
    /// The stream it belongs to.
    pub stream: StreamName,
    pub seq: u64,
    /// The encoded `ServerMsg::Event`.
    pub bytes: Bytes,
}

struct Channel {
    /// Per-stream order: frames go out in `seq` order, once, whoever publishes them (the
    /// owning actor here, or the journal feed for another node's commit).
    order: Mutex<Order>,
    recent: RwLock<VecDeque<Arc<Frame>>>,
    /// Last publish or subscribe, for eviction.
    touched: RwLock<Instant>,
    /// Connections' queues by connection id, pushed to directly by `publish` (no task
    /// per subscription); an index map, so a detach is O(1) among thousands.
    sinks: RwLock<IndexMap<u64, Arc<dyn Sink>>>,
}

/// The last `seq` a channel sent (0: none yet, the next one is taken as it comes), and
/// frames that arrived after a gap, waiting for the missing ones.
#[derive(Default)]
struct Order {
    last: u64,
    held: std::collections::BTreeMap<u64, Arc<Frame>>,
}

/// Most frames a stream holds behind a gap; past it they go out as they are (the
/// connections see the gap and resume from the journal).
const MAX_HELD: usize = 1024;

/// Ids of in-process listeners, from the top of the range (connections count up from 1).
static LISTENERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 62);

/// An in-process listener's channel.
struct Listener(mpsc::UnboundedSender<Arc<Frame>>);

impl Sink for Listener {
    fn push(&self, frame: &Arc<Frame>) -> bool {
        self.0.send(frame.clone()).is_ok()
    }

    fn alive(&self) -> bool {
        !self.0.is_closed()
    }
}

/// A connection's outbound queue, fed by the hub.
pub trait Sink: Send + Sync {
    /// Queues `frame` (in `seq` order per stream). `false` when the connection is gone
    /// or closing: the hub then forgets it.
    fn push(&self, frame: &Arc<Frame>) -> bool;

    /// Whether anyone still reads it (a closed connection, a dropped receiver: no).
    fn alive(&self) -> bool;
}

/// Every live stream. Cheap to clone.
#[derive(Clone, Default)]
pub struct StreamHub {
    streams: Arc<DashMap<StreamName, Arc<Channel>>>,
}

impl StreamHub {
    fn channel(&self, stream: &StreamName) -> Arc<Channel> {
        let channel = match self.streams.get(stream) {
            Some(c) => c.clone(),
            None => self
                .streams
                .entry(stream.clone())
                .or_insert_with(|| {
                    Arc::new(Channel {
                        order: Mutex::new(Order::default()),
                        recent: RwLock::new(VecDeque::with_capacity(RECENT_FRAMES)),
                        touched: RwLock::new(Instant::now()),
                        sinks: RwLock::new(IndexMap::new()),
                    })
                })
                .clone(),
        };
        *channel.touched.write().expect("touched lock") = Instant::now();
        channel
    }

    /// Whether publishing `seq` of `stream` would send anything: someone listens here
    /// (or recently did) and has not had it. The journal feed asks before decoding.
    pub fn wants(&self, stream: &StreamName, seq: u64) -> bool {
        self.streams.get(stream).is_some_and(|c| {
            let order = c.order.lock().expect("order lock");
            order.last == 0 || (seq > order.last && !order.held.contains_key(&seq))
        })
    }

    /// The last `seq` this node sent on `stream` (0: none, or its channel is gone).
    pub fn last(&self, stream: &StreamName) -> u64 {
        self.streams
            .get(stream)
            .map_or(0, |c| c.order.lock().expect("order lock").last)
    }

    /// Encodes `event` once and hands it to every subscriber of `stream`, after the
    /// change is durable. Each `seq` goes out once and in order: the owning actor here
    /// and the journal feed (another node's commit) may both publish a stream, so a
    /// frame seen before is dropped and one after a gap waits for the missing ones.
    pub fn publish(&self, stream: &StreamName, seq: u64, event: StreamEvent) {
        let frame = Arc::new(Frame {
            stream: stream.clone(),
            seq,
            bytes: encode_event(stream, seq, event),
        });
        let channel = self.channel(stream);
        let mut guard = channel.order.lock().expect("order lock");
        let order = &mut *guard;
        if order.last != 0 && seq <= order.last {
            return;
        }
        if order.last != 0 && seq > order.last + 1 {
            order.held.insert(seq, frame);
            if order.held.len() > MAX_HELD {
                tracing::error!(%stream, last = order.last, "a stream's gap did not fill; sending what it holds");
                let held = std::mem::take(&mut order.held);
                for (seq, frame) in held {
                    order.last = seq;
                    Self::send(&channel, frame);
                }
            }
            return;
        }
        order.last = seq;
        Self::send(&channel, frame);
        while let Some(next) = order.held.remove(&(order.last + 1)) {
            order.last += 1;
            Self::send(&channel, next);
        }
    }

    /// Keeps `frame` for resume and queues it for every subscriber (under the stream's
    /// order lock).
    fn send(channel: &Channel, frame: Arc<Frame>) {
        {
            let mut recent = channel.recent.write().expect("recent frames lock");
            if recent.len() == RECENT_FRAMES {
                recent.pop_front();
            }
            recent.push_back(frame.clone());
        }
        let dead: Vec<u64> = {
            let sinks = channel.sinks.read().expect("sinks lock");
            sinks
                .iter()
                .filter(|(_, sink)| !sink.push(&frame))
                .map(|(id, _)| *id)
                .collect()
        };
        if !dead.is_empty() {
            let mut sinks = channel.sinks.write().expect("sinks lock");
            for id in dead {
                sinks.swap_remove(&id);
            }
        }
    }

    /// Feeds every frame of `stream` published from now on to `sink` (as connection
    /// `id`), until [`StreamHub::detach`].
    pub fn attach(&self, stream: &StreamName, id: u64, sink: Arc<dyn Sink>) {
        self.channel(stream)
            .sinks
            .write()
            .expect("sinks lock")
            .insert(id, sink);
    }

    /// Stops feeding connection `id` with `stream`.
    pub fn detach(&self, stream: &StreamName, id: u64) {
        if let Some(channel) = self.streams.get(stream).map(|c| c.clone()) {
            channel.sinks.write().expect("sinks lock").swap_remove(&id);
        }
    }

    /// A receiver of every frame of `stream` published from now on (an in-process
    /// listener; connections attach their own queue with [`StreamHub::attach`]). It is
    /// detached when the receiver is dropped, at the next publish.
    pub fn subscribe(&self, stream: &StreamName) -> mpsc::UnboundedReceiver<Arc<Frame>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = LISTENERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.attach(stream, id, Arc::new(Listener(tx)));
        rx
    }

    /// The frames after `after` up to `upto`, if memory still holds all of them.
    pub fn recent_between(
        &self,
        stream: &StreamName,
        after: u64,
        upto: u64,
    ) -> Option<Vec<Arc<Frame>>> {
        if upto <= after {
            return Some(Vec::new());
        }
        let channel = self.streams.get(stream)?.clone();
        let recent = channel.recent.read().expect("recent frames lock");
        let first = recent.front()?.seq;
        if first > after + 1 {
            return None;
        }
        let frames: Vec<_> = recent
            .iter()
            .filter(|f| f.seq > after && f.seq <= upto)
            .cloned()
            .collect();
        (frames.len() as u64 == upto - after).then_some(frames)
    }

    /// Forgets sinks nobody reads any more, and drops the channels that nobody listens
    /// to and nobody published on for `idle` (their recent frames too: a later resume
    /// reads the journal). Returns how many channels went.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let before = self.streams.len();
        self.streams.retain(|_, c| {
            let mut sinks = c.sinks.write().expect("sinks lock");
            sinks.retain(|_, sink| sink.alive());
            !sinks.is_empty() || c.touched.read().expect("touched lock").elapsed() < idle
        });
        before - self.streams.len()
    }

    /// Number of streams with a channel (metrics).
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream has a channel.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

/// Encodes one event frame.
pub fn encode_event(stream: &StreamName, seq: u64, event: StreamEvent) -> Bytes {
    Bytes::from(encode_server(&ServerMsg::Event {
        stream: stream.clone(),
        seq,
        event,
    }))
}

/// Who is reading: a logged-in user acting in one organization (or none), or a kiosk
/// screen that may read only the streams of its scope.
#[derive(Clone, Debug)]
pub enum Principal {
    User {
        user: UserId,
        org: Option<OrgId>,
        display_name: String,
        /// The login session behind the connection.
        session: String,
    },
    Kiosk {
        kiosk: KioskId,
        org: OrgId,
        scope: KioskScope,
    },
}

impl Principal {
    /// The user behind the connection (none for a kiosk).
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Principal::User { user, .. } => Some(user),
            Principal::Kiosk { .. } => None,
        }
    }

    /// The organization the principal acts in.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            Principal::User { org, .. } => org.as_ref(),
            Principal::Kiosk { org, .. } => Some(org),
        }
    }
}

/// The actor that owns an authorized stream.
enum Source {
    Calendar(CalendarHandle),
    Org(OrgHandle),
    Inbox(InboxHandle),
    Team(TeamCalendarHandle),
    Board(BoardHandle),
    Item(WorkItemHandle),
    Project(ProjectHandle),
}

impl Source {
    async fn head(&self) -> CoreResult<u64> {
        match self {
            Source::Org(o) => o.head().await,
            Source::Inbox(i) => Ok(i.head().await?.0),
            Source::Team(t) => t.head().await,
            Source::Calendar(c) => c.head().await,
            Source::Board(b) => b.head().await,
            Source::Item(i) => i.head().await,
            Source::Project(p) => p.head().await,
        }
    }

    async fn snapshot(&self) -> CoreResult<(u64, StreamState)> {
        match self {
            Source::Org(o) => o.snapshot().await.map(|s| (s.seq, StreamState::Org(s))),
            Source::Inbox(i) => i.snapshot().await.map(|s| (s.seq, StreamState::Inbox(s))),
            Source::Team(t) => t.snapshot().await.map(|s| (s.seq, StreamState::Team(s))),
            Source::Calendar(c) => c
                .snapshot()
                .await
                .map(|s| (s.seq, StreamState::Calendar(s))),
            Source::Board(b) => b.snapshot().await.map(|s| (s.seq, StreamState::Board(s))),
            Source::Item(i) => i
                .snapshot()
                .await
                .map(|s| (s.seq, StreamState::Item(Box::new(s)))),
            Source::Project(p) => p
                .snapshot()
                .await
                .map(|s| (s.seq, StreamState::Project(Box::new(s)))),
        }
    }
}

/// Who may read which stream: the one place that decides. Unknown, foreign and
/// forbidden streams are all `NotFound`, so a stream name reveals nothing.
async fn authorize(
    kernel: &Kernel,
    principal: &Principal,
    stream: &StreamName,
) -> CoreResult<Source> {
    match (principal, stream) {
        (Principal::User { user, org, .. }, StreamName::Org(id)) if org.as_ref() == Some(id) => {
            let org = OrgHandle::get(kernel, id).await?;
            org.active_member(user).await?;
            Ok(Source::Org(org))
        }
        (
            Principal::User {
                user,
                org: Some(org),
                ..
            },
            StreamName::Team(team),
        ) => {
            OrgHandle::get(kernel, org)
                .await?
                .active_member(user)
                .await?;
            let calendar = TeamCalendarHandle::new(kernel, org, team);
            // A foreign or unknown team answers NotFound here.
            calendar.head().await?;
            Ok(Source::Team(calendar))
        }
        (
            Principal::User {
                user,
                org: Some(org),
                display_name,
                ..
            },
            StreamName::Calendar(id),
        ) => {
            let member = OrgHandle::get(kernel, org)
                .await?
                .active_member(user)
                .await?;
            let viewer = Viewer {
                user: user.clone(),
                name: display_name.clone(),
                admin: member.role.is_admin(),
                teams: member.teams,
            };
            let calendar = CalendarHandle::new(kernel, org, id, viewer);
            // Hidden, foreign or unknown calendars answer NotFound here.
            calendar.head().await?;
            Ok(Source::Calendar(calendar))
        }
        (Principal::User { user, .. }, StreamName::Inbox(id)) if user == id => {
            Ok(Source::Inbox(InboxHandle::get(kernel, id).await?))
        }
        (
            Principal::User {
                user,
                org: Some(org),
                ..
            },
            StreamName::Board(id),
        ) => {
            OrgHandle::get(kernel, org)
                .await?
                .active_member(user)
                .await?;
            let board = BoardHandle::new(kernel, org, id);
            board.head().await?;
            Ok(Source::Board(board))
        }
        (
            Principal::User {
                user,
                org: Some(org),
                ..
            },
            StreamName::Item(id),
        ) => {
            OrgHandle::get(kernel, org)
                .await?
                .active_member(user)
                .await?;
            let item = WorkItemHandle::new(kernel, org, id);
            item.head().await?;
            Ok(Source::Item(item))
        }
        (
            Principal::User {
                user,
                org: Some(org),
                display_name,
                ..
            },
            StreamName::Project(id),
        ) => {
            let member = OrgHandle::get(kernel, org)
                .await?
                .active_member(user)
                .await?;
            let by = Booker {
                user: user.clone(),
                name: display_name.clone(),
                admin: member.role.is_admin(),
            };
            let project = ProjectHandle::new(kernel, org, id, by);
            // Projects the member may not read answer NotFound here.
            project.head().await?;
            Ok(Source::Project(project))
        }
        // A kiosk reads the boards and teams of its scope, nothing else.
        (Principal::Kiosk { org, scope, .. }, StreamName::Board(id))
            if scope.boards.contains(id) =>
        {
            let board = BoardHandle::new(kernel, org, id);
            board.head().await?;
            Ok(Source::Board(board))
        }
        (Principal::Kiosk { org, scope, .. }, StreamName::Team(id)) if scope.teams.contains(id) => {
            let calendar = TeamCalendarHandle::new(kernel, org, id);
            calendar.head().await?;
            Ok(Source::Team(calendar))
        }
        _ => Err(CoreError::NotFound),
    }
}

/// Opens `stream` for `principal` into a connection's queue: the first messages to
/// send (a snapshot when `after` is `None` or too far behind, with `reset`; otherwise
/// every event after `after`, from memory then the journal), and the head they reach.
/// `sink` gets every frame published after this call (attached before the head is read, so nothing falls in between; frames at or
/// below the returned head are duplicates of what `first` holds).
///
/// # Errors
/// `NotFound` when the principal may not read it (or it does not exist); `Unavailable`
/// or a store error when its actor or the journal cannot answer. Nothing stays attached
/// then.
pub async fn open_into(
    kernel: &Kernel,
    principal: &Principal,
    stream: &StreamName,
    after: Option<u64>,
    id: u64,
    sink: Arc<dyn Sink>,
) -> CoreResult<(Vec<Bytes>, u64)> {
    let source = authorize(kernel, principal, stream).await?;
    kernel.hub().attach(stream, id, sink);
    match first_frames(kernel, &source, stream, after).await {
        Ok((head, first)) => Ok((first, head)),
        Err(e) => {
            kernel.hub().detach(stream, id);
            Err(e)
        }
    }
}

/// What a new subscriber gets first, and the head it reaches.
async fn first_frames(
    kernel: &Kernel,
    source: &Source,
    stream: &StreamName,
    after: Option<u64>,
) -> CoreResult<(u64, Vec<Bytes>)> {
    let snapshot = |reset: bool| async move {
        let (seq, state) = source.snapshot().await?;
        let msg = ServerMsg::Snapshot {
            stream: stream.clone(),
            seq,
            reset,
            state,
        };
        CoreResult::Ok((seq, vec![Bytes::from(encode_server(&msg))]))
    };
    let (head, first) = match after {
        None => snapshot(false).await?,
        Some(after) => {
            let mut head = source.head().await?;
            if after > head {
                // Another node may have committed what this node's actor has not heard of
                // yet (the feed's lag): it catches up from the store before answering.
                let stored = kernel.store().last_seq(stream).await?;
                if stored >= after {
                    kernel.catch_up(stream, stored);
                    head = source.head().await?;
                }
            }
            if after > head || head - after > MAX_REPLAY {
                snapshot(true).await?
            } else if after == head {
                let msg = ServerMsg::Subscribed {
                    stream: stream.clone(),
                    seq: head,
                };
                (head, vec![Bytes::from(encode_server(&msg))])
            } else {
                // The missed events, then `subscribed` at the head: "caught up".
                let mut frames = replay(kernel, stream, after, head).await?;
                let caught_up = ServerMsg::Subscribed {
                    stream: stream.clone(),
                    seq: head,
                };
                frames.push(Bytes::from(encode_server(&caught_up)));
                (head, frames)
            }
        }
    };
    // The hub may already have sent later frames (another node's commits, brought by
    // the feed before this node's actor heard of them): what lies between goes out too,
    // so the live frames that follow are the next ones.
    let (mut head, mut first) = (head, first);
    let sent = kernel.hub().last(stream);
    if sent > head {
        first.extend(replay(kernel, stream, head, sent).await?);
        head = sent;
    }
    Ok((head, first))
}

/// Events `after+1 ..= upto` of `stream`, encoded: from memory when the hub still holds
/// them, from the journal otherwise.
///
/// # Errors
/// The journal cannot be read, or holds a row that does not parse.
pub async fn replay(
    kernel: &Kernel,
    stream: &StreamName,
    after: u64,
    upto: u64,
) -> CoreResult<Vec<Bytes>> {
    if let Some(frames) = kernel.hub().recent_between(stream, after, upto) {
        return Ok(frames.iter().map(|f| f.bytes.clone()).collect());
    }
    let mut out = Vec::with_capacity((upto - after) as usize);
    let mut from = after;
    while from < upto {
        let rows = kernel.store().journal(stream, from, 500).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows.into_iter().take_while(|r| r.seq <= upto) {
            let event = decode_journal(stream.kind(), &row.payload).map_err(|e| {
                tracing::error!(%stream, seq = row.seq, error = %e, "journal row does not parse");
                CoreError::Unavailable
            })?;
            out.push(encode_event(stream, row.seq, event));
            from = row.seq;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cflows_protocol::InboxEvent;

    fn ev(n: u32) -> StreamEvent {
        StreamEvent::Inbox(InboxEvent::AllRead { unread: n })
    }

    fn inbox(id: &str) -> StreamName {
        StreamName::Inbox(UserId::new(id))
    }

    #[tokio::test]
    async fn frames_are_shared_and_recent_ones_replayable() {
        let hub = StreamHub::default();
        let s = inbox("u");
        let mut a = hub.subscribe(&s);
        let mut b = hub.subscribe(&s);
        for seq in 1..=3 {
            hub.publish(&s, seq, ev(seq as u32));
        }
        let fa = a.recv().await.unwrap();
        let fb = b.recv().await.unwrap();
        assert!(
            Arc::ptr_eq(&fa, &fb),
            "one encoded frame for all subscribers"
        );
        assert_eq!(fa.bytes.as_ptr(), fb.bytes.as_ptr());
        let replay = hub.recent_between(&s, 1, 3).unwrap();
        assert_eq!(replay.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(hub.recent_between(&inbox("other"), 0, 3).is_none());
    }

    #[test]
    fn memory_forgets_old_frames() {
        let hub = StreamHub::default();
        let s = inbox("s");
        for seq in 1..=(RECENT_FRAMES as u64 + 10) {
            hub.publish(&s, seq, ev(0));
        }
        assert!(
            hub.recent_between(&s, 0, 20).is_none(),
            "the oldest frames are gone: use the journal"
        );
        assert_eq!(hub.recent_between(&s, 100, 110).unwrap().len(), 10);
    }

    #[test]
    fn channels_nobody_listens_to_are_evicted() {
        let hub = StreamHub::default();
        let (watched, idle) = (inbox("watched"), inbox("idle"));
        let rx = hub.subscribe(&watched);
        hub.publish(&watched, 1, ev(0));
        hub.publish(&idle, 1, ev(0));
        assert_eq!(hub.len(), 2);
        assert_eq!(
            hub.evict_idle(Duration::from_secs(60)),
            0,
            "both were just used"
        );
        assert_eq!(
            hub.evict_idle(Duration::ZERO),
            1,
            "only the unwatched one goes"
        );
        assert!(hub.recent_between(&idle, 0, 1).is_none());
        assert_eq!(hub.recent_between(&watched, 0, 1).unwrap().len(), 1);
        drop(rx);
        assert_eq!(hub.evict_idle(Duration::ZERO), 1);
        assert!(hub.is_empty());
    }
}
