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
    // Where a local day begins; `next` for the end of the day (the next one's start).
    let day = |d: &str, label: &str, next: bool| -> Result<i64, AppError> {
        let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .and_then(|d| if next { d.succ_opt() } else { Some(d) })
            .ok_or_else(|| AppError::InvalidInput(format!("{label} must be a date")))?;
        Ok(
            cflows_actors::domain::time::resolve(tz, date.and_time(chrono::NaiveTime::MIN))
                .timestamp_millis(),
        )
    };
    let from = nonempty(&f.from)
        .map(|d| day(d, "from", false))
        .transpose()?;
    let to = nonempty(&f.to).map(|d| day(d, "to", true)).transpose()?;
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
    let things = Things::of(&state, &m, &snap).await?;
    let clock = crate::clock::Clock::of(&m.member, &snap.org);
    let one = nonempty(&f.entity)
        .filter(|e| e.contains(':'))
        .map(|e| things.name(e));
    let body = html! {
        h1 { "Audit log" }
        form.audit-filters method="get" action="/staff/audit" aria-label="Filter the log" {
            div.field {
                label for="a-person" { "Person" }
                select #a-person name="person" {
                    option value="" { "Anyone" }
                    @for x in &snap.members { option value=(x.user.id) selected[nonempty(&f.person) == Some(x.user.id.as_str())] { (x.user.display_name) } }
                }
            }
            @if let (Some(e), Some((name, _))) = (nonempty(&f.entity), &one) {
                div.field {
                    input type="hidden" name="entity" value=(e);
                    span { "About " strong { (name) } " (" a href="/staff/audit" { "show everything" } ")" }
                }
            } @else {
                div.field {
                    label for="a-entity" { "About" }
                    select #a-entity name="entity" {
                        @for (kind, words) in KINDS {
                            option value=(kind) selected[nonempty(&f.entity).unwrap_or("") == kind] { (words) }
                        }
                    }
                }
            }
            div.field {
                label for="a-from" { "From" }
                input #a-from type="date" name="from" value=[nonempty(&f.from)];
            }
            div.field {
                label for="a-to" { "To" }
                input #a-to type="date" name="to" value=[nonempty(&f.to)];
            }
            div.field { button type="submit" { "Filter" } }
        }
        p.muted {
            (shown_days(from, to.map(|t| t - 1), &clock))
            "Newest first, at most " (LIMIT) " entries; times in " (clock.zone()) "."
        }
        table {
            thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "About" } } }
            tbody {
                @for r in &rows {
                    @let (thing, link) = things.name(&r.stream);
                    tr {
                        td data-label="When" {
                            @match chrono::DateTime::parse_from_rfc3339(&r.at) {
                                Ok(at) => (clock.when(at.timestamp_millis())),
                                Err(_) => (r.at),
                            }
                        }
                        td data-label="Who" { (r.actor.as_deref().map_or("the system", |a| names.get(a).copied().unwrap_or("a former member"))) }
                        td data-label="What" { (r.kind.replace('_', " ")) }
                        td data-label="About" {
                            @match link { Some(href) => a href=(href) { (thing) }, None => (thing) }
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

/// "From Tue 1 Dec 2026 to Thu 3 Dec 2026. " for the dates a filter asked for, written
/// as pages write dates (empty without dates).
fn shown_days(from: Option<i64>, to: Option<i64>, clock: &crate::clock::Clock) -> String {
    let day = |ms: i64| format!("{} {}", clock.day(ms), clock.date(ms).format("%Y"));
    match (from, to) {
        (Some(f), Some(t)) => format!("From {} to {}. ", day(f), day(t)),
        (Some(f), None) => format!("From {} on. ", day(f)),
        (None, Some(t)) => format!("Until {}. ", day(t)),
        (None, None) => String::new(),
    }
}

/// The kinds of things the log can be narrowed to, in people's words.
const KINDS: [(&str, &str); 7] = [
    ("", "Anything"),
    ("org", "The organization"),
    ("team", "Teams and their bookings"),
    ("calendar", "Calendars"),
    ("board", "Boards"),
    ("item", "Vehicles and items"),
    ("project", "Projects"),
];

/// Names and pages of what the journal's streams are about.
struct Things {
    teams: HashMap<String, String>,
    workflows: HashMap<String, String>,
    items: HashMap<String, String>,
    projects: HashMap<String, String>,
    /// Team, shared and every member's personal calendar, by id: how each is called.
    calendars: HashMap<String, String>,
    kiosks: HashMap<String, String>,
    members: HashMap<String, String>,
}

impl Things {
    async fn of(
        state: &AppState,
        m: &crate::auth::Member,
        snap: &cflows_protocol::OrgSnapshot,
    ) -> Result<Self, AppError> {
        let a = m.acting(state);
        let mut items = HashMap::new();
        for w in &snap.workflows {
            for c in a.board(&w.id).snapshot().await?.cards {
                items.insert(c.id.to_string(), format!("{} {}", c.key, c.title));
            }
        }
        let projects = cflows_actors::project::projects_of(a.kernel, a.org_id, &a.booker())
            .await?
            .into_iter()
            .map(|p| (p.id.to_string(), p.name))
            .collect();
        let mut calendars: HashMap<String, String> = HashMap::new();
        let store = a.kernel.store();
        let every_shared = store
            .calendars_for(a.org_id.as_str(), a.member.user.id.as_str(), &[], true)
            .await?;
        for c in every_shared
            .into_iter()
            .filter(|c| c.kind == cflows_protocol::CalendarKind::Shared)
        {
            calendars.insert(c.id.clone(), format!("Calendar {}", c.name));
        }
        for t in &snap.teams {
            let id = cflows_actors::calendar::team_calendar_id(&t.id);
            calendars.insert(id.to_string(), format!("Calendar of team {}", t.name));
        }
        for x in &snap.members {
            let id = cflows_actors::calendar::personal_id(a.org_id, &x.user.id);
            calendars.insert(
                id.to_string(),
                format!("{}'s calendar", x.user.display_name),
            );
        }
        let kiosks = a
            .org
            .kiosks()
            .await?
            .into_iter()
            .map(|k| (k.id.to_string(), k.name))
            .collect();
        Ok(Self {
            calendars,
            kiosks,
            members: snap
                .members
                .iter()
                .map(|x| (x.user.id.to_string(), x.user.display_name.clone()))
                .collect(),
            teams: snap
                .teams
                .iter()
                .map(|t| (t.id.to_string(), t.name.clone()))
                .collect(),
            workflows: snap
                .workflows
                .iter()
                .map(|w| (w.id.to_string(), w.name.clone()))
                .collect(),
            items,
            projects,
        })
    }

    /// What `stream` is about, and the page that shows it.
    fn name(&self, stream: &str) -> (String, Option<String>) {
        use cflows_protocol::StreamName;
        let known = |map: &HashMap<String, String>, id: &str, what: &str| {
            map.get(id)
                .cloned()
                .unwrap_or_else(|| format!("a deleted {what}"))
        };
        match StreamName::parse(stream) {
            Ok(StreamName::Org(_)) => ("The organization".into(), Some("/staff/settings".into())),
            Ok(StreamName::Team(id)) => (
                format!("Team {}", known(&self.teams, id.as_str(), "team")),
                Some(format!("/staff/teams/{id}")),
            ),
            Ok(StreamName::Board(id)) => (
                format!("Board {}", known(&self.workflows, id.as_str(), "board")),
                Some(format!("/boards/{id}")),
            ),
            Ok(StreamName::Item(id)) => (
                self.items
                    .get(id.as_str())
                    .cloned()
                    .unwrap_or_else(|| "an item no longer on a board".into()),
                Some(format!("/items/{id}")),
            ),
            Ok(StreamName::Project(id)) => (
                format!("Project {}", known(&self.projects, id.as_str(), "project")),
                Some(format!("/projects/{id}")),
            ),
            Ok(StreamName::Calendar(id)) => (
                self.calendars
                    .get(id.as_str())
                    .cloned()
                    .unwrap_or_else(|| "a deleted calendar".into()),
                Some("/calendar".into()),
            ),
            Ok(StreamName::Kiosk(id)) => (
                format!(
                    "Workshop screen {}",
                    known(&self.kiosks, id.as_str(), "screen")
                ),
                Some("/staff/kiosks".into()),
            ),
            Ok(StreamName::Inbox(id)) => (
                format!(
                    "Notifications of {}",
                    self.members
                        .get(id.as_str())
                        .map_or("a former member", String::as_str)
                ),
                None,
            ),
            Ok(StreamName::Platform) | Err(_) => (stream.to_string(), None),
        }
    }
}
