//! The actor that hosts one entity: feeds it messages one at a time, publishes what it
//! journalled after each (so replies go out before events), reloads it after a lost
//! race on the journal, and retires it when idle.

use super::registry::Registry;
use super::{Entity, Kernel};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a hosted actor receives.
pub enum HostMsg<M> {
    /// A message for the entity.
    Entity(M),
    /// Timer tick: stop if idle long enough.
    IdleCheck,
    /// The entity's [`Entity::wake_at`] time came.
    Wake,
    /// Another node committed this position on the entity's stream (the journal feed).
    Foreign(u64),
}

pub(super) struct Host<E>(PhantomData<fn() -> E>);

impl<E> Host<E> {
    pub(super) fn new() -> Self {
        Self(PhantomData)
    }
}

pub(super) struct HostArgs<E: Entity> {
    pub kernel: Kernel,
    pub registry: Arc<Registry<E>>,
    pub id: E::Id,
    pub entity: E,
}

pub(super) struct HostState<E: Entity> {
    kernel: Kernel,
    registry: Arc<Registry<E>>,
    id: E::Id,
    entity: E,
    last_message: Instant,
    idle_timer: Option<JoinHandle<()>>,
    /// The pending wake-up: when (Unix ms) and its timer task.
    wake_timer: Option<(i64, JoinHandle<()>)>,
    /// Out of the registry and draining (its entity is gone).
    retired: bool,
}

impl<E: Entity> HostState<E> {
    /// Publishes what the entity journalled; reloads it when another writer won a race.
    async fn after(&mut self) -> Result<(), ActorProcessingErr> {
        let mut fenced = false;
        for journal in self.entity.journals() {
            journal.publish();
            fenced |= journal.fenced();
        }
        if fenced {
            // Another writer committed on one of our streams: our hot state is
            // stale. Reload before the next message; if that fails, fail (the
            // next message starts a fresh actor from the store).
            tracing::warn!(kind = E::KIND, id = %self.id, "lost a journal race; reloading from the store");
            metrics::counter!("cflows_journal_conflicts_total", "kind" => E::KIND).increment(1);
            self.entity = super::load_settled::<E>(&self.kernel, &self.id).await?;
        }
        Ok(())
    }

    /// Another node committed `seq` on our stream: unless we have it (our own commit,
    /// read back by the feed), reload. `false` when the entity is gone (deleted there).
    async fn foreign(&mut self, seq: u64) -> Result<bool, ActorProcessingErr> {
        let behind = self.entity.journals().iter().any(|j| j.seq() < seq);
        if !behind {
            return Ok(true);
        }
        metrics::counter!("cflows_feed_reloads_total", "kind" => E::KIND).increment(1);
        match super::load_settled::<E>(&self.kernel, &self.id).await {
            Ok(entity) => {
                self.entity = entity;
                Ok(true)
            }
            Err(crate::error::CoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// (Re)arms the wake-up timer for the entity's next `wake_at`.
    fn arm(&mut self, me: &ActorRef<HostMsg<E::Msg>>) {
        let want = self.entity.wake_at();
        if self.wake_timer.as_ref().map(|(at, _)| *at) == want {
            return;
        }
        if let Some((_, t)) = self.wake_timer.take() {
            t.abort();
        }
        if let Some(at) = want {
            let delay = (at - chrono::Utc::now().timestamp_millis()).max(0);
            let me = me.clone();
            let task = tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
                let _ = me.cast(HostMsg::Wake);
            });
            self.wake_timer = Some((at, task));
        }
    }
}

impl<E: Entity> Actor for Host<E> {
    type Msg = HostMsg<E::Msg>;
    type State = HostState<E>;
    type Arguments = HostArgs<E>;

    async fn pre_start(
        &self,
        me: ActorRef<Self::Msg>,
        args: HostArgs<E>,
    ) -> Result<HostState<E>, ActorProcessingErr> {
        let idle_timer = E::PASSIVATE.then(|| {
            let every =
                (args.kernel.config().idle_after / 4).max(std::time::Duration::from_millis(10));
            me.send_interval(every, || HostMsg::IdleCheck)
        });
        let mut state = HostState {
            kernel: args.kernel,
            registry: args.registry,
            id: args.id,
            entity: args.entity,
            last_message: Instant::now(),
            idle_timer,
            wake_timer: None,
            retired: false,
        };
        state.arm(&me);
        Ok(state)
    }

    async fn post_stop(
        &self,
        _me: ActorRef<Self::Msg>,
        state: &mut HostState<E>,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.idle_timer.take() {
            t.abort();
        }
        if let Some((_, t)) = state.wake_timer.take() {
            t.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut HostState<E>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HostMsg::Entity(msg) => {
                state.last_message = Instant::now();
                if E::decides(&msg) {
                    super::catch_up_before_deciding(&mut state.entity, &state.kernel, &state.id)
                        .await;
                }
                state.entity.handle(&state.kernel, msg).await;
                state.after().await?;
                if state.entity.gone() {
                    if !state.retired {
                        state.retired = true;
                        state.registry.retire(&state.id, me.get_cell());
                        me.drain()?;
                    }
                    return Ok(());
                }
                state.arm(&me);
            }
            HostMsg::Wake => {
                state.wake_timer = None;
                state.entity.wake(&state.kernel).await;
                state.after().await?;
                state.arm(&me);
            }
            HostMsg::Foreign(seq) => {
                if state.retired {
                    return Ok(());
                }
                if !state.foreign(seq).await? {
                    state.retired = true;
                    state.registry.retire(&state.id, me.get_cell());
                    me.drain()?;
                    return Ok(());
                }
                state.arm(&me);
            }
            HostMsg::IdleCheck => {
                if state.last_message.elapsed() >= state.kernel.config().idle_after
                    && state.wake_timer.is_none()
                {
                    // Out of the registry first: new callers start a fresh actor (which
                    // waits for this one to finish); messages already queued are handled.
                    state.registry.retire(&state.id, me.get_cell());
                    me.drain()?;
                }
            }
        }
        Ok(())
    }
}
