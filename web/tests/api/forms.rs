//! Page forms and CSRF: every route that takes a form refuses it without its token,
//! before reading or changing anything. The routes come from the router itself, so a
//! new form is covered the day it is added.

use crate::helpers::*;
use cflows_protocol::ClockFormat;
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};

/// Every path the app's router serves, read from the router (axum has no public route
/// listing; its `Debug` names each route's path).
pub fn router_paths(app: &TestApp) -> BTreeSet<String> {
    let dump = format!("{:?}", cflows_web::router(app.state.clone()));
    let mut paths = BTreeSet::new();
    let mut rest = dump.as_str();
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(quote) = rest.find(": \"") else {
            break;
        };
        let tail = &rest[quote + 3..];
        let end = tail.find('"').unwrap();
        let path = &tail[..end];
        if !path.contains("__private__") {
            paths.insert(path.to_string());
        }
        rest = &tail[end..];
    }
    paths
}

/// `path` with each `{param}` filled in: any id will do, the token is checked first.
fn filled(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("0123456789abcdef0123456789abcdef");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// Rows in every table the migrations define.
async fn row_counts(app: &TestApp) -> BTreeMap<String, u64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut tables = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if (words.next(), words.next()) == (Some("DEFINE"), Some("TABLE")) {
                let name = words
                    .find(|w| !matches!(*w, "IF" | "NOT" | "EXISTS" | "OVERWRITE"))
                    .unwrap();
                tables.insert(name.trim_end_matches(';').to_string());
            }
        }
    }
    assert!(
        tables.len() > 20,
        "tables read from the migrations: {tables:?}"
    );
    let store = app.core.kernel.store();
    let mut counts = BTreeMap::new();
    for table in tables {
        let name: &'static str = Box::leak(table.clone().into_boxed_str());
        counts.insert(table, store.count(name).await.unwrap());
    }
    counts
}

#[tokio::test]
async fn every_page_form_refuses_a_post_without_its_token_and_changes_nothing() {
    let app = spawn_app().await;
    // An operator who owns an organization reaches every form, platform area included.
    let owner = app
        .core
        .directory
        .create_user("owner@example.com", "Olga Owner", PASSWORD, true)
        .await
        .unwrap();
    app.core
        .directory
        .create_org(cflows_actors::NewOrg {
            name: "Demo Motors".into(),
            slug: String::new(),
            timezone: "Europe/Berlin".into(),
            clock: ClockFormat::H24,
            owner: Some(cflows_actors::Owner::Existing(owner.id.clone())),
        })
        .await
        .unwrap();
    let (client, _) = app.login("owner@example.com").await;
    let anonymous = app.client();
    // The pre-session forms' cookie, as a browser that opened the login page has it.
    app.csrf_from_page(&anonymous, "/login").await;

    let paths = router_paths(&app);
    assert!(
        paths.contains("/staff/teams") && paths.contains("/items/{id}/move"),
        "the router's paths could not be read: {paths:?}"
    );
    let before = row_counts(&app).await;
    let mut forms = Vec::new();
    for path in paths.iter().filter(|p| !p.starts_with("/api/")) {
        let url = app.url(&filled(path));
        let fields = [("name", "Mallory"), ("email", "owner@example.com")];
        if path == "/unsubscribe/{token}" {
            // RFC 8058 one-click: a mail program posts it without a session or form
            // token; the secret in the link is the authority, so a made-up one is
            // unknown and changes nothing.
            let r = client.post(&url).form(&fields).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
            continue;
        }
        let r = client.post(&url).form(&fields).send().await.unwrap();
        if r.status() == StatusCode::METHOD_NOT_ALLOWED {
            continue;
        }
        forms.push(path.clone());
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "POST {path}: {body}");
        assert!(
            body.contains("data-error=\"csrf_rejected\"") && body.contains("reload the page"),
            "POST {path}: {body}"
        );
        // A wrong token, and an upload without its token part, fare no better.
        let wrong = client
            .post(&url)
            .form(&[("csrf", "0".repeat(64).as_str()), ("name", "Mallory")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "POST {path}");
        let upload = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt"),
        );
        let upload = client.post(&url).multipart(upload).send().await.unwrap();
        assert_eq!(upload.status(), StatusCode::FORBIDDEN, "upload to {path}");
        // Without a session: the token of no session, or the way to the login page.
        let r = anonymous.post(&url).form(&fields).send().await.unwrap();
        let to_login = r.status() == StatusCode::SEE_OTHER
            && r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login");
        assert!(
            to_login || [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&r.status()),
            "anonymous POST {path}: {}",
            r.status()
        );
    }
    assert!(
        forms.len() >= 35,
        "only {} form routes found: {forms:?}",
        forms.len()
    );
    for expected in ["/login", "/logout", "/invite/{token}", "/platform/orgs"] {
        assert!(forms.iter().any(|f| f == expected), "{expected} not probed");
    }
    assert_eq!(
        row_counts(&app).await,
        before,
        "a refused form changed something"
    );
}
