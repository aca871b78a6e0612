//! The JSON API under `/api/v1`, session-authenticated. Writes need the `x-csrf-token`
//! header (the token comes with the login answer and from `GET /api/v1/me`). Errors are
//! `{ "error": { "code", "message" } }`.
//!
//! One module per resource; each declares its routes together with their OpenAPI paths
//! (utoipa-axum), so the document at `/api/v1/openapi.json` is exactly what is routed.
//! Handlers parse and render; shared business steps live in [`crate::app`].

mod access;
pub(crate) mod attachments;
mod calendars;
mod capacity;
mod items;
mod kiosks;
mod members;
mod notifications;
mod org;
mod platform;
mod projects;
mod session;
mod teams;
mod workflows;

pub use members::{InvitationCreated, NewMemberBody};
pub use platform::NewOrgBody;
pub use session::LoginAnswer;

use crate::AppState;
use crate::error::{AppError, ErrorBody};
use axum::extract::{FromRequest, FromRequestParts};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Query parameters with errors in the API's shape (400 with the JSON error body).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// JSON input with errors in the API's shape (bad syntax 400, wrong shape 422, too big 413).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cflows API",
        description = "Session-authenticated JSON API of cflows. Log in with `POST /api/v1/session`: the answer sets the session cookie (security scheme `session`) and carries `csrf_token`; send it as the `x-csrf-token` header on every write. Errors are `{\"error\": {\"code\", \"message\"}}` (codes in PROTOCOL.md §7)."
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Every resource, under `/api/v1`.
fn api() -> OpenApiRouter<AppState> {
    let resources = OpenApiRouter::new()
        .merge(session::routes())
        .merge(org::routes())
        .merge(members::routes())
        .merge(teams::routes())
        .merge(capacity::routes())
        .merge(calendars::routes())
        .merge(workflows::routes())
        .merge(items::routes())
        .merge(kiosks::routes())
        .merge(projects::routes())
        .merge(attachments::routes())
        .merge(
            // Uploads are read up to the upload setting (413 past it), not the API's
            // body limit.
            OpenApiRouter::new()
                .merge(projects::upload_routes())
                .merge(attachments::upload_routes())
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .merge(platform::routes())
        .merge(notifications::routes())
        .fallback(|| async { AppError::NotFound });
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", resources)
}

/// The OpenAPI document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    access::describe(&mut doc);
    doc
}

/// The API's routes (already under `/api/v1`) and its OpenAPI document.
pub(crate) fn routes() -> Router<AppState> {
    let (router, mut doc) = api().split_for_parts();
    access::describe(&mut doc);
    let doc = Arc::new(doc);
    router.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
}
