//! The actor kernel: the one way an entity owns hot state, journals its decisions,
//! streams them and stops when idle. Every state-owning actor kind is an [`Entity`]
//! hosted by the kernel; nothing outside this module spawns or supervises actors.
//!
//! - [`Registry`]: find-or-start by typed id (loading from the store), restart after a
//!   crash (lazily, from the store; callers of the crashed actor get `Unavailable`),
//!   stop after an idle time, live count per kind.
//! - [`Journal`]: the one implementation of a decision's commit: records + journal rows
//!   in one transaction, then apply, reply, publish; a lost race on the journal's unique
//!   `(stream, seq)` index reloads the entity and answers `Conflict`.
//! - [`Revocations`]: sessions and memberships that ended, pushed to open sockets.
//!
//! Adding a kind: implement [`Entity`] in its own file and add one registry line to
//! [`Kernel::start`] (see the README's recipe). The kernel must not know any kind's
//! business rules.

pub mod feed;
mod host;
pub mod journal;
mod registry;
mod revocations;

pub use feed::{FeedConfig, FeedStatus};
pub use host::HostMsg;
pub use journal::{Journal, decode_journal};
pub use registry::{Registry, RegistryStats};
pub use revocations::{Revocation, RevocationListener, Revocations, Revoked, session_digest};

use crate::board::Board;
use crate::calendar::Calendar;
use crate::directory::Directory;
use crate::error::{CoreError, CoreResult};
use crate::files::Files;
use crate::inbox::Inbox;
use crate::org::Org;
use crate::project::Project;
use crate::store::Store;
use crate::streams::StreamHub;
use crate::team_calendar::TeamCalendar;
use crate::work_item::WorkItem;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{OrgId, StreamName};
use dashmap::DashMap;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// How long a caller waits for an actor's answer before reporting `Unavailable`.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Kernel settings.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    /// An entity that handled no message for this long stops and frees its memory; the
    /// next message starts it again from the store.
    pub idle_after: Duration,
    /// Where attachment bytes are kept (by content hash).
    pub files_dir: std::path::PathBuf,
    /// The largest attachment accepted (bytes).
    pub max_upload_bytes: u64,
    /// How many image decodes run at once, and how long uploads queue for one.
    pub decodes: crate::files::DecodeLimit,
    /// How long a login session lasts.
    pub session_lifetime: Duration,
    /// How this node follows the journal written by other nodes.
    pub feed: FeedConfig,
}

/// Default session lifetime: 14 days.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// Default largest attachment: 20 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;

impl Default for KernelConfig {
    /// Attachments in a directory of their own under the system's temporary directory
    /// (tests; the server sets `{data_dir}/files`).
    fn default() -> Self {
        Self {
            idle_after: Duration::from_secs(600),
            files_dir: std::env::temp_dir()
                .join(format!("cflows-files-{}", crate::store::new_id())),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            decodes: crate::files::DecodeLimit::default(),
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            feed: FeedConfig::default(),
        }
    }
}

