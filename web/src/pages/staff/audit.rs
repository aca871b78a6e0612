//! Staff: the audit log, read from the journal — who did what, when — filtered by
//! person, entity (stream kind or one entity's stream) and date.

use super::staff_page;
use crate::AppState;
use crate::auth::Admin;
use crate::error::{AppError, PageResult};
use crate::pages::layout::Section;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use cflows_actors::store::AuditQuery;
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;

/// Rows per page.
const LIMIT: u32 = 200;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/staff/audit", get(audit_page))
}

#[derive(Deserialize, Default)]
struct AuditFilter {
    #[serde(default)]
    person: Option<String>,
    /// `org`, `team`, `calendar`, `board`, `item`, or a stream name (`item:{id}`).
    #[serde(default)]
    entity: Option<String>,
    /// `YYYY-MM-DD`, in the organization's zone.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn audit_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(f): Query<AuditFilter>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let tz = cflows_actors::domain::time::zone(&snap.org.timezone)?;
    let day = |d: &str, label: &str| -> Result<i64, AppError> {
        let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::InvalidInput(format!("{label} must be a date")))?;
        Ok(
            cflows_actors::domain::time::resolve(tz, date.and_time(chrono::NaiveTime::MIN))
                .timestamp_millis(),
        )
    };
    let from = nonempty(&f.from).map(|d| day(d, "from")).transpose()?;
    let to = nonempty(&f.to)
        .map(|d| day(d, "to").map(|t| t + 24 * 3_600_000))
        .transpose()?;
    let entity = nonempty(&f.entity).map(|e| {
        if e.contains(':') {
            e.to_string()
        } else {
            format!("{e}:")
        }
    });
    let rows = state
        .core
        .kernel
        .store()
        .audit(
            m.org_id.as_str(),
            &AuditQuery {
                actor: nonempty(&f.person).map(str::to_string),
                stream_prefix: entity,
                from,
                to,
                limit: LIMIT,
            },
        )
        .await?;
    let names: HashMap<&str, &str> = snap
        .members
        .iter()
        .map(|x| (x.user.id.as_str(), x.user.display_name.as_str()))
        .collect();
    let body = html! {
        h1 { "Audit log" }
        form.filters method="get" action="/staff/audit" aria-label="Filter the log" {
            label for="a-person" { "Person" }
            select #a-person name="person" {
                option value="" { "Anyone" }
                @for x in &snap.members { option value=(x.user.id) selected[nonempty(&f.person) == Some(x.user.id.as_str())] { (x.user.display_name) } }
            }
            label for="a-entity" { "Entity" }
            input #a-entity type="text" name="entity" list="entity-kinds" value=[nonempty(&f.entity)] placeholder="item, team, org, or item:{id}";
            datalist #entity-kinds { @for k in ["org", "team", "calendar", "board", "item"] { option value=(k) {} } }
            label for="a-from" { "From" }
            input #a-from type="date" name="from" value=[nonempty(&f.from)];
            label for="a-to" { "To" }
            input #a-to type="date" name="to" value=[nonempty(&f.to)];
            button type="submit" { "Filter" }
        }
        p.muted { "Newest first, at most " (LIMIT) " entries." }
        table {
            thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Entity" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td data-label="When" { (r.at.get(..19).unwrap_or(&r.at).replace('T', " ")) }
                        td data-label="Who" { (r.actor.as_deref().map_or("system", |a| names.get(a).copied().unwrap_or(a))) }
                        td data-label="What" { (r.kind.replace('_', " ")) }
                        td data-label="Entity" {
                            @if let Some(id) = r.stream.strip_prefix("item:") { a href=(format!("/items/{id}")) { (r.stream) } }
                            @else if let Some(id) = r.stream.strip_prefix("board:") { a href=(format!("/boards/{id}")) { (r.stream) } }
                            @else { (r.stream) }
                        }
                    }
                }
            }
        }
    };
    staff_page(
        &state,
        &m,
        Section::Audit,
        "Audit log",
        StatusCode::OK,
        body,
    )
    .await
}
