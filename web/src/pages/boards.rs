//! `/boards`: the organization's workflows; `/boards/{id}`: a workflow's board (columns
//! = steps, cards = items with assignee, time in step against the step's target, booking
//! state), filters that can be saved, and a list view with search and sorting;
//! `/items/{id}`: an item with its fields, moves, history and comments.
//!
//! Rendered on the server (usable without JavaScript: forms move, edit and comment); the
//! scripts `/static/js/workboard.js` and `/static/js/item.js` make them live and let
//! cards be dragged (SortableJS).

use super::home::chrome;
use super::layout;
use crate::AppState;
use crate::auth::Member;
use crate::error::{AppError, PageResult};
use crate::forms::CsrfForm;
use crate::pages::layout::Section;
use crate::pages::{Flash, see_other_with_notice};
use crate::work::{CardQuery, select_cards};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cflows_protocol::{
    BookingState, CardView, FieldKind, FieldValue, ItemChange, ItemId, MoveRequest, NewItem,
    Priority, StepDef, UserId, WorkflowId, WorkflowView,
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/boards", get(boards_page))
        .route("/boards/{id}", get(board_page))
        .route("/boards/{id}/items", post(create_item))
        .route("/items/{id}", get(item_page))
        .route("/items/{id}/move", post(move_item))
        .route("/items/{id}/fields", post(save_fields))
        .route("/items/{id}/comments", post(comment))
}

async fn boards_page(State(state): State<AppState>, m: Member) -> PageResult<Response> {
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Boards).await?;
    let workflows = m.org.workflows().await?;
    let body = html! {
        h1 { "Boards" }
        @if workflows.is_empty() {
            p.muted { "No workflows yet." @if m.role().is_admin() { " " a href="/staff/workflows" { "Create one" } "." } }
        }
        ul {
            @for w in &workflows {
                li { a href=(format!("/boards/{}", w.id)) { (w.name) } " " span.muted { "(" (w.key) ", " (w.steps.len()) " steps)" } }
            }
        }
    };
    Ok(layout::page(&chrome, "Boards", body).into_response())
}

/// Time since `since` in words people read at a glance (see [`duration_words`]).
pub fn elapsed(now: i64, since: i64) -> String {
    duration_words(((now - since).max(0) / 60_000) as u64)
}

/// A length of time as "2 d 3 h", "2 d", "8 h", "4 h 10 min" or "12 min": the two
/// largest units, a zero second unit left out.
pub fn duration_words(minutes: u64) -> String {
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `ok`, `amber` (past 75 % of the target) or `red` (past the target).
pub fn lateness(step: Option<&StepDef>, now: i64, entered: i64) -> &'static str {
    match step.and_then(|s| s.target_minutes) {
        Some(t) => {
            let spent = (now - entered) as f64 / 60_000.0;
            if spent > f64::from(t) {
                "red"
            } else if spent > 0.75 * f64::from(t) {
                "amber"
            } else {
                "ok"
            }
        }
        None => "ok",
    }
}

fn booking_label(state: BookingState) -> &'static str {
    match state {
        BookingState::Held => "booking held",
        BookingState::Confirmed => "booked",
        BookingState::Completed => "booking done",
        BookingState::Cancelled => "booking cancelled",
        BookingState::Expired => "hold expired",
    }
}

/// The card's booking button (it opens the booking panel), when its step needs one.
fn card_action(step: Option<&StepDef>, c: &CardView) -> Option<&'static str> {
    if c.done || step.is_none_or(|s| s.booking_job_type.is_none()) {
        return None;
    }
    match c.booking.as_ref().map(|b| b.state) {
        None | Some(BookingState::Cancelled) => Some("Book"),
        Some(BookingState::Expired) => Some("Book again"),
        Some(BookingState::Held) => Some("Confirm"),
        Some(BookingState::Confirmed) => Some("Mark done"),
        Some(BookingState::Completed) => None,
    }
}

