//! Workflow graphs: what makes a definition valid, which moves an item may make, the
//! step forms' values and their JSON Schema. Pure functions; the Org actor validates
//! definitions with them, the WorkItem actor decides moves with them.

use cflows_protocol::{
    BookingState, Condition, ConditionOp, FieldDef, FieldKind, FieldValue, StepDef, TeamId,
    TransitionDef,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// Most steps in one workflow.
pub const MAX_STEPS: usize = 50;
/// Most transitions in one workflow.
pub const MAX_TRANSITIONS: usize = 200;
/// Most fields on one step's form.
pub const MAX_FIELDS: usize = 30;
/// Longest target time in a step (minutes): a year.
pub const MAX_TARGET_MINUTES: u32 = 525_600;

/// A definition as written by an admin (before it gets an id and version).
#[derive(Clone, Debug, PartialEq)]
pub struct Definition<'a> {
    pub name: &'a str,
    pub key: &'a str,
    pub steps: &'a [StepDef],
    pub transitions: &'a [TransitionDef],
}

/// What the organization has that a definition may refer to.
pub struct Known<'a> {
    pub teams: &'a HashSet<TeamId>,
    pub job_types: &'a HashSet<String>,
}

fn step_label(s: &StepDef) -> String {
    format!(
        "step \"{}\"",
        if s.name.is_empty() { &s.id } else { &s.name }
    )
}

fn transition_label(steps: &[StepDef], t: &TransitionDef) -> String {
    let name = |id: &str| {
        steps
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    };
    format!(
        "transition \"{}\" ({} → {})",
        t.label,
        name(&t.from),
        name(&t.to)
    )
}

fn is_slug(s: &str, max: usize, dash: bool) -> bool {
    !s.is_empty()
        && s.chars().count() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (dash && c == '-'))
}

fn text_ok(s: &str, max: usize) -> bool {
    let t = s.trim();
    !t.is_empty() && t.chars().count() <= max && t == s
}

