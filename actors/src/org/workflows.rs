//! The Org actor's workflow definitions and kiosks: saving a workflow validates it,
//! keeps live items valid (a removed step's items move to a step the admin chose), and
//! tells the workflow's board; kiosks are read-only screens with a secret token.

use super::{Caller, Org, OrgHandle, OrgMsg, now_ms, token_hash};
use crate::board::BoardHandle;
use crate::domain::validate;
use crate::domain::workflow::{self, Definition, Known};
use crate::error::{CoreError, CoreResult};
use crate::store::{new_id, writes};
use crate::work_item::WorkItemHandle;
use cflows_protocol::{
    ItemId, KioskId, KioskScope, KioskView, OrgEvent, StepDef, TeamId, TransitionDef, UserId,
    WorkflowId, WorkflowView,
};
use ractor::RpcReplyPort;
use std::collections::{BTreeMap, HashSet};

/// Most kiosks per organization.
pub const MAX_KIOSKS: usize = 100;

/// A workflow as an admin writes it.
#[derive(Clone, Debug)]
pub struct WorkflowInput {
    pub name: String,
    pub key: String,
    pub steps: Vec<StepDef>,
    pub transitions: Vec<TransitionDef>,
    /// Removed step id → the step its items move to (needed only for steps holding items).
    pub relocate: BTreeMap<String, String>,
}

/// A kiosk as an admin writes it.
#[derive(Clone, Debug)]
pub struct KioskInput {
    pub name: String,
    pub scope: KioskScope,
}

/// The Org's messages about workflows and kiosks.
pub enum WorkflowMsg {
    List {
        reply: RpcReplyPort<Vec<WorkflowView>>,
    },
    Get {
        id: WorkflowId,
        reply: RpcReplyPort<Option<WorkflowView>>,
    },
    Save {
        by: Caller,
        id: Option<WorkflowId>,
        input: WorkflowInput,
        reply: RpcReplyPort<CoreResult<WorkflowView>>,
    },
    Archive {
        by: Caller,
        id: WorkflowId,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    Kiosks {
        reply: RpcReplyPort<Vec<KioskView>>,
    },
    Kiosk {
        id: KioskId,
        reply: RpcReplyPort<Option<KioskView>>,
    },
    /// A new kiosk and its secret token (shown once).
    CreateKiosk {
        by: Caller,
        input: KioskInput,
        reply: RpcReplyPort<CoreResult<(KioskView, String)>>,
    },
    UpdateKiosk {
        by: Caller,
        id: KioskId,
        input: KioskInput,
        reply: RpcReplyPort<CoreResult<KioskView>>,
    },
    RevokeKiosk {
        by: Caller,
        id: KioskId,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// A screen connected with this kiosk's token.
    KioskSeen {
        id: KioskId,
    },
}

/// A kiosk, hot.
pub(super) struct Kiosk {
    pub(super) view: KioskView,
    pub(super) token_hash: String,
}

impl Org {
    pub(super) async fn on_workflow_msg(&mut self, msg: WorkflowMsg) {
        match msg {
            WorkflowMsg::List { reply } => {
                let _ = reply.send(self.live_workflows());
            }
            WorkflowMsg::Get { id, reply } => {
                let _ = reply.send(self.workflows.get(&id).map(|(w, _)| w.clone()));
            }
            WorkflowMsg::Save {
                by,
                id,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_save_workflow(by, id, input).await);
            }
            WorkflowMsg::Archive { by, id, reply } => {
                let _ = reply.send(self.on_archive_workflow(by, id).await);
            }
            WorkflowMsg::Kiosks { reply } => {
                let _ = reply.send(self.kiosks.values().map(|k| k.view.clone()).collect());
            }
            WorkflowMsg::Kiosk { id, reply } => {
                let _ = reply.send(self.kiosks.get(&id).map(|k| k.view.clone()));
            }
            WorkflowMsg::CreateKiosk { by, input, reply } => {
                let _ = reply.send(self.on_create_kiosk(by, input).await);
            }
            WorkflowMsg::UpdateKiosk {
                by,
                id,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_update_kiosk(by, id, input).await);
            }
            WorkflowMsg::RevokeKiosk { by, id, reply } => {
                let _ = reply.send(self.on_revoke_kiosk(by, id).await);
            }
            WorkflowMsg::KioskSeen { id } => self.on_kiosk_seen(id).await,
        }
    }

