//! `Inbox(user_id)`: the single writer of one user's notifications — unread count,
//! coalescing, read marks. Hosted by the kernel (started on demand, stopped when idle).
//! Publishes `inbox:{user_id}`. Other actors deliver to it with [`InboxHandle::notify`].

use crate::error::{CoreError, CoreResult};
use crate::kernel::{Entity, Journal, Kernel};
use crate::store::{NotificationRecord, Store, writes};
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    EntityRef, InboxEvent, InboxSnapshot, NotificationKind, NotificationView, OrgId, StreamName,
    UserId,
};
use ractor::RpcReplyPort;

/// Notifications kept hot for the snapshot and for coalescing.
const HOT: usize = 50;
/// An unread notification absorbs a new one of the same kind about the same entity
/// arriving within this window.
pub const COALESCE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Largest page of a listing.
pub const MAX_PAGE: u32 = 100;

/// A notification to deliver: one recipient's copy of a [`crate::notices::Notice`], which
/// writes its words and link (only it builds one: the fields are the crate's).
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub(crate) org: OrgId,
    pub(crate) kind: NotificationKind,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) link: String,
    pub(crate) entity: Option<EntityRef>,
    pub(crate) from: Option<UserId>,
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
    /// The stream position and unread count, without the notifications.
    Head {
        reply: RpcReplyPort<(u64, u32)>,
    },
}

/// One user's inbox, hot; hosted by the kernel.
pub struct Inbox {
    user: UserId,
    store: Store,
    /// Writer of `inbox:{user}`.
    journal: Journal,
    unread: u32,
    /// Newest first, at most `HOT`.
    recent: Vec<NotificationView>,
}

impl Entity for Inbox {
    type Id = UserId;
    type Msg = InboxMsg;
    const KIND: &'static str = "inbox";

    fn decides(msg: &InboxMsg) -> bool {
        !matches!(
            msg,
            InboxMsg::List { .. } | InboxMsg::Snapshot { .. } | InboxMsg::Head { .. }
        )
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Inbox(id) => Some(id.clone()),
            _ => None,
        }
    }

    async fn load(kernel: &Kernel, user: &UserId) -> CoreResult<Self> {
        let store = kernel.store();
        if store.user(user.as_str()).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        let journal = Journal::open(kernel, StreamName::Inbox(user.clone())).await?;
        let unread = store.unread_notifications(user.as_str()).await?;
        let recent = store
            .notifications(user.as_str(), None, HOT as u32)
            .await?
            .into_iter()
            .map(view)
            .collect();
        Ok(Self {
            user: user.clone(),
            store: store.clone(),
            journal,
            unread,
            recent,
        })
    }

    async fn handle(&mut self, _kernel: &Kernel, msg: InboxMsg) {
        match msg {
            InboxMsg::Notify { n, reply } => {
                let _ = reply.send(self.on_notify(n).await);
            }
            InboxMsg::MarkRead { id, reply } => {
                let _ = reply.send(self.on_mark_read(id).await);
            }
            InboxMsg::MarkAllRead { reply } => {
                let _ = reply.send(self.on_mark_all_read().await);
            }
            InboxMsg::List {
                before,
                limit,
                reply,
            } => {
                let _ = reply.send(self.on_list(before, limit).await);
            }
            InboxMsg::Snapshot { reply } => {
                let _ = reply.send(InboxSnapshot {
                    unread: self.unread,
                    recent: self.recent.iter().take(20).cloned().collect(),
                    seq: self.journal.seq(),
                });
            }
            InboxMsg::Head { reply } => {
                let _ = reply.send((self.journal.seq(), self.unread));
            }
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }
}

fn view(r: NotificationRecord) -> NotificationView {
    NotificationView {
        id: r.id,
        org: OrgId::new(r.org),
        kind: r.kind,
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

impl Inbox {
    /// Commits `write` with the journal row for `event` (the kernel's journal writer).
    async fn commit(&mut self, write: writes::Write, event: InboxEvent) -> CoreResult<()> {
        self.journal
            .commit(write, vec![StreamEvent::Inbox(event)], None)
            .await
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
                writes::coalesce_notification(&merged),
                InboxEvent::NotificationCoalesced {
                    notification: merged.clone(),
                    unread: self.unread,
                },
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
            writes::create_notification(&self.user, &created),
            InboxEvent::NotificationAdded {
                notification: created.clone(),
                unread: self.unread + 1,
            },
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
            writes::mark_notification_read(&id),
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
            writes::mark_all_notifications_read(&self.user),
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

/// Delivers `n` to `user`'s inbox without waiting (for [`crate::notices::send`]): another
/// actor's decision must not wait on an inbox (nor risk a call cycle). A failure is
/// logged with `what`.
pub(crate) fn deliver_later(kernel: &Kernel, user: UserId, n: NewNotification, what: &'static str) {
    let k = kernel.clone();
    kernel.side_effect(async move {
        let kernel = k;
        let result = match InboxHandle::get(&kernel, &user).await {
            Ok(inbox) => inbox.notify(n).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(%user, error = %e, "{what} not delivered");
        }
    });
}

/// A typed handle on one user's inbox (started on demand by the registry).
#[derive(Clone)]
pub struct InboxHandle {
    kernel: Kernel,
    user: UserId,
}

impl InboxHandle {
    /// A handle on `user`'s inbox, checking the user exists.
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Unavailable` if it cannot start.
    pub async fn get(kernel: &Kernel, user: &UserId) -> CoreResult<Self> {
        kernel.inboxes().actor(kernel, user).await?;
        Ok(Self {
            kernel: kernel.clone(),
            user: user.clone(),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> InboxMsg,
    ) -> CoreResult<T> {
        self.kernel
            .inboxes()
            .call(&self.kernel, &self.user, build)
            .await
    }

    /// The stream position and unread count.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn head(&self) -> CoreResult<(u64, u32)> {
        self.call(|reply| InboxMsg::Head { reply }).await
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
        use crate::notices::{Author, Change, Notice};
        Notice::new(
            org,
            Some(Author::new(from, "Ann")),
            Change::Message { text: body.into() },
        )
        .notification()
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
            .journal(&StreamName::Inbox(u.id.clone()), 0, 100)
            .await
            .unwrap();
        assert_eq!(
            journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }
}
