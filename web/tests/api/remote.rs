//! Remote mode: the same server against a real SurrealDB 3 server over `ws://`.
//! Runs only when `CFLOWS_TEST_SURREAL_BIN` names a `surreal` binary
//! (`scripts/build-surreal.sh` builds one); otherwise it says so and passes.

use crate::helpers::*;
use cflows_actors::{Caller, Store, StoreConfig, TeamInput};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct SurrealServer {
    child: Child,
    port: u16,
}

impl Drop for SurrealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_surreal() -> Option<SurrealServer> {
    let Ok(bin) = std::env::var("CFLOWS_TEST_SURREAL_BIN") else {
        eprintln!(
            "REMOTE-MODE TESTS NOT RUN: set CFLOWS_TEST_SURREAL_BIN to a SurrealDB 3 `surreal` binary (scripts/build-surreal.sh)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args([
            "start",
            "--user",
            "root",
            "--pass",
            "root-test-pw",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "memory",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("CFLOWS_TEST_SURREAL_BIN does not start");
    let server = SurrealServer { child, port };
    // Ready when its health endpoint answers (bounded wait).
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("surreal server did not become healthy");
}

fn remote_config(port: u16) -> StoreConfig {
    StoreConfig {
        url: format!("ws://127.0.0.1:{port}"),
        namespace: "cflows".into(),
        database: "remote_test".into(),
        username: Some("root".into()),
        password: Some("root-test-pw".into()),
        sync: "every".into(),
    }
}

#[tokio::test]
async fn the_server_works_against_a_surrealdb_server() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let app = spawn_app_on(remote_config(surreal.port)).await;
    let org = app.org("Remote Motors", "owner@example.com").await;
    let (client, csrf) = app.login("owner@example.com").await;
    let r = client
        .post(app.url("/api/v1/teams"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Mechanics"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let dup = client
        .post(app.url("/api/v1/teams"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Mechanics"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let bad = client
        .patch(app.url("/api/v1/org"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"timezone": "Mars/Base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A second, independent process view of the same database sees the committed state
    // and a gap-free journal, and migrations are recognised as applied.
    let store = Store::open(&remote_config(surreal.port)).await.unwrap();
    assert!(store.migrate().await.unwrap().applied.is_empty());
    let teams = store.teams_of_org(org.org.id.as_str()).await.unwrap();
    assert_eq!(teams.len(), 1);
    assert!(
        cflows_actors::check::integrity(&store)
            .await
            .unwrap()
            .is_empty()
    );

    // A unique index still guards against a duplicate written past the actor.
    let handle = app.core.directory.org(&org.org.id).await.unwrap();
    let again = handle
        .create_team(
            Caller::System,
            TeamInput {
                name: "Testers".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.name, "Testers");
}

#[tokio::test]
async fn remote_mode_reports_a_clear_error_when_the_server_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Err(e) = Store::open(&remote_config(port)).await else {
        panic!("connected to a server that is not there")
    };
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}