/// One card (the same markup `workboard.js` renders for live changes).
pub fn card(
    workflow: &WorkflowView,
    c: &CardView,
    names: &HashMap<String, String>,
    now: i64,
) -> Markup {
    let step = workflow.steps.iter().find(|s| s.id == c.step);
    let late = lateness(step, now, c.entered_at);
    html! {
        li.wcard data-item=(c.id) data-key=(c.key) data-step=(c.step) data-entered=(c.entered_at)
            data-priority=(c.priority.as_str()) data-assignee=[c.assignee.as_ref().map(UserId::as_str)]
            data-late=(late) {
            a href=(format!("/items/{}", c.id)) { span.key { (c.key) } " " span.title { (c.title) } }
            div.meta {
                span.priority { (c.priority.as_str()) }
                " · "
                span.assignee { (c.assignee.as_ref().and_then(|a| names.get(a.as_str())).map_or("unassigned", String::as_str)) }
            }
            div.meta {
                span.in-step data-late=(late) { "in step " (elapsed(now, c.entered_at)) }
                @if let Some(b) = &c.booking { " · " span.booking data-state=(b.state.as_str()) { (booking_label(b.state)) } }
                @else if step.is_some_and(|s| s.booking_job_type.is_some()) { " · " span.booking data-state="none" { "needs booking" } }
            }
            @if let Some(label) = card_action(step, c) {
                button.card-book type="button" data-book=(c.id) { (label) span.visually-hidden { " " (c.key) } }
            }
        }
    }
}

/// What `workboard.js` boots from.
#[derive(Serialize)]
struct BoardBoot<'a> {
    workflow: &'a str,
    /// Member id → display name.
    names: &'a HashMap<String, String>,
    list: bool,
}

#[derive(Deserialize, Default)]
struct BoardPageQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(flatten)]
    cards: CardQuery,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