    /// Workflows not archived, by name.
    pub(super) fn live_workflows(&self) -> Vec<WorkflowView> {
        let mut all: Vec<WorkflowView> = self
            .workflows
            .values()
            .filter(|(_, archived)| !archived)
            .map(|(w, _)| w.clone())
            .collect();
        all.sort_by_key(|w| w.name.to_lowercase());
        all
    }

    async fn on_save_workflow(
        &mut self,
        by: Caller,
        id: Option<WorkflowId>,
        input: WorkflowInput,
    ) -> CoreResult<WorkflowView> {
        self.require_admin(&by)?;
        let old = match &id {
            Some(id) => match self.workflows.get(id) {
                Some((w, false)) => Some(w.clone()),
                _ => return Err(CoreError::NotFound),
            },
            None => None,
        };
        let teams: HashSet<TeamId> = self.teams.keys().cloned().collect();
        let job_types: HashSet<String> = self.job_types.keys().cloned().collect();
        workflow::validate(
            &Definition {
                name: &input.name,
                key: &input.key,
                steps: &input.steps,
                transitions: &input.transitions,
            },
            &Known {
                teams: &teams,
                job_types: &job_types,
            },
        )
        .map_err(CoreError::InvalidInput)?;
        if self
            .workflows
            .values()
            .any(|(w, _)| Some(&w.id) != id.as_ref() && w.key == input.key)
        {
            return Err(CoreError::Conflict(format!(
                "another workflow uses the key '{}'",
                input.key
            )));
        }
        // A removed step that holds items needs a step to move them to.
        let mut relocations = BTreeMap::new();
        let mut moving: Vec<(ItemId, String, String)> = Vec::new();
        if let Some(old) = &old {
            let removed = workflow::removed_steps(&old.steps, &input.steps);
            if !removed.is_empty() {
                let ids: Vec<&str> = removed.iter().map(|s| s.id.as_str()).collect();
                let held = self
                    .kernel
                    .store()
                    .items_in_steps(old.id.as_str(), &ids)
                    .await?;
                for step in removed {
                    let items: Vec<&(String, String)> =
                        held.iter().filter(|(_, s)| *s == step.id).collect();
                    if items.is_empty() {
                        continue;
                    }
                    let Some(target) = input.relocate.get(&step.id) else {
                        return Err(CoreError::invalid(format!(
                            "step \"{}\" holds {} item(s): choose a step to move them to",
                            step.name,
                            items.len()
                        )));
                    };
                    if !input.steps.iter().any(|s| &s.id == target) {
                        return Err(CoreError::invalid(format!(
                            "step \"{}\": its items cannot move to \"{target}\", which is not a step of the new version",
                            step.name
                        )));
                    }
                    relocations.insert(step.id.clone(), target.clone());
                    moving.extend(
                        items
                            .into_iter()
                            .map(|(i, s)| (ItemId::new(i.clone()), s.clone(), target.clone())),
                    );
                }
            }
        }
        let now = now_ms();
        let view = WorkflowView {
            id: id.clone().unwrap_or_else(|| WorkflowId::new(new_id())),
            name: input.name,
            key: input.key,
            version: old.as_ref().map_or(1, |w| w.version + 1),
            steps: input.steps,
            transitions: input.transitions,
            created_at: old.as_ref().map_or(now, |w| w.created_at),
            updated_at: now,
        };
        let by_user = match &by {
            Caller::User(u) => u.clone(),
            Caller::System => UserId::new("system"),
        };
        self.commit(
            &by,
            writes::save_workflow(self.org.id.as_str(), &view, &relocations, &by_user),
            vec![OrgEvent::WorkflowSaved {
                workflow: view.clone(),
            }],
        )
        .await?;
        self.workflows
            .insert(view.id.clone(), (view.clone(), false));
        // After the commit: the board shows the new version; moved-out items relocate.
        let kernel = self.kernel.clone();
        let org = self.org.id.clone();
        if old.is_some() {
            BoardHandle::new(&kernel, &org, &view.id)
                .definition_changed(view.clone())
                .await;
        }
        for (item, from, to) in moving {
            WorkItemHandle::new(&kernel, &org, &item)
                .relocate(from, to, by_user.clone())
                .await;
        }
        Ok(view)
    }

