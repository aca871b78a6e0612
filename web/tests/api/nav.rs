//! Finding one's way and the everyday basics, as people meet them: the header's navigation
//! (everyday pages first, the staff pages under one menu, a menu button on phones), the
//! "Today" start page, changing one's password, notification rows that lead somewhere,
//! the list view's sort and the live My tasks. Browser journeys run in headless Chromium.

use crate::a11y::violations;
use crate::browser::{browser, click, log_in, type_into, wait_for};
use crate::helpers::*;
use crate::journey::{error_says, notice_says, operator_org, seed_demo, shot, text};
use cflows_actors::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
use cflows_actors::{Caller, JobTypeInput, TeamInput};
use cflows_protocol::wire::close;
use cflows_protocol::{
    NewItem, Priority, Role, TeamId, UserView, WorkflowView, WorkingHours, WorkingPeriod,
};
use cflows_web::pages::layout::{NavGroup, Section};
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The `href`s of the links inside the header's main navigation.
fn nav_links(html: &str) -> Vec<String> {
    let start = html.find("<nav class=\"site\"").expect("a main navigation");
    let end = start + html[start..].find("</nav>").unwrap();
    html[start..end]
        .split("href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

/// A member's day in "Demo Motors": Mia lives in a zone where it is early morning now (so
/// her day's bookings lie ahead whenever the test runs), a Testers team open around the
/// clock, a job type, and the vehicle workflow (its first step's target is 8 hours).
struct Day {
    org: Org,
    mia: UserView,
    team: TeamId,
    job: String,
    workflow: WorkflowView,
}

async fn day(app: &TestApp) -> Day {
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia Tester", Role::Member)
        .await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    handle
        .update_profile(
            Caller::System,
            mia.id.clone(),
            cflows_protocol::ProfileView {
                timezone: MORNING.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let team = handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "Testers".into(),
                description: "Test drives and inspections".into(),
                members: vec![mia.id.clone(), org.owner.id.clone()],
                bookable_count: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let job = handle
        .create_job_type(
            Caller::System,
            JobTypeInput {
                name: "Inspection".into(),
                duration_minutes: 30,
                colour: "#16a34a".into(),
            },
        )
        .await
        .unwrap();
    TeamCalendarHandle::new(&app.core.kernel, &org.org.id, &team.id)
        .set_hours(
            admin_booker(&org),
            WorkingHours {
                zone: "Europe/Berlin".into(),
                weekly: (1..=7)
                    .map(|weekday| WorkingPeriod {
                        weekday,
                        start: "00:00".into(),
                        end: "24:00".into(),
                    })
                    .collect(),
                closed: Vec::new(),
                hold_minutes: 30,
            },
        )
        .await
        .unwrap();
    let workflow = handle
        .save_workflow(
            Caller::System,
            None,
            cflows_actors::demo::vehicle_workflow(
                |n| (n == "Testers").then(|| team.id.clone()),
                |_| None,
            ),
        )
        .await
        .unwrap();
    Day {
        org,
        mia,
        team: team.id,
        job: job.id,
        workflow,
    }
}

fn admin_booker(org: &Org) -> Booker {
    Booker {
        user: org.owner.id.clone(),
        name: "Owner".into(),
        admin: true,
    }
}

fn booker_of(u: &UserView) -> Booker {
    Booker {
        user: u.id.clone(),
        name: u.display_name.clone(),
        admin: false,
    }
}

/// A fixed-offset zone where it was between 06:00 and 07:00 when the tests started.
static MORNING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use chrono::Timelike;
    let hour = i64::from(chrono::Utc::now().hour());
    // Etc/GMT-5 is UTC+5; the zones run from UTC-12 to UTC+14.
    let offset = (6 - hour).rem_euclid(24);
    let offset = if offset > 14 { offset - 24 } else { offset };
    match offset {
        0 => "Etc/GMT".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
});

/// Today's local midnight in Mia's zone, Unix ms.
fn morning_midnight() -> i64 {
    let tz: chrono_tz::Tz = MORNING.clone().parse().unwrap();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    cflows_actors::domain::time::resolve(tz, today.and_hms_opt(0, 0, 0).unwrap()).timestamp_millis()
}

/// Books (or holds) `title` for `who` on the team today at `hour`:00 in Mia's zone.
async fn book(app: &TestApp, d: &Day, who: &UserView, title: &str, hour: i64, confirm: bool) {
    let start = morning_midnight() + hour * 3_600_000;
    TeamCalendarHandle::new(&app.core.kernel, &d.org.org.id, &d.team)
        .hold(
            booker_of(who),
            BookingSpec {
                job_type: d.job.clone(),
                start,
                end: start + 30 * 60_000,
                members_required: 1,
                title: title.into(),
                confirm,
                hold_ms: None,
                waitlist: false,
                assigned: vec![who.id.clone()],
                work_item: None,
                step: None,
            },
        )
        .await
        .unwrap();
}

/// A vehicle in the workflow's start step since `hours_ago` (its entry time rewritten in
/// the store, then the organization's actors restarted from it).
async fn vehicle(app: &TestApp, d: &Day, title: &str, hours_ago: i64) -> String {
    let board =
        cflows_actors::board::BoardHandle::new(&app.core.kernel, &d.org.org.id, &d.workflow.id);
    let item = board
        .create_item(
            booker_of(&d.mia),
            NewItem {
                title: title.into(),
                assignee: Some(d.mia.id.clone()),
                priority: Priority::High,
                due: None,
                data: [(
                    "vin".to_string(),
                    cflows_protocol::FieldValue::Text("WVW1".into()),
                )]
                .into(),
            },
        )
        .await
        .unwrap();
    app.core
        .kernel
        .store()
        .tamper_for_tests(&format!(
            "UPDATE type::record('work_item', '{}') SET entered_at = entered_at - {};",
            item.id,
            hours_ago * 3_600_000
        ))
        .await
        .unwrap();
    app.core.kernel.stop_scope(&d.org.org.id);
    item.key
}

/// Logs in over the API without a cookie jar: the session cookie's value and the CSRF token.
async fn session_of(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let r = app
        .client()
        .post(app.url("/api/v1/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login of {email}");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cflows_session="))
        .map(|v| v[..v.find(';').unwrap_or(v.len())].to_string())
        .expect("a session cookie");
    let body: Value = r.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_string())
}

/// GET `path` with the session `cookie`: the status and the `location` header.
async fn get_as(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = app
        .client()
        .get(app.url(path))
        .header("cookie", format!("cflows_session={cookie}"))
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status(), location)
}

#[tokio::test]
async fn every_nav_link_answers_and_staff_links_are_for_admins_only() {
    let app = spawn_app().await;
    let org = operator_org(&app).await;
    app.member(&org, "mia@example.com", "Mia", Role::Member)
        .await;

    // An operator who owns the organization sees every section, everyday pages first.
    let (admin, _) = app.login("op@example.com").await;
    let home = admin
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let links = nav_links(&home);
    let listed: Vec<String> = Section::ALL
        .iter()
        .filter(|s| s.group() != NavGroup::Account)
        .map(|s| s.href().to_string())
        .collect();
    assert_eq!(links, listed, "the header lists the sections in order");
    for s in Section::ALL {
        let r = admin.get(app.url(s.href())).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{} ({})", s.label(), s.href());
    }
    assert!(
        home.contains("<summary"),
        "the staff pages sit in a disclosure"
    );

    // A member sees the everyday pages only; the staff pages refuse them.
    let (member, _) = app.login("mia@example.com").await;
    let home = member
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let everyday: Vec<String> = Section::of(NavGroup::Everyday)
        .map(|s| s.href().to_string())
        .collect();
    assert_eq!(nav_links(&home), everyday);
    assert!(!home.contains(">Staff"), "no staff menu for a member");
    for s in Section::of(NavGroup::Staff) {
        let r = member.get(app.url(s.href())).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", s.href());
    }
    // The favicon is served and linked.
    assert!(home.contains("href=\"/static/favicon.svg\""));
    let icon = member
        .get(app.url("/static/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    for path in ["/login", "/kiosk"] {
        let page = app.client().get(app.url(path)).send().await.unwrap();
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("href=\"/static/favicon.svg\""),
            "{path} links the favicon"
        );
    }
}

#[tokio::test]
async fn the_list_view_sorts_time_in_step_as_it_says() {
    let app = spawn_app().await;
    let d = day(&app).await;
    // Three vehicles that entered their step 3 h, 1 h and 2 h ago.
    let three = vehicle(&app, &d, "Three hours", 3).await;
    let one = vehicle(&app, &d, "One hour", 1).await;
    let two = vehicle(&app, &d, "Two hours", 2).await;
    let (owner, _) = app.login("owner@example.com").await;
    let keys = |html: String| -> Vec<String> {
        html.split("<tr data-item=")
            .skip(1)
            .map(|row| {
                let a = row.find("\">").unwrap() + 2;
                let rest = &row[a..];
                let link = rest.find("\">").unwrap() + 2;
                rest[link..link + rest[link..].find('<').unwrap()].to_string()
            })
            .collect()
    };
    let list = |query: &'static str| {
        let owner = owner.clone();
        let url = app.url(&format!("/boards/{}?view=list{query}", d.workflow.id));
        async move {
            let r = owner.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let asc = list("&sort=time_in_step&order=asc").await;
    assert_eq!(
        keys(asc.clone()),
        [one.clone(), two.clone(), three.clone()],
        "shortest in step first"
    );
    let desc = keys(list("&sort=time_in_step&order=desc").await);
    assert_eq!(
        desc,
        [three.clone(), two.clone(), one.clone()],
        "longest in step first"
    );
    // With nothing chosen the list shows the longest in step first, and says so.
    let default = list("").await;
    assert_eq!(
        keys(default.clone()),
        [three.clone(), two.clone(), one.clone()]
    );
    assert!(default.contains("<option value=\"time_in_step\" selected>time in step</option>"));
    assert!(default.contains("<option value=\"desc\" selected>descending</option>"));
    assert!(asc.contains("<option value=\"asc\" selected>ascending</option>"));
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_rotates_this_one() {
    let app = spawn_app().await;
    let d = day(&app).await;
    let (cookie, csrf) = session_of(&app, &d.mia.email, PASSWORD).await;
    // Another browser of Mia's, with a live connection.
    let phone = app.ws_session(&d.mia.email).await;
    let other = phone.cookie["cflows_session=".len()..].to_string();
    let mut other_socket = cflows_load::client::Client::connect(
        &app.addr,
        &phone,
        Some(&format!("http://{}", app.addr)),
        vec![],
    )
    .await
    .unwrap()
    .0;
    let change = |current: &str, new: &str, again: &str| {
        app.client()
            .post(app.url("/me/password"))
            .header("cookie", format!("cflows_session={cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", again),
            ])
            .send()
    };

    // A wrong current password, or two different new ones: refused, nothing changes.
    let r = change(
        "not my password",
        "a new long password",
        "a new long password",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("not your current password")
    );
    let r = change(PASSWORD, "a new long password", "a new long passwort")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("type the new one twice"));
    let r = change(PASSWORD, "short", "short").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get_as(&app, &other, "/me").await.0, StatusCode::OK);

    // The change: this browser gets a new session, every other one ends.
    let r = change(PASSWORD, "a new long password", "a new long password")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/me?notice=Password")
    );
    let fresh = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cflows_session="))
        .map(|v| v[..v.find(';').unwrap()].to_string())
        .expect("a new session cookie");
    assert_ne!(fresh, cookie);
    assert_eq!(get_as(&app, &fresh, "/me").await.0, StatusCode::OK);
    assert_eq!(
        get_as(&app, &cookie, "/me").await,
        (StatusCode::SEE_OTHER, "/login".into()),
        "the old cookie is refused"
    );
    assert_eq!(
        get_as(&app, &other, "/me").await,
        (StatusCode::SEE_OTHER, "/login".into()),
        "the other session ended"
    );
    assert_eq!(
        other_socket.closed_within(WAIT).await.unwrap(),
        close::UNAUTHENTICATED
    );
    session_of(&app, &d.mia.email, "a new long password").await;
}

