//! `/api/v1/org`: the active organization's settings.

use super::ApiJson;
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use cflows_actors::SettingsChange;
use cflows_protocol::{ClockFormat, OrgView};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_org, update_org))
}

/// The active organization's settings.
#[utoipa::path(get, path = "/org", tag = "org", responses((status = 200, body = OrgView), (status = 403, body = ErrorBody)))]
async fn get_org(m: Member) -> ApiResult<Json<OrgView>> {
    Ok(Json(m.org.settings().await?))
}

/// Settings to change; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
pub struct OrgPatch {
    pub name: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    pub clock: Option<ClockFormat>,
}

/// Changes the organization's settings (admins).
#[utoipa::path(patch, path = "/org", request_body = OrgPatch, tag = "org",
    responses((status = 200, body = OrgView), (status = 422, body = ErrorBody)))]
async fn update_org(Admin(m): Admin, ApiJson(body): ApiJson<OrgPatch>) -> ApiResult<Json<OrgView>> {
    let current = m.org.settings().await?;
    let change = SettingsChange {
        name: body.name.unwrap_or(current.name),
        timezone: body.timezone.unwrap_or(current.timezone),
        clock: body.clock.unwrap_or(current.clock),
    };
    Ok(Json(m.org.update_settings(m.caller(), change).await?))
}
