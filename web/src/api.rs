//! The JSON API under `/api/v1`, session-authenticated. Writes need the `x-csrf-token`
//! header (the token comes with the login answer and from `GET /api/v1/me`). Errors are
//! `{ "error": { "code", "message" } }`. The OpenAPI document at `/api/v1/openapi.json`
//! is generated from the annotations on these handlers.

use crate::AppState;
use crate::auth::{self, Admin, Authed, ClientIp, Member, Operator};
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use cflows_actors::{MemberChange, SettingsChange, TeamInput};
use cflows_protocol::{
    ClockFormat, MemberView, OrgId, OrgView, ProfileView, Role, TeamId, TeamView, UserId, UserView,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Query parameters with errors in the API's shape (400 with the JSON error body).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// JSON input with errors in the API's shape (bad syntax 400, wrong shape 422, too big 413).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/session", axum::routing::post(login).delete(logout))
        .route("/session/org", put(switch_org))
        .route("/me", get(me))
        .route("/org", get(get_org).patch(update_org))
        .route("/members", get(list_members).post(add_member))
        .route(
            "/members/{user_id}",
            get(get_member).patch(update_member).delete(remove_member),
        )
        .route("/members/{user_id}/profile", put(update_profile))
        .route("/teams", get(list_teams).post(create_team))
        .route(
            "/teams/{team_id}",
            get(get_team).put(update_team).delete(delete_team),
        )
        .route(
            "/platform/orgs",
            get(platform_orgs).post(platform_create_org),
        )
        .route("/notifications", get(list_notifications))
        .route(
            "/notifications/read-all",
            axum::routing::post(read_all_notifications),
        )
        .route(
            "/notifications/{id}/read",
            axum::routing::post(read_notification),
        )
        .route("/messages", axum::routing::post(send_message))
        .fallback(|| async { AppError::NotFound })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cflows API",
        description = "Session-authenticated JSON API of cflows. Writes need the x-csrf-token header."
    ),
    paths(
        login,
        logout,
        switch_org,
        me,
        get_org,
        update_org,
        list_members,
        add_member,
        get_member,
        update_member,
        remove_member,
        update_profile,
        list_teams,
        create_team,
        get_team,
        update_team,
        delete_team,
        platform_orgs,
        platform_create_org,
        list_notifications,
        read_notification,
        read_all_notifications,
        send_message
    ),
    components(schemas(
        ErrorBody,
        LoginBody,
        LoginAnswer,
        MeAnswer,
        OrgRole,
        SwitchOrgBody,
        OrgPatch,
        NewMemberBody,
        MemberPatch,
        TeamBody,
        NewOrgBody,
        OrgView,
        MemberView,
        TeamView,
        UserView,
        ProfileView,
        Role,
        ClockFormat,
        NotificationPage,
        UnreadCount,
        MessageBody,
        cflows_protocol::NotificationView,
        cflows_protocol::NotificationKind,
        cflows_protocol::EntityRef
    ))
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
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

/// Logs in: sets the session cookie (a new session id every time).
#[utoipa::path(post, path = "/api/v1/session", request_body = LoginBody, tag = "session",
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let (session, user, org) =
        crate::app::start_session(&state, ip, &jar, &body.email, &body.password).await?;
    let secure = state.settings.http.secure_cookies();
    let answer = LoginAnswer {
        user,
        org,
        csrf_token: session.csrf,
    };
    Ok((
        jar.add(auth::session_cookie(secure, session.id)),
        Json(answer),
    )
        .into_response())
}

/// Logs out: ends the session.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204), (status = 401, body = ErrorBody)))]
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
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = MeAnswer), (status = 401, body = ErrorBody)))]
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
#[utoipa::path(put, path = "/api/v1/session/org", request_body = SwitchOrgBody, tag = "session",
    responses((status = 200, body = LoginAnswer), (status = 404, body = ErrorBody)))]
async fn switch_org(
    State(state): State<AppState>,
    ClientIp(_): ClientIp,
    authed: Authed,
    jar: CookieJar,
    ApiJson(body): ApiJson<SwitchOrgBody>,
) -> ApiResult<Response> {
    let (session, org) = crate::app::switch_session_org(&state, &authed, &body.org_id).await?;
    let secure = state.settings.http.secure_cookies();
    let user = UserView {
        id: authed.user_id(),
        email: authed.user.email.clone(),
        display_name: authed.user.display_name.clone(),
    };
    let answer = LoginAnswer {
        user,
        org: Some(org),
        csrf_token: session.csrf,
    };
    Ok((
        jar.add(auth::session_cookie(secure, session.id)),
        Json(answer),
    )
        .into_response())
}

