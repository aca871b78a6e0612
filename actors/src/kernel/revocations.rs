//! Ended sessions and memberships, pushed to the connections of the user they concern
//! (instead of each socket polling the store).

use cflows_protocol::{KioskId, OrgId, UserId};
use dashmap::DashMap;
use tokio::sync::broadcast;

/// Something a user's open connections must react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One login session ended (logout).
    Session(String),
    /// Every session of the user ended (new password).
    AllSessions,
    /// The user is no longer an active member of this organization.
    Membership(OrgId),
    /// A kiosk was revoked or its scope changed: its screens must reconnect.
    Kiosk,
}

/// Per-user channels, created when a connection listens and dropped with the last one.
#[derive(Default)]
pub struct Revocations {
    by_user: DashMap<UserId, broadcast::Sender<Revocation>>,
    by_kiosk: DashMap<KioskId, broadcast::Sender<Revocation>>,
}

impl Revocations {
    /// Listens for revocations concerning `user`.
    pub fn listen(&self, user: &UserId) -> broadcast::Receiver<Revocation> {
        self.by_user
            .entry(user.clone())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    /// Tells `user`'s listeners. Called by the owning actor after the change is durable.
    pub fn revoke(&self, user: &UserId, what: Revocation) {
        if let Some(tx) = self.by_user.get(user) {
            let _ = tx.send(what);
        }
    }

    /// Listens for the revocation or rescoping of kiosk `id`.
    pub fn listen_kiosk(&self, id: &KioskId) -> broadcast::Receiver<Revocation> {
        self.by_kiosk
            .entry(id.clone())
            .or_insert_with(|| broadcast::channel(4).0)
            .subscribe()
    }

    /// Tells kiosk `id`'s open screens (after the change is durable).
    pub fn revoke_kiosk(&self, id: &KioskId) {
        if let Some(tx) = self.by_kiosk.get(id) {
            let _ = tx.send(Revocation::Kiosk);
        }
    }

    /// How many screens of kiosk `id` are connected now.
    pub fn kiosk_screens(&self, id: &KioskId) -> usize {
        self.by_kiosk.get(id).map_or(0, |tx| tx.receiver_count())
    }

    /// Drops kiosk `id`'s channel if no screen listens any more.
    pub fn forget_kiosk_if_unused(&self, id: &KioskId) {
        self.by_kiosk
            .remove_if(id, |_, tx| tx.receiver_count() == 0);
    }

    /// Drops `user`'s channel if nobody listens any more (a connection closing).
    pub fn forget_if_unused(&self, user: &UserId) {
        self.by_user
            .remove_if(user, |_, tx| tx.receiver_count() == 0);
    }
}
