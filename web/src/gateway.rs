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
use cflows_actors::kernel::Revocation;
use cflows_actors::streams::{self, Principal};
use cflows_actors::team_calendar::BookingStep;
use cflows_protocol::wire::{
    ClientMsg, DecodeError, Limits, Op, PROTOCOL_VERSION, ReplyBody, ServerMsg, WireError, close,
    decode_client, encode_server, request_id,
};
use cflows_protocol::{ErrorCode, StreamName};
use fastwebsockets::upgrade::IncomingUpgrade;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub use cflows_actors::streams::MAX_REPLAY;
/// How long the close frame may wait for a slow client before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(30);
/// How long a client has to send `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

fn authenticate(authed: Authed) -> (Principal, chrono::DateTime<chrono::Utc>) {
    let expires = authed.expires_at;
    let principal = Principal::User {
        user: authed.user_id(),
        org: authed.org,
        display_name: authed.user.display_name,
        session: authed.session_id,
    };
    (principal, expires)
}

/// `?kiosk=TOKEN`: a kiosk screen's connection (no session).
#[derive(serde::Deserialize)]
struct UpgradeQuery {
    kiosk: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<UpgradeQuery>,
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
    let (principal, expires) = match (query.kiosk, authed) {
        (Some(token), _) => match crate::work::kiosk_principal(&state, &token).await {
            // A kiosk has no session to expire; revoking it closes the socket.
            Ok(p) => (p, chrono::DateTime::<chrono::Utc>::MAX_UTC),
            Err(AppError::NotFound) => return AppError::Unauthenticated.into_response(),
            Err(e) => return e.into_response(),
        },
        (None, Ok(a)) => authenticate(a),
        (None, Err(_)) => return AppError::Unauthenticated.into_response(),
    };
    let (response, fut) = match upgrade.upgrade() {
        Ok(pair) => pair,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad upgrade: {e}")).into_response(),
    };
    tokio::spawn(async move {
        match fut.await {
            Ok(ws) => Connection::run(state, principal, expires, ws).await,
            Err(e) => tracing::debug!(error = %e, "upgrade did not complete"),
        }
    });
    response.into_response()
}

/// What the writer task sends.
enum Out {
    Data(Bytes),
    Control(OpCode, Vec<u8>),
    /// A live frame, pushed by the hub (`streams::Sink`).
    Live(Arc<streams::Frame>),
    /// A subscription starts: hold its live frames until `Release`.
    Hold(StreamName),
    /// The subscription's first messages are queued, up to `seq`: send the held live
    /// frames after it, then every later one.
    Release(StreamName, u64),
    /// Unsubscribed: drop its frames.
    Forget(StreamName),
}

/// Where one subscription of the writer stands.
enum Follow {
    /// Its first messages are not queued yet: live frames wait.
    Held(Vec<Arc<streams::Frame>>),
    /// Live after `seq`.
    Live(u64),
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

    /// Queues a control item of the writer (no bytes).
    fn mark(&self, out: Out) {
        let _ = self.tx.send(out);
    }

    fn send(&self, msg: &ServerMsg) -> Result<(), Closed> {
        self.send_bytes(Bytes::from(encode_server(msg)))
    }

    /// Queues a control frame (a pong, a close echo). It counts against the byte limit
    /// like data, so a client that pings faster than it reads is a slow consumer too.
    fn control(&self, op: OpCode, payload: Vec<u8>) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let len = payload.len() + 2;
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > self.limit {
            metrics::counter!("cflows_ws_slow_consumers_total").increment(1);
            return self.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
        }
        let _ = self.tx.send(Out::Control(op, payload));
    }

    fn close(&self, code: u16, reason: &'static str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.closing.send_replace(Some((code, reason)));
        }
    }
}

/// The heartbeats of every socket of this server: one task and one timer, whatever the
/// number of sockets. Each tick (every `heartbeat_secs`) queues a ping on every socket
/// and closes, with 4000, those silent for three intervals or more; readers only note
/// when they last heard their client. (Per-socket timers would wake every socket's
/// tasks on their own schedule; here an idle socket costs one queued ping per interval.)
pub struct Heartbeats {
    interval: Duration,
    epoch: std::time::Instant,
    sockets: dashmap::DashMap<u64, (Outbox, Arc<std::sync::atomic::AtomicU64>)>,
    started: std::sync::Once,
}

