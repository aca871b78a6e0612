//! The cflows core: pure domain rules, one actor per owner of hot state, the kernel that
//! hosts them, and the SurrealDB store. It knows nothing of HTTP or WebSockets.
//!
//! ```text
//! Kernel supervisor            (kernel/: registry per kind, journal writer, exit hooks)
//! ├── Directory                (directory.rs: orgs' creation, users, sessions; one, never idle)
//! ├── Org(org_id)              (org.rs: settings, members, roles, profiles, teams)
//! ├── Calendar(calendar_id)    (calendar.rs: personal, team and shared calendars' events)
//! ├── TeamCalendar(team_id)    (team_calendar.rs: bookings, holds, waitlist, capacity)
//! ├── Board(workflow_id)       (board.rs: a workflow's cards, item numbers, saved filters)
//! ├── WorkItem(item_id)        (work_item.rs: step, fields, history, comments of one item)
//! ├── Project(project_id)      (project.rs: one project's tasks, comments, attachments)
//! └── Inbox(user_id)           (inbox.rs: notifications, unread count, coalescing)
//! ```
//!
//! Every hosted actor is an [`kernel::Entity`]: started on demand from the store by its
//! registry, stopped after an idle time, started again from the store after a crash. Its
//! decisions go through the [`kernel::Journal`] writer, which publishes them to the
//! [`streams::StreamHub`]; [`streams::open_into`] serves them to subscribers.
//!
//! Beside the actors: [`domain`], the pure business rules (they import nothing else of
//! this crate; their errors become a [`CoreError`] in [`error`]); [`notices`], the one
//! place a change becomes what people are told (words, link, entity); [`store`], the
//! only SurrealQL.

pub mod board;
pub mod calendar;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod error;
pub mod feeds;
pub mod files;
pub mod inbox;
pub mod kernel;
pub mod notices;
pub mod org;
pub mod portable;
pub mod project;
pub mod store;
pub mod streams;
pub mod team_calendar;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod work_item;

pub use directory::{DirectoryHandle, NewOrg, Owner, SessionInfo};
pub use error::{CoreError, CoreResult};
pub use kernel::{Kernel, KernelConfig};
pub use org::{
    Accepting, Caller, JobTypeInput, MemberChange, OrgHandle, SettingsChange, TeamInput,
};
pub use store::{Store, StoreConfig, StoreError, check};

/// The running actor system: the kernel and a handle on the Directory.
#[derive(Clone)]
pub struct Core {
    pub directory: DirectoryHandle,
    pub kernel: Kernel,
}

impl Core {
    /// Starts the kernel on an opened, migrated store, with default settings.
    ///
    /// # Errors
    /// The Directory could not load its state.
    pub async fn start(store: Store) -> Result<Self, CoreError> {
        Self::start_with(store, KernelConfig::default()).await
    }

    /// Starts the kernel with `config`.
    ///
    /// # Errors
    /// The Directory could not load its state.
    pub async fn start_with(store: Store, config: KernelConfig) -> Result<Self, CoreError> {
        let kernel = Kernel::start(store, config).await?;
        {
            let kernel = kernel.clone();
            tokio::spawn(team_calendar::share_wake_ups(kernel));
        }
        Ok(Self {
            directory: DirectoryHandle::new(kernel.clone()),
            kernel,
        })
    }

    /// Stops every actor after the message each is handling (in-flight writes finish).
    pub async fn shutdown(&self) {
        self.kernel.shutdown().await;
    }
}

#[cfg(test)]
mod tests;
