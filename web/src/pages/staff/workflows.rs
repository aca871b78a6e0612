//! Staff: the workflow builder. Every edit (a step's fields, a new transition, a removal)
//! is a plain form that posts the whole draft back; the server applies the edit and shows
//! the draft again with its diagram (SVG drawn here) and what validation says of it.
//! Nothing is saved until "Save version", which the Org validates and stores as a new
//! version. Works without JavaScript.

use super::{failed, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use crate::forms::CsrfForm;
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use cflows_actors::domain::workflow::{Definition, Known, describe, validate};
use cflows_actors::org::WorkflowInput;
use cflows_protocol::{
    Condition, ConditionOp, FieldDef, FieldKind, FieldValue, OrgSnapshot, StepDef, TeamId,
    TransitionDef, WorkflowId,
};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/workflows", get(list_page).post(create))
        .route("/staff/workflows/{id}", get(builder_page).post(edit))
}

/// The draft the builder's forms carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Draft {
    name: String,
    key: String,
    steps: Vec<StepDef>,
    transitions: Vec<TransitionDef>,
    #[serde(default)]
    relocate: BTreeMap<String, String>,
}

async fn list_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_list(&state, &m, flash.notice.as_deref(), flash.error.as_deref()).await
}

async fn render_list(
    state: &AppState,
    m: &Member,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult<Response> {
    let workflows = m.org.workflows().await?;
    let body = html! {
        h1 { "Workflows" }
        (layout::banners(notice, error))
        @if workflows.is_empty() { p.muted { "No workflows yet." } }
        ul {
            @for w in &workflows {
                li {
                    a href=(format!("/staff/workflows/{}", w.id)) { (w.name) }
                    " " span.muted { "(" (w.key) ", version " (w.version) ")" }
                    " · " a href=(format!("/boards/{}", w.id)) { "board" }
                }
            }
        }
        div.card {
            h2 { "New workflow" }
            p.muted { "It starts with two steps, New → Done; add steps, teams, bookings and fields in the builder." }
            form.stack method="post" action="/staff/workflows" {
                (layout::csrf_field(&m.authed.csrf))
                label for="wf-name" { "Name" }
                input #wf-name type="text" name="name" required maxlength="80";
                label for="wf-key" { "Key (item prefix, e.g. VH)" }
                input #wf-key type="text" name="key" required maxlength="6" pattern="[A-Z][A-Z0-9]{0,5}";
                button type="submit" { "Create" }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::Workflows,
        "Workflows",
        StatusCode::OK,
        body,
    )
    .await
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    key: String,
}

async fn create(
    State(state): State<AppState>,
    Admin(m): Admin,
    CsrfForm(f): CsrfForm<CreateForm>,
) -> PageResult<Response> {
    let step = |id: &str, name: &str, start: bool, terminal: bool| StepDef {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        team: None,
        start,
        terminal,
        booking_job_type: None,
        target_minutes: None,
        fields: Vec::new(),
    };
    let input = WorkflowInput {
        name: f.name.trim().to_string(),
        key: f.key.trim().to_uppercase(),
        steps: vec![
            step("new", "New", true, false),
            step("done", "Done", false, true),
        ],
        transitions: vec![TransitionDef {
            from: "new".into(),
            to: "done".into(),
            label: "Finish".into(),
            condition: None,
            back: false,
        }],
        relocate: BTreeMap::new(),
    };
    match m.org.save_workflow(m.caller(), None, input).await {
        Ok(w) => Ok(see_other_with_notice(
            &format!("/staff/workflows/{}", w.id),
            "Workflow created.",
        )),
        Err(e) => {
            failed(e, |err| async move {
                render_list(&state, &m, None, err.as_deref()).await
            })
            .await
        }
    }
}

async fn builder_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let w = m.org.workflow(&WorkflowId::new(id.clone())).await?;
    let draft = Draft {
        name: w.name,
        key: w.key,
        steps: w.steps,
        transitions: w.transitions,
        relocate: BTreeMap::new(),
    };
    render_builder(
        &state,
        &m,
        &id,
        &draft,
        false,
        flash.notice.as_deref(),
        flash.error.as_deref(),
    )
    .await
}

/// How many empty rows the field form offers for new fields.
const NEW_FIELD_ROWS: usize = 1;

/// A step's form fields as a small table: label, kind, required, choices (for a list),
/// remove. Existing fields keep their key (a hidden input); a new field's key is made
/// from its label.
fn fields_form(i: usize, fields: &[FieldDef]) -> Markup {
    let row = |n: usize, f: Option<&FieldDef>| {
        let id = |what: &str| format!("s{i}-f{n}-{what}");
        html! {
            tr {
                td data-label="Label" {
                    @if let Some(f) = f { input type="hidden" name=(format!("field_key_{n}")) value=(f.key); }
                    label.visually-hidden for=(id("label")) { @if f.is_some() { "Label" } @else { "New field's label" } }
                    input id=(id("label")) type="text" name=(format!("field_label_{n}")) value=[f.map(|f| &f.label)] maxlength="80"
                        placeholder=[f.is_none().then_some("New field")];
                }
                td data-label="Kind" {
                    label.visually-hidden for=(id("kind")) { "Kind" }
                    select id=(id("kind")) name=(format!("field_kind_{n}")) {
                        @for k in FieldKind::ALL {
                            option value=(k.as_str()) selected[f.is_some_and(|f| f.kind == k)] { (kind_words(k)) }
                        }
                    }
                }
                td data-label="Required" {
                    label.check { input type="checkbox" name=(format!("field_required_{n}")) value="true" checked[f.is_some_and(|f| f.required)]; span.visually-hidden { " Required" } }
                }
                td data-label="Choices" {
                    label.visually-hidden for=(id("options")) { "Choices for a list, separated by commas" }
                    input id=(id("options")) type="text" name=(format!("field_options_{n}")) value=[f.map(|f| f.options.join(", "))]
                        placeholder="For a list: A, B, C";
                }
                td data-label="Remove" {
                    @if f.is_some() {
                        label.check { input type="checkbox" name=(format!("field_remove_{n}")) value="true"; span.visually-hidden { " Remove " (f.map_or("", |f| f.label.as_str())) } }
                    }
                }
            }
        }
    };
    html! {
        fieldset.fields {
            legend { "Form fields people fill in at this step" }
            table.fields {
                thead { tr { th scope="col" { "Label" } th scope="col" { "Kind" } th scope="col" { "Required" } th scope="col" { "Choices" } th scope="col" { "Remove" } } }
                tbody {
                    @for (n, f) in fields.iter().enumerate() { (row(n, Some(f))) }
                    @for n in fields.len()..fields.len() + NEW_FIELD_ROWS { (row(n, None)) }
                }
            }
        }
    }
}

/// A field kind in people's words.
fn kind_words(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "Text",
        FieldKind::Number => "Number",
        FieldKind::Date => "Date",
        FieldKind::Select => "List of choices",
        FieldKind::Checkbox => "Tick box",
        FieldKind::File => "File or photo",
    }
}

/// The fields the step form sent (see [`fields_form`]), in order, without removed rows
/// and empty new rows.
fn fields_from_form(f: &HashMap<String, String>) -> Result<Vec<FieldDef>, AppError> {
    let get = |k: String| f.get(&k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut out: Vec<FieldDef> = Vec::new();
    for n in 0.. {
        if !f.contains_key(&format!("field_label_{n}")) {
            break;
        }
        let label = get(format!("field_label_{n}"));
        let key = get(format!("field_key_{n}"));
        if get(format!("field_remove_{n}")) == "true" || (key.is_empty() && label.is_empty()) {
            continue;
        }
        if label.is_empty() {
            return Err(AppError::InvalidInput(format!(
                "field {}: give it a label people will read",
                n + 1
            )));
        }
        let kind_name = get(format!("field_kind_{n}"));
        let kind = FieldKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind_name)
            .unwrap_or(FieldKind::Text);
        let key = if key.is_empty() {
            key_from_label(&label, |k| out.iter().any(|x| x.key == k))
        } else {
            key
        };
        out.push(FieldDef {
            key,
            label,
            kind,
            required: get(format!("field_required_{n}")) == "true",
            options: get(format!("field_options_{n}"))
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        });
    }
    Ok(out)
}

/// A field key made from its label ("Mileage (km)" → `mileage_km`), unique among `taken`.
fn key_from_label(label: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut key = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let mut key = key
        .trim_end_matches('_')
        .chars()
        .take(32)
        .collect::<String>();
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        key.insert_str(0, "field_");
    }
    let base = key.clone();
    let mut n = 2;
    while taken(&key) {
        key = format!("{base}_{n}");
        n += 1;
    }
    key
}

