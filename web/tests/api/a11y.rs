//! Every page, checked by axe-core (WCAG 2.1 A and AA rules) in a real headless
//! Chromium, at desktop width and at phone width (390 px), where the header must also
//! keep the bell and the account controls on screen and nothing may scroll sideways.

use crate::browser::{browser, log_in};
use crate::helpers::*;
use cflows_actors::{Caller, TeamInput};
use cflows_protocol::Role;
use fantoccini::Client;
use serde_json::{Value, json};

const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// Runs axe on the loaded page; returns its violations as `id (impact): targets`.
pub async fn violations(c: &Client) -> Vec<String> {
    c.execute(AXE, vec![]).await.unwrap();
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')
                 + (n.any[0] && n.any[0].data && n.any[0].data.contrastRatio ? ' [' + n.any[0].data.fgColor + ' on ' + n.any[0].data.bgColor + ' ' + n.any[0].data.contrastRatio + ':1]' : '')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(result).unwrap()
}

/// Checks the page as it is now with axe at 390 and 1366 px (and, on the phone, that
/// nothing scrolls sideways); leaves the window at 1366 px.
pub async fn assert_passes(c: &Client, what: &str) {
    let mut problems = Vec::new();
    for (w, h) in [(390, 844), (1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut found = violations(c).await;
        if w < 500 {
            found.extend(phone_layout_problems(c, true).await);
        }
        problems.extend(found.into_iter().map(|v| format!("{w}px: {v}")));
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// What sticks out of the screen on the right (empty when nothing scrolls sideways).
pub(crate) const SIDEWAYS: &str = "if (document.documentElement.scrollWidth <= window.innerWidth) return [];
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 8)
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');";

/// At phone width: nothing wider than the screen, and the bell and "Log out" reachable.
pub(crate) async fn phone_layout_problems(c: &Client, logged_in: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let wide: Value = c.execute(SIDEWAYS, vec![]).await.unwrap();
    if wide != json!([]) {
        problems.push(format!("the page is wider than the screen: {wide}"));
    }
    if logged_in {
        for sel in ["[data-bell]", "header.top form[action='/logout'] button"] {
            let inside: Value = c
                .execute(
                    "if (!document.querySelector('header.top')) return true; // a bare page (404)
                     const el = document.querySelector(arguments[0]);
                     if (!el) return false;
                     const r = el.getBoundingClientRect();
                     return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;",
                    vec![json!(sel)],
                )
                .await
                .unwrap();
            if inside != json!(true) {
                problems.push(format!("{sel} is off screen"));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_at_desktop_and_phone_width() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    // An operator who owns a busy organization, so every page has content to check.
    let wrapped = crate::journey::operator_org(&app).await;
    let (org, op) = (wrapped.org.clone(), wrapped.owner.clone());
    let mia = app
        .member(
            &wrapped,
            "mia.mechanic.with.a.long.address@example.com",
            "Mia Mechanic",
            Role::Member,
        )
        .await;
    let handle = app.core.directory.org(&org.id).await.unwrap();
    let team = handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "Mechanics".into(),
                description: "Repairs found in inspection".into(),
                members: vec![mia.id.clone()],
                bookable_count: 1,
                manager: Some(mia.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, token) = handle
        .invite(
            Caller::System,
            "new.person@example.com".into(),
            Role::Member,
        )
        .await
        .unwrap();
    let workflow = handle
        .save_workflow(
            Caller::System,
            None,
            cflows_actors::demo::vehicle_workflow(
                |n| (n == "Mechanics").then(|| team.id.clone()),
                |_| None,
            ),
        )
        .await
        .unwrap();
    let board = cflows_actors::board::BoardHandle::new(&app.core.kernel, &org.id, &workflow.id);
    let booker = cflows_actors::team_calendar::Booker {
        user: mia.id.clone(),
        name: "Mia Mechanic".into(),
        admin: false,
    };
    let item = board
        .create_item(
            booker,
            cflows_protocol::NewItem {
                title: "VW Golf 1.4 TSI, silver".into(),
                assignee: Some(mia.id.clone()),
                priority: cflows_protocol::Priority::High,
                due: Some("2026-12-24".into()),
                data: [(
                    "vin".to_string(),
                    cflows_protocol::FieldValue::Text("WVW1".into()),
                )]
                .into(),
            },
        )
        .await
        .unwrap();
    let (_, kiosk_token) = handle
        .create_kiosk(
            Caller::System,
            cflows_actors::org::KioskInput {
                name: "Workshop screen".into(),
                scope: cflows_protocol::KioskScope {
                    boards: vec![workflow.id.clone()],
                    teams: vec![team.id.clone()],
                    today_bookings: true,
                    cycle_seconds: 20,
                },
            },
        )
        .await
        .unwrap();
    let op_booker = cflows_actors::team_calendar::Booker {
        user: op.id.clone(),
        name: "Oli Operator".into(),
        admin: true,
    };
    let project = cflows_actors::project::create(
        &app.core.kernel,
        &org.id,
        &op_booker,
        cflows_protocol::ProjectInput {
            name: Some("Spring showroom event".into()),
            members: Some(vec![mia.id.clone()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ph = cflows_actors::project::ProjectHandle::new(
        &app.core.kernel,
        &org.id,
        &project.id,
        op_booker,
    );
    let task = ph
        .create_task(cflows_protocol::NewTask {
            title: "Photograph the showroom cars".into(),
            assignee: Some(op.id.clone()),
            due: Some("2026-01-02".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    ph.comment(task.id.clone(), "@mia can you help?".into())
        .await
        .unwrap();
    let photo = {
        let img = image::RgbImage::from_pixel(40, 30, image::Rgb([10, 120, 200]));
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let kept = app
        .core
        .kernel
        .files()
        .keep("front.png", photo)
        .await
        .unwrap();
    ph.attach(task.id.clone(), kept).await.unwrap();
    let (mia_client, mia_csrf) = app.login(&mia.email).await;
    let r = mia_client
        .post(app.url("/api/v1/messages"))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"to": op.id, "body": "Car 17 is ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);

    let logged_in = [
        "/".to_string(),
        "/me".into(),
        "/notifications".into(),
        "/staff/users".into(),
        format!("/staff/users/{}", mia.id),
        "/staff/teams".into(),
        format!("/staff/teams/{}", team.id),
        "/staff/settings".into(),
        "/staff/capacity".into(),
        format!("/staff/capacity/hours/{}", team.id),
        "/platform".into(),
        "/calendar".into(),
        "/calendar/board".into(),
        "/calendar/board?view=week".into(),
        "/boards".into(),
        format!("/boards/{}", workflow.id),
        format!("/boards/{}?view=list", workflow.id),
        format!("/items/{}", item.id),
        "/staff/workflows".into(),
        format!("/staff/workflows/{}", workflow.id),
        "/staff/kiosks".into(),
        "/staff/audit".into(),
        "/staff/metrics".into(),
        "/staff/mail".into(),
        "/me/notifications".into(),
        "/projects".into(),
        format!("/projects/{}", project.id),
        format!("/projects/{}?task={}", project.id, task.id),
        "/tasks".into(),
        "/no-such-page".into(),
    ];
    // A working password reset link, and one that is not.
    app.core
        .directory
        .store()
        .commit_plain(cflows_actors::store::writes::create_password_reset(
            mia.id.as_str(),
            &cflows_actors::kernel::session_digest("a11y-reset-token"),
            chrono::Utc::now().timestamp_millis() + 3_600_000,
        ))
        .await
        .unwrap();
    let logged_out = [
        "/login".to_string(),
        "/password/forgot".into(),
        "/password/reset/a11y-reset-token".into(),
        "/password/reset/no-such-token".into(),
        format!("/invite/{token}"),
        "/kiosk".into(),
        format!("/kiosk/k/{kiosk_token}"),
    ];
    let mut problems = Vec::new();
    for (width, height) in [(1280, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        c.delete_all_cookies().await.unwrap();
        for path in &logged_out {
            c.goto(&app.url(path)).await.unwrap();
            for v in violations(&c).await {
                problems.push(format!("{width}px {path}: {v}"));
            }
            if width < 500 {
                for p in phone_layout_problems(&c, false).await {
                    problems.push(format!("{width}px {path}: {p}"));
                }
            }
        }
        log_in(&c, &app, "op@example.com").await;
        for path in &logged_in {
            c.goto(&app.url(path)).await.unwrap();
            for v in violations(&c).await {
                problems.push(format!("{width}px {path}: {v}"));
            }
            if width < 500 {
                for p in phone_layout_problems(&c, true).await {
                    problems.push(format!("{width}px {path}: {p}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
    c.close().await.unwrap();
}

/// The screens people look at most, in every state they show, with the demo plus a
/// dense week: each kiosk pane, the calendar's month, week, day and list views with its
/// dialogs open, the capacity board's day and week — at desktop and phone width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_in_every_state() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let dense = crate::screens::demo_with_dense_week(&app).await;
    let mut problems = Vec::new();
    let check = async |c: &Client, state: String, logged_in: bool, width: u32| {
        let mut found: Vec<String> = violations(c).await;
        if width < 500 {
            found.extend(phone_layout_problems(c, logged_in).await);
        }
        found
            .into_iter()
            .map(|v| format!("{width}px {state}: {v}"))
            .collect::<Vec<_>>()
    };
    for (width, height) in [(1280u32, 900u32), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        c.delete_all_cookies().await.unwrap();
        c.goto(&app.url(&dense.kiosk)).await.unwrap();
        let panes = crate::screens::kiosk_panes(&c).await;
        for (i, pane) in panes.iter().enumerate() {
            crate::screens::show_pane(&c, i).await;
            problems.extend(check(&c, format!("kiosk pane {pane}"), false, width).await);
        }
        log_in(&c, &app, cflows_actors::demo::DEMO_ADMIN_EMAIL).await;
        for path in ["/calendar/board", "/calendar/board?view=week"] {
            c.goto(&app.url(path)).await.unwrap();
            crate::browser::wait_for(
                &c,
                "return [...document.querySelectorAll('#board tbody tr')].every(r => r.dataset.drawn)",
                json!(true),
            )
            .await;
            problems.extend(check(&c, path.to_string(), true, width).await);
        }
        crate::screens::calendar_on(&c, &app, &dense.first_day.to_string()).await;
        for view in crate::screens::CALENDAR_VIEWS {
            crate::screens::calendar_view(&c, view).await;
            // The week's bookings are drawn.
            crate::browser::wait_for(
                &c,
                "return document.querySelectorAll('#calendar [data-kind=booking]').length > 0",
                json!(true),
            )
            .await;
            problems.extend(check(&c, format!("/calendar {view}"), true, width).await);
            // Dense days stack at most so many entries and offer the rest as "+N more".
            let more: Value = c
                .execute(
                    "return [...document.querySelectorAll('#calendar *')].some(e => e.children.length === 0 && /^\\+\\d+( more)?$/.test(e.textContent.trim()))",
                    vec![],
                )
                .await
                .unwrap();
            if more != json!(true) && !view.starts_with("list") {
                problems.push(format!(
                    "{width}px /calendar {view}: no \"+N more\" on a dense week"
                ));
            }
        }
        // The new-event dialog, then a booking's details.
        crate::screens::open_new_event_dialog(&c).await;
        crate::browser::wait_for(
            &c,
            "return document.getElementById('quick').open",
            json!(true),
        )
        .await;
        problems.extend(check(&c, "/calendar new-event dialog".into(), true, width).await);
        c.execute("document.getElementById('quick').close()", vec![])
            .await
            .unwrap();
        c.execute(
            "document.querySelector('#calendar [data-kind=booking][data-state=held]').click()",
            vec![],
        )
        .await
        .unwrap();
        crate::browser::wait_for(
            &c,
            "return document.getElementById('details')?.open",
            json!(true),
        )
        .await;
        problems.extend(check(&c, "/calendar booking dialog".into(), true, width).await);
        c.execute("document.getElementById('details').close()", vec![])
            .await
            .unwrap();
    }
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
    c.close().await.unwrap();
}
