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

#[tokio::test]
async fn a_shared_calendar_is_deleted_by_its_creator_with_its_events_and_feed() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let max = app
        .member(&org, "max@example.com", "Max", Role::Member)
        .await;
    let (mia_client, mia_csrf) = app.login("mia@example.com").await;
    let (max_client, max_csrf) = app.login("max@example.com").await;
    let shared: Value = mia_client
        .post(app.url("/api/v1/calendars"))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"name": "Showroom", "members": [{"user": max.id, "can_edit": true}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = shared["id"].as_str().unwrap().to_string();
    let start: i64 = 1_900_000_800_000;
    let event = mia_client
        .post(app.url(&format!("/api/v1/calendars/{id}/events")))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"title": "Launch", "start": start, "end": start + 3_600_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), StatusCode::CREATED);
    let feed: Value = mia_client
        .post(app.url(&format!("/api/v1/calendars/{id}/feed")))
        .header("x-csrf-token", &mia_csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let feed_path = feed["path"].as_str().unwrap().to_string();
    assert_eq!(
        reqwest::get(app.url(&feed_path)).await.unwrap().status(),
        StatusCode::OK
    );

    // Max, who may edit it, watches it live.
    let stream = StreamName::Calendar(CalendarId::new(id.clone()));
    let mut ws = app.ws("max@example.com").await;
    ws.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await
    .unwrap();
    assert!(matches!(
        ws.recv_within(Duration::from_secs(5)).await.unwrap(),
        ServerMsg::Snapshot { .. }
    ));

    // Editing is not owning: Max may not delete it. Personal calendars are not deleted.
    let delete = |client: &reqwest::Client, csrf: &str, cal: &str| {
        client
            .delete(app.url(&format!("/api/v1/calendars/{cal}")))
            .header("x-csrf-token", csrf)
            .send()
    };
    let refused = delete(&max_client, &max_csrf, &id).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let personal = cflows_actors::calendar::personal_id(&org.org.id, &mia.id);
    // (Personal calendars are made on first use.)
    mia_client
        .get(app.url("/api/v1/calendars"))
        .send()
        .await
        .unwrap();
    let own = delete(&mia_client, &mia_csrf, personal.as_str())
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CONFLICT);
    let why: Value = own.json().await.unwrap();
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap()
            .contains("delete its events instead"),
        "{why}"
    );

    // Another organization's admin: exactly like an id that does not exist.
    app.org("Other Cars", "other@example.com").await;
    let (other, other_csrf) = app.login("other@example.com").await;
    let foreign = delete(&other, &other_csrf, &id).await.unwrap();
    let missing = delete(
        &other,
        &other_csrf,
        "p0000000000000000000000000000000000000000",
    )
    .await
    .unwrap();
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(foreign.text().await.unwrap(), missing.text().await.unwrap());

    // Its creator deletes it: the subscriber is told, then it is gone everywhere.
    let done = delete(&mia_client, &mia_csrf, &id).await.unwrap();
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    match ws.recv_within(Duration::from_secs(5)).await.unwrap() {
        ServerMsg::Event {
            event: StreamEvent::Calendar(CalendarEvent::CalendarDeleted { id: gone }),
            ..
        } => assert_eq!(gone.as_str(), id),
        other => panic!("{other:?}"),
    }
    ws.send(&ClientMsg::Subscribe {
        stream,
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
    assert_eq!(
        reqwest::get(app.url(&feed_path)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    for client in [&mia_client, &max_client] {
        let got = client
            .get(app.url(&format!("/api/v1/calendars/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::NOT_FOUND);
        let list: Value = client
            .get(app.url("/api/v1/calendars"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!list.to_string().contains(&id), "{list}");
    }
    let again = delete(&mia_client, &mia_csrf, &id).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let invited: Value = mia_client
        .get(app.url(&format!(
            "/api/v1/calendars/{}/occurrences?from={}&to={}",
            personal,
            start - 1,
            start + 86_400_000
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!invited.to_string().contains("Launch"));
}

#[tokio::test]
async fn the_calendar_page_deletes_a_shared_calendar_after_asking() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let (mia, csrf) = app.login("mia@example.com").await;
    let shared: Value = mia
        .post(app.url("/api/v1/calendars"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Used-car events", "members": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = shared["id"].as_str().unwrap().to_string();
    let page = mia
        .get(app.url("/calendar"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = format!("/calendar/calendars/{id}/delete");
    assert!(page.contains(&link), "the sidebar offers Delete…");
    // Her personal calendar offers none.
    assert_eq!(page.matches("/delete\"").count(), 1);
    let confirm = mia.get(app.url(&link)).send().await.unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    assert!(
        confirm.contains("Delete the calendar “Used-car events”?")
            && confirm.contains("This cannot be undone."),
        "{confirm}"
    );
    // Without the form's token nothing happens.
    let forged = mia
        .post(app.url(&link))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let done = mia
        .post(app.url(&link))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let next = done.headers()["location"].to_str().unwrap().to_string();
    assert!(next.starts_with("/calendar?notice="), "{next}");
    let after = mia
        .get(app.url(&next))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("Deleted the calendar “Used-car events” and its events."));
    assert!(!after.contains(&link));
    assert_eq!(
        mia.get(app.url(&link)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