impl Heartbeats {
    /// Heartbeats every `interval`.
    pub fn new(interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            interval: interval.max(Duration::from_millis(10)),
            epoch: std::time::Instant::now(),
            sockets: dashmap::DashMap::new(),
            started: std::sync::Once::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Follows a socket; the returned clock is what its reader sets on each frame.
    fn register(self: &Arc<Self>, id: u64, outbox: Outbox) -> Arc<std::sync::atomic::AtomicU64> {
        self.started.call_once(|| {
            let weak = Arc::downgrade(self);
            let interval = self.interval;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(me) = weak.upgrade() else { return };
                    me.tick();
                }
            });
        });
        let heard = Arc::new(std::sync::atomic::AtomicU64::new(self.now_ms()));
        self.sockets.insert(id, (outbox, heard.clone()));
        heard
    }

    fn forget(&self, id: u64) {
        self.sockets.remove(&id);
    }

    fn heard(&self, clock: &std::sync::atomic::AtomicU64) {
        clock.store(self.now_ms(), Ordering::Relaxed);
    }

    /// One beat: ping every socket, close the silent ones.
    fn tick(&self) {
        let now = self.now_ms();
        let silent = 3 * self.interval.as_millis() as u64;
        for entry in &self.sockets {
            let (outbox, heard) = entry.value();
            if now.saturating_sub(heard.load(Ordering::Relaxed)) >= silent {
                outbox.close(close::IDLE, "idle");
            } else {
                outbox.control(OpCode::Ping, b"hb".to_vec());
            }
        }
    }

    /// Sockets followed now.
    pub fn sockets(&self) -> usize {
        self.sockets.len()
    }
}

impl streams::Sink for Outbox {
    fn push(&self, frame: &Arc<streams::Frame>) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let len = frame.bytes.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > self.limit {
            metrics::counter!("cflows_ws_slow_consumers_total").increment(1);
            self.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume");
            return false;
        }
        self.tx.send(Out::Live(frame.clone())).is_ok()
    }

    fn alive(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }
}

/// Ids of connections, for the hub's sink lists.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

type WsStream = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// The socket's write half behind a buffer: the writer writes every frame queued for the
/// socket, then flushes once when the queue is empty — one system call for a burst.
type Coalesced = tokio::io::BufWriter<tokio::io::WriteHalf<WsStream>>;

/// How much one flush may carry.
const COALESCE_BYTES: usize = 64 * 1024;

struct Connection {
    state: AppState,
    principal: Principal,
    outbox: Outbox,
    limits: Limits,
    /// This connection's id in the hub's sink lists.
    id: u64,
    subscriptions: HashSet<StreamName>,
    requests: DefaultDirectRateLimiter,
}