async fn board_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(q): Query<BoardPageQuery>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let board = a.board(&WorkflowId::new(id.clone()));
    let snap = board.snapshot().await?;
    let org = m.org.snapshot().await?;
    let filters = board.filters(m.member.user.id.clone()).await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Boards).await?;
    let names = member_names(&org);
    let teams: HashMap<String, String> = org
        .teams
        .iter()
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect();
    let list = q.view.as_deref() == Some("list");
    let w = &snap.workflow;
    let sort = ListSort::of(&q.cards);
    let cards = select_cards(w, snap.cards.clone(), &sort.query(&q.cards))?;
    let now = chrono::Utc::now().timestamp_millis();
    let base = format!("/boards/{}", w.id);
    let body = html! {
        div.workboard-page {
            div.board-head {
                h1 { (w.name) }
                nav.board-nav aria-label="Board views" {
                    a href=(base) aria-current=[(!list).then_some("page")] { "Board" }
                    a href=(format!("{base}?view=list")) aria-current=[list.then_some("page")] { "List" }
                }
                p.status #wb-status role="status" aria-live="polite" {}
            }
            (layout::banners(q.notice.as_deref(), q.error.as_deref()))
            form.filters method="get" action=(base) aria-label="Filters" {
                @if list { input type="hidden" name="view" value="list"; }
                @if list {
                    label for="f-q" { "Search" }
                    input #f-q type="search" name="q" value=[q.cards.q.as_deref()];
                }
                label for="f-team" { "Team" }
                select #f-team name="team" {
                    option value="" { "Any" }
                    @for t in &org.teams { option value=(t.id) selected[q.cards.team.as_ref() == Some(&t.id)] { (t.name) } }
                }
                label for="f-assignee" { "Assignee" }
                select #f-assignee name="assignee" {
                    option value="" { "Anyone" }
                    @for x in &org.members { option value=(x.user.id) selected[q.cards.assignee.as_ref() == Some(&x.user.id)] { (x.user.display_name) } }
                }
                label for="f-priority" { "Priority" }
                select #f-priority name="priority" {
                    option value="" { "Any" }
                    @for p in Priority::ALL { option value=(p.as_str()) selected[q.cards.priority == Some(p)] { (p.as_str()) } }
                }
                @if list {
                    label for="f-sort" { "Sort by" }
                    select #f-sort name="sort" {
                        @for (v, label) in [(TIME_IN_STEP, "time in step"), ("key", "number"), ("title", "title"), ("step", "step"), ("priority", "priority"), ("due", "due date")] {
                            option value=(v) selected[sort.key == v] { (label) }
                        }
                    }
                    label for="f-order" { "Order" }
                    select #f-order name="order" {
                        option value="asc" selected[!sort.descending] { "ascending" }
                        option value="desc" selected[sort.descending] { "descending" }
                    }
                    label { input type="checkbox" name="done" value="true" checked[q.cards.done]; " Done too" }
                }
                button type="submit" { "Apply" }
            }
            div.saved-filters {
                @if !filters.is_empty() {
                    span.muted { "Saved: " }
                    @for f in &filters {
                        a href=(filter_link(&base, list, &f.filter)) { (f.name) } " "
                        button.link type="button" data-delete-filter=(f.id) {
                            "×" span.visually-hidden { " delete filter " (f.name) }
                        } " "
                    }
                }
                details {
                    summary { "Save these filters" }
                    form.inline #save-filter data-workflow=(w.id) {
                        label for="sf-name" { "Name" }
                        input #sf-name type="text" name="name" required maxlength="80";
                        button type="submit" { "Save" }
                    }
                }
            }
            @if list {
                div.board-scroll tabindex="0" role="region" aria-label="Items" {
                    table.items #items {
                        thead { tr {
                            th scope="col" { "Item" } th scope="col" { "Title" } th scope="col" { "Step" }
                            th scope="col" { "In step" } th scope="col" { "Assignee" } th scope="col" { "Priority" } th scope="col" { "Due" }
                        } }
                        tbody {
                            @for c in &cards {
                                @let step = w.steps.iter().find(|s| s.id == c.step);
                                tr data-item=(c.id) {
                                    td { a href=(format!("/items/{}", c.id)) { (c.key) } }
                                    td { (c.title) }
                                    td { (step.map_or(c.step.as_str(), |s| s.name.as_str())) }
                                    td data-late=(lateness(step, now, c.entered_at)) { (elapsed(now, c.entered_at)) }
                                    td { (c.assignee.as_ref().and_then(|a| names.get(a.as_str())).map_or("—", String::as_str)) }
                                    td { (c.priority.as_str()) }
                                    td { (c.due.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            } @else {
                div.columns #columns tabindex="0" role="region" aria-label="Board columns" {
                    @for s in &w.steps {
                        @let mine: Vec<&CardView> = cards.iter().filter(|c| c.step == s.id).collect();
                        section.column aria-labelledby=(format!("col-{}", s.id)) data-step=(s.id) {
                            h2 #(format!("col-{}", s.id)) {
                                (s.name) " " span.count data-count { (mine.len()) }
                            }
                            p.muted.step-meta {
                                @if let Some(t) = &s.team { (teams.get(t.as_str()).map_or("", String::as_str)) }
                                @if let Some(t) = s.target_minutes { " · target " (duration_words(u64::from(t))) }
                                @if s.booking_job_type.is_some() { " · needs a booking" }
                            }
                            ul.cards data-step=(s.id) aria-label=(format!("Items in {}", s.name)) {
                                @for c in mine { (card(w, c, &names, now)) }
                            }
                        }
                    }
                }
            }
            @if !list {
                div.card {
                    h2 { "New item" }
                    form.inline method="post" action=(format!("{base}/items")) {
                        (layout::csrf_field(&m.authed.csrf))
                        label for="ni-title" { "Title" }
                        input #ni-title type="text" name="title" required maxlength="200";
                        @if let Some(start) = w.steps.iter().find(|s| s.start) {
                            @for f in start.fields.iter().filter(|f| f.required) {
                                label for=(format!("ni-{}", f.key)) { (f.label) }
                                (field_input(&format!("ni-{}", f.key), &format!("data.{}", f.key), f, None))
                            }
                        }
                        button type="submit" { "Add" }
                    }
                }
            }
            dialog #book-dialog aria-labelledby="booking-title" {
                div #book-dialog-body {}
                form method="dialog" { button.secondary type="submit" { "Close" } }
            }
            dialog #move-error aria-labelledby="move-error-title" {
                h2 #move-error-title { "Not moved" }
                p #move-error-text {}
                form method="dialog" { button type="submit" { "OK" } }
            }
        }
        (layout::json_block("wb-boot", &BoardBoot {
            workflow: w.id.as_str(),
            names: &names,
            list,
        }))
    };
    let scripts = html! {
        script src="/static/vendor/sortable/Sortable.min.js" {}
        script type="module" src="/static/js/workboard.js" {}
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        layout::page_with(&chrome, &w.name, body, html! {}, scripts),
    )
        .into_response())
}

/// The list view's sort key for how long a card has been in its step.
const TIME_IN_STEP: &str = "time_in_step";

/// The list view's sort as the person chose it. "Time in step" is the API's `entered_at`
/// the other way round (the longest in its step entered first); with nothing chosen the
/// list shows the longest in step first.
struct ListSort {
    key: String,
    descending: bool,
}

