//! `Inbox(user_id)`: the single writer of one user's notifications — unread count,
//! coalescing, read marks. Started on demand and supervised by the `Directory`
//! (DESIGN draws it under the root; the Directory already owns on-demand start and
//! restart, so it supervises inboxes too). Publishes `inbox:{user_id}`.

use crate::error::{CoreError, CoreResult};
use crate::store::{JournalRow, NotificationRecord, Store};
use crate::streams::StreamHub;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    EntityRef, InboxEvent, InboxSnapshot, NotificationKind, NotificationView, OrgId, UserId,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;
use std::time::Duration;

/// Notifications kept hot for the snapshot and for coalescing.
const HOT: usize = 50;
/// An unread notification absorbs a new one of the same kind about the same entity
/// arriving within this window.
pub const COALESCE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Largest page of a listing.
pub const MAX_PAGE: u32 = 100;

/// A notification to deliver.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub org: OrgId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: String,
    pub entity: Option<EntityRef>,
    pub from: Option<UserId>,
}

/// Messages the `Inbox` handles.
pub enum InboxMsg {
    Notify {
        n: NewNotification,
        reply: RpcReplyPort<CoreResult<NotificationView>>,
    },
    MarkRead {
        id: String,
        reply: RpcReplyPort<CoreResult<u32>>,
    },
    MarkAllRead {
        reply: RpcReplyPort<CoreResult<u32>>,
    },
    List {
        before: Option<String>,
        limit: u32,
        reply: RpcReplyPort<CoreResult<Vec<NotificationView>>>,
    },
    Snapshot {
        reply: RpcReplyPort<InboxSnapshot>,
    },
}

/// Start-up arguments.
pub struct InboxArgs {
    pub user: UserId,
    pub store: Store,
    pub hub: StreamHub,
}

/// The inbox's hot state.
pub struct InboxState {
    user: UserId,
    store: Store,
    hub: StreamHub,
    stream: String,
    seq: u64,
    unread: u32,
    /// Newest first, at most `HOT`.
    recent: Vec<NotificationView>,
}

/// The actor.
pub struct Inbox;

/// The stream name of a user's inbox.
pub fn inbox_stream(user: &UserId) -> String {
    format!("inbox:{user}")
}

impl Actor for Inbox {
    type Msg = InboxMsg;
    type State = InboxState;
    type Arguments = InboxArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<InboxMsg>,
        args: InboxArgs,
    ) -> Result<InboxState, ActorProcessingErr> {
        let stream = inbox_stream(&args.user);
        let seq = args.store.last_seq(&stream).await?;
        let unread = args.store.unread_notifications(args.user.as_str()).await?;
        let recent = args
            .store
            .notifications(args.user.as_str(), None, HOT as u32)
            .await?
            .into_iter()
            .map(view)
            .collect();
        Ok(InboxState {
            user: args.user,
            store: args.store,
            hub: args.hub,
            stream,
            seq,
            unread,
            recent,
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<InboxMsg>,
        msg: InboxMsg,
        state: &mut InboxState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            InboxMsg::Notify { n, reply } => {
                let _ = reply.send(state.on_notify(n).await);
            }
            InboxMsg::MarkRead { id, reply } => {
                let _ = reply.send(state.on_mark_read(id).await);
            }
            InboxMsg::MarkAllRead { reply } => {
                let _ = reply.send(state.on_mark_all_read().await);
            }
            InboxMsg::List {
                before,
                limit,
                reply,
            } => {
                let _ = reply.send(state.on_list(before, limit).await);
            }
            InboxMsg::Snapshot { reply } => {
                let _ = reply.send(InboxSnapshot {
                    unread: state.unread,
                    recent: state.recent.iter().take(20).cloned().collect(),
                    seq: state.seq,
                });
            }
        }
        Ok(())
    }
}

