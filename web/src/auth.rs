//! Sessions, CSRF and login rate limits, as axum extractors: handlers receive who is
//! asking and never parse cookies themselves.
//!
//! - [`Authed`]: any logged-in user.
//! - [`Member`]: an active member of the session's active organization.
//! - [`Admin`]: a member whose role is admin or owner.
//! - [`Operator`]: a platform operator.
//!
//! JSON API requests that change state must send the session's CSRF token in the
//! `x-csrf-token` header, checked here; page forms send it as the hidden field `csrf`,
//! checked by the form extractors of [`crate::forms`].

use crate::AppState;
use crate::error::AppError;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use cflows_actors::OrgHandle;
use cflows_actors::store::UserRecord;
use cflows_protocol::{MemberView, OrgId, Role};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// The header that carries the CSRF token on JSON API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The double-submit cookie protecting the login form (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "cflows_login_csrf";

/// Cookie name: `__Host-` prefixed when cookies are `Secure` (browsers require both).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-cflows_session"
    } else {
        "cflows_session"
    }
}

/// The cookie of `session`: HttpOnly, SameSite=Lax, path `/`, `Secure` when configured,
/// expiring with the session.
pub fn session_cookie(
    secure: bool,
    session: &cflows_actors::store::SessionRecord,
) -> Cookie<'static> {
    let mut c = base_cookie(secure, session.id.clone());
    if let Ok(at) =
        cookie::time::OffsetDateTime::from_unix_timestamp(session.expires_at.timestamp())
    {
        c.set_expires(at);
    }
    c
}

fn base_cookie(secure: bool, value: String) -> Cookie<'static> {
    Cookie::build((session_cookie_name(secure), value))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .build()
}

/// A cookie that deletes the session cookie.
pub fn clear_session_cookie(secure: bool) -> Cookie<'static> {
    let mut c = base_cookie(secure, String::new());
    c.make_removal();
    c
}

/// Answers a failed extraction as JSON for the API and as a redirect or page otherwise.
pub struct AuthRejection {
    api: bool,
    error: AppError,
}

impl AuthRejection {
    /// `error`, answered as JSON when `api`, as a page otherwise.
    pub(crate) fn new(api: bool, error: AppError) -> Self {
        Self { api, error }
    }

    /// Whether the request had no live session.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self.error, AppError::Unauthenticated)
    }

    /// The error behind the rejection.
    pub fn into_error(self) -> AppError {
        self.error
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match (self.api, &self.error) {
            (true, _) => self.error.into_response(),
            (false, AppError::Unauthenticated) => Redirect::to("/login").into_response(),
            (false, _) => crate::error::PageError(self.error).into_response(),
        }
    }
}

/// Whether the request is for the JSON API. Uses the original URI: inside the nested
/// `/api/v1` router the path has lost its prefix.
pub(crate) fn is_api(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0)
        .path()
        .starts_with("/api/")
}

fn reject(parts: &Parts, error: AppError) -> AuthRejection {
    AuthRejection {
        api: is_api(parts),
        error,
    }
}

/// A logged-in user and their session.
#[derive(Clone, Debug)]
pub struct Authed {
    pub session_id: String,
    pub csrf: String,
    pub user: UserRecord,
    /// The session's active organization, if any.
    pub org: Option<OrgId>,
    /// When the session ends by itself.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Authed {
    /// The user's id, typed.
    pub fn user_id(&self) -> cflows_protocol::UserId {
        cflows_protocol::UserId::new(self.user.id.clone())
    }
}

/// Compares tokens in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<Authed>() {
            return Ok(cached.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let name = session_cookie_name(state.settings.http.secure_cookies());
        let Some(cookie) = jar.get(name) else {
            return Err(reject(parts, AppError::Unauthenticated));
        };
        let info = state
            .core
            .directory
            .session(cookie.value())
            .await
            .map_err(|e| reject(parts, e.into()))?
            .ok_or_else(|| reject(parts, AppError::Unauthenticated))?;
        let authed = Authed {
            session_id: info.id,
            csrf: info.csrf,
            user: info.user,
            org: info.org,
            expires_at: info.expires_at,
        };
        let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if writes && is_api(parts) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), authed.csrf.as_bytes()) {
                return Err(reject(parts, AppError::Csrf));
            }
        }
        parts.extensions.insert(authed.clone());
        Ok(authed)
    }
}

/// An active member of the session's organization.
#[derive(Clone)]
pub struct Member {
    pub authed: Authed,
    pub org_id: OrgId,
    pub org: OrgHandle,
    pub member: MemberView,
}

impl Member {
    /// Who acts, for the actors.
    pub fn caller(&self) -> cflows_actors::Caller {
        cflows_actors::Caller::User(self.member.user.id.clone())
    }

