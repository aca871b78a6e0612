//! Ended sessions and memberships, pushed to the connections of the user they concern
//! (instead of each socket polling the store).

use cflows_protocol::{OrgId, UserId};
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
}

/// Per-user channels, created when a connection listens and dropped with the last one.
#[derive(Default)]
pub struct Revocations {
    by_user: DashMap<UserId, broadcast::Sender<Revocation>>,
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

    /// Drops `user`'s channel if nobody listens any more (a connection closing).
    pub fn forget_if_unused(&self, user: &UserId) {
        self.by_user
            .remove_if(user, |_, tx| tx.receiver_count() == 0);
    }
}
