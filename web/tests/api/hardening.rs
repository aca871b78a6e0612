//! What a black-box probe found, each with the test that would have caught it.

use crate::helpers::*;
use cflows_actors::StoreConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_made_up_forwarded_for_entry_does_not_dodge_the_ip_limit() {
    let app = spawn_app_with(StoreConfig::memory(), |s| {
        s.http.trust_forwarded = true;
        s.http.trusted_proxies = 1;
    })
    .await;
    let client = app.client();
    let mut last = None;
    for i in 0..21 {
        // The attacker writes a fresh address each time; the proxy appends the real one.
        let r = client
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", format!("10.0.0.{i}, 198.51.100.7"))
            .json(&json!({"email": format!("user{i}@example.com"), "password": "whatever pw"}))
            .send()
            .await
            .unwrap();
        last = Some(r);
    }
    let last = last.unwrap();
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        last.headers()["retry-after"],
        "60",
        "a 429 says when to come back"
    );
    // Another client behind the same proxy is a different address.
    let other = client
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", "198.51.100.8")
        .json(&json!({"email": "someone@example.com", "password": "whatever pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn names_of_invisible_characters_or_direction_overrides_are_refused() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login(&org.owner.email).await;
    for name in ["\u{200B}", "\u{FEFF}\u{2060}", "\u{200C} \u{200D}"] {
        let r = client
            .post(app.url("/api/v1/teams"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        let (status, code, message) = error_code(r).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
        );
        assert!(message.contains("must not be empty"), "{message}");
    }
    let r = client
        .patch(app.url("/api/v1/org"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "Motors\u{202E}gnp.exe" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = client
        .put(app.url(&format!("/api/v1/members/{}/profile", org.owner.id)))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "title": "\u{2066}Owner\u{2069}", "location": "", "timezone": "", "avatar": "", "bio": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let me = get_json(&app, &client, "/api/v1/org").await;
    assert_eq!(me["name"], "Demo Motors", "nothing changed");
}

#[tokio::test]
async fn malformed_query_parameters_answer_in_the_json_error_shape() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, _) = app.login(&org.owner.email).await;
    let r = client
        .get(app.url("/api/v1/notifications?limit=abc"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_code(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    let doc = get_json(&app, &client, "/api/v1/openapi.json").await;
    let params = doc["paths"]["/api/v1/notifications"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert_eq!(params.len(), 2);
    assert!(params.iter().all(|p| p["in"] == "query"), "{params:#?}");
}

#[tokio::test]
async fn the_platform_area_is_a_plain_404_for_everyone_but_operators() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let anonymous = app.client();
    let unknown = anonymous
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown = unknown.text().await.unwrap();
    let (member, _) = app.login(&org.owner.email).await;
    for (who, client) in [("anonymous", &anonymous), ("an owner", &member)] {
        for path in ["/platform"] {
            let r = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who} {path}");
            assert_eq!(
                r.text().await.unwrap(),
                unknown,
                "{who} {path}: same page as any missing path"
            );
        }
    }
}

#[tokio::test]
async fn pages_and_the_api_cannot_be_framed_sniffed_or_cached() {
    let app = spawn_app().await;
    let client = app.client();
    for path in ["/login", "/api/v1/me", "/no-such-page"] {
        let r = client.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let css = client.get(app.url("/static/app.css")).send().await.unwrap();
    assert_eq!(css.headers()["cache-control"], "public, max-age=300");
}

#[tokio::test]
async fn inviting_an_address_reveals_nothing_and_adds_nobody() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let other = app.org("Other Garage", "elsewhere@example.com").await;
    let (client, csrf) = app.login(&org.owner.email).await;
    let mut answers = Vec::new();
    for email in ["elsewhere@example.com", "nobody@example.com"] {
        let r = client
            .post(app.url("/api/v1/members"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "email": email, "role": "member" }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        answers.push((status, shape(&body)));
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer with or without an account"
    );
    assert_eq!(answers[0].0, StatusCode::CREATED);
    let members = get_json(&app, &client, "/api/v1/members").await;
    assert_eq!(
        members.as_array().unwrap().len(),
        1,
        "nobody joins without accepting"
    );
    let pending = get_json(&app, &client, "/api/v1/invitations").await;
    assert_eq!(pending.as_array().unwrap().len(), 2);

    // The existing account finds the invitation among its notifications.
    let (them, _) = app.login(&other.owner.email).await;
    let page = get_json(&app, &them, "/api/v1/notifications").await;
    let items = page["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|n| n["kind"] == "invitation"
                && n["link"].as_str().unwrap().starts_with("/invite/")),
        "{page:#}"
    );
}

/// Every key of a JSON value, recursively, with the values' types: the answer's shape.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

#[tokio::test]
async fn invitations_expire_and_can_be_revoked() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login(&org.owner.email).await;
    let revoked = invite(&app, &client, &csrf, "r@example.com", "member").await;
    let expired = invite(&app, &client, &csrf, "e@example.com", "member").await;
    let pending = get_json(&app, &client, "/api/v1/invitations").await;
    let id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "r@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .delete(app.url(&format!("/api/v1/invitations/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Time passes for the other one: its stored expiry is in the past after a restart.
    app.core
        .directory
        .store()
        .tamper_for_tests("UPDATE invitation SET expires_at = 1 WHERE email = 'e@example.com';")
        .await
        .unwrap();
    app.core.kernel.stop_scope(&org.org.id);
    for token in [revoked, expired] {
        let page = app
            .client()
            .get(app.url(&format!("/invite/{token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        let r = app
            .client()
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({ "token": token, "display_name": "X", "password": "long enough pw" }))
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_code(r).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
        );
    }
    let pending = get_json(&app, &client, "/api/v1/invitations").await;
    assert_eq!(pending, json!([]));
}

/// Whoever holds an invitation link (the inviter too) and accepts it without a session
/// gets the same answer, words and next step whether or not the address has an account.
/// An existing account is left as it was (only its own password joins it); a new address
/// gets its account with the password chosen.
#[tokio::test]
async fn accepting_an_invitation_does_not_tell_whether_the_address_has_an_account() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.org("Other Motors", "known@example.com").await;
    let (client, csrf) = app.login(&org.owner.email).await;
    let known = invite(&app, &client, &csrf, "known@example.com", "member").await;
    let fresh = invite(&app, &client, &csrf, "fresh@example.com", "member").await;
    let chosen = "chosen by mallory";
    let cases = [(&known, "known@example.com"), (&fresh, "fresh@example.com")];

    let mut api = Vec::new();
    for (token, email) in cases {
        let r = app
            .client()
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({ "token": token, "display_name": "Mallory", "password": chosen }))
            .send()
            .await
            .unwrap();
        api.push((r.status(), r.text().await.unwrap().replace(email, "EMAIL")));
    }
    assert_eq!(api[0].0, StatusCode::ACCEPTED);
    assert_eq!(api[0], api[1], "the API's answers differ");

    let mut pages = Vec::new();
    for (token, email) in cases {
        let (status, body, joined) = join_by_link(
            &app,
            &app.client(),
            &format!("/invite/{token}"),
            ("Mallory", chosen),
            (email, chosen),
        )
        .await;
        pages.push((
            status,
            body.replace(email, "EMAIL")
                .replace(token.as_str(), "TOKEN"),
        ));
        assert_eq!(
            joined,
            email.starts_with("fresh"),
            "{email} joined with the chosen password"
        );
    }
    assert_eq!(pages[0].0, StatusCode::OK);
    assert!(
        pages[0].1.contains("log in as EMAIL to join Demo Motors"),
        "{}",
        pages[0].1
    );
    assert_eq!(pages[0], pages[1], "the pages' answers differ");

    // The existing account kept its password, and joins with it.
    let (_, _, joined) = join_by_link(
        &app,
        &app.client(),
        &format!("/invite/{known}"),
        ("Mallory", chosen),
        ("known@example.com", PASSWORD),
    )
    .await;
    assert!(joined, "the account's owner joins with their own password");
    let members = app
        .core
        .directory
        .org(&org.org.id)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap()
        .members;
    let names: Vec<&str> = members
        .iter()
        .map(|m| m.user.display_name.as_str())
        .collect();
    assert!(
        names.contains(&"Owner") && names.contains(&"Mallory"),
        "{names:?}"
    );
    assert_eq!(members.len(), 3, "{names:?}");
}

/// One rule for invitees' addresses: admins only. The `org:` stream every member reads
/// (snapshot, live event, replay) carries pending invitations without them, as
/// `GET /api/v1/invitations` refuses plain members; admins read them there.
#[tokio::test]
async fn invitees_addresses_never_reach_plain_members() {
    use cflows_protocol::wire::{ClientMsg, ServerMsg, StreamEvent, StreamState, decode_server};
    use cflows_protocol::{OrgEvent, Role, StreamName};
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    invite(&app, &owner, &csrf, "before@invitee.test", "member").await;
    let stream = StreamName::Org(org.org.id.clone());
    let mut mia = app.ws("mia@example.com").await;
    let frame = |bytes: &[u8]| (bytes.to_vec(), decode_server(bytes).unwrap());
    let leaks = |bytes: &[u8]| bytes.windows(12).any(|w| w == b"invitee.test");

    mia.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await
    .unwrap();
    let (bytes, msg) = mia.recv_with(frame).await.unwrap();
    let ServerMsg::Snapshot {
        state: StreamState::Org(snap),
        ..
    } = msg
    else {
        panic!("a snapshot, got {msg:?}");
    };
    assert_eq!(
        snap.invitations.len(),
        1,
        "members still see that someone is invited"
    );
    assert!(!leaks(&bytes), "the snapshot carries the address");

    invite(&app, &owner, &csrf, "live@invitee.test", "admin").await;
    let (bytes, msg) = mia.recv_with(frame).await.unwrap();
    assert!(
        matches!(
            msg,
            ServerMsg::Event {
                event: StreamEvent::Org(OrgEvent::InvitationCreated { .. }),
                ..
            }
        ),
        "{msg:?}"
    );
    assert!(!leaks(&bytes), "the live event carries the address");

    // A client resuming from the start gets the history from the journal.
    let mut late = app.ws("mia@example.com").await;
    late.send(&ClientMsg::Subscribe {
        stream,
        after: Some(0),
    })
    .await
    .unwrap();
    loop {
        let (bytes, msg) = late.recv_with(frame).await.unwrap();
        assert!(
            !leaks(&bytes),
            "a replayed event carries the address: {msg:?}"
        );
        if matches!(msg, ServerMsg::Subscribed { .. }) {
            break;
        }
    }

    let (mia_http, _) = app.login("mia@example.com").await;
    let r = mia_http
        .get(app.url("/api/v1/invitations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let listed = get_json(&app, &owner, "/api/v1/invitations")
        .await
        .to_string();
    assert!(listed.contains("before@invitee.test") && listed.contains("live@invitee.test"));
}
