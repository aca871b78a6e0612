//! The calendar page in a real browser (headless Chromium): a booking made by someone
//! else over the API appears without a reload, with its live hold countdown; a drag onto
//! a full slot is refused by the team calendar and snaps back with the reason. And the
//! capacity board's lane changes live.

use crate::browser::{browser, click, log_in, wait_for};
use crate::helpers::*;
use cflows_actors::team_calendar::{Booker, TeamCalendarHandle};
use cflows_protocol::{Role, TeamId, UserId, WorkingHours, WorkingPeriod};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use serde_json::{Value, json};
use std::time::Duration;

/// Tomorrow's date in Berlin and the instant of `hour`:00 that day there.
fn tomorrow_at(hour: u32) -> (String, i64) {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let day = chrono::Utc::now().with_timezone(&tz).date_naive() + chrono::Duration::days(1);
    let at = tz
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .timestamp_millis();
    (day.to_string(), at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_appear_live_and_a_refused_drag_snaps_back() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let post = |path: &str, body: Value| {
        owner
            .post(app.url(path))
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let job: Value = post(
        "/api/v1/job-types",
        json!({"name": "Test drive", "duration_minutes": 60}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team: Value = post(
        "/api/v1/teams",
        json!({"name": "Workshop", "members": [org.owner.id, mia.id], "bookable_count": 1, "colour": "#2563eb"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team_id = team["id"].as_str().unwrap().to_string();
    TeamCalendarHandle::new(&app.core.kernel, &org.org.id, &TeamId::new(team_id.clone()))
        .set_hours(
            Booker {
                user: UserId::new("system"),
                name: "System".into(),
                admin: true,
            },
            WorkingHours {
                zone: "Europe/Berlin".into(),
                weekly: (1..=7)
                    .map(|weekday| WorkingPeriod {
                        weekday,
                        start: "00:00".into(),
                        end: "24:00".into(),
                    })
                    .collect(),
                closed: vec![],
                hold_minutes: 30,
            },
        )
        .await
        .unwrap();

    // Mia opens the calendar on tomorrow's day view.
    log_in(&c, &app, "mia@example.com").await;
    c.goto(&app.url("/calendar")).await.unwrap();
    wait_for(
        &c,
        "return document.body.dataset.calendar === 'ready' && document.body.dataset.live",
        json!("online"),
    )
    .await;
    let (day, ten) = tomorrow_at(10);
    let (_, noon) = tomorrow_at(12);
    c.execute(
        &format!("cflowsCalendar.changeView('timeGridDay', '{day}')"),
        vec![],
    )
    .await
    .unwrap();

    // The owner holds 10:00 over the API: it appears on Mia's screen without a reload,
    // with "held by Owner, m:ss left" ticking.
    let held: Value = post(
        &format!("/api/v1/teams/{team_id}/bookings"),
        json!({"job_type": job["id"], "start": ten}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let held_id = held["id"].as_str().unwrap().to_string();
    let sel = |id: &str| format!("document.querySelector('[data-booking=\"{id}\"]')");
    // A compact badge with the countdown beside the title; who holds it in the tooltip.
    wait_for(&c, &format!("const e = {}; return !!e && /held \\d+:\\d\\d/.test(e.querySelector('.hold-badge')?.textContent) && e.title.includes('held by Owner')", sel(&held_id)), json!(true)).await;

    // Mia's own confirmed booking at noon.
    let (mia_client, mia_csrf) = app.login("mia@example.com").await;
    let mine: Value = mia_client
        .post(app.url(&format!("/api/v1/teams/{team_id}/bookings")))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"job_type": job["id"], "start": noon, "confirm": true, "title": "Photo run"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine_id = mine["id"].as_str().unwrap().to_string();
    wait_for(&c, &format!("return !!{}", sel(&mine_id)), json!(true)).await;

    // Drag Mia's booking onto the owner's hour: the team is full then.
    let dy: f64 = c
        .execute(
            &format!(
                "return {}.getBoundingClientRect().top - {}.getBoundingClientRect().top",
                sel(&held_id),
                sel(&mine_id)
            ),
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    // Its place in the grid, relative to the other booking (the grid may scroll while
    // dragging; both scroll together).
    let place = format!(
        "return Math.round({}.getBoundingClientRect().top - {}.getBoundingClientRect().top)",
        sel(&mine_id),
        sel(&held_id)
    );
    let top_before = c.execute(&place, vec![]).await.unwrap();
    let element = c
        .find(Locator::Css(&format!("[data-booking=\"{mine_id}\"]")))
        .await
        .unwrap();
    let steps = 8;
    let mut drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        });
    for _ in 0..steps {
        drag = drag.then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(40)),
            x: 0.0,
            y: dy / f64::from(steps),
        });
    }
    drag = drag
        .then(PointerAction::Pause {
            duration: Duration::from_millis(200),
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(drag).await.unwrap();
    c.release_actions().await.unwrap();
    wait_for(
        &c,
        "return document.getElementById('cal-status').textContent.startsWith('Not moved: not enough capacity')",
        json!(true),
    )
    .await;
    // It snapped back, and the server never moved it.
    wait_for(&c, &place, top_before).await;
    wait_for(
        &c,
        &format!("return cflowsCalendar.getEventById('bk:{mine_id}').start.valueOf()"),
        json!(noon),
    )
    .await;
    let stored: Value = mia_client
        .get(app.url(&format!("/api/v1/teams/{team_id}/bookings/{mine_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["start"], noon);

    // The booking dialog shows the chosen slot's free capacity while choosing.
    c.find(Locator::XPath("//button[normalize-space()='New…']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "return document.getElementById('quick').open",
        json!(true),
    )
    .await;
    c.execute(
        &format!("const s = document.getElementById('q-start'); s.value = '{day}T10:00'; s.dispatchEvent(new Event('change'))"),
        vec![],
    )
    .await
    .unwrap();
    wait_for(
        &c,
        "return document.getElementById('q-free').textContent.startsWith('0 of 1 free')",
        json!(true),
    )
    .await;
    c.execute(
        &format!("const s = document.getElementById('q-start'); s.value = '{day}T14:00'; s.dispatchEvent(new Event('change'))"),
        vec![],
    )
    .await
    .unwrap();
    wait_for(
        &c,
        "return document.getElementById('q-free').textContent.startsWith('1 of 1 free')",
        json!(true),
    )
    .await;
    click(&c, "#q-cancel").await;

    // The capacity board: the owner cancels the hold, the 10:00 lane frees up live.
    c.goto(&app.url(&format!("/calendar/board?date={day}")))
        .await
        .unwrap();
    wait_for(
        &c,
        "return document.body.dataset.board === 'ready' && document.body.dataset.live",
        json!("online"),
    )
    .await;
    let ten_cell = format!(
        "const row = document.querySelector('tr[data-team=\"{team_id}\"]'); const cells = row.querySelectorAll('td'); return cells.length ? cells[8].dataset.free + '/' + cells[8].dataset.held : null"
    );
    // Columns start at 06:00 in half hours: 10:00 is the ninth.
    wait_for(&c, &ten_cell, json!("0/1")).await;
    let cancelled = post(
        &format!("/api/v1/teams/{team_id}/bookings/{held_id}/cancel"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status(), reqwest::StatusCode::OK);
    wait_for(&c, &ten_cell, json!("1/0")).await;
    c.close().await.unwrap();
}