/// One kind of state-owning actor. The kernel hosts it: it loads it, feeds it one
/// message at a time, publishes what it journalled after each message, reloads it when
/// another writer won a race, and stops it when idle.
pub trait Entity: Sized + Send + 'static {
    /// The typed id the registry finds it by.
    type Id: Clone + Eq + Hash + fmt::Display + fmt::Debug + Send + Sync + 'static;
    /// Its messages (request variants carry an `RpcReplyPort`).
    type Msg: Send + 'static;
    /// Its name on `/metrics` and in logs.
    const KIND: &'static str;
    /// Whether it stops after [`KernelConfig::idle_after`] without messages.
    const PASSIVATE: bool = true;
    /// The table whose record with this entity's id names its organization (`org`):
    /// [`Registry::call_in`] reads it whenever the entity is not running as the caller's,
    /// so another organization's id costs what a missing one does. `None` for kinds not
    /// called by organization.
    const SCOPE_TABLE: Option<&'static str> = None;

    /// Loads the hot state from the store.
    ///
    /// # Errors
    /// `NotFound` when there is no such entity; a store error otherwise.
    fn load(kernel: &Kernel, id: &Self::Id) -> impl Future<Output = CoreResult<Self>> + Send;

    /// Handles one message to completion (replying through its port).
    fn handle(&mut self, kernel: &Kernel, msg: Self::Msg) -> impl Future<Output = ()> + Send;

    /// Whether `msg` may change the entity: then, with other nodes writing, the host
    /// first catches this copy up when the store is ahead
    /// ([`catch_up_before_deciding`]). Reads answer from the copy as it is.
    fn decides(_msg: &Self::Msg) -> bool {
        false
    }

    /// The journal writers this entity owns, flushed (published) after each message.
    fn journals(&mut self) -> Vec<&mut Journal>;

    /// The entity whose journal `stream` is (none: not this kind's). The feed uses it to
    /// tell a hot actor that another node committed on its stream.
    fn of_stream(stream: &StreamName) -> Option<Self::Id>;

    /// The organization this entity belongs to: stopping an organization's scope stops it.
    fn scope(&self) -> Option<&OrgId> {
        None
    }

    /// Whether the entity was deleted by the message just handled: the host then stops
    /// it as if idle (messages already queued are still handled, and should answer
    /// `NotFound`), and the next caller's [`Entity::load`] finds nothing.
    fn gone(&self) -> bool {
        false
    }

    /// When (Unix ms) this entity next wants [`Entity::wake`] — a hold that runs out, a
    /// reminder. Asked after every message; while it is set the entity is not stopped
    /// for idleness.
    fn wake_at(&self) -> Option<i64> {
        None
    }

    /// Called at (or soon after) [`Entity::wake_at`]; what it journals is published like
    /// a message's.
    fn wake(&mut self, _kernel: &Kernel) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How many times a decision is made again after losing the journal's fence: each loss
/// means another node committed on the stream, so the next attempt sees that change.
pub const DECIDE_RETRIES: u32 = 3;

/// Makes a decision (an expression that commits through the entity's journal); when it
/// lost the journal's fence, reloads the entity and makes it again on the stored state,
/// up to [`DECIDE_RETRIES`] times ([`reload_after_lost_race`]).
macro_rules! decide {
    ($entity:expr, $kernel:expr, $id:expr, $decision:expr) => {{
        let mut r = $decision;
        let mut tries = 0;
        while tries < $crate::kernel::DECIDE_RETRIES
            && $crate::kernel::reload_after_lost_race($entity, $kernel, $id, &r).await
        {
            r = $decision;
            tries += 1;
        }
        r
    }};
}
pub(crate) use decide;

/// How many times [`load_settled`] loads again when commits landed during a load.
const SETTLE_TRIES: u32 = 3;

/// Loads entity `id` from the store at one position: each load reads its journal's
/// position before its state (`Journal::open`), so a commit landing between the two
/// reads would leave the state ahead of the position (a subscriber's snapshot would
/// then hold a change its next event repeats). Reads the positions again after the
/// load and loads again while they moved (rarely; one indexed read a stream otherwise).
///
/// # Errors
/// As [`Entity::load`].
pub async fn load_settled<E: Entity>(kernel: &Kernel, id: &E::Id) -> CoreResult<E> {
    let mut entity = E::load(kernel, id).await?;
    for _ in 0..SETTLE_TRIES {
        let mut moved = false;
        for j in entity.journals() {
            moved |= kernel.store().last_seq(j.stream()).await? != j.seq();
        }
        if !moved {
            break;
        }
        entity = E::load(kernel, id).await?;
    }
    Ok(entity)
}

