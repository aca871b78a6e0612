//! `/api/v1/projects`: projects with their tasks (members read them; project admins
//! change them), task comments and attachments, and `/api/v1/me/tasks` — the member's
//! open tasks across projects. A project the member may not read answers 404, exactly
//! like one that does not exist.

use super::ApiJson;
use super::attachments::{Upload, read_upload};
use crate::AppState;
use crate::auth::Member;
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::forms::CsrfMultipart;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cflows_actors::project;
use cflows_protocol::{
    AttachmentView, CommentView, NewTask, ProjectId, ProjectInput, ProjectSnapshot, ProjectView,
    TaskChange, TaskView,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project))
        .routes(routes!(create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(comment_task))
        .routes(routes!(my_tasks))
}

/// Upload routes: the body limit is the upload setting, checked while reading.
pub(super) fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(attach_to_task))
}

/// The projects the member may read (every project for an organization admin), by name.
#[utoipa::path(get, path = "/projects", tag = "projects",
    responses((status = 200, body = Vec<ProjectView>), (status = 401, body = ErrorBody)))]
async fn list_projects(
    State(state): State<AppState>,
    m: Member,
) -> ApiResult<Json<Vec<ProjectView>>> {
    let a = m.acting(&state);
    Ok(Json(
        project::projects_of(a.kernel, a.org_id, &a.booker()).await?,
    ))
}

/// Creates a project; the creator is its first admin. `name` is required; without
/// `statuses` or `workflow` it gets To do, In progress, Done.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = ProjectInput,
    responses((status = 201, body = ProjectView), (status = 422, body = ErrorBody)))]
async fn create_project(
    State(state): State<AppState>,
    m: Member,
    ApiJson(body): ApiJson<ProjectInput>,
) -> ApiResult<(StatusCode, Json<ProjectView>)> {
    let a = m.acting(&state);
    let p = project::create(a.kernel, a.org_id, &a.booker(), body).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// A project with its tasks (comments and attachments included) and latest activity:
/// what `project:{id}` snapshots carry.
#[utoipa::path(get, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 200, body = ProjectSnapshot), (status = 404, body = ErrorBody)))]
async fn get_project(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<ProjectSnapshot>> {
    Ok(Json(
        m.acting(&state)
            .project(&ProjectId::new(id))
            .snapshot()
            .await?,
    ))
}

/// Changes a project (its admins and organization admins): name, description,
/// statuses (one still holding tasks: 409), admins, members, archived.
#[utoipa::path(patch, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)), request_body = ProjectInput,
    responses((status = 200, body = ProjectView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_project(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProjectInput>,
) -> ApiResult<Json<ProjectView>> {
    Ok(Json(
        m.acting(&state)
            .project(&ProjectId::new(id))
            .update(body)
            .await?,
    ))
}

/// Creates a task; an assignee (a project member) is notified (`task_assigned`).
#[utoipa::path(post, path = "/projects/{project_id}/tasks", tag = "projects", params(("project_id" = String, Path)), request_body = NewTask,
    responses((status = 201, body = TaskView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_task(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    let t = m
        .acting(&state)
        .project(&ProjectId::new(id))
        .create_task(body)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// One task (by id or key, `SSE-3`).
#[utoipa::path(get, path = "/projects/{project_id}/tasks/{task}", tag = "projects", params(("project_id" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<Json<TaskView>> {
    let snapshot = m
        .acting(&state)
        .project(&ProjectId::new(id))
        .snapshot()
        .await?;
    snapshot
        .tasks
        .into_iter()
        .find(|t| t.id == task || t.key == task)
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// Changes a task: title, description, status, assignee (notified), due date,
/// priority, link. `null` clears.
#[utoipa::path(patch, path = "/projects/{project_id}/tasks/{task}", tag = "projects", params(("project_id" = String, Path), ("task" = String, Path)), request_body = TaskChange,
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<TaskChange>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(
        m.acting(&state)
            .project(&ProjectId::new(id))
            .update_task(task, body)
            .await?,
    ))
}

/// Deletes a task with its comments and attachments (project admins).
#[utoipa::path(delete, path = "/projects/{project_id}/tasks/{task}", tag = "projects", params(("project_id" = String, Path), ("task" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    m.acting(&state)
        .project(&ProjectId::new(id))
        .delete_task(task)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Comments on a task; mentioned project members and the assignee are notified.
#[utoipa::path(post, path = "/projects/{project_id}/tasks/{task}/comments", tag = "projects", params(("project_id" = String, Path), ("task" = String, Path)), request_body = super::items::CommentBody,
    responses((status = 201, body = CommentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn comment_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<super::items::CommentBody>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    let c = m
        .acting(&state)
        .project(&ProjectId::new(id))
        .comment(task, body.body)
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Attaches a file to a task: `multipart/form-data` with one part named `file`. Its type
/// is decided from its content; see `POST /items/{item_id}/attachments` for the rules.
#[utoipa::path(post, path = "/projects/{project_id}/tasks/{task}/attachments", tag = "projects", params(("project_id" = String, Path), ("task" = String, Path)),
    request_body(content = Upload, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach_to_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    multipart: CsrfMultipart,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let a = m.acting(&state);
    let handle = a.project(&ProjectId::new(id));
    // Who may not read the project learns nothing, not even how uploads are checked.
    handle.head().await?;
    let kept = read_upload(&state, multipart).await?;
    let view = handle.attach(task, kept).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The member's open tasks across the organization's projects, by due date (undated
/// last).
#[utoipa::path(get, path = "/me/tasks", tag = "projects",
    responses((status = 200, body = Vec<TaskView>), (status = 401, body = ErrorBody)))]
async fn my_tasks(State(state): State<AppState>, m: Member) -> ApiResult<Json<Vec<TaskView>>> {
    let a = m.acting(&state);
    Ok(Json(
        project::open_tasks_of(a.kernel, a.org_id, &a.member.user.id).await?,
    ))
}
