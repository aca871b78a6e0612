//! Team capacity, the application layer: turns a member's booking request (API or
//! socket) into a decision of the team's `TeamCalendar` actor. The job type's length,
//! the default title and the assignees are resolved here against the Org; capacity is
//! decided only by the team calendar.

use crate::clock::Clock;
use crate::error::AppError;
use cflows_actors::domain::capacity;
use cflows_actors::org::OrgHandle;
use cflows_actors::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
use cflows_actors::work_item::WorkItemHandle;
use cflows_actors::{CoreError, Kernel};
use cflows_protocol::wire::NewBooking;
use cflows_protocol::{BookingView, CapacityRefusal, MemberView, OrgId, TeamId};

/// Longest booking title, in characters.
pub const MAX_TITLE: usize = 200;
/// Default slot length of availability queries, in minutes.
pub const DEFAULT_SLOT_MINUTES: u32 = 30;

/// An active member acting on team calendars of their organization.
pub struct Acting<'a> {
    pub kernel: &'a Kernel,
    pub org_id: &'a OrgId,
    pub org: &'a OrgHandle,
    pub member: &'a MemberView,
}

impl crate::auth::Member {
    /// This member acting on the team calendars of their organization.
    pub fn acting<'a>(&'a self, state: &'a crate::AppState) -> Acting<'a> {
        Acting {
            kernel: &state.core.kernel,
            org_id: &self.org_id,
            org: &self.org,
            member: &self.member,
        }
    }
}

