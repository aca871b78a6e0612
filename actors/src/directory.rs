//! `Directory`: the platform-level actor. Single writer of organizations' creation, users
//! and sessions; keeper of the registry of running `Org` actors, which it spawns on demand
//! (linked, so it supervises them) and restarts from the store when one fails.
//! Supervised by the root supervisor.
//!
//! Password hashing never runs inside the actor: the handle hashes and verifies on the
//! blocking pool, so one slow login cannot stall everyone else's requests.

use crate::domain::{password, validate};
use crate::error::{CoreError, CoreResult};
use crate::inbox::{Inbox, InboxArgs, InboxHandle, InboxMsg};
use crate::org::{Org, OrgArgs, OrgHandle, OrgMsg, journal_rows, org_stream, org_view};
use crate::store::{JournalRow, SessionRecord, Store, StoreError, UserRecord, new_id};
use crate::streams::StreamHub;
use cflows_protocol::{
    ClockFormat, MemberView, OrgEvent, OrgId, OrgView, ProfileView, Role, UserId, UserView,
};
use dashmap::DashMap;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a login session lasts without being renewed.
pub const SESSION_TTL_DAYS: i64 = 14;

/// A new organization.
#[derive(Clone, Debug)]
pub struct NewOrg {
    pub name: String,
    /// Empty: derived from the name.
    pub slug: String,
    pub timezone: String,
    pub clock: ClockFormat,
    /// Becomes the first owner.
    pub owner: Option<UserId>,
}

/// A new user, with the password already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub platform_operator: bool,
}

