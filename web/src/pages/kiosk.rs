//! Kiosk screens. `/kiosk`: a screen shows a pairing code until an admin pairs it in
//! the staff panel, then opens its link. `/kiosk/k/{token}`: the screen itself — its
//! boards, team capacity and today's bookings, cycling, in large type, read-only. It
//! connects with its token (`/ws?kiosk=…`), keeps showing the last good data with a
//! "reconnecting" mark when the network or server is gone, and resumes its streams.
//! Revoking the kiosk closes its socket and the screen goes blank.
//!
//! Each team comes with today's open hours (from its working hours, in the
//! organization's zone), so the capacity pane shows only the hours the teams work; the
//! screen reloads itself at the next local midnight and when a team's hours change.

use super::layout;
use crate::AppState;
use crate::error::{AppError, PageResult};
use crate::work::kiosk_by_token;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cflows_actors::domain::time;
use cflows_actors::org::OrgHandle;
use cflows_actors::team_calendar::TeamCalendarHandle;
use cflows_protocol::ClockFormat;
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(pairing_page))
        .route("/kiosk/k/{token}", get(screen_page))
        .route("/kiosk/k/{token}/alive", get(alive))
}

/// A full-screen page in the kiosk's dark, large-type frame.
fn kiosk_frame(title: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cflows" }
                (super::layout::favicon())
                link rel="stylesheet" href="/static/app.css";
            }
            body.kiosk {
                main { (content) }
                script src="/static/vendor/msgpack.min.js" {}
                script type="module" src="/static/js/kiosk.js" {}
            }
        }
    };
    ([(header::CACHE_CONTROL, "no-store")], markup).into_response()
}

async fn pairing_page() -> Response {
    kiosk_frame(
        "Pair this screen",
        html! {
            h1 { "Pair this screen" }
            p { "In cflows, open Staff → Kiosks and enter this code:" }
            p.pair-code #pair-code aria-live="polite" { "……" }
            p.muted #pair-status role="status" {}
            (layout::json_block("kiosk-boot", &serde_json::json!({ "mode": "pair" })))
        },
    )
}

#[derive(Serialize)]
struct ScreenBoot {
    mode: &'static str,
    token: String,
    name: String,
    org: String,
    zone: String,
    h12: bool,
    cycle_seconds: u32,
    boards: Vec<Named>,
    teams: Vec<KioskTeam>,
    today_bookings: bool,
    /// When today ends in the organization's zone (the screen reloads then).
    day_end: i64,
}

/// A team on the screen with today's open intervals (Unix ms), earliest first.
#[derive(Serialize)]
struct KioskTeam {
    id: String,
    name: String,
    capacity: u32,
    open: Vec<(i64, i64)>,
}

#[derive(Serialize)]
struct Named {
    id: String,
    name: String,
}

async fn screen_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let (org_id, kiosk) = match kiosk_by_token(&state, &token).await {
        Ok(k) => k,
        Err(AppError::NotFound) => {
            let mut r = kiosk_frame(
                "Kiosk",
                html! { p.blank { "This screen is not connected to cflows (its link was revoked or is wrong)." } },
            );
            *r.status_mut() = StatusCode::NOT_FOUND;
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    let org = OrgHandle::new(&state.core.kernel, &org_id)
        .snapshot()
        .await?;
    let mut boards = Vec::new();
    for w in &kiosk.scope.boards {
        if let Some(wf) = org.workflows.iter().find(|x| &x.id == w) {
            boards.push(Named {
                id: wf.id.to_string(),
                name: wf.name.clone(),
            });
        }
    }
    let tz = time::zone(&org.org.timezone)?;
    let today = time::local(tz, chrono::Utc::now()).date();
    let (day_start, day_end) = (
        time::resolve(tz, today.and_time(chrono::NaiveTime::MIN)).timestamp_millis(),
        time::resolve(
            tz,
            (today + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN),
        )
        .timestamp_millis(),
    );
    let mut teams = Vec::new();
    for t in kiosk
        .scope
        .teams
        .iter()
        .filter_map(|t| org.teams.iter().find(|x| &x.id == t))
    {
        let hours = TeamCalendarHandle::new(&state.core.kernel, &org_id, &t.id)
            .snapshot()
            .await?
            .hours;
        teams.push(KioskTeam {
            id: t.id.to_string(),
            name: t.name.clone(),
            capacity: t.bookable_count,
            open: time::compile(&hours)?.open_intervals(day_start, day_end),
        });
    }
    let boot = ScreenBoot {
        mode: "screen",
        token,
        name: kiosk.name.clone(),
        org: org.org.name.clone(),
        zone: org.org.timezone.clone(),
        h12: org.org.clock == ClockFormat::H12,
        cycle_seconds: kiosk.scope.cycle_seconds,
        boards,
        teams,
        today_bookings: kiosk.scope.today_bookings,
        day_end,
    };
    Ok(kiosk_frame(
        &kiosk.name,
        html! {
            span.mark #kiosk-mark hidden { "reconnecting…" }
            h1 #kiosk-title { (kiosk.name) }
            div #kiosk-view aria-live="polite" {}
            (layout::json_block("kiosk-boot", &boot))
        },
    ))
}

/// 204 while the kiosk exists, 404 once revoked (the screen asks after its socket was
/// closed, to tell a revocation from a rescoping).
async fn alive(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match kiosk_by_token(&state, &token).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
