//! `/api/v1/calendars`, `/api/v1/invitations` and the feeds: calendars, events,
//! occurrences, answers to invitations, and secret `.ics` subscription links.
//!
//! Instants are Unix milliseconds; an event's local rules are in its `zone`.

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::Member;
use crate::calendars;
use crate::error::{ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use cflows_actors::calendar::{CalendarHandle, CalendarInput, EventInput, OccurrenceChange};
use cflows_protocol::{
    CalendarId, CalendarMember, CalendarSnapshot, CalendarView, EventView, Occurrence, Recurrence,
    Rsvp, TeamId, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calendars, create_calendar))
        .routes(routes!(get_calendar, update_calendar, delete_calendar))
        .routes(routes!(occurrences))
        .routes(routes!(create_event))
        .routes(routes!(get_event, update_event, delete_event))
        .routes(routes!(event_ics))
        .routes(routes!(move_occurrence))
        .routes(routes!(cancel_occurrence))
        .routes(routes!(split_series))
        .routes(routes!(rsvp))
        .routes(routes!(invitations))
        .routes(routes!(calendar_feed, revoke_calendar_feed))
        .routes(routes!(team_feed, revoke_team_feed))
}

fn cal(state: &AppState, m: &Member, id: String) -> CalendarHandle {
    calendars::handle(
        &state.core.kernel,
        &m.org_id,
        &m.member,
        &CalendarId::new(id),
    )
}

/// The calendars of the session's member: personal, their teams' (every team's for
/// admins), shared ones they belong to. Personal and team calendars are created on
/// first use.
#[utoipa::path(get, path = "/calendars", tag = "calendars", responses((status = 200, body = Vec<CalendarView>)))]
async fn list_calendars(
    State(state): State<AppState>,
    m: Member,
) -> ApiResult<Json<Vec<CalendarView>>> {
    Ok(Json(
        calendars::list(
            &state.core.kernel,
            &m.org_id,
            &m.member,
            &m.org.snapshot().await?.teams,
        )
        .await?,
    ))
}

/// A shared calendar's fields.
#[derive(Deserialize, ToSchema)]
pub struct CalendarBody {
    pub name: String,
    /// `#rrggbb`; empty for the default.
    #[serde(default)]
    pub colour: String,
    /// Who else may view (or edit) it.
    #[serde(default)]
    pub members: Vec<CalendarMember>,
}

/// Creates a shared calendar; its creator can edit it.
#[utoipa::path(post, path = "/calendars", tag = "calendars", request_body = CalendarBody,
    responses((status = 201, body = CalendarView), (status = 422, body = ErrorBody)))]
async fn create_calendar(
    State(state): State<AppState>,
    m: Member,
    ApiJson(b): ApiJson<CalendarBody>,
) -> ApiResult<(StatusCode, Json<CalendarView>)> {
    let view = calendars::create_shared(
        &state.core.kernel,
        &m.org_id,
        &m.org,
        &m.member,
        &b.name,
        &b.colour,
        b.members,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A calendar and all its events (what `calendar:{id}` snapshots carry).
#[utoipa::path(get, path = "/calendars/{calendar_id}", tag = "calendars", params(("calendar_id" = String, Path)),
    responses((status = 200, body = CalendarSnapshot), (status = 404, body = ErrorBody)))]
