//! The cflows core: pure domain rules, one actor per owner of hot state, the supervisor
//! tree and the SurrealDB store. It knows nothing of HTTP or WebSockets.
//!
//! ```text
//! Root supervisor                  (root.rs: restarts the Directory)
//! └── Directory                    (directory.rs: orgs' creation, users, sessions;
//!     │                             starts org actors on demand, restarts failed ones)
//!     ├── Org(org_id)              (org.rs: settings, members, roles, profiles, teams)
//!     └── Inbox(user_id)           (inbox.rs: notifications, unread count, coalescing)
//! ```
//!
//! Every owner publishes its journalled changes to the [`streams::StreamHub`].
//!
//! Later issues add `TeamCalendar`, `Calendar`, `WorkItem`, `Project` under `Org` (DESIGN.md).

pub mod check;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod error;
pub mod inbox;
pub mod org;
pub mod root;
pub mod store;
pub mod streams;

pub use directory::{DirectoryHandle, NewOrg, SessionInfo};
pub use error::{CoreError, CoreResult};
pub use org::{Caller, MemberChange, OrgHandle, SettingsChange, TeamInput};
pub use store::{Store, StoreConfig, StoreError};

use dashmap::DashMap;
use ractor::{Actor, ActorRef};
use root::{Root, RootArgs, RootMsg};
use std::sync::Arc;
use tokio::sync::watch;

/// The running actor system: the root supervisor and a handle on the Directory.
#[derive(Clone)]
pub struct Core {
    pub directory: DirectoryHandle,
    root: ActorRef<RootMsg>,
}

impl Core {
    /// Starts the supervisor tree on an opened, migrated store.
    ///
    /// # Errors
    /// The Directory could not load its state.
    pub async fn start(store: Store) -> Result<Self, CoreError> {
        let registry = Arc::new(DashMap::new());
        let inboxes = Arc::new(DashMap::new());
        let hub = streams::StreamHub::default();
        let (tx, mut rx) = watch::channel(None);
        let (root, _) = Actor::spawn(
            None,
            Root,
            RootArgs {
                store: store.clone(),
                registry: registry.clone(),
                inboxes: inboxes.clone(),
                hub: hub.clone(),
                directory: tx,
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "actor system failed to start");
            CoreError::Unavailable
        })?;
        let first = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| CoreError::Unavailable)?
            .clone();
        let (dir_tx, dir_rx) = watch::channel(first.expect("waited for Some"));
        // Forward restarts of the Directory to the handles.
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                if let Some(d) = rx.borrow_and_update().clone() {
                    dir_tx.send_replace(d);
                }
            }
        });
        Ok(Self {
            directory: DirectoryHandle::new(dir_rx, registry, inboxes, hub, store),
            root,
        })
    }

    /// Stops every actor after the message each is handling (in-flight writes finish).
    pub async fn shutdown(&self) {
        let _ = self
            .root
            .stop_and_wait(
                Some("shutdown".into()),
                Some(std::time::Duration::from_secs(10)),
            )
            .await;
    }
}

#[cfg(test)]
mod tests;
