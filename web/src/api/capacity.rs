//! `/api/v1/job-types` and `/api/v1/teams/{team_id}/…`: job types, working hours,
//! bookings, the waitlist, availability and workload of team calendars.
//!
//! Instants are Unix milliseconds. A booking that does not fit answers 409 with code
//! `no_capacity` and a `refusal` (the clashing interval and suggested free slots).

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::bookings::DEFAULT_SLOT_MINUTES;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cflows_actors::JobTypeInput;
use cflows_actors::team_calendar::BookingStep;
use cflows_protocol::wire::NewBooking;
use cflows_protocol::{
    BookingView, JobTypeView, SlotAvailability, TeamCalendarSnapshot, TeamId, UserId, WorkingHours,
    Workload,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_job_types, create_job_type))
        .routes(routes!(update_job_type, delete_job_type))
        .routes(routes!(team_calendar))
        .routes(routes!(get_hours, set_hours))
        .routes(routes!(list_bookings, create_booking))
        .routes(routes!(get_booking, move_booking))
        .routes(routes!(assign_booking))
        .routes(routes!(confirm_booking))
        .routes(routes!(cancel_booking))
        .routes(routes!(complete_booking))
        .routes(routes!(leave_waitlist))
        .routes(routes!(availability))
        .routes(routes!(workload))
}

/// Job types of the active organization, by name.
#[utoipa::path(get, path = "/job-types", tag = "capacity", responses((status = 200, body = Vec<JobTypeView>)))]
async fn list_job_types(m: Member) -> ApiResult<Json<Vec<JobTypeView>>> {
    Ok(Json(m.org.job_types().await?))
}

/// A job type's fields.
#[derive(Deserialize, ToSchema)]
pub struct JobTypeBody {
    pub name: String,
    #[schema(schema_with = cflows_protocol::limits::schema::duration_minutes)]
    pub duration_minutes: u32,
    /// `#rrggbb`; empty for the default.
    #[serde(default)]
    pub colour: String,
}

impl From<JobTypeBody> for JobTypeInput {
    fn from(b: JobTypeBody) -> Self {
        Self {
            name: b.name,
            duration_minutes: b.duration_minutes,
            colour: b.colour,
        }
    }
}

/// Creates a job type (admins).
#[utoipa::path(post, path = "/job-types", tag = "capacity", request_body = JobTypeBody,
    responses((status = 201, body = JobTypeView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_job_type(
    Admin(m): Admin,
    ApiJson(body): ApiJson<JobTypeBody>,
) -> ApiResult<(StatusCode, Json<JobTypeView>)> {
    Ok((
        StatusCode::CREATED,
        Json(m.org.create_job_type(m.caller(), body.into()).await?),
    ))
}

/// Replaces a job type's fields (admins); existing bookings keep their length.
#[utoipa::path(put, path = "/job-types/{job_type_id}", tag = "capacity", params(("job_type_id" = String, Path)), request_body = JobTypeBody,
    responses((status = 200, body = JobTypeView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_job_type(
    Admin(m): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JobTypeBody>,
) -> ApiResult<Json<JobTypeView>> {
    Ok(Json(
        m.org.update_job_type(m.caller(), id, body.into()).await?,
    ))
}

/// Deletes a job type (admins); existing bookings keep its id.
#[utoipa::path(delete, path = "/job-types/{job_type_id}", tag = "capacity", params(("job_type_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_job_type(Admin(m): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    m.org.delete_job_type(m.caller(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A team calendar's whole state (what `team:{id}` snapshots carry).
#[utoipa::path(get, path = "/teams/{team_id}/calendar", tag = "capacity", params(("team_id" = String, Path)),
    responses((status = 200, body = TeamCalendarSnapshot), (status = 404, body = ErrorBody)))]
async fn team_calendar(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
) -> ApiResult<Json<TeamCalendarSnapshot>> {
    Ok(Json(
        m.acting(&state)
            .calendar(&TeamId::new(team))
            .snapshot()
            .await?,
    ))
}

/// A team's working hours.
#[utoipa::path(get, path = "/teams/{team_id}/hours", tag = "capacity", params(("team_id" = String, Path)),
    responses((status = 200, body = WorkingHours), (status = 404, body = ErrorBody)))]
async fn get_hours(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
) -> ApiResult<Json<WorkingHours>> {
    let snap = m
        .acting(&state)
        .calendar(&TeamId::new(team))
        .snapshot()
        .await?;
    Ok(Json(snap.hours))
}

/// Replaces a team's working hours (admins). Existing bookings stay where they are.
#[utoipa::path(put, path = "/teams/{team_id}/hours", tag = "capacity", params(("team_id" = String, Path)), request_body = WorkingHours,
    responses((status = 200, body = WorkingHours), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_hours(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(team): Path<String>,
    ApiJson(hours): ApiJson<WorkingHours>,
) -> ApiResult<Json<WorkingHours>> {
    let a = m.acting(&state);
    Ok(Json(
        a.calendar(&TeamId::new(team))
            .set_hours(a.booker(), hours)
            .await?,
    ))
}

/// A time range, Unix ms.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Inclusive, Unix ms.
    pub from: i64,
    /// Exclusive, Unix ms; at most 62 days after `from`.
    pub to: i64,
}

/// A time range, Unix ms, cut into slots.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// Inclusive, Unix ms.
    pub from: i64,
    /// Exclusive, Unix ms; at most 62 days after `from`.
    pub to: i64,
    /// Slot length in minutes (30 when absent).
    #[param(schema_with = cflows_protocol::limits::schema::slot_minutes)]
    pub slot_minutes: Option<u32>,
}