impl ListSort {
    fn of(q: &CardQuery) -> Self {
        let key = q.sort.clone().unwrap_or_else(|| TIME_IN_STEP.into());
        let descending = match q.order.as_deref() {
            Some(order) => order == "desc",
            None => key == TIME_IN_STEP,
        };
        Self { key, descending }
    }

    /// The card query that lists in this order.
    fn query(&self, q: &CardQuery) -> CardQuery {
        let mut q = q.clone();
        if self.key == TIME_IN_STEP {
            q.sort = Some("entered_at".into());
            q.order = Some(if self.descending { "asc" } else { "desc" }.into());
        } else {
            q.sort = Some(self.key.clone());
            q.order = Some(if self.descending { "desc" } else { "asc" }.into());
        }
        q
    }
}

fn filter_link(base: &str, list: bool, f: &cflows_protocol::BoardFilter) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if list {
        q.append_pair("view", "list");
    }
    if let Some(t) = &f.team {
        q.append_pair("team", t.as_str());
    }
    if let Some(a) = &f.assignee {
        q.append_pair("assignee", a.as_str());
    }
    if let Some(p) = f.priority {
        q.append_pair("priority", p.as_str());
    }
    format!("{base}?{}", q.finish())
}

/// The form control of a step field.
fn field_input(
    id: &str,
    name: &str,
    f: &cflows_protocol::FieldDef,
    v: Option<&FieldValue>,
) -> Markup {
    let text = match v {
        Some(FieldValue::Text(s)) => s.clone(),
        Some(FieldValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    html! {
        @match f.kind {
            FieldKind::Text => input id=(id) type="text" name=(name) value=(text) maxlength="2000";
            FieldKind::File => input id=(id) type="text" name=(name) value=(text) maxlength="500" placeholder="file name or link";
            FieldKind::Number => input id=(id) type="number" step="any" name=(name) value=(text);
            FieldKind::Date => input id=(id) type="date" name=(name) value=(text);
            FieldKind::Select => select id=(id) name=(name) {
                option value="" { "—" }
                @for o in &f.options { option value=(o) selected[text == *o] { (o) } }
            }
            FieldKind::Checkbox => input id=(id) type="checkbox" name=(name) value="true" checked[matches!(v, Some(FieldValue::Bool(true)))];
        }
    }
}

/// Reads the `data.{key}` members of a form as field values (empty clears).
fn form_values(
    workflow: &WorkflowView,
    steps: &[&str],
    form: &HashMap<String, String>,
) -> Result<BTreeMap<String, Option<FieldValue>>, AppError> {
    let mut out = BTreeMap::new();
    for s in workflow
        .steps
        .iter()
        .filter(|s| steps.contains(&s.id.as_str()))
    {
        for f in &s.fields {
            let raw = form.get(&format!("data.{}", f.key)).map(|v| v.trim());
            let value = match (f.kind, raw) {
                (FieldKind::Checkbox, r) => Some(FieldValue::Bool(r == Some("true"))),
                (_, None | Some("")) => None,
                (FieldKind::Number, Some(r)) => {
                    Some(FieldValue::Number(r.parse().map_err(|_| {
                        AppError::InvalidInput(format!("{}: a number", f.label))
                    })?))
                }
                (_, Some(r)) => Some(FieldValue::Text(r.to_string())),
            };
            out.insert(f.key.clone(), value);
        }
    }
    Ok(out)
}

async fn create_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let wid = WorkflowId::new(id.clone());
    let workflow = m.org.workflow(&wid).await?;
    let start: Vec<&str> = workflow
        .steps
        .iter()
        .filter(|s| s.start)
        .map(|s| s.id.as_str())
        .collect();
    let base = format!("/boards/{id}");
    let result = async {
        let data = form_values(&workflow, &start, &form)?
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .filter(|(_, v)| *v != FieldValue::Bool(false))
            .collect();
        let item = a
            .board(&wid)
            .create_item(
                a.booker(),
                NewItem {
                    title: form.get("title").cloned().unwrap_or_default(),
                    assignee: None,
                    priority: Priority::Normal,
                    due: None,
                    data,
                },
            )
            .await?;
        Ok::<_, AppError>(item)
    }
    .await;
    Ok(match result {
        Ok(item) => see_other_with_notice(&base, &format!("{} added.", item.key)),
        Err(e) => redirect_error(&base, &e.to_string()),
    })
}

/// Member id → display name, for cards and history.
fn member_names(org: &cflows_protocol::OrgSnapshot) -> HashMap<String, String> {
    org.members
        .iter()
        .map(|x| (x.user.id.to_string(), x.user.display_name.clone()))
        .collect()
}

fn redirect_error(path: &str, error: &str) -> Response {
    super::see_other_with(path, "error", error)
}

async fn item_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let snap = a.item(&ItemId::new(id.clone())).snapshot().await?;
    let w = m.org.workflow(&snap.item.workflow).await?;
    let org = m.org.snapshot().await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Boards).await?;
    let item = &snap.item;
    let step = w.steps.iter().find(|s| s.id == item.step);
    let step_name = |id: &str| {
        w.steps
            .iter()
            .find(|s| s.id == id)
            .map_or(id.to_string(), |s| s.name.clone())
    };
    let clock = crate::clock::Clock::of(&m.member, &org.org);
    let when = |ms: i64| clock.when(ms);
    let now = chrono::Utc::now().timestamp_millis();
    let panel = super::step_booking::PanelData {
        booking: a.step_booking(item, &w).await?,
        item: item.clone(),
        workflow: w.clone(),
        clock,
    };
    // While the step's booking is not done, only moves back are offered: marking it done
    // moves the item on by itself.
    let waits_for_booking = panel
        .booking
        .as_ref()
        .is_some_and(|b| b.booking.as_ref().map(|b| b.state) != Some(BookingState::Completed));
    let moves: Vec<_> = w
        .transitions
        .iter()
        .filter(|t| t.from == item.step && (t.back || !waits_for_booking))
        .collect();
    let body = html! {
        div.item-page data-item=(item.id) {
            p { a href=(format!("/boards/{}", w.id)) { "← " (w.name) } }
            h1 { span.key { (item.key) } " " (item.title) }
            (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
            p #item-step role="status" aria-live="polite" {
                "In " strong { (step.map_or(item.step.as_str(), |s| s.name.as_str())) }
                " for " span data-late=(lateness(step, now, item.entered_at)) { (elapsed(now, item.entered_at)) }
                @if item.done { " · done" }
            }
            (super::step_booking::panel(&m.authed.csrf, &panel, &super::step_booking::Outcome::default()))
            @if !moves.is_empty() {
                section aria-labelledby="moves-title" {
                    h2 #moves-title { "Move" }
                    @if let Some(sb) = panel.booking.as_ref().filter(|_| waits_for_booking) {
                        p.muted { "Marking the " (sb.job.name) " done moves " (item.key) " on." }
                    }
                    @for t in &moves {
                        @let target = w.steps.iter().find(|s| s.id == t.to);
                        form.inline method="post" action=(format!("/items/{}/move", item.id)) {
                            (layout::csrf_field(&m.authed.csrf))
                            input type="hidden" name="from" value=(item.step);
                            input type="hidden" name="to" value=(t.to);
                            @if target.is_some_and(|s| s.booking_job_type.is_some()) {
                                label for=(format!("bk-{}", t.to)) { "Book from (optional)" }
                                input id=(format!("bk-{}", t.to)) type="datetime-local" name="booking_start";
                            }
                            button type="submit" { (t.label) " → " (step_name(&t.to)) }
                        }
                    }
                }
            }
            section aria-labelledby="fields-title" {
                h2 #fields-title { "Details" }
                form.stack method="post" action=(format!("/items/{}/fields", item.id)) {
                    (layout::csrf_field(&m.authed.csrf))
                    label for="it-title" { "Title" }
                    input #it-title type="text" name="title" value=(item.title) required maxlength="200";
                    label for="it-assignee" { "Assignee" }
                    select #it-assignee name="assignee" {
                        option value="" { "Unassigned" }
                        @for x in org.members.iter().filter(|x| x.active) {
                            option value=(x.user.id) selected[item.assignee.as_ref() == Some(&x.user.id)] { (x.user.display_name) }
                        }
                    }
                    label for="it-priority" { "Priority" }
                    select #it-priority name="priority" {
                        @for p in Priority::ALL { option value=(p.as_str()) selected[item.priority == p] { (p.as_str()) } }
                    }
                    label for="it-due" { "Due" }
                    input #it-due type="date" name="due" value=[item.due.as_deref()];
                    @for s in &w.steps {
                        @if !s.fields.is_empty() {
                            fieldset {
                                legend { (s.name) }
                                @for f in &s.fields {
                                    label for=(format!("fd-{}", f.key)) { (f.label) @if f.required { " (required to leave)" } }
                                    (field_input(&format!("fd-{}", f.key), &format!("data.{}", f.key), f, item.data.get(&f.key)))
                                }
                            }
                        }
                    }
                    button type="submit" { "Save" }
                }
            }
            (super::projects::attachments_section(&m.authed.csrf, &snap.attachments, &format!("/items/{}/attachments", item.id)))
            section aria-labelledby="history-title" {
                h2 #history-title { "History" }
                ol #history {
                    @for h in &snap.history {
                        li {
                            (when(h.at)) " · " (h.by_name) ": "
                            @if let Some(f) = &h.from { (step_name(f)) " → " }
                            (step_name(&h.to)) " (" (h.label) ")"
                            @if let Some(c) = &h.comment { " — " em { (c) } }
                        }
                    }
                }
            }
            (super::projects::comments_section(&m.authed.csrf, &snap.comments, &format!("/items/{}/comments", item.id), &when))
        }
        (layout::json_block("item-boot", &serde_json::json!({ "item": item.id })))
    };
    Ok(super::projects::live_page(
        &chrome,
        &item.key,
        body,
        "/static/js/item.js",
    ))
}

