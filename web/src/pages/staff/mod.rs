//! The staff panel (`/staff`, organization admins): users and invitations, teams and
//! settings, one module each with its routes. Every page
//! works without JavaScript. Ids of another organization answer 404 like missing ones,
//! because every lookup goes through the session's own organization actor.

use super::home::chrome;
use super::layout;
use crate::AppState;
use crate::auth::Member;
use crate::error::{AppError, PageResult};
use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use cflows_protocol::Role;
use maud::{Markup, html};

mod audit;
mod capacity;
mod charts;
mod kiosks;
mod mail;
mod metrics;
mod settings;
mod teams;
mod users;
mod workflows;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(|| async { Redirect::to("/staff/users") }))
        .merge(users::routes())
        .merge(teams::routes())
        .merge(settings::routes())
        .merge(capacity::routes())
        .merge(workflows::routes())
        .merge(kiosks::routes())
        .merge(audit::routes())
        .merge(metrics::routes())
        .merge(mail::routes())
}

/// Renders `body` in the staff frame with `status`.
pub(super) async fn staff_page(
    state: &AppState,
    m: &Member,
    section: layout::Section,
    title: &str,
    status: axum::http::StatusCode,
    body: Markup,
) -> PageResult<Response> {
    let chrome = chrome(state, &m.authed, Some(m), section).await?;
    Ok((status, layout::page(&chrome, title, body)).into_response())
}

/// Re-renders a page after a failed form: the error's status and message.
pub(super) async fn failed<F, Fut>(e: impl Into<AppError>, render: F) -> PageResult<Response>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = PageResult<Response>>,
{
    let e = e.into();
    if matches!(
        e,
        AppError::NotFound | AppError::Csrf | AppError::Unavailable | AppError::Internal(_)
    ) {
        return Err(e.into());
    }
    let status = e.status();
    let mut resp = render(Some(e.to_string())).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub(super) fn role_select(name: &str, selected: Role, viewer: Role) -> Markup {
    html! {
        select name=(name) id=(name) {
            @for r in [Role::Member, Role::Admin, Role::Owner] {
                @if r != Role::Owner || viewer == Role::Owner || selected == Role::Owner {
                    option value=(r.as_str()) selected[r == selected] { (r.as_str()) }
                }
            }
        }
    }
}
