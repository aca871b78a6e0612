//! Kiosk screen pairing, held by the Directory in memory: a screen asks for a short
//! code, an admin types it into the staff panel, and the screen's next poll gets its
//! kiosk link. Codes live ten minutes; nothing here needs to survive a restart (the
//! screen simply shows a new code).

use super::{Directory, DirectoryHandle, DirectoryMsg};
use crate::error::CoreResult;
use ractor::RpcReplyPort;
use std::collections::HashMap;

/// How long a pairing code is valid (ms).
pub const PAIRING_TTL_MS: i64 = 10 * 60_000;
/// Most screens waiting to be paired at once.
pub const MAX_PENDING: usize = 1000;
/// Characters of a code: no 0/O, 1/I/L.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Length of a code.
pub const CODE_LENGTH: usize = 6;

/// A screen waiting to be paired.
#[derive(Default)]
pub(super) struct Pairings {
    /// By the screen's secret.
    by_secret: HashMap<String, Pending>,
}

struct Pending {
    code: String,
    expires_at: i64,
    /// Set when paired: the kiosk's token.
    token: Option<String>,
}

/// What a screen's poll learns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingState {
    /// Not paired yet.
    Waiting,
    /// Paired: the kiosk's secret token.
    Paired(String),
    /// Unknown or expired: ask for a new code.
    Gone,
}

/// The pairing messages of the Directory.
pub enum PairingMsg {
    /// A new code for a screen, and the screen's secret to poll with.
    Start {
        reply: RpcReplyPort<CoreResult<(String, String)>>,
    },
    Poll {
        secret: String,
        reply: RpcReplyPort<PairingState>,
    },
    /// An admin typed `code`: its screen's secret (the code is used up).
    Take {
        code: String,
        reply: RpcReplyPort<Option<String>>,
    },
    Complete {
        secret: String,
        token: String,
    },
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..CODE_LENGTH)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Directory {
    pub(super) fn on_pairing(&mut self, msg: PairingMsg) {
        let now = now_ms();
        let p = &mut self.pairings.by_secret;
        p.retain(|_, v| v.expires_at > now);
        match msg {
            PairingMsg::Start { reply } => {
                if p.len() >= MAX_PENDING {
                    let _ = reply.send(Err(crate::CoreError::Conflict(
                        "too many screens are waiting to be paired; try again in a few minutes"
                            .into(),
                    )));
                    return;
                }
                let mut c = code();
                while p.values().any(|v| v.code == c) {
                    c = code();
                }
                let secret = super::random_token();
                p.insert(
                    secret.clone(),
                    Pending {
                        code: c.clone(),
                        expires_at: now + PAIRING_TTL_MS,
                        token: None,
                    },
                );
                let _ = reply.send(Ok((c, secret)));
            }
            PairingMsg::Poll { secret, reply } => {
                let state = match p.get(&secret) {
                    None => PairingState::Gone,
                    Some(Pending { token: None, .. }) => PairingState::Waiting,
                    Some(Pending { token: Some(t), .. }) => {
                        let t = t.clone();
                        p.remove(&secret);
                        PairingState::Paired(t)
                    }
                };
                let _ = reply.send(state);
            }
            PairingMsg::Take { code, reply } => {
                let found = p
                    .iter_mut()
                    .find(|(_, v)| v.code == code && v.token.is_none() && !v.code.is_empty())
                    .map(|(k, v)| {
                        // Used up: the same code cannot pair a second kiosk.
                        v.code.clear();
                        k.clone()
                    });
                let _ = reply.send(found);
            }
            PairingMsg::Complete { secret, token } => {
                if let Some(v) = p.get_mut(&secret) {
                    v.token = Some(token);
                    v.expires_at = now + PAIRING_TTL_MS;
                }
            }
        }
    }
}

impl DirectoryHandle {
    /// A pairing code for a new screen and the secret it polls with.
    ///
    /// # Errors
    /// `Conflict` when too many screens wait.
    pub async fn start_pairing(&self) -> CoreResult<(String, String)> {
        self.call(|reply| DirectoryMsg::Pairing(PairingMsg::Start { reply }))
            .await?
    }

    /// Where the screen with `secret` stands.
    ///
    /// # Errors
    /// `Unavailable` when the Directory does not answer.
    pub async fn poll_pairing(&self, secret: String) -> CoreResult<PairingState> {
        self.call(|reply| DirectoryMsg::Pairing(PairingMsg::Poll { secret, reply }))
            .await
    }

    /// Uses up `code`, returning its screen's secret (none for an unknown code).
    ///
    /// # Errors
    /// `Unavailable` when the Directory does not answer.
    pub async fn take_pairing(&self, code: &str) -> CoreResult<Option<String>> {
        let code = code.to_string();
        self.call(|reply| DirectoryMsg::Pairing(PairingMsg::Take { code, reply }))
            .await
    }

    /// Hands the kiosk's token to the screen with `secret` (its next poll).
    ///
    /// # Errors
    /// `Unavailable` when the Directory does not answer.
    pub async fn complete_pairing(&self, secret: String, token: String) -> CoreResult<()> {
        self.kernel
            .directory()
            .send(
                &self.kernel,
                &super::Platform,
                DirectoryMsg::Pairing(PairingMsg::Complete { secret, token }),
            )
            .await
    }
}
