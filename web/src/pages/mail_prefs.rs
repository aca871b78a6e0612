//! `/me/notifications`: how each kind of notification reaches me (in the app, by mail at
//! once, in a daily digest at an hour I choose), and `/unsubscribe/{token}`: the one-click
//! unsubscribe of a notification mail (RFC 8058: a mail program POSTs to it without a
//! session; opened in a browser it asks first).

use super::home::chrome;
use super::{Flash, layout, see_other_with_notice};
use crate::AppState;
use crate::auth::Member;
use crate::error::PageResult;
use crate::forms::CsrfForm;
use crate::notify_mail::{Mode, kind_words, mode_of, prefs_of};
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cflows_protocol::{ClockFormat, NotificationKind};
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/notifications", get(prefs_page).post(save_prefs))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe_now),
        )
}

fn hour_words(hour: i64, clock: ClockFormat) -> String {
    match clock {
        ClockFormat::H24 => format!("{hour:02}:00"),
        ClockFormat::H12 => {
            let h = if hour % 12 == 0 { 12 } else { hour % 12 };
            format!("{h}:00 {}", if hour < 12 { "AM" } else { "PM" })
        }
    }
}

async fn prefs_page(
    State(state): State<AppState>,
    m: Member,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let clock = crate::clock::Clock::of(&m.member, &snap.org);
    let pref = prefs_of(&state, m.member.user.id.as_str(), clock.zone()).await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Profile).await?;
    let body = html! {
        h1 { "Notifications by mail" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        @if !state.mailer.enabled() {
            div.card.notice role="status" { p { "This server sends no mail at the moment: your choices apply once it does." } }
        }
        p.muted { "Mail “at once” waits a few minutes and is not sent if you read the notification in the app meanwhile; what gathers in that time comes as one mail. Every mail has a link to stop mails like it." }
        form.stack method="post" action="/me/notifications" {
            (layout::csrf_field(&m.authed.csrf))
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "When" } @for mode in Mode::ALL { th scope="col" { (mode.words()) } } } }
                    tbody {
                        @for kind in NotificationKind::ALL {
                            @let current = mode_of(Some(&pref), kind);
                            tr {
                                th scope="row" { (kind_words(kind)) }
                                @for mode in Mode::ALL {
                                    td data-label=(mode.words()) {
                                        input type="radio" name=(kind.as_str()) value=(mode.as_str())
                                            id=(format!("{}-{}", kind.as_str(), mode.as_str()))
                                            checked[current == mode]
                                            aria-label=(format!("{}: {}", kind_words(kind), mode.words()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            label for="digest_hour" { "Daily digest at" }
            select #digest_hour name="digest_hour" {
                @for h in 0..24 {
                    option value=(h) selected[h == pref.digest_hour] { (hour_words(h, snap.org.clock)) }
                }
            }
            p.muted { "Your time zone: " (clock.zone()) }
            button type="submit" { "Save" }
        }
    };
    Ok(layout::page(&chrome, "Notifications by mail", body).into_response())
}

async fn save_prefs(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let clock = crate::clock::Clock::of(&m.member, &snap.org);
    let mut pref = prefs_of(&state, m.member.user.id.as_str(), clock.zone()).await?;
    for kind in NotificationKind::ALL {
        if let Some(mode) = form.get(kind.as_str()).and_then(|v| Mode::parse(v)) {
            pref.modes
                .insert(kind.as_str().into(), mode.as_str().into());
        }
    }
    if let Some(h) = form
        .get("digest_hour")
        .and_then(|h| h.parse::<i64>().ok())
        .filter(|h| (0..24).contains(h))
    {
        pref.digest_hour = h;
    }
    pref.zone = clock.zone().to_string();
    state.core.directory.store().put_mail_pref(&pref).await?;
    Ok(see_other_with_notice(
        "/me/notifications",
        "Saved: your notifications reach you as chosen",
    ))
}

#[derive(Deserialize)]
struct Kinds {
    #[serde(default)]
    kinds: String,
}

async fn unsubscribe_page(Path(token): Path<String>, Query(q): Query<Kinds>) -> Response {
    layout::bare(
        "Stop these mails",
        html! {
            div.login.card {
                h1 { "Stop these mails?" }
                p { "You will still see these notifications in cflows; they will not come by mail any more. You can change this at any time under My profile → Notifications by mail." }
                form method="post" action=(format!("/unsubscribe/{token}?kinds={}", q.kinds)) {
                    button type="submit" { "Stop these mails" }
                }
            }
        },
    )
    .into_response()
}

/// No CSRF token and no session: the secret in the link is the authority (a mail
/// program posts `List-Unsubscribe=One-Click` here, RFC 8058).
async fn unsubscribe_now(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<Kinds>,
) -> PageResult<Response> {
    let Some(words) = crate::notify_mail::unsubscribe(&state, &token, &q.kinds).await? else {
        return Err(crate::error::AppError::NotFound.into());
    };
    Ok(layout::bare(
        "Mails stopped",
        html! {
            div.login.card {
                h1 { "Done" }
                p role="status" { "These no longer come by mail: " (words.join(", ")) "." }
                p { a href="/me/notifications" { "Notifications by mail" } }
            }
        },
    )
    .into_response())
}
