//! `/calendar`: the member's calendars and teams in FullCalendar (month, week, day and
//! list views), live over the socket; booking and quick-create dialogs. And
//! `/calendar/board`: the team capacity board, one lane per team, free / held / booked
//! per slot, live — usable on a workshop screen.
//!
//! The page boots from a JSON block (no inline script under the CSP); the work is done
//! by `/static/js/calendar.js` and `/static/js/board.js`.

use super::home::chrome;
use super::layout;
use crate::AppState;
use crate::auth::Member;
use crate::error::PageResult;
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cflows_protocol::{ClockFormat, OrgSnapshot};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/calendar", get(calendar_page))
        .route("/calendar/board", get(board_page))
}

/// What the scripts boot from.
#[derive(Serialize)]
struct Boot<'a> {
    user: &'a str,
    /// The member's zone (profile, else the organization's).
    zone: String,
    /// The organization's zone (working hours are in it).
    org_zone: &'a str,
    h12: bool,
    admin: bool,
    calendars: Vec<BootCalendar>,
    teams: Vec<BootTeam<'a>>,
    job_types: Vec<cflows_protocol::JobTypeView>,
}

#[derive(Serialize)]
struct BootCalendar {
    id: String,
    name: String,
    colour: String,
    kind: &'static str,
    editable: bool,
    /// The viewer may delete it (a shared calendar they created, or any for admins).
    deletable: bool,
}

#[derive(Serialize)]
struct BootTeam<'a> {
    id: &'a str,
    name: &'a str,
    colour: &'a str,
    capacity: u32,
    mine: bool,
}

/// What the scripts boot from, out of one organization snapshot.
async fn boot<'a>(state: &AppState, m: &'a Member, snap: &'a OrgSnapshot) -> PageResult<Boot<'a>> {
    let (teams, org_zone) = (&snap.teams, snap.org.timezone.as_str());
    let calendars = crate::calendars::list(&state.core.kernel, &m.org_id, &m.member, teams).await?;
    let me = &m.member.user.id;
    let admin = m.role().is_admin();
    Ok(Boot {
        user: me.as_str(),
        zone: if m.member.profile.timezone.is_empty() {
            org_zone.to_string()
        } else {
            m.member.profile.timezone.clone()
        },
        org_zone,
        h12: snap.org.clock == ClockFormat::H12,
        admin,
        calendars: calendars
            .into_iter()
            .map(|c| {
                let editable = match c.kind {
                    cflows_protocol::CalendarKind::Personal
                    | cflows_protocol::CalendarKind::Team => true,
                    cflows_protocol::CalendarKind::Shared => {
                        admin
                            || c.owner.as_ref() == Some(me)
                            || c.members.iter().any(|x| &x.user == me && x.can_edit)
                    }
                };
                let deletable = cflows_actors::domain::permissions::check_calendar_deletion(
                    c.kind,
                    c.owner.as_ref() == Some(me),
                    admin,
                )
                .is_ok();
                BootCalendar {
                    deletable,
                    id: c.id.to_string(),
                    name: c.name,
                    colour: c.colour,
                    kind: match c.kind {
                        cflows_protocol::CalendarKind::Personal => "personal",
                        cflows_protocol::CalendarKind::Team => "team",
                        cflows_protocol::CalendarKind::Shared => "shared",
                    },
                    editable,
                }
            })
            .collect(),
        teams: teams
            .iter()
            .map(|t| BootTeam {
                id: t.id.as_str(),
                name: &t.name,
                colour: &t.colour,
                capacity: t.bookable_count,
                mine: t.members.contains(me),
            })
            .collect(),
        job_types: snap.job_types.clone(),
    })
}

fn fullcalendar_head() -> Markup {
    html! {
        link rel="stylesheet" href="/static/vendor/fullcalendar/skeleton.css";
        link rel="stylesheet" href="/static/vendor/fullcalendar/classic.css";
        link rel="stylesheet" href="/static/vendor/fullcalendar/palette.css";
    }
}

async fn calendar_page(
    State(state): State<AppState>,
    m: Member,
    Query(flash): Query<super::Flash>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Calendar).await?;
    let boot = boot(&state, &m, &snap).await?;
    let body = html! {
        div.calendar-page {
            aside.cal-sidebar aria-label="Calendars and teams" {
                h2 { "Calendars" }
                ul.sources {
                    @for c in &boot.calendars {
                        li {
                            label { input type="checkbox" checked data-source=(format!("calendar:{}", c.id)); " " (layout::swatch(&c.colour)) " " (c.name) }
                            @if c.deletable {
                                " " a.muted href=(format!("/calendar/calendars/{}/delete", c.id)) aria-label=(format!("Delete the calendar {}", c.name)) { "Delete…" }
                            }
                        }
                    }
                }
                h2 { "Team bookings" }
                ul.sources {
                    @for t in &boot.teams {
                        li { label { input type="checkbox" checked[t.mine || boot.admin] data-source=(format!("team:{}", t.id)); " " (layout::swatch(t.colour)) " " (t.name) " " span.muted { "(" (t.capacity) ")" } } }
                    }
                }
                p { a href="/calendar/board" { "Team capacity board" } }
                h2 { "This week" }
                table.workload aria-label="Team utilization this week" {
                    thead { tr { th scope="col" { "Team" } th scope="col" { "Booked" } } }
                    tbody data-workload {}
                }
            }
            section.cal-main {
                h1.visually-hidden { "Calendar" }
                (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
                p.status #cal-status role="status" aria-live="polite" {}
                p.legend.muted { "Drag across the grid to add an event or book a team. Drag or resize to move; a move that does not fit snaps back with the reason." }
                div #calendar {}
            }
        }
        (booking_dialog(&boot))
        (layout::json_block("cal-boot", &boot))
    };
    let scripts = html! {
        script src="/static/vendor/fullcalendar/global.js" {}
        script src="/static/vendor/fullcalendar/classic.js" {}
        script type="module" src="/static/js/calendar.js" {}
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        layout::page_with(&chrome, "Calendar", body, fullcalendar_head(), scripts),
    )
        .into_response())
}