/// Before a decision on an entity whose decisions are not retried by [`decide!`]: when
/// the store holds commits on its streams this copy has not heard of yet (the feed's
/// lag: the same person's previous request went through another node), reloads it
/// first, so the change is built on rather than refused as a race. One indexed read a
/// stream, only when other nodes may write (the feed is on).
pub async fn catch_up_before_deciding<E: Entity>(entity: &mut E, kernel: &Kernel, id: &E::Id) {
    if !kernel.config().feed.enabled {
        return;
    }
    let mut behind = false;
    for j in entity.journals() {
        behind |= kernel.store().last_seq(j.stream()).await.unwrap_or(0) > j.seq();
    }
    if !behind {
        return;
    }
    if let Ok(fresh) = load_settled::<E>(kernel, id).await {
        metrics::counter!("cflows_decisions_caught_up_total", "kind" => E::KIND).increment(1);
        *entity = fresh;
    }
}

/// After a decision: if its commit lost the journal's fence (another node committed on
/// the entity's stream first), or it was refused (not found, no capacity, conflict) while
/// the store holds commits this copy has not heard of yet, reloads the entity from the
/// store and answers `true`: the caller then decides once more on what is there now, so
/// nobody is refused for the feed's lag, and `conflict` comes only when the decisions
/// lost again and again.
pub async fn reload_after_lost_race<E: Entity, T>(
    entity: &mut E,
    kernel: &Kernel,
    id: &E::Id,
    first: &CoreResult<T>,
) -> bool {
    let fenced = entity.journals().iter().any(|j| j.fenced());
    let stale = if fenced {
        matches!(first, Err(CoreError::Conflict(_)))
    } else if matches!(
        first,
        Err(CoreError::NotFound | CoreError::NoCapacity(_) | CoreError::Conflict(_))
    ) {
        // Refused without committing: on a hot copy that may not have heard of another
        // node's commit yet (the feed's lag) — a booking made there, capacity freed
        // there. One indexed read, on refusals only, tells.
        let mut behind = false;
        for j in entity.journals() {
            let stored = kernel.store().last_seq(j.stream()).await.unwrap_or(0);
            behind |= stored > j.seq();
        }
        behind
    } else {
        false
    };
    if !stale {
        return false;
    }
    match load_settled::<E>(kernel, id).await {
        Ok(fresh) => {
            metrics::counter!("cflows_decisions_retried_total", "kind" => E::KIND).increment(1);
            *entity = fresh;
            true
        }
        // The host reloads it before the next message (or fails it).
        Err(_) => false,
    }
}

struct Inner {
    store: Store,
    hub: StreamHub,
    config: KernelConfig,
    revocations: Revocations,
    supervisor: ActorRef<()>,
    /// What to do when a hosted actor exits, by actor id (set by the registry).
    on_exit: Arc<DashMap<ActorId, Box<dyn FnOnce() + Send + Sync>>>,
    directory: Arc<Registry<Directory>>,
    orgs: Arc<Registry<Org>>,
    inboxes: Arc<Registry<Inbox>>,
    team_calendars: Arc<Registry<TeamCalendar>>,
    calendars: Arc<Registry<Calendar>>,
    boards: Arc<Registry<Board>>,
    work_items: Arc<Registry<WorkItem>>,
    projects: Arc<Registry<Project>>,
    files: Files,
    /// Side effects sent after a reply (notifications): shutdown waits for them.
    side_effects: tokio_util::task::TaskTracker,
    /// The journal feed's state (`/readyz`, `/metrics`).
    feed: Arc<FeedStatus>,
    /// Cancelled at shutdown: background tasks (the feed) end.
    stopped: tokio_util::sync::CancellationToken,
}

/// The running kernel: store, hub and one registry per entity kind. Cheap to clone.
#[derive(Clone)]
pub struct Kernel(Arc<Inner>);

/// The supervisor of every hosted actor: it only runs exit hooks.
struct Supervisor;

impl Actor for Supervisor {
    type Msg = ();
    type State = Arc<DashMap<ActorId, Box<dyn FnOnce() + Send + Sync>>>;
    type Arguments = Self::State;

