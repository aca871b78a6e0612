//! Staff: kiosk screens — pair a screen from the code it shows at `/kiosk`, or create a
//! kiosk link; each kiosk's scope, online status and last connection; revoke.

use super::{failed, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::PageResult;
use crate::forms::{Button, CsrfForm};
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use cflows_actors::org::KioskInput;
use cflows_protocol::{KioskId, KioskScope, TeamId, WorkflowId};
use maud::html;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/kiosks", get(kiosks_page).post(create))
        .route("/staff/kiosks/{id}/revoke", post(revoke))
}

async fn kiosks_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render(
        &state,
        &m,
        flash.notice.as_deref(),
        flash.error.as_deref(),
        None,
    )
    .await
}

async fn render(
    state: &AppState,
    m: &Member,
    notice: Option<&str>,
    error: Option<&str>,
    link: Option<&str>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let kiosks = m.org.kiosks().await?;
    let tz = cflows_actors::domain::time::zone(&snap.org.timezone)?;
    let when = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let scope_text = |s: &KioskScope| {
        let mut parts: Vec<String> = s
            .boards
            .iter()
            .filter_map(|b| snap.workflows.iter().find(|w| &w.id == b))
            .map(|w| format!("board {}", w.name))
            .collect();
        parts.extend(
            s.teams
                .iter()
                .filter_map(|t| snap.teams.iter().find(|x| &x.id == t))
                .map(|t| format!("team {}", t.name)),
        );
        if s.today_bookings {
            parts.push("today's bookings".into());
        }
        format!("{} · every {} s", parts.join(", "), s.cycle_seconds)
    };
    let origin = state.settings.http.public_origin();
    let body = html! {
        h1 { "Kiosks" }
        (layout::banners(notice, error))
        @if let Some(link) = link {
            p.notice role="status" { "Open this link on the screen (shown once): " code { (origin) (link) } }
        }
        @if kiosks.is_empty() { p.muted { "No kiosks yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Shows" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                tbody {
                    @for k in &kiosks {
                        @let screens = crate::work::online(state, &k.id);
                        tr {
                            td data-label="Name" { (k.name) }
                            td data-label="Shows" { (scope_text(&k.scope)) }
                            td data-label="Status" data-kiosk-status=(k.id) {
                                @if screens > 0 { "online (" (screens) ")" } @else { "offline" }
                                @if let Some(t) = k.last_seen { br; span.muted { "last seen " (when(t)) } }
                            }
                            td data-label="Actions" {
                                form method="post" action=(format!("/staff/kiosks/{}/revoke", k.id)) {
                                    (layout::csrf_field(&m.authed.csrf))
                                    button.danger type="submit" aria-label=(format!("Revoke {}", k.name)) { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { "Add a kiosk" }
            p.muted { "Open " code { (origin) "/kiosk" } " on the screen and type the code it shows — or leave the code empty to get a secret link." }
            form.stack method="post" action="/staff/kiosks" {
                (layout::csrf_field(&m.authed.csrf))
                label for="k-code" { "Pairing code (optional)" }
                input #k-code type="text" name="code" maxlength="6" autocomplete="off";
                label for="k-name" { "Name" }
                input #k-name type="text" name="name" required maxlength="80" placeholder="Workshop screen";
                fieldset {
                    legend { "Boards" }
                    @for w in &snap.workflows {
                        label { input type="checkbox" name=(format!("board.{}", w.id)) value="true"; " " (w.name) }
                    }
                }
                fieldset {
                    legend { "Team capacity" }
                    @for t in &snap.teams {
                        label { input type="checkbox" name=(format!("team.{}", t.id)) value="true"; " " (t.name) }
                    }
                    label { input type="checkbox" name="today_bookings" value="true"; " Also today's bookings of these teams" }
                }
                label for="k-cycle" { "Seconds per view" }
                input #k-cycle type="number" name="cycle_seconds" min="5" max="3600" value="20";
                button type="submit" { "Add kiosk" }
            }
        }
    };
    staff_page(state, m, Section::Kiosks, "Kiosks", StatusCode::OK, body).await
}

async fn create(
    State(state): State<AppState>,
    Admin(m): Admin,
    CsrfForm(f): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let checked = |prefix: &str| -> Vec<String> {
        f.iter()
            .filter(|(k, v)| k.starts_with(prefix) && *v == "true")
            .map(|(k, _)| k[prefix.len()..].to_string())
            .collect()
    };
    let input = KioskInput {
        name: f.get("name").cloned().unwrap_or_default(),
        scope: KioskScope {
            boards: checked("board.").into_iter().map(WorkflowId::new).collect(),
            teams: checked("team.").into_iter().map(TeamId::new).collect(),
            today_bookings: f.get("today_bookings").is_some_and(|v| v == "true"),
            cycle_seconds: f
                .get("cycle_seconds")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(20),
        },
    };
    let code = f.get("code").map(|c| c.trim()).unwrap_or("");
    if code.is_empty() {
        match m.org.create_kiosk(m.caller(), input).await {
            Ok((_, token)) => {
                render(
                    &state,
                    &m,
                    Some("Kiosk created."),
                    None,
                    Some(&format!("/kiosk/k/{token}")),
                )
                .await
            }
            Err(e) => {
                failed(e, |err| async move {
                    render(&state, &m, None, err.as_deref(), None).await
                })
                .await
            }
        }
    } else {
        match crate::work::pair(&state, &m.org, m.caller(), code, input).await {
            Ok(k) => Ok(see_other_with_notice(
                "/staff/kiosks",
                &format!("Screen paired as '{}'.", k.name),
            )),
            Err(e) => {
                failed(e, |err| async move {
                    render(&state, &m, None, err.as_deref(), None).await
                })
                .await
            }
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    match m.org.revoke_kiosk(m.caller(), KioskId::new(id)).await {
        Ok(()) => Ok(see_other_with_notice(
            "/staff/kiosks",
            "Kiosk revoked; its screen went blank.",
        )),
        Err(e) => {
            failed(e, |err| async move {
                render(&state, &m, None, err.as_deref(), None).await
            })
            .await
        }
    }
}
