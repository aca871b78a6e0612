//! The WebSocket gateway at `/ws` (fastwebsockets, upgraded from axum).
//!
//! Before the upgrade: the `Origin` must be this server's public origin (403 otherwise)
//! and the session cookie must be valid (401). After it, each connection runs a reader
//! (decodes and answers client messages), a writer (the only task touching the socket's
//! write half, fed by a byte-bounded queue) and one forwarder task per subscribed stream.
//! Frames published by actors are shared `Bytes`; nothing is re-encoded per subscriber.
//! The protocol is specified in `protocol/PROTOCOL.md`.

use crate::AppState;
use crate::auth::Authed;
use crate::error::AppError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use cflows_actors::CoreError;
use cflows_actors::inbox::NewNotification;
use cflows_actors::streams::Frame as HubFrame;
use cflows_protocol::wire::{
    ClientMsg, DecodeError, Limits, Op, PROTOCOL_VERSION, ReplyBody, ServerMsg, StreamEvent,
    StreamState, WireError, close, decode_client, encode_server,
};
use cflows_protocol::{
    EntityRef, ErrorCode, InboxEvent, NotificationKind, OrgEvent, OrgId, UserId,
};
use fastwebsockets::upgrade::IncomingUpgrade;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// A client further behind than this many events gets a `snapshot` with `reset`.
pub const MAX_REPLAY: u64 = 1000;
/// How long the close frame may wait for a slow client before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(30);
/// How long a client has to send `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

/// Who is on the other end. Kiosk device tokens (read-only, one board or calendar) will
/// be a second variant, resolved in [`authenticate`].
#[derive(Clone, Debug)]
pub enum Principal {
    User {
        user: UserId,
        org: Option<OrgId>,
        display_name: String,
        /// The login session, re-checked every heartbeat.
        session: String,
    },
}

impl Principal {
    fn user(&self) -> &UserId {
        match self {
            Principal::User { user, .. } => user,
        }
    }

    fn org(&self) -> Option<&OrgId> {
        match self {
            Principal::User { org, .. } => org.as_ref(),
        }
    }

    /// Whether the login behind this connection still holds (not logged out, not
    /// expired, still an active member of its organization).
    async fn still_valid(&self, state: &AppState) -> bool {
        let Principal::User {
            user, org, session, ..
        } = self;
        let dir = &state.core.directory;
        if !matches!(dir.session(session).await, Ok(Some(_))) {
            return false;
        }
        match org {
            None => true,
            Some(org) => match dir.org(org).await {
                Ok(handle) => matches!(handle.member(user.clone()).await, Ok(Some(m)) if m.active),
                Err(_) => false,
            },
        }
    }
}

fn authenticate(authed: Authed) -> Principal {
    Principal::User {
        user: authed.user_id(),
        org: authed.org,
        display_name: authed.user.display_name,
        session: authed.session_id,
    }
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    authed: Result<Authed, crate::auth::AuthRejection>,
    upgrade: IncomingUpgrade,
) -> Response {
    // Browsers always send Origin on WebSocket upgrades; a foreign one is a cross-site
    // attempt to ride the session cookie. Non-browser clients may omit it.
    if let Some(origin) = headers.get("origin")
        && origin.to_str().ok() != Some(state.settings.http.public_origin().as_str())
    {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    let authed = match authed {
        Ok(a) => a,
        Err(_) => return AppError::Unauthenticated.into_response(),
    };
    let principal = authenticate(authed);
    let (response, fut) = match upgrade.upgrade() {
        Ok(pair) => pair,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad upgrade: {e}")).into_response(),
    };
    tokio::spawn(async move {
        match fut.await {
            Ok(ws) => Connection::run(state, principal, ws).await,
            Err(e) => tracing::debug!(error = %e, "upgrade did not complete"),
        }
    });
    response.into_response()
}

/// What the writer task sends.
enum Out {
    Data(Bytes),
    Control(OpCode, Vec<u8>),
}

/// The per-connection outbound queue, bounded in bytes.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    /// Set once: the close code the writer must send, then stop.
    closing: watch::Sender<Option<(u16, &'static str)>>,
    closed: Arc<AtomicBool>,
}

/// The connection is closing; stop producing.
#[derive(Debug)]
struct Closed;

impl Outbox {
    fn send_bytes(&self, bytes: Bytes) -> Result<(), Closed> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Closed);
        }
        let len = bytes.len();
        let now = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        if now > self.limit {
            metrics::counter!("cflows_ws_slow_consumers_total").increment(1);
            self.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
            return Err(Closed);
        }
        self.tx.send(Out::Data(bytes)).map_err(|_| Closed)
    }

    fn send(&self, msg: &ServerMsg) -> Result<(), Closed> {
        self.send_bytes(Bytes::from(encode_server(msg)))
    }

    fn control(&self, op: OpCode, payload: Vec<u8>) {
        let _ = self.tx.send(Out::Control(op, payload));
    }

    fn close(&self, code: u16, reason: &'static str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.closing.send_replace(Some((code, reason)));
        }
    }
}

