//! A dealership's day with its vehicles, in a real browser (headless Chromium) on the
//! seeded demo: a tester books, confirms and marks done the inspection of a vehicle
//! waiting in Test & Inspect and sees it move on; a card dropped into a step that needs
//! a booking offers the booking at once; a hold that ran out says "Hold expired" and
//! offers to book again; a refusal speaks the viewer's time and offers its free times.
//!
//! With `CFLOWS_SHOTS=DIR` set, the journey saves what the person saw (1366 and 390 px
//! wide) as PNG files in DIR.

use crate::browser::{click, wait_for};
use crate::helpers::*;
use crate::journey::{demo_app, demo_in_browser, drag, error_says, shots, text};
use cflows_actors::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
use cflows_protocol::{BookingState, ItemId, UserId};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::Duration;

const TESTER: &str = "tom.tester@demo-motors.example";

/// Opens the Vehicles board and waits for its live cards.
async fn open_board(c: &Client, app: &TestApp) {
    c.goto(&app.url("/boards")).await.unwrap();
    c.find(Locator::LinkText("Vehicles"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "return document.body.dataset.board", json!("live")).await;
}

/// The id of the card titled `title` in column `step`.
async fn card_in(c: &Client, step: &str, title: &str) -> String {
    let script = format!(
        "const li = [...document.querySelectorAll('ul.cards[data-step=\"{step}\"] li.wcard')].find((li) => li.querySelector('.title').textContent === {title:?}); return li ? li.dataset.item : null;"
    );
    for _ in 0..200 {
        if let Value::String(id) = c.execute(&script, vec![]).await.unwrap() {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no card {title} in {step}");
}

/// Opens the page of the vehicle titled `title` in column `step` from the board; its id.
async fn open_item(c: &Client, app: &TestApp, step: &str, title: &str) -> String {
    open_board(c, app).await;
    let id = card_in(c, step, title).await;
    c.goto(&app.url(&format!("/items/{id}"))).await.unwrap();
    id
}

/// The text of the booking panel.
const PANEL: &str = "return document.getElementById('booking-panel')?.innerText ?? ''";

/// Waits until the booking panel's text contains `part`.
async fn panel_says(c: &Client, part: &str) {
    let script = format!(
        "return (document.getElementById('booking-panel')?.innerText ?? '').includes({part:?})"
    );
    let mut last = Value::Null;
    for _ in 0..200 {
        if c.execute(&script, vec![]).await.unwrap() == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = c.execute(PANEL, vec![]).await.unwrap();
    }
    panic!("the booking panel does not say {part:?}: {last}");
}

/// Clicks the panel's button labelled `label`.
async fn press(c: &Client, label: &str) {
    let script = format!(
        "const b = [...document.querySelectorAll('#booking-panel button')].find((b) => b.innerText.trim() === {label:?}); if (b) b.click(); return !!b;"
    );
    assert_eq!(
        c.execute(&script, vec![]).await.unwrap(),
        json!(true),
        "no {label} button"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tester_books_the_inspection_of_a_vehicle_waiting_in_test_and_inspect_completes_it_and_the_vehicle_moves_on()
 {
    let Some((_driver, c, app, _)) = demo_in_browser(TESTER).await else {
        return;
    };
    open_board(&c, &app).await;
    // The Ford waits in Test & Inspect with nothing booked: its card says so and offers it.
    let ford = card_in(&c, "test", "Ford Focus ST").await;
    let card = format!("li.wcard[data-item=\"{ford}\"]");
    let says = text(&c, &card).await;
    assert!(
        says.contains("needs booking") && says.contains("Book"),
        "{says}"
    );
    shots(&c, "board").await;

    // The tester opens the vehicle: the step's team and job type are chosen, free times offered.
    click(&c, &format!("{card} a")).await;
    wait_for(
        &c,
        "return location.pathname",
        json!(format!("/items/{ford}")),
    )
    .await;
    panel_says(&c, "Inspection with Testers").await;
    panel_says(&c, "Next free times").await;
    let first = text(&c, "#booking-panel ul.slots button").await;
    assert!(first.starts_with("Book "), "{first}");
    assert!(
        !first.contains("UTC"),
        "times in the tester's zone: {first}"
    );
    shots(&c, "item-booking-panel").await;

    // One click holds it; the countdown and Confirm are right there.
    click(&c, "#booking-panel ul.slots button").await;
    panel_says(&c, "Held for Testers").await;
    panel_says(&c, "hold ends in").await;
    let when = first.trim_start_matches("Book ");
    panel_says(&c, when).await;
    shots(&c, "hold-countdown").await;
    press(&c, "Confirm").await;
    panel_says(&c, "Booked with Testers").await;

    // Marked done, the inspection moves the vehicle on (not passed: to repair).
    press(&c, "Mark done").await;
    wait_for(
        &c,
        "return document.getElementById('item-step').innerText.includes('Repair / Recondition')",
        json!(true),
    )
    .await;
    wait_for(
        &c,
        "return document.querySelector('.notice')?.innerText ?? ''",
        json!(format!(
            "Marked done: {} moved on to Repair / Recondition.",
            text(&c, "h1 .key").await
        )),
    )
    .await;
    // On the board the vehicle is in the next column.
    open_board(&c, &app).await;
    assert_eq!(card_in(&c, "repair", "Ford Focus ST").await, ford);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_dropped_into_a_step_that_needs_a_booking_offers_the_booking_there() {
    let Some((_driver, c, app, _)) = demo_in_browser(TESTER).await else {
        return;
    };
    open_board(&c, &app).await;
    let golf = card_in(&c, "request", "VW Golf 1.4 TSI, silver").await;
    drag(
        &c,
        &format!("li.wcard[data-item=\"{golf}\"]"),
        "ul.cards[data-step=\"test\"]",
    )
    .await;
    // The drop moved it, and the booking dialog opened with Test & Inspect's booking.
    wait_for(
        &c,
        "return document.getElementById('book-dialog').open",
        json!(true),
    )
    .await;
    panel_says(&c, "Inspection with Testers").await;
    assert_eq!(card_in(&c, "test", "VW Golf 1.4 TSI, silver").await, golf);
    shots(&c, "board-drop-dialog").await;
    click(&c, "#book-dialog ul.slots button").await;
    panel_says(&c, "hold ends in").await;
    press(&c, "Confirm").await;
    panel_says(&c, "Booked with Testers").await;
    // The card follows live.
    wait_for(
        &c,
        &format!(
            "return document.querySelector('li.wcard[data-item=\"{golf}\"] .booking')?.innerText"
        ),
        json!("booked"),
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_that_ran_out_reads_hold_expired_and_offers_to_book_again() {
    let Some((_driver, c, app, org)) = demo_in_browser(TESTER).await else {
        return;
    };
    open_board(&c, &app).await;
    let ford = card_in(&c, "test", "Ford Focus ST").await;
    // Someone holds the Ford's inspection for four seconds only.
    let snap = get_json(
        &app,
        &app.login(TESTER).await.0,
        &format!("/api/v1/items/{ford}"),
    )
    .await;
    let workflow = app
        .core
        .directory
        .org(&org)
        .await
        .unwrap()
        .workflow(&cflows_protocol::WorkflowId::new(
            snap["item"]["workflow"].as_str().unwrap(),
        ))
        .await
        .unwrap();
    let test = workflow.steps.iter().find(|s| s.id == "test").unwrap();
    let tom = app
        .core
        .kernel
        .store()
        .user_by_email(TESTER)
        .await
        .unwrap()
        .unwrap();
    let cal = TeamCalendarHandle::new(&app.core.kernel, &org, test.team.as_ref().unwrap());
    let start = cal
        .free_slots(90 * 60_000, 1, 0, 1)
        .await
        .unwrap()
        .remove(0)
        .start;
    let held = cal
        .hold(
            Booker {
                user: UserId::new(tom.id),
                name: "Tom Tester".into(),
                admin: false,
            },
            BookingSpec {
                job_type: test.booking_job_type.clone().unwrap(),
                start,
                end: start + 90 * 60_000,
                members_required: 1,
                title: "Ford inspection".into(),
                confirm: false,
                hold_ms: Some(4_000),
                waitlist: false,
                assigned: Vec::new(),
                work_item: Some(ItemId::new(ford.clone())),
                step: Some("test".into()),
            },
        )
        .await
        .unwrap();
    // The item page shows the hold counting down, then, without a reload, that it expired.
    c.goto(&app.url(&format!("/items/{ford}"))).await.unwrap();
    panel_says(&c, "hold ends in").await;
    panel_says(&c, "Hold expired").await;
    let text = c.execute(PANEL, vec![]).await.unwrap();
    assert!(!text.as_str().unwrap().contains("cancelled"), "{text}");
    assert_eq!(
        app.core
            .kernel
            .store()
            .booking(held.team.as_str(), &held.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        BookingState::Expired
    );
    shots(&c, "hold-expired").await;
    // The board's card says so too, and offers to book again.
    open_board(&c, &app).await;
    wait_for(
        &c,
        &format!("return document.querySelector('li.wcard[data-item=\"{ford}\"]').innerText.includes('hold expired')"),
        json!(true),
    )
    .await;
    click(
        &c,
        &format!("li.wcard[data-item=\"{ford}\"] button[data-book]"),
    )
    .await;
    panel_says(&c, "Hold expired").await;
    press(&c, "Book again").await;
    panel_says(&c, "Held for Testers").await;
    panel_says(&c, "hold ends in").await;
    c.close().await.unwrap();
}

/// The next working day (Monday to Friday) after today, in Berlin, as `YYYY-MM-DD`.
fn next_working_day() -> String {
    use chrono::Datelike;
    let mut day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    loop {
        day = day.succ_opt().unwrap();
        if day.weekday().number_from_monday() <= 5 {
            return day.format("%Y-%m-%d").to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_speaks_local_time_and_offers_its_free_times_as_buttons() {
    let Some((_driver, c, app, _)) = demo_in_browser(TESTER).await else {
        return;
    };
    open_item(&c, &app, "test", "Ford Focus ST").await;
    panel_says(&c, "Next free times").await;
    // Nothing is shown wrong before anything is typed.
    assert_eq!(
        c.execute(
            "return document.querySelectorAll('#booking-panel .error').length",
            vec![]
        )
        .await
        .unwrap(),
        json!(0)
    );
    // Both testers are out on test drives from 10:30 (Berlin) on working days.
    let day = next_working_day();
    click(&c, "#booking-panel details.other-time summary").await;
    c.execute(
        &format!("document.querySelector('#booking-panel input[name=local]').value = '{day}T10:30'; return true"),
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#booking-panel details.other-time button[type=submit]").await;
    panel_says(&c, "Testers: fully booked").await;
    let said = text(&c, "#booking-panel .error").await;
    assert!(
        said.contains(", 10:30–"),
        "the clash in Berlin time, 24-hour: {said}"
    );
    assert!(said.contains("2 of 2 members already booked"), "{said}");
    assert!(!said.contains("UTC"), "{said}");
    assert!(
        said.contains("pick one of the free times offered"),
        "{said}"
    );
    shots(&c, "refusal").await;
    // Its free times are buttons that book them.
    panel_says(&c, "Free instead:").await;
    let offered = text(&c, "#booking-panel ul.slots button").await;
    click(&c, "#booking-panel ul.slots button").await;
    panel_says(&c, "Held for Testers").await;
    panel_says(&c, offered.trim_start_matches("Book ")).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_vehicle_into_a_full_inspection_slot_says_so_in_local_time() {
    let Some((_driver, c, app, _)) = demo_in_browser(TESTER).await else {
        return;
    };
    open_item(&c, &app, "request", "VW Golf 1.4 TSI, silver").await;
    // Both testers are out on test drives from 10:30 (Berlin) on working days.
    let day = next_working_day();
    c.execute(
        &format!("document.querySelector('#bk-test').value = '{day}T10:30'; return true"),
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#bk-test ~ button[type=submit]").await;
    let said = error_says(&c).await;
    assert!(said.starts_with("Testers: fully booked"), "{said}");
    assert!(
        said.contains(", 10:30–"),
        "the clash in Berlin time, 24-hour: {said}"
    );
    assert!(!said.contains("UTC"), "{said}");
    // Nothing moved.
    let step = text(&c, "#item-step").await;
    assert!(step.starts_with("In Request Test"), "{step}");
    shots(&c, "move-refusal").await;
    crate::a11y::assert_passes(&c, "move refusal").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_24_hour_dealership_times_are_typed_and_shown_without_am_pm() {
    let Some((_driver, c, app, _)) = demo_in_browser(TESTER).await else {
        return;
    };
    let ford = open_item(&c, &app, "test", "Ford Focus ST").await;
    panel_says(&c, "Next free times").await;
    click(&c, "#booking-panel details.other-time summary").await;
    // A date box and a 24-hour time box, not the browser's AM/PM picker.
    let at = format!("bk-at-{ford}");
    assert_eq!(
        c.execute(
            "return [document.querySelectorAll('input[type=datetime-local]').length, document.getElementById(arguments[0] + '-time')?.type]",
            vec![json!(at)],
        )
        .await
        .unwrap(),
        json!([0, "text"])
    );
    let day = next_working_day();
    c.execute(
        "document.getElementById(arguments[0] + '-date').value = arguments[1]",
        vec![json!(at), json!(day)],
    )
    .await
    .unwrap();
    crate::browser::type_into(&c, &format!("#{at}-time"), "1130").await;
    c.execute("document.activeElement.blur()", vec![])
        .await
        .unwrap();
    assert_eq!(
        c.execute(
            "return [document.getElementById(arguments[0] + '-time').value, document.getElementById(arguments[0]).value]",
            vec![json!(at)],
        )
        .await
        .unwrap(),
        json!(["11:30", format!("{day}T11:30")]),
        "typed 1130, reads 11:30"
    );
    crate::a11y::assert_passes(&c, "booking panel, another time").await;
    click(&c, "#booking-panel details.other-time button[type=submit]").await;
    panel_says(&c, "Held for Testers").await;
    panel_says(&c, "11:30").await;
    // The calendar's New… dialog: its start in 24-hour time too.
    crate::screens::calendar_on(&c, &app, &day).await;
    crate::screens::open_new_event_dialog(&c).await;
    wait_for(
        &c,
        "return document.getElementById('quick').open",
        json!(true),
    )
    .await;
    let start: String = c
        .execute(
            "return document.getElementById('q-start-time').value",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .into();
    assert!(
        start.len() == 5 && start.as_bytes()[2] == b':',
        "24-hour start: {start}"
    );
    shots(&c, "calendar-dialog-24h").await;
    crate::a11y::assert_passes(&c, "calendar dialog, 24-hour").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn another_organizations_item_books_like_a_missing_one() {
    let (app, org) = demo_app().await;
    let workflow = app
        .core
        .directory
        .org(&org)
        .await
        .unwrap()
        .workflows()
        .await
        .unwrap()
        .remove(0);
    let board = cflows_actors::board::BoardHandle::new(&app.core.kernel, &org, &workflow.id);
    let waiting = |cards: Vec<cflows_protocol::CardView>| {
        cards
            .into_iter()
            .find(|c| c.step == "test" && c.booking.is_none())
    };
    let theirs = waiting(board.snapshot().await.unwrap().cards)
        .unwrap()
        .id
        .to_string();
    app.org("Other Motors", "owner@other.example").await;
    let (other, csrf) = app.login("owner@other.example").await;
    let mut answers = Vec::new();
    for id in [theirs.as_str(), "no-such-item"] {
        let panel = other
            .get(app.url(&format!("/items/{id}/booking")))
            .send()
            .await
            .unwrap();
        let book = other
            .post(app.url(&format!("/items/{id}/book")))
            .header("x-panel", "1")
            .form(&[("csrf", csrf.as_str()), ("start", "1796630400000")])
            .send()
            .await
            .unwrap();
        let change = other
            .post(app.url(&format!("/items/{id}/booking")))
            .form(&[("csrf", csrf.as_str()), ("change", "cancel")])
            .send()
            .await
            .unwrap();
        answers.push((
            panel.status(),
            panel.text().await.unwrap(),
            book.status(),
            book.text().await.unwrap(),
            change.status(),
            change.text().await.unwrap(),
        ));
    }
    assert_eq!(answers[0].0, reqwest::StatusCode::NOT_FOUND);
    assert_eq!(answers[0].2, reqwest::StatusCode::NOT_FOUND);
    // Without `x-panel` a form is answered by a redirect to the item (which is not found).
    assert_eq!(answers[0].4, reqwest::StatusCode::SEE_OTHER);
    assert_eq!(
        answers[0], answers[1],
        "the same answers as for a missing item"
    );
    // Nothing was booked for the demo's vehicle.
    let card = waiting(board.snapshot().await.unwrap().cards).unwrap();
    assert_eq!(card.id.as_str(), theirs);
}