/// The active organization's settings.
#[utoipa::path(get, path = "/api/v1/org", tag = "org", responses((status = 200, body = OrgView), (status = 403, body = ErrorBody)))]
async fn get_org(m: Member) -> ApiResult<Json<OrgView>> {
    Ok(Json(m.org.settings().await?))
}

/// Settings to change; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
pub struct OrgPatch {
    pub name: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    pub clock: Option<ClockFormat>,
}

/// Changes the organization's settings (admins).
#[utoipa::path(patch, path = "/api/v1/org", request_body = OrgPatch, tag = "org",
    responses((status = 200, body = OrgView), (status = 422, body = ErrorBody)))]
async fn update_org(Admin(m): Admin, ApiJson(body): ApiJson<OrgPatch>) -> ApiResult<Json<OrgView>> {
    let current = m.org.settings().await?;
    let change = SettingsChange {
        name: body.name.unwrap_or(current.name),
        timezone: body.timezone.unwrap_or(current.timezone),
        clock: body.clock.unwrap_or(current.clock),
    };
    Ok(Json(m.org.update_settings(m.caller(), change).await?))
}

/// Members of the active organization.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", responses((status = 200, body = Vec<MemberView>)))]
async fn list_members(m: Member) -> ApiResult<Json<Vec<MemberView>>> {
    Ok(Json(m.org.snapshot().await?.members))
}

/// A new member: an existing user is added by email; a new one needs a name and password.
#[derive(Deserialize, ToSchema)]
pub struct NewMemberBody {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    /// Initial password, for a user who does not exist yet.
    #[serde(default)]
    pub password: String,
    pub role: Role,
}

/// Adds a member, creating the user if the email is new (admins).
#[utoipa::path(post, path = "/api/v1/members", request_body = NewMemberBody, tag = "members",
    responses((status = 201, body = MemberView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    Admin(m): Admin,
    ApiJson(body): ApiJson<NewMemberBody>,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let view = crate::app::add_member(
        &state,
        &m,
        &body.email,
        &body.display_name,
        &body.password,
        body.role,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn find_member(m: &Member, user_id: &str) -> ApiResult<MemberView> {
    m.org
        .member(UserId::new(user_id))
        .await?
        .ok_or(AppError::NotFound)
}

/// One member.
#[utoipa::path(get, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
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
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)), request_body = MemberPatch,
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
#[utoipa::path(put, path = "/api/v1/members/{user_id}/profile", tag = "members", params(("user_id" = String, Path)), request_body = ProfileView,
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
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(Admin(m): Admin, Path(user_id): Path<String>) -> ApiResult<StatusCode> {
    m.org
        .remove_member(m.caller(), UserId::new(user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Teams of the active organization.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", responses((status = 200, body = Vec<TeamView>)))]
async fn list_teams(m: Member) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(m.org.snapshot().await?.teams))
}

/// A team's fields.
#[derive(Deserialize, ToSchema)]
pub struct TeamBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `#rrggbb`; empty for the default.
    #[serde(default)]
    pub colour: String,
    pub parent: Option<TeamId>,
    #[serde(default)]
    pub members: Vec<UserId>,
    #[serde(default)]
    pub bookable_count: u32,
    pub manager: Option<UserId>,
}

impl From<TeamBody> for TeamInput {
    fn from(b: TeamBody) -> Self {
        TeamInput {
            name: b.name,
            description: b.description,
            colour: b.colour,
            parent: b.parent,
            members: b.members,
            bookable_count: b.bookable_count,
            manager: b.manager,
        }
    }
}

/// Creates a team (admins).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_team(
    Admin(m): Admin,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    Ok((
        StatusCode::CREATED,
        Json(m.org.create_team(m.caller(), body.into()).await?),
    ))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody)))]