/// Messages the `Directory` handles.
pub enum DirectoryMsg {
    CreateOrg {
        org: NewOrg,
        reply: RpcReplyPort<CoreResult<OrgView>>,
    },
    CreateUser {
        user: NewUser,
        reply: RpcReplyPort<CoreResult<UserView>>,
    },
    SetPassword {
        user: UserId,
        password_hash: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    StartInbox {
        user: UserId,
        reply: RpcReplyPort<CoreResult<ActorRef<InboxMsg>>>,
    },
    StartOrg {
        id: OrgId,
        reply: RpcReplyPort<CoreResult<ActorRef<OrgMsg>>>,
    },
    CreateSession {
        user: UserId,
        org: Option<OrgId>,
        reply: RpcReplyPort<CoreResult<SessionRecord>>,
    },
    EndSession {
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
}

/// Start-up arguments.
pub struct DirectoryArgs {
    pub store: Store,
    pub registry: Arc<DashMap<OrgId, ActorRef<OrgMsg>>>,
    pub inboxes: Arc<DashMap<UserId, ActorRef<InboxMsg>>>,
    pub hub: StreamHub,
}

/// What a supervised child runs.
enum Child {
    Org(OrgId),
    Inbox(UserId),
}

/// The Directory's state.
pub struct DirectoryState {
    store: Store,
    /// Running org actors, shared read-only with handles for lock-free lookups.
    registry: Arc<DashMap<OrgId, ActorRef<OrgMsg>>>,
    /// Running inboxes, shared read-only with handles.
    inboxes: Arc<DashMap<UserId, ActorRef<InboxMsg>>>,
    hub: StreamHub,
    /// What each supervised child runs, to restart it when it fails.
    children: HashMap<ActorId, Child>,
    /// Last position of the `platform` journal stream (user creation).
    platform_seq: u64,
}

/// The actor.
pub struct Directory;

/// The journal stream of platform-level changes.
pub const PLATFORM_STREAM: &str = "platform";

impl Actor for Directory {
    type Msg = DirectoryMsg;
    type State = DirectoryState;
    type Arguments = DirectoryArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<DirectoryMsg>,
        args: DirectoryArgs,
    ) -> Result<DirectoryState, ActorProcessingErr> {
        let platform_seq = args.store.last_seq(PLATFORM_STREAM).await?;
        // A restarted Directory no longer supervises the old org actors: stop them so they
        // are started again, linked to this one, on their next use.
        for entry in args.registry.iter() {
            entry.value().stop(Some("directory restarted".into()));
        }
        args.registry.clear();
        for entry in args.inboxes.iter() {
            entry.value().stop(Some("directory restarted".into()));
        }
        args.inboxes.clear();
        Ok(DirectoryState {
            store: args.store,
            registry: args.registry,
            inboxes: args.inboxes,
            hub: args.hub,
            children: HashMap::new(),
            platform_seq,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<DirectoryMsg>,
        msg: DirectoryMsg,
        state: &mut DirectoryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DirectoryMsg::CreateOrg { org, reply } => {
                let _ = reply.send(state.on_create_org(org).await);
            }
            DirectoryMsg::CreateUser { user, reply } => {
                let _ = reply.send(state.on_create_user(user).await);
            }
            DirectoryMsg::SetPassword {
                user,
                password_hash,
                reply,
            } => {
                let _ = reply.send(state.on_set_password(user, password_hash).await);
            }
            DirectoryMsg::StartOrg { id, reply } => {
                let _ = reply.send(state.on_start_org(&me, id).await);
            }
            DirectoryMsg::StartInbox { user, reply } => {
                let _ = reply.send(state.on_start_inbox(&me, user).await);
            }
            DirectoryMsg::CreateSession { user, org, reply } => {
                let _ = reply.send(state.on_create_session(user, org).await);
            }
            DirectoryMsg::EndSession { id, reply } => {
                let _ = reply.send(state.on_end_session(id).await);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<DirectoryMsg>,
        evt: SupervisionEvent,
        state: &mut DirectoryState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => match state.children.remove(&cell.get_id())
            {
                Some(Child::Org(org)) => {
                    tracing::error!(%org, error = %err, "org actor failed; restarting it from the store");
                    state.registry.remove(&org);
                    if let Err(e) = state.on_start_org(&me, org.clone()).await {
                        // Left stopped: the next request starts it again or reports the error.
                        tracing::error!(%org, error = %e, "org actor restart failed");
                    }
                }
                Some(Child::Inbox(user)) => {
                    // Inboxes restart lazily from the store on their next use.
                    tracing::error!(%user, error = %err, "inbox actor failed");
                    state.inboxes.remove(&user);
                }
                None => {}
            },
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                match state.children.remove(&cell.get_id()) {
                    Some(Child::Org(org)) => {
                        state
                            .registry
                            .remove_if(&org, |_, r| r.get_id() == cell.get_id());
                    }
                    Some(Child::Inbox(user)) => {
                        state
                            .inboxes
                            .remove_if(&user, |_, r| r.get_id() == cell.get_id());
                    }
                    None => {}
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl DirectoryState {
    async fn on_start_org(
        &mut self,
        me: &ActorRef<DirectoryMsg>,
        id: OrgId,
    ) -> CoreResult<ActorRef<OrgMsg>> {
        if let Some(existing) = self.registry.get(&id) {
            return Ok(existing.clone());
        }
        // Check existence first so an unknown id is a plain NotFound, not a spawn failure.
        if self.store.org(id.as_str()).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        let (actor, _) = Actor::spawn_linked(
            None,
            Org,
            OrgArgs {
                id: id.clone(),
                store: self.store.clone(),
                hub: self.hub.clone(),
            },
            me.get_cell(),
        )
        .await
        .map_err(|e| {
            tracing::error!(org = %id, error = %e, "org actor failed to start");
            CoreError::Unavailable
        })?;
        self.children.insert(actor.get_id(), Child::Org(id.clone()));
        self.registry.insert(id, actor.clone());
        Ok(actor)
    }

    async fn on_start_inbox(
        &mut self,
        me: &ActorRef<DirectoryMsg>,
        user: UserId,
    ) -> CoreResult<ActorRef<InboxMsg>> {
        if let Some(existing) = self.inboxes.get(&user) {
            return Ok(existing.clone());
        }
        if self.store.user(user.as_str()).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        let args = InboxArgs {
            user: user.clone(),
            store: self.store.clone(),
            hub: self.hub.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, Inbox, args, me.get_cell())
            .await
            .map_err(|e| {
                tracing::error!(%user, error = %e, "inbox actor failed to start");
                CoreError::Unavailable
            })?;
        self.children
            .insert(actor.get_id(), Child::Inbox(user.clone()));
        self.inboxes.insert(user, actor.clone());
        Ok(actor)
    }

    async fn on_create_org(&mut self, new: NewOrg) -> CoreResult<OrgView> {
        let name = validate::name("Organization name", &new.name)?;
        let slug = if new.slug.trim().is_empty() {
            validate::slug_from(&name)
        } else {
            new.slug
        };
        let slug = validate::slug(&slug)?;
        let timezone = validate::timezone(&new.timezone)?;
        if self.store.org_by_slug(&slug).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "the slug '{slug}' is already taken"
            )));
        }
        let owner = match &new.owner {
            Some(id) => Some(
                self.store
                    .user(id.as_str())
                    .await?
                    .ok_or_else(|| CoreError::invalid("the owner does not exist"))?,
            ),
            None => None,
        };
        let org = org_view(&new_id(), &name, &slug, &timezone, new.clock.as_str());
        let mut events = vec![OrgEvent::OrgCreated { org: org.clone() }];
        let mut body = String::from(
            "CREATE type::record('org', $id) CONTENT { name: $name, slug: $slug, timezone: $timezone, clock: $clock, created_at: time::now() };",
        );
        if let Some(owner) = &owner {
            body.push_str(
                "CREATE membership CONTENT { org: $id, user: $owner, role: 'owner', active: true, title: '', location: '', timezone: '', avatar: '', bio: '', created_at: time::now() };",
            );
            events.push(OrgEvent::MemberAdded {
                member: MemberView {
                    user: user_view(owner),
                    role: Role::Owner,
                    active: true,
                    profile: ProfileView::default(),
                    teams: Vec::new(),
                },
            });
        }
        let rows = journal_rows(&org_stream(&org.id), 0, &events, None);
        self.store
            .commit(
                &body,
                json!({ "id": org.id, "name": org.name, "slug": org.slug, "timezone": org.timezone,
                        "clock": org.clock.as_str(), "owner": owner.as_ref().map(|o| &o.id) }),
                &rows,
            )
            .await
            .map_err(|e| duplicate_as(e, "that slug is already taken"))?;
        Ok(org)
    }

    async fn on_create_user(&mut self, new: NewUser) -> CoreResult<UserView> {
        let email = validate::email(&new.email)?;
        let display_name = validate::name("Display name", &new.display_name)?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "a user with the email {email} already exists"
            )));
        }
        let view = UserView {
            id: UserId::new(new_id()),
            email,
            display_name,
        };
        let row = JournalRow {
            stream: PLATFORM_STREAM.into(),
            seq: self.platform_seq + 1,
            kind: "user_created",
            payload: serde_json::to_string(&view).expect("views serialize"),
            actor: None,
        };
        self.store
            .commit(
                "CREATE type::record('user', $id) CONTENT { email: $email, display_name: $display_name, password_hash: $hash, platform_operator: $op, created_at: time::now() };",
                json!({ "id": view.id, "email": view.email, "display_name": view.display_name,
                        "hash": new.password_hash, "op": new.platform_operator }),
                &[row],
            )
            .await
            .map_err(|e| duplicate_as(e, "a user with this email already exists"))?;
        self.platform_seq += 1;
        Ok(view)
    }

    async fn on_set_password(&mut self, user: UserId, hash: String) -> CoreResult<()> {
        if self.store.user(user.as_str()).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        // A new password ends every session of that user.
        self.store
            .commit(
                "UPDATE type::record('user', $id) SET password_hash = $hash; DELETE session WHERE user = $id;",
                json!({ "id": user, "hash": hash }),
                &[],
            )
            .await?;
        Ok(())
    }

    async fn on_create_session(
        &mut self,
        user: UserId,
        org: Option<OrgId>,
    ) -> CoreResult<SessionRecord> {
        let id = random_token();
        let csrf = random_token();
        self.store
            .commit(
                &format!(
                    "CREATE type::record('session', $id) CONTENT {{ user: $user, org: $org, csrf: $csrf, created_at: time::now(), expires_at: time::now() + {SESSION_TTL_DAYS}d }};"
                ),
                json!({ "id": id, "user": user, "org": org, "csrf": csrf }),
                &[],
            )
            .await?;
        self.store.session(&id).await?.ok_or(CoreError::Unavailable)
    }

    async fn on_end_session(&mut self, id: String) -> CoreResult<()> {
        self.store
            .commit(
                "DELETE type::record('session', $id);",
                json!({ "id": id }),
                &[],
            )
            .await?;
        Ok(())
    }
}