/// Checks a definition. The error names the step or transition that is wrong.
///
/// # Errors
/// A message for people saying what to fix.
pub fn validate(def: &Definition<'_>, known: &Known<'_>) -> Result<(), String> {
    if !text_ok(def.name, 80) {
        return Err("the name must be 1–80 characters without surrounding spaces".into());
    }
    let key_ok = (1..=6).contains(&def.key.len())
        && def.key.starts_with(|c: char| c.is_ascii_uppercase())
        && def
            .key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !key_ok {
        return Err("the key must be 1–6 capital letters or digits, starting with a letter".into());
    }
    if def.steps.is_empty() || def.steps.len() > MAX_STEPS {
        return Err(format!("a workflow has 1–{MAX_STEPS} steps"));
    }
    if def.transitions.len() > MAX_TRANSITIONS {
        return Err(format!(
            "a workflow has at most {MAX_TRANSITIONS} transitions"
        ));
    }
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    let mut field_keys = HashSet::new();
    for s in def.steps {
        let at = step_label(s);
        if !is_slug(&s.id, 40, true) {
            return Err(format!(
                "{at}: its id must be 1–40 characters of a-z, 0-9, - and _"
            ));
        }
        if !ids.insert(s.id.as_str()) {
            return Err(format!("{at}: another step has the id \"{}\"", s.id));
        }
        if !text_ok(&s.name, 80) {
            return Err(format!(
                "{at}: the name must be 1–80 characters without surrounding spaces"
            ));
        }
        if !names.insert(s.name.to_lowercase()) {
            return Err(format!("{at}: another step has this name"));
        }
        if s.description.chars().count() > 2000 {
            return Err(format!(
                "{at}: the description is longer than 2000 characters"
            ));
        }
        if let Some(team) = &s.team
            && !known.teams.contains(team)
        {
            return Err(format!("{at}: its team does not exist"));
        }
        if let Some(job_type) = &s.booking_job_type {
            if s.team.is_none() {
                return Err(format!(
                    "{at}: a step that requires a booking needs a responsible team"
                ));
            }
            if !known.job_types.contains(job_type) {
                return Err(format!("{at}: its job type does not exist"));
            }
            if s.terminal {
                return Err(format!("{at}: a terminal step cannot require a booking"));
            }
        }
        if let Some(m) = s.target_minutes
            && !(1..=MAX_TARGET_MINUTES).contains(&m)
        {
            return Err(format!(
                "{at}: the target time must be 1–{MAX_TARGET_MINUTES} minutes"
            ));
        }
        if s.fields.len() > MAX_FIELDS {
            return Err(format!("{at}: a step has at most {MAX_FIELDS} fields"));
        }
        for f in &s.fields {
            check_field_def(f).map_err(|e| format!("{at}: field \"{}\": {e}", f.key))?;
            if !field_keys.insert(f.key.as_str()) {
                return Err(format!(
                    "{at}: field \"{}\": another field of the workflow has this key",
                    f.key
                ));
            }
        }
    }
    let starts: Vec<&StepDef> = def.steps.iter().filter(|s| s.start).collect();
    match starts.as_slice() {
        [] => return Err("no step is marked as the start".into()),
        [one] if one.terminal => {
            return Err(format!(
                "{}: the start step cannot be terminal",
                step_label(one)
            ));
        }
        [_] => {}
        [_, second, ..] => {
            return Err(format!(
                "{}: only one step can be the start",
                step_label(second)
            ));
        }
    }
    if !def.steps.iter().any(|s| s.terminal) {
        return Err("no step is terminal: items could never be done".into());
    }
    let step = |id: &str| def.steps.iter().find(|s| s.id == id);
    let fields: BTreeMap<&str, &FieldDef> = def
        .steps
        .iter()
        .flat_map(|s| s.fields.iter().map(|f| (f.key.as_str(), f)))
        .collect();
    let mut labels = HashSet::new();
    for t in def.transitions {
        let at = transition_label(def.steps, t);
        let Some(from) = step(&t.from) else {
            return Err(format!("{at}: its source step does not exist"));
        };
        if step(&t.to).is_none() {
            return Err(format!("{at}: its target step does not exist"));
        }
        if t.from == t.to {
            return Err(format!("{at}: a transition must lead to another step"));
        }
        if from.terminal {
            return Err(format!(
                "{at}: nothing may leave a terminal step ({})",
                step_label(from)
            ));
        }
        if !text_ok(&t.label, 80) {
            return Err(format!(
                "{at}: the label must be 1–80 characters without surrounding spaces"
            ));
        }
        if !labels.insert((t.from.as_str(), t.label.to_lowercase())) {
            return Err(format!(
                "{at}: another transition leaving {} has this label",
                step_label(from)
            ));
        }
        if let Some(c) = &t.condition {
            check_condition(c, &fields).map_err(|e| format!("{at}: condition: {e}"))?;
        }
    }
    // Every step reachable from the start.
    let start = starts[0];
    let reached = reach(def.transitions, &start.id, false);
    if let Some(s) = def.steps.iter().find(|s| !reached.contains(s.id.as_str())) {
        return Err(format!(
            "{}: cannot be reached from the start step",
            step_label(s)
        ));
    }
    // A terminal step reachable from every step.
    let terminals: Vec<&str> = def
        .steps
        .iter()
        .filter(|s| s.terminal)
        .map(|s| s.id.as_str())
        .collect();
    let mut finishing: HashSet<&str> = HashSet::new();
    for t in &terminals {
        finishing.extend(reach(def.transitions, t, true));
    }
    if let Some(s) = def
        .steps
        .iter()
        .find(|s| !finishing.contains(s.id.as_str()))
    {
        return Err(format!(
            "{}: no terminal step can be reached from it",
            step_label(s)
        ));
    }
    Ok(())
}

/// The steps reachable from `from` (`backwards`: the steps `from` is reachable from).
fn reach<'a>(transitions: &'a [TransitionDef], from: &'a str, backwards: bool) -> HashSet<&'a str> {
    let mut seen = HashSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        for t in transitions {
            let (a, b) = if backwards {
                (t.to.as_str(), t.from.as_str())
            } else {
                (t.from.as_str(), t.to.as_str())
            };
            if a == at && seen.insert(b) {
                queue.push_back(b);
            }
        }
    }
    seen
}

fn check_field_def(f: &FieldDef) -> Result<(), String> {
    if !is_slug(&f.key, 40, false) {
        return Err("its key must be 1–40 characters of a-z, 0-9 and _".into());
    }
    if !text_ok(&f.label, 80) {
        return Err("the label must be 1–80 characters without surrounding spaces".into());
    }
    match f.kind {
        FieldKind::Select => {
            if f.options.is_empty() || f.options.len() > 50 {
                return Err("a select field has 1–50 options".into());
            }
            let mut seen = HashSet::new();
            for o in &f.options {
                if !text_ok(o, 80) || !seen.insert(o) {
                    return Err(format!("option \"{o}\" is empty, too long or repeated"));
                }
            }
        }
        _ if !f.options.is_empty() => {
            return Err("only a select field has options".into());
        }
        _ => {}
    }
    Ok(())
}

