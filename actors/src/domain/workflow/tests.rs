use super::*;
use proptest::prelude::*;

fn step(id: &str) -> StepDef {
    StepDef {
        id: id.into(),
        name: id.to_uppercase(),
        description: String::new(),
        team: None,
        start: false,
        terminal: false,
        booking_job_type: None,
        target_minutes: None,
        fields: Vec::new(),
    }
}

fn tr(from: &str, to: &str, label: &str) -> TransitionDef {
    TransitionDef {
        from: from.into(),
        to: to.into(),
        label: label.into(),
        condition: None,
        back: false,
    }
}

fn known() -> (HashSet<TeamId>, HashSet<String>) {
    (
        HashSet::from([TeamId::new("mechanics")]),
        HashSet::from(["repair".to_string()]),
    )
}

fn check(steps: &[StepDef], transitions: &[TransitionDef]) -> Result<(), String> {
    let (teams, job_types) = known();
    validate(
        &Definition {
            name: "Vehicles",
            key: "VH",
            steps,
            transitions,
        },
        &Known {
            teams: &teams,
            job_types: &job_types,
        },
    )
}

/// Request → Repair → Sold, Repair → Request (back).
fn vehicle() -> (Vec<StepDef>, Vec<TransitionDef>) {
    let mut request = step("request");
    request.start = true;
    request.fields = vec![FieldDef {
        key: "vin".into(),
        label: "VIN".into(),
        kind: FieldKind::Text,
        required: true,
        options: vec![],
    }];
    let mut repair = step("repair");
    repair.team = Some(TeamId::new("mechanics"));
    repair.booking_job_type = Some("repair".into());
    repair.fields = vec![FieldDef {
        key: "km".into(),
        label: "Mileage".into(),
        kind: FieldKind::Number,
        required: false,
        options: vec![],
    }];
    let mut sold = step("sold");
    sold.terminal = true;
    let mut back = tr("repair", "request", "Back to request");
    back.back = true;
    let mut cheap = tr("repair", "sold", "Sell");
    cheap.condition = Some(Condition {
        field: "km".into(),
        op: ConditionOp::Lt,
        value: Some(FieldValue::Number(100_000.0)),
    });
    (
        vec![request, repair, sold],
        vec![tr("request", "repair", "Repair"), cheap, back],
    )
}

#[test]
fn the_vehicle_workflow_is_valid() {
    let (s, t) = vehicle();
    check(&s, &t).unwrap();
}

/// An edit that breaks the vehicle workflow.
type Breaker = Box<dyn Fn(&mut Vec<StepDef>, &mut Vec<TransitionDef>)>;

#[test]
fn each_refusal_names_what_is_wrong() {
    let (s, t) = vehicle();
    let cases: Vec<(Breaker, &str)> = vec![
        (
            Box::new(|s, _| s[0].start = false),
            "no step is marked as the start",
        ),
        (
            Box::new(|s, _| s[1].start = true),
            "step \"REPAIR\": only one step can be the start",
        ),
        (
            Box::new(|s, _| s[2].terminal = false),
            "no step is terminal",
        ),
        (
            Box::new(|_, t| t.push(tr("sold", "request", "Reopen"))),
            "transition \"Reopen\" (SOLD → REQUEST): nothing may leave a terminal step",
        ),
        (
            Box::new(|_, t| t.push(tr("request", "sold", "Repair"))),
            "transition \"Repair\" (REQUEST → SOLD): another transition leaving step \"REQUEST\" has this label",
        ),
        (
            Box::new(|_, t| t.retain(|t| t.to != "repair")),
            "step \"REPAIR\": cannot be reached from the start step",
        ),
        (
            Box::new(|s, t| {
                s.push(step("limbo"));
                t.push(tr("request", "limbo", "Park"));
            }),
            "step \"LIMBO\": no terminal step can be reached from it",
        ),
        (
            Box::new(|_, t| t.push(tr("request", "nowhere", "Go"))),
            "transition \"Go\" (REQUEST → nowhere): its target step does not exist",
        ),
        (
            Box::new(|s, _| s[1].team = None),
            "step \"REPAIR\": a step that requires a booking needs a responsible team",
        ),
        (
            Box::new(|s, _| s[1].booking_job_type = Some("paint".into())),
            "step \"REPAIR\": its job type does not exist",
        ),
        (
            Box::new(|s, _| s[2].fields = s[0].fields.clone()),
            "step \"SOLD\": field \"vin\": another field of the workflow has this key",
        ),
        (
            Box::new(|_, t| {
                t[1].condition.as_mut().unwrap().field = "colour".into();
            }),
            "transition \"Sell\" (REPAIR → SOLD): condition: no field has the key \"colour\"",
        ),
        (
            Box::new(|_, t| {
                t[1].condition.as_mut().unwrap().field = "vin".into();
            }),
            "condition: \"lt\" compares a number field with a number",
        ),
    ];
    for (break_it, expected) in cases {
        let (mut s, mut t) = (s.clone(), t.clone());
        break_it(&mut s, &mut t);
        let err = check(&s, &t).unwrap_err();
        assert!(err.contains(expected), "expected {expected:?}, got {err:?}");
    }
}

