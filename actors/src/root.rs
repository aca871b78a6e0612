//! The root supervisor: starts the `Directory` linked and starts it again from the store
//! if it fails; handles see the new one through a watch channel.

use crate::directory::{Directory, DirectoryArgs, DirectoryMsg};
use crate::inbox::InboxMsg;
use crate::org::OrgMsg;
use crate::store::Store;
use crate::streams::StreamHub;
use cflows_protocol::{OrgId, UserId};
use dashmap::DashMap;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::sync::Arc;
use tokio::sync::watch;

/// Messages to the root (it only supervises).
pub enum RootMsg {}

/// Start-up arguments.
pub struct RootArgs {
    pub store: Store,
    pub registry: Arc<DashMap<OrgId, ActorRef<OrgMsg>>>,
    pub inboxes: Arc<DashMap<UserId, ActorRef<InboxMsg>>>,
    pub hub: StreamHub,
    pub directory: watch::Sender<Option<ActorRef<DirectoryMsg>>>,
}

/// The root's state: what it needs to start the Directory again.
pub struct RootState {
    args: RootArgs,
}

/// The actor.
pub struct Root;

impl Root {
    async fn start_directory(
        me: &ActorRef<RootMsg>,
        args: &RootArgs,
    ) -> Result<(), ActorProcessingErr> {
        let (dir, _) = Actor::spawn_linked(
            None,
            Directory,
            DirectoryArgs {
                store: args.store.clone(),
                registry: args.registry.clone(),
                inboxes: args.inboxes.clone(),
                hub: args.hub.clone(),
            },
            me.get_cell(),
        )
        .await?;
        args.directory.send_replace(Some(dir));
        Ok(())
    }
}

impl Actor for Root {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        me: ActorRef<RootMsg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        Self::start_directory(&me, &args).await?;
        Ok(RootState { args })
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<RootMsg>,
        evt: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(_, err) = evt {
            tracing::error!(error = %err, "directory failed; restarting it");
            Self::start_directory(&me, &state.args).await?;
        }
        Ok(())
    }
}