    async fn on_archive_workflow(&mut self, by: Caller, id: WorkflowId) -> CoreResult<()> {
        self.require_admin(&by)?;
        match self.workflows.get(&id) {
            Some((_, false)) => {}
            _ => return Err(CoreError::NotFound),
        }
        self.commit(
            &by,
            writes::archive_workflow(&id, now_ms()),
            vec![OrgEvent::WorkflowArchived { id: id.clone() }],
        )
        .await?;
        if let Some(entry) = self.workflows.get_mut(&id) {
            entry.1 = true;
        }
        Ok(())
    }

    fn check_kiosk(&self, input: KioskInput) -> CoreResult<KioskInput> {
        let name = validate::name("Kiosk name", &input.name)?;
        let scope = input.scope;
        if scope.boards.is_empty() && scope.teams.is_empty() {
            return Err(CoreError::invalid(
                "a kiosk shows at least one board or team",
            ));
        }
        if scope.today_bookings && scope.teams.is_empty() {
            return Err(CoreError::invalid(
                "today's bookings are shown for the kiosk's teams: choose at least one",
            ));
        }
        if !(5..=3600).contains(&scope.cycle_seconds) {
            return Err(CoreError::invalid("cycle_seconds must be 5..=3600"));
        }
        if scope.boards.len() > 20 || scope.teams.len() > 20 {
            return Err(CoreError::invalid(
                "a kiosk shows at most 20 boards and 20 teams",
            ));
        }
        if let Some(w) = scope
            .boards
            .iter()
            .find(|w| !matches!(self.workflows.get(w), Some((_, false))))
        {
            return Err(CoreError::invalid(format!("workflow {w} does not exist")));
        }
        if let Some(t) = scope.teams.iter().find(|t| !self.teams.contains_key(t)) {
            return Err(CoreError::invalid(format!("team {t} does not exist")));
        }
        Ok(KioskInput { name, scope })
    }

    async fn on_create_kiosk(
        &mut self,
        by: Caller,
        input: KioskInput,
    ) -> CoreResult<(KioskView, String)> {
        self.require_admin(&by)?;
        if self.kiosks.len() >= MAX_KIOSKS {
            return Err(CoreError::invalid(format!(
                "an organization has at most {MAX_KIOSKS} kiosks"
            )));
        }
        let input = self.check_kiosk(input)?;
        let token = crate::directory::random_token();
        let hash = token_hash(&token);
        let view = KioskView {
            id: KioskId::new(new_id()),
            name: input.name,
            scope: input.scope,
            created_by: match &by {
                Caller::User(u) => u.clone(),
                Caller::System => UserId::new("system"),
            },
            created_at: now_ms(),
            last_seen: None,
        };
        self.commit(
            &by,
            writes::put_kiosk(self.org.id.as_str(), &view, &hash),
            vec![OrgEvent::KioskSaved {
                kiosk: view.clone(),
            }],
        )
        .await?;
        self.kiosks.insert(
            view.id.clone(),
            Kiosk {
                view: view.clone(),
                token_hash: hash,
            },
        );
        Ok((view, token))
    }

    async fn on_update_kiosk(
        &mut self,
        by: Caller,
        id: KioskId,
        input: KioskInput,
    ) -> CoreResult<KioskView> {
        self.require_admin(&by)?;
        let Some(kiosk) = self.kiosks.get(&id) else {
            return Err(CoreError::NotFound);
        };
        let input = self.check_kiosk(input)?;
        let mut view = kiosk.view.clone();
        view.name = input.name;
        view.scope = input.scope;
        let hash = kiosk.token_hash.clone();
        self.commit(
            &by,
            writes::put_kiosk(self.org.id.as_str(), &view, &hash),
            vec![OrgEvent::KioskSaved {
                kiosk: view.clone(),
            }],
        )
        .await?;
        // Open screens reconnect with the new scope (`kiosk_saved` revokes them).
        if let Some(k) = self.kiosks.get_mut(&id) {
            k.view = view.clone();
        }
        Ok(view)
    }

    async fn on_revoke_kiosk(&mut self, by: Caller, id: KioskId) -> CoreResult<()> {
        self.require_admin(&by)?;
        if !self.kiosks.contains_key(&id) {
            return Err(CoreError::NotFound);
        }
        self.commit(
            &by,
            writes::delete_kiosk(&id),
            vec![OrgEvent::KioskRevoked { id: id.clone() }],
        )
        .await?;
        self.kiosks.remove(&id);
        Ok(())
    }