fn view(r: NotificationRecord) -> NotificationView {
    NotificationView {
        id: r.id,
        org: OrgId::new(r.org),
        kind: NotificationKind::parse(&r.kind).unwrap_or(NotificationKind::ProjectUpdate),
        title: r.title,
        body: r.body,
        link: r.link,
        entity: match (r.entity_kind, r.entity_id) {
            (Some(kind), Some(id)) => Some(EntityRef { kind, id }),
            _ => None,
        },
        from: r.from.map(UserId::new),
        created_at: r.created_at,
        updated_at: r.updated_at,
        count: r.count,
        read: r.read,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl InboxState {
    /// Writes `body` with the journal row for `event`, then publishes it.
    async fn commit(
        &mut self,
        body: &str,
        vars: serde_json::Value,
        event: InboxEvent,
    ) -> CoreResult<()> {
        let row = JournalRow {
            stream: self.stream.clone(),
            seq: self.seq + 1,
            kind: event.kind(),
            payload: serde_json::to_string(&event).expect("events serialize"),
            actor: None,
        };
        self.store.commit(body, vars, &[row]).await?;
        self.seq += 1;
        self.hub
            .publish(&self.stream, self.seq, StreamEvent::Inbox(event));
        Ok(())
    }

    fn remember(&mut self, n: NotificationView) {
        self.recent.retain(|r| r.id != n.id);
        self.recent.insert(0, n);
        self.recent.truncate(HOT);
    }

    async fn on_notify(&mut self, n: NewNotification) -> CoreResult<NotificationView> {
        let now = now_ms();
        let absorbing = self.recent.iter().find(|r| {
            !r.read
                && r.org == n.org
                && r.kind == n.kind
                && n.entity.is_some()
                && r.entity == n.entity
                && now - r.updated_at <= COALESCE_WINDOW_MS
        });
        if let Some(existing) = absorbing.cloned() {
            let merged = NotificationView {
                title: n.title,
                body: n.body,
                link: n.link,
                from: n.from,
                updated_at: now,
                count: existing.count + 1,
                ..existing
            };
            self.commit(
                "UPDATE type::record('notification', $n.id) SET title = $n.title, body = $n.body, link = $n.link, from = $n.from, updated_at = $n.updated_at, count = $n.count;",
                json!({ "n": merged }),
                InboxEvent::NotificationCoalesced { notification: merged.clone(), unread: self.unread },
            )
            .await?;
            self.remember(merged.clone());
            return Ok(merged);
        }
        let created = NotificationView {
            id: crate::store::new_id(),
            org: n.org,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            entity: n.entity,
            from: n.from,
            created_at: now,
            updated_at: now,
            count: 1,
            read: false,
        };
        self.commit(
            "CREATE type::record('notification', $n.id) CONTENT { user: $user, org: $n.org, kind: $kind, title: $n.title, body: $n.body, link: $n.link, entity_kind: $ek, entity_id: $eid, from: $n.from, created_at: $n.created_at, updated_at: $n.updated_at, count: 1, read: false };",
            json!({
                "n": created, "user": self.user, "kind": created.kind.as_str(),
                "ek": created.entity.as_ref().map(|e| &e.kind), "eid": created.entity.as_ref().map(|e| &e.id),
            }),
            InboxEvent::NotificationAdded { notification: created.clone(), unread: self.unread + 1 },
        )
        .await?;
        self.unread += 1;
        self.remember(created.clone());
        Ok(created)
    }

    async fn on_mark_read(&mut self, id: String) -> CoreResult<u32> {
        let record = self
            .store
            .notification(&id)
            .await?
            .filter(|r| r.user == self.user.as_str())
            .ok_or(CoreError::NotFound)?;
        if record.read {
            return Ok(self.unread);
        }
        let unread = self.unread.saturating_sub(1);
        self.commit(
            "UPDATE type::record('notification', $id) SET read = true;",
            json!({ "id": id }),
            InboxEvent::NotificationRead {
                id: id.clone(),
                unread,
            },
        )
        .await?;
        self.unread = unread;
        if let Some(r) = self.recent.iter_mut().find(|r| r.id == id) {
            r.read = true;
        }
        Ok(unread)
    }

    async fn on_mark_all_read(&mut self) -> CoreResult<u32> {
        if self.unread == 0 {
            return Ok(0);
        }
        self.commit(
            "UPDATE notification SET read = true WHERE user = $user AND read = false;",
            json!({ "user": self.user }),
            InboxEvent::AllRead { unread: 0 },
        )
        .await?;
        self.unread = 0;
        for r in &mut self.recent {
            r.read = true;
        }
        Ok(0)
    }

    async fn on_list(
        &self,
        before: Option<String>,
        limit: u32,
    ) -> CoreResult<Vec<NotificationView>> {
        let limit = limit.clamp(1, MAX_PAGE);
        Ok(self
            .store
            .notifications(self.user.as_str(), before.as_deref(), limit)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }
}

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A typed handle on one user's inbox.
#[derive(Clone)]
pub struct InboxHandle {
    actor: ActorRef<InboxMsg>,
}

impl InboxHandle {
    pub(crate) fn new(actor: ActorRef<InboxMsg>) -> Self {
        Self { actor }
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> InboxMsg,
    ) -> CoreResult<T> {
        match self.actor.call(build, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            _ => Err(CoreError::Unavailable),
        }
    }

    /// Delivers a notification (coalescing it into a recent unread one when it matches).
    ///
    /// # Errors
    /// The store failed.
    pub async fn notify(&self, n: NewNotification) -> CoreResult<NotificationView> {
        self.call(|reply| InboxMsg::Notify { n, reply }).await?
    }

    /// Marks one notification read; returns the unread count.
    ///
    /// # Errors
    /// `NotFound` for an id that is not this user's.
    pub async fn mark_read(&self, id: String) -> CoreResult<u32> {
        self.call(|reply| InboxMsg::MarkRead { id, reply }).await?
    }

    /// Marks every notification read.
    ///
    /// # Errors
    /// The store failed.
    pub async fn mark_all_read(&self) -> CoreResult<u32> {
        self.call(|reply| InboxMsg::MarkAllRead { reply }).await?
    }

    /// A page of notifications, newest first, older than `before` when given.
    ///
    /// # Errors
    /// The store failed.
    pub async fn list(
        &self,
        before: Option<String>,
        limit: u32,
    ) -> CoreResult<Vec<NotificationView>> {
        self.call(|reply| InboxMsg::List {
            before,
            limit,
            reply,
        })
        .await?
    }

    /// Unread count and the newest notifications, with the stream position.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn snapshot(&self) -> CoreResult<InboxSnapshot> {
        self.call(|reply| InboxMsg::Snapshot { reply }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Core, Store, StoreConfig};

    fn dm(org: &OrgId, from: &UserId, body: &str) -> NewNotification {
        NewNotification {
            org: org.clone(),
            kind: NotificationKind::DirectMessage,
            title: "Message".into(),
            body: body.into(),
            link: "/notifications".into(),
            entity: Some(EntityRef {
                kind: "user".into(),
                id: from.to_string(),
            }),
            from: Some(from.clone()),
        }
    }

    #[tokio::test]
    async fn notify_coalesce_read_and_page() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        let core = Core::start(store).await.unwrap();
        let u = core
            .directory
            .create_user("u@example.com", "U", "long enough pw", false)
            .await
            .unwrap();
        let inbox = core.directory.inbox(&u.id).await.unwrap();
        let org = OrgId::new("o");
        let a = UserId::new("a");
        let b = UserId::new("b");
        let first = inbox.notify(dm(&org, &a, "one")).await.unwrap();
        let again = inbox.notify(dm(&org, &a, "two")).await.unwrap();
        assert_eq!(
            (again.id.as_str(), again.count, again.body.as_str()),
            (first.id.as_str(), 2, "two"),
            "a burst coalesces"
        );
        let other = inbox.notify(dm(&org, &b, "hi")).await.unwrap();
        assert_ne!(other.id, first.id);
        let snap = inbox.snapshot().await.unwrap();
        assert_eq!((snap.unread, snap.seq, snap.recent.len()), (2, 3, 2));

        assert_eq!(inbox.mark_read(first.id.clone()).await.unwrap(), 1);
        assert_eq!(
            inbox.mark_read(first.id.clone()).await.unwrap(),
            1,
            "marking twice changes nothing"
        );
        assert!(matches!(
            inbox.mark_read("missing".into()).await,
            Err(CoreError::NotFound)
        ));
        // Once read, a new message from the same sender starts a new notification.
        let fresh = inbox.notify(dm(&org, &a, "three")).await.unwrap();
        assert_ne!(fresh.id, first.id);

        let page1 = inbox.list(None, 2).await.unwrap();
        assert_eq!(
            page1.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(),
            vec!["three", "hi"]
        );
        let page2 = inbox.list(Some(page1[1].id.clone()), 2).await.unwrap();
        assert_eq!(
            page2.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(),
            vec!["two"]
        );
        assert_eq!(inbox.mark_all_read().await.unwrap(), 0);

        // Restart from the store: same counts.
        let journal = core
            .directory
            .store()
            .journal(&inbox_stream(&u.id), 0, 100)
            .await
            .unwrap();
        assert_eq!(
            journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }
}