/// The quick-create dialog: an event on one of the member's calendars, or a booking on
/// a team (with the free capacity of the chosen slot shown while choosing).
fn booking_dialog(boot: &Boot<'_>) -> Markup {
    html! {
        dialog #quick aria-labelledby="quick-title" {
            form.stack method="dialog" #quick-form {
                h2 #quick-title { "New" }
                fieldset {
                    legend { "What" }
                    label { input type="radio" name="what" value="booking" checked[!boot.teams.is_empty()] disabled[boot.teams.is_empty()]; " Book a team" }
                    label { input type="radio" name="what" value="event" checked[boot.teams.is_empty()]; " Event on a calendar" }
                }
                div data-when="booking" {
                    label for="q-team" { "Team" }
                    select #q-team name="team" {
                        @for t in &boot.teams { option value=(t.id) { (t.name) } }
                    }
                    label for="q-job" { "Job type" }
                    select #q-job name="job_type" {
                        @for j in &boot.job_types { option value=(j.id) data-minutes=(j.duration_minutes) { (j.name) " (" (j.duration_minutes) " min)" } }
                    }
                    label for="q-members" { "Members needed" }
                    input #q-members type="number" name="members" min="1" value="1";
                    p.capacity #q-free aria-live="polite" {}
                }
                div data-when="event" {
                    label for="q-calendar" { "Calendar" }
                    select #q-calendar name="calendar" {
                        @for c in boot.calendars.iter().filter(|c| c.editable) { option value=(c.id) { (c.name) } }
                    }
                    label for="q-end" { "Ends" }
                    input #q-end type="datetime-local" name="end";
                }
                label for="q-title" { "Title" }
                input #q-title type="text" name="title" maxlength="200";
                label for="q-start" { "Starts" }
                input #q-start type="datetime-local" name="start" required;
                p.error #q-error role="alert" hidden {}
                div.actions {
                    button type="submit" value="save" #q-save { "Save" }
                    button type="button" #q-cancel { "Cancel" }
                }
            }
        }
    }
}

/// `?date=YYYY-MM-DD&view=day|week` of the board.
#[derive(Deserialize, Default)]
struct BoardQuery {
    date: Option<String>,
    view: Option<String>,
}

async fn board_page(
    State(state): State<AppState>,
    m: Member,
    Query(q): Query<BoardQuery>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Capacity).await?;
    let boot = boot(&state, &m, &snap).await?;
    let week = q.view.as_deref() == Some("week");
    #[derive(Serialize)]
    struct BoardBoot<'a> {
        #[serde(flatten)]
        base: &'a Boot<'a>,
        date: Option<String>,
        week: bool,
    }
    let body = html! {
        div.board-page {
            div.board-head {
                h1 { "Team capacity" }
                nav.board-nav aria-label="Board date and view" {
                    button type="button" data-shift="-1" { "Previous" }
                    button type="button" data-today { "Today" }
                    button type="button" data-shift="1" { "Next" }
                    a href="/calendar/board" aria-current=[(!week).then_some("page")] { "Day" }
                    a href="/calendar/board?view=week" aria-current=[week.then_some("page")] { "Week" }
                }
                p.status #board-status role="status" aria-live="polite" {}
            }
            p #board-title {}
            div.board-scroll tabindex="0" role="region" aria-label="Capacity by team and time" {
                table.board #board aria-describedby="board-title" {
                    thead { tr { th scope="col" { "Team" } } }
                    tbody {
                        @for t in &boot.teams {
                            tr data-team=(t.id) {
                                th scope="row" { (layout::swatch(t.colour)) " " (t.name) br; span.muted { (t.capacity) " bookable" } }
                            }
                        }
                    }
                }
            }
            p.legend.muted {
                span.cell-key.free { "free" } " " span.cell-key.partial { "partly booked" } " " span.cell-key.full { "full" } " " span.cell-key.closed { "closed" }
                @if week {
                    " · each day: the most members free at once (of the team's bookable members) and the member-hours still free; full = nobody free all day; held = not yet confirmed"
                } @else {
                    " · each cell: members free at the busiest moment of that time (of the team's bookable members); held = not yet confirmed"
                }
            }
        }
        (layout::json_block("board-boot", &BoardBoot { base: &boot, date: q.date.clone(), week }))
    };
    let scripts = html! { script type="module" src="/static/js/board.js" {} };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        layout::page_with(&chrome, "Team capacity", body, html! {}, scripts),
    )
        .into_response())
}