fn duplicate_as(e: StoreError, msg: &str) -> CoreError {
    match e {
        StoreError::Duplicate(_) => CoreError::Conflict(msg.into()),
        other => CoreError::Store(other),
    }
}

/// 256 random bits, hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn user_view(u: &UserRecord) -> UserView {
    UserView {
        id: UserId::new(u.id.clone()),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
    }
}

/// How long a caller waits for the Directory.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A typed handle on the Directory, plus the read paths that need no actor.
#[derive(Clone)]
pub struct DirectoryHandle {
    actor: watch::Receiver<ActorRef<DirectoryMsg>>,
    registry: Arc<DashMap<OrgId, ActorRef<OrgMsg>>>,
    inboxes: Arc<DashMap<UserId, ActorRef<InboxMsg>>>,
    hub: StreamHub,
    store: Store,
}

/// Who a login session belongs to, resolved against the store.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: String,
    pub csrf: String,
    pub user: UserRecord,
    pub org: Option<OrgId>,
}

impl DirectoryHandle {
    pub(crate) fn new(
        actor: watch::Receiver<ActorRef<DirectoryMsg>>,
        registry: Arc<DashMap<OrgId, ActorRef<OrgMsg>>>,
        inboxes: Arc<DashMap<UserId, ActorRef<InboxMsg>>>,
        hub: StreamHub,
        store: Store,
    ) -> Self {
        Self {
            actor,
            registry,
            inboxes,
            hub,
            store,
        }
    }

