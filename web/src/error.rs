//! The one error type of the web layer, and its rendering: a JSON body
//! `{ "error": { "code", "message" } }` for the API, an HTML page for browsers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cflows_actors::CoreError;
use cflows_protocol::{CapacityRefusal, ErrorCode};
use serde::Serialize;

/// An error answered to a client. Internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 or 422: the input is malformed or breaks a rule.
    #[error("{0}")]
    InvalidInput(String),
    /// 400, 413 or 415 (the given status): the body could not be read as the expected JSON.
    #[error("{1}")]
    Malformed(StatusCode, String),
    /// 401: no valid session.
    #[error("log in first")]
    Unauthenticated,
    /// 401: the email or password is wrong (one answer for both, on purpose).
    #[error("email or password is wrong")]
    BadCredentials,
    /// 403: the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 403: CSRF token missing or wrong.
    #[error("the form expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// 404: missing, or another organization's (the same answer on purpose).
    #[error("not found")]
    NotFound,
    /// 409: clashes with existing state.
    #[error("{0}")]
    Conflict(String),
    /// 409 `no_capacity`: a booking does not fit; the body's `refusal` says where it
    /// clashes and suggests free slots.
    #[error("{1}")]
    NoCapacity(Box<CapacityRefusal>, String),
    /// 429: too many attempts.
    #[error("too many attempts; wait a minute and try again")]
    RateLimited,
    /// 503: an actor or the store did not answer.
    #[error("the service is unavailable, try again")]
    Unavailable,
    /// 500: a bug or a store failure; the cause is logged.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Malformed(status, _) => *status,
            Self::Unauthenticated | Self::BadCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::NoCapacity(..) => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::Malformed(..) => ErrorCode::InvalidInput,
            Self::Unauthenticated | Self::BadCredentials => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Csrf => ErrorCode::CsrfRejected,
            Self::NotFound => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::NoCapacity(..) => ErrorCode::NoCapacity,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn log(&self) {
        if let Self::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
    }
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidInput(m) => Self::InvalidInput(m),
            CoreError::NotFound => Self::NotFound,
            CoreError::Conflict(m) => Self::Conflict(m),
            CoreError::Forbidden(m) => Self::Forbidden(m),
            e @ CoreError::NoCapacity(_) => {
                let message = e.to_string();
                let CoreError::NoCapacity(r) = e else {
                    unreachable!()
                };
                Self::NoCapacity(r, message)
            }
            CoreError::Unavailable => Self::Unavailable,
            CoreError::Internal(cause) => Self::Internal(cause),
            CoreError::Store(cflows_actors::StoreError::Duplicate(_)) => {
                Self::Conflict("that value is already taken".into())
            }
            CoreError::Store(s) => Self::Internal(s.to_string()),
        }
    }
}

impl From<cflows_actors::domain::Invalid> for AppError {
    fn from(e: cflows_actors::domain::Invalid) -> Self {
        Self::InvalidInput(e.0)
    }
}

impl From<cflows_actors::StoreError> for AppError {
    fn from(e: cflows_actors::StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        let status = match r.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::UNPROCESSABLE_ENTITY,
            s if s.is_client_error() => s,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::Malformed(status, r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::Malformed(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<axum::extract::rejection::FormRejection> for AppError {
    fn from(r: axum::extract::rejection::FormRejection) -> Self {
        Self::Malformed(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<axum_extra::extract::FormRejection> for AppError {
    fn from(r: axum_extra::extract::FormRejection) -> Self {
        Self::Malformed(StatusCode::BAD_REQUEST, r.body_text())
    }
}

/// The JSON error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for machines (`code`) and people (`message`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// One of the codes in PROTOCOL.md (`invalid_input`, `not_found`, ...).
    pub code: String,
    pub message: String,
    /// With `no_capacity`: the clash and suggested free slots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CapacityRefusal>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().as_str().into(),
                message: self.to_string(),
                refusal: match &self {
                    Self::NoCapacity(r, _) => Some((**r).clone()),
                    _ => None,
                },
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        self.retry_after(&mut response);
        response
    }
}

/// How long a rate-limited client should wait: the limits refill per minute.
pub const RETRY_AFTER_SECS: u64 = 60;
/// How long a client should wait after 503 (an actor, the store or the image decoders
/// were busy).
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl AppError {
    /// Adds `Retry-After` to a 429 (the limits refill per minute) and a 503 (busy for
    /// a moment).
    fn retry_after(&self, response: &mut Response) {
        let secs = match self {
            Self::RateLimited => RETRY_AFTER_SECS,
            Self::Unavailable => UNAVAILABLE_RETRY_SECS,
            _ => return,
        };
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
    }
}

/// The same error, rendered as an HTML page for browsers.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.log();
        if matches!(self.0, AppError::Unauthenticated) {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = self.0.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let page = crate::pages::layout::bare(
            title,
            maud::html! {
                // The code, for scripts and tests; people read the sentence.
                h1 data-error=(self.0.code().as_str()) { (status.as_u16()) " " (title) }
                p { (self.0.to_string()) }
                p { a href="/" { "Back to the start page" } }
            },
        );
        let mut response = (status, page).into_response();
        self.0.retry_after(&mut response);
        response
    }
}

/// Result alias for API handlers.
pub type ApiResult<T> = Result<T, AppError>;
/// Result alias for page handlers.
pub type PageResult<T> = Result<T, PageError>;