/// Bookings overlapping `[from, to)` (held, confirmed, completed), by start.
#[utoipa::path(get, path = "/teams/{team_id}/bookings", tag = "capacity", params(("team_id" = String, Path), RangeQuery),
    responses((status = 200, body = Vec<BookingView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_bookings(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<Vec<BookingView>>> {
    Ok(Json(
        m.acting(&state)
            .calendar(&TeamId::new(team))
            .bookings(q.from, q.to)
            .await?,
    ))
}

/// Holds (or confirms) capacity. 409 `no_capacity` with a `refusal` when it does not fit.
#[utoipa::path(post, path = "/teams/{team_id}/bookings", tag = "capacity", params(("team_id" = String, Path)), request_body = NewBooking,
    responses((status = 201, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_booking(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
    ApiJson(b): ApiJson<NewBooking>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    Ok((
        StatusCode::CREATED,
        Json(m.acting(&state).hold(&TeamId::new(team), b).await?),
    ))
}

/// One booking, in any state.
#[utoipa::path(get, path = "/teams/{team_id}/bookings/{booking_id}", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody)))]
async fn get_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
) -> ApiResult<Json<BookingView>> {
    Ok(Json(
        m.acting(&state)
            .calendar(&TeamId::new(team))
            .booking(id)
            .await?,
    ))
}

/// A new interval for a booking.
#[derive(Deserialize, ToSchema)]
pub struct MoveBody {
    /// Unix ms, on a whole minute.
    pub start: i64,
    /// Unix ms; keeps the booking's length when absent.
    pub end: Option<i64>,
}

/// Moves and/or resizes a held or confirmed booking atomically: the new interval is
/// taken or nothing changes (409 `no_capacity`).
#[utoipa::path(patch, path = "/teams/{team_id}/bookings/{booking_id}", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)), request_body = MoveBody,
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<MoveBody>,
) -> ApiResult<Json<BookingView>> {
    let a = m.acting(&state);
    Ok(Json(
        a.calendar(&TeamId::new(team))
            .move_to(a.booker(), id, b.start, b.end)
            .await?,
    ))
}

async fn step(
    state: &AppState,
    m: &Member,
    team: String,
    id: String,
    which: BookingStep,
) -> ApiResult<Json<BookingView>> {
    let a = m.acting(state);
    Ok(Json(
        a.calendar(&TeamId::new(team))
            .step(a.booker(), id, which)
            .await?,
    ))
}

/// Members assigned to a booking.
#[derive(Deserialize, ToSchema)]
pub struct AssignBody {
    /// Members of the booking's team, at most `members_required`.
    pub assigned: Vec<UserId>,
}

/// Replaces the members assigned to a held or confirmed booking.
#[utoipa::path(put, path = "/teams/{team_id}/bookings/{booking_id}/assigned", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn assign_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
    ApiJson(b): ApiJson<AssignBody>,
) -> ApiResult<Json<BookingView>> {
    Ok(Json(
        m.acting(&state)
            .assign(&TeamId::new(team), id, b.assigned)
            .await?,
    ))
}

/// Confirms a hold (409 when it ran out).
#[utoipa::path(post, path = "/teams/{team_id}/bookings/{booking_id}/confirm", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn confirm_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
) -> ApiResult<Json<BookingView>> {
    step(&state, &m, team, id, BookingStep::Confirm).await
}

/// Cancels a held or confirmed booking; freed capacity goes to the waitlist.
#[utoipa::path(post, path = "/teams/{team_id}/bookings/{booking_id}/cancel", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
) -> ApiResult<Json<BookingView>> {
    step(&state, &m, team, id, BookingStep::Cancel).await
}

/// Marks a confirmed booking done; a booking linked to a work item tells the workflow.
#[utoipa::path(post, path = "/teams/{team_id}/bookings/{booking_id}/complete", tag = "capacity", params(("team_id" = String, Path), ("booking_id" = String, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn complete_booking(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
) -> ApiResult<Json<BookingView>> {
    step(&state, &m, team, id, BookingStep::Complete).await
}

/// Withdraws a waitlist entry (its owner or an admin).
#[utoipa::path(delete, path = "/teams/{team_id}/waitlist/{entry_id}", tag = "capacity", params(("team_id" = String, Path), ("entry_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn leave_waitlist(
    State(state): State<AppState>,
    m: Member,
    Path((team, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let a = m.acting(&state);
    a.calendar(&TeamId::new(team))
        .leave_waitlist(a.booker(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Free capacity per slot over `[from, to)` (slots outside working hours have capacity 0).
#[utoipa::path(get, path = "/teams/{team_id}/availability", tag = "capacity", params(("team_id" = String, Path), SlotQuery),
    responses((status = 200, body = Vec<SlotAvailability>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn availability(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<SlotQuery>,
) -> ApiResult<Json<Vec<SlotAvailability>>> {
    Ok(Json(
        m.acting(&state)
            .calendar(&TeamId::new(team))
            .availability(q.from, q.to, q.slot_minutes.unwrap_or(DEFAULT_SLOT_MINUTES))
            .await?,
    ))
}

/// Booked versus available member-minutes per local day and ISO week.
#[utoipa::path(get, path = "/teams/{team_id}/workload", tag = "capacity", params(("team_id" = String, Path), RangeQuery),
    responses((status = 200, body = Workload), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn workload(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<Workload>> {
    Ok(Json(
        m.acting(&state)
            .calendar(&TeamId::new(team))
            .workload(q.from, q.to)
            .await?,
    ))
}
