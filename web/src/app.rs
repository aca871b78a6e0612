//! The application layer: the business steps the JSON API, the pages and the WebSocket
//! gateway share — log in, switch organization, invite and accept, create an
//! organization, list notifications, send a message. Each lives here once; transports
//! parse input, call a step and render its answer, and never call each other.

use crate::AppState;
use crate::auth::{self, Authed, Member};
use crate::error::AppError;
use axum_extra::extract::CookieJar;
use cflows_actors::directory::new_user;
use cflows_actors::notices::{Author, Change, Link, Notice};
use cflows_actors::store::SessionRecord;
use cflows_actors::{Accepting, CoreError, NewOrg, Owner};
use cflows_protocol::{
    ClockFormat, InvitationView, NotificationView, OrgId, OrgView, Role, UserId, UserView,
};
use std::net::IpAddr;

/// A page of `user`'s notifications (newest first, older than `before`), with the
/// unread count.
///
/// # Errors
/// The inbox or the store failed.
pub async fn notification_page(
    state: &AppState,
    user: &UserId,
    before: Option<String>,
    limit: u32,
) -> Result<(Vec<NotificationView>, u32), AppError> {
    let inbox = state.core.directory.inbox(user).await?;
    let items = inbox.list(before, limit).await?;
    let (_, unread) = inbox.head().await?;
    Ok((items, unread))
}

/// Checks the rate limits and credentials, ends any session the browser still had, and
/// starts a new one in the user's first organization.
///
/// # Errors
/// `RateLimited`, `BadCredentials`, or a store failure.
pub async fn start_session(
    state: &AppState,
    ip: IpAddr,
    jar: &CookieJar,
    email: &str,
    password: &str,
) -> Result<(SessionRecord, UserView, Option<OrgView>), AppError> {
    state
        .login_limits
        .check(state.core.directory.store(), ip, email)
        .await?;
    let dir = &state.core.directory;
    let user = dir
        .authenticate(email, password)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let user_id = UserId::new(user.id.clone());
    let orgs = dir.orgs_of(&user_id).await?;
    if orgs.is_empty()
        && !user.platform_operator
        && !dir.has_pending_invitation(&user.email).await?
    {
        // A user removed from every organization has nowhere to go (unless invited).
        return Err(AppError::BadCredentials);
    }
    if let Some(old) = jar.get(auth::session_cookie_name(
        state.settings.http.secure_cookies(),
    )) {
        let _ = dir.end_session(old.value()).await;
    }
    let org = orgs.into_iter().next().map(|(o, _)| o);
    let session = dir
        .create_session(user_id.clone(), org.as_ref().map(|o| o.id.clone()))
        .await?;
    tracing::info!(user = %user_id, "login");
    Ok((
        session,
        UserView {
            id: user_id,
            email: user.email,
            display_name: user.display_name,
        },
        org,
    ))
}

/// Changes the password of the session's user, after checking the current one (rate
/// limited like a login). Every session of the user ends — their open sockets close with
/// 4001 — and the browser that asked gets a new session (the old cookie stops working).
///
/// # Errors
/// `RateLimited`; `InvalidInput` when the current password is wrong, the two new ones
/// differ or the new one is too short; a store failure.
pub async fn change_password(
    state: &AppState,
    ip: IpAddr,
    authed: &Authed,
    current: &str,
    new: &str,
    new_again: &str,
) -> Result<SessionRecord, AppError> {
    // Mistakes in the new password cost no attempt; only guessing the current one does.
    if new != new_again {
        return Err(AppError::InvalidInput(
            "the two new passwords differ: type the new one twice the same".into(),
        ));
    }
    cflows_actors::domain::validate::new_password(new)?;
    state
        .login_limits
        .check(state.core.directory.store(), ip, &authed.user.email)
        .await?;
    let dir = &state.core.directory;
    if dir
        .authenticate(&authed.user.email, current)
        .await?
        .is_none_or(|u| u.id != authed.user.id)
    {
        return Err(AppError::InvalidInput(
            "that is not your current password: type it again".into(),
        ));
    }
    dir.set_password(authed.user_id(), new).await?;
    let session = dir
        .create_session(authed.user_id(), authed.org.clone())
        .await?;
    tracing::info!(user = %authed.user.id, "password changed");
    Ok(session)
}

