//! Operations endpoints: `/healthz` (the process answers), `/readyz` (store reachable and
//! migrations current), `/metrics` (Prometheus text), and the request metrics middleware.

use crate::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process-wide Prometheus recorder (installed once; tests start many servers).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding apps); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

async fn healthz() -> &'static str {
    "ok"
}

/// The readiness result, for people and probes.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.core.directory.store();
    let store_ok = store.health().await.is_ok();
    let migrated = store_ok && store.migrations_current().await.unwrap_or(false);
    let feed = state.core.kernel.feed_status();
    let following = feed.ready();
    let feed_line = if feed.disabled.load(std::sync::atomic::Ordering::Relaxed) {
        "off (one node)"
    } else {
        ok(following)
    };
    let body = format!(
        "store: {}\nmigrations: {}\njournal feed: {feed_line}\n",
        ok(store_ok),
        ok(migrated)
    );
    let status = if store_ok && migrated && following {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "failing" }
}

async fn metrics(State(state): State<AppState>) -> Response {
    for (kind, live) in state.core.kernel.live_counts() {
        metrics::gauge!("cflows_actors_live", "kind" => kind).set(live as f64);
    }
    metrics::gauge!("cflows_streams_live").set(state.core.directory.hub().len() as f64);
    let feed = state.core.kernel.feed_status();
    let load =
        |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let now = chrono::Utc::now().timestamp_millis();
    if let Ok(outbox) = state.core.directory.store().outbox_counts(now).await {
        metrics::gauge!("cflows_mail_queued").set(outbox.queued as f64);
        metrics::gauge!("cflows_mail_failed").set(outbox.failed as f64);
        metrics::gauge!("cflows_mail_sent").set(outbox.sent as f64);
        metrics::gauge!("cflows_mail_oldest_queued_seconds")
            .set(outbox.oldest_queued_ms as f64 / 1e3);
    }
    metrics::gauge!("cflows_feed_following").set(if feed.ready() { 1.0 } else { 0.0 });
    metrics::gauge!("cflows_feed_last_lag_seconds").set(load(&feed.last_lag_us) / 1e6);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts requests and their latency by route template and status.
pub(crate) async fn track_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("cflows_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("cflows_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