    /// The member's role.
    pub fn role(&self) -> Role {
        self.member.role
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authed = Authed::from_request_parts(parts, state).await?;
        let no_org = || {
            reject(
                parts,
                AppError::Forbidden("choose an organization first".into()),
            )
        };
        let org_id = authed.org.clone().ok_or_else(no_org)?;
        // A deleted org or a removed/deactivated membership ends access at once.
        let org = state
            .core
            .directory
            .org(&org_id)
            .await
            .map_err(|_| no_org())?;
        let member = match org.active_member(&authed.user_id()).await {
            Ok(m) => m,
            Err(cflows_actors::CoreError::NotFound) => return Err(no_org()),
            Err(e) => return Err(reject(parts, e.into())),
        };
        Ok(Member {
            authed,
            org_id,
            org,
            member,
        })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Member {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Member as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// An admin or owner of the session's organization.
#[derive(Clone)]
pub struct Admin(pub Member);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let m = Member::from_request_parts(parts, state).await?;
        if m.role().is_admin() {
            Ok(Admin(m))
        } else {
            Err(reject(
                parts,
                AppError::Forbidden("only organization admins can do this".into()),
            ))
        }
    }
}

/// A platform operator (creates organizations, sees health).
#[derive(Clone)]
pub struct Operator(pub Authed);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Not a 403 and not a login redirect: the platform area does not exist for
        // anyone but operators, logged in or not.
        let Ok(a) = Authed::from_request_parts(parts, state).await else {
            return Err(reject(parts, AppError::NotFound));
        };
        if a.user.platform_operator {
            Ok(Operator(a))
        } else {
            // Not a 403: the platform area does not exist for anyone else.
            Err(reject(parts, AppError::NotFound))
        }
    }
}

/// The client's IP address, from the socket or (when configured) `X-Forwarded-For`.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        if state.settings.http.trust_forwarded
            && let Some(ip) = forwarded_ip(&parts.headers, state.settings.http.trusted_proxies)
        {
            return Ok(ClientIp(ip));
        }
        Ok(ClientIp(socket))
    }
}

/// The address the outermost trusted proxy saw: `hops` entries from the right of
/// `X-Forwarded-For` (over all such headers, in order). What a client wrote to the left
/// of that is ignored; too few entries means the header did not come through the
/// proxies, and the socket address is used instead.
fn forwarded_ip(headers: &HeaderMap, hops: u32) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let hops = hops.max(1) as usize;
    let at = entries.len().checked_sub(hops)?;
    entries[at].parse().ok()
}

/// Login attempt limits, per client IP and per account (email), counted in the store so
/// that every node counts the same attempts (three nodes are not three times the
/// guesses). A login costs a password hash anyway; one counter write beside it is
/// nothing.
pub struct LoginLimits {
    per_ip: u32,
    per_account: u32,
}

/// Attempts count in fixed windows of one minute.
const LOGIN_WINDOW_MS: i64 = 60_000;

impl LoginLimits {
    /// 20 attempts a minute per IP (an office shares one), 5 a minute per account.
    pub fn new() -> Self {
        Self::with(
            NonZeroU32::new(20).expect("non-zero"),
            NonZeroU32::new(5).expect("non-zero"),
        )
    }

    /// Custom limits, per minute.
    pub fn with(per_ip: NonZeroU32, per_account: NonZeroU32) -> Self {
        Self {
            per_ip: per_ip.get(),
            per_account: per_account.get(),
        }
    }

    /// Spends one attempt for this IP and account, on every node's count.
    ///
    /// # Errors
    /// `RateLimited` when either is exhausted; a store failure.
    pub async fn check(
        &self,
        store: &cflows_actors::Store,
        ip: IpAddr,
        email: &str,
    ) -> Result<(), AppError> {
        let account = email.trim().to_lowercase();
        let now = chrono::Utc::now().timestamp_millis();
        let by_ip = store
            .count_attempt(&format!("login-ip:{ip}"), LOGIN_WINDOW_MS, now)
            .await?;
        let by_account = store
            .count_attempt(&format!("login-account:{account}"), LOGIN_WINDOW_MS, now)
            .await?;
        if by_ip <= i64::from(self.per_ip) && by_account <= i64::from(self.per_account) {
            Ok(())
        } else {
            Err(AppError::RateLimited)
        }
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_client_cannot_choose_its_forwarded_address() {
        // The client sent a made-up entry; the proxy appended what it saw.
        let h = xff(&["203.0.113.9, 198.51.100.7"]);
        assert_eq!(forwarded_ip(&h, 1), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(forwarded_ip(&h, 2), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_ip(&h, 3), None, "fewer entries than proxies");
        // Several header lines count as one list.
        let h = xff(&["1.1.1.1", "198.51.100.7"]);
        assert_eq!(forwarded_ip(&h, 1), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(forwarded_ip(&xff(&["not an ip"]), 1), None);
    }
}