#[test]
fn moves_follow_transitions_conditions_fields_and_bookings() {
    let (s, t) = vehicle();
    let mut data = BTreeMap::new();
    fn facts<'a>(
        step: &'a str,
        data: &'a BTreeMap<String, FieldValue>,
        booking: Option<BookingState>,
    ) -> ItemFacts<'a> {
        ItemFacts {
            step,
            data,
            booking,
        }
    }
    // Required VIN first.
    let err = check_move(&s, &t, &facts("request", &data, None), "repair").unwrap_err();
    assert_eq!(err.message(), "fill in \"VIN\" before leaving REQUEST");
    data.insert("vin".into(), FieldValue::Text("WVW123".into()));
    assert_eq!(
        check_move(&s, &t, &facts("request", &data, None), "repair")
            .unwrap()
            .label,
        "Repair"
    );
    // No transition request → sold.
    assert!(matches!(
        check_move(&s, &t, &facts("request", &data, None), "sold"),
        Err(MoveRefusal::NoTransition(_))
    ));
    // Booking required to leave repair forward; back is allowed.
    data.insert("km".into(), FieldValue::Number(50_000.0));
    let held = facts("repair", &data, Some(BookingState::Held));
    assert_eq!(
        check_move(&s, &t, &held, "sold").unwrap_err().message(),
        "REPAIR needs its booking completed before the item can leave it"
    );
    assert!(check_move(&s, &t, &held, "request").is_ok());
    let done = facts("repair", &data, Some(BookingState::Completed));
    assert!(check_move(&s, &t, &done, "sold").is_ok());
    assert_eq!(advance(&s, &t, &done).unwrap().to, "sold");
    // Condition.
    data.insert("km".into(), FieldValue::Number(150_000.0));
    let done = facts("repair", &data, Some(BookingState::Completed));
    assert_eq!(
        check_move(&s, &t, &done, "sold").unwrap_err().message(),
        "\"Sell\" is not allowed: Mileage must be less than 100000"
    );
    assert!(
        advance(&s, &t, &done).is_none(),
        "back transitions never advance"
    );
    // Terminal.
    assert!(check_move(&s, &t, &facts("sold", &data, None), "request").is_err());
}

#[test]
fn values_are_checked_by_kind() {
    let f = |kind, options: &[&str]| FieldDef {
        key: "f".into(),
        label: "F".into(),
        kind,
        required: false,
        options: options.iter().map(|o| o.to_string()).collect(),
    };
    let t = |s: &str| FieldValue::Text(s.into());
    assert!(check_value(&f(FieldKind::Date, &[]), &t("2026-02-28")).is_ok());
    assert!(check_value(&f(FieldKind::Date, &[]), &t("2026-02-30")).is_err());
    assert!(check_value(&f(FieldKind::Number, &[]), &t("12")).is_err());
    assert!(check_value(&f(FieldKind::Number, &[]), &FieldValue::Number(12.5)).is_ok());
    assert!(check_value(&f(FieldKind::Select, &["a", "b"]), &t("b")).is_ok());
    assert!(check_value(&f(FieldKind::Select, &["a", "b"]), &t("c")).is_err());
    assert!(check_value(&f(FieldKind::Checkbox, &[]), &FieldValue::Bool(false)).is_ok());
    assert!(check_value(&f(FieldKind::File, &[]), &t("")).is_err());
    assert!(check_value(&f(FieldKind::Text, &[]), &t(&"x".repeat(2001))).is_err());
}

