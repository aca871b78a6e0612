//! `/ics/{token}.ics`: secret subscription feeds of calendars and teams, for calendar
//! applications (no session: the token is the key; a revoked or unknown token is 404).

use crate::AppState;
use crate::error::{AppError, PageResult};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ics/{file}", get(feed))
}

async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> PageResult<impl IntoResponse> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::NotFound.into());
    }
    let (name, body) = crate::calendars::feed(&state.core.kernel, token)
        .await?
        .ok_or(AppError::NotFound)?;
    let filename: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}.ics\""),
            ),
            (header::CACHE_CONTROL, "private, max-age=60".to_string()),
        ],
        body,
    ))
}
