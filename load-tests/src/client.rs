//! One WebSocket connection speaking the cflows protocol.

use anyhow::{Context, bail};
use bytes::Bytes;
use cflows_protocol::wire::{
    ClientMsg, PROTOCOL_VERSION, ServerMsg, StreamPosition, decode_server, encode_client,
};
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocketError};
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpStream;

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::spawn(fut);
    }
}

/// What the server sent: a message, or the close frame's code.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per frame read; boxing would only add an allocation
pub enum Received {
    Msg(ServerMsg),
    Closed(u16),
}

/// A logged-in HTTP session: its cookie header and CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// Logs in over the JSON API at `addr` (`host:port`).
///
/// # Errors
/// The server refuses the credentials or is unreachable.
pub async fn login(addr: &str, email: &str, password: &str) -> anyhow::Result<Session> {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/session"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("login of {email} failed: {}", resp.status());
    }
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("session="))
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_string();
    let body: serde_json::Value = resp.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf token")?
        .to_string();
    Ok(Session { cookie, csrf })
}

/// An open protocol connection.
pub struct Client {
    ws: FragmentCollector<TokioIo<Upgraded>>,
}

impl Client {
    /// Opens `/ws` on `addr` with the session cookie (and `origin`, if given) and says hello.
    ///
    /// # Errors
    /// The upgrade is refused or the server does not welcome us.
    pub async fn connect(
        addr: &str,
        session: &Session,
        origin: Option<&str>,
        resume: Vec<StreamPosition>,
    ) -> anyhow::Result<(Self, ServerMsg)> {
        let mut client = Self::open(addr, Some(&session.cookie), origin).await?;
        client
            .send(&ClientMsg::Hello {
                version: PROTOCOL_VERSION,
                resume,
            })
            .await?;
        let welcome = client.recv_msg().await?;
        if !matches!(welcome, ServerMsg::Welcome { .. }) {
            bail!("expected welcome, got {welcome:?}");
        }
        Ok((client, welcome))
    }

    /// Opens `/ws` without saying hello (for tests of the handshake itself).
    ///
    /// # Errors
    /// The upgrade is refused.
    pub async fn open(
        addr: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::open_at(addr, "/ws", cookie, origin).await
    }

    /// Opens a kiosk screen's connection (`/ws?kiosk={token}`) and says hello.
    ///
    /// # Errors
    /// The upgrade is refused (401 for an unknown or revoked token) or no welcome.
    pub async fn connect_kiosk(addr: &str, token: &str) -> anyhow::Result<(Self, ServerMsg)> {
        let mut client = Self::open_at(addr, &format!("/ws?kiosk={token}"), None, None).await?;
        client
            .send(&ClientMsg::Hello {
                version: PROTOCOL_VERSION,
                resume: Vec::new(),
            })
            .await?;
        let welcome = client.recv_msg().await?;
        if !matches!(welcome, ServerMsg::Welcome { .. }) {
            bail!("expected welcome, got {welcome:?}");
        }
        Ok((client, welcome))
    }

    /// Opens `path` (`/ws` and its query) without saying hello.
    ///
    /// # Errors
    /// The upgrade is refused.
    pub async fn open_at(
        addr: &str,
        path: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut req = Request::builder()
            .method("GET")
            .uri(format!("http://{addr}{path}"))
            .header("Host", addr)
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header(
                "Sec-WebSocket-Key",
                fastwebsockets::handshake::generate_key(),
            )
            .header("Sec-WebSocket-Version", "13");
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let (ws, _) = fastwebsockets::handshake::client(
            &SpawnExecutor,
            req.body(Empty::<Bytes>::new())?,
            stream,
        )
        .await?;
        Ok(Self {
            ws: FragmentCollector::new(ws),
        })
    }

