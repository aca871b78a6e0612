//! Calendars, the application layer: which calendars a member has (their personal one
//! and their teams' are created on first use), shared calendars, invitations across
//! calendars, and the `.ics` subscription feeds. Used by the JSON API and the pages.

use crate::error::AppError;
use cflows_actors::Kernel;
use cflows_actors::calendar::{self, CalendarHandle, Viewer, event_occurrences};
use cflows_actors::domain::ics;
use cflows_actors::org::OrgHandle;
use cflows_actors::team_calendar::TeamCalendarHandle;
use cflows_actors::{CoreError, CoreResult};
use cflows_protocol::{
    BookingView, CalendarId, CalendarKind, CalendarMember, CalendarView, EventView, MemberView,
    Occurrence, OrgId, TeamId, TeamView, UserId,
};

/// Default colours: personal calendars, shared ones.
pub const PERSONAL_COLOUR: &str = "#0f766e";
pub const SHARED_COLOUR: &str = "#7c3aed";

/// How the calendar actors see a member.
pub fn viewer(member: &MemberView) -> Viewer {
    Viewer {
        user: member.user.id.clone(),
        name: member.user.display_name.clone(),
        admin: member.role.is_admin(),
        teams: member.teams.clone(),
    }
}

/// A handle on calendar `id` as `member` sees it.
pub fn handle(
    kernel: &Kernel,
    org: &OrgId,
    member: &MemberView,
    id: &CalendarId,
) -> CalendarHandle {
    CalendarHandle::new(kernel, org, id, viewer(member))
}