/// Units a step's target is given in, largest first: (form value, minutes, words).
const TARGET_UNITS: [(&str, u32, &str); 3] = [
    ("days", 24 * 60, "days"),
    ("hours", 60, "hours"),
    ("minutes", 1, "minutes"),
];

/// A target in the largest unit that states it exactly: (amount, unit).
fn target_in_units(minutes: u32) -> (u32, &'static str) {
    TARGET_UNITS
        .iter()
        .find(|(_, per, _)| minutes.is_multiple_of(*per))
        .map_or((minutes, "minutes"), |(unit, per, _)| {
            (minutes / per, *unit)
        })
}

/// What a step's box in the diagram says under its name: "start · booking · 2 days".
fn step_summary(s: &StepDef) -> String {
    let role = if s.start {
        Some("start".to_string())
    } else if s.terminal {
        Some("done".to_string())
    } else {
        None
    };
    role.into_iter()
        .chain(s.booking_job_type.is_some().then(|| "booking".to_string()))
        .chain(s.target_minutes.map(target_words))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A target as people say it: "2 days", "8 hours", "90 minutes".
fn target_words(minutes: u32) -> String {
    let (n, unit) = target_in_units(minutes);
    let words = TARGET_UNITS
        .iter()
        .find(|(u, _, _)| *u == unit)
        .map_or(unit, |(_, _, w)| w);
    if n == 1 {
        format!("1 {}", words.trim_end_matches('s'))
    } else {
        format!("{n} {words}")
    }
}

/// What validation says of the draft (none: it would save).
fn problems(draft: &Draft, snap: &OrgSnapshot) -> Option<String> {
    let teams: HashSet<TeamId> = snap.teams.iter().map(|t| t.id.clone()).collect();
    let job_types: HashSet<String> = snap.job_types.iter().map(|j| j.id.clone()).collect();
    validate(
        &Definition {
            name: &draft.name,
            key: &draft.key,
            steps: &draft.steps,
            transitions: &draft.transitions,
        },
        &Known {
            teams: &teams,
            job_types: &job_types,
        },
    )
    .err()
}

/// The workflow as a diagram: steps left to right in board order, forward transitions
/// arching above, back transitions below.
pub fn diagram(steps: &[StepDef], transitions: &[TransitionDef]) -> Markup {
    const W: i64 = 150;
    const H: i64 = 56;
    const GAP: i64 = 50;
    const TOP: i64 = 110;
    let width = (steps.len() as i64) * (W + GAP) + GAP;
    let height = TOP + H + 110;
    let x = |i: usize| GAP + i as i64 * (W + GAP);
    let index = |id: &str| steps.iter().position(|s| s.id == id);
    html! {
        svg.diagram width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) role="img" aria-labelledby="diagram-title" {
            title #diagram-title { "Diagram: " (steps.len()) " steps, " (transitions.len()) " transitions" }
            defs {
                marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" fill="#374151" {}
                }
            }
            @for t in transitions {
                @if let (Some(a), Some(b)) = (index(&t.from), index(&t.to)) {
                    @let (x1, x2) = (x(a) + W / 2, x(b) + W / 2);
                    @let below = t.back || b < a;
                    @let lift = 30 + 18 * (a.abs_diff(b) as i64);
                    @let (y, cy) = if below { (TOP + H, TOP + H + lift) } else { (TOP, TOP - lift) };
                    @let offset = if below { -8 } else { 8 };
                    path d=(format!("M {} {y} Q {} {cy} {} {y}", x1 + offset, (x1 + x2) / 2, x2 - offset))
                        fill="none" stroke=(if t.back { "#6b7280" } else { "#374151" })
                        stroke-dasharray=[t.back.then_some("5 4")] marker-end="url(#arrow)" {}
                    text x=((x1 + x2) / 2) y=(if below { (y + cy) / 2 + 14 } else { (y + cy) / 2 - 2 }) text-anchor="middle" font-size="12" fill="#111827" {
                        (t.label) @if t.condition.is_some() { " ◆" }
                    }
                }
            }
            @for (i, s) in steps.iter().enumerate() {
                rect x=(x(i)) y=(TOP) width=(W) height=(H) rx="8"
                    fill=(if s.terminal { "#dcfce7" } else if s.start { "#dbeafe" } else { "#ffffff" })
                    stroke="#1f2937" stroke-width=(if s.start || s.terminal { "2.5" } else { "1.2" }) {}
                text x=(x(i) + W / 2) y=(TOP + 24) text-anchor="middle" font-size="13" font-weight="700" fill="#111827" { (s.name) }
                text x=(x(i) + W / 2) y=(TOP + 42) text-anchor="middle" font-size="11" fill="#374151" {
                    (step_summary(s))
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_builder(
    state: &AppState,
    m: &Member,
    id: &str,
    draft: &Draft,
    dirty: bool,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let current = m.org.workflow(&WorkflowId::new(id)).await?;
    let json = serde_json::to_string(draft).map_err(|e| AppError::Internal(e.to_string()))?;
    let problem = problems(draft, &snap);
    let action = format!("/staff/workflows/{id}");
    let draft_field = html! {
        (layout::csrf_field(&m.authed.csrf))
        input type="hidden" name="draft" value=(json);
    };
    let all_fields: Vec<&FieldDef> = draft.steps.iter().flat_map(|s| s.fields.iter()).collect();
    let step_name = |sid: &str| {
        draft
            .steps
            .iter()
            .find(|s| s.id == sid)
            .map_or(sid.to_string(), |s| s.name.clone())
    };
    let body = html! {
        p { a href="/staff/workflows" { "← Workflows" } " · " a href=(format!("/boards/{id}")) { "Board" } }
        h1 { (draft.name) " " span.muted { "version " (current.version) } }
        (layout::banners(notice, error))
        @if dirty {
            p.notice role="status" { "Draft — not saved yet." }
        }
        @match &problem {
            Some(p) => p.error role="alert" { "This draft cannot be saved yet: " (p) },
            None => p.muted { "The draft is valid." },
        }
        div.board-scroll tabindex="0" role="region" aria-label="Workflow diagram" {
            (diagram(&draft.steps, &draft.transitions))
        }
        form.inline method="post" action=(action) {
            (draft_field)
            input type="hidden" name="action" value="publish";
            button type="submit" disabled[problem.is_some()] { "Save version " (current.version + 1) }
        }
        div.card {
            h2 { "Name and key" }
            form.inline method="post" action=(action) {
                (draft_field)
                input type="hidden" name="action" value="meta";
                label for="m-name" { "Name" }
                input #m-name type="text" name="name" value=(draft.name) required maxlength="80";
                label for="m-key" { "Key" }
                input #m-key type="text" name="key" value=(draft.key) required maxlength="6";
                button type="submit" { "Apply" }
            }
        }
        h2 { "Steps" }
        @for (i, s) in draft.steps.iter().enumerate() {
            div.card {
                h3 { (i + 1) ". " (s.name) " " span.muted { "(" (s.id) ")" } }
                form.stack method="post" action=(action) {
                    (draft_field)
                    input type="hidden" name="action" value=(format!("step:{i}"));
                    label for=(format!("s{i}-name")) { "Name" }
                    input id=(format!("s{i}-name")) type="text" name="step_name" value=(s.name) required maxlength="80";
                    label for=(format!("s{i}-desc")) { "Description" }
                    input id=(format!("s{i}-desc")) type="text" name="step_description" value=(s.description) maxlength="2000";
                    label for=(format!("s{i}-team")) { "Responsible team" }
                    select id=(format!("s{i}-team")) name="step_team" {
                        option value="" { "None" }
                        @for t in &snap.teams { option value=(t.id) selected[s.team.as_ref() == Some(&t.id)] { (t.name) } }
                    }
                    label for=(format!("s{i}-job")) { "Requires a booking of" }
                    select id=(format!("s{i}-job")) name="step_job" {
                        option value="" { "No booking needed" }
                        @for j in &snap.job_types { option value=(j.id) selected[s.booking_job_type.as_ref() == Some(&j.id)] { (j.name) } }
                    }
                    @let target = s.target_minutes.map(target_in_units);
                    fieldset.target {
                        legend { "Target time in this step" }
                        label.visually-hidden for=(format!("s{i}-target")) { "Amount" }
                        input id=(format!("s{i}-target")) type="number" min="1" name="step_target" value=[target.map(|t| t.0)] placeholder="none";
                        label.visually-hidden for=(format!("s{i}-unit")) { "Unit" }
                        select id=(format!("s{i}-unit")) name="step_target_unit" {
                            @for (unit, _, words) in TARGET_UNITS {
                                option value=(unit) selected[target.map_or(unit == "hours", |t| t.1 == unit)] { (words) }
                            }
                        }
                        p.muted.hint { "Cards turn amber at three quarters of it and red past it. Empty: no target." }
                    }
                    label { input type="checkbox" name="step_start" value="true" checked[s.start]; " Start step" }
                    label { input type="checkbox" name="step_terminal" value="true" checked[s.terminal]; " Terminal (done)" }
                    (fields_form(i, &s.fields))
                    div.actions { button type="submit" { "Apply" } }
                }
                form.inline method="post" action=(action) {
                    (draft_field)
                    input type="hidden" name="action" value=(format!("up:{i}"));
                    button type="submit" disabled[i == 0] { "Earlier" span.visually-hidden { ": " (s.name) } }
                }
                form.inline method="post" action=(action) {
                    (draft_field)
                    input type="hidden" name="action" value=(format!("down:{i}"));
                    button type="submit" disabled[i + 1 == draft.steps.len()] { "Later" span.visually-hidden { ": " (s.name) } }
                }
                form.inline method="post" action=(action) {
                    (draft_field)
                    input type="hidden" name="action" value=(format!("remove:{i}"));
                    label for=(format!("s{i}-to")) { "Its items go to" }
                    select id=(format!("s{i}-to")) name="relocate_to" {
                        @for o in draft.steps.iter().filter(|o| o.id != s.id) { option value=(o.id) { (o.name) } }
                    }
                    button.danger type="submit" { "Remove step" span.visually-hidden { ": " (s.name) } }
                }
            }
        }
        div.card {
            h3 { "Add a step" }
            form.inline method="post" action=(action) {
                (draft_field)
                input type="hidden" name="action" value="add_step";
                label for="ns-id" { "Id" }
                input #ns-id type="text" name="step_id" required maxlength="40" pattern="[a-z0-9_\\-]+";
                label for="ns-name" { "Name" }
                input #ns-name type="text" name="step_name" required maxlength="80";
                button type="submit" { "Add" }
            }
        }
        h2 { "Transitions" }
        table {
            thead { tr { th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Label" } th scope="col" { "Rule" } th scope="col" { "Actions" } } }
            tbody {
                @for (i, t) in draft.transitions.iter().enumerate() {
                    tr {
                        td data-label="From" { (step_name(&t.from)) }
                        td data-label="To" { (step_name(&t.to)) }
                        td data-label="Label" { (t.label) @if t.back { " (back)" } }
                        td data-label="Rule" {
                            @if let Some(c) = &t.condition {
                                (describe(c, &all_fields))
                            } @else { "Always" }
                        }
                        td data-label="Actions" {
                            form method="post" action=(action) {
                                (draft_field)
                                input type="hidden" name="action" value=(format!("remove_transition:{i}"));
                                button.danger type="submit" { "Remove" span.visually-hidden { " transition " (t.label) } }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h3 { "Add a transition" }
            form.stack method="post" action=(action) {
                (draft_field)
                input type="hidden" name="action" value="add_transition";
                label for="nt-from" { "From" }
                select #nt-from name="from" { @for s in &draft.steps { option value=(s.id) { (s.name) } } }
                label for="nt-to" { "To" }
                select #nt-to name="to" { @for s in &draft.steps { option value=(s.id) { (s.name) } } }
                label for="nt-label" { "Label" }
                input #nt-label type="text" name="label" required maxlength="80";
                label { input type="checkbox" name="back" value="true"; " A step back (rework)" }
                label for="nt-field" { "Only when field" }
                select #nt-field name="cond_field" {
                    option value="" { "(always)" }
                    @for f in &all_fields { option value=(f.key) { (f.label) } }
                }
                label for="nt-op" { "is" }
                select #nt-op name="cond_op" {
                    @for (v, l) in [("set", "filled in"), ("not_set", "empty"), ("eq", "equal to"), ("ne", "not equal to"), ("gt", "more than"), ("lt", "less than")] {
                        option value=(v) { (l) }
                    }
                }
                label for="nt-value" { "Value" }
                input #nt-value type="text" name="cond_value";
                div.actions { button type="submit" { "Add" } }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::Workflows,
        &draft.name,
        StatusCode::OK,
        body,
    )
    .await
}

/// Applies one builder form to the draft.
fn apply(draft: &mut Draft, action: &str, f: &HashMap<String, String>) -> Result<(), AppError> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    let (verb, index) = match action.split_once(':') {
        Some((v, i)) => (
            v,
            i.parse::<usize>()
                .map_err(|_| AppError::InvalidInput("unknown step".into()))?,
        ),
        None => (action, 0),
    };
    let bad = || AppError::InvalidInput("that step or transition no longer exists".into());
    match verb {
        "meta" => {
            draft.name = get("name");
            draft.key = get("key").to_uppercase();
        }
        "step" => {
            let fields = fields_from_form(f)?;
            let per = TARGET_UNITS
                .iter()
                .find(|(unit, _, _)| *unit == get("step_target_unit"))
                .map_or(1, |(_, per, _)| *per);
            let target = match opt("step_target") {
                Some(t) => Some(
                    t.parse::<u32>()
                        .ok()
                        .and_then(|n| n.checked_mul(per))
                        .ok_or_else(|| {
                            AppError::InvalidInput(
                                "the target time is a whole number of minutes, hours or days"
                                    .into(),
                            )
                        })?,
                ),
                None => None,
            };
            let s = draft.steps.get_mut(index).ok_or_else(bad)?;
            s.name = get("step_name");
            s.description = get("step_description");
            s.team = opt("step_team").map(TeamId::new);
            s.booking_job_type = opt("step_job");
            s.target_minutes = target;
            s.start = get("step_start") == "true";
            s.terminal = get("step_terminal") == "true";
            s.fields = fields;
        }
        "up" if index > 0 && index < draft.steps.len() => draft.steps.swap(index, index - 1),
        "down" if index + 1 < draft.steps.len() => draft.steps.swap(index, index + 1),
        "remove" => {
            if index >= draft.steps.len() {
                return Err(bad());
            }
            let removed = draft.steps.remove(index);
            draft
                .transitions
                .retain(|t| t.from != removed.id && t.to != removed.id);
            if let Some(to) = opt("relocate_to") {
                draft.relocate.insert(removed.id, to);
            }
        }
        "add_step" => draft.steps.push(StepDef {
            id: get("step_id"),
            name: get("step_name"),
            description: String::new(),
            team: None,
            start: false,
            terminal: false,
            booking_job_type: None,
            target_minutes: None,
            fields: Vec::new(),
        }),
        "add_transition" => {
            let condition = match opt("cond_field") {
                None => None,
                Some(field) => {
                    let op = match get("cond_op").as_str() {
                        "eq" => ConditionOp::Eq,
                        "ne" => ConditionOp::Ne,
                        "gt" => ConditionOp::Gt,
                        "lt" => ConditionOp::Lt,
                        "not_set" => ConditionOp::NotSet,
                        _ => ConditionOp::Set,
                    };
                    let kind = draft
                        .steps
                        .iter()
                        .flat_map(|s| s.fields.iter())
                        .find(|x| x.key == field)
                        .map(|x| x.kind);
                    let raw = get("cond_value");
                    let value = match op {
                        ConditionOp::Set | ConditionOp::NotSet => None,
                        _ => Some(match kind {
                            Some(FieldKind::Number) => {
                                FieldValue::Number(raw.parse().map_err(|_| {
                                    AppError::InvalidInput(
                                        "the condition's value must be a number".into(),
                                    )
                                })?)
                            }
                            Some(FieldKind::Checkbox) => FieldValue::Bool(raw == "true"),
                            _ => FieldValue::Text(raw),
                        }),
                    };
                    Some(Condition { field, op, value })
                }
            };
            draft.transitions.push(TransitionDef {
                from: get("from"),
                to: get("to"),
                label: get("label"),
                condition,
                back: get("back") == "true",
            });
        }
        "remove_transition" => {
            if index >= draft.transitions.len() {
                return Err(bad());
            }
            draft.transitions.remove(index);
        }
        _ => return Err(AppError::InvalidInput("unknown action".into())),
    }
    Ok(())
}

async fn edit(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let mut draft: Draft = serde_json::from_str(f.get("draft").map_or("", String::as_str))
        .map_err(|_| AppError::InvalidInput("the draft was damaged; reload the builder".into()))?;
    let action = f.get("action").cloned().unwrap_or_default();
    if action == "publish" {
        let input = WorkflowInput {
            name: draft.name.clone(),
            key: draft.key.clone(),
            steps: draft.steps.clone(),
            transitions: draft.transitions.clone(),
            relocate: draft.relocate.clone(),
        };
        return match m
            .org
            .save_workflow(m.caller(), Some(WorkflowId::new(id.clone())), input)
            .await
        {
            Ok(w) => Ok(see_other_with_notice(
                &format!("/staff/workflows/{id}"),
                &format!("Version {} saved.", w.version),
            )),
            Err(e) => {
                failed(e, |err| async move {
                    render_builder(&state, &m, &id, &draft, true, None, err.as_deref()).await
                })
                .await
            }
        };
    }
    let error = apply(&mut draft, &action, &f).err().map(|e| e.to_string());
    render_builder(&state, &m, &id, &draft, true, None, error.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::{key_from_label, target_in_units, target_words};

    #[test]
    fn keys_come_from_labels_and_stay_unique() {
        assert_eq!(key_from_label("Mileage (km)", |_| false), "mileage_km");
        assert_eq!(key_from_label("2nd key", |_| false), "field_2nd_key");
        assert_eq!(key_from_label("VIN", |k| k == "vin"), "vin_2");
        assert_eq!(key_from_label("???", |_| false), "field_");
    }

    #[test]
    fn targets_read_in_the_largest_exact_unit() {
        assert_eq!(target_in_units(2880), (2, "days"));
        assert_eq!(target_in_units(720), (12, "hours"));
        assert_eq!(target_in_units(90), (90, "minutes"));
        assert_eq!(target_words(1440), "1 day");
        assert_eq!(target_words(480), "8 hours");
    }
}
