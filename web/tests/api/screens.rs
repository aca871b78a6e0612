//! The screens people look at most — the calendar, the team capacity board and the
//! workshop kiosk — with the dealership demo plus a dense week (six teams, two with
//! long names, every lane booked back to back with long titles, holds by a person with a
//! long name), in a real headless Chromium at desktop and phone width.
//!
//! `save_screenshots` (ignored; `scripts/screenshots.sh` runs it) saves every page in
//! every state at 1366 and 390 px for review.

use crate::a11y::SIDEWAYS;
use crate::browser::{browser, log_in};
use crate::helpers::*;
use cflows_actors::demo;
use cflows_actors::domain::time;
use cflows_actors::org::{Caller, OrgHandle, TeamInput};
use cflows_actors::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
use cflows_protocol::{OrgId, Role};
use fantoccini::Client;
use serde_json::{Value, json};
use std::time::Duration;

/// The demo organization with a dense week on top.
pub struct Dense {
    #[allow(dead_code)]
    pub org: OrgId,
    /// `/kiosk/k/{token}` of the demo's workshop screen.
    pub kiosk: String,
    /// The demo's Vehicles workflow.
    pub workflow: String,
    /// Bookings the dense week added.
    pub added: usize,
    /// The dense week's first busy day (today, unless the day is over or a weekend).
    pub first_day: chrono::NaiveDate,
    /// The demo's first team (its staff page).
    pub team: String,
}

const CARS: &[&str] = &[
    "Mercedes-Benz E 300 de T-Modell AMG Line, obsidian black",
    "BMW 320d Touring M Sport, Portimao blue (customer waiting)",
    "Volkswagen ID.4 Pro Performance 77 kWh, moonstone grey",
    "Škoda Octavia Combi 2.0 TDI Style, race blue metallic",
    "Audi A6 Avant 40 TDI quattro S tronic, glacier white",
    "Renault Mégane E-Tech EV60 Iconic, flame red",
    "Toyota Corolla Touring Sports 2.0 Hybrid GR Sport",
    "Porsche Macan T, carmine red, trade-in appraisal",
];

/// Seeds the demo and a dense week (the five working days from today, in the
/// organization's zone) on it.
pub async fn demo_with_dense_week(app: &TestApp) -> Dense {
    let (org, kiosk) = crate::journey::seed_demo(app).await;
    let handle = app.core.directory.org(&org).await.unwrap();
    let (added, first_day) = dense_week(app, &org, &handle).await;
    let snap = handle.snapshot().await.unwrap();
    Dense {
        org,
        kiosk,
        workflow: snap.workflows[0].id.to_string(),
        added,
        first_day,
        team: snap.teams[0].id.to_string(),
    }
}

