//! The JSON twins of the inbox operations, and the per-sender message limit.

use crate::helpers::*;
use cflows_actors::StoreConfig;
use cflows_protocol::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn messages_notifications_and_paging_over_json() {
    let app = spawn_app_with(StoreConfig::memory(), |s| s.ws.messages_per_minute = 5).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    let bo = app.member(&org, "bo@example.com", "Bo", Role::Member).await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let (bo_client, bo_csrf) = app.login("bo@example.com").await;
    let send = |c: &reqwest::Client, token: &str, body: &str| {
        c.post(app.url("/api/v1/messages"))
            .header("x-csrf-token", token)
            .json(&json!({"to": mia.id, "body": body}))
            .send()
    };
    for i in 0..5 {
        assert_eq!(
            send(&owner, &csrf, &format!("m{i}"))
                .await
                .unwrap()
                .status(),
            StatusCode::NO_CONTENT
        );
    }
    // The sixth within a minute from the same sender is refused; another sender is not.
    let (status, code, _) = error_code(send(&owner, &csrf, "m5").await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(
        send(&bo_client, &bo_csrf, "hello").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // Bad bodies: empty, to oneself, to a stranger.
    assert_eq!(
        error_code(send(&bo_client, &bo_csrf, "   ").await.unwrap())
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let to_self = bo_client
        .post(app.url("/api/v1/messages"))
        .header("x-csrf-token", &bo_csrf)
        .json(&json!({"to": bo.id, "body": "me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(to_self.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (mia_client, mia_csrf) = app.login("mia@example.com").await;
    let page: Value = mia_client
        .get(app.url("/api/v1/notifications?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["unread"], 2,
        "five from the owner coalesce into one, plus one from Bo"
    );
    assert_eq!(page["items"][0]["body"], "hello");
    let before = page["items"][0]["id"].as_str().unwrap().to_string();
    let older: Value = mia_client
        .get(app.url(&format!("/api/v1/notifications?before={before}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            older["items"][0]["count"].as_u64(),
            older["items"][0]["body"].as_str()
        ),
        (Some(5), Some("m4"))
    );

    let r: Value = mia_client
        .post(app.url(&format!("/api/v1/notifications/{before}/read")))
        .header("x-csrf-token", &mia_csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["unread"], 1);
    // Another user's notification id is not found for Bo.
    let foreign = bo_client
        .post(app.url(&format!("/api/v1/notifications/{before}/read")))
        .header("x-csrf-token", &bo_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let r: Value = mia_client
        .post(app.url("/api/v1/notifications/read-all"))
        .header("x-csrf-token", &mia_csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["unread"], 0);
}