/// Moves the session to another organization the user is an active member of. The
/// session id and CSRF token rotate, like at login.
///
/// # Errors
/// `NotFound` when the user is not an active member there.
pub async fn switch_session_org(
    state: &AppState,
    authed: &Authed,
    org: &OrgId,
) -> Result<(SessionRecord, OrgView), AppError> {
    let dir = &state.core.directory;
    let target = dir
        .orgs_of(&authed.user_id())
        .await?
        .into_iter()
        .find(|(o, _)| &o.id == org)
        .map(|(o, _)| o)
        .ok_or(AppError::NotFound)?;
    let session = rotate_session(
        state,
        authed.user_id(),
        &target.id,
        Some(&authed.session_id),
    )
    .await?;
    Ok((session, target))
}

/// A new session for `user` in `org`, ending `replacing` (sessions rotate whenever what
/// they grant changes).
async fn rotate_session(
    state: &AppState,
    user: UserId,
    org: &OrgId,
    replacing: Option<&str>,
) -> Result<SessionRecord, AppError> {
    let dir = &state.core.directory;
    let session = dir.create_session(user, Some(org.clone())).await?;
    if let Some(old) = replacing {
        dir.end_session(old).await?;
    }
    Ok(session)
}

/// How long an invitation link works, in days (for people; the actor enforces it).
pub const INVITATION_DAYS: i64 = cflows_actors::org::INVITATION_TTL_MS / 86_400_000;

/// Invites `email` to the member's organization with `role`. The answer is the same
/// whether or not the address has an account anywhere: the pending invitation and a
/// one-time link for the admin to pass on. When this server sends mail, the link is also
/// mailed to the address (queued with the invitation, in one transaction). An existing account also finds the invitation
/// in its notifications.
///
/// # Errors
/// Not allowed, already a member, invalid email, or the store failed.
pub async fn invite(
    state: &AppState,
    m: &Member,
    email: &str,
    role: Role,
) -> Result<(InvitationView, String), AppError> {
    let base = state.settings.http.public_url();
    let (invitation, token) = if state.mailer.enabled() {
        let org = m.org.settings().await?;
        let (to, base, inviter, role_words) = (
            email.trim().to_string(),
            base.clone(),
            m.member.user.display_name.clone(),
            role.as_str().to_string(),
        );
        let org_id = m.org_id.to_string();
        let mail = Box::new(move |token: &str| {
            let link = Link::invitation(token).absolute(&base);
            let letter = crate::mail::Letter {
                sender: &org.name,
                subject: format!("{inviter} invites you to {} on cflows", org.name),
                paragraphs: vec![
                    "Hello,".into(),
                    format!(
                        "{inviter} invites you to join {} on cflows as {role_words}: its workflows, calendars and teams.",
                        org.name
                    ),
                    format!(
                        "The link works once, for {INVITATION_DAYS} days. If you already have an account, log in with it; otherwise you choose your name and password."
                    ),
                ],
                action: Some(("Accept the invitation".into(), link)),
                footer: format!(
                    "You get this mail because an administrator of {} invited this address.",
                    org.name
                ),
            };
            crate::mail::compose("invitation", Some(&org_id), &to, &letter, true)
        });
        m.org
            .invite_with_mail(m.caller(), email.to_string(), role, mail)
            .await?
    } else {
        m.org.invite(m.caller(), email.to_string(), role).await?
    };
    if state.mailer.enabled() {
        state.mailer.wake();
    }
    let link = Link::invitation(&token).absolute(&base);
    Ok((invitation, link))
}

/// Accepts the invitation behind `token` as the logged-in account (its address must be
/// the invited one) and starts a session in its organization (the previous session
/// ends: sessions rotate like at login).
///
/// # Errors
/// The link does not work any more, the account's address is not the invited one,
/// already a member, or the store failed.
pub async fn accept_invitation(
    state: &AppState,
    token: &str,
    authed: &Authed,
) -> Result<(SessionRecord, UserView, OrgView), AppError> {
    let dir = &state.core.directory;
    let (org, org_view, _) = dir.invitation(token).await?.ok_or_else(dead_invitation)?;
    let account = Accepting::Existing(UserView {
        id: authed.user_id(),
        email: authed.user.email.clone(),
        display_name: authed.user.display_name.clone(),
    });
    let member = org.accept_invitation(token, account).await?;
    let session = rotate_session(
        state,
        member.user.id.clone(),
        &org_view.id,
        Some(authed.session_id.as_str()),
    )
    .await?;
    tracing::info!(user = %member.user.id, org = %org_view.id, "invitation accepted");
    Ok((session, member.user, org_view))
}