impl Connection {
    async fn run(
        state: AppState,
        principal: Principal,
        expires: chrono::DateTime<chrono::Utc>,
        ws: fastwebsockets::WebSocket<WsStream>,
    ) {
        let ws_settings = state.settings.ws.clone();
        let limits = ws_settings.limits();
        // Split by hand so the read half can be drained after the WebSocket reader is done.
        let (mut read_half, write_half) = tokio::io::split(ws.into_inner());
        let (mut reader, writer) = fastwebsockets::after_handshake_split(
            &mut read_half,
            tokio::io::BufWriter::with_capacity(COALESCE_BYTES, write_half),
            fastwebsockets::Role::Server,
        );
        // fastwebsockets refuses a payload of `max` bytes or more; ours refuses only what is
        // larger than `max_frame_bytes`.
        reader.set_max_message_size(limits.max_frame_bytes as usize + 1);
        reader.set_auto_close(true);
        // A client's ping is answered with a pong carrying its payload (RFC 6455 §5.5.2),
        // through the writer like every frame.
        reader.set_auto_pong(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let (closing, closing_rx) = watch::channel(None);
        let outbox = Outbox {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            limit: limits.max_queue_bytes as usize,
            closing,
            closed: Arc::new(AtomicBool::new(false)),
        };
        let writer_task = tokio::spawn(write_loop(writer, rx, closing_rx, outbox.queued.clone()));
        let rps = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rps.saturating_mul(NonZeroU32::new(2).expect("non-zero"));
        let mut conn = Connection {
            state,
            principal,
            outbox,
            limits,
            id: CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            subscriptions: HashSet::new(),
            requests: RateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
        };
        metrics::gauge!("cflows_ws_connections").increment(1.0);
        let heartbeats = conn.state.heartbeats.clone();
        let heard = heartbeats.register(conn.id, conn.outbox.clone());
        // A logout, expiry or removal from the organization ends the connection too:
        // pushed by the actor that made the change, never polled. A separate task, so a
        // frame being read is never cancelled half-way.
        let revocations = conn.state.core.kernel.revocations();
        let watchdog = {
            let mut revoked = match &conn.principal {
                Principal::User { user, .. } => revocations.listen(user),
                Principal::Kiosk { kiosk, .. } => revocations.listen_kiosk(kiosk),
            };
            let (principal, outbox) = (conn.principal.clone(), conn.outbox.clone());
            let until_expiry = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
            let mut stopping = conn.state.stopping.subscribe();
            tokio::spawn(async move {
                let expiry = tokio::time::sleep(until_expiry);
                tokio::pin!(expiry);
                loop {
                    let ended = tokio::select! {
                        _ = stopping.wait_for(|s| *s) => {
                            return outbox.close(close::GOING_AWAY, "server stopping: reconnect");
                        }
                        _ = &mut expiry => true,
                        r = revoked.recv() => match r {
                            Ok(what) => ends(&principal, &what),
                            // Missed some: assume the worst, the client reconnects.
                            Err(_) => true,
                        },
                    };
                    if ended {
                        let reason = match principal {
                            Principal::User { .. } => "session ended",
                            Principal::Kiosk { .. } => "kiosk revoked or changed",
                        };
                        return outbox.close(close::UNAUTHENTICATED, reason);
                    }
                }
            })
        };
        conn.read_loop(&mut reader, &heartbeats, &heard).await;
        heartbeats.forget(conn.id);
        watchdog.abort();
        let _ = watchdog.await;
        let revocations = conn.state.core.kernel.revocations();
        match &conn.principal {
            Principal::User { user, .. } => revocations.forget_if_unused(user),
            Principal::Kiosk { kiosk, .. } => revocations.forget_kiosk_if_unused(kiosk),
        }
        drop(reader);
        metrics::gauge!("cflows_ws_connections").decrement(1.0);
        for stream in conn.subscriptions.drain() {
            conn.state.core.kernel.hub().detach(&stream, conn.id);
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
        heartbeats: &Heartbeats,
        heard: &std::sync::atomic::AtomicU64,
    ) {
        let outbox = self.outbox.clone();
        // A client's ping is consumed by the reader: it counts as hearing from it too.
        let mut obligated = |frame: Frame<'_>| {
            heartbeats.heard(heard);
            outbox.control(frame.opcode, frame.payload.to_vec());
            std::future::ready(Ok::<(), std::io::Error>(()))
        };
        let mut greeted = false;
        loop {
            // Before the hello a deadline of its own; afterwards silence is the
            // heartbeat tick's to notice (no timer per read).
            let frame = if greeted {
                tokio::select! {
                    read = reader.read_frame(&mut obligated) => Ok(read),
                    () = wait_closed(&self.outbox) => return,
                }
            } else {
                tokio::select! {
                    read = tokio::time::timeout(HELLO_TIMEOUT, reader.read_frame(&mut obligated)) => read,
                    () = wait_closed(&self.outbox) => return,
                }
            };
            heartbeats.heard(heard);
            let frame = match frame {
                Err(_) => return self.outbox.close(close::BAD_HELLO, "no hello"),
                Ok(Err(WebSocketError::FrameTooLarge)) => {
                    return self.outbox.close(close::TOO_BIG, "frame too large");
                }
                Ok(Err(WebSocketError::InvalidUTF8)) => {
                    return self
                        .outbox
                        .close(close::INVALID_PAYLOAD, "text is not UTF-8");
                }
                Ok(Err(
                    WebSocketError::ReservedBitsNotZero
                    | WebSocketError::ControlFrameFragmented
                    | WebSocketError::PingFrameTooLarge
                    | WebSocketError::InvalidFragment
                    | WebSocketError::InvalidContinuationFrame
                    | WebSocketError::InvalidCloseFrame
                    | WebSocketError::InvalidCloseCode
                    | WebSocketError::InvalidValue,
                )) => {
                    return self.outbox.close(close::PROTOCOL_ERROR, "protocol error");
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
                    // A request whose id can be read gets its own reply, so a client with
                    // several requests in flight knows which one failed.
                    let sent = match request_id(&frame.payload) {
                        Some(id) => self.outbox.send(&ServerMsg::Reply {
                            id,
                            ok: None,
                            error: Some(WireError::new(ErrorCode::InvalidInput, e.to_string())),
                        }),
                        None => self.error(None, ErrorCode::InvalidInput, e.to_string()),
                    };
                    if sent.is_err() {
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
                    if self.subscriptions.remove(&stream) {
                        self.state.core.kernel.hub().detach(&stream, self.id);
                        self.outbox.mark(Out::Forget(stream));
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
        stream: Option<StreamName>,
        code: ErrorCode,
        message: String,
    ) -> Result<(), Closed> {
        self.outbox.send(&ServerMsg::Error {
            stream,
            error: WireError::new(code, message),
        })
    }

    async fn welcome(
        &mut self,
        resume: Vec<cflows_protocol::wire::StreamPosition>,
    ) -> Result<(), Closed> {
        self.outbox.send(&ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            user: match &self.principal {
                Principal::User { user, .. } => user.clone(),
                Principal::Kiosk { kiosk, .. } => {
                    cflows_protocol::UserId::new(format!("kiosk:{kiosk}"))
                }
            },
            org: self.principal.org().cloned(),
            heartbeat_ms: (self.state.settings.ws.heartbeat_secs * 1000) as u32,
            limits: self.limits,
        })?;
        for position in resume.into_iter().take(64) {
            self.subscribe(position.stream, Some(position.seq)).await?;
        }
        Ok(())
    }

    async fn subscribe(&mut self, stream: StreamName, after: Option<u64>) -> Result<(), Closed> {
        if self.requests.check().is_err() {
            return self.error(
                Some(stream),
                ErrorCode::RateLimited,
                "too many subscribes; slow down".into(),
            );
        }
        let kernel = &self.state.core.kernel;
        if self.subscriptions.remove(&stream) {
            kernel.hub().detach(&stream, self.id);
        }
        // Live frames that arrive while the first messages are prepared wait in the
        // writer, behind them.
        self.outbox.mark(Out::Hold(stream.clone()));
        let sink: Arc<dyn streams::Sink> = Arc::new(self.outbox.clone());
        let opened =
            streams::open_into(kernel, &self.principal, &stream, after, self.id, sink).await;
        let (first, head) = match opened {
            Ok(o) => o,
            Err(e) => {
                self.outbox.mark(Out::Forget(stream.clone()));
                return match e {
                    CoreError::NotFound => {
                        self.error(Some(stream), ErrorCode::NotFound, "no such stream".into())
                    }
                    e => self.error(
                        Some(stream),
                        ErrorCode::Unavailable,
                        format!(
                            "stream unavailable, subscribe again ({})",
                            e.code().as_str()
                        ),
                    ),
                };
            }
        };
        self.subscriptions.insert(stream.clone());
        for bytes in first {
            self.outbox.send_bytes(bytes)?;
        }
        self.outbox.mark(Out::Release(stream, head));
        Ok(())
    }

    async fn request(&mut self, id: u32, op: Op) -> Result<(), Closed> {
        if self.requests.check().is_err() {
            return self.outbox.send(&ServerMsg::Reply {
                id,
                ok: None,
                error: Some(WireError::new(
                    ErrorCode::RateLimited,
                    "too many requests; slow down",
                )),
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
                    refusal: match e {
                        AppError::NoCapacity(r, _) => Some(r),
                        _ => None,
                    },
                }),
            },
        };
        self.outbox.send(&reply)
    }

    async fn execute(&self, op: Op) -> Result<ReplyBody, AppError> {
        let dir = &self.state.core.directory;
        let Principal::User {
            user: me,
            org,
            display_name,
            ..
        } = &self.principal
        else {
            return Err(AppError::Forbidden("kiosk screens are read-only".into()));
        };
        match op {
            Op::ListNotifications { before, limit } => {
                let (items, unread) =
                    crate::app::notification_page(&self.state, me, before, limit.unwrap_or(20))
                        .await?;
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
                let org = org
                    .clone()
                    .ok_or_else(|| AppError::Forbidden("choose an organization first".into()))?;
                crate::app::send_direct_message(&self.state, &org, me, display_name, &to, &body)
                    .await?;
                Ok(ReplyBody::Done)
            }
            Op::HoldBooking { team, booking } => {
                let (org, member) = self.member().await?;
                let booking = self.acting(&org, &member).hold(&team, booking).await?;
                Ok(ReplyBody::Booking {
                    booking: Box::new(booking),
                })
            }
            Op::ConfirmBooking { team, booking } => {
                self.step(team, booking, BookingStep::Confirm).await
            }
            Op::CancelBooking { team, booking } => {
                self.step(team, booking, BookingStep::Cancel).await
            }
            Op::MoveBooking {
                team,
                booking,
                start,
                end,
            } => {
                let (org, member) = self.member().await?;
                let a = self.acting(&org, &member);
                let booking = a
                    .calendar(&team)
                    .move_to(a.booker(), booking, start, end)
                    .await?;
                Ok(ReplyBody::Booking {
                    booking: Box::new(booking),
                })
            }
            Op::Availability {
                team,
                from,
                to,
                slot_minutes,
            } => {
                let (org, member) = self.member().await?;
                let slots = self
                    .acting(&org, &member)
                    .calendar(&team)
                    .availability(
                        from,
                        to,
                        slot_minutes.unwrap_or(crate::bookings::DEFAULT_SLOT_MINUTES),
                    )
                    .await?;
                Ok(ReplyBody::Availability { slots })
            }
            Op::MoveItem { item, change } => {
                let (org, member) = self.member().await?;
                let a = self.acting(&org, &member);
                let item = a.item(&item).move_to(a.booker(), change).await?;
                Ok(ReplyBody::Item {
                    item: Box::new(item),
                })
            }
            Op::CommentItem { item, body } => {
                let (org, member) = self.member().await?;
                let a = self.acting(&org, &member);
                let comment = a.item(&item).comment(a.booker(), body).await?;
                Ok(ReplyBody::Comment { comment })
            }
            Op::CreateTask { project, task } => {
                let (org, member) = self.member().await?;
                let task = self
                    .acting(&org, &member)
                    .project(&project)
                    .create_task(task)
                    .await?;
                Ok(ReplyBody::Task {
                    task: Box::new(task),
                })
            }
            Op::UpdateTask {
                project,
                task,
                change,
            } => {
                let (org, member) = self.member().await?;
                let task = self
                    .acting(&org, &member)
                    .project(&project)
                    .update_task(task, change)
                    .await?;
                Ok(ReplyBody::Task {
                    task: Box::new(task),
                })
            }
            Op::CommentTask {
                project,
                task,
                body,
            } => {
                let (org, member) = self.member().await?;
                let comment = self
                    .acting(&org, &member)
                    .project(&project)
                    .comment(task, body)
                    .await?;
                Ok(ReplyBody::Comment { comment })
            }
        }
    }

    async fn step(
        &self,
        team: cflows_protocol::TeamId,
        booking: String,
        which: BookingStep,
    ) -> Result<ReplyBody, AppError> {
        let (org, member) = self.member().await?;
        let a = self.acting(&org, &member);
        let booking = a.calendar(&team).step(a.booker(), booking, which).await?;
        Ok(ReplyBody::Booking {
            booking: Box::new(booking),
        })
    }

    /// The connection's user as an active member of its organization (checked per
    /// request: a membership can end while the socket is open).
    async fn member(
        &self,
    ) -> Result<(cflows_actors::OrgHandle, cflows_protocol::MemberView), AppError> {
        let Principal::User { user, org, .. } = &self.principal else {
            return Err(AppError::Forbidden("kiosk screens are read-only".into()));
        };
        crate::bookings::member_of(&self.state.core.kernel, org.as_ref(), user).await
    }

    fn acting<'a>(
        &'a self,
        org: &'a cflows_actors::OrgHandle,
        member: &'a cflows_protocol::MemberView,
    ) -> crate::bookings::Acting<'a> {
        crate::bookings::Acting {
            kernel: &self.state.core.kernel,
            org_id: self
                .principal
                .org()
                .expect("member() checked the organization"),
            org,
            member,
        }
    }
}

/// Whether `what` ends a connection of `principal`.
fn ends(principal: &Principal, what: &Revocation) -> bool {
    match (principal, what) {
        (Principal::User { session, .. }, Revocation::Session(id)) => id == session,
        (Principal::User { .. }, Revocation::AllSessions) => true,
        (Principal::User { org, .. }, Revocation::Membership(o)) => org.as_ref() == Some(o),
        (Principal::Kiosk { .. }, Revocation::Kiosk) => true,
        _ => false,
    }
}

async fn wait_closed(outbox: &Outbox) {
    let mut rx = outbox.closing.subscribe();
    let _ = rx.wait_for(Option::is_some).await;
}

/// The only task that writes to the socket: queued frames (pings among them, queued by
/// [`Heartbeats`]), and finally the close frame.
async fn write_loop(
    mut writer: fastwebsockets::WebSocketWrite<Coalesced>,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut closing: watch::Receiver<Option<(u16, &'static str)>>,
    queued: Arc<AtomicUsize>,
) {
    let mut follows: HashMap<StreamName, Follow> = HashMap::new();
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
                Some(Out::Control(op, payload)) => {
                    let len = payload.len() + 2;
                    let r = writer.write_frame(Frame::new(true, op, None, Payload::Owned(payload))).await;
                    queued.fetch_sub(len, Ordering::AcqRel);
                    r
                }
                Some(Out::Live(frame)) => match follows.get_mut(&frame.stream) {
                    Some(Follow::Held(waiting)) => {
                        waiting.push(frame);
                        Ok(())
                    }
                    Some(Follow::Live(last)) => {
                        live_frame(&mut writer, &queued, last, &frame).await
                    }
                    None => {
                        // Unsubscribed meanwhile.
                        queued.fetch_sub(frame.bytes.len(), Ordering::AcqRel);
                        Ok(())
                    }
                },
                Some(Out::Hold(stream)) => {
                    if let Some(Follow::Held(old)) = follows.insert(stream, Follow::Held(Vec::new())) {
                        for f in old {
                            queued.fetch_sub(f.bytes.len(), Ordering::AcqRel);
                        }
                    }
                    Ok(())
                }
                Some(Out::Release(stream, head)) => {
                    let waiting = match follows.insert(stream.clone(), Follow::Live(head)) {
                        Some(Follow::Held(w)) => w,
                        _ => Vec::new(),
                    };
                    let mut r = Ok(());
                    for frame in waiting {
                        if r.is_ok()
                            && let Some(Follow::Live(last)) = follows.get_mut(&stream)
                        {
                            r = live_frame(&mut writer, &queued, last, &frame).await;
                        } else {
                            queued.fetch_sub(frame.bytes.len(), Ordering::AcqRel);
                        }
                    }
                    r
                }
                Some(Out::Forget(stream)) => {
                    if let Some(Follow::Held(old)) = follows.remove(&stream) {
                        for f in old {
                            queued.fetch_sub(f.bytes.len(), Ordering::AcqRel);
                        }
                    }
                    Ok(())
                }
                None => break,
            },
        };
        if result.is_err() {
            return;
        }
        // Nothing more queued right now: send what was written.
        if rx.is_empty() && writer.flush().await.is_err() {
            return;
        }
    }
    // What is buffered goes out before any close frame.
    let _ = tokio::time::timeout(CLOSE_WAIT, writer.flush()).await;
    let last = *closing.borrow();
    if let Some((code, reason)) = last {
        // A slow consumer gets its close code once it reads what is already in flight;
        // past CLOSE_WAIT the socket is dropped.
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            writer
                .write_frame(Frame::close(code, reason.as_bytes()))
                .await?;
            writer.flush().await
        })
        .await;
    }
}

/// Writes a live frame after `last` (skipping one already sent with the subscription's
/// first messages). The hub pushes each stream in `seq` order after the head was read,
/// so a gap cannot happen; if one ever did, the connection closes and the client
/// resumes (never a silent skip).
async fn live_frame(
    writer: &mut fastwebsockets::WebSocketWrite<Coalesced>,
    queued: &AtomicUsize,
    last: &mut u64,
    frame: &streams::Frame,
) -> Result<(), WebSocketError> {
    let len = frame.bytes.len();
    if frame.seq <= *last {
        queued.fetch_sub(len, Ordering::AcqRel);
        return Ok(());
    }
    if frame.seq != *last + 1 {
        queued.fetch_sub(len, Ordering::AcqRel);
        tracing::error!(stream = %frame.stream, seq = frame.seq, last = *last, "gap in a live stream");
        return Err(WebSocketError::ConnectionClosed);
    }
    let r = writer
        .write_frame(Frame::binary(Payload::Borrowed(&frame.bytes)))
        .await;
    queued.fetch_sub(len, Ordering::AcqRel);
    *last = frame.seq;
    r
}
