//! The registry of one entity kind: find or start by id, send a message again to a fresh
//! actor when the one it reached was stopping, retire idle actors, stop an organization's
//! scope.

use super::host::{Host, HostArgs, HostMsg};
use super::{CALL_TIMEOUT, Entity, Kernel};
use crate::error::{CoreError, CoreResult};
use cflows_protocol::{OrgId, StreamName};
use dashmap::DashMap;
use ractor::{Actor, ActorCell, ActorRef, ActorStatus, MessagingErr, RpcReplyPort};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A running actor and the organization it belongs to.
struct Started<E: Entity> {
    actor: ActorRef<HostMsg<E::Msg>>,
    scope: Option<OrgId>,
}

/// Filled once by whoever starts the entity; concurrent callers wait on the same cell,
/// so one process never runs two actors for one entity.
type Slot<E> = Arc<OnceCell<Started<E>>>;

/// Live actors of one kind.
pub struct Registry<E: Entity> {
    live: DashMap<E::Id, Slot<E>>,
    /// Actors that left `live` (idle) and are finishing their queue; a new start for the
    /// same id waits for them, so it loads what they committed.
    retiring: DashMap<E::Id, ActorCell>,
    /// Positions other nodes committed on the stream of an actor that was starting (its
    /// load may have read the store before them): told to it once it runs.
    pending: DashMap<E::Id, u64>,
}

/// What the kernel needs of any registry, whatever its kind.
pub trait RegistryStats: Send + Sync {
    /// The kind's name.
    fn kind(&self) -> &'static str;
    /// Live actors.
    fn live(&self) -> usize;
    /// Stops the live actors that belong to `org`.
    fn stop_scope(&self, org: &OrgId);
    /// Another node committed `seq` on `stream`: the live actor whose stream it is (if
    /// any, of this kind) reloads before its next answer unless it has that row.
    fn foreign(&self, stream: &StreamName, seq: u64);
}

impl<E: Entity> RegistryStats for Registry<E> {
    fn kind(&self) -> &'static str {
        E::KIND
    }

    fn live(&self) -> usize {
        self.live.iter().filter(|e| e.value().initialized()).count()
    }

    fn foreign(&self, stream: &StreamName, seq: u64) {
        let Some(id) = E::of_stream(stream) else {
            return;
        };
        let Some(slot) = self.live.get(&id).map(|s| s.clone()) else {
            return;
        };
        match slot.get() {
            Some(started) => {
                let _ = started.actor.cast(HostMsg::Foreign(seq));
            }
            None => {
                // Starting: its load may have read the store before this commit.
                let mut p = self.pending.entry(id.clone()).or_insert(seq);
                *p = (*p).max(seq);
                drop(p);
                // It may have started meanwhile: then tell it now.
                if let Some(started) = slot.get()
                    && let Some((_, seq)) = self.pending.remove(&id)
                {
                    let _ = started.actor.cast(HostMsg::Foreign(seq));
                }
            }
        }
    }

    fn stop_scope(&self, org: &OrgId) {
        let doomed: Vec<(E::Id, ActorCell)> = self
            .live
            .iter()
            .filter_map(|e| {
                let started = e.value().get()?;
                (started.scope.as_ref() == Some(org))
                    .then(|| (e.key().clone(), started.actor.get_cell()))
            })
            .collect();
        for (id, cell) in doomed {
            self.retire(&id, cell.clone());
            let _ = cell.drain();
        }
    }
}