    /// Where actors publish stream events and connections subscribe.
    pub fn hub(&self) -> &StreamHub {
        &self.hub
    }

    /// A user's inbox actor, started on demand.
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Unavailable` if it cannot start.
    pub async fn inbox(&self, user: &UserId) -> CoreResult<InboxHandle> {
        if let Some(actor) = self.inboxes.get(user) {
            return Ok(InboxHandle::new(actor.clone()));
        }
        let user = user.clone();
        let actor = self
            .call(|reply| DirectoryMsg::StartInbox { user, reply })
            .await??;
        Ok(InboxHandle::new(actor))
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> DirectoryMsg,
    ) -> CoreResult<T> {
        let actor = self.actor.borrow().clone();
        match actor.call(build, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            _ => Err(CoreError::Unavailable),
        }
    }

    /// The store, for read-only queries (health, integrity check, listings).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The running actor of an organization, started on demand.
    ///
    /// # Errors
    /// `NotFound` for an unknown organization; `Unavailable` if it cannot start.
    pub async fn org(&self, id: &OrgId) -> CoreResult<OrgHandle> {
        if let Some(actor) = self.registry.get(id) {
            return Ok(OrgHandle::new(actor.clone()));
        }
        let id = id.clone();
        let actor = self
            .call(|reply| DirectoryMsg::StartOrg { id, reply })
            .await??;
        Ok(OrgHandle::new(actor))
    }

    /// Creates an organization (and its first owner's membership).
    ///
    /// # Errors
    /// Invalid input, a taken slug, or the store failed.
    pub async fn create_org(&self, org: NewOrg) -> CoreResult<OrgView> {
        self.call(|reply| DirectoryMsg::CreateOrg { org, reply })
            .await?
    }

    /// Creates a user with a password (hashed here, off the actor).
    ///
    /// # Errors
    /// Invalid input, a taken email, or the store failed.
    pub async fn create_user(
        &self,
        email: &str,
        display_name: &str,
        password: &str,
        platform_operator: bool,
    ) -> CoreResult<UserView> {
        // Cheap checks first, so bad input never pays for a hash.
        let email = validate::email(email)?;
        let display_name = validate::name("Display name", display_name)?;
        let password_hash = hash_blocking(validate::new_password(password)?).await?;
        let user = NewUser {
            email,
            display_name,
            password_hash,
            platform_operator,
        };
        self.call(|reply| DirectoryMsg::CreateUser { user, reply })
            .await?
    }

    /// Sets a user's password and ends their sessions.
    ///
    /// # Errors
    /// Too short a password, unknown user, or the store failed.
    pub async fn set_password(&self, user: UserId, password: &str) -> CoreResult<()> {
        let password_hash = hash_blocking(validate::new_password(password)?).await?;
        self.call(|reply| DirectoryMsg::SetPassword {
            user,
            password_hash,
            reply,
        })
        .await?
    }

    /// Checks an email and password. Unknown email and wrong password are the same `None`
    /// and take the same time (a decoy hash is verified for unknown emails).
    ///
    /// # Errors
    /// The store failed.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> CoreResult<Option<UserRecord>> {
        let user = match validate::email(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = user.as_ref().map_or_else(
            || password::decoy_hash().to_string(),
            |u| u.password_hash.clone(),
        );
        let password = password
            .chars()
            .take(validate::MAX_PASSWORD)
            .collect::<String>();
        let ok = tokio::task::spawn_blocking(move || password::verify(&password, &hash))
            .await
            .map_err(|_| CoreError::Unavailable)?;
        Ok(if ok { user } else { None })
    }

    /// A new login session (a fresh id: sessions rotate at every login).
    ///
    /// # Errors
    /// The store failed.
    pub async fn create_session(
        &self,
        user: UserId,
        org: Option<OrgId>,
    ) -> CoreResult<SessionRecord> {
        self.call(|reply| DirectoryMsg::CreateSession { user, org, reply })
            .await?
    }

    /// Ends a session (logout).
    ///
    /// # Errors
    /// The store failed.
    pub async fn end_session(&self, id: &str) -> CoreResult<()> {
        let id = id.to_string();
        self.call(|reply| DirectoryMsg::EndSession { id, reply })
            .await?
    }

    /// Resolves a session cookie to its user; `None` when unknown or expired.
    ///
    /// # Errors
    /// The store failed.
    pub async fn session(&self, id: &str) -> CoreResult<Option<SessionInfo>> {
        // Session ids are 64 hex characters; anything else is not worth a query.
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(s) = self.store.session_account(id).await? else {
            return Ok(None);
        };
        let Some(user) = s.account else {
            return Ok(None);
        };
        Ok(Some(SessionInfo {
            id: s.id,
            csrf: s.csrf,
            user,
            org: s.org.map(OrgId::new),
        }))
    }

    /// One user.
    ///
    /// # Errors
    /// The store failed.
    pub async fn user(&self, id: &UserId) -> CoreResult<Option<UserRecord>> {
        Ok(self.store.user(id.as_str()).await?)
    }

    /// One user by email.
    ///
    /// # Errors
    /// The store failed.
    pub async fn user_by_email(&self, email: &str) -> CoreResult<Option<UserRecord>> {
        let email = validate::email(email)?;
        Ok(self.store.user_by_email(&email).await?)
    }

    /// The organizations a user is an active member of, with their role there.
    ///
    /// # Errors
    /// The store failed.
    pub async fn orgs_of(&self, user: &UserId) -> CoreResult<Vec<(OrgView, Role)>> {
        let mut out = Vec::new();
        for m in self.store.memberships_of_user(user.as_str()).await? {
            if !m.active {
                continue;
            }
            if let Some(o) = self.store.org(&m.org).await? {
                out.push((
                    org_view(&o.id, &o.name, &o.slug, &o.timezone, &o.clock),
                    Role::parse(&m.role).unwrap_or(Role::Member),
                ));
            }
        }
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(out)
    }

    /// Every organization (platform operators).
    ///
    /// # Errors
    /// The store failed.
    pub async fn orgs(&self) -> CoreResult<Vec<OrgView>> {
        Ok(self
            .store
            .orgs()
            .await?
            .iter()
            .map(|o| org_view(&o.id, &o.name, &o.slug, &o.timezone, &o.clock))
            .collect())
    }

    /// How many org actors are running now.
    pub fn running_orgs(&self) -> usize {
        self.registry.len()
    }
}

async fn hash_blocking(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| CoreError::Unavailable)
}