type WsStream = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

struct Connection {
    state: AppState,
    principal: Principal,
    outbox: Outbox,
    limits: Limits,
    subscriptions: HashMap<String, JoinHandle<()>>,
    requests: DefaultDirectRateLimiter,
}

impl Connection {
    async fn run(state: AppState, principal: Principal, ws: fastwebsockets::WebSocket<WsStream>) {
        let ws_settings = state.settings.ws.clone();
        let limits = ws_settings.limits();
        let heartbeat = Duration::from_secs(ws_settings.heartbeat_secs.max(1));
        // Split by hand so the read half can be drained after the WebSocket reader is done.
        let (mut read_half, write_half) = tokio::io::split(ws.into_inner());
        let (mut reader, writer) = fastwebsockets::after_handshake_split(
            &mut read_half,
            write_half,
            fastwebsockets::Role::Server,
        );
        reader.set_max_message_size(limits.max_frame_bytes as usize);
        reader.set_auto_close(true);
        reader.set_auto_pong(false);
        let (tx, rx) = mpsc::unbounded_channel();
        let (closing, closing_rx) = watch::channel(None);
        let outbox = Outbox {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            limit: limits.max_queue_bytes as usize,
            closing,
            closed: Arc::new(AtomicBool::new(false)),
        };
        let writer_task = tokio::spawn(write_loop(
            writer,
            rx,
            closing_rx,
            outbox.queued.clone(),
            heartbeat,
        ));
        let rps = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rps.saturating_mul(NonZeroU32::new(2).expect("non-zero"));
        let mut conn = Connection {
            state,
            principal,
            outbox,
            limits,
            subscriptions: HashMap::new(),
            requests: RateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
        };
        metrics::gauge!("cflows_ws_connections").increment(1.0);
        // A logout, expiry or removal from the organization ends the connection too. A
        // separate task, so a frame being read is never cancelled half-way.
        let watchdog = {
            let (state, principal, outbox) = (
                conn.state.clone(),
                conn.principal.clone(),
                conn.outbox.clone(),
            );
            tokio::spawn(async move {
                // Every fourth heartbeat: one session read and one actor call per
                // connection per minute at the default heartbeat.
                let mut tick = tokio::time::interval(heartbeat * 4);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if !principal.still_valid(&state).await {
                        return outbox.close(close::UNAUTHENTICATED, "session ended");
                    }
                }
            })
        };
        conn.read_loop(&mut reader, heartbeat).await;
        watchdog.abort();
        drop(reader);
        metrics::gauge!("cflows_ws_connections").decrement(1.0);
        for (_, task) in conn.subscriptions.drain() {
            task.abort();
        }
        // Lingering close: keep reading (and discarding) what the client still sends while
        // the writer delivers the close frame, so the client is not reset before it reads
        // the close code. Bounded in time.
        let drain = async {
            let mut sink = vec![0u8; 16 * 1024];
            while tokio::io::AsyncReadExt::read(&mut read_half, &mut sink)
                .await
                .is_ok_and(|n| n > 0)
            {}
        };
        let _ = tokio::time::timeout(CLOSE_WAIT + Duration::from_secs(5), async {
            let _ = writer_task.await;
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        })
        .await;
    }

    async fn read_loop(
        &mut self,
        reader: &mut fastwebsockets::WebSocketRead<&mut tokio::io::ReadHalf<WsStream>>,
        heartbeat: Duration,
    ) {
        let outbox = self.outbox.clone();
        let mut obligated = move |frame: Frame<'_>| {
            outbox.control(frame.opcode, frame.payload.to_vec());
            std::future::ready(Ok::<(), std::io::Error>(()))
        };
        let mut greeted = false;
        loop {
            let wait = if greeted {
                heartbeat * 3
            } else {
                HELLO_TIMEOUT
            };
            let frame = tokio::select! {
                read = tokio::time::timeout(wait, reader.read_frame(&mut obligated)) => read,
                () = wait_closed(&self.outbox) => return,
            };
            let frame = match frame {
                Err(_) if greeted => return self.outbox.close(close::IDLE, "idle"),
                Err(_) => return self.outbox.close(close::BAD_HELLO, "no hello"),
                Ok(Err(WebSocketError::FrameTooLarge)) => {
                    return self.outbox.close(close::TOO_BIG, "frame too large");
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read ended");
                    return self.outbox.close(close::NORMAL, "");
                }
                Ok(Ok(f)) => f,
            };
            match frame.opcode {
                OpCode::Close => return self.outbox.close(close::NORMAL, ""),
                OpCode::Ping | OpCode::Pong => continue,
                OpCode::Text => {
                    return self
                        .outbox
                        .close(close::UNSUPPORTED_DATA, "binary MessagePack frames only");
                }
                OpCode::Binary | OpCode::Continuation => {}
            }
            if !frame.fin {
                return self.outbox.close(
                    close::UNSUPPORTED_DATA,
                    "fragmented messages are not supported",
                );
            }
            let msg = match decode_client(&frame.payload, &self.limits) {
                Ok(m) => m,
                Err(DecodeError::TooLarge(_)) => {
                    return self.outbox.close(close::TOO_BIG, "frame too large");
                }
                Err(e) => {
                    if self
                        .error(None, ErrorCode::InvalidInput, e.to_string())
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            };
            let result = match msg {
                ClientMsg::Hello { version, resume } => {
                    if greeted {
                        self.error(
                            None,
                            ErrorCode::InvalidInput,
                            "hello was already sent".into(),
                        )
                    } else if version != PROTOCOL_VERSION {
                        return self
                            .outbox
                            .close(close::BAD_HELLO, "unsupported protocol version");
                    } else {
                        greeted = true;
                        self.welcome(resume).await
                    }
                }
                _ if !greeted => return self.outbox.close(close::BAD_HELLO, "send hello first"),
                ClientMsg::Subscribe { stream, after } => self.subscribe(stream, after).await,
                ClientMsg::Unsubscribe { stream } => {
                    if let Some(task) = self.subscriptions.remove(&stream) {
                        task.abort();
                    }
                    Ok(())
                }
                ClientMsg::Request { id, op } => self.request(id, op).await,
                ClientMsg::Ping { nonce } => self.outbox.send(&ServerMsg::Pong { nonce }),
            };
            if result.is_err() {
                return;
            }
        }
    }

    fn error(
        &self,
        stream: Option<String>,
        code: ErrorCode,
        message: String,
    ) -> Result<(), Closed> {
        self.outbox.send(&ServerMsg::Error {
            stream,
            error: WireError { code, message },
        })
    }

    async fn welcome(
        &mut self,
        resume: Vec<cflows_protocol::wire::StreamPosition>,
    ) -> Result<(), Closed> {
        self.outbox.send(&ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            user: self.principal.user().clone(),
            org: self.principal.org().cloned(),
            heartbeat_ms: (self.state.settings.ws.heartbeat_secs * 1000) as u32,
            limits: self.limits,
        })?;
        for position in resume.into_iter().take(64) {
            self.subscribe(position.stream, Some(position.seq)).await?;
        }
        Ok(())
    }

    async fn subscribe(&mut self, stream: String, after: Option<u64>) -> Result<(), Closed> {
        if self.requests.check().is_err() {
            return self.error(
                Some(stream),
                ErrorCode::RateLimited,
                "too many subscribes; slow down".into(),
            );
        }
        let source = match self.authorize(&stream).await {
            Ok(s) => s,
            Err(code) => return self.error(Some(stream), code, "no such stream".into()),
        };
        if let Some(old) = self.subscriptions.remove(&stream) {
            old.abort();
        }
        // Subscribe to live frames before reading the head, so nothing falls in between.
        let live = self.state.core.directory.hub().subscribe(&stream);
        let task = tokio::spawn(forward(
            self.state.clone(),
            source,
            stream.clone(),
            after,
            live,
            self.outbox.clone(),
        ));
        self.subscriptions.insert(stream, task);
        Ok(())
    }

    /// Who may read which stream. Unknown, foreign and forbidden streams all answer
    /// `not_found`, so a stream name reveals nothing.
    async fn authorize(&self, stream: &str) -> Result<Source, ErrorCode> {
        let dir = &self.state.core.directory;
        match stream.split_once(':') {
            Some(("org", id)) if self.principal.org().map(OrgId::as_str) == Some(id) => {
                let org = dir
                    .org(&OrgId::new(id))
                    .await
                    .map_err(|_| ErrorCode::NotFound)?;
                match org.member(self.principal.user().clone()).await {
                    Ok(Some(m)) if m.active => Ok(Source::Org(org)),
                    _ => Err(ErrorCode::NotFound),
                }
            }
            Some(("inbox", id)) if self.principal.user().as_str() == id => dir
                .inbox(self.principal.user())
                .await
                .map(Source::Inbox)
                .map_err(|_| ErrorCode::NotFound),
            _ => Err(ErrorCode::NotFound),
        }
    }

    async fn request(&mut self, id: u32, op: Op) -> Result<(), Closed> {
        if self.requests.check().is_err() {
            return self.outbox.send(&ServerMsg::Reply {
                id,
                ok: None,
                error: Some(WireError {
                    code: ErrorCode::RateLimited,
                    message: "too many requests; slow down".into(),
                }),
            });
        }
        let result = self.execute(op).await;
        let reply = match result {
            Ok(body) => ServerMsg::Reply {
                id,
                ok: Some(body),
                error: None,
            },
            Err(e) => ServerMsg::Reply {
                id,
                ok: None,
                error: Some(WireError {
                    code: e.code(),
                    message: e.to_string(),
                }),
            },
        };
        self.outbox.send(&reply)
    }

    async fn execute(&self, op: Op) -> Result<ReplyBody, AppError> {
        let dir = &self.state.core.directory;
        let me = self.principal.user();
        match op {
            Op::ListNotifications { before, limit } => {
                let inbox = dir.inbox(me).await?;
                let items = inbox.list(before, limit.unwrap_or(20)).await?;
                let unread = inbox.snapshot().await?.unread;
                Ok(ReplyBody::Notifications { items, unread })
            }
            Op::MarkRead { notification } => {
                dir.inbox(me).await?.mark_read(notification).await?;
                Ok(ReplyBody::Done)
            }
            Op::MarkAllRead => {
                dir.inbox(me).await?.mark_all_read().await?;
                Ok(ReplyBody::Done)
            }
            Op::SendMessage { to, body } => {
                let Principal::User {
                    org, display_name, ..
                } = &self.principal;
                let org = org
                    .clone()
                    .ok_or_else(|| AppError::Forbidden("choose an organization first".into()))?;
                send_direct_message(&self.state, &org, me, display_name, &to, &body).await?;
                Ok(ReplyBody::Done)
            }
        }
    }
}