    async fn on_kiosk_seen(&mut self, id: KioskId) {
        let now = now_ms();
        let Some(kiosk) = self.kiosks.get_mut(&id) else {
            return;
        };
        // Written at most once a minute per kiosk: it is "last seen", not a log.
        if kiosk.view.last_seen.is_some_and(|t| now - t < 60_000) {
            return;
        }
        if self
            .journal
            .commit(writes::kiosk_seen(&id, now), Vec::new(), None)
            .await
            .is_ok()
            && let Some(kiosk) = self.kiosks.get_mut(&id)
        {
            kiosk.view.last_seen = Some(now);
        }
    }
}

impl OrgHandle {
    async fn workflow_call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> WorkflowMsg,
    ) -> CoreResult<T> {
        self.call(|reply| OrgMsg::Workflow(build(reply))).await
    }

    /// Workflows not archived, by name.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn workflows(&self) -> CoreResult<Vec<WorkflowView>> {
        self.workflow_call(|reply| WorkflowMsg::List { reply })
            .await
    }

    /// One workflow (archived ones too: their boards stay readable).
    ///
    /// # Errors
    /// `NotFound` for an unknown (or another organization's) workflow.
    pub async fn workflow(&self, id: &WorkflowId) -> CoreResult<WorkflowView> {
        let id = id.clone();
        self.workflow_call(|reply| WorkflowMsg::Get { id, reply })
            .await?
            .ok_or(CoreError::NotFound)
    }

    /// Creates a workflow (`id` none) or saves a new version of one (admins).
    ///
    /// # Errors
    /// `Forbidden`; `InvalidInput` naming the wrong step or transition, or a removed step
    /// holding items without a target; `Conflict` for a taken key; `NotFound`.
    pub async fn save_workflow(
        &self,
        by: Caller,
        id: Option<WorkflowId>,
        input: WorkflowInput,
    ) -> CoreResult<WorkflowView> {
        self.workflow_call(|reply| WorkflowMsg::Save {
            by,
            id,
            input,
            reply,
        })
        .await?
    }

    /// Archives a workflow (admins): no new items.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn archive_workflow(&self, by: Caller, id: WorkflowId) -> CoreResult<()> {
        self.workflow_call(|reply| WorkflowMsg::Archive { by, id, reply })
            .await?
    }

    /// The organization's kiosks.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn kiosks(&self) -> CoreResult<Vec<KioskView>> {
        self.workflow_call(|reply| WorkflowMsg::Kiosks { reply })
            .await
    }

    /// One kiosk, if it exists (not revoked).
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn kiosk(&self, id: &KioskId) -> CoreResult<Option<KioskView>> {
        let id = id.clone();
        self.workflow_call(|reply| WorkflowMsg::Kiosk { id, reply })
            .await
    }

    /// A new kiosk and its secret token (admins).
    ///
    /// # Errors
    /// `Forbidden`, `InvalidInput` (scope outside the organization).
    pub async fn create_kiosk(
        &self,
        by: Caller,
        input: KioskInput,
    ) -> CoreResult<(KioskView, String)> {
        self.workflow_call(|reply| WorkflowMsg::CreateKiosk { by, input, reply })
            .await?
    }

    /// Renames or rescopes a kiosk (admins); open screens reconnect with the new scope.
    ///
    /// # Errors
    /// `Forbidden`, `InvalidInput`, `NotFound`.
    pub async fn update_kiosk(
        &self,
        by: Caller,
        id: KioskId,
        input: KioskInput,
    ) -> CoreResult<KioskView> {
        self.workflow_call(|reply| WorkflowMsg::UpdateKiosk {
            by,
            id,
            input,
            reply,
        })
        .await?
    }

    /// Revokes a kiosk (admins): its open screens are closed at once.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn revoke_kiosk(&self, by: Caller, id: KioskId) -> CoreResult<()> {
        self.workflow_call(|reply| WorkflowMsg::RevokeKiosk { by, id, reply })
            .await?
    }

    /// Records that a screen connected with kiosk `id`.
    pub async fn kiosk_seen(&self, id: KioskId) {
        let _ = self
            .kernel
            .orgs()
            .send(
                &self.kernel,
                &self.id,
                OrgMsg::Workflow(WorkflowMsg::KioskSeen { id }),
            )
            .await;
    }
}
