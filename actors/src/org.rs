//! `Org(org_id)`: the single writer of one organization's settings, members (roles,
//! profiles) and teams. Hosted by the kernel: started on demand from the store, stopped
//! when idle, restarted from the store after a crash.
//!
//! Every change follows DESIGN's order: validate on hot state → commit rows and journal
//! through the journal writer → apply to hot state → reply (→ the kernel publishes). A
//! failed write leaves hot state as it was.

use crate::directory::NewUser;
use crate::domain::{permissions, validate};
use crate::error::{CoreError, CoreResult};
use crate::inbox::InboxHandle;
use crate::kernel::{Entity, Journal, Kernel, decide};
use crate::notices::{Author, Change, Notice};
use crate::store::{MembershipRecord, OrgRecord, TeamRecord, UserRecord, Write, new_id, writes};
use crate::team_calendar;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    BookingView, ClockFormat, InvitationView, JobTypeView, MemberView, OrgEvent, OrgId,
    OrgSnapshot, OrgView, PendingInvitation, ProfileView, Role, StreamName, TeamId, TeamView,
    UserId, UserView,
};
use ractor::RpcReplyPort;
use std::collections::BTreeMap;

mod workflows;
pub use workflows::{KioskInput, MAX_KIOSKS, WorkflowInput, WorkflowMsg};

/// Who asks for a change: a member (whose role is looked up here, never trusted from the
/// caller) or the system itself (CLI, demo seeding, platform operators).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    System,
    User(UserId),
}

/// New organization settings.
#[derive(Clone, Debug)]
pub struct SettingsChange {
    pub name: String,
    pub timezone: String,
    pub clock: ClockFormat,
}

/// A change to a membership; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct MemberChange {
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// A team's editable fields (create and full update).
#[derive(Clone, Debug, Default)]
pub struct TeamInput {
    pub name: String,
    pub description: String,
    pub colour: String,
    pub parent: Option<TeamId>,
    pub members: Vec<UserId>,
    pub bookable_count: u32,
    pub manager: Option<UserId>,
    /// See [`TeamView::reminder_hours`].
    pub reminder_hours: Option<u32>,
}

/// An invitation's mail, made from its link's secret token.
pub type InviteMail = Box<dyn FnOnce(&str) -> crate::store::OutgoingMail + Send>;

impl OrgMsg {
    /// Whether it may change the organization (then the copy catches up first).
    pub(crate) fn decides(&self) -> bool {
        #[cfg(test)]
        if matches!(self, Self::Crash) {
            return false;
        }
        !matches!(
            self,
            Self::Snapshot { .. }
                | Self::Settings { .. }
                | Self::Head { .. }
                | Self::Team { .. }
                | Self::Member { .. }
                | Self::Invitations { .. }
                | Self::Invitation { .. }
                | Self::JobTypes { .. }
                | Self::TeamAndJobType { .. }
                | Self::Teams { .. }
        )
    }
}