#[derive(Deserialize)]
struct MoveForm {
    from: String,
    to: String,
    #[serde(default)]
    booking_start: Option<String>,
}

async fn move_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<MoveForm>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let path = format!("/items/{id}");
    let start = match f.booking_start.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(local) => Some(a.clock().await?.parse_local(local).ok_or_else(|| {
            AppError::InvalidInput("the hold's start is not a date and time".into())
        })?),
    };
    let r = a
        .move_item(
            &ItemId::new(id.clone()),
            MoveRequest {
                from: f.from,
                to: f.to,
                comment: None,
                booking_start: start,
            },
        )
        .await;
    Ok(match r {
        Ok(item) => {
            let step = m.org.workflow(&item.workflow).await.ok().and_then(|w| {
                w.steps
                    .into_iter()
                    .find(|s| s.id == item.step)
                    .map(|s| s.name)
            });
            see_other_with_notice(
                &path,
                &format!("Moved to {}.", step.as_deref().unwrap_or(&item.step)),
            )
        }
        Err(e) => redirect_error(&path, &e.to_string()),
    })
}

async fn save_fields(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let handle = a.item(&ItemId::new(id.clone()));
    let item = handle.snapshot().await?.item;
    let w = m.org.workflow(&item.workflow).await?;
    let path = format!("/items/{id}");
    let all: Vec<&str> = w.steps.iter().map(|s| s.id.as_str()).collect();
    let result = async {
        let data = form_values(&w, &all, &form)?
            .into_iter()
            // An unticked checkbox that was never set stays unset.
            .filter(|(k, v)| {
                !matches!(v, Some(FieldValue::Bool(false))) || item.data.contains_key(k)
            })
            .collect();
        let get = |k: &str| {
            form.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let change = ItemChange {
            title: get("title"),
            assignee: Some(get("assignee").map(UserId::new)),
            priority: get("priority").and_then(|p| Priority::parse(&p)),
            due: Some(get("due")),
            data,
        };
        handle.update(a.booker(), change).await?;
        Ok::<_, AppError>(())
    }
    .await;
    Ok(match result {
        Ok(()) => see_other_with_notice(&path, "Saved."),
        Err(e) => redirect_error(&path, &e.to_string()),
    })
}

#[derive(Deserialize)]
struct CommentForm {
    body: String,
}

async fn comment(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<CommentForm>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let path = format!("/items/{id}");
    Ok(
        match a
            .item(&ItemId::new(id.clone()))
            .comment(a.booker(), f.body)
            .await
        {
            Ok(_) => see_other_with_notice(&path, "Comment added."),
            Err(e) => redirect_error(&path, &AppError::from(e).to_string()),
        },
    )
}

#[cfg(test)]
mod duration_tests {
    use super::duration_words;

    #[test]
    fn durations_read_in_their_two_largest_units_without_zeros() {
        assert_eq!(duration_words(12), "12 min");
        assert_eq!(duration_words(480), "8 h");
        assert_eq!(duration_words(250), "4 h 10 min");
        assert_eq!(duration_words(2880), "2 d");
        assert_eq!(duration_words(3120), "2 d 4 h");
    }
}
