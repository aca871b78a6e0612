//! The live bell in a real browser (headless Chromium driven through chromedriver):
//! log in with the form, receive a message sent by someone else without reloading, open
//! the dropdown, mark all read. `.ci/run` installs chromium and chromium-driver.

use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn browser() -> Option<(Driver, Client)> {
    let driver_bin =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !std::path::Path::new(&driver_bin).exists() {
        assert!(
            std::env::var_os("CFLOWS_SKIP_BROWSER").is_some(),
            "{driver_bin} not found: install chromium and chromium-driver (as .ci/run does), or set CFLOWS_SKIP_BROWSER=1"
        );
        eprintln!("BROWSER TEST NOT RUN: CFLOWS_SKIP_BROWSER is set");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let profile = tempfile::tempdir().unwrap().keep();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    for _ in 0..100 {
        if let Ok(client) =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
        {
            return Some((driver, client));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// Logs in with the login form as a person would, and waits for the start page.
pub async fn log_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "form button[type=submit]").await;
    wait_for(c, "return location.pathname", json!("/")).await;
}

/// Clicks the element `css` selects.
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Types `text` into the element `css` selects.
pub async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Evaluates `script` until it returns `want` (bounded).
pub async fn wait_for(c: &Client, script: &str, want: serde_json::Value) {
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        last = c.execute(script, vec![]).await.unwrap();
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{script} returned {last}, not {want}");
}

/// `owner@example.com` sends `to` a message over the API.
async fn owner_messages(app: &TestApp, to: &cflows_protocol::UserId, body: &str) {
    let (owner, csrf) = app.login("owner@example.com").await;
    let r = owner
        .post(app.url("/api/v1/messages"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"to": to, "body": body}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bell_updates_live_in_a_real_browser() {
    let Some((_driver, c, app, mia)) = crate::journey::mia_in_browser().await else {
        return;
    };
    wait_for(&c, "return document.title", json!("Today · cflows")).await;
    // Connected and showing the inbox snapshot: no unread, badge hidden.
    wait_for(&c, "const b = document.querySelector('[data-bell]'); return b.dataset.unreadCount === '0' && !b.classList.contains('offline')", json!(true)).await;
    wait_for(
        &c,
        "return document.querySelector('[data-unread]').hidden",
        json!(true),
    )
    .await;

    // Someone else sends Mia a message over the API: the badge changes without a reload.
    owner_messages(&app, &mia.id, "Car 17 is ready for photos").await;
    wait_for(
        &c,
        "return document.querySelector('[data-unread]').textContent",
        json!("1"),
    )
    .await;
    wait_for(
        &c,
        "return document.querySelector('[data-unread]').hidden",
        json!(false),
    )
    .await;

    // The dropdown lists it; "Mark all read" clears the badge over the socket.
    click(&c, "[data-bell]").await;
    wait_for(&c, "return document.querySelector('[data-bell-panel]').innerText.includes('Car 17 is ready for photos')", json!(true)).await;
    click(&c, "[data-mark-all]").await;
    wait_for(
        &c,
        "return document.querySelector('[data-unread]').hidden",
        json!(true),
    )
    .await;
    assert_eq!(
        app.core
            .directory
            .inbox(&mia.id)
            .await
            .unwrap()
            .snapshot()
            .await
            .unwrap()
            .unread,
        0
    );
    c.close().await.unwrap();
}

/// Whether the /notifications page's and the bell's "Mark all read" are shown.
const MARK_ALL_SHOWN: &str = "const f = document.querySelector('form[action=\"/notifications/read-all\"]'); const b = document.querySelector('[data-mark-all]'); return [f.checkVisibility(), !b.hidden];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_read_is_offered_only_while_something_is_unread() {
    let Some((_driver, c, app, mia)) = crate::journey::mia_in_browser().await else {
        return;
    };
    c.goto(&app.url("/notifications")).await.unwrap();
    wait_for(
        &c,
        "return document.querySelector('[data-bell]').dataset.unreadCount",
        json!("0"),
    )
    .await;
    // Nothing unread: nothing to mark.
    wait_for(&c, MARK_ALL_SHOWN, json!([false, false])).await;
    crate::a11y::assert_passes(&c, "notifications, nothing unread").await;

    // A message arrives: the page offers it without a reload.
    owner_messages(&app, &mia.id, "Car 17 is ready for photos").await;
    wait_for(&c, MARK_ALL_SHOWN, json!([true, true])).await;
    c.refresh().await.unwrap();
    wait_for(&c, MARK_ALL_SHOWN, json!([true, true])).await;
    crate::a11y::assert_passes(&c, "notifications, one unread").await;

    // Marking all read takes the button away again.
    click(&c, "form[action=\"/notifications/read-all\"] button").await;
    crate::journey::notice_says(&c, "All marked as read").await;
    wait_for(&c, MARK_ALL_SHOWN, json!([false, false])).await;
    c.close().await.unwrap();
}
