//! Remote mode: the same server against a real SurrealDB 3 server over `ws://`.
//! Runs when `CFLOWS_TEST_SURREAL_BIN` names a `surreal` binary (`scripts/build-surreal.sh`
//! builds one; `.ci/run` always does). Elsewhere it says so and passes; under `CI` it fails.

use crate::helpers::*;
use cflows_actors::{Caller, Store, StoreConfig, TeamInput};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) struct SurrealServer {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for SurrealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn start_surreal() -> Option<SurrealServer> {
    let Ok(bin) = std::env::var("CFLOWS_TEST_SURREAL_BIN") else {
        // CI always runs them (.ci/run builds the server): missing there is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CFLOWS_TEST_SURREAL_BIN must be set in CI (.ci/run sets it)"
        );
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

pub(crate) fn remote_config(port: u16) -> StoreConfig {
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

/// Two nodes (two connections, two kernels) racing on one organization over a real
/// SurrealDB server: exactly one commits, the loser reloads and its next change works.
#[tokio::test]
async fn two_nodes_on_one_surrealdb_server_race_and_the_loser_recovers() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let a = Store::open(&remote_config(surreal.port)).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(&remote_config(surreal.port)).await.unwrap();
    cflows_actors::testing::two_nodes_race(a, b).await;
}

/// Two nodes started at once on a fresh database both run the migrations: each file is
/// applied exactly once, and the node that loses a race for a file reads it as applied
/// and goes on (it used to stop start-up with the winner's "already exists").
#[tokio::test]
async fn two_nodes_migrating_one_fresh_database_at_once_both_start() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let all: Vec<String> = cflows_actors::store::MIGRATIONS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    // Several fresh databases: each start is one race of two.
    for round in 0..3 {
        let mut config = remote_config(surreal.port);
        config.database = format!("migration_race_{round}");
        let a = Store::open(&config).await.unwrap();
        let b = Store::open(&config).await.unwrap();
        let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
        let (ra, rb) = (
            ra.unwrap_or_else(|e| panic!("round {round}: first node: {e}")),
            rb.unwrap_or_else(|e| panic!("round {round}: second node: {e}")),
        );
        for name in &all {
            let by_a = ra.applied.contains(name);
            let by_b = rb.applied.contains(name);
            assert!(
                by_a != by_b,
                "round {round}: {name} applied by a: {by_a}, by b: {by_b}"
            );
            assert!(
                ra.applied.contains(name) || ra.already.contains(name),
                "round {round}: a does not know {name} is applied"
            );
            assert!(
                rb.applied.contains(name) || rb.already.contains(name),
                "round {round}: b does not know {name} is applied"
            );
        }
        assert!(a.migrations_current().await.unwrap());
        assert!(b.migrations_current().await.unwrap());
        // A later start finds nothing to apply.
        assert!(b.migrate().await.unwrap().applied.is_empty());
    }
}

#[tokio::test]
async fn two_nodes_on_one_surrealdb_server_never_overbook_a_team() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let mut config = remote_config(surreal.port);
    config.database = "booking_race".into();
    let a = Store::open(&config).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(&config).await.unwrap();
    cflows_actors::testing::two_nodes_booking_race(a, b).await;
}

/// Two cflows processes on one SurrealDB server, as users meet them: a change through one
/// reaches the other's hot copy through the journal feed, so the other serves it and
/// decides on it (it used to answer 409 once, then 200 after reloading).
#[tokio::test]
async fn a_change_on_one_node_is_served_and_built_on_by_the_other() {
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let first = spawn_app_on(remote_config(surreal.port)).await;
    first.org("Remote Motors", "owner@example.com").await;
    let second = spawn_app_on(remote_config(surreal.port)).await;
    let rename = |app: &TestApp, client: &reqwest::Client, csrf: &str, name: &str| {
        client
            .patch(app.url("/api/v1/org"))
            .header("x-csrf-token", csrf)
            .json(&json!({ "name": name }))
            .send()
    };
    let (c1, t1) = first.login("owner@example.com").await;
    let (c2, t2) = second.login("owner@example.com").await;
    // Both nodes hold the organization hot.
    for (app, c) in [(&first, &c1), (&second, &c2)] {
        let r = c.get(app.url("/api/v1/org")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = rename(&second, &c2, &t2, "Changed On Second")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut name = String::new();
    for _ in 0..100 {
        let now: serde_json::Value = c1
            .get(first.url("/api/v1/org"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        name = now["name"].as_str().unwrap_or_default().to_string();
        if name == "Changed On Second" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(name, "Changed On Second", "the first node followed");
    let r = rename(&first, &c1, &t1, "Changed On First").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "and decides on it at once");
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

/// `cflows export` / `cflows import` on a SurrealDB server: the demo organization,
/// exported from the embedded engine, round-trips through the server exactly; a
/// damaged copy writes nothing there.
#[tokio::test]
async fn an_export_imports_into_a_surrealdb_server_exactly() {
    use cflows_actors::files::Files;
    use cflows_actors::portable::{ImportAs, export, import, parse};
    let Some(surreal) = start_surreal().await else {
        return;
    };
    let local = cflows_actors::testing::memory_store().await;
    let core = cflows_actors::Core::start(local.clone()).await.unwrap();
    cflows_actors::demo::seed(&core.directory, "long enough pw")
        .await
        .unwrap();
    let files = core.kernel.files().clone();
    let doc = export(&local, &files, cflows_actors::demo::DEMO_SLUG)
        .await
        .unwrap();
    core.shutdown().await;
    let text = serde_json::to_string(&doc).unwrap();

    let remote = Store::open(&remote_config(surreal.port)).await.unwrap();
    remote.migrate().await.unwrap();
    let remote_files = Files::new(
        std::env::temp_dir().join(format!("cflows-remote-{}", cflows_actors::store::new_id())),
        1 << 20,
    );
    // Damaged: refused before anything reaches the server.
    assert!(parse(&text[..text.len() - 10]).is_err());
    import(
        &remote,
        &remote_files,
        parse(&text).unwrap(),
        ImportAs::Same,
    )
    .await
    .unwrap();
    let mut back = export(&remote, &remote_files, cflows_actors::demo::DEMO_SLUG)
        .await
        .unwrap();
    back.exported_at.clone_from(&doc.exported_at);
    back.sha256.clone_from(&doc.sha256);
    assert_eq!(back, doc, "every record and journal row, through ws://");
    assert!(
        cflows_actors::check::integrity(&remote)
            .await
            .unwrap()
            .is_empty()
    );
}