impl<E: Entity> Registry<E> {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            live: DashMap::new(),
            retiring: DashMap::new(),
            pending: DashMap::new(),
        })
    }

    /// The running actor for `id`, started (loaded from the store) when needed.
    ///
    /// # Errors
    /// `NotFound` when the store has no such entity; `Unavailable` when it cannot start.
    pub async fn actor(
        self: &Arc<Self>,
        kernel: &Kernel,
        id: &E::Id,
    ) -> CoreResult<ActorRef<HostMsg<E::Msg>>> {
        Ok(self.started(kernel, id).await?.0)
    }

    /// The running actor for `id` and the organization its entity belongs to.
    async fn started(
        self: &Arc<Self>,
        kernel: &Kernel,
        id: &E::Id,
    ) -> CoreResult<(ActorRef<HostMsg<E::Msg>>, Option<OrgId>)> {
        let slot = self
            .live
            .entry(id.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        if let Some(started) = slot.get() {
            return Ok((started.actor.clone(), started.scope.clone()));
        }
        // Starting runs in a task of its own, which also fills the slot: an actor
        // starting another (a work item waking its board) does not stack one load's
        // deep store call on the other's, and a caller that gives up (a dropped HTTP
        // request) cannot leave a started actor outside the slot.
        let (registry, kernel, id) = (self.clone(), kernel.clone(), id.clone());
        tokio::spawn(async move {
            match slot.get_or_try_init(|| registry.start(&kernel, &id)).await {
                Ok(started) => {
                    // What other nodes committed while it loaded, it reloads at once.
                    if let Some((_, seq)) = registry.pending.remove(&id) {
                        let _ = started.actor.cast(HostMsg::Foreign(seq));
                    }
                    Ok((started.actor.clone(), started.scope.clone()))
                }
                Err(e) => {
                    registry.pending.remove(&id);
                    registry.live.remove_if(&id, |_, s| Arc::ptr_eq(s, &slot));
                    Err(e)
                }
            }
        })
        .await
        .unwrap_or(Err(CoreError::Unavailable))
    }

    /// [`Registry::call`] for an entity of organization `org`: an entity of another
    /// organization (or of none) answers `NotFound`, like a missing one, without being
    /// asked. The one tenancy check of every organization-scoped kind.
    ///
    /// # Errors
    /// As [`Registry::call`], and `NotFound` for another organization's entity.
    pub async fn call_in<T: Send + 'static>(
        self: &Arc<Self>,
        kernel: &Kernel,
        org: &OrgId,
        id: &E::Id,
        build: impl FnOnce(RpcReplyPort<T>) -> E::Msg,
    ) -> CoreResult<T> {
        self.admit(kernel, org, id).await?;
        self.call(kernel, id, build).await
    }

    /// [`Registry::send`] for an entity of organization `org` (`NotFound` otherwise).
    ///
    /// # Errors
    /// As [`Registry::send`], and `NotFound` for another organization's entity.
    pub async fn send_in(
        self: &Arc<Self>,
        kernel: &Kernel,
        org: &OrgId,
        id: &E::Id,
        msg: E::Msg,
    ) -> CoreResult<()> {
        self.admit(kernel, org, id).await?;
        self.send(kernel, id, msg).await
    }

    /// Whether entity `id` belongs to `org`. An actor running as `org`'s answers at once;
    /// anything else (not running, another organization's, missing) is decided by the
    /// same one read of [`Entity::SCOPE_TABLE`] before any actor starts, so another
    /// organization's id and a missing one take the same path at the same cost.
    async fn admit(self: &Arc<Self>, kernel: &Kernel, org: &OrgId, id: &E::Id) -> CoreResult<()> {
        let running = self
            .live
            .get(id)
            .and_then(|slot| slot.get().map(|s| s.scope.as_ref() == Some(org)));
        if running == Some(true) {
            return Ok(());
        }
        let owner = match E::SCOPE_TABLE {
            Some(table) => kernel.store().org_of(table, &id.to_string()).await?,
            None => self.started(kernel, id).await?.1.map(|o| o.to_string()),
        };
        if owner.as_deref() == Some(org.as_str()) {
            Ok(())
        } else {
            Err(CoreError::NotFound)
        }
    }

    async fn start(self: &Arc<Self>, kernel: &Kernel, id: &E::Id) -> CoreResult<Started<E>> {
        let predecessor = self.retiring.get(id).map(|c| c.value().clone());
        if let Some(old) = predecessor {
            let _ = old.wait(Some(CALL_TIMEOUT)).await;
            self.retiring
                .remove_if(id, |_, c| c.get_id() == old.get_id());
        }
        let entity = super::load_settled::<E>(kernel, id).await?;
        let scope = entity.scope().cloned();
        let args = HostArgs {
            kernel: kernel.clone(),
            registry: self.clone(),
            id: id.clone(),
            entity,
        };
        let (actor, _) = Actor::spawn_linked(None, Host::<E>::new(), args, kernel.supervisor())
            .await
            .map_err(|e| {
                tracing::error!(kind = E::KIND, %id, error = %e, "actor failed to start");
                CoreError::Unavailable
            })?;
        let registry = self.clone();
        let (id, actor_id) = (id.clone(), actor.get_id());
        kernel.on_exit(actor_id, move || {
            registry.live.remove_if(&id, |_, s| {
                s.get().is_some_and(|st| st.actor.get_id() == actor_id)
            });
            registry
                .retiring
                .remove_if(&id, |_, c| c.get_id() == actor_id);
        });
        Ok(Started { actor, scope })
    }

    /// Takes `actor` out of the live map (it is stopping); a later start waits for it.
    pub(super) fn retire(&self, id: &E::Id, actor: ActorCell) {
        let actor_id = actor.get_id();
        self.live.remove_if(id, |_, s| {
            s.get().is_some_and(|st| st.actor.get_id() == actor_id)
        });
        if actor.get_status() != ActorStatus::Stopped {
            self.retiring.insert(id.clone(), actor);
        }
    }

    /// Sends a request to entity `id` and waits for the answer. A message that reaches
    /// an actor already stopping (idle) is sent again to a fresh one; it was never
    /// handled, so this cannot apply anything twice. A crash while handling answers
    /// `Unavailable`.
    ///
    /// # Errors
    /// `NotFound` for an unknown entity; `Unavailable` when it does not answer in time.
    pub async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        kernel: &Kernel,
        id: &E::Id,
        build: impl FnOnce(RpcReplyPort<T>) -> E::Msg,
    ) -> CoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(kernel, id, build(tx.into())).await?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(v)) => Ok(v),
            _ => Err(CoreError::Unavailable),
        }
    }

    /// Sends a message without waiting for anything (actor-to-actor notices).
    ///
    /// # Errors
    /// `NotFound` for an unknown entity; `Unavailable` when no actor takes it.
    pub async fn send(
        self: &Arc<Self>,
        kernel: &Kernel,
        id: &E::Id,
        msg: E::Msg,
    ) -> CoreResult<()> {
        let mut msg = HostMsg::Entity(msg);
        for _ in 0..3 {
            let actor = self.actor(kernel, id).await?;
            match actor.send_message(msg) {
                Ok(()) => return Ok(()),
                Err(MessagingErr::SendErr(back)) => {
                    // Stopping or stopped: the next `actor` starts a fresh one, after it.
                    self.retire(id, actor.get_cell());
                    msg = back;
                }
                Err(_) => return Err(CoreError::Unavailable),
            }
        }
        Err(CoreError::Unavailable)
    }
}
