//! How the API is authenticated, written into the OpenAPI document itself so a client
//! generated from it logs in and sends what the server checks: the session cookie as a
//! security scheme, the `x-csrf-token` header parameter on every write that has a
//! session, and the 401/403 answers where the extractors give them.
//!
//! Each operation's declared `security` says which extractor guards it (one rule here,
//! not a list per route):
//! - none declared: an active member of the session's organization (`Member`, `Admin`)
//!   — 401 without a session; 403 without an active organization, for a role that may
//!   not (operations for admins say "(admins)"), or for a write without the CSRF header;
//! - `security(("session" = []))`: any session (`Authed`) — 401; 403 for a write
//!   without the header;
//! - `security((), ("session" = []))`: with or without a session; a write with one
//!   needs the header (403);
//! - `security(())`: no session at all.
//!
//! Operations tagged `platform` exist only for platform operators and answer 404 to
//! everyone else (no 401, no 403). It must not decide access: the extractors do.

use crate::auth::{CSRF_HEADER, session_cookie_name};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
    schema::{ObjectBuilder, SchemaType},
};

/// The security scheme's name in the document.
pub const SESSION: &str = "session";

/// Who may call an operation, as its `security` declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// `security(())`.
    Public,
    /// `security((), ("session" = []))`.
    OptionalSession,
    /// `security(("session" = []))`.
    Session,
    /// Nothing declared: an active member.
    Member,
    /// Tagged `platform`.
    Operator,
}

fn guard(op: &Operation) -> Guard {
    if op
        .tags
        .as_ref()
        .is_some_and(|t| t.iter().any(|t| t == "platform"))
    {
        return Guard::Operator;
    }
    let Some(declared) = &op.security else {
        return Guard::Member;
    };
    let names: Vec<serde_json::Value> = declared
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    let anonymous = names
        .iter()
        .any(|n| n.as_object().is_some_and(|o| o.is_empty()));
    let session = names.iter().any(|n| n.get(SESSION).is_some());
    match (anonymous, session) {
        (true, true) => Guard::OptionalSession,
        (false, true) => Guard::Session,
        _ => Guard::Public,
    }
}

/// Adds the session scheme, and to each operation what its guard implies.
pub fn describe(doc: &mut OpenApi) {
    let cookie = session_cookie_name(false);
    let secure = session_cookie_name(true);
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cookie.to_string(),
                format!(
                    "The session cookie `POST /api/v1/session` sets (`{secure}` when the \
                     server is served over HTTPS). Writes also need the `{CSRF_HEADER}` \
                     header: the `csrf_token` of the login answer or of `GET /api/v1/me`."
                ),
            ))),
        );
    for item in doc.paths.paths.values_mut() {
        let ops = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (op, writes) in ops {
            if let Some(op) = op {
                apply(op, writes);
            }
        }
    }
}

fn apply(op: &mut Operation, writes: bool) {
    let guard = guard(op);
    let session = SecurityRequirement::new(SESSION, Vec::<String>::new());
    op.security = Some(match guard {
        Guard::Public => vec![SecurityRequirement::default()],
        Guard::OptionalSession => vec![SecurityRequirement::default(), session],
        Guard::Session | Guard::Member | Guard::Operator => vec![session],
    });
    if writes && guard != Guard::Public {
        op.parameters
            .get_or_insert_with(Vec::new)
            .push(csrf_parameter(guard != Guard::OptionalSession));
    }
    match guard {
        Guard::Public => {}
        Guard::Operator => {
            answer(
                op,
                "404",
                "Not found — also for anyone who is not a platform operator.",
            );
        }
        Guard::OptionalSession if writes => answer(
            op,
            "403",
            "`csrf_rejected`: sent with a session but without its `x-csrf-token` header.",
        ),
        Guard::OptionalSession => {}
        Guard::Session => {
            answer(op, "401", "`unauthenticated`: no valid session cookie.");
            if writes {
                answer(
                    op,
                    "403",
                    "`csrf_rejected`: the `x-csrf-token` header is missing or wrong.",
                );
            }
        }
        Guard::Member => {
            answer(op, "401", "`unauthenticated`: no valid session cookie.");
            answer(
                op,
                "403",
                if writes {
                    "`csrf_rejected`: the `x-csrf-token` header is missing or wrong; or \
                     `forbidden`: no active organization, or the role may not do this \
                     (operations marked \"(admins)\" need an admin or owner)."
                } else {
                    "`forbidden`: no active organization, or the role may not do this \
                     (operations marked \"(admins)\" need an admin or owner)."
                },
            );
        }
    }
}

fn csrf_parameter(required: bool) -> Parameter {
    ParameterBuilder::new()
        .name(CSRF_HEADER)
        .parameter_in(ParameterIn::Header)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(if required {
            "The session's CSRF token (`csrf_token` of the login answer or of `GET /api/v1/me`)."
        } else {
            "With a session: its CSRF token (`csrf_token` of the login answer or of `GET /api/v1/me`)."
        }))
        .schema(Some(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .build(),
        )))
        .build()
}

/// Lists `status` with the error body, unless the operation describes it already.
fn answer(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build(),
            )
        });
}