async fn get_calendar(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<CalendarSnapshot>> {
    Ok(Json(cal(&state, &m, id).snapshot().await?))
}

/// Renames, recolours or re-shares a calendar (only shared ones take a new name or
/// members; personal and team calendars only a colour).
#[utoipa::path(put, path = "/calendars/{calendar_id}", tag = "calendars", params(("calendar_id" = String, Path)), request_body = CalendarBody,
    responses((status = 200, body = CalendarView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_calendar(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CalendarBody>,
) -> ApiResult<Json<CalendarView>> {
    let people: Vec<UserId> = b.members.iter().map(|x| x.user.clone()).collect();
    calendars::check_people(&m.org, &people).await?;
    Ok(Json(
        cal(&state, &m, id)
            .update(CalendarInput {
                name: b.name,
                colour: b.colour,
                members: b.members,
            })
            .await?,
    ))
}

/// Deletes a shared calendar with its events and its `.ics` feed (which then answers
/// 404). Its creator or an admin may; personal and team calendars cannot be deleted
/// (409: they belong to the membership or the team). Subscribers of `calendar:{id}` get
/// `calendar_deleted` as the stream's last event.
#[utoipa::path(delete, path = "/calendars/{calendar_id}", tag = "calendars", params(("calendar_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_calendar(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    calendars::delete(
        &state.core.kernel,
        &m.org_id,
        &m.member,
        &CalendarId::new(id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A time range, Unix ms.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// Inclusive, Unix ms.
    pub from: i64,
    /// Exclusive, Unix ms; at most 400 days after `from`.
    pub to: i64,
}

/// Occurrences of the calendar's events overlapping `[from, to)`, expanded in each
/// event's zone, exceptions applied.
#[utoipa::path(get, path = "/calendars/{calendar_id}/occurrences", tag = "calendars", params(("calendar_id" = String, Path), Range),
    responses((status = 200, body = Vec<Occurrence>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn occurrences(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<Range>,
) -> ApiResult<Json<Vec<Occurrence>>> {
    Ok(Json(cal(&state, &m, id).occurrences(q.from, q.to).await?))
}

/// An event's fields.
#[derive(Deserialize, ToSchema)]
pub struct EventBody {
    /// 1..=200 characters.
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: String,
    /// Unix ms. All-day events cover the local dates from `start` to `end` − 1 ms.
    pub start: i64,
    /// Unix ms, after `start`.
    pub end: i64,
    #[serde(default)]
    pub all_day: bool,
    /// IANA zone of its local times; the organization's when empty.
    #[serde(default)]
    pub zone: String,
    /// `#rrggbb`; empty for the calendar's colour.
    #[serde(default)]
    pub colour: String,
    /// Members invited (each gets a notification and may answer).
    #[serde(default)]
    pub invitees: Vec<UserId>,
    pub recurrence: Option<Recurrence>,
}

impl From<EventBody> for EventInput {
    fn from(b: EventBody) -> Self {
        Self {
            title: b.title,
            description: b.description,
            location: b.location,
            start: b.start,
            end: b.end,
            all_day: b.all_day,
            zone: b.zone,
            colour: b.colour,
            invitees: b.invitees,
            recurrence: b.recurrence,
        }
    }
}

/// Creates an event.
#[utoipa::path(post, path = "/calendars/{calendar_id}/events", tag = "calendars", params(("calendar_id" = String, Path)), request_body = EventBody,
    responses((status = 201, body = EventView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_event(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EventBody>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    calendars::check_people(&m.org, &b.invitees).await?;
    Ok((
        StatusCode::CREATED,
        Json(cal(&state, &m, id).create_event(b.into()).await?),
    ))
}

/// One event (also readable by its invitees).
#[utoipa::path(get, path = "/calendars/{calendar_id}/events/{event_id}", tag = "calendars", params(("calendar_id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    m: Member,
    Path((id, event)): Path<(String, String)>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(cal(&state, &m, id).event(event).await?))
}

/// Replaces an event's fields (the whole series; a changed rule or start clears the
/// exceptions).
#[utoipa::path(put, path = "/calendars/{calendar_id}/events/{event_id}", tag = "calendars", params(("calendar_id" = String, Path), ("event_id" = String, Path)), request_body = EventBody,
    responses((status = 200, body = EventView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_event(
    State(state): State<AppState>,
    m: Member,
    Path((id, event)): Path<(String, String)>,
    ApiJson(b): ApiJson<EventBody>,
) -> ApiResult<Json<EventView>> {
    calendars::check_people(&m.org, &b.invitees).await?;
    Ok(Json(
        cal(&state, &m, id).update_event(event, b.into()).await?,
    ))
}

/// Deletes an event (the whole series).
#[utoipa::path(delete, path = "/calendars/{calendar_id}/events/{event_id}", tag = "calendars", params(("calendar_id" = String, Path), ("event_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_event(
    State(state): State<AppState>,
    m: Member,
    Path((id, event)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    cal(&state, &m, id).delete_event(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The event as an `.ics` file (with its zone's VTIMEZONE).
#[utoipa::path(get, path = "/calendars/{calendar_id}/events/{event_id}/ics", tag = "calendars", params(("calendar_id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = ErrorBody)))]
async fn event_ics(
    State(state): State<AppState>,
    m: Member,
    Path((id, event)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let e = cal(&state, &m, id).event(event).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"event-{}.ics\"", e.id),
            ),
        ],
        calendars::event_file(&e),
    ))
}

/// A new interval for one occurrence.
#[derive(Deserialize, ToSchema)]
pub struct OccurrenceMove {
    pub start: i64,
    pub end: i64,
}

/// Moves one occurrence of a recurring event. `occurrence` is its original local start,
/// `YYYY-MM-DDTHH:MM` in the event's zone (as occurrences list it).
#[utoipa::path(patch, path = "/calendars/{calendar_id}/events/{event_id}/occurrences/{occurrence}", tag = "calendars",
    params(("calendar_id" = String, Path), ("event_id" = String, Path), ("occurrence" = String, Path)), request_body = OccurrenceMove,
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_occurrence(
    State(state): State<AppState>,
    m: Member,
    Path((id, event, occurrence)): Path<(String, String, String)>,
    ApiJson(b): ApiJson<OccurrenceMove>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(
        cal(&state, &m, id)
            .change_occurrence(
                event,
                occurrence,
                OccurrenceChange::Move {
                    start: b.start,
                    end: b.end,
                },
            )
            .await?,
    ))
}

/// Cancels one occurrence of a recurring event.
#[utoipa::path(post, path = "/calendars/{calendar_id}/events/{event_id}/occurrences/{occurrence}/cancel", tag = "calendars",
    params(("calendar_id" = String, Path), ("event_id" = String, Path), ("occurrence" = String, Path)),
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody)))]
async fn cancel_occurrence(
    State(state): State<AppState>,
    m: Member,
    Path((id, event, occurrence)): Path<(String, String, String)>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(
        cal(&state, &m, id)
            .change_occurrence(event, occurrence, OccurrenceChange::Cancel)
            .await?,
    ))
}

