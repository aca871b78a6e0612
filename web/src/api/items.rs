//! `/api/v1/items/{item_id}`: one work item — read it with its history and comments,
//! change its fields, move it along a transition, comment on it.

use super::ApiJson;
use crate::AppState;
use crate::auth::Member;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cflows_protocol::{CommentView, ItemChange, ItemId, ItemSnapshot, MoveRequest, WorkItemView};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_item, update_item))
        .routes(routes!(move_item))
        .routes(routes!(comment))
}

/// An item with its history and comments (what `item:{id}` snapshots carry).
#[utoipa::path(get, path = "/items/{item_id}", tag = "items", params(("item_id" = String, Path)),
    responses((status = 200, body = ItemSnapshot), (status = 404, body = ErrorBody)))]
async fn get_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<ItemSnapshot>> {
    Ok(Json(
        m.acting(&state).item(&ItemId::new(id)).snapshot().await?,
    ))
}

/// Changes title, assignee, priority, due date or field values (a `null` clears).
#[utoipa::path(patch, path = "/items/{item_id}", tag = "items", params(("item_id" = String, Path)), request_body = ItemChange,
    responses((status = 200, body = WorkItemView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ItemChange>,
) -> ApiResult<Json<WorkItemView>> {
    let a = m.acting(&state);
    Ok(Json(
        a.item(&ItemId::new(id)).update(a.booker(), body).await?,
    ))
}

/// Moves an item along a transition. 409 `conflict` when it is no longer in `from`
/// (the message names its step) or a rule blocks it (required field, booking not
/// completed, condition); 422 when no transition leads there; 409 `no_capacity` when
/// the requested hold does not fit (nothing moves).
#[utoipa::path(post, path = "/items/{item_id}/moves", tag = "items", params(("item_id" = String, Path)), request_body = MoveRequest,
    responses((status = 200, body = WorkItemView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MoveRequest>,
) -> ApiResult<Json<WorkItemView>> {
    let a = m.acting(&state);
    Ok(Json(a.move_item(&ItemId::new(id), body).await?))
}

/// A comment's text.
#[derive(Deserialize, ToSchema)]
pub struct CommentBody {
    /// 1–5000 characters; `@name` (a member's email before the `@`) mentions them.
    pub body: String,
}

/// Comments on an item; mentioned members and the assignee are notified.
#[utoipa::path(post, path = "/items/{item_id}/comments", tag = "items", params(("item_id" = String, Path)), request_body = CommentBody,
    responses((status = 201, body = CommentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn comment(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    let a = m.acting(&state);
    let c = a
        .item(&ItemId::new(id))
        .comment(a.booker(), body.body)
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}
