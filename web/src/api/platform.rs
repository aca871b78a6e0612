//! `/api/v1/platform`: what platform operators do (organizations).

use super::ApiJson;
use crate::AppState;
use crate::auth::Operator;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cflows_protocol::{ClockFormat, OrgView};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(platform_orgs, platform_create_org))
}

/// Every organization (platform operators).
#[utoipa::path(get, path = "/platform/orgs", tag = "platform", responses((status = 200, body = Vec<OrgView>), (status = 404, body = ErrorBody)))]
async fn platform_orgs(
    State(state): State<AppState>,
    _op: Operator,
) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(state.core.directory.orgs().await?))
}

/// A new organization and its first owner (existing user by email, or a new one).
#[derive(Deserialize, ToSchema)]
pub struct NewOrgBody {
    pub name: String,
    #[serde(default)]
    pub slug: String,
    pub timezone: String,
    #[serde(default = "default_clock")]
    pub clock: ClockFormat,
    pub owner_email: String,
    #[serde(default)]
    pub owner_name: String,
    /// Needed when the owner's email is new.
    #[serde(default)]
    pub owner_password: String,
}

impl From<NewOrgBody> for crate::app::NewOrgWithOwner {
    fn from(b: NewOrgBody) -> Self {
        Self {
            name: b.name,
            slug: b.slug,
            timezone: b.timezone,
            clock: b.clock,
            owner_email: b.owner_email,
            owner_name: b.owner_name,
            owner_password: b.owner_password,
        }
    }
}

fn default_clock() -> ClockFormat {
    ClockFormat::H24
}

/// Creates an organization (platform operators).
#[utoipa::path(post, path = "/platform/orgs", tag = "platform", request_body = NewOrgBody,
    responses((status = 201, body = OrgView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn platform_create_org(
    State(state): State<AppState>,
    _op: Operator,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let org = crate::app::create_org_with_owner(&state, body.into()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}