/// Messages the `Org` actor handles.
pub enum OrgMsg {
    Snapshot {
        reply: RpcReplyPort<OrgSnapshot>,
    },
    Settings {
        reply: RpcReplyPort<OrgView>,
    },
    Head {
        reply: RpcReplyPort<u64>,
    },
    Team {
        team: TeamId,
        reply: RpcReplyPort<Option<TeamView>>,
    },
    Member {
        user: UserId,
        reply: RpcReplyPort<Option<MemberView>>,
    },
    UpdateSettings {
        by: Caller,
        change: SettingsChange,
        reply: RpcReplyPort<CoreResult<OrgView>>,
    },
    AddMember {
        by: Caller,
        user: UserView,
        role: Role,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    /// A new user who becomes a member, in one transaction.
    CreateMember {
        by: Caller,
        user: NewUser,
        role: Role,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    UpdateMember {
        by: Caller,
        user: UserId,
        change: MemberChange,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    UpdateProfile {
        by: Caller,
        user: UserId,
        profile: ProfileView,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    SetMemberTeams {
        by: Caller,
        user: UserId,
        teams: Vec<TeamId>,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    RemoveMember {
        by: Caller,
        user: UserId,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    CreateTeam {
        by: Caller,
        input: TeamInput,
        reply: RpcReplyPort<CoreResult<TeamView>>,
    },
    UpdateTeam {
        by: Caller,
        team: TeamId,
        input: TeamInput,
        reply: RpcReplyPort<CoreResult<TeamView>>,
    },
    DeleteTeam {
        by: Caller,
        team: TeamId,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// Invites `email` (a pending invitation to the same address is replaced). Answers
    /// the invitation and its secret token (shown once).
    Invite {
        by: Caller,
        email: String,
        role: Role,
        /// The invitation's mail, made from its link's token, queued with it.
        mail: Option<InviteMail>,
        reply: RpcReplyPort<CoreResult<(InvitationView, String)>>,
    },
    RevokeInvitation {
        by: Caller,
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// Pending, unexpired invitations with their addresses, newest first (admins).
    Invitations {
        by: Caller,
        reply: RpcReplyPort<CoreResult<Vec<InvitationView>>>,
    },
    /// The pending, unexpired invitation whose token hashes to `token_hash`.
    Invitation {
        token_hash: String,
        reply: RpcReplyPort<Option<InvitationView>>,
    },
    /// Uses an invitation: its address joins, as an existing account or a new one.
    AcceptInvitation {
        token_hash: String,
        account: Accepting,
        reply: RpcReplyPort<CoreResult<MemberView>>,
    },
    JobTypes {
        reply: RpcReplyPort<Vec<JobTypeView>>,
    },
    /// A team and a job type in one round trip (what a booking request needs).
    TeamAndJobType {
        team: TeamId,
        job_type: String,
        reply: RpcReplyPort<(Option<TeamView>, Option<JobTypeView>)>,
    },
    CreateJobType {
        by: Caller,
        input: JobTypeInput,
        reply: RpcReplyPort<CoreResult<JobTypeView>>,
    },
    UpdateJobType {
        by: Caller,
        id: String,
        input: JobTypeInput,
        reply: RpcReplyPort<CoreResult<JobTypeView>>,
    },
    DeleteJobType {
        by: Caller,
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// Every team, by name (a targeted read: no members or invitations cloned).
    Teams {
        reply: RpcReplyPort<Vec<TeamView>>,
    },
    /// Workflow definitions and kiosks (`org/workflows.rs`).
    Workflow(WorkflowMsg),
    /// Test hook: panics inside the handler, as a bug would.
    #[cfg(test)]
    Crash,
}

/// A job type's editable fields.
#[derive(Clone, Debug)]
pub struct JobTypeInput {
    pub name: String,
    pub duration_minutes: u32,
    pub colour: String,
}

/// Who accepts an invitation.
#[derive(Clone, Debug)]
pub enum Accepting {
    /// A logged-in account (its email must be the invited one).
    Existing(UserView),
    /// A new person, who chose their name and password.
    New(NewUser),
}

/// How long an invitation link works.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The hash under which an invitation's secret token is stored and looked up.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A pending invitation, hot.
#[derive(Clone, Debug)]
struct Invitation {
    view: InvitationView,
    token_hash: String,
}

/// A member as held hot (teams are derived from the team map when viewed).
#[derive(Clone, Debug)]
struct Member {
    user: UserView,
    role: Role,
    active: bool,
    profile: ProfileView,
}

/// One organization's hot state, loaded from the store; hosted by the kernel.
pub struct Org {
    kernel: Kernel,
    org: OrgView,
    members: BTreeMap<UserId, Member>,
    teams: BTreeMap<TeamId, TeamView>,
    /// Pending invitations by id (expired ones are ignored, and dropped at restart).
    invitations: BTreeMap<String, Invitation>,
    /// Job types by id.
    job_types: BTreeMap<String, JobTypeView>,
    /// Workflows by id, with whether they are archived.
    workflows: BTreeMap<cflows_protocol::WorkflowId, (cflows_protocol::WorkflowView, bool)>,
    /// Kiosks by id.
    kiosks: BTreeMap<cflows_protocol::KioskId, workflows::Kiosk>,
    /// Writer of `org:{id}`.
    journal: Journal,
}

impl Entity for Org {
    type Id = OrgId;
    type Msg = OrgMsg;
    const KIND: &'static str = "org";

    fn decides(msg: &OrgMsg) -> bool {
        msg.decides()
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Org(id) => Some(id.clone()),
            _ => None,
        }
    }

    async fn load(kernel: &Kernel, id: &OrgId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Org(id.clone()))
            .await?
            .in_org(id);
        let record = store.org(id.as_str()).await?.ok_or(CoreError::NotFound)?;
        let org = org_view(record);
        let memberships = store.memberships_of_org(id.as_str()).await?;
        let user_ids: Vec<String> = memberships.iter().map(|m| m.user.clone()).collect();
        let users: BTreeMap<String, UserView> = store
            .users(&user_ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), user_view(&u)))
            .collect();
        let mut members = BTreeMap::new();
        for m in memberships {
            let Some(user) = users.get(&m.user) else {
                tracing::warn!(org = %id, user = %m.user, "membership of a missing user skipped");
                continue;
            };
            members.insert(user.id.clone(), member_from_record(user.clone(), m));
        }
        let teams = store
            .teams_of_org(id.as_str())
            .await?
            .into_iter()
            .map(|t| (TeamId::new(t.id.clone()), team_view(t)))
            .collect();
        let now = now_ms();
        let invitations = store
            .invitations_of_org(id.as_str())
            .await?
            .into_iter()
            .filter(|i| i.expires_at > now)
            .map(|i| {
                let view = InvitationView {
                    id: i.id,
                    email: i.email,
                    role: i.role,
                    invited_by: UserId::new(i.invited_by),
                    created_at: i.created_at,
                    expires_at: i.expires_at,
                };
                (
                    view.id.clone(),
                    Invitation {
                        view,
                        token_hash: i.token_hash,
                    },
                )
            })
            .collect();
        let job_types = store
            .job_types_of_org(id.as_str())
            .await?
            .into_iter()
            .map(|j| (j.id.clone(), JobTypeView::from(j)))
            .collect();
        let workflows = store
            .workflows_of_org(id.as_str())
            .await?
            .into_iter()
            .map(|w| {
                let archived = w.archived;
                let view = cflows_protocol::WorkflowView::from(w);
                (view.id.clone(), (view, archived))
            })
            .collect();
        let kiosks = store
            .kiosks_of_org(id.as_str())
            .await?
            .into_iter()
            .map(|k| {
                let token_hash = k.token_hash.clone();
                let view = cflows_protocol::KioskView::from(k);
                (view.id.clone(), workflows::Kiosk { view, token_hash })
            })
            .collect();
        Ok(Self {
            kernel: kernel.clone(),
            org,
            members,
            teams,
            invitations,
            job_types,
            workflows,
            kiosks,
            journal,
        })
    }

    async fn handle(&mut self, kernel: &Kernel, msg: OrgMsg) {
        match msg {
            OrgMsg::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            OrgMsg::Settings { reply } => {
                let _ = reply.send(self.org.clone());
            }
            OrgMsg::Head { reply } => {
                let _ = reply.send(self.journal.seq());
            }
            OrgMsg::Member { user, reply } => {
                let _ = reply.send(self.members.get(&user).map(|m| self.member_view(m)));
            }
            OrgMsg::Team { team, reply } => {
                let _ = reply.send(self.teams.get(&team).cloned());
            }
            OrgMsg::UpdateSettings { by, change, reply } => {
                let id = self.org.id.clone();
                let r = decide!(
                    self,
                    kernel,
                    &id,
                    self.on_update_settings(by.clone(), change.clone()).await
                );
                let _ = reply.send(r);
            }
            OrgMsg::AddMember {
                by,
                user,
                role,
                reply,
            } => {
                let _ = reply.send(self.on_add_member(by, user, role).await);
            }
            OrgMsg::CreateMember {
                by,
                user,
                role,
                reply,
            } => {
                let _ = reply.send(self.on_create_member(by, user, role).await);
            }
            OrgMsg::UpdateMember {
                by,
                user,
                change,
                reply,
            } => {
                let _ = reply.send(self.on_update_member(by, user, change).await);
            }
            OrgMsg::UpdateProfile {
                by,
                user,
                profile,
                reply,
            } => {
                let _ = reply.send(self.on_update_profile(by, user, profile).await);
            }
            OrgMsg::RemoveMember { by, user, reply } => {
                let _ = reply.send(self.on_remove_member(by, user).await);
            }
            OrgMsg::SetMemberTeams {
                by,
                user,
                teams,
                reply,
            } => {
                let _ = reply.send(self.on_set_member_teams(by, user, teams).await);
            }
            OrgMsg::CreateTeam { by, input, reply } => {
                let _ = reply.send(self.on_create_team(by, input).await);
            }
            OrgMsg::UpdateTeam {
                by,
                team,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_update_team(by, team, input).await);
            }
            OrgMsg::DeleteTeam { by, team, reply } => {
                let _ = reply.send(self.on_delete_team(by, team).await);
            }
            OrgMsg::Invite {
                by,
                email,
                role,
                mail,
                reply,
            } => {
                let _ = reply.send(self.on_invite(by, email, role, mail).await);
            }
            OrgMsg::RevokeInvitation { by, id, reply } => {
                let _ = reply.send(self.on_revoke_invitation(by, id).await);
            }
            OrgMsg::Invitations { by, reply } => {
                let r = self
                    .require_admin(&by)
                    .map(|_| self.pending_invitations(now_ms()));
                let _ = reply.send(r);
            }
            OrgMsg::Invitation { token_hash, reply } => {
                let _ = reply.send(self.pending(&token_hash).map(|i| i.view.clone()));
            }
            OrgMsg::AcceptInvitation {
                token_hash,
                account,
                reply,
            } => {
                let _ = reply.send(self.on_accept_invitation(token_hash, account).await);
            }
            OrgMsg::Workflow(msg) => self.on_workflow_msg(msg).await,
            OrgMsg::Teams { reply } => {
                let mut teams: Vec<TeamView> = self.teams.values().cloned().collect();
                teams.sort_by_key(|t| t.name.to_lowercase());
                let _ = reply.send(teams);
            }
            OrgMsg::JobTypes { reply } => {
                let mut all: Vec<JobTypeView> = self.job_types.values().cloned().collect();
                all.sort_by_key(|j| j.name.to_lowercase());
                let _ = reply.send(all);
            }
            OrgMsg::TeamAndJobType {
                team,
                job_type,
                reply,
            } => {
                let look = |o: &Self| {
                    let (t, j) = (
                        o.teams.get(&team).cloned(),
                        o.job_types.get(&job_type).cloned(),
                    );
                    if t.is_some() && j.is_some() {
                        Ok((t, j))
                    } else {
                        Err(CoreError::NotFound)
                    }
                };
                // Not found here may be another node's team not heard of yet: looked up
                // again on the stored state when the store is ahead (`decide!`).
                let id = self.org.id.clone();
                let found = decide!(self, kernel, &id, look(self));
                let _ = reply.send(found.unwrap_or_else(|_| {
                    (
                        self.teams.get(&team).cloned(),
                        self.job_types.get(&job_type).cloned(),
                    )
                }));
            }
            OrgMsg::CreateJobType { by, input, reply } => {
                let _ = reply.send(self.on_save_job_type(by, None, input).await);
            }
            OrgMsg::UpdateJobType {
                by,
                id,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_save_job_type(by, Some(id), input).await);
            }
            OrgMsg::DeleteJobType { by, id, reply } => {
                let _ = reply.send(self.on_delete_job_type(by, id).await);
            }
            #[cfg(test)]
            OrgMsg::Crash => panic!("injected crash"),
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }

    fn scope(&self) -> Option<&OrgId> {
        Some(&self.org.id)
    }
}

impl Org {
    fn snapshot(&self) -> OrgSnapshot {
        let mut members: Vec<MemberView> =
            self.members.values().map(|m| self.member_view(m)).collect();
        members.sort_by(|a, b| {
            a.user
                .display_name
                .to_lowercase()
                .cmp(&b.user.display_name.to_lowercase())
        });
        let mut teams: Vec<TeamView> = self.teams.values().cloned().collect();
        teams.sort_by_key(|t| t.name.to_lowercase());
        let now = now_ms();
        let invitations = self
            .pending_invitations(now)
            .iter()
            .map(PendingInvitation::from)
            .collect();
        let mut job_types: Vec<JobTypeView> = self.job_types.values().cloned().collect();
        job_types.sort_by_key(|j| j.name.to_lowercase());
        OrgSnapshot {
            org: self.org.clone(),
            members,
            teams,
            invitations,
            job_types,
            workflows: self.live_workflows(),
            seq: self.journal.seq(),
        }
    }

    fn member_view(&self, m: &Member) -> MemberView {
        MemberView {
            user: m.user.clone(),
            role: m.role,
            active: m.active,
            profile: m.profile.clone(),
            teams: self
                .teams
                .values()
                .filter(|t| t.members.contains(&m.user.id))
                .map(|t| t.id.clone())
                .collect(),
        }
    }

    fn active_owners(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.active && m.role == Role::Owner)
            .count()
    }

    /// The caller's role; a non-member, a deactivated member or a plain member asking for
    /// an admin action is refused.
    /// Invitations that still work at `now`, newest first.
    fn pending_invitations(&self, now: i64) -> Vec<InvitationView> {
        let mut pending: Vec<InvitationView> = self
            .invitations
            .values()
            .filter(|i| i.view.expires_at > now)
            .map(|i| i.view.clone())
            .collect();
        pending.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        pending
    }

    fn require_admin(&self, by: &Caller) -> CoreResult<Role> {
        match by {
            Caller::System => Ok(Role::Owner),
            Caller::User(id) => match self.members.get(id) {
                Some(m) if m.active && m.role.is_admin() => Ok(m.role),
                Some(m) if m.active => Err(CoreError::Forbidden("only admins can do this".into())),
                _ => Err(CoreError::NotFound),
            },
        }
    }

    /// Commits `write` with the journal rows for `events` (the kernel's journal writer).
    async fn commit(&mut self, by: &Caller, write: Write, events: Vec<OrgEvent>) -> CoreResult<()> {
        let actor = match by {
            Caller::System => None,
            Caller::User(u) => Some(u),
        };
        self.journal
            .commit(
                write,
                events.into_iter().map(StreamEvent::Org).collect(),
                actor,
            )
            .await
    }

    /// Commits a change that rewrites `changed` teams. A team whose bookable count
    /// drops asks its calendar first: refused (nothing changes) when its bookings would
    /// no longer fit. Every calendar whose count changed hears the committed figure.
    async fn commit_team_change(
        &mut self,
        by: &Caller,
        write: Write,
        events: Vec<OrgEvent>,
        changed: &[TeamView],
    ) -> CoreResult<()> {
        let kernel = self.kernel.clone();
        let before_counts: Vec<u32> = changed
            .iter()
            .map(|t| {
                self.teams
                    .get(&t.id)
                    .map_or(t.bookable_count, |o| o.bookable_count)
            })
            .collect();
        let mut reserved: Vec<(TeamId, u32)> = Vec::new();
        let mut refusal = None;
        for (t, &before) in changed.iter().zip(&before_counts) {
            if t.bookable_count >= before {
                continue;
            }
            match team_calendar::reserve_capacity(&kernel, &t.id, t.bookable_count).await {
                Ok(Ok(())) => reserved.push((t.id.clone(), before)),
                Ok(Err(affected)) => {
                    refusal = Some(CoreError::Conflict(capacity_refusal(t, &affected)));
                    break;
                }
                Err(e) => {
                    refusal = Some(e);
                    break;
                }
            }
        }
        let result = match refusal {
            Some(e) => Err(e),
            None => self.commit(by, write, events).await,
        };
        match result {
            Ok(()) => {
                for (t, &before) in changed.iter().zip(&before_counts) {
                    if t.bookable_count != before {
                        team_calendar::capacity_committed(&kernel, &t.id, t.bookable_count).await;
                    }
                }
                Ok(())
            }
            Err(e) => {
                for (team, before) in reserved {
                    team_calendar::capacity_committed(&kernel, &team, before).await;
                }
                Err(e)
            }
        }
    }

    async fn on_save_job_type(
        &mut self,
        by: Caller,
        id: Option<String>,
        input: JobTypeInput,
    ) -> CoreResult<JobTypeView> {
        self.require_admin(&by)?;
        if let Some(id) = &id
            && !self.job_types.contains_key(id)
        {
            return Err(CoreError::NotFound);
        }
        let name = validate::name("Job type name", &input.name)?;
        if self
            .job_types
            .values()
            .any(|j| Some(&j.id) != id.as_ref() && j.name.eq_ignore_ascii_case(&name))
        {
            return Err(CoreError::Conflict(format!(
                "a job type named '{name}' already exists"
            )));
        }
        if !cflows_protocol::limits::DURATION_MINUTES.contains(&input.duration_minutes) {
            return Err(CoreError::invalid(
                "duration_minutes must be 5..=1440 (5 minutes to 24 hours)",
            ));
        }
        let job_type = JobTypeView {
            id: id.clone().unwrap_or_else(new_id),
            name,
            duration_minutes: input.duration_minutes,
            colour: validate::colour(&input.colour)?,
        };
        let (write, event) = if id.is_some() {
            (
                writes::update_job_type(&job_type),
                OrgEvent::JobTypeChanged {
                    job_type: job_type.clone(),
                },
            )
        } else {
            (
                writes::create_job_type(self.org.id.as_str(), &job_type),
                OrgEvent::JobTypeCreated {
                    job_type: job_type.clone(),
                },
            )
        };
        self.commit(&by, write, vec![event]).await?;
        self.job_types.insert(job_type.id.clone(), job_type.clone());
        Ok(job_type)
    }

    async fn on_delete_job_type(&mut self, by: Caller, id: String) -> CoreResult<()> {
        self.require_admin(&by)?;
        if !self.job_types.contains_key(&id) {
            return Err(CoreError::NotFound);
        }
        self.commit(
            &by,
            writes::delete_job_type(&id),
            vec![OrgEvent::JobTypeDeleted { id: id.clone() }],
        )
        .await?;
        self.job_types.remove(&id);
        Ok(())
    }

    async fn on_update_settings(
        &mut self,
        by: Caller,
        change: SettingsChange,
    ) -> CoreResult<OrgView> {
        self.require_admin(&by)?;
        let next = OrgView {
            name: validate::name("Organization name", &change.name)?,
            timezone: validate::timezone(&change.timezone)?,
            clock: change.clock,
            ..self.org.clone()
        };
        self.commit(
            &by,
            writes::update_org_settings(&next),
            vec![OrgEvent::SettingsChanged { org: next.clone() }],
        )
        .await?;
        self.org = next.clone();
        Ok(next)
    }

    async fn on_add_member(
        &mut self,
        by: Caller,
        user: UserView,
        role: Role,
    ) -> CoreResult<MemberView> {
        let actor_role = self.require_admin(&by)?;
        if role == Role::Owner && actor_role != Role::Owner {
            return Err(CoreError::Forbidden(
                "only an owner can add an owner".into(),
            ));
        }
        if self.members.contains_key(&user.id) {
            return Err(CoreError::Conflict(format!(
                "{} is already a member",
                user.email
            )));
        }
        let member = Member {
            user: user.clone(),
            role,
            active: true,
            profile: ProfileView::default(),
        };
        let view = self.member_view(&member);
        self.commit(
            &by,
            writes::add_membership(self.org.id.as_str(), &user.id, role),
            vec![OrgEvent::MemberAdded {
                member: view.clone(),
            }],
        )
        .await?;
        self.members.insert(user.id, member);
        Ok(view)
    }

    /// The pending, unexpired invitation with this token hash.
    fn pending(&self, token_hash: &str) -> Option<&Invitation> {
        let now = now_ms();
        self.invitations
            .values()
            .find(|i| i.token_hash == token_hash && i.view.expires_at > now)
    }

    async fn on_invite(
        &mut self,
        by: Caller,
        email: String,
        role: Role,
        mail: Option<InviteMail>,
    ) -> CoreResult<(InvitationView, String)> {
        let actor_role = self.require_admin(&by)?;
        if role == Role::Owner && actor_role != Role::Owner {
            return Err(CoreError::Forbidden(
                "only an owner can invite an owner".into(),
            ));
        }
        let email = validate::email(&email)?;
        if self.members.values().any(|m| m.user.email == email) {
            return Err(CoreError::Conflict(format!("{email} is already a member")));
        }
        let invited_by = match &by {
            Caller::User(u) => u.clone(),
            Caller::System => self
                .members
                .values()
                .find(|m| m.active && m.role == Role::Owner)
                .map(|m| m.user.id.clone())
                .ok_or_else(|| CoreError::invalid("the organization has no owner"))?,
        };
        let token = crate::directory::random_token();
        let now = now_ms();
        let view = InvitationView {
            id: new_id(),
            email: email.clone(),
            role,
            invited_by,
            created_at: now,
            expires_at: now + INVITATION_TTL_MS,
        };
        let replaced: Vec<String> = self
            .invitations
            .values()
            .filter(|i| i.view.email == email)
            .map(|i| i.view.id.clone())
            .collect();
        let mut events: Vec<OrgEvent> = replaced
            .iter()
            .map(|id| OrgEvent::InvitationRevoked { id: id.clone() })
            .collect();
        events.push(OrgEvent::InvitationCreated {
            invitation: PendingInvitation::from(&view),
        });
        let hash = token_hash(&token);
        let mut write = writes::create_invitation(self.org.id.as_str(), &view, &hash, &replaced);
        if let Some(mail) = mail {
            write = write.and(writes::enqueue_mail(&mail(&token), now));
        }
        self.commit(&by, write, events).await?;
        for id in &replaced {
            self.invitations.remove(id);
        }
        self.invitations.insert(
            view.id.clone(),
            Invitation {
                view: view.clone(),
                token_hash: hash,
            },
        );
        self.notify_invitee(&view, &token);
        Ok((view, token))
    }

    /// Tells an existing account about its invitation, in its inbox: a message to the
    /// `Inbox` actor from a task of its own (the account lookup and the delivery never hold
    /// up this organization; the invitation stands whether or not the notice arrives).
    fn notify_invitee(&self, invitation: &InvitationView, token: &str) {
        let inviter = &invitation.invited_by;
        let inviter_name = self
            .members
            .get(inviter)
            .map(|m| m.user.display_name.clone())
            .unwrap_or_default();
        let notice = Notice::new(
            &self.org.id,
            Some(Author::new(inviter, &inviter_name)),
            Change::Invited {
                org_name: self.org.name.clone(),
                role: invitation.role,
                token: token.to_string(),
            },
        );
        let (kernel, email) = (self.kernel.clone(), invitation.email.clone());
        tokio::spawn(async move {
            let delivered = async {
                let Some(account) = kernel.store().user_by_email(&email).await? else {
                    return Ok(());
                };
                let notice = notice.to([UserId::new(account.id)]);
                for user in &notice.recipients {
                    InboxHandle::get(&kernel, user)
                        .await?
                        .notify(notice.notification())
                        .await?;
                }
                Ok::<_, CoreError>(())
            };
            if let Err(e) = delivered.await {
                tracing::warn!(error = %e, "invitation notice not delivered");
            }
        });
    }

    async fn on_revoke_invitation(&mut self, by: Caller, id: String) -> CoreResult<()> {
        self.require_admin(&by)?;
        if !self.invitations.contains_key(&id) {
            return Err(CoreError::NotFound);
        }
        self.commit(
            &by,
            writes::delete_invitation(&id),
            vec![OrgEvent::InvitationRevoked { id: id.clone() }],
        )
        .await?;
        self.invitations.remove(&id);
        Ok(())
    }

    async fn on_accept_invitation(
        &mut self,
        token_hash: String,
        account: Accepting,
    ) -> CoreResult<MemberView> {
        let invitation = self
            .pending(&token_hash)
            .ok_or_else(|| {
                CoreError::InvalidInput(
                    "this invitation link is not valid any more: ask for a new one".into(),
                )
            })?
            .view
            .clone();
        let (user, write, by) =
            match account {
                Accepting::Existing(user) => {
                    if !user.email.eq_ignore_ascii_case(&invitation.email) {
                        return Err(CoreError::Forbidden(format!(
                            "this invitation is for {}; log in with that address",
                            invitation.email
                        )));
                    }
                    if self.members.contains_key(&user.id) {
                        return Err(CoreError::Conflict("you are already a member".into()));
                    }
                    let write = writes::delete_invitation(&invitation.id).and(
                        writes::add_membership(self.org.id.as_str(), &user.id, invitation.role),
                    );
                    let by = user.id.clone();
                    (user, write, by)
                }
                Accepting::New(new) => {
                    if !new.email.eq_ignore_ascii_case(&invitation.email) {
                        return Err(CoreError::Forbidden(format!(
                            "this invitation is for {}",
                            invitation.email
                        )));
                    }
                    let display_name = validate::name("Display name", &new.display_name)?;
                    if self
                        .kernel
                        .store()
                        .user_by_email(&invitation.email)
                        .await?
                        .is_some()
                    {
                        return Err(CoreError::Conflict(
                            "an account with this email exists: log in to accept".into(),
                        ));
                    }
                    let user = UserView {
                        id: UserId::new(new_id()),
                        email: invitation.email.clone(),
                        display_name,
                    };
                    let write = writes::delete_invitation(&invitation.id).and(
                        writes::create_user_with_membership(
                            self.org.id.as_str(),
                            &user,
                            &new.password_hash,
                            invitation.role,
                        ),
                    );
                    let by = user.id.clone();
                    (user, write, by)
                }
            };
        let member = Member {
            user: user.clone(),
            role: invitation.role,
            active: true,
            profile: ProfileView::default(),
        };
        let view = self.member_view(&member);
        self.commit(
            &Caller::User(by),
            write,
            vec![
                OrgEvent::InvitationAccepted {
                    id: invitation.id.clone(),
                    user: user.id.clone(),
                },
                OrgEvent::MemberAdded {
                    member: view.clone(),
                },
            ],
        )
        .await?;
        self.invitations.remove(&invitation.id);
        self.members.insert(user.id, member);
        Ok(view)
    }

    async fn on_create_member(
        &mut self,
        by: Caller,
        new: NewUser,
        role: Role,
    ) -> CoreResult<MemberView> {
        let actor_role = self.require_admin(&by)?;
        if role == Role::Owner && actor_role != Role::Owner {
            return Err(CoreError::Forbidden(
                "only an owner can add an owner".into(),
            ));
        }
        let email = validate::email(&new.email)?;
        let display_name = validate::name("Display name", &new.display_name)?;
        if self.kernel.store().user_by_email(&email).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "a user with the email {email} already exists"
            )));
        }
        let user = UserView {
            id: UserId::new(new_id()),
            email,
            display_name,
        };
        let member = Member {
            user: user.clone(),
            role,
            active: true,
            profile: ProfileView::default(),
        };
        let view = self.member_view(&member);
        self.commit(
            &by,
            writes::create_user_with_membership(
                self.org.id.as_str(),
                &user,
                &new.password_hash,
                role,
            ),
            vec![OrgEvent::MemberAdded {
                member: view.clone(),
            }],
        )
        .await?;
        self.members.insert(user.id, member);
        Ok(view)
    }

    async fn on_update_member(
        &mut self,
        by: Caller,
        user: UserId,
        change: MemberChange,
    ) -> CoreResult<MemberView> {
        let actor_role = self.require_admin(&by)?;
        let current = self.members.get(&user).ok_or(CoreError::NotFound)?.clone();
        let mut next = current.clone();
        if let Some(role) = change.role
            && role != current.role
        {
            permissions::check_role_change(actor_role, current.role, role, self.active_owners())
                .map_err(CoreError::Forbidden)?;
            next.role = role;
        }
        if let Some(active) = change.active
            && active != current.active
        {
            if !active {
                if by == Caller::User(user.clone()) {
                    return Err(CoreError::Forbidden(
                        "you cannot deactivate yourself".into(),
                    ));
                }
                permissions::check_removal(actor_role, current.role, self.active_owners())
                    .map_err(CoreError::Forbidden)?;
            }
            next.active = active;
        }
        let view = self.member_view(&next);
        self.commit(
            &by,
            writes::update_membership(self.org.id.as_str(), &user, next.role, next.active),
            vec![OrgEvent::MemberChanged {
                member: view.clone(),
            }],
        )
        .await?;
        self.members.insert(user, next);
        Ok(view)
    }

    async fn on_update_profile(
        &mut self,
        by: Caller,
        user: UserId,
        profile: ProfileView,
    ) -> CoreResult<MemberView> {
        if by != Caller::User(user.clone()) {
            self.require_admin(&by)?;
        }
        let current = self
            .members
            .get(&user)
            .filter(|m| m.active)
            .ok_or(CoreError::NotFound)?;
        let clean = ProfileView {
            title: validate::short_text("Title", &profile.title)?,
            location: validate::short_text("Location", &profile.location)?,
            timezone: validate::optional_timezone(&profile.timezone)?,
            avatar: validate::avatar(&profile.avatar)?,
            bio: validate::long_text("Bio", &profile.bio)?,
        };
        let next = Member {
            profile: clean.clone(),
            ..current.clone()
        };
        let view = self.member_view(&next);
        self.commit(
            &by,
            writes::update_profile(self.org.id.as_str(), &user, &clean),
            vec![OrgEvent::MemberChanged {
                member: view.clone(),
            }],
        )
        .await?;
        self.members.insert(user, next);
        Ok(view)
    }

    async fn on_remove_member(&mut self, by: Caller, user: UserId) -> CoreResult<()> {
        let actor_role = self.require_admin(&by)?;
        let current = self.members.get(&user).ok_or(CoreError::NotFound)?;
        if by == Caller::User(user.clone()) {
            return Err(CoreError::Forbidden("you cannot remove yourself".into()));
        }
        let owners = if current.active {
            self.active_owners()
        } else {
            usize::MAX
        };
        permissions::check_removal(actor_role, current.role, owners)
            .map_err(CoreError::Forbidden)?;
        // The member leaves every team too; those teams change in the same transaction.
        let changed: Vec<TeamView> = self
            .teams
            .values()
            .filter(|t| t.members.contains(&user) || t.manager.as_ref() == Some(&user))
            .map(|t| {
                let mut t = t.clone();
                t.members.retain(|m| m != &user);
                if t.manager.as_ref() == Some(&user) {
                    t.manager = None;
                }
                t.bookable_count = t.bookable_count.min(t.members.len() as u32);
                t
            })
            .collect();
        let mut events = vec![OrgEvent::MemberRemoved { user: user.clone() }];
        events.extend(
            changed
                .iter()
                .map(|t| OrgEvent::TeamChanged { team: t.clone() }),
        );
        self.commit_team_change(
            &by,
            writes::remove_membership(self.org.id.as_str(), &user, &changed),
            events,
            &changed,
        )
        .await?;
        self.members.remove(&user);
        for t in changed {
            self.teams.insert(t.id.clone(), t);
        }
        Ok(())
    }

    async fn on_set_member_teams(
        &mut self,
        by: Caller,
        user: UserId,
        wanted: Vec<TeamId>,
    ) -> CoreResult<MemberView> {
        self.require_admin(&by)?;
        let member = self.members.get(&user).ok_or(CoreError::NotFound)?.clone();
        if let Some(unknown) = wanted.iter().find(|t| !self.teams.contains_key(t)) {
            return Err(CoreError::invalid(format!("team {unknown} does not exist")));
        }
        if !member.active && !wanted.is_empty() {
            return Err(CoreError::invalid("a deactivated member cannot join teams"));
        }
        let changed: Vec<TeamView> = self
            .teams
            .values()
            .filter(|t| t.members.contains(&user) != wanted.contains(&t.id))
            .map(|t| {
                let mut t = t.clone();
                if wanted.contains(&t.id) {
                    t.members.push(user.clone());
                } else {
                    t.members.retain(|m| m != &user);
                    t.bookable_count = t.bookable_count.min(t.members.len() as u32);
                }
                t
            })
            .collect();
        if !changed.is_empty() {
            let events: Vec<OrgEvent> = changed
                .iter()
                .map(|t| OrgEvent::TeamChanged { team: t.clone() })
                .collect();
            self.commit_team_change(&by, writes::set_team_members(&changed), events, &changed)
                .await?;
            for t in changed {
                self.teams.insert(t.id.clone(), t);
            }
        }
        Ok(self.member_view(&member))
    }

    fn clean_team(&self, id: &TeamId, input: TeamInput) -> CoreResult<TeamView> {
        let name = validate::name("Team name", &input.name)?;
        if self
            .teams
            .values()
            .any(|t| &t.id != id && t.name.eq_ignore_ascii_case(&name))
        {
            return Err(CoreError::Conflict(format!(
                "a team named '{name}' already exists"
            )));
        }
        let mut members = Vec::with_capacity(input.members.len());
        for m in input.members {
            if !self.members.get(&m).is_some_and(|x| x.active) {
                return Err(CoreError::invalid(format!(
                    "user {m} is not an active member of this organization"
                )));
            }
            if !members.contains(&m) {
                members.push(m);
            }
        }
        if let Some(manager) = &input.manager
            && !self.members.get(manager).is_some_and(|x| x.active)
        {
            return Err(CoreError::invalid(
                "the manager must be an active member of this organization",
            ));
        }
        if let Some(parent) = &input.parent {
            // Walk up from the parent: meeting this team again would close a cycle.
            let mut cursor = Some(parent.clone());
            while let Some(p) = cursor {
                if &p == id {
                    return Err(CoreError::invalid("a team cannot be its own ancestor"));
                }
                cursor = self
                    .teams
                    .get(&p)
                    .ok_or_else(|| CoreError::invalid("the parent team does not exist"))?
                    .parent
                    .clone();
            }
        }
        Ok(TeamView {
            id: id.clone(),
            name,
            description: validate::long_text("Description", &input.description)?,
            colour: validate::colour(&input.colour)?,
            parent: input.parent,
            bookable_count: validate::bookable_count(input.bookable_count, members.len())?,
            members,
            manager: input.manager,
            reminder_hours: validate::reminder_hours(input.reminder_hours)?,
        })
    }

    async fn on_create_team(&mut self, by: Caller, input: TeamInput) -> CoreResult<TeamView> {
        self.require_admin(&by)?;
        let team = self.clean_team(&TeamId::new(new_id()), input)?;
        self.commit(
            &by,
            writes::create_team(self.org.id.as_str(), &team),
            vec![OrgEvent::TeamCreated { team: team.clone() }],
        )
        .await?;
        self.teams.insert(team.id.clone(), team.clone());
        Ok(team)
    }

    async fn on_update_team(
        &mut self,
        by: Caller,
        id: TeamId,
        input: TeamInput,
    ) -> CoreResult<TeamView> {
        self.require_admin(&by)?;
        if !self.teams.contains_key(&id) {
            return Err(CoreError::NotFound);
        }
        let team = self.clean_team(&id, input)?;
        self.commit_team_change(
            &by,
            writes::update_team(&team),
            vec![OrgEvent::TeamChanged { team: team.clone() }],
            std::slice::from_ref(&team),
        )
        .await?;
        self.teams.insert(id, team.clone());
        Ok(team)
    }

    async fn on_delete_team(&mut self, by: Caller, id: TeamId) -> CoreResult<()> {
        self.require_admin(&by)?;
        if !self.teams.contains_key(&id) {
            return Err(CoreError::NotFound);
        }
        // Child teams move up to the deleted team's parent, in the same transaction.
        let parent = self.teams[&id].parent.clone();
        let children: Vec<TeamView> = self
            .teams
            .values()
            .filter(|t| t.parent.as_ref() == Some(&id))
            .map(|t| TeamView {
                parent: parent.clone(),
                ..t.clone()
            })
            .collect();
        let mut events = vec![OrgEvent::TeamDeleted { team: id.clone() }];
        events.extend(
            children
                .iter()
                .map(|t| OrgEvent::TeamChanged { team: t.clone() }),
        );
        let child_ids: Vec<TeamId> = children.iter().map(|t| t.id.clone()).collect();
        self.commit(
            &by,
            writes::delete_team(&id, &child_ids, parent.as_ref()),
            events,
        )
        .await?;
        self.teams.remove(&id);
        for t in children {
            self.teams.insert(t.id.clone(), t);
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Why a team's bookable count cannot drop: the bookings that would no longer fit.
fn capacity_refusal(team: &TeamView, affected: &[BookingView]) -> String {
    let list: Vec<String> = affected
        .iter()
        .take(20)
        .map(|b| {
            format!(
                "{} '{}' {}",
                b.id,
                b.title,
                crate::domain::capacity::describe(&cflows_protocol::Interval {
                    start: b.start,
                    end: b.end
                })
            )
        })
        .collect();
    format!(
        "team '{}' cannot drop to {} bookable members: these bookings need more ({}{}); move or cancel them first",
        team.name,
        team.bookable_count,
        list.join("; "),
        if affected.len() > 20 { "; …" } else { "" }
    )
}

/// Builds an [`OrgView`] from its row.
pub(crate) fn org_view(r: OrgRecord) -> OrgView {
    OrgView {
        id: OrgId::new(r.id),
        name: r.name,
        slug: r.slug,
        timezone: r.timezone,
        clock: r.clock,
    }
}

/// Builds a [`UserView`] from its row.
pub(crate) fn user_view(u: &UserRecord) -> UserView {
    UserView {
        id: UserId::new(u.id.clone()),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
    }
}

fn member_from_record(user: UserView, m: MembershipRecord) -> Member {
    Member {
        user,
        role: m.role,
        active: m.active,
        profile: ProfileView {
            title: m.title,
            location: m.location,
            timezone: m.timezone,
            avatar: m.avatar,
            bio: m.bio,
        },
    }
}

fn team_view(t: TeamRecord) -> TeamView {
    TeamView {
        id: TeamId::new(t.id),
        name: t.name,
        description: t.description,
        colour: t.colour,
        parent: t.parent.map(TeamId::new),
        members: t.members.into_iter().map(UserId::new).collect(),
        bookable_count: t.bookable_count,
        manager: t.manager.map(UserId::new),
        reminder_hours: t.reminder_hours,
    }
}

/// A typed handle on one organization's actor (started on demand by the registry, so
/// it stays valid across idle stops and restarts).
#[derive(Clone)]
pub struct OrgHandle {
    kernel: Kernel,
    id: OrgId,
}

macro_rules! org_call {
    ($self:ident, $variant:ident { $($field:ident),* }) => {
        $self.call(|reply| OrgMsg::$variant { $($field,)* reply }).await
    };
}

impl OrgHandle {
    /// A handle on `id` without checking it exists (the first call does).
    pub fn new(kernel: &Kernel, id: &OrgId) -> Self {
        Self {
            kernel: kernel.clone(),
            id: id.clone(),
        }
    }

    /// A handle on `id`, checking it exists (starting its actor).
    ///
    /// # Errors
    /// `NotFound` for an unknown organization; `Unavailable` if it cannot start.
    pub async fn get(kernel: &Kernel, id: &OrgId) -> CoreResult<Self> {
        kernel.orgs().actor(kernel, id).await?;
        Ok(Self {
            kernel: kernel.clone(),
            id: id.clone(),
        })
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> OrgMsg,
    ) -> CoreResult<T> {
        self.kernel.orgs().call(&self.kernel, &self.id, build).await
    }

    /// Test hook: makes the actor panic inside its handler, as a bug would.
    #[cfg(test)]
    pub(crate) async fn crash(&self) {
        let _ = self
            .kernel
            .orgs()
            .send(&self.kernel, &self.id, OrgMsg::Crash)
            .await;
    }

    /// `user` as an active member — the one membership check every transport and stream
    /// uses.
    ///
    /// # Errors
    /// `NotFound` when `user` is not an active member (the same answer as an unknown
    /// organization: another organization's ids look missing); `Unavailable` when the
    /// actor does not answer.
    pub async fn active_member(&self, user: &UserId) -> CoreResult<MemberView> {
        self.member(user.clone())
            .await?
            .filter(|m| m.active)
            .ok_or(CoreError::NotFound)
    }

    /// Every team of the organization, by name.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn teams(&self) -> CoreResult<Vec<TeamView>> {
        org_call!(self, Teams {})
    }

    /// The organization's settings (no members or teams).
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn settings(&self) -> CoreResult<OrgView> {
        org_call!(self, Settings {})
    }

    /// The last journal position of `org:{id}`.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn head(&self) -> CoreResult<u64> {
        org_call!(self, Head {})
    }

    /// One team.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn team(&self, team: TeamId) -> CoreResult<Option<TeamView>> {
        org_call!(self, Team { team })
    }

    /// Settings, members and teams, with the journal position they include.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn snapshot(&self) -> CoreResult<OrgSnapshot> {
        org_call!(self, Snapshot {})
    }

    /// One member, active or not.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn member(&self, user: UserId) -> CoreResult<Option<MemberView>> {
        org_call!(self, Member { user })
    }

    /// Changes name, zone and clock format (admins).
    ///
    /// # Errors
    /// Invalid input, not an admin, or the store failed.
    pub async fn update_settings(&self, by: Caller, change: SettingsChange) -> CoreResult<OrgView> {
        org_call!(self, UpdateSettings { by, change })?
    }

    /// Adds an existing user as a member (admins; owners only for the owner role).
    ///
    /// # Errors
    /// Already a member, not allowed, or the store failed.
    pub async fn add_member(
        &self,
        by: Caller,
        user: UserView,
        role: Role,
    ) -> CoreResult<MemberView> {
        org_call!(self, AddMember { by, user, role })?
    }

    /// Creates a user and makes them a member in one transaction (admins; owners only
    /// for the owner role): a refused request leaves no user behind.
    ///
    /// # Errors
    /// Invalid or taken email, not allowed, or the store failed.
    pub async fn create_member(
        &self,
        by: Caller,
        user: NewUser,
        role: Role,
    ) -> CoreResult<MemberView> {
        org_call!(self, CreateMember { by, user, role })?
    }

    /// Invites `email` with `role` (admins; owners only for the owner role). Returns the
    /// invitation and its secret token, the same whether or not the address has an
    /// account anywhere.
    ///
    /// # Errors
    /// Invalid email, already a member, not allowed, or the store failed.
    pub async fn invite(
        &self,
        by: Caller,
        email: String,
        role: Role,
    ) -> CoreResult<(InvitationView, String)> {
        self.invite_mailing(by, email, role, None).await
    }

    /// [`OrgHandle::invite`], with the invitation's mail (made from the link's token)
    /// queued in the same transaction as the invitation.
    ///
    /// # Errors
    /// As [`OrgHandle::invite`].
    pub async fn invite_with_mail(
        &self,
        by: Caller,
        email: String,
        role: Role,
        mail: InviteMail,
    ) -> CoreResult<(InvitationView, String)> {
        self.invite_mailing(by, email, role, Some(mail)).await
    }

    async fn invite_mailing(
        &self,
        by: Caller,
        email: String,
        role: Role,
        mail: Option<InviteMail>,
    ) -> CoreResult<(InvitationView, String)> {
        org_call!(
            self,
            Invite {
                by,
                email,
                role,
                mail
            }
        )?
    }

    /// Revokes a pending invitation (admins).
    ///
    /// # Errors
    /// Unknown invitation, not an admin, or the store failed.
    pub async fn revoke_invitation(&self, by: Caller, id: String) -> CoreResult<()> {
        org_call!(self, RevokeInvitation { by, id })?
    }

    /// Pending invitations with their addresses, newest first: admins only (the
    /// `org:` stream carries them without addresses).
    ///
    /// # Errors
    /// `Forbidden` for a member who is not an admin; `Unavailable` when the actor does
    /// not answer.
    pub async fn invitations(&self, by: Caller) -> CoreResult<Vec<InvitationView>> {
        org_call!(self, Invitations { by })?
    }

    /// The pending invitation behind a secret token, if it still works.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn invitation(&self, token: &str) -> CoreResult<Option<InvitationView>> {
        let token_hash = token_hash(token);
        org_call!(self, Invitation { token_hash })
    }

    /// Accepts the invitation behind `token`.
    ///
    /// # Errors
    /// The link does not work any more, another address, already a member, or the store
    /// failed.
    pub async fn accept_invitation(
        &self,
        token: &str,
        account: Accepting,
    ) -> CoreResult<MemberView> {
        let token_hash = token_hash(token);
        org_call!(
            self,
            AcceptInvitation {
                token_hash,
                account
            }
        )?
    }

    /// Changes a member's role or active flag.
    ///
    /// # Errors
    /// Unknown member, a rule of [`permissions`] refuses, or the store failed.
    pub async fn update_member(
        &self,
        by: Caller,
        user: UserId,
        change: MemberChange,
    ) -> CoreResult<MemberView> {
        org_call!(self, UpdateMember { by, user, change })?
    }

    /// Replaces a member's profile (the member themself, or an admin).
    ///
    /// # Errors
    /// Invalid profile, unknown member, not allowed, or the store failed.
    pub async fn update_profile(
        &self,
        by: Caller,
        user: UserId,
        profile: ProfileView,
    ) -> CoreResult<MemberView> {
        org_call!(self, UpdateProfile { by, user, profile })?
    }

    /// Removes a member from the organization and its teams.
    ///
    /// # Errors
    /// Unknown member, not allowed, or the store failed.
    pub async fn remove_member(&self, by: Caller, user: UserId) -> CoreResult<()> {
        org_call!(self, RemoveMember { by, user })?
    }

    /// Puts a member in exactly the given teams (one transaction).
    ///
    /// # Errors
    /// Unknown member or team, not an admin, or the store failed.
    pub async fn set_member_teams(
        &self,
        by: Caller,
        user: UserId,
        teams: Vec<TeamId>,
    ) -> CoreResult<MemberView> {
        org_call!(self, SetMemberTeams { by, user, teams })?
    }

    /// Creates a team.
    ///
    /// # Errors
    /// Invalid input, duplicate name, not an admin, or the store failed.
    pub async fn create_team(&self, by: Caller, input: TeamInput) -> CoreResult<TeamView> {
        org_call!(self, CreateTeam { by, input })?
    }

    /// Replaces a team's fields.
    ///
    /// # Errors
    /// Unknown team, invalid input, not an admin, or the store failed.
    pub async fn update_team(
        &self,
        by: Caller,
        team: TeamId,
        input: TeamInput,
    ) -> CoreResult<TeamView> {
        org_call!(self, UpdateTeam { by, team, input })?
    }

    /// The organization's job types, by name.
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn job_types(&self) -> CoreResult<Vec<JobTypeView>> {
        org_call!(self, JobTypes {})
    }

    /// A team and a job type, in one call (a booking request's lookups).
    ///
    /// # Errors
    /// `Unavailable` when the actor does not answer.
    pub async fn team_and_job_type(
        &self,
        team: TeamId,
        job_type: String,
    ) -> CoreResult<(Option<TeamView>, Option<JobTypeView>)> {
        org_call!(self, TeamAndJobType { team, job_type })
    }

    /// A new job type (admins).
    ///
    /// # Errors
    /// `Forbidden`, `InvalidInput`, `Conflict` for a taken name.
    pub async fn create_job_type(
        &self,
        by: Caller,
        input: JobTypeInput,
    ) -> CoreResult<JobTypeView> {
        org_call!(self, CreateJobType { by, input })?
    }

    /// Changes a job type (admins); existing bookings keep their length.
    ///
    /// # Errors
    /// As [`OrgHandle::create_job_type`], and `NotFound`.
    pub async fn update_job_type(
        &self,
        by: Caller,
        id: String,
        input: JobTypeInput,
    ) -> CoreResult<JobTypeView> {
        org_call!(self, UpdateJobType { by, id, input })?
    }

    /// Deletes a job type (admins); existing bookings keep their id.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn delete_job_type(&self, by: Caller, id: String) -> CoreResult<()> {
        org_call!(self, DeleteJobType { by, id })?
    }

    /// Deletes a team; its child teams move to its parent.
    ///
    /// # Errors
    /// Unknown team, not an admin, or the store failed.
    pub async fn delete_team(&self, by: Caller, team: TeamId) -> CoreResult<()> {
        org_call!(self, DeleteTeam { by, team })?
    }
}
