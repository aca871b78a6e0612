//! `/calendar/calendars/{id}/delete`: deleting a shared calendar, confirmed on a page of
//! its own (what goes with it, that it cannot be undone) and done by a plain form. Who
//! may is decided once, below (`check_calendar_deletion`); this page only asks.

use super::home::chrome;
use super::layout::{self, Section};
use super::see_other_with_notice;
use crate::AppState;
use crate::auth::Member;
use crate::error::PageResult;
use crate::forms::{Button, CsrfForm};
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cflows_protocol::CalendarId;
use maud::html;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/calendar/calendars/{id}/delete",
        get(confirm_page).post(delete),
    )
}

async fn confirm_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let id = CalendarId::new(id);
    let snap = crate::calendars::handle(&state.core.kernel, &m.org_id, &m.member, &id)
        .snapshot()
        .await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Calendar).await?;
    let name = &snap.calendar.name;
    let events = snap.events.len();
    // Who else loses it: its members other than the person deleting.
    let others = snap
        .calendar
        .members
        .iter()
        .filter(|x| x.user != m.member.user.id)
        .count();
    let body = html! {
        h1 { "Delete the calendar “" (name) "”?" }
        p {
            @match events {
                0 => "It has no events; its subscription link goes with it.",
                1 => "Its one event and its subscription link go with it.",
                n => { "Its " (n) " events and its subscription link go with it." },
            }
            @match others {
                0 => "",
                1 => " One person who shares it will no longer see it.",
                n => { " " (n) " people who share it will no longer see it." },
            }
            " This cannot be undone."
        }
        form.stack method="post" action=(format!("/calendar/calendars/{id}/delete")) {
            (layout::csrf_field(&m.authed.csrf))
            div.actions {
                button.danger type="submit" { "Delete calendar" }
                " "
                a href="/calendar" { "Keep it" }
            }
        }
    };
    Ok(layout::page(&chrome, &format!("Delete {name}"), body).into_response())
}

async fn delete(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    let id = CalendarId::new(id);
    let name = crate::calendars::handle(&state.core.kernel, &m.org_id, &m.member, &id)
        .snapshot()
        .await?
        .calendar
        .name;
    crate::calendars::delete(&state.core.kernel, &m.org_id, &m.member, &id).await?;
    Ok(see_other_with_notice(
        "/calendar",
        &format!("Deleted the calendar “{name}” and its events."),
    ))
}
