//! Bad input gets a clear 4xx with a message and changes nothing.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn bad_json_and_bad_values_change_nothing() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let token = invite(&app, &client, &csrf, "n@example.com", "member").await;
    let before = handle.snapshot().await.unwrap();
    let post = |path: &str| client.post(app.url(path)).header("x-csrf-token", &csrf);
    // Accepting an invitation without a session creates the account: its fields are checked.
    let anonymous = app.client();
    let accept = |body: serde_json::Value| {
        anonymous
            .post(app.url("/api/v1/invitations/accept"))
            .json(&body)
    };

    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (post("/api/v1/teams").header("content-type", "application/json").body("{\"name\": "), StatusCode::BAD_REQUEST, "malformed JSON"),
        (post("/api/v1/teams").json(&json!({"name": 42})), StatusCode::UNPROCESSABLE_ENTITY, "wrong type"),
        (post("/api/v1/teams").json(&json!({"description": "no name"})), StatusCode::UNPROCESSABLE_ENTITY, "missing field"),
        (post("/api/v1/teams").json(&json!({"name": "   "})), StatusCode::UNPROCESSABLE_ENTITY, "empty name"),
        (post("/api/v1/teams").json(&json!({"name": "x".repeat(121)})), StatusCode::UNPROCESSABLE_ENTITY, "name too long"),
        (post("/api/v1/teams").json(&json!({"name": "Paint", "colour": "red"})), StatusCode::UNPROCESSABLE_ENTITY, "bad colour"),
        (post("/api/v1/teams").json(&json!({"name": "Paint", "description": "x".repeat(2001)})), StatusCode::UNPROCESSABLE_ENTITY, "description too long"),
        (post("/api/v1/teams").json(&json!({"name": "x".repeat(2 * 1024 * 1024)})), StatusCode::PAYLOAD_TOO_LARGE, "oversized body"),
        (post("/api/v1/teams").body("name=x"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "not JSON"),
        (client.patch(app.url("/api/v1/org")).header("x-csrf-token", &csrf).json(&json!({"timezone": "Europe/Atlantis"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid timezone"),
        (client.patch(app.url("/api/v1/org")).header("x-csrf-token", &csrf).json(&json!({"clock": "h36"})), StatusCode::UNPROCESSABLE_ENTITY, "unknown clock"),
        (post("/api/v1/members").json(&json!({"email": "owner@example.com", "role": "member"})), StatusCode::CONFLICT, "already a member"),
        (post("/api/v1/members").json(&json!({"email": "not-an-email", "role": "member"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid email"),
        (accept(json!({"token": token, "display_name": "", "password": "long enough pw"})), StatusCode::UNPROCESSABLE_ENTITY, "empty display name"),
        (accept(json!({"token": token, "display_name": "N", "password": "short"})), StatusCode::UNPROCESSABLE_ENTITY, "short password"),
        (accept(json!({"token": "0".repeat(64), "display_name": "N", "password": "long enough pw"})), StatusCode::UNPROCESSABLE_ENTITY, "unknown invitation"),
        (post("/api/v1/members").json(&json!({"email": "n@example.com", "role": "king"})), StatusCode::UNPROCESSABLE_ENTITY, "unknown role"),
        (client.put(app.url(&format!("/api/v1/members/{}/profile", org.owner.id))).header("x-csrf-token", &csrf).json(&json!({"title": "", "location": "", "timezone": "", "avatar": "javascript:alert(1)", "bio": ""})), StatusCode::UNPROCESSABLE_ENTITY, "bad avatar"),
    ];
    for (req, status, what) in cases {
        let resp = req.send().await.unwrap();
        let (got, code, message) = error_code(resp).await;
        assert_eq!(got, status, "{what}: {message}");
        assert!(
            !code.is_empty() && !message.is_empty(),
            "{what}: every error has a code and a message"
        );
    }
    assert_eq!(handle.snapshot().await.unwrap(), before);
    assert!(
        app.core
            .directory
            .user_by_email("n@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_second_user_with_the_same_email_is_a_conflict() {
    let app = spawn_app().await;
    let a = app.org("Alpha", "alpha@example.com").await;
    let b = app.org("Beta", "beta@example.com").await;
    let (client, csrf) = app.login("alpha@example.com").await;
    // The email belongs to a user of another org: invited, then added, not duplicated.
    let token = invite(&app, &client, &csrf, "beta@example.com", "member").await;
    let (beta, beta_csrf) = app.login("beta@example.com").await;
    let r = beta
        .post(app.url("/api/v1/invitations/accept"))
        .header("x-csrf-token", &beta_csrf)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["user"]["id"], b.owner.id.as_str());
    assert_eq!(body["org"]["id"], a.org.id.as_str());
    let _ = a;
}
