//! Team capacity over the JSON API and the socket, as a client uses it.

use crate::helpers::*;
use cflows_protocol::wire::{
    ClientMsg, NewBooking, Op, ReplyBody, ServerMsg, StreamEvent, StreamState,
};
use cflows_protocol::{ErrorCode, Role, StreamName, TeamEvent, TeamId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const HOUR: i64 = 3_600_000;

fn tomorrow() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(24 * HOUR) + 24 * HOUR
}

fn all_day() -> Value {
    json!({
        "zone": "UTC",
        "weekly": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "closed": [],
        "hold_minutes": 15
    })
}

#[tokio::test]
async fn book_over_the_api_and_watch_it_on_the_socket() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let post = |c: &reqwest::Client, token: &str, path: &str, body: Value| {
        c.post(app.url(path))
            .header("x-csrf-token", token)
            .json(&body)
            .send()
    };

    let job: Value = post(
        &owner,
        &csrf,
        "/api/v1/job-types",
        json!({"name": "Test drive", "duration_minutes": 60, "colour": "#22aa55"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let job_id = job["id"].as_str().unwrap().to_string();
    let (status, code, _) = error_code(
        post(
            &owner,
            &csrf,
            "/api/v1/job-types",
            json!({"name": "Too short", "duration_minutes": 1}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );

    let team: Value = post(
        &owner,
        &csrf,
        "/api/v1/teams",
        json!({"name": "Workshop", "members": [org.owner.id, mia.id], "bookable_count": 1}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team_id = team["id"].as_str().unwrap().to_string();
    let hours = owner
        .put(app.url(&format!("/api/v1/teams/{team_id}/hours")))
        .header("x-csrf-token", &csrf)
        .json(&all_day())
        .send()
        .await
        .unwrap();
    assert_eq!(hours.status(), StatusCode::OK);

    // Mia watches the team's stream.
    let mut ws = app.ws("mia@example.com").await;
    let stream = StreamName::Team(TeamId::new(team_id.clone()));
    ws.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await
    .unwrap();
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Snapshot {
            state: StreamState::Team(s),
            ..
        } => {
            assert_eq!(s.capacity, 1);
            assert!(s.bookings.is_empty());
        }
        other => panic!("{other:?}"),
    }

    // The owner holds 10:00–11:00 over the API; Mia sees it at once.
    let t0 = tomorrow() + 10 * HOUR;
    let resp = post(
        &owner,
        &csrf,
        &format!("/api/v1/teams/{team_id}/bookings"),
        json!({"job_type": job_id, "start": t0}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let held: Value = resp.json().await.unwrap();
    assert_eq!(held["end"], t0 + HOUR, "the job type's length");
    assert_eq!(held["state"], "held");
    assert_eq!(held["title"], "Test drive");
    // A booking that names a work item that does not exist is refused (no dangling link).
    let dangling = post(
        &owner,
        &csrf,
        &format!("/api/v1/teams/{team_id}/bookings"),
        json!({"job_type": job_id, "start": t0 + 2 * HOUR, "work_item": "0123456789abcdef0123456789abcdef"}),
    )
    .await
    .unwrap();
    assert_eq!(dangling.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = dangling.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("work item"),
        "{body}"
    );
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Event {
            event: StreamEvent::Team(TeamEvent::BookingCreated { booking }),
            ..
        } => {
            assert_eq!(booking.id, held["id"].as_str().unwrap());
            assert_eq!(booking.booked_by_name, "Owner");
        }
        other => panic!("{other:?}"),
    }

    // Mia asks for the same hour over her socket: refused with the clash and suggestions.
    let team = TeamId::new(team_id.clone());
    let request = NewBooking {
        job_type: job_id.clone(),
        start: t0 + HOUR / 2,
        end: None,
        members_required: None,
        title: Some("Inspection".into()),
        confirm: false,
        hold_seconds: None,
        waitlist: false,
        assigned: vec![],
        work_item: None,
        step: None,
    };
    ws.send(&ClientMsg::Request {
        id: 7,
        op: Op::HoldBooking {
            team: team.clone(),
            booking: request.clone(),
        },
    })
    .await
    .unwrap();
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Reply {
            id: 7,
            error: Some(e),
            ..
        } => {
            assert_eq!(e.code, ErrorCode::NoCapacity);
            let r = e.refusal.expect("refusal details");
            assert_eq!(r.conflict.unwrap().start, t0 + HOUR / 2);
            assert_eq!(r.suggestions[0].start, t0 + HOUR);
        }
        other => panic!("{other:?}"),
    }
    // The suggested slot is free: Mia takes it over the socket.
    ws.send(&ClientMsg::Request {
        id: 8,
        op: Op::HoldBooking {
            team: team.clone(),
            booking: NewBooking {
                start: t0 + HOUR,
                ..request.clone()
            },
        },
    })
    .await
    .unwrap();
    let mut mine = None;
    for _ in 0..2 {
        match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
            ServerMsg::Reply {
                id: 8,
                ok: Some(ReplyBody::Booking { booking }),
                ..
            } => mine = Some(*booking),
            ServerMsg::Event { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let mine = mine.expect("reply");
    // Moving it onto the owner's hour is refused and changes nothing.
    ws.send(&ClientMsg::Request {
        id: 9,
        op: Op::MoveBooking {
            team: TeamId::new(team_id.clone()),
            booking: mine.id.clone(),
            start: t0,
            end: None,
        },
    })
    .await
    .unwrap();
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Reply {
            id: 9,
            error: Some(e),
            ..
        } => assert_eq!(e.code, ErrorCode::NoCapacity),
        other => panic!("{other:?}"),
    }

    // The same refusal over JSON carries the details too.
    let (mia_client, mia_csrf) = app.login("mia@example.com").await;
    let refused = mia_client
        .patch(app.url(&format!("/api/v1/teams/{team_id}/bookings/{}", mine.id)))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"start": t0}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_capacity");
    assert!(body["error"]["refusal"]["suggestions"].is_array());
    // A member cannot change working hours.
    let forbidden = mia_client
        .put(app.url(&format!("/api/v1/teams/{team_id}/hours")))
        .header("x-csrf-token", &mia_csrf)
        .json(&all_day())
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    // Assign Mia to the owner's booking; a stranger cannot be assigned.
    let assign = |who: Value| {
        owner
            .put(app.url(&format!(
                "/api/v1/teams/{team_id}/bookings/{}/assigned",
                held["id"].as_str().unwrap()
            )))
            .header("x-csrf-token", &csrf)
            .json(&json!({"assigned": who}))
            .send()
    };
    let assigned: Value = assign(json!([mia.id])).await.unwrap().json().await.unwrap();
    assert_eq!(assigned["assigned"], json!([mia.id]));
    assert_eq!(
        assign(json!(["nobody"])).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        assign(json!([mia.id, org.owner.id]))
            .await
            .unwrap()
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "one member required, two assigned"
    );

    // Confirm, availability, workload, cancel.
    let confirmed: Value = post(
        &owner,
        &csrf,
        &format!(
            "/api/v1/teams/{team_id}/bookings/{}/confirm",
            held["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(confirmed["state"], "confirmed");
    let slots: Value = owner
        .get(app.url(&format!(
            "/api/v1/teams/{team_id}/availability?from={t0}&to={}&slot_minutes=60",
            t0 + 3 * HOUR
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let free: Vec<i64> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["free"].as_i64().unwrap())
        .collect();
    assert_eq!(free, vec![0, 0, 1]);
    let load: Value = owner
        .get(app.url(&format!(
            "/api/v1/teams/{team_id}/workload?from={}&to={}",
            tomorrow(),
            tomorrow() + 24 * HOUR
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(load["days"][0]["confirmed_minutes"], 60);
    assert_eq!(load["days"][0]["held_minutes"], 60);
    let bad_range = owner
        .get(app.url(&format!(
            "/api/v1/teams/{team_id}/availability?from=10&to=5"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_range.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The team's subscription feed carries the bookings, in the team's zone.
    let feed: Value = post(
        &owner,
        &csrf,
        &format!("/api/v1/teams/{team_id}/feed"),
        json!({}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let path = feed["path"].as_str().unwrap().to_string();
    let ics = reqwest::get(app.url(&path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ics.contains("BEGIN:VTIMEZONE\r\nTZID:UTC")
            && ics.contains("SUMMARY:Test drive (Workshop)")
            && ics.contains("STATUS:CONFIRMED"),
        "{ics}"
    );
    let revoke = owner
        .delete(app.url(&format!("/api/v1/teams/{team_id}/feed")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reqwest::get(app.url(&path)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // Another organization's admin sees none of it.
    let _other = app.org("Other Cars", "other@example.com").await;
    let (stranger, stranger_csrf) = app.login("other@example.com").await;
    for path in [
        format!("/api/v1/teams/{team_id}/calendar"),
        format!("/api/v1/teams/{team_id}/bookings/{}", mine.id),
        format!(
            "/api/v1/teams/{team_id}/availability?from={t0}&to={}",
            t0 + HOUR
        ),
    ] {
        let r = stranger.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = post(
        &stranger,
        &stranger_csrf,
        &format!("/api/v1/teams/{team_id}/bookings/{}/cancel", mine.id),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let cancelled: Value = post(
        &mia_client,
        &mia_csrf,
        &format!("/api/v1/teams/{team_id}/bookings/{}/cancel", mine.id),
        json!({}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(cancelled["state"], "cancelled");
}

/// The `booking` load scenario, small, against a real server: its own invariant checks
/// (capacity never exceeded on any stream event, every acknowledged booking stored) pass.
#[tokio::test]
async fn the_booking_load_scenario_holds_its_invariants() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "a@example.com", "A", Role::Member).await;
    app.member(&org, "b@example.com", "B", Role::Member).await;
    let target = cflows_load::scenarios::Target {
        addr: app.addr.clone(),
        email: "owner@example.com".into(),
        password: PASSWORD.into(),
        server_pid: None,
        deadline: Duration::from_secs(60),
    };
    let report = cflows_load::booking::booking(
        &target,
        cflows_load::booking::BookingLoad {
            teams: 3,
            clients: 8,
            decisions: 40,
            rate: 0.0,
        },
    )
    .await
    .unwrap();
    assert!(report.contains("capacity never exceeded"), "{report}");
    assert!(report.contains("320 decisions"), "{report}");
}