    async fn pre_start(
        &self,
        _me: ActorRef<()>,
        hooks: Self::State,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(hooks)
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<()>,
        evt: SupervisionEvent,
        hooks: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match &evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, Some(err.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        if let Some(failure) = failure {
            // Restarted lazily, from the store, by the next message for it.
            tracing::error!(actor = ?cell.get_name(), error = %failure, "actor failed; it restarts from the store on its next message");
            metrics::counter!("cflows_actor_failures_total").increment(1);
        }
        if let Some((_, hook)) = hooks.remove(&cell.get_id()) {
            hook();
        }
        Ok(())
    }
}

impl Kernel {
    /// Starts the kernel on an opened, migrated store.
    ///
    /// # Errors
    /// The supervisor could not start, or the Directory could not load.
    pub async fn start(store: Store, config: KernelConfig) -> CoreResult<Self> {
        let on_exit = Arc::new(DashMap::new());
        let (supervisor, _) = Actor::spawn(None, Supervisor, on_exit.clone())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "kernel supervisor failed to start");
                CoreError::Unavailable
            })?;
        let files = Files::with_decode_limit(
            config.files_dir.clone(),
            config.max_upload_bytes,
            config.decodes,
        );
        let kernel = Kernel(Arc::new(Inner {
            files,
            store,
            hub: StreamHub::default(),
            config,
            revocations: Revocations::default(),
            supervisor,
            on_exit,
            // One line per kind.
            directory: Registry::new(),
            orgs: Registry::new(),
            inboxes: Registry::new(),
            team_calendars: Registry::new(),
            calendars: Registry::new(),
            boards: Registry::new(),
            work_items: Registry::new(),
            projects: Registry::new(),
            side_effects: tokio_util::task::TaskTracker::new(),
            feed: Arc::default(),
            stopped: tokio_util::sync::CancellationToken::new(),
        }));
        // The Directory is loaded at start so a broken store stops start-up.
        kernel
            .0
            .directory
            .actor(&kernel, &crate::directory::Platform)
            .await?;
        feed::start(kernel.clone());
        Ok(kernel)
    }

    /// The journal feed's state.
    pub fn feed_status(&self) -> &Arc<FeedStatus> {
        &self.0.feed
    }

    /// Cancelled when the kernel shuts down.
    pub fn stopped(&self) -> tokio_util::sync::CancellationToken {
        self.0.stopped.clone()
    }

    /// A change this node committed, after the reply: to the hub (subscribers here) and
    /// to revocations (sockets here). Other nodes learn of it from the feed, which
    /// hands it to [`Kernel::committed_row`].
    pub(crate) fn committed(&self, stream: &StreamName, seq: u64, event: StreamEvent) {
        if let Some(what) = revocations::of_event(stream, &event) {
            self.0.revocations.apply(what);
        }
        self.0.hub.publish(stream, seq, event);
    }

    /// A journal row read by the feed, in order for its stream. Rows of this node were
    /// handed over when committed (the hub ignores what it has); another node's row goes
    /// to the hub, to revocations and to the hot actor of its stream, which reloads
    /// before its next answer.
    pub(crate) fn committed_row(
        &self,
        stream: &StreamName,
        seq: u64,
        kind: &str,
        payload: &str,
        foreign: bool,
    ) {
        let revokes = foreign && revocations::may_revoke(kind);
        if self.0.hub.wants(stream, seq) || revokes {
            match decode_journal(stream.kind(), payload) {
                Ok(event) => {
                    if revokes && let Some(what) = revocations::of_event(stream, &event) {
                        self.0.revocations.apply(what);
                    }
                    self.0.hub.publish(stream, seq, event);
                }
                Err(e) => {
                    tracing::error!(%stream, seq, error = %e, "journal feed: a row does not parse");
                }
            }
        }
        if foreign {
            self.catch_up(stream, seq);
        }
    }

    /// The store holds `seq` of `stream`: the hot actor of that stream, if behind,
    /// reloads before its next answer.
    pub(crate) fn catch_up(&self, stream: &StreamName, seq: u64) {
        for r in self.registries() {
            r.foreign(stream, seq);
        }
    }

    /// Every registry, for metrics and scope stops.
    fn registries(&self) -> [&dyn RegistryStats; 8] {
        [
            &*self.0.directory,
            &*self.0.orgs,
            &*self.0.inboxes,
            &*self.0.team_calendars,
            &*self.0.calendars,
            &*self.0.boards,
            &*self.0.work_items,
            &*self.0.projects,
        ]
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// Where journalled changes are published and connections subscribe.
    pub fn hub(&self) -> &StreamHub {
        &self.0.hub
    }

    /// Ended sessions and memberships, for open connections.
    pub fn revocations(&self) -> &Revocations {
        &self.0.revocations
    }

    /// Kernel settings.
    pub fn config(&self) -> &KernelConfig {
        &self.0.config
    }

    /// The Directory's registry (one entity).
    pub fn directory(&self) -> &Arc<Registry<Directory>> {
        &self.0.directory
    }

    /// Organizations.
    pub fn orgs(&self) -> &Arc<Registry<Org>> {
        &self.0.orgs
    }

    /// Inboxes.
    pub fn inboxes(&self) -> &Arc<Registry<Inbox>> {
        &self.0.inboxes
    }

    /// Team calendars (capacity).
    pub fn team_calendars(&self) -> &Arc<Registry<TeamCalendar>> {
        &self.0.team_calendars
    }

    /// Personal, team and shared calendars (events).
    pub fn calendars(&self) -> &Arc<Registry<Calendar>> {
        &self.0.calendars
    }

    /// Workflow boards (cards, item numbers, saved filters).
    pub fn boards(&self) -> &Arc<Registry<Board>> {
        &self.0.boards
    }

    /// Work items.
    pub fn work_items(&self) -> &Arc<Registry<WorkItem>> {
        &self.0.work_items
    }

    /// Projects (members, tasks, activity).
    pub fn projects(&self) -> &Arc<Registry<Project>> {
        &self.0.projects
    }

    /// Attachment bytes.
    pub fn files(&self) -> &Files {
        &self.0.files
    }

    /// Live actors per kind (for `/metrics`).
    pub fn live_counts(&self) -> Vec<(&'static str, usize)> {
        self.registries()
            .iter()
            .map(|r| (r.kind(), r.live()))
            .collect()
    }

    /// Stops every live actor that belongs to `org` (each finishes what it is handling).
    pub fn stop_scope(&self, org: &OrgId) {
        for r in self.registries() {
            r.stop_scope(org);
        }
    }

    pub(crate) fn supervisor(&self) -> ActorCell {
        self.0.supervisor.get_cell()
    }

    pub(crate) fn on_exit(&self, actor: ActorId, hook: impl FnOnce() + Send + Sync + 'static) {
        self.0.on_exit.insert(actor, Box::new(hook));
    }

    /// Runs `effect` (a notification, sent after the change it reports was committed) in
    /// a task shutdown waits for.
    pub fn side_effect(&self, effect: impl Future<Output = ()> + Send + 'static) {
        self.0.side_effects.spawn(effect);
    }

    /// Stops every actor after the message each is handling (in-flight writes finish).
    pub async fn shutdown(&self) {
        self.0.stopped.cancel();
        // Notifications on their way (and those the messages being handled are about to
        // send) are delivered first, for up to five seconds.
        let effects = &self.0.side_effects;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                effects.close();
                effects.wait().await;
                effects.reopen();
                tokio::time::sleep(Duration::from_millis(100)).await;
                if effects.is_empty() {
                    break;
                }
            }
        })
        .await;
        // Children first and gracefully: a supervisor that exits kills its children.
        self.supervisor()
            .stop_children_and_wait(Some("shutdown".into()), Some(Duration::from_secs(10)))
            .await;
        let _ = self
            .0
            .supervisor
            .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(10)))
            .await;
    }
}

#[cfg(test)]
mod tests;
