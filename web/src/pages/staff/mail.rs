//! Staff: the organization's mail — what was sent, what waits, what failed and why, and
//! a button to send a failed message again.

use super::staff_page;
use crate::AppState;
use crate::auth::Admin;
use crate::error::PageResult;
use crate::forms::{Button, CsrfForm};
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/mail", get(mail_page))
        .route("/staff/mail/{id}/retry", post(retry))
}

/// A message's state, for people.
fn state_words(state: &str) -> &'static str {
    match state {
        "queued" => "waiting to be sent",
        "sending" => "being sent",
        "sent" => "sent",
        "failed" => "failed",
        _ => "unknown",
    }
}

/// A message's kind, for people.
fn kind_words(kind: &str) -> &'static str {
    match kind {
        "password_reset" => "Password reset link",
        "invitation" => "Invitation",
        "notification" => "Notification",
        _ => "Message",
    }
}

async fn mail_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let clock = crate::clock::Clock::of(&m.member, &snap.org);
    let recent = state
        .core
        .directory
        .store()
        .recent_mail(m.org_id.as_str(), 100)
        .await?;
    let body = html! {
        h1 { "Mail" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        @if !state.mailer.enabled() {
            div.card.notice role="status" {
                p { "This server sends no mail (no mail server is set: " code { "mail.smtp_url" } "). Invitations and password reset links are shown to you to pass on instead." }
            }
        }
        @if recent.is_empty() {
            p.muted { "No mail yet. Invitations and password reset links sent from this organization appear here." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "To" } th { "What" } th { "Queued" } th { "State" } th { "Attempts" } th { "Last error" } th { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for mail in &recent {
                            tr {
                                td data-label="To" { (mail.mail.to) }
                                td data-label="What" { (kind_words(&mail.mail.kind)) br; span.muted { (mail.mail.subject) } }
                                td data-label="Queued" { (clock.when(mail.created_at)) }
                                td data-label="State" {
                                    @if mail.state == "failed" { strong.danger-text { (state_words(&mail.state)) } }
                                    @else { (state_words(&mail.state)) }
                                    @if let Some(at) = mail.sent_at { br; span.muted { (clock.when(at)) } }
                                }
                                td data-label="Attempts" { (mail.attempts) }
                                td data-label="Last error" { @if let Some(e) = &mail.last_error { (e) } @else { span.muted { "—" } } }
                                td {
                                    @if mail.state == "failed" {
                                        form method="post" action=(format!("/staff/mail/{}/retry", mail.id)) {
                                            (layout::csrf_field(&m.authed.csrf))
                                            button type="submit" { "Send again" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    staff_page(
        &state,
        &m,
        Section::Mail,
        "Mail",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

async fn retry(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    let now = chrono::Utc::now().timestamp_millis();
    if !state
        .core
        .directory
        .store()
        .retry_mail(m.org_id.as_str(), &id, now)
        .await?
    {
        return Err(crate::error::AppError::NotFound.into());
    }
    state.mailer.wake();
    Ok(see_other_with_notice(
        "/staff/mail",
        "The message is queued again and goes out in a moment",
    ))
}
