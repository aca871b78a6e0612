use crate::helpers::*;
use reqwest::StatusCode;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let client = app.client();
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(ready.text().await.unwrap().contains("migrations: ok"));
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("cflows_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/readyz\""));
    // Live actors per kind: the Directory always, an organization once it was used.
    app.org("Demo Motors", "owner@example.com").await;
    app.core
        .directory
        .org(&app.core.directory.orgs().await.unwrap()[0].id)
        .await
        .unwrap();
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cflows_actors_live{kind=\"directory\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cflows_actors_live{kind=\"org\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cflows_actors_live{kind=\"inbox\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/teams",
        "/api/v1/teams/{team_id}",
        "/api/v1/members",
        "/api/v1/org",
        "/api/v1/session",
        "/api/v1/platform/orgs",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    assert!(doc["components"]["schemas"]["TeamView"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn unknown_api_routes_answer_in_the_api_shape() {
    let app = spawn_app().await;
    let (status, code, _) = error_code(
        app.client()
            .get(app.url("/api/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}
