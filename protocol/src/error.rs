//! Error codes shared by the JSON API and the WebSocket protocol.
//!
//! A code is stable and machine-readable; the message next to it is for people.
//! "Not found" covers "belongs to another organization" on purpose: a tenant can never
//! learn that another tenant's id exists.

use serde::{Deserialize, Serialize};

/// Every error a client can be answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is malformed or breaks a rule (empty name, unknown time zone, too long).
    InvalidInput,
    /// No session, or the session expired.
    Unauthenticated,
    /// The session's role may not do this.
    Forbidden,
    /// No such entity, or it belongs to another organization.
    NotFound,
    /// The change clashes with existing state (duplicate email, slug or team name).
    Conflict,
    /// The booking does not fit the team's capacity or working hours; the error's
    /// `refusal` says where it clashes and suggests free slots.
    NoCapacity,
    /// Too many attempts; try again later.
    RateLimited,
    /// The request's CSRF token is missing or wrong.
    CsrfRejected,
    /// The server could not complete the request; nothing was changed.
    Internal,
    /// The server is starting or stopping.
    Unavailable,
}

impl ErrorCode {
    /// The code as written on the wire and in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::NoCapacity => "no_capacity",
            Self::RateLimited => "rate_limited",
            Self::CsrfRejected => "csrf_rejected",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_as_str() {
        for code in [
            ErrorCode::InvalidInput,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::NoCapacity,
            ErrorCode::RateLimited,
            ErrorCode::CsrfRejected,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
        ] {
            let bytes = rmp_serde::to_vec_named(&code).unwrap();
            let s: String = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(s, code.as_str());
        }
    }
}
