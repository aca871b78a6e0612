//! Staff: process metrics. Per workflow: time in each step (median and 90th percentile
//! of finished stays, against the step's target), items per step at each week's end,
//! items finished per week, items over their step's target now. Per team: booked versus
//! capacity hours per week, four weeks back and four ahead. Charts are SVG drawn here
//! (`charts.rs`), each with its numbers in a table beside it.

use super::charts::{self, BarRow};
use super::staff_page;
use crate::AppState;
use crate::auth::Admin;
use crate::error::PageResult;
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use cflows_actors::domain::metrics::{self, Entry, Item, WEEK_MS};
use cflows_protocol::{WorkflowId, WorkflowView};
use maud::{Markup, html};
use serde::Deserialize;

/// Weeks of history shown.
const WEEKS: usize = 8;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/staff/metrics", get(metrics_page))
}

#[derive(Deserialize, Default)]
struct Pick {
    #[serde(default)]
    workflow: Option<String>,
}

fn hours(minutes: f64) -> f64 {
    (minutes / 60.0 * 10.0).round() / 10.0
}

async fn workflow_section(state: &AppState, w: &WorkflowView) -> PageResult<Markup> {
    let store = state.core.kernel.store();
    let internal = |e: cflows_actors::StoreError| crate::error::AppError::Internal(e.to_string());
    let items: Vec<Item> = store
        .items_of_workflow(w.id.as_str(), 0)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|i| Item {
            key: i.key,
            title: i.title,
            step: i.step,
            entered_at: i.entered_at,
            done: i.done,
        })
        .collect();
    let entries: Vec<Entry> = store
        .entries_of_workflow(w.id.as_str())
        .await
        .map_err(internal)?
        .into_iter()
        .map(|e| Entry {
            item: e.item,
            at: e.at,
            to: e.to,
        })
        .collect();
    let now = chrono::Utc::now().timestamp_millis();
    let m = metrics::compute(w, &items, &entries, now, WEEKS);
    let rows: Vec<BarRow> = m
        .steps
        .iter()
        .map(|s| BarRow {
            label: s.name.clone(),
            values: vec![s.median_minutes.map(hours), s.p90_minutes.map(hours)],
            marker: s.target_minutes.map(|t| hours(f64::from(t))),
        })
        .collect();
    let step_names: Vec<String> = w.steps.iter().map(|s| s.name.clone()).collect();
    let columns: Vec<(String, Vec<f64>)> = m
        .weeks
        .iter()
        .map(|wk| {
            (
                wk.label.clone(),
                wk.per_step.iter().map(|n| *n as f64).collect(),
            )
        })
        .collect();
    let throughput: Vec<(String, Vec<f64>)> = m
        .weeks
        .iter()
        .map(|wk| (wk.label.clone(), vec![wk.finished as f64]))
        .collect();
    Ok(html! {
        section.metric aria-labelledby="m-time" {
            h2 #m-time { "Time in step" }
            (charts::hbars("time-in-step", "Time in step (hours)", &rows,
                &["median".to_string(), "90th percentile".to_string()], "h", "target"))
            table.data {
                caption { "Finished stays per step, in hours" }
                thead { tr { th scope="col" { "Step" } th scope="col" { "Stays" } th scope="col" { "Median" } th scope="col" { "90th percentile" } th scope="col" { "Target" } } }
                tbody {
                    @for s in &m.steps {
                        tr {
                            th scope="row" { (s.name) }
                            td { (s.stays) }
                            td { (s.median_minutes.map_or("–".into(), |v| charts::num(hours(v)))) }
                            td { (s.p90_minutes.map_or("–".into(), |v| charts::num(hours(v)))) }
                            td { (s.target_minutes.map_or("–".into(), |v| charts::num(hours(f64::from(v))))) }
                        }
                    }
                }
            }
        }
        section.metric aria-labelledby="m-steps" {
            h2 #m-steps { "Items per step over time" }
            (charts::stacked_columns("per-step", "Items per step at each week's end", &columns, &step_names))
        }
        section.metric aria-labelledby="m-done" {
            h2 #m-done { "Throughput" }
            (charts::stacked_columns("throughput", "Items finished per week", &throughput, &["finished".to_string()]))
        }
        section.metric aria-labelledby="m-over" {
            h2 #m-over { "Over target now (" (m.overdue.len()) ")" }
            @if m.overdue.is_empty() {
                p { "No item is over its step's target." }
            } @else {
                table.data {
                    thead { tr { th scope="col" { "Item" } th scope="col" { "Step" } th scope="col" { "In step (h)" } th scope="col" { "Target (h)" } } }
                    tbody {
                        @for o in &m.overdue {
                            tr {
                                th scope="row" { (o.key) " " (o.title) }
                                td { (o.step) }
                                td { (charts::num(hours(o.minutes_in_step as f64))) }
                                td { (charts::num(hours(f64::from(o.target_minutes)))) }
                            }
                        }
                    }
                }
            }
        }
    })
}

async fn metrics_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(pick): Query<Pick>,
) -> PageResult<Response> {
    let workflows = m.org.workflows().await?;
    let chosen = pick
        .workflow
        .as_ref()
        .and_then(|id| {
            workflows
                .iter()
                .find(|w| w.id == WorkflowId::new(id.clone()))
        })
        .or(workflows.first());
    let section = match chosen {
        Some(w) => Some(workflow_section(&state, w).await?),
        None => None,
    };
    // Teams: booked vs capacity per week, 4 back and 4 ahead (whole ISO weeks in UTC).
    let now = chrono::Utc::now().timestamp_millis();
    let monday = metrics::week_start(now);
    let (from, to) = (monday - 4 * WEEK_MS, monday + 4 * WEEK_MS);
    let a = m.acting(&state);
    let mut teams = Vec::new();
    for t in m.org.teams().await? {
        let Ok(load) = a.calendar(&t.id).workload(from, to).await else {
            continue;
        };
        let cols: Vec<(String, Vec<f64>)> = load
            .weeks
            .iter()
            .map(|w| {
                (
                    w.period.clone(),
                    vec![
                        hours(w.capacity_minutes as f64),
                        hours((w.held_minutes + w.confirmed_minutes) as f64),
                    ],
                )
            })
            .collect();
        teams.push((t, cols));
    }
    let body = html! {
        h1 { "Process metrics" }
        @if workflows.len() > 1 {
            nav aria-label="Workflows" {
                ul.inline {
                    @for w in &workflows {
                        li { a href=(format!("/staff/metrics?workflow={}", w.id))
                            aria-current=[(chosen.map(|c| &c.id) == Some(&w.id)).then_some("page")] { (w.name) } }
                    }
                }
            }
        }
        @match (chosen, section) {
            (Some(w), Some(s)) => { p.lede { "Workflow " strong { (w.name) } ", the last " (WEEKS) " weeks (weeks in UTC)." } (s) }
            _ => { p { "No workflow yet: create one under Workflows." } }
        }
        section.metric aria-labelledby="m-teams" {
            h2 #m-teams { "Team capacity: booked vs available" }
            @for (t, cols) in &teams {
                h3 { (t.name) }
                (charts::grouped_columns(&format!("load-{}", t.id), &format!("{}: booked vs capacity (hours)", t.name),
                    cols, &["capacity".to_string(), "booked".to_string()], "h"))
            }
        }
    };
    staff_page(
        &state,
        &m,
        Section::Metrics,
        "Process metrics",
        StatusCode::OK,
        body,
    )
    .await
}
