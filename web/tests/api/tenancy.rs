//! Another organization's ids answer exactly like ids that do not exist, on every
//! org-scoped route, for reads and writes, in the API and the staff panel.

use crate::helpers::*;
use cflows_actors::{Caller, TeamInput};
use cflows_protocol::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn foreign_ids_are_indistinguishable_from_missing_ones() {
    let app = spawn_app().await;
    let a = app.org("Alpha Cars", "alpha@example.com").await;
    let b = app.org("Beta Cars", "beta@example.com").await;
    let b_member = app.member(&b, "bob@example.com", "Bob", Role::Member).await;
    let b_team = app
        .core
        .directory
        .org(&b.org.id)
        .await
        .unwrap()
        .create_team(
            Caller::System,
            TeamInput {
                name: "Beta Sales".into(),
                members: vec![b_member.id.clone()],
                bookable_count: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = app
        .core
        .directory
        .org(&b.org.id)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    let (client, token) = app.login("alpha@example.com").await;
    let missing = "01a2000000007000800000000000dead";

    let api: &[(Method, &str, serde_json::Value)] = &[
        (Method::GET, "/api/v1/members/{u}", json!(null)),
        (
            Method::PATCH,
            "/api/v1/members/{u}",
            json!({"role": "admin"}),
        ),
        (Method::DELETE, "/api/v1/members/{u}", json!(null)),
        (
            Method::PUT,
            "/api/v1/members/{u}/profile",
            json!({"title": "x", "location": "", "timezone": "", "avatar": "", "bio": ""}),
        ),
        (Method::GET, "/api/v1/teams/{t}", json!(null)),
        (
            Method::PUT,
            "/api/v1/teams/{t}",
            json!({"name": "Taken over"}),
        ),
        (Method::DELETE, "/api/v1/teams/{t}", json!(null)),
    ];
    for (method, template, body) in api {
        let call = |u: &str, t: &str| {
            let path = template.replace("{u}", u).replace("{t}", t);
            let mut req = client
                .request(method.clone(), app.url(&path))
                .header("x-csrf-token", &token);
            if !body.is_null() {
                req = req.json(body);
            }
            req.send()
        };
        let foreign = error_code(
            call(b_member.id.as_str(), b_team.id.as_str())
                .await
                .unwrap(),
        )
        .await;
        let absent = error_code(call(missing, missing).await.unwrap()).await;
        assert_eq!(foreign, absent, "{method} {template}");
        assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{method} {template}");
    }

    let pages: &[(Method, &str)] = &[
        (Method::GET, "/staff/users/{u}"),
        (Method::POST, "/staff/users/{u}/membership"),
        (Method::POST, "/staff/users/{u}/teams"),
        (Method::POST, "/staff/users/{u}/profile"),
        (Method::POST, "/staff/users/{u}/remove"),
        (Method::GET, "/staff/teams/{t}"),
        (Method::POST, "/staff/teams/{t}"),
        (Method::POST, "/staff/teams/{t}/delete"),
    ];
    for (method, template) in pages {
        let call = |u: &str, t: &str| {
            let path = template.replace("{u}", u).replace("{t}", t);
            client
                .request(method.clone(), app.url(&path))
                .form(&[
                    ("csrf", token.as_str()),
                    ("name", "Taken over"),
                    ("role", "admin"),
                ])
                .send()
        };
        let foreign = call(b_member.id.as_str(), b_team.id.as_str())
            .await
            .unwrap();
        let absent = call(missing, missing).await.unwrap();
        assert_eq!(
            foreign.status(),
            StatusCode::NOT_FOUND,
            "{method} {template}"
        );
        assert_eq!(
            absent.status(),
            StatusCode::NOT_FOUND,
            "{method} {template}"
        );
        assert_eq!(
            foreign.text().await.unwrap(),
            absent.text().await.unwrap(),
            "{method} {template}"
        );
    }

    // Switching the session into an organization one is not a member of: also not found.
    let switch = client
        .put(app.url("/api/v1/session/org"))
        .header("x-csrf-token", &token)
        .json(&json!({"org_id": b.org.id}))
        .send()
        .await
        .unwrap();
    let switch_missing = client
        .put(app.url("/api/v1/session/org"))
        .header("x-csrf-token", &token)
        .json(&json!({"org_id": missing}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(switch).await, error_code(switch_missing).await);

    // Naming the other org's user as a team member is refused like an unknown user.
    let r = client
        .post(app.url("/api/v1/teams"))
        .header("x-csrf-token", &token)
        .json(&json!({"name": "Mixed", "members": [b_member.id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Nothing in the other organization changed, and A's lists never show B's rows.
    let after = app
        .core
        .directory
        .org(&b.org.id)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    assert_eq!(before, after);
    let teams: Vec<serde_json::Value> = client
        .get(app.url("/api/v1/teams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(teams.is_empty());
    let members: Vec<serde_json::Value> = client
        .get(app.url("/api/v1/members"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    let _ = a;
}

#[tokio::test]
async fn a_user_in_two_orgs_switches_between_them() {
    let app = spawn_app().await;
    let a = app.org("Alpha Cars", "alpha@example.com").await;
    let b = app.org("Beta Cars", "beta@example.com").await;
    let handle = app.core.directory.org(&b.org.id).await.unwrap();
    handle
        .add_member(Caller::System, a.owner.clone(), Role::Member)
        .await
        .unwrap();
    let (client, token) = app.login("alpha@example.com").await;
    let me: serde_json::Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["orgs"].as_array().unwrap().len(), 2);
    assert_eq!(me["org"]["org"]["id"], a.org.id.as_str());
    let r = client
        .put(app.url("/api/v1/session/org"))
        .header("x-csrf-token", &token)
        .json(&json!({"org_id": b.org.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let new_token = r.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_token, token, "switching rotates the session");
    let org: serde_json::Value = client
        .get(app.url("/api/v1/org"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["id"], b.org.id.as_str());
    // As a plain member of Beta, the staff panel is closed.
    assert_eq!(
        client
            .get(app.url("/staff/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}
