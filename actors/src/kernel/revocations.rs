//! Ended sessions and memberships, pushed to the connections of the user they concern
//! (instead of each socket polling the store, or keeping a task to wait for them).

use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{KioskId, OrgEvent, OrgId, PlatformEvent, StreamName, UserId};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;

/// Something a user's open connections must react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One login session ended (logout): the session id's digest ([`session_digest`]).
    Session(String),
    /// Every session of the user ended (new password).
    AllSessions,
    /// The user is no longer an active member of this organization.
    Membership(OrgId),
    /// A kiosk was revoked or its scope changed: its screens must reconnect.
    Kiosk,
}

/// An open connection told of revocations; it decides whether one ends it. Called on
/// the revoking actor's task: it must not block (closing a socket only queues its close
/// frame).
pub trait RevocationListener: Send + Sync {
    fn revoked(&self, what: &Revocation);
}

/// By connection id: thousands of one user's connections come and go in O(1) each.
type Listeners = HashMap<u64, Arc<dyn RevocationListener>>;

/// The open connections of each user and kiosk, listed while they are open.
#[derive(Default)]
pub struct Revocations {
    by_user: DashMap<UserId, Listeners>,
    by_kiosk: DashMap<KioskId, Listeners>,
}

impl Revocations {
    /// Connection `id` listens for revocations concerning `user` until
    /// [`Revocations::unlisten`].
    pub fn listen(&self, user: &UserId, id: u64, listener: Arc<dyn RevocationListener>) {
        self.by_user
            .entry(user.clone())
            .or_default()
            .insert(id, listener);
    }

    /// Connection `id` of `user` closed.
    pub fn unlisten(&self, user: &UserId, id: u64) {
        forget(&self.by_user, user, id);
    }

    /// Tells `user`'s connections. Called by the owning actor after the change is durable.
    pub fn revoke(&self, user: &UserId, what: Revocation) {
        tell(&self.by_user, user, &what);
    }

    /// Screen `id` of kiosk `kiosk` listens for its revocation or rescoping.
    pub fn listen_kiosk(&self, kiosk: &KioskId, id: u64, listener: Arc<dyn RevocationListener>) {
        self.by_kiosk
            .entry(kiosk.clone())
            .or_default()
            .insert(id, listener);
    }

    /// Screen `id` of kiosk `kiosk` closed.
    pub fn unlisten_kiosk(&self, kiosk: &KioskId, id: u64) {
        forget(&self.by_kiosk, kiosk, id);
    }

    /// Tells kiosk `id`'s open screens (after the change is durable).
    pub fn revoke_kiosk(&self, id: &KioskId) {
        tell(&self.by_kiosk, id, &Revocation::Kiosk);
    }

    /// How many screens of kiosk `id` are connected now.
    pub fn kiosk_screens(&self, id: &KioskId) -> usize {
        self.by_kiosk.get(id).map_or(0, |l| l.len())
    }
}

/// Who a revocation concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    User(UserId, Revocation),
    Kiosk(KioskId),
}

/// What a committed event revokes: the one place that decides, for this node's commits
/// and for those the journal feed brings from other nodes alike.
pub fn of_event(stream: &StreamName, event: &StreamEvent) -> Option<Revoked> {
    let org = match stream {
        StreamName::Org(org) => Some(org),
        _ => None,
    };
    match event {
        StreamEvent::Platform(PlatformEvent::SessionEnded { user, session }) => Some(
            Revoked::User(user.clone(), Revocation::Session(session.clone())),
        ),
        StreamEvent::Platform(PlatformEvent::SessionsEnded { user }) => {
            Some(Revoked::User(user.clone(), Revocation::AllSessions))
        }
        StreamEvent::Org(OrgEvent::MemberChanged { member }) if !member.active => Some(
            Revoked::User(member.user.id.clone(), Revocation::Membership(org?.clone())),
        ),
        StreamEvent::Org(OrgEvent::MemberRemoved { user }) => Some(Revoked::User(
            user.clone(),
            Revocation::Membership(org?.clone()),
        )),
        StreamEvent::Org(OrgEvent::KioskRevoked { id }) => Some(Revoked::Kiosk(id.clone())),
        StreamEvent::Org(OrgEvent::KioskSaved { kiosk }) => Some(Revoked::Kiosk(kiosk.id.clone())),
        _ => None,
    }
}

/// Whether a journal row of this `kind` may revoke something (so the feed decodes only
/// those of other nodes' rows that nobody here subscribes to).
pub fn may_revoke(kind: &str) -> bool {
    matches!(
        kind,
        "session_ended"
            | "sessions_ended"
            | "member_changed"
            | "member_removed"
            | "kiosk_revoked"
            | "kiosk_saved"
    )
}

/// The digest of a session id as journalled (the id itself is a secret).
pub fn session_digest(session: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(session.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Revocations {
    /// Tells the connections concerned.
    pub fn apply(&self, what: Revoked) {
        match what {
            Revoked::User(user, r) => self.revoke(&user, r),
            Revoked::Kiosk(id) => self.revoke_kiosk(&id),
        }
    }
}

fn forget<K: std::hash::Hash + Eq>(map: &DashMap<K, Listeners>, key: &K, id: u64) {
    if let Some(mut listeners) = map.get_mut(key) {
        listeners.remove(&id);
    }
    map.remove_if(key, |_, l| l.is_empty());
}

fn tell<K: std::hash::Hash + Eq>(map: &DashMap<K, Listeners>, key: &K, what: &Revocation) {
    // Told outside the map's lock: a listener may close its connection, which unlistens.
    let listeners: Vec<Arc<dyn RevocationListener>> = map
        .get(key)
        .map(|l| l.values().cloned().collect())
        .unwrap_or_default();
    for listener in listeners {
        listener.revoked(what);
    }
}
