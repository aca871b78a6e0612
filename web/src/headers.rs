//! Security headers on every answer: a strict Content-Security-Policy (no inline script
//! or style, no framing), `nosniff`, no referrer to other sites, and `no-store` for
//! everything that does not set its own caching (pages and the API hold private data).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// The policy: only this origin's scripts, styles, images (and `data:` avatars) and
/// sockets; forms post only here; no page may frame ours.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The policy of uploaded files: nothing in them may load or run anything.
pub const FILE_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'none'; script-src 'none'; sandbox; frame-ancestors 'none'";

/// Adds the headers (keeping a `Cache-Control` the handler chose, e.g. static assets,
/// and the stricter policy of uploaded files).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