async fn get_team(m: Member, Path(team_id): Path<String>) -> ApiResult<Json<TeamView>> {
    m.org
        .team(TeamId::new(team_id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// Replaces a team's fields (admins).
#[utoipa::path(put, path = "/api/v1/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)), request_body = TeamBody,
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_team(
    Admin(m): Admin,
    Path(team_id): Path<String>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<Json<TeamView>> {
    Ok(Json(
        m.org
            .update_team(m.caller(), TeamId::new(team_id), body.into())
            .await?,
    ))
}

/// Deletes a team; its child teams move up to its parent (admins).
#[utoipa::path(delete, path = "/api/v1/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_team(Admin(m): Admin, Path(team_id): Path<String>) -> ApiResult<StatusCode> {
    m.org.delete_team(m.caller(), TeamId::new(team_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every organization (platform operators).
#[utoipa::path(get, path = "/api/v1/platform/orgs", tag = "platform", responses((status = 200, body = Vec<OrgView>), (status = 404, body = ErrorBody)))]
async fn platform_orgs(
    State(state): State<AppState>,
    _op: Operator,
) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(state.core.directory.orgs().await?))
}

/// A new organization and its first owner (existing user by email, or a new one).
#[derive(Deserialize, ToSchema)]
pub struct NewOrgBody {
    pub name: String,
    #[serde(default)]
    pub slug: String,
    pub timezone: String,
    #[serde(default = "default_clock")]
    pub clock: ClockFormat,
    pub owner_email: String,
    #[serde(default)]
    pub owner_name: String,
    /// Needed when the owner's email is new.
    #[serde(default)]
    pub owner_password: String,
}

impl From<NewOrgBody> for crate::app::NewOrgWithOwner {
    fn from(b: NewOrgBody) -> Self {
        Self {
            name: b.name,
            slug: b.slug,
            timezone: b.timezone,
            clock: b.clock,
            owner_email: b.owner_email,
            owner_name: b.owner_name,
            owner_password: b.owner_password,
        }
    }
}

fn default_clock() -> ClockFormat {
    ClockFormat::H24
}

/// Creates an organization (platform operators).
#[utoipa::path(post, path = "/api/v1/platform/orgs", tag = "platform", request_body = NewOrgBody,
    responses((status = 201, body = OrgView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn platform_create_org(
    State(state): State<AppState>,
    _op: Operator,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let org = crate::app::create_org_with_owner(&state, body.into()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// Paging through notifications.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// A notification id: return older ones.
    pub before: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
}

/// A page of notifications, newest first, with the unread count.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<cflows_protocol::NotificationView>,
    pub unread: u32,
}

/// The unread count after a change.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UnreadCount {
    pub unread: u32,
}

/// The session user's notifications.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, body = NotificationPage)))]
async fn list_notifications(
    State(state): State<AppState>,
    m: Member,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let inbox = state.core.directory.inbox(&m.member.user.id).await?;
    let items = inbox.list(q.before, q.limit.unwrap_or(20)).await?;
    let unread = inbox.snapshot().await?.unread;
    Ok(Json(NotificationPage { items, unread }))
}

/// Marks one notification read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = UnreadCount), (status = 404, body = ErrorBody)))]
async fn read_notification(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<UnreadCount>> {
    let unread = state
        .core
        .directory
        .inbox(&m.member.user.id)
        .await?
        .mark_read(id)
        .await?;
    Ok(Json(UnreadCount { unread }))
}

/// Marks every notification read.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications", responses((status = 200, body = UnreadCount)))]
async fn read_all_notifications(
    State(state): State<AppState>,
    m: Member,
) -> ApiResult<Json<UnreadCount>> {
    let unread = state
        .core
        .directory
        .inbox(&m.member.user.id)
        .await?
        .mark_all_read()
        .await?;
    Ok(Json(UnreadCount { unread }))
}

/// A direct message.
#[derive(Deserialize, ToSchema)]
pub struct MessageBody {
    pub to: UserId,
    pub body: String,
}

/// Sends a direct message to another active member of the organization (rate-limited
/// per sender; a burst from one sender coalesces into one unread notification).
#[utoipa::path(post, path = "/api/v1/messages", tag = "notifications", request_body = MessageBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    m: Member,
    ApiJson(body): ApiJson<MessageBody>,
) -> ApiResult<StatusCode> {
    crate::app::send_direct_message(
        &state,
        &m.org_id,
        &m.member.user.id,
        &m.member.user.display_name,
        &body.to,
        &body.body,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
