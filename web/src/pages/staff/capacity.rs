//! Staff: capacity — job types, each team's working hours and closed days, and the
//! workload per team per day and week (kept live by `/static/js/workload.js`).

use super::{failed, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm};
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use cflows_actors::JobTypeInput;
use cflows_protocol::{ClosedDay, TeamId, WorkingHours, WorkingPeriod};
use chrono::{Datelike, Duration};
use maud::html;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/capacity", get(capacity_page))
        .route("/staff/capacity/job-types", post(create_job_type))
        .route("/staff/capacity/job-types/{id}", post(update_job_type))
        .route(
            "/staff/capacity/job-types/{id}/delete",
            post(delete_job_type),
        )
        .route(
            "/staff/capacity/hours/{team}",
            get(hours_page).post(save_hours),
        )
}

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

async fn capacity_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render(&state, &m, flash.notice.as_deref(), flash.error.as_deref()).await
}

async fn render(
    state: &AppState,
    m: &Member,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let tz = cflows_actors::domain::time::zone(&snap.org.timezone)?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = cflows_actors::domain::time::resolve(tz, monday.and_time(chrono::NaiveTime::MIN))
        .timestamp_millis();
    let to = cflows_actors::domain::time::resolve(
        tz,
        (monday + Duration::days(7)).and_time(chrono::NaiveTime::MIN),
    )
    .timestamp_millis();
    let a = m.acting(state);
    let mut loads = Vec::new();
    for t in &snap.teams {
        let w = a.calendar(&t.id).workload(from, to).await.ok();
        loads.push((t, w));
    }
    let pct = |p: &cflows_protocol::WorkloadPeriod| {
        if p.capacity_minutes == 0 {
            return "closed".to_string();
        }
        let held = 100.0 * p.held_minutes as f64 / p.capacity_minutes as f64;
        format!("{:.0}% ({held:.0}% held)", p.utilization * 100.0)
    };
    let body = html! {
        h1 { "Capacity" }
        (layout::banners(notice, error))
        h2 #workload-title { "Workload, week of " (monday) }
        p.muted { "Booked (confirmed and done) plus held member-hours against capacity × open hours, per team and day. Updates live." }
        div.board-scroll tabindex="0" role="region" aria-labelledby="workload-title" {
            table.board data-workload-from=(from) data-workload-to=(to) {
                thead { tr {
                    th scope="col" { "Team" }
                    @for i in 0..7 { th scope="col" { (DAYS[i][..3]) " " ((monday + Duration::days(i as i64)).day()) } }
                    th scope="col" { "Week" }
                } }
                tbody {
                    @for (t, w) in &loads {
                        tr data-workload-team=(t.id) {
                            th scope="row" { (layout::swatch(&t.colour)) " " (t.name) }
                            @if let Some(w) = w {
                                @for d in &w.days { td data-day=(d.period) { (pct(d)) } }
                                td data-week { @if let Some(wk) = w.weeks.first() { (pct(wk)) } }
                            } @else {
                                td colspan="8" { "not available" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Working hours" }
        ul {
            @for t in &snap.teams {
                li { a href=(format!("/staff/capacity/hours/{}", t.id)) { (t.name) } " · " (t.bookable_count) " bookable" }
            }
        }
        h2 { "Job types" }
        @if snap.job_types.is_empty() { p.muted { "No job types yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Duration" } th scope="col" { "Actions" } } }
                tbody {
                    @for j in &snap.job_types {
                        tr {
                            td data-label="Name" { (layout::swatch(&j.colour)) " " (j.name) }
                            td data-label="Duration" { (j.duration_minutes) " min" }
                            td data-label="Actions" {
                                details.edit {
                                    summary { "Edit" span.visually-hidden { " " (j.name) } }
                                    form.stack method="post" action=(format!("/staff/capacity/job-types/{}", j.id)) {
                                        (layout::csrf_field(&m.authed.csrf))
                                        label for=(format!("jt-{}-name", j.id)) { "Name" }
                                        input id=(format!("jt-{}-name", j.id)) type="text" name="name" value=(j.name) required maxlength="120";
                                        label for=(format!("jt-{}-minutes", j.id)) { "Duration (minutes, 5 to 1440)" }
                                        input id=(format!("jt-{}-minutes", j.id)) type="number" name="duration_minutes" min="5" max="1440" value=(j.duration_minutes) required;
                                        label for=(format!("jt-{}-colour", j.id)) { "Colour" }
                                        input id=(format!("jt-{}-colour", j.id)) type="color" name="colour" value=(j.colour);
                                        p.muted.hint { "Bookings already made keep their length." }
                                        button type="submit" { "Save " (j.name) }
                                    }
                                }
                                form method="post" action=(format!("/staff/capacity/job-types/{}/delete", j.id)) {
                                    (layout::csrf_field(&m.authed.csrf))
                                    button.danger type="submit" aria-label=(format!("Delete {}", j.name)) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { "Add a job type" }
            form.stack method="post" action="/staff/capacity/job-types" {
                (layout::csrf_field(&m.authed.csrf))
                label for="jt-name" { "Name" }
                input #jt-name type="text" name="name" required maxlength="120";
                label for="jt-minutes" { "Duration (minutes, 5 to 1440)" }
                input #jt-minutes type="number" name="duration_minutes" min="5" max="1440" value="60" required;
                label for="jt-colour" { "Colour" }
                input #jt-colour type="color" name="colour" value="#2563eb";
                button type="submit" { "Add job type" }
            }
        }
    };
    let chrome = crate::pages::home::chrome(
        state,
        &m.authed,
        Some(m),
        crate::pages::layout::Section::JobTypes,
    )
    .await?;
    let page = layout::page_with(
        &chrome,
        "Capacity",
        body,
        html! {},
        html! { script type="module" src="/static/js/workload.js" {} },
    );
    Ok(axum::response::IntoResponse::into_response(page))
}

#[derive(Deserialize)]
struct JobTypeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    colour: String,
}

async fn create_job_type(
    State(state): State<AppState>,
    Admin(m): Admin,
    CsrfForm(f): CsrfForm<JobTypeForm>,
) -> PageResult<Response> {
    save_job_type(state, m, None, f).await
}

async fn update_job_type(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<JobTypeForm>,
) -> PageResult<Response> {
    save_job_type(state, m, Some(id), f).await
}

/// Adds a job type (`id` none) or changes one, and answers with the capacity page.
async fn save_job_type(
    state: AppState,
    m: Member,
    id: Option<String>,
    f: JobTypeForm,
) -> PageResult<Response> {
    let input = JobTypeInput {
        name: f.name,
        duration_minutes: f.duration_minutes.trim().parse::<u32>().unwrap_or(0),
        colour: f.colour,
    };
    let (result, done) = match id {
        None => (m.org.create_job_type(m.caller(), input).await, "added"),
        Some(id) => (m.org.update_job_type(m.caller(), id, input).await, "saved"),
    };
    match result {
        Ok(j) => Ok(see_other_with_notice(
            "/staff/capacity",
            &format!("Job type '{}' {done}.", j.name),
        )),
        Err(e) => {
            failed(e, |err| async move {
                render(&state, &m, None, err.as_deref()).await
            })
            .await
        }
    }
}

async fn delete_job_type(
    State(_state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    m.org.delete_job_type(m.caller(), id).await?;
    Ok(see_other_with_notice(
        "/staff/capacity",
        "Job type deleted.",
    ))
}

async fn hours_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(team): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let team = TeamId::new(team);
    let hours = m.acting(&state).calendar(&team).snapshot().await?.hours;
    render_hours(
        &state,
        &m,
        &team,
        &hours,
        flash.notice.as_deref(),
        flash.error.as_deref(),
    )
    .await
}

/// Empty rows the closed-days form offers for new dates.
const NEW_CLOSED_ROWS: usize = 2;

async fn render_hours(
    state: &AppState,
    m: &Member,
    team: &TeamId,
    hours: &WorkingHours,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult<Response> {
    let name = m
        .org
        .team(team.clone())
        .await?
        .ok_or(AppError::NotFound)?
        .name;
    let first = |day: u8| hours.weekly.iter().find(|p| p.weekday == day);
    // A 24-hour organization types 24-hour times: browsers show `type=time` with AM/PM
    // wherever their language says so.
    let h24 = m.org.settings().await?.clock == cflows_protocol::ClockFormat::H24;
    let time_input = |id: String, value: &str| {
        html! {
            @if h24 {
                input id=(id) name=(id) type="text" inputmode="numeric" maxlength="5" size="5" value=(value)
                    pattern="([01][0-9]|2[0-3]):[0-5][0-9]|24:00" placeholder="08:00" title="24-hour time, e.g. 08:00 or 17:30";
            } @else {
                input id=(id) name=(id) type="time" value=(if value == "24:00" { "23:59" } else { value });
            }
        }
    };
    let body = html! {
        h1 { "Working hours: " (name) }
        (layout::banners(notice, error))
        p { a href="/staff/capacity" { "Back to capacity" } }
        div.card {
            form.stack method="post" action=(format!("/staff/capacity/hours/{team}")) {
                (layout::csrf_field(&m.authed.csrf))
                label for="zone" { "Time zone" }
                (layout::zone_input("zone", &hours.zone, true))
                // The week as a table: a row per day, read across like a timetable.
                fieldset.week {
                    legend { "Open hours each week" }
                    table.week-hours {
                        thead { tr { th scope="col" { "Day" } th scope="col" { "Open" } th scope="col" { "From" } th scope="col" { "Until" } } }
                        tbody {
                            @for (i, day) in DAYS.iter().enumerate() {
                                @let n = (i + 1) as u8;
                                @let p = first(n);
                                tr.closed[p.is_none()] {
                                    th scope="row" { span.long { (day) } span.short aria-hidden="true" { (&day[..3]) } }
                                    td {
                                        input id=(format!("open{n}")) type="checkbox" name=(format!("open{n}")) value="1" checked[p.is_some()];
                                        label.visually-hidden for=(format!("open{n}")) { (day) " open" }
                                    }
                                    td {
                                        label.visually-hidden for=(format!("start{n}")) { (day) " from" }
                                        (time_input(format!("start{n}"), p.map_or("08:00", |p| p.start.as_str())))
                                    }
                                    td {
                                        label.visually-hidden for=(format!("end{n}")) { (day) " until" }
                                        (time_input(format!("end{n}"), p.map_or("17:00", |p| p.end.as_str())))
                                    }
                                }
                            }
                        }
                    }
                }
                fieldset.closed-days {
                    legend { "Closed days and holidays" }
                    @for (k, c) in hours.closed.iter().map(Some).chain(std::iter::repeat_n(None, NEW_CLOSED_ROWS)).enumerate() {
                        div.closed-day {
                            label for=(format!("closed_date_{k}")) { "Date" }
                            input id=(format!("closed_date_{k}")) name=(format!("closed_date_{k}")) type="date" value=[c.map(|c| &c.date)];
                            label for=(format!("closed_reason_{k}")) { "Reason" }
                            input id=(format!("closed_reason_{k}")) name=(format!("closed_reason_{k}")) type="text" maxlength="120"
                                value=[c.map(|c| &c.reason)] placeholder=[c.is_none().then_some("e.g. Christmas")];
                            @if c.is_some() {
                                label.check { input type="checkbox" name=(format!("closed_remove_{k}")) value="1"; " Open again" }
                            }
                        }
                    }
                }
                label for="hold" { "Holds last (minutes)" }
                input #hold type="number" name="hold_minutes" min="1" max="1440" value=(hours.hold_minutes);
                button type="submit" { "Save working hours" }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::JobTypes,
        "Working hours",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

async fn save_hours(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(team): Path<String>,
    CsrfForm(f): CsrfForm<Vec<(String, String)>>,
) -> PageResult<Response> {
    let get = |k: &str| {
        f.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let team = TeamId::new(team);
    let mut weekly = Vec::new();
    for n in 1..=7u8 {
        if get(&format!("open{n}")).is_some() {
            weekly.push(WorkingPeriod {
                weekday: n,
                start: get(&format!("start{n}")).unwrap_or_default(),
                end: match get(&format!("end{n}")).unwrap_or_default().as_str() {
                    "23:59" => "24:00".to_string(),
                    other => other.to_string(),
                },
            });
        }
    }
    let closed = (0..)
        .map_while(|k| get(&format!("closed_date_{k}")).map(|date| (k, date)))
        .filter(|(k, date)| !date.is_empty() && get(&format!("closed_remove_{k}")).is_none())
        .map(|(k, date)| ClosedDay {
            date,
            reason: get(&format!("closed_reason_{k}")).unwrap_or_default(),
        })
        .collect();
    let hours = WorkingHours {
        zone: get("zone").unwrap_or_default(),
        weekly,
        closed,
        hold_minutes: get("hold_minutes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let a = m.acting(&state);
    match a.calendar(&team).set_hours(a.booker(), hours.clone()).await {
        Ok(_) => Ok(see_other_with_notice(
            &format!("/staff/capacity/hours/{team}"),
            "Working hours saved.",
        )),
        Err(e) => {
            failed(e, |err| async move {
                render_hours(&state, &m, &team, &hours, None, err.as_deref()).await
            })
            .await
        }
    }
}
