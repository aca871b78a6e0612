//! `/api/v1/teams`: teams of the active organization.

use super::ApiJson;
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use cflows_actors::TeamInput;
use cflows_protocol::{TeamId, TeamView, UserId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
}

/// Teams of the active organization.
#[utoipa::path(get, path = "/teams", tag = "teams", responses((status = 200, body = Vec<TeamView>)))]
async fn list_teams(m: Member) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(m.org.teams().await?))
}

/// A team's fields.
#[derive(Deserialize, ToSchema)]
pub struct TeamBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `#rrggbb`; empty for the default.
    #[serde(default)]
    pub colour: String,
    pub parent: Option<TeamId>,
    #[serde(default)]
    pub members: Vec<UserId>,
    #[serde(default)]
    #[schema(schema_with = cflows_protocol::limits::schema::bookable_count)]
    pub bookable_count: u32,
    pub manager: Option<UserId>,
    /// Hours (1–168) before a confirmed booking starts that the people assigned to it
    /// get a reminder by mail; null: no reminders; absent: on creation none, on an
    /// update the team's current setting stays.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 168)]
    pub reminder_hours: Option<Option<u32>>,
}

/// A field that may be absent (`None`), null (`Some(None)`) or a value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

impl From<TeamBody> for TeamInput {
    fn from(b: TeamBody) -> Self {
        TeamInput {
            name: b.name,
            description: b.description,
            colour: b.colour,
            parent: b.parent,
            members: b.members,
            bookable_count: b.bookable_count,
            manager: b.manager,
            reminder_hours: b.reminder_hours.flatten(),
        }
    }
}

/// Creates a team (admins).
#[utoipa::path(post, path = "/teams", tag = "teams", request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_team(
    Admin(m): Admin,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    Ok((
        StatusCode::CREATED,
        Json(m.org.create_team(m.caller(), body.into()).await?),
    ))
}

/// One team.
#[utoipa::path(get, path = "/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody)))]
async fn get_team(m: Member, Path(team_id): Path<String>) -> ApiResult<Json<TeamView>> {
    m.org
        .team(TeamId::new(team_id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// Replaces a team's fields (admins).
#[utoipa::path(put, path = "/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)), request_body = TeamBody,
    responses((status = 200, body = TeamView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`conflict`: the name is taken, or the bookable count would drop below what is booked (the message lists the bookings)."),
        (status = 422, body = ErrorBody)))]
async fn update_team(
    Admin(m): Admin,
    Path(team_id): Path<String>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<Json<TeamView>> {
    let team = TeamId::new(team_id);
    // A client that does not send the reminder setting keeps it.
    let keep = match body.reminder_hours {
        Some(_) => None,
        None => m.org.team(team.clone()).await?.map(|t| t.reminder_hours),
    };
    let mut input: TeamInput = body.into();
    if let Some(current) = keep {
        input.reminder_hours = current;
    }
    Ok(Json(m.org.update_team(m.caller(), team, input).await?))
}

/// Deletes a team; its child teams move up to its parent (admins).
#[utoipa::path(delete, path = "/teams/{team_id}", tag = "teams", params(("team_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_team(Admin(m): Admin, Path(team_id): Path<String>) -> ApiResult<StatusCode> {
    m.org.delete_team(m.caller(), TeamId::new(team_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
