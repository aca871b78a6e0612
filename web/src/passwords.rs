//! Getting back into an account: "forgot password" (a one-time link by mail, valid one
//! hour, stored as a digest), setting a new password through such a link (every session
//! ends, on every node), and an admin sending a member a link (mailed, or shown to pass
//! on when this server sends no mail). Pages and the JSON API call these.

use crate::AppState;
use crate::auth::Member;
use crate::error::AppError;
use crate::mail::{Letter, compose};
use cflows_actors::directory::random_token;
use cflows_actors::kernel::session_digest;
use cflows_actors::store::writes;
use cflows_protocol::UserId;
use std::net::IpAddr;

/// How long a reset link works.
pub const RESET_TTL_MS: i64 = 3_600_000;
/// Links asked for one address per hour (more are not sent; the answer is the same).
const PER_ADDRESS_PER_HOUR: i64 = 3;
/// Requests from one IP per hour.
const PER_IP_PER_HOUR: i64 = 20;

/// What setting a password through a link that no longer works answers.
pub const DEAD_LINK: &str = "this link has expired or was already used: ask for a new one";

/// A reset link, and whether it went out by mail.
#[derive(Clone, Debug)]
pub struct ResetLink {
    pub link: String,
    pub mailed: bool,
}

/// Someone asks for a link for `email`. The answer — and the work before it — is the
/// same whether or not the address has an account: the counting happens for every
/// address, and looking the address up, making the link and queueing the mail happen
/// after the answer.
///
/// # Errors
/// `Unavailable` when this server sends no mail (the page says to ask an admin);
/// `RateLimited` when this IP asked too often; a store failure.
pub async fn forgot(state: &AppState, ip: IpAddr, email: &str) -> Result<(), AppError> {
    if !state.mailer.enabled() {
        return Err(AppError::Unavailable);
    }
    let email = email.trim().to_lowercase();
    let store = state.core.directory.store();
    let now = chrono::Utc::now().timestamp_millis();
    let by_ip = store
        .count_attempt(&format!("reset-ip:{ip}"), 3_600_000, now)
        .await?;
    let by_address = store
        .count_attempt(&format!("reset-address:{email}"), 3_600_000, now)
        .await?;
    if by_ip > PER_IP_PER_HOUR {
        return Err(AppError::RateLimited);
    }
    if by_address > PER_ADDRESS_PER_HOUR {
        return Ok(());
    }
    let state = state.clone();
    tokio::spawn(async move {
        let user = match state.core.directory.user_by_email(&email).await {
            Ok(Some(u)) => u,
            Ok(None) | Err(_) => return,
        };
        let name = user.display_name.clone();
        if let Err(e) = issue(&state, &UserId::new(user.id), &user.email, &name, None, "").await {
            tracing::warn!(error = %e, "could not queue a password reset link");
        }
    });
    Ok(())
}

/// Makes a one-time link for the account (`to`, `name`) and, when mail is on, queues
/// its mail in the same transaction. `org` and `sender` name the organization an admin
/// sent it from (none: the person asked themselves).
async fn issue(
    state: &AppState,
    user: &UserId,
    to: &str,
    name: &str,
    org: Option<&str>,
    sender: &str,
) -> Result<ResetLink, AppError> {
    let token = random_token();
    let link = format!(
        "{}/password/reset/{token}",
        state.settings.http.public_url()
    );
    let now = chrono::Utc::now().timestamp_millis();
    let mut write =
        writes::create_password_reset(user.as_str(), &session_digest(&token), now + RESET_TTL_MS);
    let mailed = state.mailer.enabled();
    if mailed {
        let asked = if sender.is_empty() {
            "Someone — hopefully you — asked to set a new password for your cflows account."
                .to_string()
        } else {
            format!(
                "An administrator of {sender} sent you a link to set a new password for your cflows account."
            )
        };
        let letter = Letter {
            sender: if sender.is_empty() { "cflows" } else { sender },
            subject: "Set a new password for cflows".into(),
            paragraphs: vec![
                format!("Hello {name},"),
                asked,
                "The link works once, for one hour. Setting a new password logs you out everywhere else.".into(),
            ],
            action: Some(("Set a new password".into(), link.clone())),
            footer: "If you did not ask for this, ignore this mail: your password stays as it is."
                .into(),
        };
        write = write.and(writes::enqueue_mail(
            &compose("password_reset", org, to, &letter, true),
            now,
        ));
    }
    state.core.directory.store().commit_plain(write).await?;
    if mailed {
        state.mailer.wake();
    }
    Ok(ResetLink { link, mailed })
}

/// An admin sends member `user` of their organization a reset link.
///
/// # Errors
/// Not an admin, no such member (`NotFound`), or a store failure.
pub async fn send_to_member(
    state: &AppState,
    m: &Member,
    user: &UserId,
) -> Result<ResetLink, AppError> {
    if !m.member.role.is_admin() {
        return Err(AppError::Forbidden(
            "only admins can send password reset links".into(),
        ));
    }
    let member = m
        .org
        .member(user.clone())
        .await?
        .ok_or(AppError::NotFound)?;
    let org = m.org.settings().await?;
    issue(
        state,
        user,
        &member.user.email,
        &member.user.display_name,
        Some(m.org_id.as_str()),
        &org.name,
    )
    .await
}

/// Whether `token` is a working link (for the page: a form, or "ask for a new one").
///
/// # Errors
/// A store failure.
pub async fn link_works(state: &AppState, token: &str) -> Result<bool, AppError> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(state
        .core
        .directory
        .store()
        .password_reset(&session_digest(token), now)
        .await?
        .is_some())
}

/// Sets a new password through link `token` (used up); every session of the account
/// ends, and their sockets close, on every node.
///
/// # Errors
/// The two passwords differ or the password is too weak (`InvalidInput`, nothing used
/// up); the link expired or was used (`InvalidInput` saying to ask for a new one).
pub async fn reset(state: &AppState, token: &str, new: &str, again: &str) -> Result<(), AppError> {
    if new != again {
        return Err(AppError::InvalidInput(
            "the two passwords differ: type the new one twice the same".into(),
        ));
    }
    cflows_actors::domain::validate::new_password(new)?;
    let store = state.core.directory.store();
    let now = chrono::Utc::now().timestamp_millis();
    let dead = || AppError::InvalidInput(DEAD_LINK.into());
    let link = store
        .password_reset(&session_digest(token), now)
        .await?
        .ok_or_else(dead)?;
    if !store.use_password_reset(&link.id).await? {
        return Err(dead());
    }
    state
        .core
        .directory
        .set_password(UserId::new(link.user), new)
        .await?;
    Ok(())
}