#[test]
fn schema_lists_every_field_with_its_type() {
    let (s, _) = vehicle();
    let schema = data_schema("Vehicles", &s);
    assert_eq!(schema["properties"]["vin"]["type"], "string");
    assert_eq!(schema["properties"]["km"]["type"], "number");
    assert_eq!(schema["additionalProperties"], false);
}

/// A random graph: `n` steps, flags and edges from the generator.
fn graph() -> impl Strategy<Value = (Vec<StepDef>, Vec<TransitionDef>)> {
    (2usize..7)
        .prop_flat_map(|n| {
            (
                Just(n),
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec((0..n, 0..n, any::<bool>()), 0..14),
            )
        })
        .prop_map(|(n, starts, terminals, edges)| {
            let steps: Vec<StepDef> = (0..n)
                .map(|i| {
                    let mut s = step(&format!("s{i}"));
                    s.start = starts[i];
                    s.terminal = terminals[i];
                    s
                })
                .collect();
            let transitions = edges
                .into_iter()
                .enumerate()
                .map(|(k, (a, b, back))| {
                    let mut t = tr(&format!("s{a}"), &format!("s{b}"), &format!("t{k}"));
                    t.back = back;
                    t
                })
                .collect();
            (steps, transitions)
        })
}

/// The rules, written again the slow way (a reachability matrix).
fn reference(steps: &[StepDef], transitions: &[TransitionDef]) -> bool {
    let n = steps.len();
    let idx = |id: &str| steps.iter().position(|s| s.id == id).unwrap();
    if steps.iter().filter(|s| s.start).count() != 1 || !steps.iter().any(|s| s.terminal) {
        return false;
    }
    let start = steps.iter().position(|s| s.start).unwrap();
    if steps[start].terminal {
        return false;
    }
    let mut r = vec![vec![false; n]; n];
    for (i, row) in r.iter_mut().enumerate() {
        row[i] = true;
    }
    for t in transitions {
        let (a, b) = (idx(&t.from), idx(&t.to));
        if a == b || steps[a].terminal {
            return false;
        }
        r[a][b] = true;
    }
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                if r[i][k] && r[k][j] {
                    r[i][j] = true;
                }
            }
        }
    }
    (0..n).all(|j| r[start][j]) && (0..n).all(|i| (0..n).any(|j| steps[j].terminal && r[i][j]))
}

proptest! {
    #[test]
    fn validation_agrees_with_the_reference((steps, transitions) in graph()) {
        prop_assert_eq!(check(&steps, &transitions).is_ok(), reference(&steps, &transitions));
    }

    #[test]
    fn an_allowed_move_follows_a_transition_whose_rules_hold(
        (steps, transitions) in graph(),
        at in 0usize..7,
        to in 0usize..7,
        completed in any::<bool>(),
    ) {
        let at = format!("s{}", at % steps.len());
        let to = format!("s{}", to % steps.len());
        let data = BTreeMap::new();
        let booking = completed.then_some(BookingState::Completed);
        let facts = ItemFacts { step: &at, data: &data, booking };
        let here = steps.iter().find(|s| s.id == at).unwrap();
        match check_move(&steps, &transitions, &facts, &to) {
            Ok(t) => {
                prop_assert!(t.from == at && t.to == to);
                prop_assert!(!here.terminal);
            }
            Err(MoveRefusal::NoTransition(_)) => prop_assert!(
                here.terminal || !transitions.iter().any(|t| t.from == at && t.to == to)
            ),
            Err(MoveRefusal::Blocked(_)) => prop_assert!(false, "nothing blocks without conditions, fields or bookings"),
        }
        if let Some(t) = advance(&steps, &transitions, &facts) {
            prop_assert!(!t.back && t.from == at);
        }
    }
}