#[tokio::test]
async fn notification_rows_link_to_what_they_are_about() {
    let app = spawn_app().await;
    let d = day(&app).await;
    // The owner gives Mia a task: she is notified, with a link to it.
    let project = showroom_project(&app, &d).await;
    let task = balloons_for_mia(&app, &d, &project).await;
    let (mia, _) = app.login(&d.mia.email).await;
    let link = format!("href=\"/projects/{}?task={}\"", project.id, task.id);
    for _ in 0..100 {
        let html = mia
            .get(app.url("/notifications"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if html.contains(&link) {
            let today = mia
                .get(app.url("/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(today.contains(&link), "Today lists the unread notification");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no notification row links to the task");
}

/// Whether the element `css` selects is shown (not inside a closed menu, not hidden).
async fn shown(c: &Client, css: &str) -> bool {
    c.execute(
        "const el = document.querySelector(arguments[0]); return !!el && el.checkVisibility();",
        vec![json!(css)],
    )
    .await
    .unwrap()
        == json!(true)
}

/// Clicks `css` as a pointer would. WebDriver's own click refuses anything inside a closed
/// `<details>`, even where the page's style shows it (the wide header shows the closed
/// phone menu's contents).
async fn press(c: &Client, css: &str) {
    c.execute(
        "document.querySelector(arguments[0]).click()",
        vec![json!(css)],
    )
    .await
    .unwrap();
}

/// The labels of the header's visible links.
async fn visible_nav(c: &Client) -> Vec<String> {
    serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('nav.site a')]
               .filter(a => a.checkVisibility()).map(a => a.textContent.trim());",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap()
}

fn labels(group: NavGroup) -> Vec<String> {
    Section::of(group).map(|s| s.label().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_menu_opens_and_lists_the_staff_pages_for_an_admin_only() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    let everyday = labels(NavGroup::Everyday);
    let mut with_staff = everyday.clone();
    with_staff.extend(labels(NavGroup::Staff));

    // Wide screen: the everyday links are there at once; the staff pages behind "Staff".
    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, "owner@example.com").await;
    assert!(
        !shown(&c, "summary.menu-button").await,
        "no menu button on a wide screen"
    );
    assert_eq!(visible_nav(&c).await, everyday);
    shot(&c, "nav-closed-1366").await;
    assert!(shown(&c, ".staff-menu > summary").await);
    press(&c, ".staff-menu > summary").await;
    assert_eq!(visible_nav(&c).await, with_staff);
    shot(&c, "nav-staff-open-1366").await;
    c.execute(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        visible_nav(&c).await,
        everyday,
        "Escape closes the staff menu"
    );

    // Phone: one "Menu" button; the header is one short row until it is opened.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/")).await.unwrap();
    assert!(shown(&c, "summary.menu-button").await);
    assert!(visible_nav(&c).await.is_empty());
    let header: Value = c
        .execute(
            "return document.querySelector('header.top').getBoundingClientRect().height",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        header.as_f64().unwrap() < 70.0,
        "header is {header} px high"
    );
    click(&c, "summary.menu-button").await;
    assert_eq!(visible_nav(&c).await, everyday);
    click(&c, ".staff-menu > summary").await;
    assert_eq!(visible_nav(&c).await, with_staff);
    // The menu works from the keyboard too: the staff pages are links that open.
    click(&c, "nav.site a[href='/staff/teams']").await;
    wait_for(&c, "return location.pathname", json!("/staff/teams")).await;
    assert!(visible_nav(&c).await.is_empty(), "a new page starts closed");

    // A member's menu has no staff pages.
    c.delete_all_cookies().await.unwrap();
    log_in(&c, &app, &d.mia.email).await;
    click(&c, "summary.menu-button").await;
    assert_eq!(visible_nav(&c).await, everyday);
    assert!(!shown(&c, ".staff-menu").await);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_today_page_shows_my_bookings_holds_and_over_target_vehicles() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    // Someone else's booking does not show; Mia's do, in her time.
    let owner = d.org.owner.clone();
    book(&app, &d, &owner, "Owner's own test drive", 9, true).await;
    book(&app, &d, &d.mia, "Test drive BMW 320d", 10, true).await;
    book(&app, &d, &d.mia, "Inspection Audi A4", 14, false).await;
    let late = vehicle(&app, &d, "Skoda Octavia Combi 2.0 TDI, grey", 30).await;

    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, &d.mia.email).await;
    wait_for(&c, "return document.title", json!("Today · cflows")).await;
    let bookings = text(&c, "[aria-labelledby=t-bookings]").await;
    assert!(bookings.contains("10:00–10:30"), "{bookings}");
    assert!(bookings.contains("Test drive BMW 320d"));
    assert!(bookings.contains("14:00–14:30"));
    assert!(!bookings.contains("Owner's own"));
    let holds = text(&c, "[aria-labelledby=t-holds]").await;
    assert!(holds.contains("Inspection Audi A4"), "{holds}");
    // The hold counts down (30 minutes at most).
    wait_for(
        &c,
        "const t = document.querySelector('[data-countdown]').textContent; return /^(29|30):\\d\\d left$/.test(t)",
        json!(true),
    )
    .await;
    let over = text(&c, "[aria-labelledby=t-late]").await;
    assert!(over.contains(&late), "{over}");
    assert!(over.contains("1 d 6 h in step"), "{over}");
    // Each is a link to where it is handled.
    let href: Value = c
        .execute(
            "return [...document.querySelectorAll('[aria-labelledby=t-late] a')].map(a => a.getAttribute('href'))",
            vec![],
        )
        .await
        .unwrap();
    assert!(href[0].as_str().unwrap().starts_with("/items/"));

    // Live: a booking made for Mia elsewhere appears without a reload.
    wait_for(
        &c,
        "return document.body.dataset.following || null",
        json!("yes"),
    )
    .await;
    book(&app, &d, &d.mia, "Test drive Kia Ceed", 16, true).await;
    wait_for(
        &c,
        "return document.querySelector('[aria-labelledby=t-bookings]').innerText.includes('Test drive Kia Ceed')",
        json!(true),
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_day_says_what_to_do() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    log_in(&c, &app, &d.mia.email).await;
    let text: Value = c
        .execute("return document.querySelector('main').innerText", vec![])
        .await
        .unwrap();
    let text = text.as_str().unwrap();
    assert!(text.contains("Nothing needs you today, Mia."), "{text}");
    assert!(text.contains("book a slot on the calendar"));
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_changes_their_password_and_their_other_session_is_logged_out() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    // Mia is also logged in on her phone (a live connection).
    let mut phone = app.ws(&d.mia.email).await;
    log_in(&c, &app, &d.mia.email).await;
    c.goto(&app.url("/me")).await.unwrap();
    type_into(&c, "#current_password", PASSWORD).await;
    type_into(&c, "#new_password", "a new long password").await;
    type_into(&c, "#new_password_again", "a new long password").await;
    click(&c, "form[action='/me/password'] button[type=submit]").await;
    wait_for(
        &c,
        "const n = document.querySelector('.notice'); return n ? n.textContent : null",
        json!("Password changed. Your other sessions were logged out."),
    )
    .await;
    assert_eq!(
        phone.closed_within(WAIT).await.unwrap(),
        close::UNAUTHENTICATED
    );
    // This browser stays logged in.
    c.goto(&app.url("/")).await.unwrap();
    wait_for(&c, "return document.title", json!("Today · cflows")).await;
    // And a wrong current password is said plainly.
    c.goto(&app.url("/me")).await.unwrap();
    type_into(&c, "#current_password", PASSWORD).await;
    type_into(&c, "#new_password", "another long password").await;
    type_into(&c, "#new_password_again", "another long password").await;
    click(&c, "form[action='/me/password'] button[type=submit]").await;
    wait_for(
        &c,
        "const n = document.querySelector('.error'); return n ? n.textContent : null",
        json!("that is not your current password: type it again"),
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_tasks_follow_changes_without_a_reload() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    let project = showroom_project(&app, &d).await;
    log_in(&c, &app, &d.mia.email).await;
    c.goto(&app.url("/tasks")).await.unwrap();
    wait_for(
        &c,
        "return document.body.dataset.following || null",
        json!("yes"),
    )
    .await;
    balloons_for_mia(&app, &d, &project).await;
    wait_for(
        &c,
        "return document.querySelector('main').innerText.includes('Order balloons')",
        json!(true),
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_and_today_pass_axe_with_menus_open_and_closed() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    book(&app, &d, &d.mia, "Test drive BMW 320d", 10, true).await;
    book(
        &app,
        &d,
        &d.org.owner.clone(),
        "Inspection Audi A4",
        14,
        false,
    )
    .await;
    vehicle(&app, &d, "Skoda Octavia Combi 2.0 TDI, grey", 30).await;
    log_in(&c, &app, "owner@example.com").await;
    let mut problems = Vec::new();
    for (width, height, tag) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        c.set_window_size(width, height).await.unwrap();
        for path in ["/", "/me", "/tasks", "/notifications", "/staff/users"] {
            c.goto(&app.url(path)).await.unwrap();
            let name = if path == "/" {
                "today"
            } else {
                path.trim_matches('/')
            }
            .replace('/', "-");
            let mut states = vec!["closed"];
            if width < 500 {
                states.push("menu");
            }
            states.push("staff");
            for state in states {
                match state {
                    "menu" => click(&c, "summary.menu-button").await,
                    "staff" => {
                        if width < 500 && !shown(&c, ".staff-menu > summary").await {
                            click(&c, "summary.menu-button").await;
                        }
                        press(&c, ".staff-menu > summary").await;
                    }
                    _ => {}
                }
                for v in violations(&c).await {
                    problems.push(format!("{width}px {path} ({state}): {v}"));
                }
                if path == "/" || path == "/me" || state != "closed" {
                    shot(&c, &format!("{name}-{state}-{tag}")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_field_and_sets_a_target_in_hours_in_the_workflow_builder() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    let wf = d.workflow.id.clone();
    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, "owner@example.com").await;
    c.goto(&app.url(&format!("/staff/workflows/{wf}")))
        .await
        .unwrap();
    let text: Value = c
        .execute("return document.querySelector('main').innerText", vec![])
        .await
        .unwrap();
    let text = text.as_str().unwrap();
    // Rules and targets in words, fields as a form (no `vin | VIN | text` to type).
    assert!(text.contains("Passed inspection must be ticked"), "{text}");
    assert!(!text.contains("| required"), "{text}");
    let value = |css: &'static str| {
        let c = c.clone();
        async move {
            c.execute(
                "return document.querySelector(arguments[0]).value",
                vec![json!(css)],
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(value("#s1-target").await, json!("2"));
    assert_eq!(value("#s1-unit").await, json!("days"));
    assert_eq!(value("#s0-target").await, json!("8"));
    assert_eq!(value("#s0-unit").await, json!("hours"));
    assert_eq!(value("#s0-f0-label").await, json!("VIN"));
    shot(&c, "workflow-builder-1366").await;
    c.execute(
        "document.querySelector('#s0-name').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    shot(&c, "workflow-step-form-1366").await;
    c.set_window_size(390, 844).await.unwrap();
    c.execute(
        "document.querySelector('#s0-name').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    shot(&c, "workflow-step-form-390").await;
    assert!(
        violations(&c).await.is_empty(),
        "the builder passes axe at 390 px"
    );
    c.goto(&app.url(&format!("/staff/capacity/hours/{}", d.team)))
        .await
        .unwrap();
    shot(&c, "working-hours-390").await;
    c.set_window_size(1366, 900).await.unwrap();
    shot(&c, "working-hours-1366").await;
    c.goto(&app.url(&format!("/staff/workflows/{wf}")))
        .await
        .unwrap();

    // A new list field on the first step, and its target to 12 hours.
    type_into(&c, "#s0-f2-label", "Colour").await;
    click(&c, "#s0-f2-kind option[value=select]").await;
    click(&c, "input[name=field_required_2]").await;
    type_into(&c, "#s0-f2-options", "Black, White, Silver").await;
    c.execute("document.querySelector('#s0-target').value = ''", vec![])
        .await
        .unwrap();
    type_into(&c, "#s0-target", "12").await;
    click(&c, "#s0-unit option[value=hours]").await;
    click(&c, "#s0-f2-label").await;
    c.execute(
        "document.querySelector('#s0-name').form.querySelector('.actions button').click()",
        vec![],
    )
    .await
    .unwrap();
    wait_for(
        &c,
        "return !!document.querySelector('.notice') && document.querySelector('.notice').textContent",
        json!("Draft — not saved yet."),
    )
    .await;
    click(&c, "form input[value=publish] ~ button").await;
    wait_for(
        &c,
        "const n = document.querySelector('.notice'); return n ? n.textContent : null",
        json!("Version 2 saved."),
    )
    .await;
    let (owner, _) = app.login("owner@example.com").await;
    let w = get_json(&app, &owner, &format!("/api/v1/workflows/{wf}")).await;
    let first = &w["steps"][0];
    assert_eq!(first["target_minutes"], 720);
    let colour = first["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "Colour")
        .expect("the new field");
    assert_eq!(colour["key"], "colour");
    assert_eq!(colour["kind"], "select");
    assert_eq!(colour["required"], true);
    assert_eq!(colour["options"], json!(["Black", "White", "Silver"]));
    assert_eq!(
        first["fields"][0]["key"], "vin",
        "existing fields keep their key"
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_names_people_and_things_and_shows_local_times() {
    let app = spawn_app().await;
    let d = day(&app).await;
    let key = vehicle(&app, &d, "Skoda Octavia Combi", 1).await;
    let (owner, csrf) = app.login("owner@example.com").await;
    // Calendars: the owner's own and the team's (made on first look), and a shared one.
    let r = owner
        .get(app.url("/api/v1/calendars"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = owner
        .post(app.url("/api/v1/calendars"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Showroom"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = owner
        .get(app.url("/staff/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(">{key} Skoda Octavia Combi</a>")),
        "{html}"
    );
    assert!(html.contains(&format!(
        "href=\"/staff/teams/{}\">Team Testers</a>",
        d.team
    )));
    assert!(html.contains(">Mia Tester<"));
    assert!(!html.contains(&format!("team:{}", d.team)), "no raw ids");
    // Calendars by their names, not "A calendar".
    for name in [
        ">Calendar Showroom</a>",
        ">Calendar of team Testers</a>",
        &format!(">{}'s calendar</a>", d.org.owner.display_name),
    ] {
        assert!(html.contains(name), "{name} in {html}");
    }
    assert!(!html.contains("A calendar"), "{html}");
    assert!(!html.contains("UTC"));
    // Times in the viewer's zone: the owner's is the organization's, Berlin.
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        html.contains(&format!("<td data-label=\"When\">{today} ")),
        "{html}"
    );
    // Narrowed to one vehicle, the filter says which.
    let item = html
        .split("href=\"/items/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let one = owner
        .get(app.url(&format!("/staff/audit?entity=item:{item}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        one.contains(&format!("About <strong>{key} Skoda Octavia Combi</strong>")),
        "{one}"
    );
}

/// The audit filter's fields: their boxes (`[left, top, right, bottom]`) by label.
const FILTER_BOXES: &str = "return [...document.querySelectorAll('form.audit-filters .field')].map(f => { const r = f.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]; })";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_filters_fit_a_phone_and_say_the_chosen_days() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    vehicle(&app, &d, "Skoda Octavia Combi", 1).await;
    log_in(&c, &app, "owner@example.com").await;
    c.goto(&app.url("/staff/audit?from=2026-12-01&to=2026-12-03"))
        .await
        .unwrap();
    let said = text(&c, "form.audit-filters + p").await;
    assert!(
        said.starts_with("From Tue 1 Dec 2026 to Thu 3 Dec 2026."),
        "{said}"
    );
    for (w, h) in [(390, 844), (1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let boxes: Vec<[i64; 4]> =
            serde_json::from_value(c.execute(FILTER_BOXES, vec![]).await.unwrap()).unwrap();
        assert_eq!(boxes.len(), 5, "person, about, from, to, filter");
        for (i, a) in boxes.iter().enumerate() {
            assert!(
                a[0] >= 0 && a[2] <= i64::from(w),
                "{w}px: field {i} off screen: {a:?}"
            );
            assert!(a[2] - a[0] >= 150, "{w}px: field {i} is cramped: {a:?}");
            for b in &boxes[i + 1..] {
                let apart = a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1];
                assert!(apart, "{w}px: fields overlap: {a:?} {b:?}");
            }
        }
        shot(&c, &format!("audit-filtered-{w}")).await;
    }
    crate::a11y::assert_passes(&c, "audit log, filtered").await;
    c.close().await.unwrap();
}

/// Each weekday row of the working hours: `[top, bottom, right]` of the row and whether
/// its day, open box and two times sit on one line.
const WEEK_ROWS: &str = "return [...document.querySelectorAll('table.week-hours tbody tr')].map(tr => { const r = tr.getBoundingClientRect(); const tops = [...tr.querySelectorAll('th, input:not([type=hidden])')].map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2)); return [Math.round(r.top), Math.round(r.bottom), Math.round(r.right), Math.max(...tops) - Math.min(...tops) <= 12]; })";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_hours_read_as_one_compact_week_on_a_desk_and_a_phone() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    log_in(&c, &app, "owner@example.com").await;
    let path = format!("/staff/capacity/hours/{}", d.team);
    c.goto(&app.url(&path)).await.unwrap();
    for (w, h) in [(390, 844), (1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        shot(&c, &format!("working-hours-week-{w}")).await;
        let rows: Vec<(i64, i64, i64, bool)> =
            serde_json::from_value(c.execute(WEEK_ROWS, vec![]).await.unwrap()).unwrap();
        assert_eq!(rows.len(), 7, "a row per weekday");
        assert!(
            rows.iter().all(|r| r.3),
            "{w}px: a day on one line: {rows:?}"
        );
        assert!(
            rows.iter().all(|r| r.2 <= i64::from(w)),
            "{w}px: the week fits: {rows:?}"
        );
        let tall = rows[6].1 - rows[0].0;
        assert!(tall < 7 * 50, "{w}px: the week is {tall}px tall");
    }
    crate::a11y::assert_passes(&c, "working hours").await;
    // Sunday closed and Monday from 07:30, through the table.
    click(&c, "#open7").await;
    c.execute("document.getElementById('start1').value = '07:30'", vec![])
        .await
        .unwrap();
    click(&c, "form.stack button[type=submit]").await;
    notice_says(&c, "Working hours saved.").await;
    let hours = TeamCalendarHandle::new(&app.core.kernel, &d.org.org.id, &d.team)
        .snapshot()
        .await
        .unwrap()
        .hours;
    assert_eq!(hours.weekly.len(), 6, "{:?}", hours.weekly);
    assert_eq!(hours.weekly[0].start, "07:30");
    assert!(hours.weekly.iter().all(|p| p.weekday != 7));
    c.close().await.unwrap();
}

/// What /me shows as the member's picture: `[tag, src prefix, drawn width]`.
const PICTURE: &str = "const p = document.querySelector('.picture .avatar'); return [p.tagName, (p.getAttribute('src') ?? '').slice(0, 23), p.tagName === 'IMG' ? p.naturalWidth : 0]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_uploads_a_picture_and_sees_it_and_a_drawing_is_refused() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let d = day(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("me.png");
    std::fs::write(&photo, crate::projects::png(800, 600)).unwrap();
    let drawing = dir.path().join("me.svg");
    std::fs::write(
        &drawing,
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .unwrap();
    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, "mia@example.com").await;
    c.goto(&app.url("/me")).await.unwrap();
    // No data-URL box; the initials until there is a picture.
    assert_eq!(
        c.execute(
            "return document.querySelectorAll('input[name=avatar][type=text]').length",
            vec![]
        )
        .await
        .unwrap(),
        json!(0)
    );
    assert_eq!(
        c.execute(PICTURE, vec![]).await.unwrap(),
        json!(["SPAN", "", 0])
    );
    crate::a11y::assert_passes(&c, "/me without a picture").await;
    let upload = async |path: &std::path::Path| {
        c.find(Locator::Css("#avatar-file"))
            .await
            .unwrap()
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
        click(&c, "form[action='/me/avatar'] button[type=submit]").await;
    };
    upload(&photo).await;
    notice_says(&c, "Picture saved").await;
    // Redrawn small as a JPEG, whatever was sent.
    assert_eq!(
        c.execute(PICTURE, vec![]).await.unwrap(),
        json!(["IMG", "data:image/jpeg;base64,", 320])
    );
    shot(&c, "me-picture-1366").await;
    crate::a11y::assert_passes(&c, "/me with a picture").await;
    // A drawing with a script in it is refused, and the picture stays.
    upload(&drawing).await;
    let said = error_says(&c).await;
    assert!(said.contains("SVG"), "{said}");
    assert_eq!(c.execute(PICTURE, vec![]).await.unwrap()[0], json!("IMG"));
    // Others see it too: the member's profile holds it.
    let snap = app
        .core
        .directory
        .org(&d.org.org.id)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    let mia = snap.members.iter().find(|x| x.user.id == d.mia.id).unwrap();
    assert!(mia.profile.avatar.starts_with("data:image/jpeg;base64,"));
    // Saving the rest of the profile keeps it; removing it brings the initials back.
    click(&c, "form[action='/me'] button[type=submit]").await;
    notice_says(&c, "Profile saved").await;
    assert_eq!(c.execute(PICTURE, vec![]).await.unwrap()[0], json!("IMG"));
    click(&c, "form[action='/me/avatar/remove'] button").await;
    notice_says(&c, "Picture removed").await;
    assert_eq!(c.execute(PICTURE, vec![]).await.unwrap()[0], json!("SPAN"));
    c.close().await.unwrap();
}

#[tokio::test]
async fn pages_ask_for_24_hour_times_only_in_a_24_hour_organization_and_at_once() {
    let app = spawn_app().await;
    let d = day(&app).await;
    let (owner, _) = app.login("owner@example.com").await;
    let marked = async || {
        let html = owner
            .get(app.url("/calendar"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        html.contains("<body data-clock=\"24h\">")
    };
    assert!(marked().await, "Demo Motors writes 24-hour times");
    // Switched to a 12-hour clock, the very next page leaves the browser's inputs be.
    let org = app.core.directory.org(&d.org.org.id).await.unwrap();
    org.update_settings(
        Caller::System,
        cflows_actors::SettingsChange {
            name: "Demo Motors".into(),
            timezone: "Europe/Berlin".into(),
            clock: cflows_protocol::ClockFormat::H12,
        },
    )
    .await
    .unwrap();
    assert!(!marked().await, "a 12-hour organization");
}

#[tokio::test]
async fn an_admin_edits_a_job_type_and_a_missing_one_is_not_found() {
    let app = spawn_app().await;
    let d = day(&app).await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let page = owner
        .get(app.url("/staff/capacity"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("action=\"/staff/capacity/job-types/{}\"", d.job)));
    let edit = |id: String, name: &'static str| {
        owner
            .post(app.url(&format!("/staff/capacity/job-types/{id}")))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("duration_minutes", "90"),
                ("colour", "#b91c1c"),
            ])
            .send()
    };
    let r = edit(d.job.clone(), "Full inspection").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let jobs = app
        .core
        .directory
        .org(&d.org.org.id)
        .await
        .unwrap()
        .job_types()
        .await
        .unwrap();
    assert_eq!(
        (
            jobs[0].name.as_str(),
            jobs[0].duration_minutes,
            jobs[0].colour.as_str()
        ),
        ("Full inspection", 90, "#b91c1c")
    );
    let r = edit("nope".into(), "Other").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_someone_and_copies_the_link() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    day(&app).await;
    log_in(&c, &app, "owner@example.com").await;
    c.goto(&app.url("/staff/users")).await.unwrap();
    type_into(&c, "#email", "new.tester@example.com").await;
    c.execute(
        "document.querySelector('#email').form.requestSubmit()",
        vec![],
    )
    .await
    .unwrap();
    wait_for(
        &c,
        "const b = document.querySelector('button[data-copy]'); return !!b && !b.hidden",
        json!(true),
    )
    .await;
    click(&c, "button[data-copy]").await;
    // The clipboard may be closed to a headless browser: then the link is selected and
    // the person told how to copy it. Either way the page says what happened.
    wait_for(
        &c,
        "const t = document.querySelector('#invite-copied').textContent;
         return t === 'Copied.' || (t.startsWith('Press Ctrl+C') && document.activeElement.id === 'invite-link')",
        json!(true),
    )
    .await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_admins_today_lists_late_vehicles_at_both_widths() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let (org, _) = seed_demo(&app).await;
    // Three days later: every vehicle has waited longer than its step's target.
    app.core
        .kernel
        .store()
        .tamper_for_tests("UPDATE work_item SET entered_at = entered_at - 259200000;")
        .await
        .unwrap();
    app.core.kernel.stop_scope(&org);
    log_in(&c, &app, cflows_actors::demo::DEMO_ADMIN_EMAIL).await;
    let mut problems = Vec::new();
    for (width, tag) in [(1366, "1366"), (390, "390")] {
        c.set_window_size(width, 900).await.unwrap();
        c.goto(&app.url("/")).await.unwrap();
        let late: Value = c
            .execute(
                "return document.querySelectorAll('[aria-labelledby=t-late] li').length",
                vec![],
            )
            .await
            .unwrap();
        assert!(late.as_u64().unwrap() >= 5, "{late} late vehicles listed");
        let header: Value = c
            .execute(
                "return document.querySelector('header.top').getBoundingClientRect().height",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            header.as_f64().unwrap() < 70.0,
            "the header is one row: {header} px"
        );
        // Holds running out soon are listed with a countdown; later ones are counted.
        let holds: Value = c
            .execute(
                "return [...document.querySelectorAll('[data-countdown]')].map(e => e.textContent)",
                vec![],
            )
            .await
            .unwrap();
        for h in holds.as_array().unwrap() {
            let h = h.as_str().unwrap();
            assert!(h.ends_with("left") && !h.contains(" h "), "{h}");
        }
        problems.extend(violations(&c).await);
        shot(&c, &format!("demo-today-{tag}")).await;
        if width < 500 {
            click(&c, "summary.menu-button").await;
            click(&c, ".staff-menu > summary").await;
        } else {
            press(&c, ".staff-menu > summary").await;
        }
        problems.extend(violations(&c).await);
        shot(&c, &format!("demo-menu-open-{tag}")).await;
    }
    assert!(problems.is_empty(), "{problems:?}");
    c.close().await.unwrap();
}

/// The owner's project "Spring showroom event", with Mia as a member.
async fn showroom_project(app: &TestApp, d: &Day) -> cflows_protocol::ProjectView {
    cflows_actors::project::create(
        &app.core.kernel,
        &d.org.org.id,
        &admin_booker(&d.org),
        cflows_protocol::ProjectInput {
            name: Some("Spring showroom event".into()),
            members: Some(vec![d.mia.id.clone()]),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The owner gives Mia the task "Order balloons" in `project`.
async fn balloons_for_mia(
    app: &TestApp,
    d: &Day,
    project: &cflows_protocol::ProjectView,
) -> cflows_protocol::TaskView {
    cflows_actors::project::ProjectHandle::new(
        &app.core.kernel,
        &d.org.org.id,
        &project.id,
        admin_booker(&d.org),
    )
    .create_task(cflows_protocol::NewTask {
        title: "Order balloons".into(),
        assignee: Some(d.mia.id.clone()),
        ..Default::default()
    })
    .await
    .unwrap()
}
