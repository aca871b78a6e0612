//! Deleting a shared calendar in a real browser: the admin's calendar page drops a
//! calendar someone else deleted, live; the admin deletes another from the sidebar
//! through the confirm page. axe-core finds nothing on either page at desktop and phone
//! width. Set `CFLOWS_SHOTS=dir` to save screenshots.

use crate::a11y::violations;
use crate::browser::{browser, click, log_in, wait_for};
use crate::helpers::*;
use cflows_protocol::Role;
use fantoccini::Client;
use serde_json::{Value, json};

async fn shot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("CFLOWS_SHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_deletes_a_shared_calendar_and_sees_another_go_live() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(
        &org,
        "mia@example.com",
        "Mia Lindqvist-Andersson",
        Role::Member,
    )
    .await;
    let (mia, csrf) = app.login("mia@example.com").await;
    let mut ids = Vec::new();
    for name in [
        "Showroom launch and spring open house",
        "Test drives",
        "Used-car auctions",
    ] {
        let cal: Value = mia
            .post(app.url("/api/v1/calendars"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": name, "members": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(cal["id"].as_str().unwrap().to_string());
    }
    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, "owner@example.com").await;
    c.goto(&app.url("/calendar")).await.unwrap();
    wait_for(
        &c,
        "return document.querySelectorAll('.cal-sidebar a[href$=\"/delete\"]').length",
        json!(3),
    )
    .await;
    shot(&c, "calendar-sidebar-1366").await;

    // Mia deletes "Test drives": it leaves the admin's page without a reload.
    let gone = mia
        .delete(app.url(&format!("/api/v1/calendars/{}", ids[1])))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), reqwest::StatusCode::NO_CONTENT);
    wait_for(
        &c,
        "return document.getElementById('cal-status').textContent",
        json!("Test drives was deleted."),
    )
    .await;
    wait_for(
        &c,
        "return document.querySelectorAll('.cal-sidebar a[href$=\"/delete\"]').length",
        json!(2),
    )
    .await;

    // The admin deletes the first one from the sidebar, after the confirm page.
    click(
        &c,
        &format!("a[href='/calendar/calendars/{}/delete']", ids[0]),
    )
    .await;
    wait_for(
        &c,
        "return document.querySelector('h1').textContent",
        json!("Delete the calendar “Showroom launch and spring open house”?"),
    )
    .await;
    assert_eq!(
        violations(&c).await,
        Vec::<String>::new(),
        "confirm page at 1366 px"
    );
    shot(&c, "calendar-delete-confirm-1366").await;
    c.set_window_size(390, 844).await.unwrap();
    assert_eq!(
        violations(&c).await,
        Vec::<String>::new(),
        "confirm page at 390 px"
    );
    shot(&c, "calendar-delete-confirm-390").await;
    click(&c, "main form button[type=submit]").await;
    wait_for(&c, "return location.pathname", json!("/calendar")).await;
    wait_for(
        &c,
        "return document.querySelector('p.notice')?.textContent ?? null",
        json!("Deleted the calendar “Showroom launch and spring open house” and its events."),
    )
    .await;
    assert_eq!(
        violations(&c).await,
        Vec::<String>::new(),
        "calendar page after deleting, 390 px"
    );
    shot(&c, "calendar-deleted-390").await;
    c.set_window_size(1366, 900).await.unwrap();
    shot(&c, "calendar-deleted-1366").await;
    let left: Value = c
        .execute(
            "return [...document.querySelectorAll('.cal-sidebar a[href$=\"/delete\"]')].map(a => a.getAttribute('aria-label'))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(left, json!(["Delete the calendar Used-car auctions"]));
    c.close().await.unwrap();
}
