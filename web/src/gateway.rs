//! The WebSocket gateway at `/ws` (fastwebsockets, upgraded from axum).
//!
//! Before the upgrade: the `Origin` must be this server's public origin (403 otherwise)
//! and the session cookie must be valid (401). After it, each connection runs a reader
//! task (decodes and answers client messages); its outbound side is a byte-bounded queue
//! written by one of a few writer shards ([`sockets`]), which the hub pushes each
//! published frame into directly. Frames published by actors are shared `Bytes`; nothing
//! is re-encoded per subscriber. The protocol is specified in `protocol/PROTOCOL.md`.

mod rfc6455;
mod sockets;

pub use sockets::Sockets;
use sockets::{Closed, Socket, Subscription};

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
use cflows_actors::kernel::{Revocation, RevocationListener};
use cflows_actors::streams::{self, Principal};
use cflows_actors::team_calendar::BookingStep;
use cflows_protocol::wire::{
    ClientMsg, DecodeError, Limits, Op, PROTOCOL_VERSION, ReplyBody, ServerMsg, WireError, close,
    decode_client, encode_server, request_id, stream_of,
};
use cflows_protocol::{ErrorCode, StreamName};
use fastwebsockets::upgrade::IncomingUpgrade;
use fastwebsockets::{Frame, OpCode, WebSocketError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use cflows_actors::streams::MAX_REPLAY;
/// How long the close frame may wait for a slow client before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(30);

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

/// Ids of connections, for the hub's sink lists.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

type WsStream = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

struct Connection {
    state: AppState,
    principal: Principal,
    /// The outbound queue; its shard writes it.
    socket: Arc<Socket>,
    limits: Limits,
    /// This connection's id in the hub's sink lists.
    id: u64,
    subscriptions: HashMap<StreamName, Arc<Subscription>>,
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
        // Only the reading side of fastwebsockets is used: the socket's shard writes the
        // frames (`sockets`), so the write half it pairs with is a stand-in.
        let (mut reader, _) = fastwebsockets::after_handshake_split(
            &mut read_half,
            tokio::io::sink(),
            fastwebsockets::Role::Server,
        );
        // fastwebsockets refuses a payload of `max` bytes or more; ours refuses only what is
        // larger than `max_frame_bytes`.
        reader.set_max_message_size(limits.max_frame_bytes as usize + 1);
        // Pings and closes come to the read loop like every frame (no automatic answers):
        // an unmasked one must fail the connection before it is answered.
        reader.set_auto_close(false);
        reader.set_auto_pong(false);
        let id = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let sockets = state.sockets.clone();
        let until_expiry = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
        let socket = sockets.adopt(
            id,
            write_half,
            limits.max_queue_bytes as usize,
            until_expiry,
        );
        let rps = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rps.saturating_mul(NonZeroU32::new(2).expect("non-zero"));
        let mut conn = Connection {
            state,
            principal,
            socket,
            limits,
            id,
            subscriptions: HashMap::new(),
            requests: RateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
        };
        metrics::gauge!("cflows_ws_connections").increment(1.0);
        // A logout or removal from the organization ends the connection too: pushed by
        // the actor that made the change (no task or timer per connection); the session's
        // expiry is checked by the heartbeat tick.
        let core = conn.state.core.clone();
        let revocations = core.kernel.revocations();
        let guard = Arc::new(Guard {
            principal: conn.principal.clone(),
            socket: conn.socket.clone(),
        });
        match &conn.principal {
            Principal::User { user, .. } => revocations.listen(user, id, guard),
            Principal::Kiosk { kiosk, .. } => revocations.listen_kiosk(kiosk, id, guard),
        }
        conn.read_loop(&mut reader, &sockets).await;
        sockets.forget(conn.id);
        match &conn.principal {
            Principal::User { user, .. } => revocations.unlisten(user, id),
            Principal::Kiosk { kiosk, .. } => revocations.unlisten_kiosk(kiosk, id),
        }
        drop(reader);
        metrics::gauge!("cflows_ws_connections").decrement(1.0);
        for (stream, _) in conn.subscriptions.drain() {
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
        let socket = conn.socket;
        if tokio::time::timeout(CLOSE_WAIT, socket.finished())
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
        // A client that never took its close frame: drop the socket.
        socket.abandon();
    }

    async fn read_loop(
        &mut self,
        reader: &mut fastwebsockets::WebSocketRead<&mut tokio::io::ReadHalf<WsStream>>,
        sockets: &Sockets,
    ) {
        // Nothing is answered by the reader itself (see `run`): every frame comes here.
        let mut unobligated = |_: Frame<'_>| std::future::ready(Ok::<(), std::io::Error>(()));
        // The hello deadline counts from the upgrade: frames before the hello (pongs,
        // pings) do not extend it.
        let hello_by = tokio::time::Instant::now()
            + Duration::from_millis(self.state.settings.ws.hello_timeout_ms);
        let mut greeted = false;
        loop {
            // Before the hello a deadline of its own; afterwards silence is the
            // heartbeat tick's to notice (no timer per read).
            let frame = if greeted {
                tokio::select! {
                    read = reader.read_frame(&mut unobligated) => Ok(read),
                    () = self.socket.closed() => return,
                }
            } else {
                tokio::select! {
                    read = tokio::time::timeout_at(hello_by, reader.read_frame(&mut unobligated)) => read,
                    () = self.socket.closed() => return,
                }
            };
            sockets.heard(&self.socket);
            let mut frame = match frame {
                Err(_) => return self.socket.close(close::BAD_HELLO, "no hello"),
                Ok(Err(WebSocketError::FrameTooLarge)) => {
                    return self.socket.close(close::TOO_BIG, "frame too large");
                }
                Ok(Err(WebSocketError::InvalidUTF8)) => {
                    return self
                        .socket
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
                    return self.socket.close(close::PROTOCOL_ERROR, "protocol error");
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read ended");
                    return self.socket.close(close::NORMAL, "");
                }
                Ok(Ok(f)) => f,
            };
            if let Err((code, reason)) = rfc6455::check(&mut frame) {
                return self.socket.close(code, reason);
            }
            match frame.opcode {
                OpCode::Close => {
                    // Answered with the same code and reason (RFC 6455 §5.5.1).
                    self.socket
                        .close_echo(Bytes::copy_from_slice(&frame.payload));
                    return;
                }
                OpCode::Ping => {
                    // Answered with a pong of the same payload (RFC 6455 §5.5.2), queued
                    // like every frame.
                    self.socket
                        .control(OpCode::Pong, Bytes::copy_from_slice(&frame.payload));
                    continue;
                }
                OpCode::Pong => continue,
                OpCode::Text => {
                    return self
                        .socket
                        .close(close::UNSUPPORTED_DATA, "binary MessagePack frames only");
                }
                // No fragmented message is ever started (below), so a continuation
                // frame continues nothing: `rfc6455::check` has refused it.
                OpCode::Binary | OpCode::Continuation => {}
            }
            if !frame.fin {
                return self.socket.close(
                    close::UNSUPPORTED_DATA,
                    "fragmented messages are not supported",
                );
            }
            let msg = match decode_client(&frame.payload, &self.limits) {
                Ok(m) => m,
                Err(DecodeError::TooLarge(_)) => {
                    return self.socket.close(close::TOO_BIG, "frame too large");
                }
                Err(e) => {
                    // A request whose id can be read gets its own reply, so a client with
                    // several requests in flight knows which one failed.
                    let sent = match request_id(&frame.payload) {
                        Some(id) => self.send(&ServerMsg::Reply {
                            id,
                            ok: None,
                            error: Some(WireError::new(ErrorCode::InvalidInput, e.to_string())),
                        }),
                        // A subscribe names its stream (as sent), so a client with
                        // several in flight knows which one failed.
                        None => self.error(
                            stream_of(&frame.payload),
                            ErrorCode::InvalidInput,
                            e.to_string(),
                        ),
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
                            .socket
                            .close(close::BAD_HELLO, "unsupported protocol version");
                    } else {
                        greeted = true;
                        Box::pin(self.welcome(resume)).await
                    }
                }
                _ if !greeted => return self.socket.close(close::BAD_HELLO, "send hello first"),
                // Boxed, as is a request: the connection's future at rest (an idle socket's
                // memory) does not carry the largest state of every operation.
                ClientMsg::Subscribe { stream, after } => {
                    Box::pin(self.subscribe(stream, after)).await
                }
                ClientMsg::Unsubscribe { stream } => {
                    if let Some(sub) = self.subscriptions.remove(&stream) {
                        self.state.core.kernel.hub().detach(&stream, self.id);
                        sub.forget(&stream);
                    }
                    Ok(())
                }
                ClientMsg::Request { id, op } => Box::pin(self.request(id, op)).await,
                ClientMsg::Ping { nonce } => self.send(&ServerMsg::Pong { nonce }),
            };
            if result.is_err() {
                return;
            }
        }
    }

    fn send(&self, msg: &ServerMsg) -> Result<(), Closed> {
        self.socket.send_bytes(Bytes::from(encode_server(msg)))
    }

    fn error(
        &self,
        stream: Option<String>,
        code: ErrorCode,
        message: String,
    ) -> Result<(), Closed> {
        self.send(&ServerMsg::Error {
            stream,
            error: WireError::new(code, message),
        })
    }

    async fn welcome(
        &mut self,
        resume: Vec<cflows_protocol::wire::StreamPosition>,
    ) -> Result<(), Closed> {
        self.send(&ServerMsg::Welcome {
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
                Some(stream.to_string()),
                ErrorCode::RateLimited,
                "too many subscribes; slow down".into(),
            );
        }
        let kernel = &self.state.core.kernel;
        if let Some(old) = self.subscriptions.remove(&stream) {
            kernel.hub().detach(&stream, self.id);
            old.forget(&stream);
        }
        // Live frames that arrive while the first messages are prepared wait in the
        // subscription, to be queued behind them.
        let sub = Subscription::held(&self.socket);
        let sink: Arc<dyn streams::Sink> = sub.clone();
        let opened =
            streams::open_into(kernel, &self.principal, &stream, after, self.id, sink).await;
        let (first, head) = match opened {
            Ok(o) => o,
            Err(e) => {
                sub.forget(&stream);
                return match e {
                    CoreError::NotFound => self.error(
                        Some(stream.to_string()),
                        ErrorCode::NotFound,
                        "no such stream".into(),
                    ),
                    e => self.error(
                        Some(stream.to_string()),
                        ErrorCode::Unavailable,
                        format!(
                            "stream unavailable, subscribe again ({})",
                            e.code().as_str()
                        ),
                    ),
                };
            }
        };
        for bytes in first {
            self.socket.send_bytes(bytes)?;
        }
        sub.release(head);
        self.subscriptions.insert(stream, sub);
        Ok(())
    }

    async fn request(&mut self, id: u32, op: Op) -> Result<(), Closed> {
        if self.requests.check().is_err() {
            return self.send(&ServerMsg::Reply {
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
        self.send(&reply)
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
                let booking = a.move_booking(&team, booking, start, end).await?;
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
                let item = a.move_item(&item, change).await?;
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

/// What the revocations tell about one connection.
struct Guard {
    principal: Principal,
    socket: Arc<Socket>,
}

impl RevocationListener for Guard {
    fn revoked(&self, what: &Revocation) {
        if ends(&self.principal, what) {
            let reason = match self.principal {
                Principal::User { .. } => "session ended",
                Principal::Kiosk { .. } => "kiosk revoked or changed",
            };
            self.socket.close(close::UNAUTHENTICATED, reason);
        }
    }
}

/// Whether `what` ends a connection of `principal`.
fn ends(principal: &Principal, what: &Revocation) -> bool {
    match (principal, what) {
        (Principal::User { session, .. }, Revocation::Session(digest)) => {
            *digest == cflows_actors::kernel::session_digest(session)
        }
        (Principal::User { .. }, Revocation::AllSessions) => true,
        (Principal::User { org, .. }, Revocation::Membership(o)) => org.as_ref() == Some(o),
        (Principal::Kiosk { .. }, Revocation::Kiosk) => true,
        _ => false,
    }
}
