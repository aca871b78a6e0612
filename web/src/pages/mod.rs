//! Server-rendered pages (maud). Every page works without JavaScript: plain forms with a
//! CSRF field, answered by a redirect on success (with a notice) or the same page with
//! the error on failure.

pub mod boards;
pub mod calendar;
pub mod calendar_delete;
pub mod feeds;
pub mod home;
pub mod invite;
pub mod kiosk;
pub mod layout;
pub mod login;
pub mod notifications;
pub mod password;
pub mod platform;
pub mod projects;
pub mod staff;
pub mod step_booking;
pub mod today;

use crate::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every compiled-in static file: path, content type, body. Vendored libraries come
/// from `scripts/vendor.sh`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/static/app.css", CSS, layout::APP_CSS),
    ("/static/js/cflows.js", JS, layout::CLIENT_JS),
    ("/static/js/bell.js", JS, layout::BELL_JS),
    (
        "/static/js/page.js",
        JS,
        include_str!("../../static/js/page.js"),
    ),
    (
        "/static/js/live.js",
        JS,
        include_str!("../../static/js/live.js"),
    ),
    (
        "/static/favicon.svg",
        SVG,
        include_str!("../../static/favicon.svg"),
    ),
    (
        "/static/js/zones.js",
        JS,
        include_str!("../../static/js/zones.js"),
    ),
    (
        "/static/js/calendar.js",
        JS,
        include_str!("../../static/js/calendar.js"),
    ),
    (
        "/static/js/board.js",
        JS,
        include_str!("../../static/js/board.js"),
    ),
    (
        "/static/js/workload.js",
        JS,
        include_str!("../../static/js/workload.js"),
    ),
    (
        "/static/js/workboard.js",
        JS,
        include_str!("../../static/js/workboard.js"),
    ),
    (
        "/static/js/booking.js",
        JS,
        include_str!("../../static/js/booking.js"),
    ),
    (
        "/static/js/item.js",
        JS,
        include_str!("../../static/js/item.js"),
    ),
    (
        "/static/js/project.js",
        JS,
        include_str!("../../static/js/project.js"),
    ),
    (
        "/static/js/kiosk.js",
        JS,
        include_str!("../../static/js/kiosk.js"),
    ),
    ("/static/vendor/msgpack.min.js", JS, layout::MSGPACK_JS),
    (
        "/static/vendor/sortable/Sortable.min.js",
        JS,
        include_str!("../../static/vendor/sortable/Sortable.min.js"),
    ),
    // FullCalendar 7's no-bundler build and its classic theme.
    (
        "/static/vendor/fullcalendar/global.js",
        JS,
        include_str!("../../static/vendor/fullcalendar/all-global.js"),
    ),
    (
        "/static/vendor/fullcalendar/classic.js",
        JS,
        include_str!("../../static/vendor/fullcalendar/themes-classic-global.js"),
    ),
    (
        "/static/vendor/fullcalendar/skeleton.css",
        CSS,
        include_str!("../../static/vendor/fullcalendar/skeleton.css"),
    ),
    (
        "/static/vendor/fullcalendar/classic.css",
        CSS,
        include_str!("../../static/vendor/fullcalendar/themes-classic-theme.css"),
    ),
    (
        "/static/vendor/fullcalendar/palette.css",
        CSS,
        include_str!("../../static/vendor/fullcalendar/themes-classic-palette.css"),
    ),
];

pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for &(path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { asset(content_type, body) }));
    }
    router
        .merge(calendar::routes())
        .merge(calendar_delete::routes())
        .merge(boards::routes())
        .merge(step_booking::routes())
        .merge(projects::routes())
        .merge(kiosk::routes())
        .merge(feeds::routes())
        .merge(notifications::routes())
        .merge(login::routes())
        .merge(password::routes())
        .merge(invite::routes())
        .merge(home::routes())
        .merge(staff::routes())
        .merge(platform::routes())
}

/// A compiled-in static file.
fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
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
    see_other_with(path, "notice", notice)
}

/// A redirect to `path` with a banner (`notice` or `error`, see [`Flash`]).
pub fn see_other_with(path: &str, banner: &str, text: &str) -> axum::response::Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    axum::response::Redirect::to(&format!("{path}{sep}{banner}={encoded}")).into_response()
}
