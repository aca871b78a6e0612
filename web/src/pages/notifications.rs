//! `/notifications`: the whole inbox, marking read, and sending a direct message to a
//! colleague. Works without JavaScript; the bell in the header is the live view.

use super::home::chrome;
use super::{layout, see_other_with_notice};
use crate::AppState;
use crate::auth::Member;
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm};
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
    // Times show in the member's zone (else the organization's) and clock format.
    let zone = if m.member.profile.timezone.is_empty() {
        snap.org.timezone.clone()
    } else {
        m.member.profile.timezone.clone()
    };
    let chrome = chrome(state, &m.authed, Some(m), "notifications").await?;
    let csrf = &m.authed.csrf;
    let body = html! {
        h1 { "Notifications" }
        (layout::banners(p.notice.as_deref(), p.error.as_deref()))
        form method="post" action="/notifications/read-all" {
            (layout::csrf_field(csrf))
            button type="submit" { "Mark all read" }
        }
        table {
            thead { tr { th { "When" } th { "What" } th { span.visually-hidden { "Actions" } } } }
            tbody {
                @if items.is_empty() { tr { td colspan="3" { span.muted { "No notifications." } } } }
                @for n in &items {
                    tr.unread[!n.read] {
                        td data-label="When" { (local_time(n.updated_at, &zone, snap.org.clock)) }
                        td data-label="What" { strong { (n.title) @if n.count > 1 { " (" (n.count) ")" } } br; (n.body) }
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

/// Unix milliseconds as wall-clock time in `zone`, 12- or 24-hour.
fn local_time(ms: i64, zone: &str, clock: cflows_protocol::ClockFormat) -> String {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    let local = t.with_timezone(&tz);
    match clock {
        cflows_protocol::ClockFormat::H24 => local.format("%Y-%m-%d %H:%M").to_string(),
        cflows_protocol::ClockFormat::H12 => local.format("%Y-%m-%d %-I:%M %p").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_time;
    use cflows_protocol::ClockFormat;

    #[test]
    fn times_follow_zone_and_clock() {
        // 2026-07-01 12:30 UTC is 14:30 in Berlin (summer time) and 8:30 AM in New York.
        let ms = 1_782_909_000_000;
        assert_eq!(
            local_time(ms, "Europe/Berlin", ClockFormat::H24),
            "2026-07-01 14:30"
        );
        assert_eq!(
            local_time(ms, "America/New_York", ClockFormat::H12),
            "2026-07-01 8:30 AM"
        );
    }
}
