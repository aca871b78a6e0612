//! `Directory`: the platform-level entity. Single writer of organizations' creation,
//! users and sessions, and of the `platform` journal. Hosted by the kernel like every
//! other kind (one instance, never stopped for idleness); it starts no actors itself.
//!
//! Password hashing never runs inside the actor: the handle hashes and verifies on the
//! blocking pool, so one slow login cannot stall everyone else's requests.

use crate::Store;
use crate::domain::{password, validate};
use crate::error::{CoreError, CoreResult};
use crate::inbox::InboxHandle;
use crate::kernel::{Entity, Journal, Kernel, journal, session_digest};
use crate::org::{OrgHandle, org_view, user_view};
use crate::store::{SessionRecord, UserRecord, new_id, writes};
use crate::streams::StreamHub;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    ClockFormat, InvitationView, MemberView, OrgEvent, OrgId, OrgView, PlatformEvent, ProfileView,
    Role, StreamName, UserId, UserView,
};
use ractor::RpcReplyPort;
use std::collections::HashMap;
use std::fmt;

/// A new organization.
#[derive(Clone, Debug)]
pub struct NewOrg {
    pub name: String,
    /// Empty: derived from the name.
    pub slug: String,
    pub timezone: String,
    pub clock: ClockFormat,
    /// Becomes the first owner.
    pub owner: Option<Owner>,
}

/// The first owner of a new organization: an existing user, or one created with it
/// (in the same transaction, so a refused organization leaves no user behind).
#[derive(Clone, Debug)]
pub enum Owner {
    Existing(UserId),
    New(NewUser),
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
    CreateSession {
        user: UserId,
        org: Option<OrgId>,
        reply: RpcReplyPort<CoreResult<SessionRecord>>,
    },
    EndSession {
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// A session as this node last read it, while that is recent enough.
    CachedSession {
        id: String,
        reply: RpcReplyPort<Option<SessionInfo>>,
    },
    /// A session just read from the store.
    RememberSession { info: Box<SessionInfo> },
    /// A user's organizations as this node last read them, while recent enough.
    CachedOrgs {
        user: UserId,
        reply: RpcReplyPort<Option<Vec<(OrgView, Role)>>>,
    },
    RememberOrgs {
        user: UserId,
        orgs: Vec<(OrgView, Role)>,
    },
}

/// How long a session read from the store is trusted without reading it again: the
/// longest a session ended on another node keeps working on this one. Ends on this node
/// take effect at once.
pub const SESSION_CACHE_SECS: u64 = 30;
/// Most sessions held hot (least recently read ones go first).
pub const SESSION_CACHE_MAX: usize = 100_000;

mod pairing;
pub use pairing::{CODE_LENGTH, PAIRING_TTL_MS, PairingState};

/// The Directory's id: there is one, the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Platform;

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("platform")
    }
}

/// The Directory's state: the platform journal (users, sessions are read from the store).
pub struct Directory {
    kernel: Kernel,
    /// Writer of the `platform` stream (user creation).
    journal: Journal,
    /// Sessions by id, hot, with when they were read from the store: every request is
    /// authenticated without a store query while its entry is fresh.
    sessions: HashMap<String, (SessionInfo, std::time::Instant)>,
    /// Each user's organizations for the page header, hot for `SESSION_CACHE_SECS`;
    /// dropped when the user logs in or switches (a new session).
    user_orgs: HashMap<UserId, (Vec<(OrgView, Role)>, std::time::Instant)>,
}

