//! Attachments: uploading to a work item (tasks: `projects.rs`), downloading with the
//! headers that keep a file from running anything in a browser, and removing.
//!
//! An upload's type is decided from its content (magic bytes), never from its name or
//! the client's content type; HTML, SVG, XML and scripts are refused; images are
//! decoded (with size and memory limits) for a thumbnail. The bytes are stored under
//! the data directory by SHA-256, never by the uploaded name.

use crate::AppState;
use crate::auth::Member;
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::forms::CsrfMultipart;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cflows_actors::files::{Kept, served_inline};
use cflows_actors::project::ProjectHandle;
use cflows_protocol::{AttachmentView, ItemId, ProjectId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes that read or remove attachments.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download, remove))
        .routes(routes!(thumbnail))
}

/// Upload routes: the body limit is the upload setting, checked while reading.
pub(super) fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(attach_to_item))
}

/// A `multipart/form-data` upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Upload {
    /// The file (one part named `file`, with a file name). At most the server's
    /// `uploads.max_bytes` (default 20 MiB).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Reads the `file` part of an upload (stopping at the size limit: 413) and keeps its
/// bytes when they are accepted (422 with the reason otherwise; nothing is stored).
/// The token was checked by [`CsrfMultipart`] before.
///
/// # Errors
/// 400 for a body that is not a multipart upload with a `file` part; 413; 422.
pub(crate) async fn read_upload(state: &AppState, multipart: CsrfMultipart) -> ApiResult<Kept> {
    let files = state.core.kernel.files();
    let (name, bytes) = multipart.file("file", files.max_bytes()).await?;
    Ok(files
        .keep_in(state.core.directory.store(), &name, bytes)
        .await?)
}

/// Attaches a file to a work item: `multipart/form-data` with one part named `file`.
/// Accepted (by content, whatever the name says): PNG, JPEG, GIF, WebP (at most 12000
/// px a side; a JPEG thumbnail is made), PDF, DOCX/XLSX/PPTX, ODT/ODS, ZIP, MP4,
/// QuickTime, plain UTF-8 text. Refused with 422: HTML, SVG, XML, scripts, anything
/// else, a name with a path in it, a damaged image; 413 past the size limit.
#[utoipa::path(post, path = "/items/{item_id}/attachments", tag = "items", params(("item_id" = String, Path)),
    request_body(content = Upload, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach_to_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    multipart: CsrfMultipart,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let a = m.acting(&state);
    let item = a.item(&ItemId::new(id));
    item.head().await?;
    let kept = read_upload(&state, multipart).await?;
    let view = item.attach(a.booker(), kept).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Where an attachment belongs, once the member may read it.
enum Owner {
    Item(ItemId),
    Task(ProjectHandle, String),
}

async fn find(
    state: &AppState,
    m: &Member,
    id: &str,
) -> ApiResult<(cflows_actors::store::AttachmentRecord, Owner)> {
    let a = m.acting(state);
    let record = a
        .kernel
        .store()
        .attachment(id)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .filter(|r| r.org == a.org_id.as_str())
        .ok_or(AppError::NotFound)?;
    let owner = if let Some(item) = record.owner.strip_prefix("item:") {
        let item = ItemId::new(item);
        a.item(&item).head().await?;
        Owner::Item(item)
    } else if let (Some(task), Some(project)) =
        (record.owner.strip_prefix("task:"), record.project.as_ref())
    {
        let handle = a.project(&ProjectId::new(project.clone()));
        handle.head().await?;
        Owner::Task(handle, task.to_string())
    } else {
        return Err(AppError::NotFound);
    };
    Ok((record, owner))
}

/// `Content-Disposition` with an ASCII fallback name and the UTF-8 name (RFC 6266).
fn disposition(inline: bool, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn file_response(bytes: Vec<u8>, content_type: &str, disposition: HeaderValue) -> Response {
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(CONTENT_DISPOSITION, disposition);
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::headers::FILE_CSP),
    );
    // The bytes under an id never change.
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    res
}

/// The file. Images are served `inline`, everything else only as a download
/// (`attachment`); always with `X-Content-Type-Options: nosniff` and a
/// `Content-Security-Policy` of `default-src 'none'; sandbox`.
#[utoipa::path(get, path = "/attachments/{attachment_id}", tag = "attachments", params(("attachment_id" = String, Path)),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (record, _) = find(&state, &m, &id).await?;
    let bytes = state
        .core
        .kernel
        .files()
        .read(&record.sha256, false)
        .await?;
    let inline = served_inline(&record.content_type);
    Ok(file_response(
        bytes,
        &record.content_type,
        disposition(inline, &record.name),
    ))
}

/// An image's JPEG thumbnail (at most 320 px on its longer side); 404 for other files.
#[utoipa::path(get, path = "/attachments/{attachment_id}/thumbnail", tag = "attachments", params(("attachment_id" = String, Path)),
    responses((status = 200, description = "A JPEG", content_type = "image/jpeg"), (status = 404, body = ErrorBody)))]
async fn thumbnail(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (record, _) = find(&state, &m, &id).await?;
    if !record.thumbnail {
        return Err(AppError::NotFound);
    }
    let bytes = state.core.kernel.files().read(&record.sha256, true).await?;
    Ok(file_response(
        bytes,
        "image/jpeg",
        disposition(true, &format!("{}.thumb.jpg", record.name)),
    ))
}

/// Removes an attachment (who attached it, or an admin). Its bytes are deleted only
/// when no other attachment uses the same content.
#[utoipa::path(delete, path = "/attachments/{attachment_id}", tag = "attachments", params(("attachment_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (_, owner) = find(&state, &m, &id).await?;
    match owner {
        Owner::Item(item) => {
            let a = m.acting(&state);
            a.item(&item).detach(a.booker(), id).await?;
        }
        Owner::Task(project, task) => project.detach(task, id).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}
