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
        Ok(HostState {
            kernel: args.kernel,
            registry: args.registry,
            id: args.id,
            entity: args.entity,
            last_message: Instant::now(),
            idle_timer,
        })
    }

    async fn post_stop(
        &self,
        _me: ActorRef<Self::Msg>,
        state: &mut HostState<E>,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.idle_timer.take() {
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
                state.entity.handle(&state.kernel, msg).await;
                let mut fenced = false;
                for journal in state.entity.journals() {
                    journal.publish();
                    fenced |= journal.fenced();
                }
                if fenced {
                    // Another writer committed on one of our streams: our hot state is
                    // stale. Reload before the next message; if that fails, fail (the
                    // next message starts a fresh actor from the store).
                    tracing::warn!(kind = E::KIND, id = %state.id, "lost a journal race; reloading from the store");
                    metrics::counter!("cflows_journal_conflicts_total", "kind" => E::KIND)
                        .increment(1);
                    state.entity = E::load(&state.kernel, &state.id).await?;
                }
            }
            HostMsg::IdleCheck => {
                if state.last_message.elapsed() >= state.kernel.config().idle_after {
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