fn check_condition(c: &Condition, fields: &BTreeMap<&str, &FieldDef>) -> Result<(), String> {
    let Some(field) = fields.get(c.field.as_str()) else {
        return Err(format!("no field has the key \"{}\"", c.field));
    };
    match (c.op, &c.value) {
        (ConditionOp::Set | ConditionOp::NotSet, None) => Ok(()),
        (ConditionOp::Set | ConditionOp::NotSet, Some(_)) => {
            Err(format!("\"{}\" takes no value", c.op.as_str()))
        }
        (ConditionOp::Gt | ConditionOp::Lt, Some(FieldValue::Number(_)))
            if field.kind == FieldKind::Number =>
        {
            Ok(())
        }
        (ConditionOp::Gt | ConditionOp::Lt, _) => Err(format!(
            "\"{}\" compares a number field with a number",
            c.op.as_str()
        )),
        (ConditionOp::Eq | ConditionOp::Ne, Some(v)) => check_value(field, v).map(|_| ()),
        (ConditionOp::Eq | ConditionOp::Ne, None) => {
            Err(format!("\"{}\" needs a value", c.op.as_str()))
        }
    }
}

/// Checks a value for a field of kind `field.kind`.
///
/// # Errors
/// What is wrong with the value, for people.
pub fn check_value(field: &FieldDef, value: &FieldValue) -> Result<(), String> {
    let label = &field.label;
    match (field.kind, value) {
        (FieldKind::Text, FieldValue::Text(s)) if s.chars().count() <= 2000 => Ok(()),
        (FieldKind::Text, _) => Err(format!("{label}: a text of at most 2000 characters")),
        (FieldKind::Number, FieldValue::Number(n)) if n.is_finite() => Ok(()),
        (FieldKind::Number, _) => Err(format!("{label}: a number")),
        (FieldKind::Date, FieldValue::Text(s))
            if s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() =>
        {
            Ok(())
        }
        (FieldKind::Date, _) => Err(format!("{label}: a date as YYYY-MM-DD")),
        (FieldKind::Select, FieldValue::Text(s)) if field.options.contains(s) => Ok(()),
        (FieldKind::Select, _) => Err(format!(
            "{label}: one of {}",
            field
                .options
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (FieldKind::Checkbox, FieldValue::Bool(_)) => Ok(()),
        (FieldKind::Checkbox, _) => Err(format!("{label}: true or false")),
        (FieldKind::File, FieldValue::Text(s)) if !s.is_empty() && s.chars().count() <= 500 => {
            Ok(())
        }
        (FieldKind::File, _) => Err(format!("{label}: a file name or link (1–500 characters)")),
    }
}

/// Whether a field counts as filled in: a ticked checkbox, a non-empty string, a number.
pub fn is_set(v: Option<&FieldValue>) -> bool {
    match v {
        None => false,
        Some(FieldValue::Bool(b)) => *b,
        Some(FieldValue::Text(s)) => !s.is_empty(),
        Some(FieldValue::Number(_)) => true,
    }
}

/// Whether `c` holds on `data`.
pub fn holds(c: &Condition, data: &BTreeMap<String, FieldValue>) -> bool {
    let v = data.get(&c.field);
    let set = is_set(v);
    let number = |x: Option<&FieldValue>| match x {
        Some(FieldValue::Number(n)) => Some(*n),
        _ => None,
    };
    match c.op {
        ConditionOp::Set => set,
        ConditionOp::NotSet => !set,
        ConditionOp::Eq => v == c.value.as_ref(),
        ConditionOp::Ne => v != c.value.as_ref(),
        ConditionOp::Gt => {
            matches!((number(v), number(c.value.as_ref())), (Some(a), Some(b)) if a > b)
        }
        ConditionOp::Lt => {
            matches!((number(v), number(c.value.as_ref())), (Some(a), Some(b)) if a < b)
        }
    }
}

/// A transition's rule in people's words, with the field's label: "Passed inspection
/// must be ticked", "Mileage (km) must be less than 100000".
pub fn describe(c: &Condition, fields: &[&FieldDef]) -> String {
    let field = fields.iter().find(|f| f.key == c.field);
    let label = field.map_or(c.field.as_str(), |f| f.label.as_str());
    let checkbox = field.is_some_and(|f| f.kind == FieldKind::Checkbox);
    let value = match &c.value {
        Some(FieldValue::Text(s)) => format!("\"{s}\""),
        Some(FieldValue::Number(n)) => n.to_string(),
        Some(FieldValue::Bool(true)) => "ticked".into(),
        Some(FieldValue::Bool(false)) => "not ticked".into(),
        None => String::new(),
    };
    match c.op {
        ConditionOp::Eq => format!("{label} must be {value}"),
        ConditionOp::Ne => format!("{label} must not be {value}"),
        ConditionOp::Gt => format!("{label} must be more than {value}"),
        ConditionOp::Lt => format!("{label} must be less than {value}"),
        ConditionOp::Set if checkbox => format!("{label} must be ticked"),
        ConditionOp::NotSet if checkbox => format!("{label} must not be ticked"),
        ConditionOp::Set => format!("{label} must be filled in"),
        ConditionOp::NotSet => format!("{label} must be empty"),
    }
}

/// What the move rules need to know of an item.
pub struct ItemFacts<'a> {
    pub step: &'a str,
    pub data: &'a BTreeMap<String, FieldValue>,
    /// The state of the current step's booking, if it has one.
    pub booking: Option<BookingState>,
}

/// Why a move is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoveRefusal {
    /// No transition leads there (or the item is done).
    NoTransition(String),
    /// A transition leads there but its rule does not hold.
    Blocked(String),
}

