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

#[tokio::test]
async fn every_operation_lists_the_401_and_403_the_server_answers() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "mia@example.com", "Mia", Role::Member)
        .await;
    // Someone with a session but no organization (a platform operator).
    app.core
        .directory
        .create_user("nomad@example.com", "Nomad", PASSWORD, true)
        .await
        .unwrap();
    let anonymous = app.client();
    let (owner, _) = app.login("owner@example.com").await;
    let (mia, mia_csrf) = app.login("mia@example.com").await;
    let (nomad, nomad_csrf) = app.login("nomad@example.com").await;
    let doc = get_json(&app, &anonymous, "/api/v1/openapi.json").await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Any id: the guards answer before the id is looked at.
        let url: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "0" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let what = format!("{method} {path}");
            let listed = |status: &str| op["responses"].get(status).is_some();
            let writes = method != Method::GET;
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let needs_session =
                !security.is_empty() && security.iter().all(|s| s.get("session").is_some());
            let platform = op["tags"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("platform")));
            let csrf_header = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "x-csrf-token" && p["in"] == "header")
            });
            let send = |client: &reqwest::Client, token: Option<&str>| {
                let mut r = client.request(method.clone(), app.url(&url));
                if writes {
                    r = r.json(&json!({}));
                }
                if let Some(t) = token {
                    r = r.header("x-csrf-token", t);
                }
                r.send()
            };
            // Without a session.
            let status = send(&anonymous, None).await.unwrap().status();
            if status == StatusCode::UNAUTHORIZED {
                assert!(listed("401"), "{what}: answers 401 but does not list it");
            }
            if needs_session && !platform {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: needs a session");
                assert!(
                    listed("401"),
                    "{what}: needs a session but does not list 401"
                );
            }
            if path == "/api/v1/session" && method == Method::DELETE {
                // Logging out would end the sessions that probe the rest.
                continue;
            }
            // A write without the CSRF header.
            if writes {
                let (status, code, _) = error_code(send(&owner, None).await.unwrap()).await;
                if status == StatusCode::FORBIDDEN {
                    assert_eq!(code, "csrf_rejected", "{what}");
                    assert!(
                        listed("403"),
                        "{what}: refuses a write without the token but does not list 403"
                    );
                    assert!(
                        csrf_header,
                        "{what}: needs the x-csrf-token header but does not describe it"
                    );
                }
            }
            // A plain member, and someone without an organization, with their tokens.
            for (who, client, token) in [
                ("a member", &mia, &mia_csrf),
                ("a user without an organization", &nomad, &nomad_csrf),
            ] {
                let status = send(client, Some(token)).await.unwrap().status();
                if status == StatusCode::FORBIDDEN {
                    assert!(
                        listed("403"),
                        "{what}: answers {who} 403 but does not list it"
                    );
                }
            }
            probed += 1;
        }
    }
    assert!(probed > 90, "only {probed} operations probed");
}

/// `(minimum, maximum)` of a schema as the document states them.
fn bounds(schema: &Value) -> (i64, i64) {
    (
        schema["minimum"].as_i64().expect("a minimum"),
        schema["maximum"].as_i64().expect("a maximum"),
    )
}

#[tokio::test]
async fn the_documented_minimums_and_maximums_are_what_the_server_enforces() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let doc = get_json(&app, &owner, "/api/v1/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let post = |path: String, body: Value| {
        owner
            .post(app.url(&path))
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let accepted = |status: StatusCode| status.is_success();

    // A job type's duration.
    let (min, max) = bounds(&schemas["JobTypeBody"]["properties"]["duration_minutes"]);
    for (minutes, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
        let r = post(
            "/api/v1/job-types".into(),
            json!({"name": format!("Job of {minutes} minutes"), "duration_minutes": minutes}),
        )
        .await
        .unwrap();
        assert_eq!(
            accepted(r.status()),
            ok,
            "duration_minutes {minutes}: {}",
            r.status()
        );
    }
    let job: Value = post(
        "/api/v1/job-types".into(),
        json!({"name": "Test drive", "duration_minutes": 60}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team: Value = post(
        "/api/v1/teams".into(),
        json!({"name": "Workshop", "members": [org.owner.id], "bookable_count": 1}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let team = team["id"].as_str().unwrap().to_string();
    let hours = owner
        .put(app.url(&format!("/api/v1/teams/{team}/hours")))
        .header("x-csrf-token", &csrf)
        .json(&json!({
            "zone": "UTC",
            "weekly": (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
            "closed": [],
            "hold_minutes": 15
        }))
        .send()
        .await
        .unwrap();
    assert!(hours.status().is_success());

    // A hold's length (each on an hour of its own: the team takes one at a time).
    let (min, max) = bounds(&schemas["NewBooking"]["properties"]["hold_seconds"]);
    for (i, (seconds, ok)) in [(min - 1, false), (min, true), (max, true), (max + 1, false)]
        .into_iter()
        .enumerate()
    {
        let r = post(
            format!("/api/v1/teams/{team}/bookings"),
            json!({"job_type": job["id"], "start": tomorrow_at_ten() + i as i64 * 3_600_000, "hold_seconds": seconds}),
        )
        .await
        .unwrap();
        assert_eq!(
            accepted(r.status()),
            ok,
            "hold_seconds {seconds}: {}",
            r.status()
        );
    }

    // An availability query's slot length.
    let parameters = doc["paths"]["/api/v1/teams/{team_id}/availability"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let slot = parameters
        .iter()
        .find(|p| p["name"] == "slot_minutes")
        .unwrap();
    let (min, max) = bounds(&slot["schema"]);
    let from = tomorrow_at_ten();
    for (minutes, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
        let r = owner
            .get(app.url(&format!(
                "/api/v1/teams/{team}/availability?from={from}&to={}&slot_minutes={minutes}",
                from + 24 * 3_600_000
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(
            accepted(r.status()),
            ok,
            "slot_minutes {minutes}: {}",
            r.status()
        );
    }
    // Routes that do not cut time into slots do not offer slot_minutes.
    for path in [
        "/api/v1/teams/{team_id}/bookings",
        "/api/v1/teams/{team_id}/workload",
    ] {
        let names: Vec<&Value> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        assert!(
            !names.contains(&&json!("slot_minutes")),
            "{path}: {names:?}"
        );
    }
}

#[tokio::test]
async fn every_api_route_the_router_serves_is_in_the_document_and_back() {
    let app = spawn_app().await;
    let doc = get_json(&app, &app.client(), "/api/v1/openapi.json").await;
    let documented: std::collections::BTreeSet<String> =
        doc["paths"].as_object().unwrap().keys().cloned().collect();
    let served: std::collections::BTreeSet<String> = crate::forms::router_paths(&app)
        .into_iter()
        // The document itself is the one route it does not describe (`/api/v1` alone is
        // where the API's not-found fallback is nested).
        .filter(|p| p.starts_with("/api/v1/") && p != "/api/v1/openapi.json")
        .collect();
    assert!(served.len() > 50, "read only {} API routes", served.len());
    let undocumented: Vec<&String> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    let unserved: Vec<&String> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}
