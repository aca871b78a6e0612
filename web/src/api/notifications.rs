//! `/api/v1/notifications` and `/api/v1/messages`: the inbox and direct messages.

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::Member;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cflows_protocol::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(read_all_notifications))
        .routes(routes!(send_message))
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
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, body = NotificationPage)))]
async fn list_notifications(
    State(state): State<AppState>,
    m: Member,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let (items, unread) =
        crate::app::notification_page(&state, &m.member.user.id, q.before, q.limit.unwrap_or(20))
            .await?;
    Ok(Json(NotificationPage { items, unread }))
}

/// Marks one notification read.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
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
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications", responses((status = 200, body = UnreadCount)))]
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
#[utoipa::path(post, path = "/messages", tag = "notifications", request_body = MessageBody,
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
