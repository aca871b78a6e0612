//! Kiosk screen pairing, shared by every node through the store: a screen asks for a
//! short code, an admin types it into the staff panel (on any node), and the screen's
//! next poll (on any node) gets its kiosk link. Codes live ten minutes; the screen's
//! secret is stored as a digest; the kiosk token waits in the store only until the
//! screen collects it (at most ten minutes).

use super::DirectoryHandle;
use crate::error::{CoreError, CoreResult};

/// How long a pairing code is valid (ms).
pub const PAIRING_TTL_MS: i64 = 10 * 60_000;
/// Most screens waiting to be paired at once.
pub const MAX_PENDING: u64 = 1000;
/// Characters of a code: no 0/O, 1/I/L.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Length of a code.
pub const CODE_LENGTH: usize = 6;

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

impl DirectoryHandle {
    /// A pairing code for a new screen and the secret it polls with.
    ///
    /// # Errors
    /// `Conflict` when too many screens wait; a store failure.
    pub async fn start_pairing(&self) -> CoreResult<(String, String)> {
        let store = self.kernel.store();
        let now = now_ms();
        if store.pending_pairings(now).await? >= MAX_PENDING {
            return Err(CoreError::Conflict(
                "too many screens are waiting to be paired; try again in a few minutes".into(),
            ));
        }
        let secret = super::random_token();
        let digest = crate::kernel::session_digest(&secret);
        for _ in 0..20 {
            let c = code();
            if store.put_pairing(&c, &digest, now + PAIRING_TTL_MS).await? {
                return Ok((c, secret));
            }
        }
        Err(CoreError::Unavailable)
    }

    /// Where the screen with `secret` stands (a collected token is gone afterwards).
    ///
    /// # Errors
    /// A store failure.
    pub async fn poll_pairing(&self, secret: String) -> CoreResult<PairingState> {
        let store = self.kernel.store();
        let digest = crate::kernel::session_digest(&secret);
        Ok(match store.pairing_by_secret(&digest, now_ms()).await? {
            None => PairingState::Gone,
            Some(p) => match p.token {
                None => PairingState::Waiting,
                Some(token) => {
                    store.delete_pairing(&p.id).await?;
                    PairingState::Paired(token)
                }
            },
        })
    }

    /// Uses up `code` (on every node at once), returning the pairing to complete (none
    /// for an unknown, expired or used code).
    ///
    /// # Errors
    /// A store failure.
    pub async fn take_pairing(&self, code: &str) -> CoreResult<Option<String>> {
        let code = code.trim().to_uppercase();
        Ok(self
            .kernel
            .store()
            .take_pairing_code(&code, now_ms())
            .await?
            .map(|p| p.id))
    }

    /// Hands the kiosk's token to the screen of `pairing` (its next poll collects it).
    ///
    /// # Errors
    /// A store failure.
    pub async fn complete_pairing(&self, pairing: String, token: String) -> CoreResult<()> {
        self.kernel
            .store()
            .complete_pairing(&pairing, &token)
            .await?;
        Ok(())
    }
}