impl MoveRefusal {
    /// The message for people.
    pub fn message(&self) -> &str {
        match self {
            Self::NoTransition(m) | Self::Blocked(m) => m,
        }
    }
}

/// The transition an item in `item.step` takes to reach `to`, if the rules allow it:
/// a transition between the two steps whose condition holds; for a forward (not
/// `back`) transition also the step's required fields filled in and its booking, if it
/// requires one, completed.
///
/// # Errors
/// Why the move is not allowed, naming the steps, fields or booking concerned.
pub fn check_move<'a>(
    steps: &'a [StepDef],
    transitions: &'a [TransitionDef],
    item: &ItemFacts<'_>,
    to: &str,
) -> Result<&'a TransitionDef, MoveRefusal> {
    let name = |id: &str| {
        steps
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| format!("\"{id}\""), |s| s.name.clone())
    };
    let Some(here) = steps.iter().find(|s| s.id == item.step) else {
        return Err(MoveRefusal::NoTransition(format!(
            "the item's step {} is not in the workflow",
            name(item.step)
        )));
    };
    if here.terminal {
        return Err(MoveRefusal::NoTransition(format!(
            "the item is done ({}); nothing leaves a terminal step",
            here.name
        )));
    }
    let candidates: Vec<&TransitionDef> = transitions
        .iter()
        .filter(|t| t.from == item.step && t.to == to)
        .collect();
    if candidates.is_empty() {
        return Err(MoveRefusal::NoTransition(format!(
            "there is no transition from {} to {}",
            here.name,
            name(to)
        )));
    }
    let fields: Vec<&FieldDef> = steps.iter().flat_map(|s| s.fields.iter()).collect();
    let mut why = None;
    for t in candidates {
        if let Some(c) = &t.condition
            && !holds(c, item.data)
        {
            why.get_or_insert_with(|| {
                format!("\"{}\" is not allowed: {}", t.label, describe(c, &fields))
            });
            continue;
        }
        if !t.back {
            if let Some(f) = here
                .fields
                .iter()
                .find(|f| f.required && !is_set(item.data.get(&f.key)))
            {
                why.get_or_insert_with(|| {
                    format!("fill in \"{}\" before leaving {}", f.label, here.name)
                });
                continue;
            }
            if here.booking_job_type.is_some() && item.booking != Some(BookingState::Completed) {
                why.get_or_insert_with(|| {
                    format!(
                        "{} needs its booking completed before the item can leave it",
                        here.name
                    )
                });
                continue;
            }
        }
        return Ok(t);
    }
    Err(MoveRefusal::Blocked(why.unwrap_or_default()))
}

/// The move a completed booking makes: the first forward transition (in definition
/// order) the rules allow from the item's step.
pub fn advance<'a>(
    steps: &'a [StepDef],
    transitions: &'a [TransitionDef],
    item: &ItemFacts<'_>,
) -> Option<&'a TransitionDef> {
    transitions
        .iter()
        .filter(|t| t.from == item.step && !t.back)
        .find(|t| check_move(steps, transitions, item, &t.to).is_ok_and(|c| c == *t))
}

/// The steps of `old` that `new` no longer has.
pub fn removed_steps<'a>(old: &'a [StepDef], new: &[StepDef]) -> Vec<&'a StepDef> {
    old.iter()
        .filter(|o| !new.iter().any(|n| n.id == o.id))
        .collect()
}

/// JSON Schema (draft 2020-12) of the field data of the steps given (one step's form, or
/// the whole workflow's): what API clients validate against before sending.
pub fn data_schema<'a>(title: &str, steps: impl IntoIterator<Item = &'a StepDef>) -> Value {
    let mut properties = serde_json::Map::new();
    for f in steps.into_iter().flat_map(|s| s.fields.iter()) {
        let mut p = match f.kind {
            FieldKind::Text => json!({ "type": "string", "maxLength": 2000 }),
            FieldKind::Number => json!({ "type": "number" }),
            FieldKind::Date => json!({ "type": "string", "format": "date" }),
            FieldKind::Select => json!({ "type": "string", "enum": f.options }),
            FieldKind::Checkbox => json!({ "type": "boolean" }),
            FieldKind::File => json!({ "type": "string", "minLength": 1, "maxLength": 500 }),
        };
        p["title"] = json!(f.label);
        p["x-required-to-leave-step"] = json!(f.required);
        properties.insert(f.key.clone(), p);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests;