/// Edits "this and following": the series ends before `occurrence` and a new series
/// with these fields starts there (a `count` is split between the two). Answers the new
/// series.
#[utoipa::path(post, path = "/calendars/{calendar_id}/events/{event_id}/occurrences/{occurrence}/split", tag = "calendars",
    params(("calendar_id" = String, Path), ("event_id" = String, Path), ("occurrence" = String, Path)), request_body = EventBody,
    responses((status = 201, body = EventView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn split_series(
    State(state): State<AppState>,
    m: Member,
    Path((id, event, occurrence)): Path<(String, String, String)>,
    ApiJson(b): ApiJson<EventBody>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    calendars::check_people(&m.org, &b.invitees).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            cal(&state, &m, id)
                .split_series(event, occurrence, b.into())
                .await?,
        ),
    ))
}

/// An answer to an invitation.
#[derive(Deserialize, ToSchema)]
pub struct RsvpBody {
    /// `accepted`, `declined` or `tentative`.
    pub rsvp: Rsvp,
}

/// The session's member answers an invitation to this event.
#[utoipa::path(post, path = "/calendars/{calendar_id}/events/{event_id}/rsvp", tag = "calendars", params(("calendar_id" = String, Path), ("event_id" = String, Path)), request_body = RsvpBody,
    responses((status = 200, body = EventView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rsvp(
    State(state): State<AppState>,
    m: Member,
    Path((id, event)): Path<(String, String)>,
    ApiJson(b): ApiJson<RsvpBody>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(cal(&state, &m, id).rsvp(event, b.rsvp).await?))
}

/// Occurrences of events the session's member is invited to, on any calendar.
#[utoipa::path(get, path = "/invited-events", tag = "calendars", params(Range),
    responses((status = 200, body = Vec<Occurrence>), (status = 422, body = ErrorBody)))]
async fn invitations(
    State(state): State<AppState>,
    m: Member,
    ApiQuery(q): ApiQuery<Range>,
) -> ApiResult<Json<Vec<Occurrence>>> {
    Ok(Json(
        calendars::invitations(&state.core.kernel, &m.org_id, &m.member, q.from, q.to).await?,
    ))
}

/// A secret subscription link: anyone with it can read the feed; a new link replaces
/// the old one, `DELETE` revokes it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FeedLink {
    /// `/ics/{token}.ics`, relative to the server (shown once).
    pub path: String,
}

fn link(token: Option<String>) -> ApiResult<Json<FeedLink>> {
    let token = token.ok_or_else(|| crate::error::AppError::Internal("no feed token".into()))?;
    Ok(Json(FeedLink {
        path: format!("/ics/{token}.ics"),
    }))
}

/// Creates (or replaces) the calendar's `.ics` subscription link.
#[utoipa::path(post, path = "/calendars/{calendar_id}/feed", tag = "calendars", params(("calendar_id" = String, Path)),
    responses((status = 200, body = FeedLink), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn calendar_feed(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<Json<FeedLink>> {
    link(cal(&state, &m, id).feed(false).await?)
}

/// Revokes the calendar's subscription link.
#[utoipa::path(delete, path = "/calendars/{calendar_id}/feed", tag = "calendars", params(("calendar_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_calendar_feed(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    cal(&state, &m, id).feed(true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates (or replaces) the team's `.ics` subscription link (its bookings and team
/// events).
#[utoipa::path(post, path = "/teams/{team_id}/feed", tag = "capacity", params(("team_id" = String, Path)),
    responses((status = 200, body = FeedLink), (status = 404, body = ErrorBody)))]
async fn team_feed(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
) -> ApiResult<Json<FeedLink>> {
    let a = m.acting(&state);
    link(
        a.calendar(&TeamId::new(team))
            .feed(a.booker(), false)
            .await?,
    )
}

/// Revokes the team's subscription link.
#[utoipa::path(delete, path = "/teams/{team_id}/feed", tag = "capacity", params(("team_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_team_feed(
    State(state): State<AppState>,
    m: Member,
    Path(team): Path<String>,
) -> ApiResult<StatusCode> {
    let a = m.acting(&state);
    a.calendar(&TeamId::new(team))
        .feed(a.booker(), true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
