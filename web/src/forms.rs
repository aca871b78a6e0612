//! Forms, checked for CSRF before a handler sees them: [`CsrfForm`] for urlencoded
//! page forms, [`CsrfMultipart`] for uploads (a page form's or an API client's). The web
//! crate's `clippy.toml` refuses `axum::Form` and `Multipart` everywhere else, so a
//! handler cannot take a form without the check (JSON API writes have theirs in
//! [`crate::auth::Authed`]).
//!
//! The token a form must carry in its `csrf` field is the session's when there is one,
//! and otherwise the pre-session double-submit cookie (logging in, accepting an
//! invitation as a new person). A form without it is answered 403 `csrf_rejected`
//! before anything is read or changed.

#![allow(
    clippy::disallowed_types,
    reason = "the one place that reads form bodies, after the token check"
)]

use crate::AppState;
use crate::auth::AuthRejection;
use crate::auth::{self, LOGIN_CSRF_COOKIE};
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use serde::de::DeserializeOwned;

/// The name of the hidden field that carries the token.
pub const CSRF_FIELD: &str = "csrf";

/// A urlencoded form whose `csrf` field matched; `T` is deserialized from the other
/// fields (repeated names fill a `Vec`).
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AuthRejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let reject = rejecter(&parts);
        let expected = expected_token(&mut parts, state).await.map_err(reject)?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| reject(AppError::Malformed(r.status(), r.body_text())))?;
        let mut sent = None;
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(&bytes) {
            if name == CSRF_FIELD {
                sent.get_or_insert(value);
            } else {
                rest.append_pair(&name, &value);
            }
        }
        check(expected.as_deref(), sent.as_deref()).map_err(reject)?;
        serde_html_form::from_str(&rest.finish())
            .map(CsrfForm)
            .map_err(|e| {
                reject(AppError::Malformed(
                    StatusCode::BAD_REQUEST,
                    format!("the form could not be read: {e}"),
                ))
            })
    }
}

/// A `multipart/form-data` upload whose token matched: a page form's first part,
/// `csrf`, or an API client's `x-csrf-token` header. The handler reads the parts after
/// the token.
pub struct CsrfMultipart(pub Multipart);

impl FromRequest<AppState> for CsrfMultipart {
    type Rejection = AuthRejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let reject = rejecter(&parts);
        let expected = expected_token(&mut parts, state).await.map_err(reject)?;
        let header = parts
            .headers
            .get(auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // A body that is not multipart carries no token part either.
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| reject(AppError::Csrf))?;
        if header.is_some() {
            check(expected.as_deref(), header.as_deref()).map_err(reject)?;
            return Ok(CsrfMultipart(multipart));
        }
        let sent = match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some(CSRF_FIELD) => field.text().await.ok(),
            _ => None,
        };
        check(expected.as_deref(), sent.as_deref()).map_err(reject)?;
        Ok(CsrfMultipart(multipart))
    }
}

impl CsrfMultipart {
    /// The file in the part named `part`: its file name and bytes, read up to `limit`
    /// bytes (the reading stops there).
    ///
    /// # Errors
    /// 400 for a body that is not a multipart upload with such a part (with a file
    /// name); 413 past the limit.
    pub async fn file(self, part: &str, limit: u64) -> Result<(String, Vec<u8>), AppError> {
        let CsrfMultipart(mut multipart) = self;
        let bad = |m: &str| AppError::Malformed(StatusCode::BAD_REQUEST, m.to_string());
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| bad(&format!("not a multipart upload: {e}")))?
        {
            if field.name() != Some(part) {
                continue;
            }
            let name = field
                .file_name()
                .ok_or_else(|| bad(&format!("the {part} part has no file name")))?
                .to_string();
            let mut bytes: Vec<u8> = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| bad(&format!("the upload broke off: {e}")))?
            {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(AppError::Malformed(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the file is larger than the limit of {limit} bytes"),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok((name, bytes));
        }
        Err(bad(&format!("the upload has no part named \"{part}\"")))
    }
}

/// Answers as the API does for `/api/` paths, as a page otherwise.
fn rejecter(parts: &Parts) -> impl Fn(AppError) -> AuthRejection + Copy + use<> {
    let api = auth::is_api(parts);
    move |error| AuthRejection::new(api, error)
}

/// The token this request's form must carry: the session's, or without a (live)
/// session the pre-session cookie's.
async fn expected_token(parts: &mut Parts, state: &AppState) -> Result<Option<String>, AppError> {
    match auth::Authed::from_request_parts(parts, state).await {
        Ok(authed) => return Ok(Some(authed.csrf)),
        Err(rejection) if !rejection.is_unauthenticated() => return Err(rejection.into_error()),
        Err(_) => {}
    }
    let jar = CookieJar::from_headers(&parts.headers);
    Ok(jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty()))
}

fn check(expected: Option<&str>, sent: Option<&str>) -> Result<(), AppError> {
    match (expected, sent) {
        (Some(expected), Some(sent))
            if auth::constant_time_eq(sent.as_bytes(), expected.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AppError::Csrf),
    }
}

/// A form with nothing but its token: a button that does one thing.
#[derive(Debug, serde::Deserialize)]
pub struct Button {}