    /// Sends one message.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send(&mut self, msg: &ClientMsg) -> anyhow::Result<()> {
        self.send_raw(encode_client(msg)).await
    }

    /// Sends arbitrary bytes as one binary frame.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::binary(Payload::Owned(bytes)))
            .await?;
        Ok(())
    }

    /// Sends a text frame (which the protocol does not allow).
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::text(Payload::Owned(text.as_bytes().to_vec())))
            .await?;
        Ok(())
    }

    /// Sends a WebSocket ping frame with `payload` (at most 125 bytes).
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_ping(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::new(
                true,
                OpCode::Ping,
                None,
                Payload::Owned(payload.to_vec()),
            ))
            .await?;
        Ok(())
    }

    /// Sends one frame as given (masked, as a client must): for tests of how the server
    /// answers frames that break RFC 6455, e.g. a continuation frame with no start.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_frame(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::new(fin, opcode, None, Payload::Owned(payload)))
            .await?;
        Ok(())
    }

    /// Sends `payload` as one binary frame **without** the mask RFC 6455 §5.1 requires of
    /// clients (a server must fail the connection); the connection continues as the
    /// returned client.
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_unmasked(self, payload: Vec<u8>) -> anyhow::Result<Self> {
        let mut ws = fastwebsockets::WebSocket::after_handshake(self.ws.into_inner(), Role::Client);
        ws.set_auto_apply_mask(false);
        ws.write_frame(Frame::new(
            true,
            OpCode::Binary,
            None,
            Payload::Owned(payload),
        ))
        .await?;
        ws.set_auto_apply_mask(true);
        Ok(Self {
            ws: FragmentCollector::new(ws),
        })
    }

    /// Sends a close frame with `code` and `reason` (what is read after it is the
    /// server's answer).
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_close(&mut self, code: u16, reason: &str) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::close(code, reason.as_bytes()))
            .await?;
        Ok(())
    }

    /// Sends a text frame of raw bytes (not necessarily UTF-8).
    ///
    /// # Errors
    /// The connection is gone.
    pub async fn send_text_bytes(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.ws
            .write_frame(Frame::text(Payload::Owned(bytes)))
            .await?;
        Ok(())
    }

    /// Waits (bounded) for a pong frame and returns its payload; messages are skipped.
    ///
    /// # Errors
    /// None came in time, or the connection closed.
    pub async fn recv_pong_within(&mut self, limit: Duration) -> anyhow::Result<Vec<u8>> {
        tokio::time::timeout(limit, async {
            loop {
                let frame = self.ws.read_frame().await?;
                match frame.opcode {
                    OpCode::Pong => return Ok(frame.payload.to_vec()),
                    OpCode::Close => bail!("closed while waiting for a pong"),
                    _ => {}
                }
            }
        })
        .await
        .context("no pong in time")?
    }

    /// Reads (and drops) messages until the server's close frame; its code.
    ///
    /// # Errors
    /// No close within `limit`, or the connection broke.
    pub async fn closed_within(&mut self, limit: Duration) -> anyhow::Result<u16> {
        tokio::time::timeout(limit, async {
            loop {
                if let Received::Closed(code) = self.recv().await? {
                    return Ok(code);
                }
            }
        })
        .await
        .context("not closed in time")?
    }

    /// The next message or close; pings are answered and skipped.
    ///
    /// # Errors
    /// The connection broke without a close frame, or a frame did not decode.
    pub async fn recv(&mut self) -> anyhow::Result<Received> {
        loop {
            let frame = match self.ws.read_frame().await {
                Ok(f) => f,
                Err(WebSocketError::ConnectionClosed) => return Ok(Received::Closed(1006)),
                Err(e) => return Err(e.into()),
            };
            match frame.opcode {
                OpCode::Binary => return Ok(Received::Msg(decode_server(&frame.payload)?)),
                OpCode::Close => {
                    let code = if frame.payload.len() >= 2 {
                        u16::from_be_bytes([frame.payload[0], frame.payload[1]])
                    } else {
                        1005
                    };
                    return Ok(Received::Closed(code));
                }
                _ => {}
            }
        }
    }

    /// The next binary frame's payload, handed to `read` as it lies in the read buffer
    /// (no copy, no decoding unless `read` does it); pings are answered and skipped.
    ///
    /// # Errors
    /// The server closed the connection or it broke.
    pub async fn recv_with<T>(&mut self, read: impl FnOnce(&[u8]) -> T) -> anyhow::Result<T> {
        loop {
            let frame = self.ws.read_frame().await?;
            match frame.opcode {
                OpCode::Binary => return Ok(read(&frame.payload)),
                OpCode::Close => bail!("connection closed"),
                _ => {}
            }
        }
    }

    /// The next message; a close is an error.
    ///
    /// # Errors
    /// The server closed the connection or it broke.
    pub async fn recv_msg(&mut self) -> anyhow::Result<ServerMsg> {
        match self.recv().await? {
            Received::Msg(m) => Ok(m),
            Received::Closed(code) => bail!("connection closed with {code}"),
        }
    }

    /// [`Client::recv_msg`] with a time limit.
    ///
    /// # Errors
    /// Nothing arrived within `limit`, or as `recv_msg`.
    pub async fn recv_within(&mut self, limit: Duration) -> anyhow::Result<ServerMsg> {
        tokio::time::timeout(limit, self.recv_msg())
            .await
            .context("nothing received in time")?
    }
}