async fn ensure(kernel: &Kernel, org: &OrgId, view: CalendarView, by: &UserId) -> CoreResult<()> {
    match calendar::create(kernel, org, &view, Some(by)).await {
        Ok(()) | Err(CoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The team's calendar (created on first use).
///
/// # Errors
/// A store failure.
pub async fn ensure_team_calendar(
    kernel: &Kernel,
    org: &OrgId,
    team: &TeamView,
    by: &UserId,
) -> CoreResult<CalendarId> {
    let id = calendar::team_calendar_id(&team.id);
    if kernel.store().calendar(id.as_str()).await?.is_none() {
        let view = CalendarView {
            id: id.clone(),
            kind: CalendarKind::Team,
            name: team.name.clone(),
            colour: team.colour.clone(),
            owner: None,
            team: Some(team.id.clone()),
            members: Vec::new(),
        };
        ensure(kernel, org, view, by).await?;
    }
    Ok(id)
}

/// Every calendar `member` can see (of the organization's `teams`), their personal and
/// team calendars created if new (one query when nothing is missing).
///
/// # Errors
/// A store failure.
pub async fn list(
    kernel: &Kernel,
    org_id: &OrgId,
    member: &MemberView,
    teams: &[TeamView],
) -> Result<Vec<CalendarView>, AppError> {
    let me = &member.user;
    let admin = member.role.is_admin();
    let mine: Vec<String> = member.teams.iter().map(ToString::to_string).collect();
    let read = || {
        kernel
            .store()
            .calendars_for(org_id.as_str(), me.id.as_str(), &mine, admin)
    };
    let found = read().await?;
    let has = |id: &CalendarId| found.iter().any(|c| c.id == id.as_str());
    let mut created = false;
    let personal = calendar::personal_id(org_id, &me.id);
    if !has(&personal) {
        let view = CalendarView {
            id: personal,
            kind: CalendarKind::Personal,
            name: me.display_name.clone(),
            colour: PERSONAL_COLOUR.into(),
            owner: Some(me.id.clone()),
            team: None,
            members: Vec::new(),
        };
        ensure(kernel, org_id, view, &me.id).await?;
        created = true;
    }
    for team in teams
        .iter()
        .filter(|t| admin || member.teams.contains(&t.id))
    {
        if !has(&calendar::team_calendar_id(&team.id)) {
            ensure_team_calendar(kernel, org_id, team, &me.id).await?;
            created = true;
        }
    }
    let all = if created { read().await? } else { found };
    Ok(all.into_iter().map(CalendarView::from).collect())
}

/// Checks that every invitee or calendar member is an active member of the organization.
///
/// # Errors
/// `invalid_input` naming the first who is not.
pub async fn check_people(org: &OrgHandle, people: &[UserId]) -> Result<(), AppError> {
    let snapshot = org.snapshot().await?;
    for p in people {
        if !snapshot.members.iter().any(|m| &m.user.id == p && m.active) {
            return Err(AppError::InvalidInput(format!(
                "{p} is not an active member of this organization"
            )));
        }
    }
    Ok(())
}

/// A new shared calendar; its creator can edit it.
///
/// # Errors
/// Bad name, colour or members.
pub async fn create_shared(
    kernel: &Kernel,
    org_id: &OrgId,
    org: &OrgHandle,
    member: &MemberView,
    name: &str,
    colour: &str,
    members: Vec<CalendarMember>,
) -> Result<CalendarView, AppError> {
    let people: Vec<UserId> = members.iter().map(|m| m.user.clone()).collect();
    check_people(org, &people).await?;
    let name = cflows_actors::domain::validate::name("Calendar name", name)?;
    let colour = if colour.trim().is_empty() {
        SHARED_COLOUR.to_string()
    } else {
        cflows_actors::domain::validate::colour(colour)?
    };
    let mut list: Vec<CalendarMember> = Vec::new();
    for m in members {
        if m.user != member.user.id && !list.iter().any(|x| x.user == m.user) {
            list.push(m);
        }
    }
    list.push(CalendarMember {
        user: member.user.id.clone(),
        can_edit: true,
    });
    let view = CalendarView {
        id: CalendarId::new(cflows_actors::store::new_id()),
        kind: CalendarKind::Shared,
        name,
        colour,
        owner: Some(member.user.id.clone()),
        team: None,
        members: list,
    };
    calendar::create(kernel, org_id, &view, Some(&member.user.id)).await?;
    Ok(view)
}

/// Deletes a shared calendar with its events and feed (its owner or an admin; personal
/// and team calendars are refused with what to do instead). Subscribers of its stream
/// get `calendar_deleted` as the last event.
///
/// # Errors
/// `NotFound` for a calendar the member cannot see (or another organization's),
/// `Conflict` for a personal or team calendar, `Forbidden` for other members.
pub async fn delete(
    kernel: &Kernel,
    org: &OrgId,
    member: &MemberView,
    id: &CalendarId,
) -> Result<(), AppError> {
    handle(kernel, org, member, id).delete().await?;
    Ok(())
}

/// Occurrences of events `member` is invited to, over `[from, to)`.
///
/// # Errors
/// A store failure or a bad range.
pub async fn invitations(
    kernel: &Kernel,
    org: &OrgId,
    member: &MemberView,
    from: i64,
    to: i64,
) -> Result<Vec<Occurrence>, AppError> {
    if to <= from || to - from > calendar::MAX_RANGE_MS {
        return Err(AppError::InvalidInput(
            "a range spans 1 ms to 400 days".into(),
        ));
    }
    let mut out = Vec::new();
    for e in kernel
        .store()
        .events_inviting(org.as_str(), member.user.id.as_str())
        .await?
    {
        out.extend(event_occurrences(&EventView::from(e), from, to)?);
    }
    out.sort_by_key(|o| o.start);
    Ok(out)
}

/// A single event as an `.ics` file.
pub fn event_file(event: &EventView) -> String {
    ics::feed(&event.title, &[ics::Entry::Event(event)])
}

/// The feed behind a secret token: `(name, ics text)`, or `None` for an unknown or
/// revoked token.
///
/// # Errors
/// A store or actor failure.
pub async fn feed(kernel: &Kernel, token: &str) -> CoreResult<Option<(String, String)>> {
    let hash = cflows_actors::org::token_hash(token);
    let Some(feed) = kernel.store().feed_by_token_hash(&hash).await? else {
        return Ok(None);
    };
    let org = OrgId::new(feed.org.clone());
    match feed.target_kind.as_str() {
        "calendar" => {
            let cal = CalendarHandle::new(
                kernel,
                &org,
                &CalendarId::new(feed.target.clone()),
                Viewer::system(),
            );
            let snap = cal.snapshot().await?;
            let entries: Vec<ics::Entry<'_>> = snap.events.iter().map(ics::Entry::Event).collect();
            Ok(Some((
                snap.calendar.name.clone(),
                ics::feed(&snap.calendar.name, &entries),
            )))
        }
        "team" => {
            let team_id = TeamId::new(feed.target.clone());
            let team = kernel
                .store()
                .team(team_id.as_str())
                .await?
                .ok_or(CoreError::NotFound)?;
            let snap = TeamCalendarHandle::new(kernel, &org, &team_id)
                .snapshot()
                .await?;
            let tz: chrono_tz::Tz = snap.hours.zone.parse().unwrap_or(chrono_tz::UTC);
            let now = chrono::Utc::now().timestamp_millis();
            let bookings: Vec<BookingView> = kernel
                .store()
                .bookings_between(
                    team_id.as_str(),
                    now - 31 * 86_400_000,
                    now + 366 * 86_400_000,
                )
                .await?
                .into_iter()
                .map(BookingView::from)
                .filter(|b| {
                    b.state != cflows_protocol::BookingState::Held
                        || b.hold_expires_at.is_some_and(|t| t > now)
                })
                .collect();
            let events: Vec<EventView> = match kernel
                .store()
                .calendar(calendar::team_calendar_id(&team_id).as_str())
                .await?
            {
                Some(c) => {
                    CalendarHandle::new(kernel, &org, &CalendarId::new(c.id), Viewer::system())
                        .snapshot()
                        .await?
                        .events
                }
                None => Vec::new(),
            };
            let mut entries: Vec<ics::Entry<'_>> = bookings
                .iter()
                .map(|b| ics::Entry::Booking(b, team.name.as_str(), tz))
                .collect();
            entries.extend(events.iter().map(ics::Entry::Event));
            Ok(Some((team.name.clone(), ics::feed(&team.name, &entries))))
        }
        _ => Ok(None),
    }
}
