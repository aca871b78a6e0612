//! Calendars over the JSON API, the socket and the `.ics` feeds, as a client uses them.

use crate::helpers::*;
use cflows_protocol::wire::{ClientMsg, ServerMsg, StreamEvent, StreamState};
use cflows_protocol::{CalendarEvent, CalendarId, Role, StreamName};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn events_invitations_feeds_and_privacy() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let (mia_client, mia_csrf) = app.login("mia@example.com").await;

    let calendars: Value = owner
        .get(app.url("/api/v1/calendars"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let personal = calendars
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "personal")
        .expect("a personal calendar on first use")["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Mia watches her own stream of invitations arrive… and the owner's calendar is
    // hidden from her socket as from her API.
    let mut ws = app.ws("mia@example.com").await;
    ws.send(&ClientMsg::Subscribe {
        stream: StreamName::Calendar(CalendarId::new(personal.clone())),
        after: None,
    })
    .await
    .unwrap();
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Error { error, .. } => {
            assert_eq!(error.code, cflows_protocol::ErrorCode::NotFound)
        }
        other => panic!("{other:?}"),
    }
    let hidden = mia_client
        .get(app.url(&format!("/api/v1/calendars/{personal}")))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    // The owner watches their calendar and creates a weekly meeting with Mia.
    let mut owner_ws = app.ws("owner@example.com").await;
    owner_ws
        .send(&ClientMsg::Subscribe {
            stream: StreamName::Calendar(CalendarId::new(personal.clone())),
            after: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        owner_ws.recv_within(Duration::from_secs(5)).await.unwrap(),
        ServerMsg::Snapshot {
            state: StreamState::Calendar(_),
            ..
        }
    ));
    let start: i64 = 1_900_000_800_000; // a whole hour (UTC) in 2030
    let created = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/events")))
        .header("x-csrf-token", &csrf)
        .json(&json!({
            "title": "Weekly review", "start": start, "end": start + 3_600_000,
            "zone": "Europe/Berlin", "invitees": [mia.id],
            "recurrence": {"freq": "weekly", "count": 4}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let event: Value = created.json().await.unwrap();
    let event_id = event["id"].as_str().unwrap().to_string();
    match owner_ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Event {
            event: StreamEvent::Calendar(CalendarEvent::EventCreated { event }),
            ..
        } => {
            assert_eq!(event.id, event_id)
        }
        other => panic!("{other:?}"),
    }
    let occ: Value = owner
        .get(app.url(&format!(
            "/api/v1/calendars/{personal}/occurrences?from={}&to={}",
            start - 1,
            start + 60 * 86_400_000
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(occ.as_array().unwrap().len(), 4);
    let second = occ[1]["occurrence"].as_str().unwrap().to_string();
    let cancelled = owner
        .post(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{event_id}/occurrences/{second}/cancel"
        )))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);

    // Mia sees the invitation and answers it.
    let invites: Value = mia_client
        .get(app.url(&format!(
            "/api/v1/invited-events?from={}&to={}",
            start - 1,
            start + 60 * 86_400_000
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        invites.as_array().unwrap().len(),
        3,
        "four minus the cancelled one"
    );
    let answered: Value = mia_client
        .post(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{event_id}/rsvp"
        )))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"rsvp": "accepted"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answered["invitees"][0]["rsvp"], "accepted");
    let not_hers = mia_client
        .delete(app.url(&format!("/api/v1/calendars/{personal}/events/{event_id}")))
        .header("x-csrf-token", &mia_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(not_hers.status(), StatusCode::NOT_FOUND);
    // Inviting a stranger is refused.
    let stranger = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/events")))
        .header("x-csrf-token", &csrf)
        .json(&json!({"title": "x", "start": start, "end": start + 1, "invitees": ["nobody"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The single event as a file, and a subscription feed, readable without a session.
    let file = owner
        .get(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{event_id}/ics"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        file.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let text = file.text().await.unwrap();
    assert!(
        text.contains("RRULE:FREQ=WEEKLY;COUNT=4") && text.contains("EXDATE;TZID=Europe/Berlin"),
        "{text}"
    );
    let feed: Value = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/feed")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = feed["path"].as_str().unwrap().to_string();
    let public = reqwest::get(app.url(&path)).await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    let body = public.text().await.unwrap();
    assert!(
        body.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin")
            && body.contains("SUMMARY:Weekly review")
    );
    let revoked = owner
        .delete(app.url(&format!("/api/v1/calendars/{personal}/feed")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reqwest::get(app.url(&path)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reqwest::get(app.url("/ics/not-a-token.ics"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // A shared calendar Mia may only view.
    let shared: Value = owner
        .post(app.url("/api/v1/calendars"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Showroom", "members": [{"user": mia.id, "can_edit": false}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shared_id = shared["id"].as_str().unwrap();
    let view = mia_client
        .get(app.url(&format!("/api/v1/calendars/{shared_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), StatusCode::OK);
    let write = mia_client
        .post(app.url(&format!("/api/v1/calendars/{shared_id}/events")))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"title": "x", "start": start, "end": start + 60_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);

    // Another organization's member sees none of it.
    app.org("Other Cars", "other@example.com").await;
    let (other, _) = app.login("other@example.com").await;
    for path in [
        format!("/api/v1/calendars/{personal}"),
        format!("/api/v1/calendars/{shared_id}"),
        format!("/api/v1/calendars/{personal}/events/{event_id}"),
    ] {
        assert_eq!(
            other.get(app.url(&path)).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    drop(ws);
}
