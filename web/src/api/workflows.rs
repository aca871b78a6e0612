//! `/api/v1/workflows`: workflow definitions (admins write them; every save is a new
//! version), their step forms as JSON Schema, boards (cards), items listed and created,
//! and members' saved board filters.

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::work::{CardQuery, select_cards};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cflows_actors::domain::workflow::data_schema;
use cflows_actors::org::WorkflowInput;
use cflows_protocol::{
    BoardFilter, BoardSnapshot, CardView, NewItem, SavedFilter, StepDef, TransitionDef,
    WorkItemView, WorkflowId, WorkflowView,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, save_workflow, archive_workflow))
        .routes(routes!(workflow_schema))
        .routes(routes!(board))
        .routes(routes!(list_items, create_item))
        .routes(routes!(list_filters, save_filter))
        .routes(routes!(delete_filter))
}

/// A workflow as written by an admin (`POST` creates, `PUT` saves a new version).
#[derive(Deserialize, ToSchema)]
pub struct WorkflowBody {
    pub name: String,
    /// Items' identifier prefix: 1–6 capital letters or digits, starting with a letter.
    pub key: String,
    pub steps: Vec<StepDef>,
    pub transitions: Vec<TransitionDef>,
    /// For a new version: removed step id → the step its items move to. Needed only
    /// for removed steps that hold items (else 422 naming the step).
    #[serde(default)]
    pub relocate: BTreeMap<String, String>,
}

impl From<WorkflowBody> for WorkflowInput {
    fn from(b: WorkflowBody) -> Self {
        Self {
            name: b.name,
            key: b.key,
            steps: b.steps,
            transitions: b.transitions,
            relocate: b.relocate,
        }
    }
}

/// Workflows of the active organization (not archived), by name.
#[utoipa::path(get, path = "/workflows", tag = "workflows", responses((status = 200, body = Vec<WorkflowView>)))]
async fn list_workflows(m: Member) -> ApiResult<Json<Vec<WorkflowView>>> {
    Ok(Json(m.org.workflows().await?))
}

/// Creates a workflow (admins). A refusal (422) names the step or transition that is wrong.
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = WorkflowBody,
    responses((status = 201, body = WorkflowView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_workflow(
    Admin(m): Admin,
    ApiJson(body): ApiJson<WorkflowBody>,
) -> ApiResult<(StatusCode, Json<WorkflowView>)> {
    let w = m.org.save_workflow(m.caller(), None, body.into()).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// One workflow (its current version).
#[utoipa::path(get, path = "/workflows/{workflow_id}", tag = "workflows", params(("workflow_id" = String, Path)),
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody)))]
async fn get_workflow(m: Member, Path(id): Path<String>) -> ApiResult<Json<WorkflowView>> {
    Ok(Json(m.org.workflow(&WorkflowId::new(id)).await?))
}

/// Saves a new version (admins). Live items stay valid: a removed step that holds items
/// needs a `relocate` target, and its items move there.
#[utoipa::path(put, path = "/workflows/{workflow_id}", tag = "workflows", params(("workflow_id" = String, Path)), request_body = WorkflowBody,
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_workflow(
    Admin(m): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WorkflowBody>,
) -> ApiResult<Json<WorkflowView>> {
    Ok(Json(
        m.org
            .save_workflow(m.caller(), Some(WorkflowId::new(id)), body.into())
            .await?,
    ))
}

/// Archives a workflow (admins): no new items; its board stays readable.
#[utoipa::path(delete, path = "/workflows/{workflow_id}", tag = "workflows", params(("workflow_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn archive_workflow(Admin(m): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    m.org
        .archive_workflow(m.caller(), WorkflowId::new(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?step=`: one step's form; the whole workflow's fields without it.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SchemaQuery {
    #[serde(default)]
    step: Option<String>,
}

/// JSON Schema (draft 2020-12) of an item's field data: validate before `PATCH /items/{id}`.
#[utoipa::path(get, path = "/workflows/{workflow_id}/schema", tag = "workflows", params(("workflow_id" = String, Path), SchemaQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn workflow_schema(
    m: Member,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SchemaQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let w = m.org.workflow(&WorkflowId::new(id)).await?;
    Ok(Json(match q.step {
        Some(step) => {
            let s = w
                .steps
                .iter()
                .find(|s| s.id == step)
                .ok_or(AppError::NotFound)?;
            data_schema(&format!("{} · {}", w.name, s.name), [s])
        }
        None => data_schema(&w.name, &w.steps),
    }))
}

/// A workflow's board: the definition and every card (what `board:{id}` snapshots carry).
#[utoipa::path(get, path = "/workflows/{workflow_id}/board", tag = "workflows", params(("workflow_id" = String, Path)),
    responses((status = 200, body = BoardSnapshot), (status = 404, body = ErrorBody)))]
async fn board(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<BoardSnapshot>> {
    Ok(Json(
        m.acting(&state)
            .board(&WorkflowId::new(id))
            .snapshot()
            .await?,
    ))
}

/// A workflow's items as cards, searched, filtered and sorted.
#[utoipa::path(get, path = "/workflows/{workflow_id}/items", tag = "workflows", params(("workflow_id" = String, Path), CardQuery),
    responses((status = 200, body = Vec<CardView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_items(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CardQuery>,
) -> ApiResult<Json<Vec<CardView>>> {
    let snap = m
        .acting(&state)
        .board(&WorkflowId::new(id))
        .snapshot()
        .await?;
    Ok(Json(select_cards(&snap.workflow, snap.cards, &q)?))
}

/// Creates an item in the workflow's start step (`data`: values of the start step's form).
#[utoipa::path(post, path = "/workflows/{workflow_id}/items", tag = "workflows", params(("workflow_id" = String, Path)), request_body = NewItem,
    responses((status = 201, body = WorkItemView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewItem>,
) -> ApiResult<(StatusCode, Json<WorkItemView>)> {
    let a = m.acting(&state);
    let item = a
        .board(&WorkflowId::new(id))
        .create_item(a.booker(), body)
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// The member's saved filters of a board.
#[utoipa::path(get, path = "/workflows/{workflow_id}/filters", tag = "workflows", params(("workflow_id" = String, Path)),
    responses((status = 200, body = Vec<SavedFilter>), (status = 404, body = ErrorBody)))]
async fn list_filters(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SavedFilter>>> {
    Ok(Json(
        m.acting(&state)
            .board(&WorkflowId::new(id))
            .filters(m.member.user.id.clone())
            .await?,
    ))
}

/// A filter to save under a name (the same name replaces it).
#[derive(Deserialize, ToSchema)]
pub struct FilterBody {
    pub name: String,
    #[serde(default)]
    pub filter: BoardFilter,
}

/// Saves a filter of the member's (at most 20 per board).
#[utoipa::path(post, path = "/workflows/{workflow_id}/filters", tag = "workflows", params(("workflow_id" = String, Path)), request_body = FilterBody,
    responses((status = 201, body = SavedFilter), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_filter(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FilterBody>,
) -> ApiResult<(StatusCode, Json<SavedFilter>)> {
    let saved = m
        .acting(&state)
        .board(&WorkflowId::new(id))
        .save_filter(m.member.user.id.clone(), body.name, body.filter)
        .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Deletes one of the member's saved filters.
#[utoipa::path(delete, path = "/workflows/{workflow_id}/filters/{filter_id}", tag = "workflows", params(("workflow_id" = String, Path), ("filter_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_filter(
    State(state): State<AppState>,
    m: Member,
    Path((id, filter)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    m.acting(&state)
        .board(&WorkflowId::new(id))
        .delete_filter(m.member.user.id.clone(), filter)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