/// The actor that owns a subscribed stream.
enum Source {
    Org(cflows_actors::OrgHandle),
    Inbox(cflows_actors::inbox::InboxHandle),
}

impl Source {
    async fn head(&self) -> Result<(u64, StreamState), CoreError> {
        match self {
            Source::Org(o) => o.snapshot().await.map(|s| (s.seq, StreamState::Org(s))),
            Source::Inbox(i) => i.snapshot().await.map(|s| (s.seq, StreamState::Inbox(s))),
        }
    }

    /// Re-encodes journal rows of this stream as event frames.
    fn decode(&self, payload: &str) -> Option<StreamEvent> {
        match self {
            Source::Org(_) => serde_json::from_str::<OrgEvent>(payload)
                .ok()
                .map(StreamEvent::Org),
            Source::Inbox(_) => serde_json::from_str::<InboxEvent>(payload)
                .ok()
                .map(StreamEvent::Inbox),
        }
    }
}

/// Sends what a new subscriber needs (snapshot, or the events it missed) and then every
/// live frame, each exactly once and in `seq` order.
async fn forward(
    state: AppState,
    source: Source,
    stream: String,
    after: Option<u64>,
    mut live: broadcast::Receiver<Arc<HubFrame>>,
    outbox: Outbox,
) {
    let Ok((head, snapshot)) = source.head().await else {
        let _ = outbox.send(&ServerMsg::Error {
            stream: Some(stream),
            error: WireError {
                code: ErrorCode::Unavailable,
                message: "stream unavailable, subscribe again".into(),
            },
        });
        return;
    };
    let mut last = head;
    let start = match after {
        None => outbox.send(&ServerMsg::Snapshot {
            stream: stream.clone(),
            seq: head,
            reset: false,
            state: snapshot,
        }),
        Some(a) if a > head || head - a > MAX_REPLAY => outbox.send(&ServerMsg::Snapshot {
            stream: stream.clone(),
            seq: head,
            reset: true,
            state: snapshot,
        }),
        Some(a) if a == head => outbox.send(&ServerMsg::Subscribed {
            stream: stream.clone(),
            seq: head,
        }),
        Some(a) => replay(&state, &source, &stream, a, head, &outbox).await,
    };
    if start.is_err() {
        return;
    }
    loop {
        match live.recv().await {
            Ok(frame) => {
                if frame.seq <= last {
                    continue;
                }
                if frame.seq > last + 1
                    && replay(&state, &source, &stream, last, frame.seq - 1, &outbox)
                        .await
                        .is_err()
                {
                    return;
                }
                if outbox.send_bytes(frame.bytes.clone()).is_err() {
                    return;
                }
                last = frame.seq;
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                metrics::counter!("cflows_ws_slow_consumers_total").increment(1);
                return outbox.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends events `after+1 ..= upto`: from memory when the hub still holds them, from the
/// journal otherwise.
async fn replay(
    state: &AppState,
    source: &Source,
    stream: &str,
    after: u64,
    upto: u64,
    outbox: &Outbox,
) -> Result<(), Closed> {
    let hub = state.core.directory.hub();
    if let Some(frames) = hub.recent_between(stream, after, upto) {
        for f in frames {
            outbox.send_bytes(f.bytes.clone())?;
        }
        return Ok(());
    }
    let mut from = after;
    while from < upto {
        let rows = match state
            .core
            .directory
            .store()
            .journal(stream, from, 500)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(%stream, error = %e, "journal replay failed");
                outbox.close(close::NORMAL, "replay failed, reconnect");
                return Err(Closed);
            }
        };
        if rows.is_empty() {
            break;
        }
        for row in rows.into_iter().take_while(|r| r.seq <= upto) {
            let Some(event) = source.decode(&row.payload) else {
                tracing::error!(%stream, seq = row.seq, "undecodable journal row");
                outbox.close(close::NORMAL, "replay failed, reconnect");
                return Err(Closed);
            };
            outbox.send_bytes(cflows_actors::streams::encode_event(stream, row.seq, event))?;
            from = row.seq;
        }
    }
    Ok(())
}

async fn wait_closed(outbox: &Outbox) {
    let mut rx = outbox.closing.subscribe();
    let _ = rx.wait_for(Option::is_some).await;
}

/// The only task that writes to the socket: queued frames, pings every `heartbeat`, and
/// finally the close frame.
async fn write_loop(
    mut writer: fastwebsockets::WebSocketWrite<tokio::io::WriteHalf<WsStream>>,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut closing: watch::Receiver<Option<(u16, &'static str)>>,
    queued: Arc<AtomicUsize>,
    heartbeat: Duration,
) {
    let mut ping = tokio::time::interval(heartbeat);
    ping.tick().await;
    loop {
        let result = tokio::select! {
            biased;
            _ = closing.changed() => break,
            out = rx.recv() => match out {
                Some(Out::Data(bytes)) => {
                    // Never cancelled half-way: a partly written frame would corrupt the
                    // stream for the close frame that follows.
                    let r = writer.write_frame(Frame::binary(Payload::Borrowed(&bytes))).await;
                    queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                    r
                }
                Some(Out::Control(op, payload)) => writer.write_frame(Frame::new(true, op, None, Payload::Owned(payload))).await,
                None => break,
            },
            _ = ping.tick() => writer.write_frame(Frame::new(true, OpCode::Ping, None, Payload::Borrowed(b"hb"))).await,
        };
        if result.is_err() {
            return;
        }
    }
    let last = *closing.borrow();
    if let Some((code, reason)) = last {
        // A slow consumer gets its close code once it reads what is already in flight;
        // past CLOSE_WAIT the socket is dropped.
        let _ = tokio::time::timeout(
            CLOSE_WAIT,
            writer.write_frame(Frame::close(code, reason.as_bytes())),
        )
        .await;
    }
}

/// Longest direct message, in characters.
pub const MAX_MESSAGE: usize = 2000;

/// Sends a direct message from `from` to `to`, both active members of `org`: a
/// `direct_message` notification in the recipient's inbox. Rate-limited per sender;
/// bursts from one sender coalesce into one unread notification.
///
/// # Errors
/// Empty or long body, unknown or foreign recipient (`NotFound`), or over the rate.
pub async fn send_direct_message(
    state: &AppState,
    org: &OrgId,
    from: &UserId,
    from_name: &str,
    to: &UserId,
    body: &str,
) -> Result<(), AppError> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_MESSAGE {
        return Err(AppError::InvalidInput(format!(
            "a message must have 1 to {MAX_MESSAGE} characters"
        )));
    }
    if from == to {
        return Err(AppError::InvalidInput("you cannot message yourself".into()));
    }
    let dir = &state.core.directory;
    let handle = dir.org(org).await?;
    let sender_ok = handle.member(from.clone()).await?.is_some_and(|m| m.active);
    if !sender_ok {
        return Err(AppError::Forbidden("choose an organization first".into()));
    }
    if !handle.member(to.clone()).await?.is_some_and(|m| m.active) {
        return Err(AppError::NotFound);
    }
    state
        .message_limits
        .check_key(from)
        .map_err(|_| AppError::RateLimited)?;
    let title = format!("Message from {from_name}");
    let preview: String = body.chars().take(280).collect();
    dir.inbox(to)
        .await?
        .notify(NewNotification {
            org: org.clone(),
            kind: NotificationKind::DirectMessage,
            title,
            body: preview,
            link: "/notifications".into(),
            entity: Some(EntityRef {
                kind: "user".into(),
                id: from.to_string(),
            }),
            from: Some(from.clone()),
        })
        .await?;
    Ok(())
}
