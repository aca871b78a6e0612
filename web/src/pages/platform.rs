//! `/platform`, for platform operators: every organization, creating one, and health.
//! For anyone else the area does not exist (404).

use super::home::chrome;
use super::{Flash, layout, see_other_with_notice};
use crate::AppState;
use crate::auth::{Authed, Operator};
use crate::error::PageResult;
use crate::forms::CsrfForm;
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cflows_protocol::ClockFormat;
use maud::html;
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/platform", get(platform_page))
        .route("/platform/orgs", post(create_org))
}

/// New organization form fields.
#[derive(Deserialize, Default, Clone)]
struct NewOrgForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    clock: String,
    #[serde(default)]
    owner_email: String,
    #[serde(default)]
    owner_name: String,
    #[serde(default)]
    owner_password: String,
}

async fn platform_page(
    State(state): State<AppState>,
    Operator(a): Operator,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let form = NewOrgForm {
        timezone: "Europe/Berlin".into(),
        clock: "h24".into(),
        ..Default::default()
    };
    render(&state, &a, flash, &form, axum::http::StatusCode::OK).await
}

async fn render(
    state: &AppState,
    a: &Authed,
    flash: Flash,
    f: &NewOrgForm,
    status: axum::http::StatusCode,
) -> PageResult<Response> {
    let dir = &state.core.directory;
    let orgs = dir.orgs().await?;
    let store = dir.store();
    let store_ok = store.health().await.is_ok();
    let migrated = store.migrations_current().await.unwrap_or(false);
    let users = store.count("user").await.unwrap_or(0);
    let chrome = chrome(state, a, None, Section::Platform).await?;
    let body = html! {
        h1 { "Platform" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card {
            h2 { "Health" }
            table {
                tr { th { "Store" } td { (if store_ok { "reachable" } else { "FAILING" }) } }
                tr { th { "Migrations" } td { (if migrated { "current" } else { "NOT CURRENT" }) } }
                tr { th { "Organizations" } td { (orgs.len()) } }
                tr { th { "Users" } td { (users) } }
                tr { th { "Organization actors running" } td { (dir.running_orgs()) } }
            }
        }
        h2 { "Organizations" }
        table {
            thead { tr { th { "Name" } th { "Slug" } th { "Time zone" } th { "Clock" } } }
            tbody { @for o in &orgs { tr { td data-label="Name" { (o.name) } td data-label="Slug" { (o.slug) } td data-label="Time zone" { (o.timezone) } td data-label="Clock" { (o.clock.as_str()) } } } }
        }
        div.card {
            h2 { "Create an organization" }
            form.stack method="post" action="/platform/orgs" {
                (layout::csrf_field(&a.csrf))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(f.name) required maxlength="120";
                label for="slug" { "Slug (empty: made from the name)" }
                input #slug type="text" name="slug" value=(f.slug) maxlength="60";
                label for="timezone" { "Time zone" }
                (layout::zone_input("timezone", &f.timezone, true))
                label for="clock" { "Time display" }
                select #clock name="clock" {
                    option value="h24" selected[f.clock != "h12"] { "24-hour" }
                    option value="h12" selected[f.clock == "h12"] { "12-hour" }
                }
                label for="owner_email" { "Owner's email (an existing user, or a new one)" }
                input #owner_email type="email" name="owner_email" value=(f.owner_email) required;
                label for="owner_name" { "Owner's name (new user)" }
                input #owner_name type="text" name="owner_name" value=(f.owner_name);
                label for="owner_password" { "Owner's initial password (new user)" }
                input #owner_password type="password" name="owner_password" autocomplete="new-password";
                button type="submit" { "Create organization" }
            }
        }
    };
    Ok((status, layout::page(&chrome, "Platform", body)).into_response())
}

async fn create_org(
    State(state): State<AppState>,
    Operator(a): Operator,
    CsrfForm(form): CsrfForm<NewOrgForm>,
) -> PageResult<Response> {
    let result = match ClockFormat::parse(&form.clock) {
        None => Err(crate::error::AppError::InvalidInput(
            "choose a time display: h12 or h24".into(),
        )),
        Some(clock) => {
            let body = crate::app::NewOrgWithOwner {
                name: form.name.clone(),
                slug: form.slug.clone(),
                timezone: form.timezone.clone(),
                clock,
                owner_email: form.owner_email.clone(),
                owner_name: form.owner_name.clone(),
                owner_password: form.owner_password.clone(),
            };
            crate::app::create_org_with_owner(&state, body).await
        }
    };
    match result {
        Ok(org) => Ok(see_other_with_notice(
            "/platform",
            &format!("{} was created", org.name),
        )),
        Err(e) => {
            let status = e.status();
            render(
                &state,
                &a,
                Flash {
                    notice: None,
                    error: Some(e.to_string()),
                },
                &form,
                status,
            )
            .await
        }
    }
}
