//! `/api/v1/session` and `/api/v1/me`: log in and out, switch organization, who am I.

use super::ApiJson;
use crate::AppState;
use crate::auth::{self, Authed, ClientIp};
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use cflows_actors::store::SessionRecord;
use cflows_protocol::{OrgId, OrgView, Role, UserView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(switch_org))
        .routes(routes!(me))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

/// Whose password to reset.
#[derive(Deserialize, ToSchema)]
pub struct ForgotBody {
    pub email: String,
}

/// Mails a one-time link to set a new password (valid one hour) if `email` has an
/// account. The answer is the same, and as quick, whether or not it has one.
#[utoipa::path(post, path = "/password/forgot", request_body = ForgotBody, tag = "session", security(()),
    responses((status = 202), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody, description = "this server sends no mail: an admin sends a link instead")))]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ForgotBody>,
) -> ApiResult<StatusCode> {
    crate::passwords::forgot(&state, ip, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A reset link's token and the new password.
#[derive(Deserialize, ToSchema)]
pub struct ResetBody {
    /// The last part of the link (`/password/reset/{token}`).
    pub token: String,
    /// At least 10 characters (`MIN_PASSWORD`).
    pub password: String,
}

/// Sets a new password through a reset link (used up): every session of the account
/// ends, and its sockets close.
#[utoipa::path(post, path = "/password/reset", request_body = ResetBody, tag = "session", security(()),
    responses((status = 204), (status = 422, body = ErrorBody, description = "too weak, or the link expired or was used")))]
async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> ApiResult<StatusCode> {
    crate::passwords::reset(&state, &body.token, &body.password, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Email and password.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// Who logged in, and the token to send as `x-csrf-token` on writes.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    pub user: UserView,
    pub org: Option<OrgView>,
    pub csrf_token: String,
}

impl LoginAnswer {
    /// The answer for a session just started: its cookie set, its CSRF token in the body.
    pub(super) fn started(
        state: &AppState,
        jar: CookieJar,
        session: SessionRecord,
        user: UserView,
        org: Option<OrgView>,
    ) -> Response {
        let secure = state.settings.http.secure_cookies();
        let cookie = auth::session_cookie(secure, &session);
        let answer = LoginAnswer {
            user,
            org,
            csrf_token: session.csrf,
        };
        (jar.add(cookie), Json(answer)).into_response()
    }
}

/// Logs in: sets the session cookie (a new session id every time).
#[utoipa::path(post, path = "/session", request_body = LoginBody, tag = "session", security(()),
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let (session, user, org) =
        crate::app::start_session(&state, ip, &jar, &body.email, &body.password).await?;
    Ok(LoginAnswer::started(&state, jar, session, user, org))
}

/// Logs out: ends the session.
#[utoipa::path(delete, path = "/session", tag = "session", security(("session" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    authed: Authed,
    jar: CookieJar,
) -> ApiResult<Response> {
    state.core.directory.end_session(&authed.session_id).await?;
    let secure = state.settings.http.secure_cookies();
    Ok((
        jar.add(auth::clear_session_cookie(secure)),
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

/// An organization the user belongs to, with their role there.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OrgRole {
    pub org: OrgView,
    pub role: Role,
}

/// The session: user, active organization, the organizations they can switch to.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MeAnswer {
    pub user: UserView,
    pub platform_operator: bool,
    pub org: Option<OrgRole>,
    pub orgs: Vec<OrgRole>,
    pub csrf_token: String,
}

/// The current session.
#[utoipa::path(get, path = "/me", tag = "session", security(("session" = [])), responses((status = 200, body = MeAnswer), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, authed: Authed) -> ApiResult<Json<MeAnswer>> {
    let orgs: Vec<OrgRole> = state
        .core
        .directory
        .orgs_of(&authed.user_id())
        .await?
        .into_iter()
        .map(|(org, role)| OrgRole { org, role })
        .collect();
    let active = authed
        .org
        .as_ref()
        .and_then(|id| orgs.iter().find(|o| &o.org.id == id))
        .map(|o| OrgRole {
            org: o.org.clone(),
            role: o.role,
        });
    Ok(Json(MeAnswer {
        user: UserView {
            id: authed.user_id(),
            email: authed.user.email.clone(),
            display_name: authed.user.display_name.clone(),
        },
        platform_operator: authed.user.platform_operator,
        org: active,
        orgs,
        csrf_token: authed.csrf,
    }))
}

/// Which organization to make active.
#[derive(Deserialize, ToSchema)]
pub struct SwitchOrgBody {
    pub org_id: OrgId,
}

/// Switches the session's active organization (one the user is an active member of).
#[utoipa::path(put, path = "/session/org", request_body = SwitchOrgBody, tag = "session", security(("session" = [])),
    responses((status = 200, body = LoginAnswer), (status = 404, body = ErrorBody)))]
async fn switch_org(
    State(state): State<AppState>,
    ClientIp(_): ClientIp,
    authed: Authed,
    jar: CookieJar,
    ApiJson(body): ApiJson<SwitchOrgBody>,
) -> ApiResult<Response> {
    let (session, org) = crate::app::switch_session_org(&state, &authed, &body.org_id).await?;
    let _secure = state.settings.http.secure_cookies();
    let user = UserView {
        id: authed.user_id(),
        email: authed.user.email.clone(),
        display_name: authed.user.display_name.clone(),
    };
    Ok(LoginAnswer::started(&state, jar, session, user, Some(org)))
}
