//! Server-rendered pages (maud). Every page works without JavaScript: plain forms with a
//! CSRF field, answered by a redirect on success (with a notice) or the same page with
//! the error on failure.

pub mod calendar;
pub mod feeds;
pub mod home;
pub mod invite;
pub mod layout;
pub mod login;
pub mod notifications;
pub mod platform;
pub mod staff;

use crate::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", layout::APP_CSS) }),
        )
        .route(
            "/static/js/cflows.js",
            get(|| async { asset("text/javascript; charset=utf-8", layout::CLIENT_JS) }),
        )
        .route(
            "/static/js/bell.js",
            get(|| async { asset("text/javascript; charset=utf-8", layout::BELL_JS) }),
        )
        .route(
            "/static/vendor/msgpack.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", layout::MSGPACK_JS) }),
        )
        .merge(calendar::routes())
        .merge(feeds::routes())
        .merge(notifications::routes())
        .merge(login::routes())
        .merge(invite::routes())
        .merge(home::routes())
        .merge(staff::routes())
        .merge(platform::routes())
}

/// A compiled-in static file.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// `?notice=` and `?error=` banners after a redirect.
#[derive(Deserialize, Default)]
pub struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// A redirect to `path` with a notice banner.
pub fn see_other_with_notice(path: &str, notice: &str) -> axum::response::Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    axum::response::Redirect::to(&format!("{path}{sep}notice={encoded}")).into_response()
}
