//! Staff: the organization's settings (name, zone, clock format).

use super::{failed, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use crate::forms::CsrfForm;
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use cflows_actors::SettingsChange;
use cflows_protocol::ClockFormat;
use maud::html;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/staff/settings", get(settings_page).post(update_settings))
}

/// Settings form fields.
#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    clock: String,
}

async fn settings_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let org = m.org.snapshot().await?.org;
    let form = SettingsForm {
        name: org.name,
        timezone: org.timezone,
        clock: org.clock.as_str().into(),
    };
    render_settings(&state, &m, flash, &form).await
}

async fn render_settings(
    state: &AppState,
    m: &Member,
    flash: Flash,
    f: &SettingsForm,
) -> PageResult<Response> {
    let body = html! {
        h1 { "Organization settings" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card {
            form.stack method="post" action="/staff/settings" {
                (layout::csrf_field(&m.authed.csrf))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(f.name) required maxlength="120";
                label for="timezone" { "Time zone" }
                (layout::zone_input("timezone", &f.timezone, true))
                label for="clock" { "Time display" }
                select #clock name="clock" {
                    option value="h24" selected[f.clock == "h24"] { "24-hour (13:30)" }
                    option value="h12" selected[f.clock == "h12"] { "12-hour (1:30 PM)" }
                }
                button type="submit" { "Save settings" }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::Settings,
        "Settings",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

async fn update_settings(
    State(state): State<AppState>,
    Admin(m): Admin,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> PageResult<Response> {
    let result = match ClockFormat::parse(&form.clock) {
        None => Err(AppError::InvalidInput("choose 12- or 24-hour time".into())),
        Some(clock) => m
            .org
            .update_settings(
                m.caller(),
                SettingsChange {
                    name: form.name.clone(),
                    timezone: form.timezone.clone(),
                    clock,
                },
            )
            .await
            .map_err(AppError::from),
    };
    match result {
        Ok(_) => Ok(see_other_with_notice("/staff/settings", "Settings saved")),
        Err(e) => {
            failed(e, |error| {
                render_settings(
                    &state,
                    &m,
                    Flash {
                        notice: None,
                        error,
                    },
                    &form,
                )
            })
            .await
        }
    }
}
