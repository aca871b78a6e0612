//! `/api/v1/members`: members of the active organization, and invitations of new ones.

use super::ApiJson;
use crate::AppState;
use crate::auth::{Admin, Authed, Member};
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use cflows_actors::MemberChange;
use cflows_protocol::{InvitationView, MemberView, ProfileView, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, add_member))
        .routes(routes!(get_member, update_member, remove_member))
        .routes(routes!(update_profile))
        .routes(routes!(list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(send_reset_link))
}

/// A password reset link sent to a member.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResetLinkSent {
    /// Whether it was mailed to the member.
    pub mailed: bool,
    /// The link, to pass on when it was not mailed (this server sends no mail); absent
    /// when mailed. Works once, for one hour.
    pub link: Option<String>,
}

/// Sends a member a one-time link to set a new password (admins): by mail, or in the
/// answer to pass on when this server sends no mail.
#[utoipa::path(post, path = "/members/{user_id}/password-reset", tag = "members", params(("user_id" = String, Path)),
    responses((status = 201, body = ResetLinkSent), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send_reset_link(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user): Path<String>,
) -> ApiResult<(StatusCode, Json<ResetLinkSent>)> {
    let sent = crate::passwords::send_to_member(&state, &m, &UserId::new(user)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetLinkSent {
            mailed: sent.mailed,
            link: (!sent.mailed).then_some(sent.link),
        }),
    ))
}

/// Members of the active organization.
#[utoipa::path(get, path = "/members", tag = "members", responses((status = 200, body = Vec<MemberView>)))]
async fn list_members(m: Member) -> ApiResult<Json<Vec<MemberView>>> {
    Ok(Json(m.org.snapshot().await?.members))
}

/// Whom to invite.
#[derive(Deserialize, ToSchema)]
pub struct NewMemberBody {
    pub email: String,
    pub role: Role,
}

/// A new invitation and its one-time link (shown only in this answer).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct InvitationCreated {
    pub invitation: InvitationView,
    /// Pass it on to the person: it leads an existing account to log in and accept, and a
    /// new person to choose a name and password. Works once, for 7 days.
    pub link: String,
}

/// Invites a person by email (admins; owners only for the owner role). The answer is the
/// same whether or not the address has an account: nobody is added without accepting.
/// A pending invitation to the same address is replaced.
#[utoipa::path(post, path = "/members", request_body = NewMemberBody, tag = "members",
    responses((status = 201, body = InvitationCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    Admin(m): Admin,
    ApiJson(body): ApiJson<NewMemberBody>,
) -> ApiResult<(StatusCode, Json<InvitationCreated>)> {
    let (invitation, link) = crate::app::invite(&state, &m, &body.email, body.role).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreated { invitation, link }),
    ))
}

/// Pending invitations of the active organization, newest first (admins).
#[utoipa::path(get, path = "/invitations", tag = "members",
    responses((status = 200, body = Vec<InvitationView>), (status = 403, body = ErrorBody)))]
async fn list_invitations(Admin(m): Admin) -> ApiResult<Json<Vec<InvitationView>>> {
    Ok(Json(m.org.invitations(m.caller()).await?))
}

/// Revokes a pending invitation: its link stops working at once (admins).
#[utoipa::path(delete, path = "/invitations/{id}", tag = "members", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_invitation(Admin(m): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    m.org.revoke_invitation(m.caller(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepting an invitation: the token from its link; a name and password when there is
/// no session (a new account for the invited address).
#[derive(Deserialize, ToSchema)]
pub struct AcceptBody {
    pub token: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub password: String,
}

/// Accepts an invitation. With a session: joins as the logged-in account (its address
/// must be the invited one) and starts a session in the organization (sets the cookie).
/// Without one: checks the name and password and answers 202 with the next step — the
/// same answer whether or not the address has an account (a new address gets one with
/// this password): log in as the invited address, then accept again.
#[utoipa::path(post, path = "/invitations/accept", request_body = AcceptBody, tag = "members", security((), ("session" = [])),
    responses((status = 200, body = super::LoginAnswer), (status = 202, body = crate::app::InvitedNext), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_invitation(
    State(state): State<AppState>,
    authed: Result<Authed, crate::auth::AuthRejection>,
    jar: CookieJar,
    ApiJson(body): ApiJson<AcceptBody>,
) -> ApiResult<Response> {
    let Ok(authed) = authed else {
        let next = crate::app::prepare_invited_account(
            &state,
            &body.token,
            &body.display_name,
            &body.password,
        )
        .await?;
        return Ok((StatusCode::ACCEPTED, Json(next)).into_response());
    };
    let (session, user, org) = crate::app::accept_invitation(&state, &body.token, &authed).await?;
    Ok(super::LoginAnswer::started(
        &state,
        jar,
        session,
        user,
        Some(org),
    ))
}

async fn find_member(m: &Member, user_id: &str) -> ApiResult<MemberView> {
    m.org
        .member(UserId::new(user_id))
        .await?
        .ok_or(AppError::NotFound)
}

/// One member.
#[utoipa::path(get, path = "/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody)))]
async fn get_member(m: Member, Path(user_id): Path<String>) -> ApiResult<Json<MemberView>> {
    Ok(Json(find_member(&m, &user_id).await?))
}

/// Role and active flag to change; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
pub struct MemberPatch {
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Changes a member's role or deactivates/reactivates them (admins).
#[utoipa::path(patch, path = "/members/{user_id}", tag = "members", params(("user_id" = String, Path)), request_body = MemberPatch,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_member(
    Admin(m): Admin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<MemberPatch>,
) -> ApiResult<Json<MemberView>> {
    let change = MemberChange {
        role: body.role,
        active: body.active,
    };
    Ok(Json(
        m.org
            .update_member(m.caller(), UserId::new(user_id), change)
            .await?,
    ))
}

/// Replaces a member's profile (the member themself, or an admin).
#[utoipa::path(put, path = "/members/{user_id}/profile", tag = "members", params(("user_id" = String, Path)), request_body = ProfileView,
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_profile(
    m: Member,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<ProfileView>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(
        m.org
            .update_profile(m.caller(), UserId::new(user_id), body)
            .await?,
    ))
}

/// Removes a member from the organization and its teams (admins).
#[utoipa::path(delete, path = "/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(Admin(m): Admin, Path(user_id): Path<String>) -> ApiResult<StatusCode> {
    m.org
        .remove_member(m.caller(), UserId::new(user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
