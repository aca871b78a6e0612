//! The transports of cflows: the axum router, the JSON API, the staff panel and other
//! maud pages, health and metrics. It decides nothing itself: every change is a call on
//! an actor handle from `cflows-actors`, and it never writes to the store.

pub mod api;
pub mod app;
pub mod auth;
pub mod bookings;
pub mod calendar_mail;
pub mod calendars;
pub mod clock;
pub mod error;
pub mod forms;
pub mod gateway;
pub mod headers;
pub mod mail;
pub mod notify_mail;
pub mod ops;
pub mod pages;
pub mod passwords;
pub mod reminders;
pub mod settings;
pub mod work;

pub use settings::Settings;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use cflows_actors::Core;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// A stream channel with no subscriber and no publish for this long is evicted.
pub const STREAM_IDLE_SECS: u64 = 600;

/// Largest request body accepted (an avatar data URL fits; a flood does not).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach. Cheap to clone; holds no mutable maps of its own.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub core: Core,
    pub login_limits: Arc<auth::LoginLimits>,
    /// Direct messages per sender per minute.
    pub message_limits: Arc<governor::DefaultKeyedRateLimiter<cflows_protocol::UserId>>,
    pub metrics: PrometheusHandle,
    /// Every socket's outbound side: the writer shards and the heartbeat tick.
    pub sockets: Arc<gateway::Sockets>,
    /// Outbound mail (off when `mail.smtp_url` is unset).
    pub mailer: Arc<mail::Mailer>,
}

impl AppState {
    /// State for a running core.
    pub fn new(settings: Settings, core: Core) -> Self {
        // Each node allows its share, so a user spread over every node gets the same total
        // (declared by `cluster.nodes`: counting in the store per message would cost a
        // write per message).
        let per_minute = std::num::NonZeroU32::new(
            settings.ws.messages_per_minute / settings.cluster.nodes.max(1),
        )
        .unwrap_or(std::num::NonZeroU32::MIN);
        let sockets =
            gateway::Sockets::per_core(Duration::from_secs(settings.ws.heartbeat_secs.max(1)));
        // `cflows serve` checks the mail settings before it starts (`mail::Mailer::new`).
        let mailer = mail::Mailer::new(&settings).unwrap_or_else(|e| panic!("{e}"));
        Self {
            sockets,
            mailer: Arc::new(mailer),
            message_limits: Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(
                per_minute,
            ))),
            settings: Arc::new(settings),
            core,
            login_limits: Arc::new(auth::LoginLimits::new()),
            metrics: ops::metrics_handle(),
        }
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(gateway::routes())
        .merge(api::routes())
        .merge(ops::routes())
        // Unknown paths answer exactly like a page that is not there for you.
        .fallback(|| async { error::PageError(error::AppError::NotFound) })
        .layer(axum::middleware::from_fn(headers::security_headers))
        .layer(axum::middleware::from_fn(ops::track_requests))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish and stops the actors (each finishes the message it is handling).
///
/// # Errors
/// The listener fails.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let core = state.core.clone();
    let sockets = state.sockets.clone();
    let sweep_core = state.core.clone();
    let messages = state.message_limits.clone();
    tokio::spawn(mail::deliver(state.clone()));
    tokio::spawn(notify_mail::run(state.clone()));
    tokio::spawn(calendar_mail::run(state.clone()));
    tokio::spawn(reminders::run(state.clone()));
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            messages.retain_recent();
            // Streams nobody watched or wrote for ten minutes (a work item's, a
            // passivated inbox's) free their channel and recent frames.
            sweep_core
                .kernel
                .hub()
                .evict_idle(Duration::from_secs(STREAM_IDLE_SECS));
        }
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // No Nagle delay: the socket writers already send everything queued for a socket in
    // one call, and a frame must not wait for the client's acknowledgement of the last.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    // Upgraded sockets outlive the HTTP server: tell them, and give their close frames
    // a moment to leave before the actors stop.
    sockets.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    core.shutdown().await;
    result
}
