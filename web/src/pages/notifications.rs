//! `/notifications`: the whole inbox, marking read, and sending a direct message to a
//! colleague. Works without JavaScript; the bell in the header is the live view.

use super::home::chrome;
use super::{layout, see_other_with_notice};
use crate::AppState;
use crate::auth::Member;
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm};
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cflows_protocol::UserId;
use maud::html;
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(page))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(read_one))
        .route("/messages", post(send_message))
}

/// Paging through the inbox.
#[derive(Deserialize, Default)]
struct Paging {
    before: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    m: Member,
    Query(p): Query<Paging>,
) -> PageResult<Response> {
    render(&state, &m, p, axum::http::StatusCode::OK).await
}

async fn render(
    state: &AppState,
    m: &Member,
    p: Paging,
    status: axum::http::StatusCode,
) -> PageResult<Response> {
    let inbox = state.core.directory.inbox(&m.member.user.id).await?;
    let items = inbox.list(p.before.clone(), 25).await?;
    let snap = m.org.snapshot().await?;
    let clock = crate::clock::Clock::of(&m.member, &snap.org);
    let chrome = chrome(state, &m.authed, Some(m), Section::Notifications).await?;
    let csrf = &m.authed.csrf;
    let body = html! {
        h1 { "Notifications" }
        (layout::banners(p.notice.as_deref(), p.error.as_deref()))
        // Shown only while something is unread (the bell keeps it true live).
        form method="post" action="/notifications/read-all" data-when-unread hidden[chrome.unread == 0] {
            (layout::csrf_field(csrf))
            button type="submit" { "Mark all read" }
        }
        table {
            thead { tr { th { "When" } th { "What" } th { span.visually-hidden { "Actions" } } } }
            tbody {
                @if items.is_empty() { tr { td colspan="3" { span.muted { "No notifications." } } } }
                @for n in &items {
                    tr.unread[!n.read] {
                        td data-label="When" { (clock.when(n.updated_at)) }
                        td data-label="What" {
                            a.row-link href=(link_of(n)) { strong { (n.title) @if n.count > 1 { " (" (n.count) ")" } } }
                            br; (n.body)
                        }
                        td {
                            @if !n.read {
                                form method="post" action=(format!("/notifications/{}/read", n.id)) {
                                    (layout::csrf_field(csrf))
                                    button type="submit" { "Mark read" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if items.len() == 25 {
            p { a href=(format!("/notifications?before={}", items[24].id)) { "Older →" } }
        }
        div.card {
            h2 { "Send a message" }
            form.stack method="post" action="/messages" {
                (layout::csrf_field(csrf))
                label for="to" { "To" }
                select #to name="to" required {
                    @for mem in snap.members.iter().filter(|x| x.active && x.user.id != m.member.user.id) {
                        option value=(mem.user.id) { (mem.user.display_name) }
                    }
                }
                label for="body" { "Message" }
                textarea #body name="body" required maxlength="2000" {}
                button type="submit" { "Send" }
            }
        }
    };
    Ok((status, layout::page(&chrome, "Notifications", body)).into_response())
}

async fn read_one(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    state
        .core
        .directory
        .inbox(&m.member.user.id)
        .await?
        .mark_read(id)
        .await?;
    Ok(see_other_with_notice("/notifications", "Marked as read"))
}

async fn read_all(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    state
        .core
        .directory
        .inbox(&m.member.user.id)
        .await?
        .mark_all_read()
        .await?;
    Ok(see_other_with_notice(
        "/notifications",
        "All marked as read",
    ))
}

/// Message form fields.
#[derive(Deserialize)]
struct MessageForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    body: String,
}

async fn send_message(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> PageResult<Response> {
    let result = crate::app::send_direct_message(
        &state,
        &m.org_id,
        &m.member.user.id,
        &m.member.user.display_name,
        &UserId::new(form.to),
        &form.body,
    )
    .await;
    match result {
        Ok(()) => Ok(see_other_with_notice("/notifications", "Message sent")),
        Err(e @ (AppError::InvalidInput(_) | AppError::RateLimited | AppError::NotFound)) => {
            let status = e.status();
            render(
                &state,
                &m,
                Paging {
                    error: Some(e.to_string()),
                    ..Default::default()
                },
                status,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Where a notification leads: its link when that is a page of this server, else the inbox.
pub(crate) fn link_of(n: &cflows_protocol::NotificationView) -> &str {
    if n.link.starts_with('/') && !n.link.starts_with("//") {
        &n.link
    } else {
        "/notifications"
    }
}
