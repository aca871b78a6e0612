//! The OpenAPI document as an integrator uses it: a client generated from the document
//! alone (openapi-python-client, PyPI) logs in and books a team slot against the real
//! server; and every operation of the document is probed for the 401 and 403 answers
//! the server really gives, which the document must list (with the CSRF header that a
//! write needs).

use crate::helpers::*;
use cflows_protocol::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Tomorrow 10:00 UTC, in ms.
fn tomorrow_at_ten() -> i64 {
    let day = 24 * 3_600_000;
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(day) + day + 10 * 3_600_000
}

/// Runs `program` with `args`; panics with its output when it fails.
fn run(program: &str, args: &[&str], python_path: Option<&Path>) -> String {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(p) = python_path {
        command.env("PYTHONPATH", p);
    }
    let out = command.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}); .ci/run installs it: pip install openapi-python-client")
    });
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn a_client_generated_from_the_document_logs_in_and_books_a_slot() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let doc = get_json(&app, &app.client(), "/api/v1/openapi.json").await;
    let dir =
        std::env::temp_dir().join(format!("cflows-openapi-{}", cflows_actors::store::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("openapi.json");
    std::fs::write(&spec, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let generated = dir.join("cflows_api_client");
    let (spec_arg, out_arg) = (spec.to_str().unwrap(), generated.to_str().unwrap());
    // Generated on a blocking thread: the server keeps serving meanwhile.
    let output = tokio::task::spawn_blocking({
        let (spec_arg, out_arg) = (spec_arg.to_string(), out_arg.to_string());
        move || {
            run(
                "openapi-python-client",
                &[
                    "generate",
                    "--path",
                    &spec_arg,
                    "--output-path",
                    &out_arg,
                    "--meta",
                    "none",
                    "--overwrite",
                ],
                None,
            )
        }
    })
    .await
    .unwrap();
    // The only part a generator may skip: binary downloads (it reads JSON only).
    for warning in output.split("WARNING").skip(1) {
        assert!(
            warning.contains("Unsupported content_type"),
            "the generator could not read part of the document:\n{warning}"
        );
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi_client/book.py");
    let base = app.url("");
    let start = tomorrow_at_ten().to_string();
    let printed = tokio::task::spawn_blocking({
        let script = script.to_str().unwrap().to_string();
        let dir = dir.clone();
        move || {
            run(
                "python3",
                &[&script, &base, "owner@example.com", PASSWORD, &start],
                Some(&dir),
            )
        }
    })
    .await
    .unwrap();
    let line = printed
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("the script printed no booking:\n{printed}"));
    let booked: Value = serde_json::from_str(line).unwrap();
    assert_eq!(booked["state"], "confirmed");
    // The server agrees: the booking is there, confirmed, by the owner.
    let (owner, _) = app.login("owner@example.com").await;
    let read = get_json(
        &app,
        &owner,
        &format!(
            "/api/v1/teams/{}/bookings/{}",
            booked["team"].as_str().unwrap(),
            booked["booking"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(read["state"], "confirmed");
    assert_eq!(read["booked_by"], json!(org.owner.id));
    let _ = std::fs::remove_dir_all(&dir);
}