impl Entity for Directory {
    type Id = Platform;
    type Msg = DirectoryMsg;
    const KIND: &'static str = "directory";

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        matches!(stream, StreamName::Platform).then_some(Platform)
    }
    const PASSIVATE: bool = false;

    async fn load(kernel: &Kernel, _id: &Platform) -> CoreResult<Self> {
        Ok(Self {
            kernel: kernel.clone(),
            journal: Journal::open(kernel, StreamName::Platform).await?,
            sessions: HashMap::new(),
            user_orgs: HashMap::new(),
        })
    }

    async fn handle(&mut self, _kernel: &Kernel, msg: DirectoryMsg) {
        match msg {
            DirectoryMsg::CreateOrg { org, reply } => {
                let _ = reply.send(self.on_create_org(org).await);
            }
            DirectoryMsg::CreateUser { user, reply } => {
                let _ = reply.send(self.on_create_user(user).await);
            }
            DirectoryMsg::SetPassword {
                user,
                password_hash,
                reply,
            } => {
                let _ = reply.send(self.on_set_password(user, password_hash).await);
            }
            DirectoryMsg::CreateSession { user, org, reply } => {
                let _ = reply.send(self.on_create_session(user, org).await);
            }
            DirectoryMsg::EndSession { id, reply } => {
                let _ = reply.send(self.on_end_session(id).await);
            }
            DirectoryMsg::CachedSession { id, reply } => {
                let fresh = self.sessions.get(&id).and_then(|(info, read)| {
                    (read.elapsed().as_secs() < SESSION_CACHE_SECS
                        && info.expires_at > chrono::Utc::now())
                    .then(|| info.clone())
                });
                let _ = reply.send(fresh);
            }
            DirectoryMsg::CachedOrgs { user, reply } => {
                let fresh = self.user_orgs.get(&user).and_then(|(orgs, read)| {
                    (read.elapsed().as_secs() < SESSION_CACHE_SECS).then(|| orgs.clone())
                });
                let _ = reply.send(fresh);
            }
            DirectoryMsg::RememberOrgs { user, orgs } => {
                if self.user_orgs.len() >= SESSION_CACHE_MAX {
                    self.user_orgs
                        .retain(|_, (_, read)| read.elapsed().as_secs() < SESSION_CACHE_SECS);
                }
                if self.user_orgs.len() < SESSION_CACHE_MAX {
                    self.user_orgs
                        .insert(user, (orgs, std::time::Instant::now()));
                }
            }
            DirectoryMsg::RememberSession { info } => {
                if self.sessions.len() >= SESSION_CACHE_MAX {
                    // Drop what is stale; if all are fresh, the oldest reads.
                    self.sessions
                        .retain(|_, (_, read)| read.elapsed().as_secs() < SESSION_CACHE_SECS);
                    if self.sessions.len() >= SESSION_CACHE_MAX {
                        let mut reads: Vec<_> =
                            self.sessions.values().map(|(_, read)| *read).collect();
                        reads.sort();
                        let cut = reads[reads.len() / 2];
                        self.sessions.retain(|_, (_, read)| *read > cut);
                    }
                }
                self.sessions
                    .insert(info.id.clone(), (*info, std::time::Instant::now()));
            }
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }
}

impl Directory {
    fn store(&self) -> &Store {
        self.kernel.store()
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
        if self.store().org_by_slug(&slug).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "the slug '{slug}' is already taken"
            )));
        }
        let org = OrgView {
            id: OrgId::new(new_id()),
            name,
            slug,
            timezone,
            clock: new.clock,
        };
        let mut events = vec![StreamEvent::Org(OrgEvent::OrgCreated { org: org.clone() })];
        let mut platform_events = Vec::new();
        let write = match new.owner {
            None => writes::create_org(&org, None),
            Some(owner) => {
                let (owner, write) = match owner {
                    Owner::Existing(id) => {
                        let user = self
                            .store()
                            .user(id.as_str())
                            .await?
                            .ok_or_else(|| CoreError::invalid("the owner does not exist"))?;
                        (user_view(&user), writes::create_org(&org, Some(&id)))
                    }
                    Owner::New(user) => {
                        let view = self.new_user_view(&user).await?;
                        let write = writes::create_org(&org, Some(&view.id)).and(
                            writes::create_user(&view, &user.password_hash, user.platform_operator),
                        );
                        platform_events.push(user_created(&view));
                        (view, write)
                    }
                };
                events.push(StreamEvent::Org(OrgEvent::MemberAdded {
                    member: MemberView {
                        user: owner,
                        role: Role::Owner,
                        active: true,
                        profile: ProfileView::default(),
                        teams: Vec::new(),
                    },
                }));
                write
            }
        };
        // A new stream: its first rows ride along in the same transaction.
        let first_rows = journal::rows(
            &StreamName::Org(org.id.clone()),
            0,
            &events,
            None,
            Some(&org.id),
        );
        self.journal
            .commit_with(write, platform_events, None, first_rows)
            .await?;
        Ok(org)
    }

    /// Checks a new user's fields and that the email is free; gives the user an id.
    async fn new_user_view(&self, new: &NewUser) -> CoreResult<UserView> {
        let email = validate::email(&new.email)?;
        let display_name = validate::name("Display name", &new.display_name)?;
        if self.store().user_by_email(&email).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "a user with the email {email} already exists"
            )));
        }
        Ok(UserView {
            id: UserId::new(new_id()),
            email,
            display_name,
        })
    }

    async fn on_create_user(&mut self, new: NewUser) -> CoreResult<UserView> {
        let view = self.new_user_view(&new).await?;
        self.journal
            .commit(
                writes::create_user(&view, &new.password_hash, new.platform_operator),
                vec![user_created(&view)],
                None,
            )
            .await?;
        Ok(view)
    }

    async fn on_set_password(&mut self, user: UserId, hash: String) -> CoreResult<()> {
        if self.store().user(user.as_str()).await?.is_none() {
            return Err(CoreError::NotFound);
        }
        // A new password ends every session of that user, and their open connections
        // on every node (`sessions_ended`).
        self.journal
            .commit(
                writes::set_password(&user, &hash),
                vec![StreamEvent::Platform(PlatformEvent::SessionsEnded {
                    user: user.clone(),
                })],
                Some(&user),
            )
            .await?;
        self.sessions
            .retain(|_, (info, _)| info.user.id != user.as_str());
        Ok(())
    }

    async fn on_create_session(
        &mut self,
        user: UserId,
        org: Option<OrgId>,
    ) -> CoreResult<SessionRecord> {
        self.user_orgs.remove(&user);
        let id = random_token();
        let csrf = random_token();
        self.store()
            .commit(
                writes::create_session(
                    &id,
                    &user,
                    org.as_ref().map(OrgId::as_str),
                    &csrf,
                    self.kernel.config().session_lifetime.as_secs().max(1),
                ),
                &[],
            )
            .await?;
        self.store()
            .session(&id)
            .await?
            .ok_or(CoreError::Unavailable)
    }

    async fn on_end_session(&mut self, id: String) -> CoreResult<()> {
        let Some(session) = self.store().session(&id).await? else {
            self.sessions.remove(&id);
            return Ok(());
        };
        // Its sockets close on every node (`session_ended`, by the id's digest).
        let user = UserId::new(session.user);
        self.journal
            .commit(
                writes::end_session(&id),
                vec![StreamEvent::Platform(PlatformEvent::SessionEnded {
                    user: user.clone(),
                    session: session_digest(&id),
                })],
                Some(&user),
            )
            .await?;
        self.sessions.remove(&id);
        Ok(())
    }
}

