//! What the browser journeys share, so each reads as a person's steps: a server with the
//! dealership demo or with an operator's organization, dragging a card as a hand does,
//! reading what the page says, and looking at the page at both widths.

use crate::browser::Driver;
use crate::helpers::*;
use cflows_actors::demo;
use cflows_protocol::{OrgId, UserView};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;

/// Seeds the dealership demo on `app` (every demo user's password is [`PASSWORD`]):
/// its organization and the workshop kiosk's link.
pub async fn seed_demo(app: &TestApp) -> (OrgId, String) {
    let login = demo::seed(&app.core.directory, PASSWORD)
        .await
        .unwrap()
        .expect("a fresh demo");
    let org = app
        .core
        .directory
        .store()
        .org_by_slug(demo::DEMO_SLUG)
        .await
        .unwrap()
        .unwrap();
    (OrgId::new(org.id), login.kiosk_link.unwrap())
}

/// A fresh server with the demo seeded, and the demo's organization.
pub async fn demo_app() -> (TestApp, OrgId) {
    let app = spawn_app().await;
    let (org, _) = seed_demo(&app).await;
    (app, org)
}

/// A browser 1366 px wide logged in as `email` on a fresh server with the demo; `None`
/// where there is no browser (see [`crate::browser::browser`]).
pub async fn demo_in_browser(email: &str) -> Option<(Driver, Client, TestApp, OrgId)> {
    let (driver, c) = crate::browser::browser().await?;
    let (app, org) = demo_app().await;
    c.set_window_size(1366, 900).await.unwrap();
    crate::browser::log_in(&c, &app, email).await;
    Some((driver, c, app, org))
}

/// A browser 1366 px wide logged in as Mia (`mia@example.com`), a member of "Demo
/// Motors" (owned by `owner@example.com`), on a fresh server; `None` where there is no
/// browser.
pub async fn mia_in_browser() -> Option<(Driver, Client, TestApp, UserView)> {
    let (driver, c) = crate::browser::browser().await?;
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(
            &org,
            "mia@example.com",
            "Mia",
            cflows_protocol::Role::Member,
        )
        .await;
    c.set_window_size(1366, 900).await.unwrap();
    crate::browser::log_in(&c, &app, "mia@example.com").await;
    Some((driver, c, app, mia))
}

/// "Demo Motors" (Berlin, 24-hour) owned by Oli Operator (`op@example.com`), who also
/// runs the platform: someone who sees every page.
pub async fn operator_org(app: &TestApp) -> Org {
    let (org, owner) = cflows_actors::testing::org_owned_by(
        &app.core,
        ("op@example.com", "Oli Operator", PASSWORD),
        true,
    )
    .await;
    Org { org, owner }
}

/// Drags the card `card_css` onto the list `target_css` with the mouse, as a person does.
pub async fn drag(c: &Client, card_css: &str, target_css: &str) {
    let card = c.find(Locator::Css(card_css)).await.unwrap();
    let target = c.find(Locator::Css(target_css)).await.unwrap();
    let v = c
        .execute(
            "arguments[0].scrollIntoView({block: 'center'}); const a = arguments[0].getBoundingClientRect(), b = arguments[1].getBoundingClientRect(); return [b.left + b.width / 2 - (a.left + a.width / 2), b.top + 20 - (a.top + a.height / 2)];",
            vec![
                serde_json::to_value(&card).unwrap(),
                serde_json::to_value(&target).unwrap(),
            ],
        )
        .await
        .unwrap();
    let (dx, dy) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    let mut moves = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: card,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        });
    for _ in 0..10 {
        moves = moves.then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(40)),
            x: dx / 10.0,
            y: dy / 10.0,
        });
    }
    moves = moves
        .then(PointerAction::Pause {
            duration: Duration::from_millis(200),
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(moves).await.unwrap();
    c.release_actions().await.unwrap();
}

/// The text the element `css` shows.
pub async fn text(c: &Client, css: &str) -> String {
    c.execute(
        "return document.querySelector(arguments[0]).innerText",
        vec![json!(css)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_else(|| panic!("nothing shows {css}"))
    .into()
}

/// Waits until the page's notice (the green line after a change) says `want`.
pub async fn notice_says(c: &Client, want: &str) {
    crate::browser::wait_for(
        c,
        "return document.querySelector('p.notice')?.innerText",
        json!(want),
    )
    .await;
}

/// Waits for the page's error line (red, after a refusal) and returns what it says.
pub async fn error_says(c: &Client) -> String {
    crate::browser::wait_for(c, "return !!document.querySelector('p.error')", json!(true)).await;
    text(c, "p.error").await
}

/// Saves the page as it is now as `$CFLOWS_SHOTS/{name}.png` when that is set.
pub async fn shot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("CFLOWS_SHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Looks at the page at 390 and 1366 px wide (leaving it at 1366): nothing but the
/// board's columns scrolls sideways. Saves each as `{name}-{width}` (see [`shot`]).
pub async fn shots(c: &Client, name: &str) {
    for (w, h) in [(390, 844), (1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let wide = c
            .execute("return document.documentElement.clientWidth >= document.documentElement.scrollWidth", vec![])
            .await
            .unwrap();
        assert_eq!(wide, json!(true), "{name} at {w} px scrolls sideways");
        shot(c, &format!("{name}-{w}")).await;
    }
}
