//! The staff panel's create / edit / remove flows, driven with plain HTML forms as a
//! browser without JavaScript would send them.

use crate::helpers::*;
use cflows_protocol::Role;
use reqwest::StatusCode;

async fn form_post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn users_are_created_edited_and_removed() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();

    // The admin invites; the page shows the one-time link to pass on.
    let r = form_post(
        &client,
        &app,
        "/staff/users",
        &[
            ("csrf", &csrf),
            ("email", "max@example.com"),
            ("role", "member"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let link = page
        .split("id=\"invite-link\"")
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the page shows the invitation link")
        .to_string();
    assert!(link.starts_with(&app.url("/invite/")), "{link}");
    let list = client
        .get(app.url("/staff/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Pending invitations") && list.contains("max@example.com"));
    assert!(
        !list.contains(&link),
        "the link is shown once, not on later pages"
    );
    assert_eq!(
        handle.snapshot().await.unwrap().members.len(),
        1,
        "nobody is added yet"
    );

    // Max opens the link in his own browser, chooses a name and password, logs in
    // with them and joins.
    let browser = app.client();
    let invite_path = link.trim_start_matches(&app.url(""));
    let (status, next, joined) = join_by_link(
        &app,
        &browser,
        invite_path,
        ("Max Mechanic", "initial password"),
        ("max@example.com", "initial password"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(next.contains("log in as max@example.com"), "{next}");
    assert!(joined);
    let home = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "Max is logged in");
    let list = client
        .get(app.url("/staff/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Max Mechanic") && list.contains("max@example.com"));
    assert!(
        !list.contains("Pending invitations"),
        "the invitation was used"
    );
    let max = handle
        .snapshot()
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.user.email == "max@example.com")
        .unwrap();
    // The new user can log in with the password they chose.
    assert!(
        app.core
            .directory
            .authenticate("max@example.com", "initial password")
            .await
            .unwrap()
            .is_some()
    );
    // The link worked once.
    let again = browser.get(app.url(invite_path)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // The same email again is a conflict, with the message on the page and nothing added.
    let dup = form_post(
        &client,
        &app,
        "/staff/users",
        &[
            ("csrf", &csrf),
            ("email", "MAX@example.com"),
            ("role", "member"),
        ],
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert!(dup.text().await.unwrap().contains("already a member"));
    assert_eq!(handle.snapshot().await.unwrap().members.len(), 2);

    // Promote to admin.
    let base = format!("/staff/users/{}", max.user.id);
    let r = form_post(
        &client,
        &app,
        &format!("{base}/membership"),
        &[("csrf", &csrf), ("role", "admin"), ("active", "true")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        handle
            .member(max.user.id.clone())
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Admin
    );

    // Profile with an unknown time zone: 422, message shown, profile unchanged.
    let bad = form_post(
        &client,
        &app,
        &format!("{base}/profile"),
        &[
            ("csrf", &csrf),
            ("title", "Lead"),
            ("timezone", "Nowhere/Land"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("Nowhere/Land"));
    assert_eq!(
        handle
            .member(max.user.id.clone())
            .await
            .unwrap()
            .unwrap()
            .profile
            .title,
        ""
    );
    let ok = form_post(
        &client,
        &app,
        &format!("{base}/profile"),
        &[
            ("csrf", &csrf),
            ("title", "Lead mechanic"),
            ("timezone", "Europe/Vienna"),
        ],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let profile = handle
        .member(max.user.id.clone())
        .await
        .unwrap()
        .unwrap()
        .profile;
    assert_eq!(
        (profile.title.as_str(), profile.timezone.as_str()),
        ("Lead mechanic", "Europe/Vienna")
    );

    // Deactivate (the box unticked), then remove.
    let r = form_post(
        &client,
        &app,
        &format!("{base}/membership"),
        &[("csrf", &csrf), ("role", "admin")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !handle
            .member(max.user.id.clone())
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let r = form_post(&client, &app, &format!("{base}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(handle.member(max.user.id.clone()).await.unwrap().is_none());
    assert_eq!(
        client.get(app.url(&base)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // The owner cannot remove themself, and the page says why.
    let me = form_post(
        &client,
        &app,
        &format!("/staff/users/{}/remove", org.owner.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(me.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn teams_are_created_edited_and_deleted() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let a = app.member(&org, "a@example.com", "Ann", Role::Member).await;
    let b = app.member(&org, "b@example.com", "Ben", Role::Member).await;
    let (client, csrf) = app.login("owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();

    let r = form_post(
        &client,
        &app,
        "/staff/teams",
        &[
            ("csrf", &csrf),
            ("name", "Mechanics"),
            ("colour", "#EA580C"),
            ("members", a.id.as_str()),
            ("members", b.id.as_str()),
            ("bookable_count", "2"),
            ("manager", a.id.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let team = handle.snapshot().await.unwrap().teams.pop().unwrap();
    assert_eq!(
        (
            team.name.as_str(),
            team.colour.as_str(),
            team.members.len(),
            team.bookable_count
        ),
        ("Mechanics", "#ea580c", 2, 2)
    );
    assert_eq!(team.manager.as_ref(), Some(&a.id));

    // More bookable than members: refused with the reason, nothing changed.
    let path = format!("/staff/teams/{}", team.id);
    let bad = form_post(
        &client,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Mechanics"),
            ("members", a.id.as_str()),
            ("bookable_count", "2"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("cannot exceed"));
    assert_eq!(handle.snapshot().await.unwrap().teams[0], team);

    // Duplicate name is a conflict.
    let dup = form_post(
        &client,
        &app,
        "/staff/teams",
        &[("csrf", &csrf), ("name", "mechanics")],
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);

    // A child team, then rename the parent and delete it: the child moves up.
    let r = form_post(
        &client,
        &app,
        "/staff/teams",
        &[
            ("csrf", &csrf),
            ("name", "Tyres"),
            ("parent", team.id.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = form_post(
        &client,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Workshop"),
            ("members", b.id.as_str()),
            ("bookable_count", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = client
        .get(app.url("/staff/teams"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Workshop") && page.contains("Tyres"));
    let r = form_post(&client, &app, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let teams = handle.snapshot().await.unwrap().teams;
    assert_eq!(teams.len(), 1);
    assert_eq!(
        (teams[0].name.as_str(), teams[0].parent.clone()),
        ("Tyres", None)
    );

    // Team membership from the user page (repeated checkbox fields).
    let tyres = teams[0].id.clone();
    let r = form_post(
        &client,
        &app,
        &format!("/staff/users/{}/teams", a.id),
        &[("csrf", &csrf), ("teams", tyres.as_str())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        handle.member(a.id.clone()).await.unwrap().unwrap().teams,
        vec![tyres]
    );
}

#[tokio::test]
async fn settings_change_and_bad_zones_are_refused() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let r = form_post(
        &client,
        &app,
        "/staff/settings",
        &[
            ("csrf", &csrf),
            ("name", "Demo Motors Wien"),
            ("timezone", "Europe/Vienna"),
            ("clock", "h12"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let o = handle.snapshot().await.unwrap().org;
    assert_eq!(
        (o.name.as_str(), o.timezone.as_str(), o.clock),
        (
            "Demo Motors Wien",
            "Europe/Vienna",
            cflows_protocol::ClockFormat::H12
        )
    );
    let bad = form_post(
        &client,
        &app,
        "/staff/settings",
        &[
            ("csrf", &csrf),
            ("name", "X"),
            ("timezone", "Europe/Atlantis"),
            ("clock", "h24"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(handle.snapshot().await.unwrap().org, o);
}

#[tokio::test]
async fn members_cannot_open_the_staff_panel() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "m@example.com", "Mo", Role::Member).await;
    let (client, csrf) = app.login("m@example.com").await;
    for path in ["/staff/users", "/staff/teams", "/staff/settings"] {
        assert_eq!(
            client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = form_post(
        &client,
        &app,
        "/staff/teams",
        &[("csrf", &csrf), ("name", "Sneaky")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Their own profile page works.
    assert_eq!(
        client.get(app.url("/me")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The platform area does not exist for them.
    assert_eq!(
        client
            .get(app.url("/platform"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn operators_create_organizations() {
    let app = spawn_app().await;
    app.core
        .directory
        .create_user("op@example.com", "Opal Operator", PASSWORD, true)
        .await
        .unwrap();
    let client = app.client();
    let token = app.csrf_from_page(&client, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "op@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/platform");
    let csrf = app.csrf_from_page(&client, "/platform").await;
    let r = form_post(
        &client,
        &app,
        "/platform/orgs",
        &[
            ("csrf", &csrf),
            ("name", "North Garage"),
            ("timezone", "Europe/Oslo"),
            ("clock", "h24"),
            ("owner_email", "nora@example.com"),
            ("owner_name", "Nora"),
            ("owner_password", "nora password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = client
        .get(app.url("/platform"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("North Garage") && page.contains("north-garage"));
    let nora = app.client();
    let r = nora
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"email": "nora@example.com", "password": "nora password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let org: serde_json::Value = nora
        .get(app.url("/api/v1/org"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["name"], "North Garage");
    // A bad zone creates neither the organization nor its owner.
    let bad = form_post(
        &client,
        &app,
        "/platform/orgs",
        &[
            ("csrf", &csrf),
            ("name", "South"),
            ("timezone", "Mars/Base"),
            ("clock", "h24"),
            ("owner_email", "sam@example.com"),
            ("owner_name", "Sam"),
            ("owner_password", "sam password"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("Mars/Base"));
    // A form without a clock format is refused too, not defaulted.
    let no_clock = form_post(
        &client,
        &app,
        "/platform/orgs",
        &[
            ("csrf", &csrf),
            ("name", "South"),
            ("timezone", "Europe/Berlin"),
            ("clock", "h36"),
            ("owner_email", "sam@example.com"),
            ("owner_name", "Sam"),
            ("owner_password", "sam password"),
        ],
    )
    .await;
    assert_eq!(no_clock.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.core
            .directory
            .user_by_email("sam@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn job_types_and_working_hours_from_the_staff_panel() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let team = handle
        .create_team(
            cflows_actors::Caller::System,
            cflows_actors::TeamInput {
                name: "Testers".into(),
                members: vec![org.owner.id.clone()],
                bookable_count: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = form_post(
        &client,
        &app,
        "/staff/capacity/job-types",
        &[
            ("csrf", &csrf),
            ("name", "Test drive"),
            ("duration_minutes", "60"),
            ("colour", "#22aa55"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let bad = form_post(
        &client,
        &app,
        "/staff/capacity/job-types",
        &[
            ("csrf", &csrf),
            ("name", "Instant"),
            ("duration_minutes", "0"),
            ("colour", "#22aa55"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("duration_minutes must be 5..=1440")
    );
    let page = client
        .get(app.url("/staff/capacity"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Test drive") && page.contains("60 min"));
    assert!(
        page.contains(&format!("data-workload-team=\"{}\"", team.id)),
        "a workload row per team"
    );

    // Hours: Monday to Friday 07:30–16:00, a holiday, 15-minute holds.
    let hours_path = format!("/staff/capacity/hours/{}", team.id);
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("zone".into(), "Europe/Stockholm".into()),
        ("closed_date_0".into(), "2030-12-24".into()),
        ("closed_reason_0".into(), "Christmas Eve".into()),
        ("closed_date_1".into(), String::new()),
        ("closed_reason_1".into(), String::new()),
        ("hold_minutes".into(), "15".into()),
    ];
    for n in 1..=5 {
        fields.push((format!("open{n}"), "1".into()));
        fields.push((format!("start{n}"), "07:30".into()));
        fields.push((format!("end{n}"), "16:00".into()));
    }
    let r = client
        .post(app.url(&hours_path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let hours = cflows_actors::team_calendar::TeamCalendarHandle::new(
        &app.core.kernel,
        &org.org.id,
        &team.id,
    )
    .snapshot()
    .await
    .unwrap()
    .hours;
    assert_eq!(
        (hours.zone.as_str(), hours.weekly.len(), hours.hold_minutes),
        ("Europe/Stockholm", 5, 15)
    );
    assert_eq!(hours.closed[0].reason, "Christmas Eve");
    assert_eq!(hours.closed.len(), 1, "an empty row adds nothing");
    // The form shows dates as date fields and, in a 24-hour organization, 24-hour times.
    let form = client
        .get(app.url(&hours_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("type=\"date\" value=\"2030-12-24\""),
        "{form}"
    );
    assert!(form.contains("name=\"start1\" type=\"text\" inputmode=\"numeric\""));
    assert!(form.contains("value=\"07:30\""));
    assert!(!form.contains("type=\"time\""));
    // A period that ends before it starts is refused on the same page.
    fields.push(("open6".into(), "1".into()));
    fields.push(("start6".into(), "12:00".into()));
    fields.push(("end6".into(), "09:00".into()));
    let r = client
        .post(app.url(&hours_path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("must end after it starts"));
    // Another organization's team id is a 404, like a missing one.
    let r = client
        .get(app.url("/staff/capacity/hours/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
