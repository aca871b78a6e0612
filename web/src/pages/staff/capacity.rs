//! Staff: capacity — job types, each team's working hours and closed days, and the
//! workload per team per day and week (kept live by `/static/js/workload.js`).

use super::{failed, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm};
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
    let chrome = crate::pages::home::chrome(state, &m.authed, Some(m), "capacity").await?;
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
    let minutes = f.duration_minutes.trim().parse::<u32>().unwrap_or(0);
    let result = m
        .org
        .create_job_type(
            m.caller(),
            JobTypeInput {
                name: f.name,
                duration_minutes: minutes,
                colour: f.colour,
            },
        )
        .await;
    match result {
        Ok(j) => Ok(see_other_with_notice(
            "/staff/capacity",
            &format!("Job type '{}' added.", j.name),
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
    let closed: String = hours
        .closed
        .iter()
        .map(|c| format!("{} {}", c.date, c.reason).trim().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let body = html! {
        h1 { "Working hours: " (name) }
        (layout::banners(notice, error))
        p { a href="/staff/capacity" { "Back to capacity" } }
        div.card {
            form.stack method="post" action=(format!("/staff/capacity/hours/{team}")) {
                (layout::csrf_field(&m.authed.csrf))
                label for="zone" { "Time zone (IANA name)" }
                input #zone type="text" name="zone" value=(hours.zone) required;
                @for (i, day) in DAYS.iter().enumerate() {
                    @let n = (i + 1) as u8;
                    @let p = first(n);
                    fieldset {
                        legend { (day) }
                        label { input type="checkbox" name=(format!("open{n}")) value="1" checked[p.is_some()]; " Open" }
                        label for=(format!("start{n}")) { "From" }
                        input id=(format!("start{n}")) type="time" name=(format!("start{n}")) value=(p.map_or("08:00", |p| p.start.as_str()));
                        label for=(format!("end{n}")) { "Until" }
                        input id=(format!("end{n}")) type="time" name=(format!("end{n}")) value=(p.map_or("17:00", |p| if p.end == "24:00" { "23:59" } else { p.end.as_str() }));
                    }
                }
                label for="closed" { "Closed days and holidays (one per line: YYYY-MM-DD and a reason)" }
                textarea #closed name="closed" { (closed) }
                label for="hold" { "Holds last (minutes)" }
                input #hold type="number" name="hold_minutes" min="1" max="1440" value=(hours.hold_minutes);
                button type="submit" { "Save working hours" }
            }
        }
    };
    staff_page(
        state,
        m,
        "capacity",
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
    let closed = get("closed")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (date, reason) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            ClosedDay {
                date: date.to_string(),
                reason: reason.trim().to_string(),
            }
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