/// The answer to opening an invitation without a session and choosing a name and
/// password: the same whether or not the invited address has an account (an
/// invitation link must not tell its holder — the inviter too — who uses cflows). A
/// new address gets its account; an existing one is left as it is. Either way the next
/// step is to log in as the invited address and join.
///
/// # Errors
/// The link does not work any more, an invalid name or password (checked for both), or
/// the store failed.
pub async fn prepare_invited_account(
    state: &AppState,
    token: &str,
    display_name: &str,
    password: &str,
) -> Result<InvitedNext, AppError> {
    let dir = &state.core.directory;
    let (_, org, invitation) = dir.invitation(token).await?.ok_or_else(dead_invitation)?;
    // Checked and hashed in both cases, so both cost the same.
    let user = new_user(&invitation.email, display_name, password, false).await?;
    if dir.user_by_email(&invitation.email).await?.is_none() {
        match dir.create_hashed_user(user).await {
            Ok(_) | Err(CoreError::Store(cflows_actors::StoreError::Duplicate(_))) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(InvitedNext {
        message: format!(
            "Next, log in as {email} to join {org}: with the password you just chose, or with \
             your password if you already use cflows.",
            email = invitation.email,
            org = org.name,
        ),
        email: invitation.email,
    })
}

/// What a person who accepted an invitation without a session does next.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvitedNext {
    /// The invited address, to log in with.
    pub email: String,
    /// The next step, for people.
    pub message: String,
}

fn dead_invitation() -> AppError {
    AppError::InvalidInput("this invitation link does not work any more: ask for a new one".into())
}

/// A new organization and its first owner (found by email, or created with it).
pub struct NewOrgWithOwner {
    pub name: String,
    pub slug: String,
    pub timezone: String,
    pub clock: ClockFormat,
    pub owner_email: String,
    pub owner_name: String,
    /// Needed when the owner's email is new.
    pub owner_password: String,
}

/// Creates an organization whose first owner is found or created by email, in one
/// transaction: a refused organization leaves no user behind.
///
/// # Errors
/// Invalid input, a taken slug, or the store failed.
pub async fn create_org_with_owner(
    state: &AppState,
    new: NewOrgWithOwner,
) -> Result<OrgView, AppError> {
    let dir = &state.core.directory;
    let owner = match dir.user_by_email(&new.owner_email).await? {
        Some(u) => Owner::Existing(UserId::new(u.id)),
        None => {
            if new.owner_password.is_empty() {
                return Err(AppError::InvalidInput(
                    "a new owner needs an initial password".into(),
                ));
            }
            Owner::New(
                new_user(
                    &new.owner_email,
                    &new.owner_name,
                    &new.owner_password,
                    false,
                )
                .await?,
            )
        }
    };
    Ok(dir
        .create_org(NewOrg {
            name: new.name,
            slug: new.slug,
            timezone: new.timezone,
            clock: new.clock,
            owner: Some(owner),
        })
        .await?)
}

/// Longest direct message, in characters.
pub const MAX_MESSAGE: usize = 2000;

/// Sends a direct message from `from` to `to`, both active members of `org`: a
/// `direct_message` notification in the recipient's inbox. Rate-limited per sender;
/// bursts from one sender coalesce into one unread notification.
///
/// # Errors
/// Empty or long body, unknown or foreign recipient (`NotFound`), or over the rate.
pub async fn send_direct_message(
    state: &AppState,
    org: &OrgId,
    from: &UserId,
    from_name: &str,
    to: &UserId,
    body: &str,
) -> Result<(), AppError> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_MESSAGE {
        return Err(AppError::InvalidInput(format!(
            "a message must have 1 to {MAX_MESSAGE} characters"
        )));
    }
    if from == to {
        return Err(AppError::InvalidInput("you cannot message yourself".into()));
    }
    let dir = &state.core.directory;
    if dir.active_member(org, from).await.is_err() {
        return Err(AppError::Forbidden("choose an organization first".into()));
    }
    dir.active_member(org, to).await?;
    state
        .message_limits
        .check_key(from)
        .map_err(|_| AppError::RateLimited)?;
    let notice = Notice::new(
        org,
        Some(Author::new(from, from_name)),
        Change::Message {
            text: body.to_string(),
        },
    );
    dir.inbox(to).await?.notify(notice.notification()).await?;
    Ok(())
}
