use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn form_login_sets_a_session_and_logout_ends_it() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let client = app.client();
    let token = app.csrf_from_page(&client, "/login").await;
    let resp = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", "OWNER@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        resp.text().await
    );
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cflows_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains(&org.org.name));

    let session_token = app.csrf_from_page(&client, "/").await;
    let out = client
        .post(app.url("/logout"))
        .form(&[("csrf", session_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = client.get(app.url("/staff/users")).send().await.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "a logged-out browser is sent to the login page"
    );
    assert_eq!(after.headers()["location"], "/login");
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn login_rotates_the_session_id() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let client = app.client();
    let login = || {
        client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
            .send()
    };
    let first: Value = login().await.unwrap().json().await.unwrap();
    let second: Value = login().await.unwrap().json().await.unwrap();
    assert_ne!(first["csrf_token"], second["csrf_token"]);
    // The old session is gone: the second login ended it. Only the new token works for writes.
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["csrf_token"], second["csrf_token"]);

    // The cookie value itself changes at login, and the old one no longer authenticates
    // (a fixated or stolen pre-login id is worthless).
    let cookie_of = |resp: &reqwest::Response| {
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("cflows_session="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let fresh = app.client();
    let body = json!({"email": "owner@example.com", "password": PASSWORD});
    let a = fresh
        .post(app.url("/api/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let old_cookie = cookie_of(&a);
    let b = fresh
        .post(app.url("/api/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let new_cookie = cookie_of(&b);
    assert_ne!(old_cookie, new_cookie);
    let with = |cookie: &str| {
        reqwest::Client::new()
            .get(app.url("/api/v1/me"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(
        with(&old_cookie).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(with(&new_cookie).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let client = app.client();
    let wrong = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "owner@example.com", "password": "nope nope nope"}))
        .send()
        .await
        .unwrap();
    let unknown = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "ghost@example.com", "password": "nope nope nope"}))
        .send()
        .await
        .unwrap();
    let a = error_code(wrong).await;
    let b = error_code(unknown).await;
    assert_eq!(a, b);
    assert_eq!(a.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let client = app.client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": "owner@example.com", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Even the right password is refused while the account is limited.
    let r = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.1, "rate_limited");
}

#[tokio::test]
async fn login_is_rate_limited_per_ip() {
    let app = spawn_app().await;
    let client = app.client();
    let mut last = StatusCode::OK;
    for i in 0..21 {
        let r = client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": format!("user{i}@example.com"), "password": "whatever pw"}))
            .send()
            .await
            .unwrap();
        last = r.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forms_and_api_writes_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, token) = app.login("owner@example.com").await;

    let form = client
        .post(app.url("/staff/teams"))
        .form(&[("csrf", "0".repeat(64).as_str()), ("name", "Sales")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::FORBIDDEN);
    let missing = client
        .post(app.url("/staff/teams"))
        .form(&[("name", "Sales")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);

    let api = client
        .post(app.url("/api/v1/teams"))
        .json(&json!({"name": "Sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(api).await.1, "csrf_rejected");

    let ok = client
        .post(app.url("/api/v1/teams"))
        .header("x-csrf-token", &token)
        .json(&json!({"name": "Sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    // Only the accepted write happened.
    let snap = app
        .core
        .directory
        .org(&org.org.id)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    assert_eq!(snap.teams.len(), 1);
}

#[tokio::test]
async fn login_form_needs_its_csrf_cookie() {
    let app = spawn_app().await;
    app.org("Demo Motors", "owner@example.com").await;
    let client = app.client();
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", "x"),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("reload the page"));
}

#[tokio::test]
async fn deactivated_members_lose_access_at_once() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(
            &org,
            "mia@example.com",
            "Mia",
            cflows_protocol::Role::Member,
        )
        .await;
    let (mia_client, _) = app.login("mia@example.com").await;
    assert_eq!(
        mia_client
            .get(app.url("/api/v1/teams"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let (owner, token) = app.login("owner@example.com").await;
    let r = owner
        .patch(app.url(&format!("/api/v1/members/{}", mia.id)))
        .header("x-csrf-token", &token)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        mia_client
            .get(app.url("/api/v1/teams"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_hot_session_ends_at_once_with_a_new_password() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (client, _) = app.login("owner@example.com").await;
    // Used twice: the second read is answered from the Directory's memory.
    for _ in 0..2 {
        let r = client.get(app.url("/api/v1/teams")).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
    }
    app.core
        .directory
        .set_password(org.owner.id.clone(), "a brand new password")
        .await
        .unwrap();
    let r = client.get(app.url("/api/v1/teams")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
}