/// Adds the dense week; returns how many bookings it added and its first busy day.
async fn dense_week(app: &TestApp, org: &OrgId, handle: &OrgHandle) -> (usize, chrono::NaiveDate) {
    // Members with long names; the first holds some of the week's slots.
    let mut people = Vec::new();
    for (email, name) in [
        (
            "maximiliane.hohenberg@demo-motors.example",
            "Maximiliane von Hohenberg-Schwarzenfeld",
        ),
        (
            "jean-baptiste.okonkwo@demo-motors.example",
            "Jean-Baptiste Okonkwo-Lindqvist",
        ),
    ] {
        let user = app
            .core
            .directory
            .create_user(email, name, PASSWORD, false)
            .await
            .unwrap();
        handle
            .add_member(Caller::System, user.clone(), Role::Member)
            .await
            .unwrap();
        people.push(user);
    }
    let long = people[0].clone();
    for (name, colour, capacity) in [
        ("Detailing & Valet Preparation Crew", "#0f766e", 2),
        ("Used-Car Appraisal and Trade-In Desk", "#b91c1c", 1),
    ] {
        handle
            .create_team(
                Caller::System,
                TeamInput {
                    name: name.into(),
                    description: "Added for the dense week".into(),
                    colour: colour.into(),
                    members: people.iter().map(|p| p.id.clone()).collect(),
                    bookable_count: capacity,
                    manager: Some(long.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let snap = handle.snapshot().await.unwrap();
    let tz = time::zone(&snap.org.timezone).unwrap();
    let today = time::local(tz, chrono::Utc::now()).date();
    // Five working days from today (the hours already over are refused, so a week
    // seeded late on a Friday still has four busy days ahead).
    let days: Vec<chrono::NaiveDate> = (0..9)
        .map(|d| today + chrono::Duration::days(d))
        .filter(|d| chrono::Datelike::weekday(d).number_from_monday() <= 5)
        .take(5)
        .collect();
    let at = |day: chrono::NaiveDate, minute: i64| {
        time::resolve(
            tz,
            day.and_time(chrono::NaiveTime::MIN) + chrono::Duration::minutes(minute),
        )
        .timestamp_millis()
    };
    let admin = Booker {
        user: snap
            .members
            .iter()
            .find(|m| m.role == Role::Owner)
            .unwrap()
            .user
            .id
            .clone(),
        name: "Alex Admin".into(),
        admin: true,
    };
    let holder = Booker {
        user: long.id.clone(),
        name: long.display_name.clone(),
        admin: true,
    };
    let lengths = [45, 60, 90, 30, 75, 60];
    let (mut added, mut first) = (0, days[days.len() - 1]);
    let mut n = 0usize;
    for (ti, team) in snap.teams.iter().enumerate() {
        let cal = TeamCalendarHandle::new(&app.core.kernel, org, &team.id);
        let job = &snap.job_types[ti % snap.job_types.len()];
        for &day in &days {
            for lane in 0..team.bookable_count {
                // Lanes start a little apart, so bookings overlap in steps.
                let mut minute = 8 * 60 + i64::from(lane) * 20;
                while minute + 30 <= 17 * 60 {
                    n += 1;
                    let len = lengths[n % lengths.len()].min(17 * 60 - minute);
                    let hold = n.is_multiple_of(7);
                    let spec = BookingSpec {
                        job_type: job.id.clone(),
                        start: at(day, minute),
                        end: at(day, minute + len),
                        members_required: 1,
                        title: format!("VH-{} · {} — {}", 1000 + n, job.name, CARS[n % CARS.len()]),
                        confirm: !hold,
                        hold_ms: hold.then_some(3 * 3_600_000),
                        waitlist: false,
                        assigned: Vec::new(),
                        work_item: None,
                        step: None,
                    };
                    let by = if hold { &holder } else { &admin };
                    if cal.hold(by.clone(), spec).await.is_ok() {
                        added += 1;
                        first = first.min(day);
                    }
                    minute += len + 15;
                }
            }
        }
    }
    (added, first)
}

/// Every page worth looking at, in every state, at 1366 and 390 px, saved as PNGs into
/// `$CFLOWS_SHOTS_DIR` (default `target/screens`). Run by `scripts/screenshots.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "saves screenshots for review; run by scripts/screenshots.sh"]
async fn save_screenshots() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let dir = std::path::PathBuf::from(
        std::env::var("CFLOWS_SHOTS_DIR").unwrap_or_else(|_| "target/screens".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let app = spawn_app().await;
    let dense = demo_with_dense_week(&app).await;
    eprintln!("dense week: {} bookings added", dense.added);
    let pages = [
        ("home", "/".to_string()),
        ("calendar", "/calendar".into()),
        ("board-day", "/calendar/board".into()),
        ("board-week", "/calendar/board?view=week".into()),
        ("boards", "/boards".into()),
        ("workboard", format!("/boards/{}", dense.workflow)),
        ("tasks", "/tasks".into()),
        ("projects", "/projects".into()),
        ("notifications", "/notifications".into()),
        ("me", "/me".into()),
        ("me-notifications", "/me/notifications".into()),
        ("staff-users", "/staff/users".into()),
        ("staff-teams", "/staff/teams".into()),
        ("staff-team", format!("/staff/teams/{}", dense.team)),
        ("staff-capacity", "/staff/capacity".into()),
        ("staff-workflows", "/staff/workflows".into()),
        ("staff-kiosks", "/staff/kiosks".into()),
        ("staff-audit", "/staff/audit".into()),
        ("staff-metrics", "/staff/metrics".into()),
        ("staff-mail", "/staff/mail".into()),
        // Logged in it shows the same form a forgetful person sees.
        ("password-forgot", "/password/forgot".into()),
    ];
    for width in [1366u32, 390] {
        c.set_window_size(width, if width < 500 { 844 } else { 900 })
            .await
            .unwrap();
        c.delete_all_cookies().await.unwrap();
        // The kiosk: each pane in turn.
        c.goto(&app.url(&dense.kiosk)).await.unwrap();
        let panes = kiosk_panes(&c).await;
        for (i, name) in panes.iter().enumerate() {
            show_pane(&c, i).await;
            shoot(&c, &dir, &format!("kiosk-{}-{width}", slug(name)), width).await;
        }
        log_in(&c, &app, demo::DEMO_ADMIN_EMAIL).await;
        for (name, path) in &pages {
            c.goto(&app.url(path)).await.unwrap();
            settle(&c).await;
            shoot(&c, &dir, &format!("{name}-{width}"), width).await;
        }
        // The calendar's other views and its dialog, on the dense week.
        calendar_on(&c, &app, &dense.first_day.to_string()).await;
        for view in CALENDAR_VIEWS {
            calendar_view(&c, view).await;
            settle(&c).await;
            shoot(&c, &dir, &format!("calendar-{view}-{width}"), width).await;
        }
        open_new_event_dialog(&c).await;
        settle(&c).await;
        shoot(&c, &dir, &format!("calendar-new-dialog-{width}"), width).await;
    }
    c.close().await.unwrap();
}

/// The calendar's views, as FullCalendar names them.
pub const CALENDAR_VIEWS: [&str; 4] = ["timeGridWeek", "dayGridMonth", "timeGridDay", "listWeek"];

/// Opens `/calendar` and, once it is ready, goes to `day` (`YYYY-MM-DD`).
pub async fn calendar_on(c: &Client, app: &TestApp, day: &str) {
    c.goto(&app.url("/calendar")).await.unwrap();
    crate::browser::wait_for(c, "return document.body.dataset.calendar", json!("ready")).await;
    c.execute(
        "window.cflowsCalendar.gotoDate(arguments[0])",
        vec![json!(day)],
    )
    .await
    .unwrap();
}

/// Switches the calendar to `view` (one of [`CALENDAR_VIEWS`]).
pub async fn calendar_view(c: &Client, view: &str) {
    c.execute(
        "window.cflowsCalendar.changeView(arguments[0])",
        vec![json!(view)],
    )
    .await
    .unwrap();
}

/// Clicks the calendar's "New…" button, as a person would.
pub async fn open_new_event_dialog(c: &Client) {
    c.execute(
        "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'New…').click()",
        vec![],
    )
    .await
    .unwrap();
}

/// The kiosk's panes, by name.
pub async fn kiosk_panes(c: &Client) -> Vec<String> {
    for _ in 0..100 {
        let v: Value = c
            .execute(
                "return window.cflowsKiosk ? window.cflowsKiosk.panes() : null",
                vec![],
            )
            .await
            .unwrap();
        if let Some(list) = v.as_array() {
            return list
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Before the kiosk had a hook: its three panes, shown in turn by its cycle.
    vec!["board".into(), "capacity".into(), "bookings".into()]
}

/// Shows the kiosk's pane `i` (or waits for the cycle to reach it).
pub async fn show_pane(c: &Client, i: usize) {
    let has: Value = c
        .execute("return !!window.cflowsKiosk", vec![])
        .await
        .unwrap();
    if has == json!(true) {
        c.execute("window.cflowsKiosk.show(arguments[0])", vec![json!(i)])
            .await
            .unwrap();
        settle(c).await;
    } else if i > 0 {
        tokio::time::sleep(Duration::from_secs(20)).await;
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Lets live data arrive and the page lay itself out.
async fn settle(_c: &Client) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Saves the whole page (the window grown to its height) as `{name}.png`, and on a
/// phone also its first screen as `{name}-top.png`.
async fn shoot(c: &Client, dir: &std::path::Path, name: &str, width: u32) {
    let h: Value = c
        .execute(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)",
            vec![],
        )
        .await
        .unwrap();
    let h = h.as_u64().unwrap_or(900).clamp(600, 6000) as u32;
    if width < 500 {
        // What a phone shows first.
        let png = c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}-top.png")), png).unwrap();
    }
    let open_dialog: Value = c
        .execute("return !!document.querySelector('dialog[open]')", vec![])
        .await
        .unwrap();
    if open_dialog != json!(true) {
        c.set_window_size(width, h).await.unwrap();
    }
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    c.set_window_size(width, if width < 500 { 844 } else { 900 })
        .await
        .unwrap();
}

/// The next Monday-to-Friday date after today in the demo's zone, `days` working days on.
fn working_day_ahead(days: usize) -> chrono::NaiveDate {
    let tz = time::zone("Europe/Berlin").unwrap();
    let mut day = time::local(tz, chrono::Utc::now()).date();
    let mut n = 0;
    while n < days {
        day += chrono::Duration::days(1);
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            n += 1;
        }
    }
    day
}

/// What the person reads in the kiosk's current pane that is too faint or too small:
/// every element with text of its own, its contrast against the background it sits on
/// (computed in the page) and its font size.
const LEGIBILITY: &str = r#"
const min = arguments[0];
const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
  }
  return [255, 255, 255];
};
const problems = [];
for (const el of document.querySelectorAll('#kiosk-title, #kiosk-view *')) {
  const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim();
  if (!own || el.getClientRects().length === 0) continue;
  const style = getComputedStyle(el);
  const [a, b] = [lum(rgb(style.color)), lum(background(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize);
  if (ratio < 4.5) problems.push(`"${own.slice(0, 30)}" contrast ${ratio.toFixed(2)}:1`);
  if (size < min) problems.push(`"${own.slice(0, 30)}" is ${size}px`);
}
return problems;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workshop_screen_shows_every_pane_legibly() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let (org, kiosk) = crate::journey::seed_demo(&app).await;
    let snap = app
        .core
        .directory
        .org(&org)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    c.set_window_size(1280, 900).await.unwrap();
    c.goto(&app.url(&kiosk)).await.unwrap();
    let panes = kiosk_panes(&c).await;
    assert_eq!(
        panes,
        ["Vehicles", "capacity", "bookings"],
        "the demo's panes"
    );
    let mut problems = Vec::new();
    for (i, pane) in panes.iter().enumerate() {
        c.execute("window.cflowsKiosk.show(arguments[0])", vec![json!(i)])
            .await
            .unwrap();
        // Live data arrived: no pane still says "Loading…" or "…".
        crate::browser::wait_for(
            &c,
            "return !document.getElementById('kiosk-view').innerText.split('\\n').some(l => l.trim() === '…' || l.includes('Loading'))",
            json!(true),
        )
        .await;
        let found: Vec<String> =
            serde_json::from_value(c.execute(LEGIBILITY, vec![json!(20)]).await.unwrap()).unwrap();
        problems.extend(found.into_iter().map(|p| format!("{pane}: {p}")));
    }
    assert!(
        problems.is_empty(),
        "hard to read across a workshop:\n{}",
        problems.join("\n")
    );

    // Capacity: every team of the screen's scope (the demo's: all of them), and only the
    // hours the teams work (Monday to Friday 08:00–17:00, Saturday morning for two).
    c.execute("window.cflowsKiosk.show(1)", vec![])
        .await
        .unwrap();
    let listed: Vec<String> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#kiosk-view tbody th')].map(th => th.textContent)",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let hours: Vec<String> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#kiosk-view thead th')].slice(1).map(th => th.textContent)",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let weekday = {
        let tz = time::zone("Europe/Berlin").unwrap();
        chrono::Datelike::weekday(&time::local(tz, chrono::Utc::now()).date()).number_from_monday()
    };
    if weekday == 7 {
        let text: Value = c
            .execute(
                "return document.getElementById('kiosk-view').innerText",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(text, json!("All teams are closed today."));
    } else {
        let mut names: Vec<String> = snap.teams.iter().map(|t| t.name.clone()).collect();
        let mut shown = listed.clone();
        names.sort();
        shown.sort();
        assert_eq!(shown, names, "every team is listed");
        let (open, close) = if weekday == 6 { (9, 13) } else { (8, 17) };
        let whole: Vec<u32> = hours.iter().map(|h| h[..2].parse().unwrap()).collect();
        assert_eq!(
            whole,
            (open..close).collect::<Vec<u32>>(),
            "hours shown: {hours:?}"
        );
    }

    // Bookings: today's still to come, else the next ones — never an empty pane while
    // bookings are ahead (the demo's start on the next working day).
    c.execute("window.cflowsKiosk.show(2)", vec![])
        .await
        .unwrap();
    let title: Value = c
        .execute(
            "return document.getElementById('kiosk-title').textContent",
            vec![],
        )
        .await
        .unwrap();
    let rows: Value = c
        .execute(
            "return document.querySelectorAll('#kiosk-view tbody tr').length",
            vec![],
        )
        .await
        .unwrap();
    assert!(rows.as_u64().unwrap() > 0, "{title}: no rows");
    let title = title.as_str().unwrap();
    assert!(
        title.ends_with("Today's bookings") || title.ends_with("Next bookings"),
        "{title}"
    );
    if title.ends_with("Next bookings") {
        // Each row says which day.
        let first: Value = c
            .execute(
                "return document.querySelector('#kiosk-view tbody td').textContent",
                vec![],
            )
            .await
            .unwrap();
        assert!(first.as_str().unwrap().contains(','), "{first}");
    }
    c.close().await.unwrap();
}

/// A lane of the capacity board: the team, and each cell's class, text and free count.
type Lane = (String, Vec<(String, String, u32)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capacity_board_week_says_what_is_free_each_day_as_the_day_view_shows_it() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let (app, _) = crate::journey::demo_app().await;
    let day = working_day_ahead(1);
    let column = chrono::Datelike::weekday(&day).num_days_from_monday() as usize;
    c.set_window_size(1366, 900).await.unwrap();
    log_in(&c, &app, demo::DEMO_ADMIN_EMAIL).await;
    let lanes_drawn =
        "return [...document.querySelectorAll('#board tbody tr')].every(r => r.dataset.drawn)";
    let cells = "return [...document.querySelectorAll('#board tbody tr')].map(r => [r.querySelector('th').textContent.trim(), [...r.querySelectorAll('td')].map(td => [td.className, td.textContent, Number(td.dataset.free)])])";
    c.goto(&app.url(&format!("/calendar/board?view=week&date={day}")))
        .await
        .unwrap();
    crate::browser::wait_for(&c, lanes_drawn, json!(true)).await;
    let week: Vec<Lane> = serde_json::from_value(c.execute(cells, vec![]).await.unwrap()).unwrap();
    c.goto(&app.url(&format!("/calendar/board?date={day}")))
        .await
        .unwrap();
    crate::browser::wait_for(&c, lanes_drawn, json!(true)).await;
    let daily: Vec<Lane> = serde_json::from_value(c.execute(cells, vec![]).await.unwrap()).unwrap();
    assert_eq!(week.len(), 4, "the demo's teams");
    for ((team, days), (_, slots)) in week.iter().zip(&daily) {
        let (class, text, free) = &days[column];
        assert!(!class.contains("closed"), "{team} on {day}: {class} {text}");
        // The most members free at once that day, as the day view shows its half-hours:
        // one full half-hour does not make the day full.
        let most = slots
            .iter()
            .filter(|(c, _, _)| !c.contains("closed"))
            .map(|(_, _, f)| *f)
            .max()
            .unwrap();
        assert_eq!(*free, most, "{team} on {day}: {text}");
        assert_eq!(class.contains("full"), most == 0, "{team} on {day}: {text}");
        assert!(
            text.contains(" free") || text.starts_with("full"),
            "{team}: {text} (counts read as words)"
        );
        assert!(
            days[6].0.contains("closed"),
            "{team} works no Sundays: {:?}",
            days[6]
        );
    }
    // The testers are out on test drives from 10:30: that half-hour is full, the day is
    // not, and it says how much is left.
    let testers = |lanes: &[Lane]| {
        lanes
            .iter()
            .find(|(t, _)| t.contains("Testers"))
            .unwrap()
            .1
            .clone()
    };
    assert!(
        testers(&daily).iter().any(|(c, _, _)| c.contains("full")),
        "{:?}",
        testers(&daily)
    );
    let (class, text, _) = &testers(&week)[column];
    assert!(class.contains("partial"), "{class} {text}");
    assert!(text.starts_with("2 of 2 free"), "{text}");
    assert!(text.contains(" h free"), "{text}");
    // "2 of 3 free", not "3/3".
    let mechanics = &week
        .iter()
        .find(|(t, _)| t.contains("Mechanics"))
        .unwrap()
        .1[column];
    assert!(
        mechanics.1.contains(" of 3 free") || mechanics.1.starts_with("full"),
        "{mechanics:?}"
    );
    c.goto(&app.url(&format!("/calendar/board?view=week&date={day}")))
        .await
        .unwrap();
    crate::browser::wait_for(&c, lanes_drawn, json!(true)).await;
    crate::a11y::assert_passes(&c, "capacity week").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesperson_on_a_phone_books_a_test_drive_slot() {
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let (app, _) = crate::journey::demo_app().await;
    c.set_window_size(390, 844).await.unwrap();
    log_in(&c, &app, "sam.seller@demo-motors.example").await;
    c.goto(&app.url("/calendar")).await.unwrap();
    crate::browser::wait_for(&c, "return document.body.dataset.calendar", json!("ready")).await;
    assert_eq!(
        c.execute(SIDEWAYS, vec![]).await.unwrap(),
        json!([]),
        "the calendar scrolls sideways on a phone"
    );
    assert_eq!(
        c.execute(
            "return [...document.querySelectorAll('#calendar button')].filter(b => b.getBoundingClientRect().right > window.innerWidth).map(b => b.textContent)",
            vec![],
        )
        .await
        .unwrap(),
        json!([]),
        "calendar buttons off screen"
    );
    // "New…", book the Testers for a test drive a week and a day ahead at 15:00.
    c.execute(
        "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'New…').click()",
        vec![],
    )
    .await
    .unwrap();
    crate::browser::wait_for(
        &c,
        "return document.getElementById('quick').open",
        json!(true),
    )
    .await;
    let fits = "const r = document.getElementById('quick').getBoundingClientRect();
                const save = document.getElementById('q-save').getBoundingClientRect();
                return r.left >= 0 && r.right <= window.innerWidth && r.top >= 0 && r.bottom <= window.innerHeight
                  && save.right <= r.right && document.documentElement.scrollWidth <= window.innerWidth";
    assert_eq!(
        c.execute(fits, vec![]).await.unwrap(),
        json!(true),
        "the dialog fits the phone"
    );
    let day = working_day_ahead(6);
    let title = "Test drive — Mrs Jansen, VW ID.4";
    c.execute(
        "const pick = (sel, text) => { const s = document.querySelector(sel);
           s.value = [...s.options].find(o => o.textContent.startsWith(text)).value;
           s.dispatchEvent(new Event('change')); };
         pick('#q-team', 'Testers'); pick('#q-job', 'Test drive');
         const start = document.getElementById('q-start');
         start.value = arguments[0]; start.dispatchEvent(new Event('change'));",
        vec![json!(format!("{day}T15:00"))],
    )
    .await
    .unwrap();
    crate::browser::type_into(&c, "#q-title", title).await;
    crate::browser::wait_for(
        &c,
        "return document.getElementById('q-free').textContent",
        json!("2 of 2 free from 15:00 for 60 min."),
    )
    .await;
    crate::browser::click(&c, "#q-save").await;
    crate::browser::wait_for(
        &c,
        "return document.getElementById('quick').open",
        json!(false),
    )
    .await;
    // Visible on his calendar (the Testers' bookings are switched on for him), held.
    c.execute(
        "window.cflowsCalendar.gotoDate(arguments[0])",
        vec![json!(day.to_string())],
    )
    .await
    .unwrap();
    crate::browser::wait_for(
        &c,
        "return [...document.querySelectorAll('#calendar [data-kind=booking]')].some(e => e.innerText.includes('Mrs Jansen') && e.innerText.includes('held '))",
        json!(true),
    )
    .await;
    assert_eq!(
        c.execute(SIDEWAYS, vec![]).await.unwrap(),
        json!([]),
        "the week's list scrolls sideways"
    );
    // He opens it and confirms it.
    c.execute(
        "[...document.querySelectorAll('#calendar [data-kind=booking]')].find(e => e.innerText.includes('Mrs Jansen')).click()",
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
    c.execute(
        "[...document.querySelectorAll('#details button')].find(b => b.textContent === 'Confirm').click()",
        vec![],
    )
    .await
    .unwrap();
    crate::browser::wait_for(
        &c,
        "return [...document.querySelectorAll('#calendar [data-kind=booking][data-state=confirmed]')].some(e => e.innerText.includes('Mrs Jansen'))",
        json!(true),
    )
    .await;
    c.close().await.unwrap();
}