impl Acting<'_> {
    /// Who books, as the team calendar sees it.
    pub fn booker(&self) -> Booker {
        Booker {
            user: self.member.user.id.clone(),
            name: self.member.user.display_name.clone(),
            admin: self.member.role.is_admin(),
        }
    }

    /// The calendar of `team` (another organization's team answers `not_found`).
    pub fn calendar(&self, team: &TeamId) -> TeamCalendarHandle {
        TeamCalendarHandle::new(self.kernel, self.org_id, team)
    }

    /// Holds (or confirms) capacity on `team` for `req`.
    ///
    /// # Errors
    /// `no_capacity` with the clash and suggestions; `invalid_input`; `not_found` for an
    /// unknown team or job type.
    pub async fn hold(&self, team_id: &TeamId, req: NewBooking) -> Result<BookingView, AppError> {
        let (team, job) = self
            .org
            .team_and_job_type(team_id.clone(), req.job_type.clone())
            .await?;
        let team = team.ok_or(AppError::NotFound)?;
        let job = job.ok_or_else(|| {
            AppError::InvalidInput(format!("unknown job type '{}'", req.job_type))
        })?;
        if let Some(stranger) = req.assigned.iter().find(|u| !team.members.contains(u)) {
            return Err(AppError::InvalidInput(format!(
                "{stranger} is not a member of team '{}'",
                team.name
            )));
        }
        if let Some(item) = &req.work_item {
            // A booking names only an item of this organization (one that does not exist
            // and another organization's are refused alike).
            let known = WorkItemHandle::new(self.kernel, self.org_id, item)
                .snapshot()
                .await;
            match known {
                Ok(_) => {}
                Err(CoreError::NotFound) => {
                    return Err(AppError::InvalidInput(
                        "the booking names a work item that does not exist here: pick the item from its board".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let title = req.title.unwrap_or_else(|| job.name.clone());
        let title = title.trim();
        if title.chars().count() > MAX_TITLE {
            return Err(AppError::InvalidInput(format!(
                "a title has at most {MAX_TITLE} characters"
            )));
        }
        if req.step.as_ref().is_some_and(|s| s.len() > 64) {
            return Err(AppError::InvalidInput(
                "a step id has at most 64 bytes".into(),
            ));
        }
        let end = capacity::booking_end(req.start, req.end, job.duration_minutes)?;
        let spec = BookingSpec {
            job_type: job.id,
            start: req.start,
            end,
            members_required: req.members_required.unwrap_or(1),
            title: title.to_string(),
            confirm: req.confirm,
            hold_ms: req.hold_seconds.map(|s| i64::from(s) * 1000),
            waitlist: req.waitlist,
            assigned: req.assigned,
            work_item: req.work_item,
            step: req.step,
        };
        match self.calendar(team_id).hold(self.booker(), spec).await {
            Ok(b) => Ok(b),
            Err(e) => Err(self.for_people(e, &team.name).await),
        }
    }

    /// Moves or resizes a booking on `team` (atomic: a refusal leaves it where it was).
    ///
    /// # Errors
    /// `no_capacity` told in the member's time with free times; `conflict`; `not_found`.
    pub async fn move_booking(
        &self,
        team: &TeamId,
        booking: String,
        start: i64,
        end: Option<i64>,
    ) -> Result<BookingView, AppError> {
        match self
            .calendar(team)
            .move_to(self.booker(), booking, start, end)
            .await
        {
            Ok(b) => Ok(b),
            Err(e @ CoreError::NoCapacity(_)) => {
                let name = match self.org.team(team.clone()).await {
                    Ok(Some(t)) => t.name,
                    _ => "The team".to_string(),
                };
                Err(self.for_people(e, &name).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The member's clock: their zone (else the organization's) and its 12/24-hour format.
    ///
    /// # Errors
    /// `unavailable` when the Org does not answer.
    pub async fn clock(&self) -> Result<Clock, AppError> {
        let org = self.org.settings().await?;
        Ok(Clock::new(&org, &self.member.profile.timezone))
    }

    /// `e` as this member is told it: a capacity refusal in their time and words (see
    /// [`refusal_message`]); any other error as it is.
    pub async fn for_people(&self, e: CoreError, team: &str) -> AppError {
        match e {
            CoreError::NoCapacity(r) => match self.clock().await {
                Ok(clock) => {
                    let message = refusal_message(&r, team, &clock);
                    AppError::NoCapacity(r, message)
                }
                Err(_) => CoreError::NoCapacity(r).into(),
            },
            e => e.into(),
        }
    }
}

/// Why a booking on `team` was refused and what to do next, in `clock`'s time:
/// "Testers: fully booked Mon 7 Dec, 09:00–09:30 (2 of 2 members already booked). The
/// next free time is …: pick one of the free times offered, or another time."
pub fn refusal_message(r: &CapacityRefusal, team: &str, clock: &Clock) -> String {
    let mut msg = match &r.conflict {
        Some(c) => format!(
            "{team}: fully booked {} ({} of {} members already booked).",
            clock.span(c.start, c.end),
            r.booked,
            r.capacity
        ),
        None => format!("{team}: not working then (outside working hours)."),
    };
    if r.waitlisted.is_some() {
        msg.push_str(" You are on the waitlist: you will be told when it frees up.");
    } else if let Some(first) = r.suggestions.first() {
        msg.push_str(&format!(
            " The next free time is {}: pick one of the free times offered, or another time.",
            clock.span(first.start, first.end)
        ));
    } else {
        msg.push_str(" Nothing is free in the next four weeks: ask an admin to add capacity.");
    }
    msg
}

impl Acting<'_> {
    /// Replaces a booking's assigned members (members of its team).
    ///
    /// # Errors
    /// `invalid_input` for someone outside the team or too many; `not_found`.
    pub async fn assign(
        &self,
        team: &TeamId,
        booking: String,
        assigned: Vec<cflows_protocol::UserId>,
    ) -> Result<BookingView, AppError> {
        let view = self
            .org
            .team(team.clone())
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(stranger) = assigned.iter().find(|u| !view.members.contains(u)) {
            return Err(AppError::InvalidInput(format!(
                "{stranger} is not a member of team '{}'",
                view.name
            )));
        }
        Ok(self
            .calendar(team)
            .assign(self.booker(), booking, assigned)
            .await?)
    }
}

/// The acting member of `org` for a socket request: checks the membership is active.
///
/// # Errors
/// `forbidden` without an organization; `not_found` when not an active member.
pub async fn member_of(
    kernel: &Kernel,
    org: Option<&OrgId>,
    user: &cflows_protocol::UserId,
) -> Result<(OrgHandle, MemberView), AppError> {
    let org = org.ok_or_else(|| AppError::Forbidden("choose an organization first".into()))?;
    let handle = OrgHandle::get(kernel, org).await?;
    let member = handle.active_member(user).await?;
    Ok((handle, member))
}
