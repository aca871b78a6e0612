//! Workflows, work items, boards and kiosks over the JSON API and the socket, as clients
//! use them: a vehicle's lifecycle with its bookings, racing moves, a board event seen
//! live by another member, tenancy, and kiosks that read only their scope and are cut
//! off when revoked.

use crate::helpers::*;
use cflows_load::client::Client;
use cflows_protocol::wire::{ClientMsg, Op, ReplyBody, ServerMsg, StreamEvent, StreamState};
use cflows_protocol::{
    BoardEvent, ErrorCode, InboxEvent, ItemId, MoveRequest, Role, StreamName, UserId, WorkflowId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const WAIT: Duration = Duration::from_secs(5);

fn tomorrow() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(24 * HOUR) + 24 * HOUR
}

/// A dealership over the API: four teams open around the clock, three job types, the
/// vehicle workflow. Returns (owner client, csrf, workflow JSON).
pub(crate) struct Shop {
    pub org: Org,
    pub owner: reqwest::Client,
    pub csrf: String,
    pub workflow: Value,
}

impl Shop {
    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.owner
            .post(app.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub fn id(&self) -> String {
        self.workflow["id"].as_str().unwrap().to_string()
    }
}

pub(crate) async fn shop(app: &TestApp, name: &str, owner_email: &str) -> Shop {
    let org = app.org(name, owner_email).await;
    let crew = app
        .member(&org, &format!("crew.{owner_email}"), "Crew", Role::Member)
        .await;
    let (owner, csrf) = app.login(owner_email).await;
    let post = |path: &str, body: Value| {
        owner
            .post(app.url(path))
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let mut teams = Vec::new();
    for team in ["Sales", "Testers", "Mechanics", "Photographers"] {
        let t: Value = post(
            "/api/v1/teams",
            json!({"name": team, "members": [org.owner.id, crew.id], "bookable_count": 2}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert!(t["id"].is_string(), "{t}");
        let hours = json!({
            "zone": "UTC",
            "weekly": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
            "closed": [], "hold_minutes": 60
        });
        let r = owner
            .put(app.url(&format!(
                "/api/v1/teams/{}/hours",
                t["id"].as_str().unwrap()
            )))
            .header("x-csrf-token", &csrf)
            .json(&hours)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        teams.push((team, t["id"].as_str().unwrap().to_string()));
    }
    let mut jobs = Vec::new();
    for (job, minutes) in [("Inspection", 90), ("Repair", 240), ("Photo shoot", 30)] {
        let j: Value = post(
            "/api/v1/job-types",
            json!({"name": job, "duration_minutes": minutes}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        jobs.push((job, j["id"].as_str().unwrap().to_string()));
    }
    let def = cflows_actors::demo::vehicle_workflow(
        |n| {
            teams
                .iter()
                .find(|(t, _)| *t == n)
                .map(|(_, id)| cflows_protocol::TeamId::new(id.clone()))
        },
        |n| jobs.iter().find(|(j, _)| *j == n).map(|(_, id)| id.clone()),
    );
    let body = json!({
        "name": def.name, "key": def.key, "steps": def.steps, "transitions": def.transitions,
    });
    // A broken definition is refused, naming what is wrong.
    let mut broken = body.clone();
    broken["transitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "sold", "to": "request", "label": "Reopen"}));
    let (status, code, message) =
        error_code(post("/api/v1/workflows", broken).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(
        message.contains(
            "transition \"Reopen\" (Sold → Request Test): nothing may leave a terminal step"
        ),
        "{message}"
    );
    let r = post("/api/v1/workflows", body).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let workflow: Value = r.json().await.unwrap();
    Shop {
        org,
        owner,
        csrf,
        workflow,
    }
}

async fn request(
    ws: &mut Client,
    id: u32,
    op: Op,
) -> Result<ReplyBody, cflows_protocol::wire::WireError> {
    ws.send(&ClientMsg::Request { id, op }).await.unwrap();
    loop {
        match ws.recv_within(WAIT).await.unwrap() {
            ServerMsg::Reply { id: got, ok, error } if got == id => {
                return match (ok, error) {
                    (Some(ok), None) => Ok(ok),
                    (None, Some(e)) => Err(e),
                    other => panic!("{other:?}"),
                };
            }
            _ => continue,
        }
    }
}

/// The next board card event of `ws` for `item` (skipping others).
async fn next_card(ws: &mut Client, item: &str) -> cflows_protocol::CardView {
    loop {
        if let ServerMsg::Event {
            event:
                StreamEvent::Board(BoardEvent::CardAdded { card } | BoardEvent::CardChanged { card }),
            ..
        } = ws.recv_within(WAIT).await.unwrap()
            && card.id.as_str() == item
        {
            return card;
        }
    }
}

#[tokio::test]
async fn a_vehicle_runs_its_workflow_with_bookings_live_on_a_second_screen() {
    let app = spawn_app().await;
    let s = shop(&app, "Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&s.org, "mia@example.com", "Mia", Role::Member)
        .await;
    let wf = s.id();

    // Mia watches the board.
    let mut mia_ws = app.ws("mia@example.com").await;
    mia_ws
        .send(&ClientMsg::Subscribe {
            stream: StreamName::Board(WorkflowId::new(wf.clone())),
            after: None,
        })
        .await
        .unwrap();
    match mia_ws.recv_within(WAIT).await.unwrap() {
        ServerMsg::Snapshot {
            state: StreamState::Board(b),
            ..
        } => {
            assert_eq!(b.workflow.steps.len(), 5);
            assert!(b.cards.is_empty());
        }
        other => panic!("{other:?}"),
    }

    // A vehicle without its required VIN is refused; with it, created as VH-1.
    let (status, _, message) = error_code(
        s.post(
            &app,
            &format!("/api/v1/workflows/{wf}/items"),
            json!({"title": "Golf", "data": {"vin": 7}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    let r = s
        .post(
            &app,
            &format!("/api/v1/workflows/{wf}/items"),
            json!({"title": "Golf 1.4 TSI", "priority": "high", "data": {"vin": "WVW1"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let item: Value = r.json().await.unwrap();
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!(item["key"], "VH-1");
    assert_eq!(next_card(&mut mia_ws, &id).await.step, "request");

    // The owner moves it over the socket, holding the Testers' calendar.
    let mut owner_ws = app.ws("owner@example.com").await;
    let t0 = tomorrow() + 9 * HOUR;
    let reply = request(
        &mut owner_ws,
        1,
        Op::MoveItem {
            item: ItemId::new(id.clone()),
            change: MoveRequest {
                from: "request".into(),
                to: "test".into(),
                comment: Some("trade-in".into()),
                booking_start: Some(t0),
            },
        },
    )
    .await
    .unwrap();
    let ReplyBody::Item { item: moved } = reply else {
        panic!("{reply:?}")
    };
    let booking = moved.booking.clone().expect("held");
    let card = next_card(&mut mia_ws, &id).await;
    assert_eq!(card.step, "test", "Mia's board moved the card live");

    // Leaving before the booking is done: a conflict saying why.
    let err = request(
        &mut owner_ws,
        2,
        Op::MoveItem {
            item: ItemId::new(id.clone()),
            change: MoveRequest {
                from: "test".into(),
                to: "repair".into(),
                comment: None,
                booking_start: None,
            },
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(
        err.message.contains("needs its booking completed"),
        "{}",
        err.message
    );

    // Completing the booking on the team calendar advances it.
    for step in ["confirm", "complete"] {
        let r = s
            .post(
                &app,
                &format!(
                    "/api/v1/teams/{}/bookings/{}/{step}",
                    booking.team, booking.id
                ),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{step}");
    }
    loop {
        if next_card(&mut mia_ws, &id).await.step == "repair" {
            break;
        }
    }

    // Racing moves over HTTP: exactly one wins; the other names the new step.
    let path = format!("/api/v1/items/{id}/moves");
    let body = json!({"from": "repair", "to": "test", "comment": "again"});
    let (a, b) = tokio::join!(
        s.post(&app, &path, body.clone()),
        s.post(&app, &path, body.clone())
    );
    let results = [a, b];
    let mut codes: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    codes.sort();
    assert_eq!(codes, [200, 409]);
    for r in results {
        if r.status() == StatusCode::CONFLICT {
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                body["error"]["message"],
                "VH-1 was moved meanwhile: it is now in Test & Inspect"
            );
        }
    }

    // Fields are checked against the form; the schema describes them.
    let r = s
        .owner
        .patch(app.url(&format!("/api/v1/items/{id}")))
        .header("x-csrf-token", &s.csrf)
        .json(&json!({"data": {"mileage": "far"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let schema = get_json(&app, &s.owner, &format!("/api/v1/workflows/{wf}/schema")).await;
    assert_eq!(schema["properties"]["mileage"]["type"], "number");
    assert_eq!(schema["properties"]["grade"]["enum"][1], "Certified");

    // A comment mentioning Mia notifies her.
    let mut inbox = app.ws("mia@example.com").await;
    inbox
        .send(&ClientMsg::Subscribe {
            stream: StreamName::Inbox(UserId::new(mia.id.to_string())),
            after: None,
        })
        .await
        .unwrap();
    let _ = inbox.recv_within(WAIT).await.unwrap();
    let reply = request(
        &mut owner_ws,
        3,
        Op::CommentItem {
            item: ItemId::new(id.clone()),
            body: "@mia please check the brakes".into(),
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(reply, ReplyBody::Comment { ref comment } if comment.mentions == [mia.id.clone()])
    );
    loop {
        if let ServerMsg::Event {
            event: StreamEvent::Inbox(InboxEvent::NotificationAdded { notification, .. }),
            ..
        } = inbox.recv_within(WAIT).await.unwrap()
        {
            assert_eq!(
                notification.kind,
                cflows_protocol::NotificationKind::Mention
            );
            break;
        }
    }
    let snap = get_json(&app, &s.owner, &format!("/api/v1/items/{id}")).await;
    let path: Vec<&str> = snap["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["request", "test", "repair", "test"]);
    assert_eq!(snap["comments"][0]["body"], "@mia please check the brakes");

    // The list view's API: search and sort.
    let cards = get_json(
        &app,
        &s.owner,
        &format!("/api/v1/workflows/{wf}/items?q=golf&sort=key"),
    )
    .await;
    assert_eq!(cards.as_array().unwrap().len(), 1);
    let (status, _, _) = error_code(
        s.owner
            .get(app.url(&format!("/api/v1/workflows/{wf}/items?sort=colour")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another organization sees none of it.
    let other = shop(&app, "Other Cars", "other@example.com").await;
    for path in [
        format!("/api/v1/items/{id}"),
        format!("/api/v1/workflows/{wf}"),
        format!("/api/v1/workflows/{wf}/board"),
    ] {
        let r = other.owner.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = other
        .post(
            &app,
            &format!("/api/v1/items/{id}/moves"),
            json!({"from": "test", "to": "repair"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut stranger = app.ws("other@example.com").await;
    stranger
        .send(&ClientMsg::Subscribe {
            stream: StreamName::Board(WorkflowId::new(wf.clone())),
            after: None,
        })
        .await
        .unwrap();
    match stranger.recv_within(WAIT).await.unwrap() {
        ServerMsg::Error { error, .. } => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_kiosk_reads_only_its_scope_never_writes_and_is_cut_off_when_revoked() {
    let app = spawn_app().await;
    let s = shop(&app, "Demo Motors", "owner@example.com").await;
    let shown = s.id();
    // A second workflow the kiosk must not see.
    let mut other_def = s.workflow.clone();
    other_def["name"] = json!("Parts");
    other_def["key"] = json!("PT");
    let hidden: Value = s
        .post(&app, "/api/v1/workflows", other_def)
        .await
        .json()
        .await
        .unwrap();
    let hidden = hidden["id"].as_str().unwrap().to_string();
    let testers = s.workflow["steps"][1]["team"].as_str().unwrap().to_string();
    let mechanics = s.workflow["steps"][2]["team"].as_str().unwrap().to_string();

    // Pairing: the screen gets a code, the admin enters it, the screen's poll gets its link.
    let started: Value = app
        .client()
        .post(app.url("/api/v1/kiosk-pairings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (code, secret) = (
        started["code"].as_str().unwrap().to_string(),
        started["secret"].as_str().unwrap().to_string(),
    );
    let poll = || {
        app.client()
            .get(app.url(&format!("/api/v1/kiosk-pairings/{secret}")))
            .send()
    };
    assert_eq!(poll().await.unwrap().status(), StatusCode::ACCEPTED);
    let scope =
        json!({"boards": [shown], "teams": [testers], "today_bookings": true, "cycle_seconds": 10});
    let (status, _, _) = error_code(
        s.post(
            &app,
            "/api/v1/kiosks/pair",
            json!({"code": "ZZZZZZ", "name": "Nope", "scope": scope}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown code");
    let r = s
        .post(
            &app,
            "/api/v1/kiosks/pair",
            json!({"code": code.to_lowercase(), "name": "Workshop", "scope": scope}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let kiosk: Value = r.json().await.unwrap();
    let r = poll().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let link: Value = r.json().await.unwrap();
    let token = link["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/kiosk/k/")
        .to_string();
    assert_eq!(
        poll().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "the link is given once"
    );

    // The screen: its scope and nothing else.
    let (mut screen, welcome) = Client::connect_kiosk(&app.addr, &token).await.unwrap();
    assert!(
        matches!(welcome, ServerMsg::Welcome { ref user, .. } if user.as_str().starts_with("kiosk:"))
    );
    let subscribe = |stream: StreamName| ClientMsg::Subscribe {
        stream,
        after: None,
    };
    screen
        .send(&subscribe(StreamName::Board(WorkflowId::new(
            shown.clone(),
        ))))
        .await
        .unwrap();
    assert!(matches!(
        screen.recv_within(WAIT).await.unwrap(),
        ServerMsg::Snapshot {
            state: StreamState::Board(_),
            ..
        }
    ));
    screen
        .send(&subscribe(StreamName::Team(cflows_protocol::TeamId::new(
            testers.clone(),
        ))))
        .await
        .unwrap();
    assert!(matches!(
        screen.recv_within(WAIT).await.unwrap(),
        ServerMsg::Snapshot {
            state: StreamState::Team(_),
            ..
        }
    ));
    for stream in [
        StreamName::Board(WorkflowId::new(hidden.clone())),
        StreamName::Team(cflows_protocol::TeamId::new(mechanics.clone())),
        StreamName::Org(s.org.org.id.clone()),
        StreamName::Inbox(UserId::new(s.org.owner.id.to_string())),
    ] {
        screen.send(&subscribe(stream.clone())).await.unwrap();
        match screen.recv_within(WAIT).await.unwrap() {
            ServerMsg::Error { error, .. } => {
                assert_eq!(error.code, ErrorCode::NotFound, "{stream}")
            }
            other => panic!("{stream}: {other:?}"),
        }
    }
    let err = request(
        &mut screen,
        9,
        Op::MoveItem {
            item: ItemId::new("anything"),
            change: MoveRequest {
                from: "request".into(),
                to: "test".into(),
                comment: None,
                booking_start: None,
            },
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);

    // A change on the board reaches the screen.
    let r = s
        .post(
            &app,
            &format!("/api/v1/workflows/{shown}/items"),
            json!({"title": "Polo", "data": {"vin": "X"}}),
        )
        .await;
    let item: Value = r.json().await.unwrap();
    assert_eq!(
        next_card(&mut screen, item["id"].as_str().unwrap())
            .await
            .key,
        "VH-1"
    );

    // Listed as online; revoked, its open socket is closed at once and its token dead.
    let list = get_json(&app, &s.owner, "/api/v1/kiosks").await;
    assert_eq!(list[0]["screens"], 1);
    assert!(list[0]["last_seen"].is_i64());
    let r = s
        .owner
        .delete(app.url(&format!("/api/v1/kiosks/{}", kiosk["id"].as_str().unwrap())))
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let closed = screen.closed_within(WAIT).await.unwrap();
    assert_eq!(closed, cflows_protocol::wire::close::UNAUTHENTICATED);
    assert!(Client::connect_kiosk(&app.addr, &token).await.is_err());
    let page = app
        .client()
        .get(app.url(&format!("/kiosk/k/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_render_the_board_list_item_builder_kiosks_and_audit_log() {
    let app = spawn_app().await;
    let s = shop(&app, "Demo Motors", "owner@example.com").await;
    let wf = s.id();
    let item: Value = s
        .post(
            &app,
            &format!("/api/v1/workflows/{wf}/items"),
            json!({"title": "Golf GTI", "data": {"vin": "W1"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap();
    let page = |path: String| {
        let c = s.owner.clone();
        let url = app.url(&path);
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.text().await.unwrap()
        }
    };
    assert!(page("/boards".into()).await.contains("Vehicles"));
    // A saved filter: listed, shown on the board, deleted.
    let r = s
        .post(
            &app,
            &format!("/api/v1/workflows/{wf}/filters"),
            json!({"name": "Urgent ones", "filter": {"priority": "urgent"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let saved: Value = r.json().await.unwrap();
    // A filter of a team or person that does not exist here is refused, not kept.
    for (filter, says) in [
        (json!({"team": "0123456789abcdef0123456789abcdef"}), "team"),
        (
            json!({"assignee": "0123456789abcdef0123456789abcdef"}),
            "assignee",
        ),
    ] {
        let r = s
            .post(
                &app,
                &format!("/api/v1/workflows/{wf}/filters"),
                json!({"name": "Dangling", "filter": filter}),
            )
            .await;
        let (status, _, message) = error_code(r).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(message.contains(says), "{message}");
    }
    let list = get_json(&app, &s.owner, &format!("/api/v1/workflows/{wf}/filters")).await;
    assert_eq!(list[0]["filter"]["priority"], "urgent");
    assert!(page(format!("/boards/{wf}")).await.contains("Urgent ones"));
    let r = s
        .owner
        .delete(app.url(&format!(
            "/api/v1/workflows/{wf}/filters/{}",
            saved["id"].as_str().unwrap()
        )))
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list = get_json(&app, &s.owner, &format!("/api/v1/workflows/{wf}/filters")).await;
    assert!(list.as_array().unwrap().is_empty());
    let board = page(format!("/boards/{wf}")).await;
    assert!(board.contains("Golf GTI") && board.contains("Test &amp; Inspect"));
    let list = page(format!(
        "/boards/{wf}?view=list&q=gti&sort=title&order=desc"
    ))
    .await;
    assert!(list.contains("VH-1"));
    let none = page(format!("/boards/{wf}?view=list&q=passat")).await;
    assert!(!none.contains("VH-1"));
    let detail = page(format!("/items/{id}")).await;
    assert!(detail.contains("Send to test") && detail.contains("History"));
    let builder = page(format!("/staff/workflows/{wf}")).await;
    assert!(builder.contains("<svg") && builder.contains("Save version 2"));
    assert!(page("/staff/kiosks".into()).await.contains("Add a kiosk"));
    let audit = page(format!("/staff/audit?entity=item:{id}")).await;
    assert!(audit.contains("item created"), "{audit}");
    assert!(
        !page("/staff/audit?entity=team".into())
            .await
            .contains("item created")
    );

    // The builder: an edit makes a draft (not saved) and says what is wrong with it.
    let draft = builder
        .split("name=\"draft\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let csrf = app
        .csrf_from_page(&s.owner, &format!("/staff/workflows/{wf}"))
        .await;
    let r = s
        .owner
        .post(app.url(&format!("/staff/workflows/{wf}")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("draft", draft.as_str()),
            ("action", "add_step"),
            ("step_id", "wash"),
            ("step_name", "Wash"),
        ])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Draft — not saved yet."), "{html}");
    assert!(
        html.contains("step &quot;Wash&quot;: cannot be reached from the start step"),
        "{html}"
    );
    let w = get_json(&app, &s.owner, &format!("/api/v1/workflows/{wf}")).await;
    assert_eq!(w["version"], 1, "nothing saved");
}