/// The platform journal's event for a new user.
fn user_created(user: &UserView) -> StreamEvent {
    StreamEvent::Platform(cflows_protocol::PlatformEvent::UserCreated { user: user.clone() })
}

/// 256 random bits, hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A typed handle on the Directory, plus the read paths that need no actor.
#[derive(Clone)]
pub struct DirectoryHandle {
    kernel: Kernel,
}

/// Who a login session belongs to, resolved against the store.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: String,
    pub csrf: String,
    pub user: UserRecord,
    pub org: Option<OrgId>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl DirectoryHandle {
    pub(crate) fn new(kernel: Kernel) -> Self {
        Self { kernel }
    }

    /// Where actors publish stream events and connections subscribe.
    pub fn hub(&self) -> &StreamHub {
        self.kernel.hub()
    }

    /// A user's inbox, started on demand.
    ///
    /// # Errors
    /// `NotFound` for an unknown user; `Unavailable` if it cannot start.
    pub async fn inbox(&self, user: &UserId) -> CoreResult<InboxHandle> {
        InboxHandle::get(&self.kernel, user).await
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> DirectoryMsg,
    ) -> CoreResult<T> {
        self.kernel
            .directory()
            .call(&self.kernel, &Platform, build)
            .await
    }

    /// The store, for read-only queries (health, integrity check, listings).
    pub fn store(&self) -> &Store {
        self.kernel.store()
    }

    /// The kernel this handle talks to.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// `user` as an active member of `org` (see [`OrgHandle::active_member`]).
    ///
    /// # Errors
    /// `NotFound` when not an active member or no such organization.
    pub async fn active_member(&self, org: &OrgId, user: &UserId) -> CoreResult<MemberView> {
        self.org(org).await?.active_member(user).await
    }

    /// The organization and pending invitation behind a secret invitation token; `None`
    /// when the link does not work (unknown, used, revoked or expired).
    ///
    /// # Errors
    /// The store or the organization's actor failed.
    pub async fn invitation(
        &self,
        token: &str,
    ) -> CoreResult<Option<(OrgHandle, OrgView, InvitationView)>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(record) = self
            .store()
            .invitation_by_token_hash(&crate::org::token_hash(token))
            .await?
        else {
            return Ok(None);
        };
        let org = self.org(&OrgId::new(record.org)).await?;
        let Some(invitation) = org.invitation(token).await? else {
            return Ok(None);
        };
        let view = org.settings().await?;
        Ok(Some((org, view, invitation)))
    }

    /// Whether `email` has an invitation that still works (a person with no
    /// organization yet may log in to accept it).
    ///
    /// # Errors
    /// The store failed.
    pub async fn has_pending_invitation(&self, email: &str) -> CoreResult<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        Ok(self.store().has_pending_invitation(email, now).await?)
    }

    /// An organization's actor, started on demand.
    ///
    /// # Errors
    /// `NotFound` for an unknown organization; `Unavailable` if it cannot start.
    pub async fn org(&self, id: &OrgId) -> CoreResult<OrgHandle> {
        OrgHandle::get(&self.kernel, id).await
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
        let user = new_user(email, display_name, password, platform_operator).await?;
        self.call(|reply| DirectoryMsg::CreateUser { user, reply })
            .await?
    }

    /// Creates a user checked and hashed by [`new_user`] before.
    ///
    /// # Errors
    /// A taken email, or the store failed.
    pub async fn create_hashed_user(&self, user: NewUser) -> CoreResult<UserView> {
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
            Ok(email) => self.store().user_by_email(&email).await?,
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
        let id = id.to_string();
        let key = id.clone();
        if let Some(info) = self
            .call(|reply| DirectoryMsg::CachedSession { id: key, reply })
            .await?
        {
            return Ok(Some(info));
        }
        let Some(s) = self.store().session_account(&id).await? else {
            return Ok(None);
        };
        let Some(user) = s.account else {
            return Ok(None);
        };
        let info = SessionInfo {
            id: s.id,
            csrf: s.csrf,
            user,
            org: s.org.map(OrgId::new),
            expires_at: s.expires_at,
        };
        let _ = self
            .kernel
            .directory()
            .send(
                &self.kernel,
                &Platform,
                DirectoryMsg::RememberSession {
                    info: Box::new(info.clone()),
                },
            )
            .await;
        Ok(Some(info))
    }

    /// One user.
    ///
    /// # Errors
    /// The store failed.
    pub async fn user(&self, id: &UserId) -> CoreResult<Option<UserRecord>> {
        Ok(self.store().user(id.as_str()).await?)
    }

    /// One user by email.
    ///
    /// # Errors
    /// The store failed.
    pub async fn user_by_email(&self, email: &str) -> CoreResult<Option<UserRecord>> {
        let email = validate::email(email)?;
        Ok(self.store().user_by_email(&email).await?)
    }

    /// The organizations a user is an active member of, with their role there.
    ///
    /// # Errors
    /// The store failed.
    pub async fn orgs_of(&self, user: &UserId) -> CoreResult<Vec<(OrgView, Role)>> {
        let mut out = Vec::new();
        for m in self.store().memberships_of_user(user.as_str()).await? {
            if !m.active {
                continue;
            }
            if let Some(o) = self.store().org(&m.org).await? {
                out.push((org_view(o), m.role));
            }
        }
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(out)
    }

    /// [`DirectoryHandle::orgs_of`] for display (the page header's switcher): up to
    /// `SESSION_CACHE_SECS` old, fresh after the user's next login or switch. Never for
    /// deciding access.
    ///
    /// # Errors
    /// The store failed.
    pub async fn orgs_of_for_display(&self, user: &UserId) -> CoreResult<Vec<(OrgView, Role)>> {
        let key = user.clone();
        if let Some(orgs) = self
            .call(|reply| DirectoryMsg::CachedOrgs { user: key, reply })
            .await?
        {
            return Ok(orgs);
        }
        let orgs = self.orgs_of(user).await?;
        let _ = self
            .kernel
            .directory()
            .send(
                &self.kernel,
                &Platform,
                DirectoryMsg::RememberOrgs {
                    user: user.clone(),
                    orgs: orgs.clone(),
                },
            )
            .await;
        Ok(orgs)
    }

    /// Every organization (platform operators).
    ///
    /// # Errors
    /// The store failed.
    pub async fn orgs(&self) -> CoreResult<Vec<OrgView>> {
        Ok(self
            .store()
            .orgs()
            .await?
            .into_iter()
            .map(org_view)
            .collect())
    }

    /// How many org actors are running now.
    pub fn running_orgs(&self) -> usize {
        use crate::kernel::RegistryStats;
        self.kernel.orgs().live()
    }
}

/// A new user's fields, checked, with the password hashed (off the actors, on the
/// blocking pool; cheap checks first so bad input never pays for a hash).
///
/// # Errors
/// Invalid email or name, or too short a password.
pub async fn new_user(
    email: &str,
    display_name: &str,
    password: &str,
    platform_operator: bool,
) -> CoreResult<NewUser> {
    let email = validate::email(email)?;
    let display_name = validate::name("Display name", display_name)?;
    let password_hash = hash_blocking(validate::new_password(password)?).await?;
    Ok(NewUser {
        email,
        display_name,
        password_hash,
        platform_operator,
    })
}

async fn hash_blocking(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| CoreError::Unavailable)
}
