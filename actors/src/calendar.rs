//! `Calendar(calendar_id)`: the single writer of one calendar's events — personal (one
//! per member), team (one per team, beside its bookings) or shared. Publishes
//! `calendar:{id}`; expands recurring events in their own zone (see
//! [`crate::domain::recurrence`]); invites members (an invitation is a notification) and
//! records their answers.

use crate::domain::permissions::{self, CalendarDeletionRefused};
use crate::domain::recurrence::{self, OCCURRENCE_FORMAT};
use crate::domain::{time, validate};
use crate::error::{CoreError, CoreResult};
use crate::kernel::{Entity, Journal, Kernel};
use crate::notices::{self, Author, Change, Notice};
use crate::store::{Write, new_id, writes};
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    CalendarEvent, CalendarId, CalendarKind, CalendarMember, CalendarSnapshot, CalendarView,
    EventView, Invitee, Occurrence, OccurrenceException, OrgId, Recurrence, Rsvp, StreamName,
    TeamId, UserId,
};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use ractor::RpcReplyPort;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Most events one calendar holds.
pub const MAX_EVENTS: usize = 20_000;
/// Most invitees of one event, members of a shared calendar, exceptions of a series.
pub const MAX_INVITEES: usize = 200;
pub const MAX_MEMBERS: usize = 500;
pub const MAX_EXCEPTIONS: usize = 1000;
/// Longest occurrence query (ms): 400 days.
pub const MAX_RANGE_MS: i64 = 400 * 24 * 3_600_000;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn derived_id(prefix: &str, parts: &[&str]) -> CalendarId {
    let digest = Sha256::digest(parts.join(":").as_bytes());
    CalendarId::new(format!("{prefix}{}", &hex::encode(digest)[..40]))
}

/// The id of `user`'s personal calendar in `org`.
pub fn personal_id(org: &OrgId, user: &UserId) -> CalendarId {
    derived_id("p", &[org.as_str(), user.as_str()])
}

/// The id of `team`'s calendar.
pub fn team_calendar_id(team: &TeamId) -> CalendarId {
    derived_id("t", &[team.as_str()])
}

/// Who reads or writes, as the application layer checked them: an active member.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: UserId,
    pub name: String,
    pub admin: bool,
    /// Teams the member belongs to.
    pub teams: Vec<TeamId>,
}

/// The user id of [`Viewer::system`] (never a real user's: those are UUIDs).
const SYSTEM: &str = "system";

impl Viewer {
    /// The system (feeds, demo seeding): sees and edits every calendar.
    pub fn system() -> Self {
        Self {
            user: UserId::new(SYSTEM),
            name: "cflows".into(),
            admin: true,
            teams: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    None,
    View,
    Edit,
}

/// An event's editable fields (create, update, and the new part of a split series).
#[derive(Clone, Debug, Default)]
pub struct EventInput {
    pub title: String,
    pub description: String,
    pub location: String,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    /// IANA zone; empty for the organization's.
    pub zone: String,
    pub colour: String,
    pub invitees: Vec<UserId>,
    pub recurrence: Option<Recurrence>,
}

/// A change to one occurrence of a recurring event.
#[derive(Clone, Debug)]
pub enum OccurrenceChange {
    Cancel,
    Move { start: i64, end: i64 },
}

/// A shared calendar's editable fields.
#[derive(Clone, Debug)]
pub struct CalendarInput {
    pub name: String,
    pub colour: String,
    pub members: Vec<CalendarMember>,
}

/// Messages the `Calendar` handles, each with its viewer (access is checked per viewer;
/// tenancy before sending, by [`crate::kernel::Registry::call_in`]).
pub enum CalendarMsg {
    Snapshot {
        viewer: Viewer,
        reply: RpcReplyPort<CoreResult<CalendarSnapshot>>,
    },
    Head {
        viewer: Viewer,
        reply: RpcReplyPort<CoreResult<u64>>,
    },
    Occurrences {
        viewer: Viewer,
        from: i64,
        to: i64,
        reply: RpcReplyPort<CoreResult<Vec<Occurrence>>>,
    },
    Event {
        viewer: Viewer,
        id: String,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    CreateEvent {
        viewer: Viewer,
        input: EventInput,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    UpdateEvent {
        viewer: Viewer,
        id: String,
        input: EventInput,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    DeleteEvent {
        viewer: Viewer,
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    ChangeOccurrence {
        viewer: Viewer,
        id: String,
        occurrence: String,
        change: OccurrenceChange,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    /// "This and following": the series ends before `occurrence`; a new series with
    /// `input` starts there. Answers the new event.
    SplitSeries {
        viewer: Viewer,
        id: String,
        occurrence: String,
        input: EventInput,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    Rsvp {
        user: UserId,
        id: String,
        rsvp: Rsvp,
        reply: RpcReplyPort<CoreResult<EventView>>,
    },
    Update {
        viewer: Viewer,
        input: CalendarInput,
        reply: RpcReplyPort<CoreResult<CalendarView>>,
    },
    /// Deletes the calendar with its events and feed (see
    /// [`crate::domain::permissions::check_calendar_deletion`]).
    Delete {
        viewer: Viewer,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// A new secret feed token (replacing the old one), or revokes the feed.
    Feed {
        viewer: Viewer,
        revoke: bool,
        reply: RpcReplyPort<CoreResult<Option<String>>>,
    },
}

/// One calendar, hot; hosted by the kernel.
pub struct Calendar {
    org: OrgId,
    view: CalendarView,
    events: BTreeMap<String, EventView>,
    /// The organization's zone, for events created without one.
    org_zone: String,
    journal: Journal,
    /// Deleted: every later message answers `NotFound` while the host stops it.
    deleted: bool,
}

impl Entity for Calendar {
    type Id = CalendarId;
    type Msg = CalendarMsg;
    const KIND: &'static str = "calendar";

    fn decides(msg: &CalendarMsg) -> bool {
        !matches!(
            msg,
            CalendarMsg::Snapshot { .. }
                | CalendarMsg::Head { .. }
                | CalendarMsg::Occurrences { .. }
                | CalendarMsg::Event { .. }
                | CalendarMsg::Feed { .. }
        )
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Calendar(id) => Some(id.clone()),
            _ => None,
        }
    }
    const SCOPE_TABLE: Option<&'static str> = Some("calendar");

    async fn load(kernel: &Kernel, id: &CalendarId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Calendar(id.clone())).await?;
        let record = store
            .calendar(id.as_str())
            .await?
            .ok_or(CoreError::NotFound)?;
        let org_zone = store
            .org(&record.org)
            .await?
            .map_or_else(|| "UTC".to_string(), |o| o.timezone);
        let events = store
            .events_of_calendar(id.as_str())
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), EventView::from(e)))
            .collect();
        let journal = journal.in_org(&OrgId::new(record.org.clone()));
        Ok(Self {
            org: OrgId::new(record.org.clone()),
            view: record.into(),
            events,
            org_zone,
            journal,
            deleted: false,
        })
    }

    async fn handle(&mut self, kernel: &Kernel, msg: CalendarMsg) {
        match msg {
            CalendarMsg::Snapshot { viewer, reply } => {
                let r = self.allow(&viewer, Access::View).map(|()| self.snapshot());
                let _ = reply.send(r);
            }
            CalendarMsg::Head { viewer, reply } => {
                let r = self
                    .allow(&viewer, Access::View)
                    .map(|()| self.journal.seq());
                let _ = reply.send(r);
            }
            CalendarMsg::Occurrences {
                viewer,
                from,
                to,
                reply,
            } => {
                let r = self
                    .allow(&viewer, Access::View)
                    .and_then(|()| self.occurrences(from, to));
                let _ = reply.send(r);
            }
            CalendarMsg::Event { viewer, id, reply } => {
                let _ = reply.send(self.readable_event(&viewer, &id));
            }
            CalendarMsg::CreateEvent {
                viewer,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_create(kernel, &viewer, input).await);
            }
            CalendarMsg::UpdateEvent {
                viewer,
                id,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_update(kernel, &viewer, &id, input).await);
            }
            CalendarMsg::DeleteEvent { viewer, id, reply } => {
                let _ = reply.send(self.on_delete(&viewer, &id).await);
            }
            CalendarMsg::ChangeOccurrence {
                viewer,
                id,
                occurrence,
                change,
                reply,
            } => {
                let r = self
                    .on_change_occurrence(&viewer, &id, &occurrence, change)
                    .await;
                let _ = reply.send(r);
            }
            CalendarMsg::SplitSeries {
                viewer,
                id,
                occurrence,
                input,
                reply,
            } => {
                let r = self
                    .on_split(kernel, &viewer, &id, &occurrence, input)
                    .await;
                let _ = reply.send(r);
            }
            CalendarMsg::Rsvp {
                user,
                id,
                rsvp,
                reply,
            } => {
                let _ = reply.send(self.on_rsvp(&user, &id, rsvp).await);
            }
            CalendarMsg::Update {
                viewer,
                input,
                reply,
            } => {
                let _ = reply.send(self.on_update_calendar(&viewer, input).await);
            }
            CalendarMsg::Delete { viewer, reply } => {
                let _ = reply.send(self.on_delete_calendar(&viewer).await);
            }
            CalendarMsg::Feed {
                viewer,
                revoke,
                reply,
            } => {
                let _ = reply.send(self.on_feed(&viewer, revoke).await);
            }
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }

    fn gone(&self) -> bool {
        self.deleted
    }

    fn scope(&self) -> Option<&OrgId> {
        Some(&self.org)
    }
}

/// Every occurrence of `e` overlapping `[from, to)`, exceptions applied.
pub fn event_occurrences(e: &EventView, from: i64, to: i64) -> CoreResult<Vec<Occurrence>> {
    let base =
        |start: i64, end: i64, occurrence: Option<String>, title: &str, changed: bool| Occurrence {
            event: e.id.clone(),
            calendar: e.calendar.clone(),
            title: title.to_string(),
            location: e.location.clone(),
            start,
            end,
            all_day: e.all_day,
            zone: e.zone.clone(),
            colour: e.colour.clone(),
            occurrence,
            changed,
        };
    let Some(rule) = &e.recurrence else {
        return Ok(if e.start < to && e.end > from {
            vec![base(e.start, e.end, None, &e.title, false)]
        } else {
            Vec::new()
        });
    };
    let (tz, dtstart, len) = recurrence::shape(e)?;
    let exceptions: BTreeMap<&str, &OccurrenceException> = e
        .exceptions
        .iter()
        .map(|x| (x.occurrence.as_str(), x))
        .collect();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for x in recurrence::expand(
        rule,
        tz,
        dtstart,
        len,
        time::from_ms(from)?,
        time::from_ms(to)?,
    )? {
        let name = x.local.format(OCCURRENCE_FORMAT).to_string();
        seen.insert(name.clone());
        match exceptions.get(name.as_str()) {
            Some(ex) if ex.cancelled => {}
            Some(ex) => {
                let (s, en) = (
                    ex.start.unwrap_or(x.start.timestamp_millis()),
                    ex.end.unwrap_or(x.end.timestamp_millis()),
                );
                if s < to && en > from {
                    let title = ex.title.as_deref().unwrap_or(&e.title);
                    out.push(base(s, en, Some(name), title, true));
                }
            }
            None => out.push(base(
                x.start.timestamp_millis(),
                x.end.timestamp_millis(),
                Some(name),
                &e.title,
                false,
            )),
        }
    }
    // Occurrences moved into the window from outside it.
    for ex in &e.exceptions {
        if ex.cancelled || seen.contains(&ex.occurrence) {
            continue;
        }
        if let (Some(s), Some(en)) = (ex.start, ex.end)
            && s < to
            && en > from
        {
            let title = ex.title.as_deref().unwrap_or(&e.title);
            out.push(base(s, en, Some(ex.occurrence.clone()), title, true));
        }
    }
    out.sort_by_key(|o| (o.start, o.end));
    Ok(out)
}

impl Calendar {
    fn access(&self, v: &Viewer) -> Access {
        if self.deleted {
            return Access::None;
        }
        if v.user.as_str() == SYSTEM {
            return Access::Edit;
        }
        match self.view.kind {
            CalendarKind::Personal => {
                if self.view.owner.as_ref() == Some(&v.user) {
                    Access::Edit
                } else {
                    Access::None
                }
            }
            CalendarKind::Team => {
                if v.admin || self.view.team.as_ref().is_some_and(|t| v.teams.contains(t)) {
                    Access::Edit
                } else {
                    Access::None
                }
            }
            CalendarKind::Shared => {
                if v.admin || self.view.owner.as_ref() == Some(&v.user) {
                    return Access::Edit;
                }
                match self.view.members.iter().find(|m| m.user == v.user) {
                    Some(m) if m.can_edit => Access::Edit,
                    Some(_) => Access::View,
                    None => Access::None,
                }
            }
        }
    }

    /// No access: `NotFound` (like a missing calendar); view-only asked to edit:
    /// `Forbidden`.
    fn allow(&self, v: &Viewer, need: Access) -> CoreResult<()> {
        match self.access(v) {
            Access::None => Err(CoreError::NotFound),
            a if a >= need => Ok(()),
            _ => Err(CoreError::Forbidden(
                "you may view this calendar but not change it".into(),
            )),
        }
    }

    /// An event the viewer may read: on a calendar they see, or one they are invited to.
    fn readable_event(&self, v: &Viewer, id: &str) -> CoreResult<EventView> {
        let e = self.events.get(id).ok_or(CoreError::NotFound)?;
        if self.access(v) >= Access::View || e.invitees.iter().any(|i| i.user == v.user) {
            Ok(e.clone())
        } else {
            Err(CoreError::NotFound)
        }
    }

    fn snapshot(&self) -> CalendarSnapshot {
        CalendarSnapshot {
            calendar: self.view.clone(),
            events: self.events.values().cloned().collect(),
            seq: self.journal.seq(),
        }
    }

    /// Occurrences of every event overlapping `[from, to)`.
    fn occurrences(&self, from: i64, to: i64) -> CoreResult<Vec<Occurrence>> {
        check_range(from, to)?;
        let mut out = Vec::new();
        for e in self.events.values() {
            out.extend(event_occurrences(e, from, to)?);
            if out.len() > recurrence::MAX_OCCURRENCES {
                return Err(CoreError::invalid(
                    "too many occurrences in that range; ask for a shorter one",
                ));
            }
        }
        out.sort_by_key(|o| (o.start, o.end));
        Ok(out)
    }

    async fn commit(
        &mut self,
        write: Write,
        events: Vec<CalendarEvent>,
        by: &UserId,
    ) -> CoreResult<()> {
        self.journal
            .commit(
                write,
                events.into_iter().map(StreamEvent::Calendar).collect(),
                Some(by),
            )
            .await
    }

    /// Checks and normalizes an event's fields; keeps answers of invitees who stay.
    fn clean(
        &self,
        id: String,
        input: EventInput,
        previous: Option<&EventView>,
        by: &UserId,
    ) -> CoreResult<EventView> {
        let title = validate::name("Title", &input.title)?;
        let description = validate::long_text("Description", &input.description)?;
        let location = validate::long_text("Location", &input.location)?;
        let zone_name = if input.zone.trim().is_empty() {
            self.org_zone.clone()
        } else {
            input.zone.trim().to_string()
        };
        let tz = time::zone(&zone_name)?;
        let colour = if input.colour.trim().is_empty() {
            String::new()
        } else {
            validate::colour(&input.colour)?
        };
        let (mut start, mut end) = (input.start, input.end);
        time::from_ms(start)?;
        time::from_ms(end)?;
        if input.all_day {
            // Whole local days: from the start's date to the date of the last instant.
            let first = time::local(tz, time::from_ms(start)?).date();
            let last = time::local(tz, time::from_ms(end.max(start + 1) - 1)?).date();
            start = time::resolve(tz, first.and_time(chrono::NaiveTime::MIN)).timestamp_millis();
            end = time::resolve(
                tz,
                (last + Duration::days(1)).and_time(chrono::NaiveTime::MIN),
            )
            .timestamp_millis();
        }
        if end <= start {
            return Err(CoreError::invalid("an event must end after it starts"));
        }
        if end - start > 366 * 24 * 3_600_000 {
            return Err(CoreError::invalid("an event lasts at most a year"));
        }
        if let Some(r) = &input.recurrence {
            recurrence::validate(r)?;
        }
        if input.invitees.len() > MAX_INVITEES {
            return Err(CoreError::invalid(format!(
                "at most {MAX_INVITEES} invitees"
            )));
        }
        let mut invitees: Vec<Invitee> = Vec::new();
        for user in input.invitees {
            if invitees.iter().any(|i| i.user == user) {
                continue;
            }
            let rsvp = previous
                .and_then(|p| p.invitees.iter().find(|i| i.user == user))
                .map_or(Rsvp::Pending, |i| i.rsvp);
            invitees.push(Invitee { user, rsvp });
        }
        let now = now_ms();
        Ok(EventView {
            id,
            calendar: self.view.id.clone(),
            title,
            description,
            location,
            start,
            end,
            all_day: input.all_day,
            zone: zone_name,
            colour,
            invitees,
            recurrence: input.recurrence,
            exceptions: previous.map(|p| p.exceptions.clone()).unwrap_or_default(),
            created_by: previous.map_or_else(|| by.clone(), |p| p.created_by.clone()),
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
        })
    }

    async fn on_create(
        &mut self,
        kernel: &Kernel,
        v: &Viewer,
        input: EventInput,
    ) -> CoreResult<EventView> {
        self.allow(v, Access::Edit)?;
        if self.events.len() >= MAX_EVENTS {
            return Err(CoreError::Conflict("this calendar is full".into()));
        }
        let event = self.clean(new_id(), input, None, &v.user)?;
        self.commit(
            writes::put_event(self.org.as_str(), &event),
            vec![CalendarEvent::EventCreated {
                event: event.clone(),
            }],
            &v.user,
        )
        .await?;
        self.events.insert(event.id.clone(), event.clone());
        invite(kernel, &self.org, v, &event, &[]);
        Ok(event)
    }

    async fn on_update(
        &mut self,
        kernel: &Kernel,
        v: &Viewer,
        id: &str,
        input: EventInput,
    ) -> CoreResult<EventView> {
        self.allow(v, Access::Edit)?;
        let previous = self.events.get(id).cloned().ok_or(CoreError::NotFound)?;
        let mut event = self.clean(id.to_string(), input, Some(&previous), &v.user)?;
        // A new series shape invalidates exceptions named by the old occurrences.
        if event.recurrence != previous.recurrence
            || local_start(&event)? != local_start(&previous)?
        {
            event.exceptions.clear();
        }
        self.commit(
            writes::put_event(self.org.as_str(), &event),
            vec![CalendarEvent::EventChanged {
                event: event.clone(),
            }],
            &v.user,
        )
        .await?;
        self.events.insert(event.id.clone(), event.clone());
        let before: Vec<UserId> = previous.invitees.iter().map(|i| i.user.clone()).collect();
        invite(kernel, &self.org, v, &event, &before);
        Ok(event)
    }

    async fn on_delete(&mut self, v: &Viewer, id: &str) -> CoreResult<()> {
        self.allow(v, Access::Edit)?;
        if !self.events.contains_key(id) {
            return Err(CoreError::NotFound);
        }
        self.commit(
            writes::delete_event(id),
            vec![CalendarEvent::EventDeleted { id: id.to_string() }],
            &v.user,
        )
        .await?;
        self.events.remove(id);
        Ok(())
    }

    /// The named occurrence of a recurring event must exist (by its original start).
    fn check_occurrence(e: &EventView, occurrence: &str) -> CoreResult<NaiveDateTime> {
        let rule = e
            .recurrence
            .as_ref()
            .ok_or_else(|| CoreError::invalid("this event does not repeat"))?;
        let local = recurrence::parse_occurrence(occurrence)?;
        let (_, dtstart, _) = recurrence::shape(e)?;
        let found = recurrence::local_occurrences(
            rule,
            dtstart,
            local - Duration::minutes(1),
            local + Duration::minutes(1),
        )?;
        if found.contains(&local) {
            Ok(local)
        } else {
            Err(CoreError::NotFound)
        }
    }

    async fn on_change_occurrence(
        &mut self,
        v: &Viewer,
        id: &str,
        occurrence: &str,
        change: OccurrenceChange,
    ) -> CoreResult<EventView> {
        self.allow(v, Access::Edit)?;
        let mut event = self.events.get(id).cloned().ok_or(CoreError::NotFound)?;
        Self::check_occurrence(&event, occurrence)?;
        let mut ex = event
            .exceptions
            .iter()
            .find(|x| x.occurrence == occurrence)
            .cloned()
            .unwrap_or(OccurrenceException {
                occurrence: occurrence.to_string(),
                cancelled: false,
                start: None,
                end: None,
                title: None,
            });
        match change {
            OccurrenceChange::Cancel => ex.cancelled = true,
            OccurrenceChange::Move { start, end } => {
                time::from_ms(start)?;
                time::from_ms(end)?;
                if end <= start {
                    return Err(CoreError::invalid("an occurrence must end after it starts"));
                }
                ex.cancelled = false;
                ex.start = Some(start);
                ex.end = Some(end);
            }
        }
        event.exceptions.retain(|x| x.occurrence != occurrence);
        if event.exceptions.len() >= MAX_EXCEPTIONS {
            return Err(CoreError::invalid(
                "too many changed occurrences in this series",
            ));
        }
        event.exceptions.push(ex);
        event
            .exceptions
            .sort_by(|a, b| a.occurrence.cmp(&b.occurrence));
        event.updated_at = now_ms();
        self.commit(
            writes::put_event(self.org.as_str(), &event),
            vec![CalendarEvent::EventChanged {
                event: event.clone(),
            }],
            &v.user,
        )
        .await?;
        self.events.insert(event.id.clone(), event.clone());
        Ok(event)
    }

    async fn on_split(
        &mut self,
        kernel: &Kernel,
        v: &Viewer,
        id: &str,
        occurrence: &str,
        input: EventInput,
    ) -> CoreResult<EventView> {
        self.allow(v, Access::Edit)?;
        let old = self.events.get(id).cloned().ok_or(CoreError::NotFound)?;
        let at = Self::check_occurrence(&old, occurrence)?;
        let rule = old.recurrence.clone().expect("checked: it repeats");
        let (_, dtstart, _) = recurrence::shape(&old)?;
        if at == dtstart {
            // Splitting at the first occurrence is editing the whole series.
            return self.on_update(kernel, v, id, input).await;
        }
        let before =
            recurrence::local_occurrences(&rule, dtstart, dtstart, at - Duration::seconds(1))?;
        let mut truncated = old.clone();
        let mut new_rule = input.recurrence.clone();
        truncated.recurrence = Some(match rule.count {
            Some(count) => {
                let done = before.len() as u32;
                if let Some(r) = new_rule.as_mut()
                    && r.count.is_some()
                    && r.until.is_none()
                {
                    r.count = Some(count.saturating_sub(done).max(1));
                }
                Recurrence {
                    count: Some(done.max(1)),
                    ..rule.clone()
                }
            }
            None => Recurrence {
                until: Some((at.date() - Duration::days(1)).to_string()),
                ..rule.clone()
            },
        });
        truncated
            .exceptions
            .retain(|x| recurrence::parse_occurrence(&x.occurrence).is_ok_and(|t| t < at));
        truncated.updated_at = now_ms();
        let new = self.clean(
            new_id(),
            EventInput {
                recurrence: new_rule,
                ..input
            },
            None,
            &v.user,
        )?;
        self.commit(
            writes::put_event(self.org.as_str(), &truncated).and(writes::put_event_as(
                self.org.as_str(),
                &new,
                "_new",
            )),
            vec![
                CalendarEvent::EventChanged {
                    event: truncated.clone(),
                },
                CalendarEvent::EventCreated { event: new.clone() },
            ],
            &v.user,
        )
        .await?;
        self.events.insert(truncated.id.clone(), truncated);
        self.events.insert(new.id.clone(), new.clone());
        invite(kernel, &self.org, v, &new, &[]);
        Ok(new)
    }

    async fn on_rsvp(&mut self, user: &UserId, id: &str, rsvp: Rsvp) -> CoreResult<EventView> {
        let mut event = self.events.get(id).cloned().ok_or(CoreError::NotFound)?;
        let Some(me) = event.invitees.iter_mut().find(|i| &i.user == user) else {
            return Err(CoreError::NotFound);
        };
        if rsvp == Rsvp::Pending {
            return Err(CoreError::invalid("answer accepted, declined or tentative"));
        }
        if me.rsvp == rsvp {
            return Ok(event);
        }
        me.rsvp = rsvp;
        event.updated_at = now_ms();
        self.commit(
            writes::put_event(self.org.as_str(), &event),
            vec![CalendarEvent::EventChanged {
                event: event.clone(),
            }],
            user,
        )
        .await?;
        self.events.insert(event.id.clone(), event.clone());
        Ok(event)
    }

    async fn on_update_calendar(
        &mut self,
        v: &Viewer,
        input: CalendarInput,
    ) -> CoreResult<CalendarView> {
        self.allow(v, Access::Edit)?;
        let mut next = self.view.clone();
        next.colour = validate::colour(&input.colour)?;
        if self.view.kind == CalendarKind::Shared {
            next.name = validate::name("Calendar name", &input.name)?;
            if input.members.len() > MAX_MEMBERS {
                return Err(CoreError::invalid(format!("at most {MAX_MEMBERS} members")));
            }
            let mut members: Vec<CalendarMember> = Vec::new();
            for m in input.members {
                if !members.iter().any(|x| x.user == m.user) {
                    members.push(m);
                }
            }
            next.members = members;
        } else if input.name.trim() != self.view.name {
            return Err(CoreError::invalid(
                "only shared calendars can be renamed or shared",
            ));
        }
        self.commit(
            writes::update_calendar(self.org.as_str(), &next),
            vec![CalendarEvent::CalendarChanged {
                calendar: next.clone(),
            }],
            &v.user,
        )
        .await?;
        self.view = next.clone();
        Ok(next)
    }

    async fn on_delete_calendar(&mut self, v: &Viewer) -> CoreResult<()> {
        self.allow(v, Access::View)?;
        let owner = self.view.owner.as_ref() == Some(&v.user);
        permissions::check_calendar_deletion(self.view.kind, owner, v.admin).map_err(
            |refused| match refused {
                CalendarDeletionRefused::BelongsElsewhere(why) => CoreError::Conflict(why),
                CalendarDeletionRefused::NotAllowed(why) => CoreError::Forbidden(why),
            },
        )?;
        self.commit(
            writes::delete_calendar(self.view.id.as_str()),
            vec![CalendarEvent::CalendarDeleted {
                id: self.view.id.clone(),
            }],
            &v.user,
        )
        .await?;
        self.deleted = true;
        self.events.clear();
        Ok(())
    }

    async fn on_feed(&mut self, v: &Viewer, revoke: bool) -> CoreResult<Option<String>> {
        self.allow(v, Access::Edit)?;
        let target = self.view.id.to_string();
        crate::feeds::issue(
            &mut self.journal,
            &self.org,
            crate::feeds::FeedTarget::Calendar,
            &target,
            &v.user,
            revoke,
        )
        .await
    }
}

fn local_start(e: &EventView) -> CoreResult<NaiveDateTime> {
    Ok(recurrence::shape(e)?.1)
}

fn check_range(from: i64, to: i64) -> CoreResult<()> {
    if to <= from {
        return Err(CoreError::invalid("`to` must be after `from`"));
    }
    if to - from > MAX_RANGE_MS {
        return Err(CoreError::invalid("a range spans at most 400 days"));
    }
    time::from_ms(from)?;
    time::from_ms(to)?;
    Ok(())
}

/// Tells newly invited members (not in `before`, not the inviter) about the event.
fn invite(kernel: &Kernel, org: &OrgId, by: &Viewer, event: &EventView, before: &[UserId]) {
    let notice = Notice::new(
        org,
        Some(Author::new(&by.user, &by.name)),
        Change::EventInvited {
            calendar: event.calendar.clone(),
            event: event.id.clone(),
            title: event.title.clone(),
            when: when(event),
        },
    )
    .to(event
        .invitees
        .iter()
        .map(|i| i.user.clone())
        .filter(|u| !before.contains(u) && *u != by.user));
    notices::send(kernel, &notice, "event invitation");
}

fn when(e: &EventView) -> String {
    let Ok(tz) = time::zone(&e.zone) else {
        return String::new();
    };
    let Some(start) = DateTime::from_timestamp_millis(e.start) else {
        return String::new();
    };
    let local = start.with_timezone(&tz);
    if e.all_day {
        local.format("%a %-d %b %Y").to_string()
    } else {
        format!("{} ({})", local.format("%a %-d %b %Y %H:%M"), e.zone)
    }
}

/// Creates a calendar and its stream's first row in one transaction. Personal and team
/// calendars have derived ids, so creating one twice answers `Conflict`.
///
/// # Errors
/// `Conflict` when it exists; a store error.
pub async fn create(
    kernel: &Kernel,
    org: &OrgId,
    view: &CalendarView,
    by: Option<&UserId>,
) -> CoreResult<()> {
    let stream = StreamName::Calendar(view.id.clone());
    let rows = crate::kernel::journal::rows(
        &stream,
        0,
        &[StreamEvent::Calendar(CalendarEvent::CalendarCreated {
            calendar: view.clone(),
        })],
        by,
        Some(org),
    );
    match kernel
        .store()
        .commit(writes::create_calendar(org.as_str(), view), &rows)
        .await
    {
        Ok(()) => Ok(()),
        Err(crate::store::StoreError::Duplicate(_)) => {
            Err(CoreError::Conflict("that calendar already exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A typed handle on one calendar for one viewer of one organization.
#[derive(Clone)]
pub struct CalendarHandle {
    kernel: Kernel,
    org: OrgId,
    id: CalendarId,
    viewer: Viewer,
}

macro_rules! cal_call {
    ($self:ident, $variant:ident { $($field:ident $(: $value:expr)?),* }) => {
        $self
            .kernel
            .calendars()
            .call_in(&$self.kernel, &$self.org, &$self.id, |reply| CalendarMsg::$variant {
                viewer: $self.viewer.clone(),
                $($field $(: $value)?,)*
                reply,
            })
            .await?
    };
}

impl CalendarHandle {
    /// A handle (nothing is checked until the first call).
    pub fn new(kernel: &Kernel, org: &OrgId, id: &CalendarId, viewer: Viewer) -> Self {
        Self {
            kernel: kernel.clone(),
            org: org.clone(),
            id: id.clone(),
            viewer,
        }
    }

    /// The calendar's id.
    pub fn id(&self) -> &CalendarId {
        &self.id
    }

    /// The calendar and its events.
    ///
    /// # Errors
    /// `NotFound` for an unknown, foreign or hidden calendar.
    pub async fn snapshot(&self) -> CoreResult<CalendarSnapshot> {
        cal_call!(self, Snapshot {})
    }

    /// The last position of `calendar:{id}`.
    ///
    /// # Errors
    /// As [`CalendarHandle::snapshot`].
    pub async fn head(&self) -> CoreResult<u64> {
        cal_call!(self, Head {})
    }

    /// Expanded occurrences over `[from, to)` (at most 400 days).
    ///
    /// # Errors
    /// `InvalidInput` for a bad range; as [`CalendarHandle::snapshot`].
    pub async fn occurrences(&self, from: i64, to: i64) -> CoreResult<Vec<Occurrence>> {
        cal_call!(self, Occurrences { from, to })
    }

    /// One event (also for its invitees).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn event(&self, id: String) -> CoreResult<EventView> {
        cal_call!(self, Event { id })
    }

    /// A new event.
    ///
    /// # Errors
    /// `InvalidInput`, `Forbidden`, `NotFound`.
    pub async fn create_event(&self, input: EventInput) -> CoreResult<EventView> {
        cal_call!(self, CreateEvent { input })
    }

    /// Replaces an event's fields (the whole series).
    ///
    /// # Errors
    /// As [`CalendarHandle::create_event`].
    pub async fn update_event(&self, id: String, input: EventInput) -> CoreResult<EventView> {
        cal_call!(self, UpdateEvent { id, input })
    }

    /// Deletes an event (the whole series).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn delete_event(&self, id: String) -> CoreResult<()> {
        cal_call!(self, DeleteEvent { id })
    }

    /// Moves or cancels one occurrence of a recurring event.
    ///
    /// # Errors
    /// `NotFound` for an occurrence the rule does not yield; as above.
    pub async fn change_occurrence(
        &self,
        id: String,
        occurrence: String,
        change: OccurrenceChange,
    ) -> CoreResult<EventView> {
        cal_call!(
            self,
            ChangeOccurrence {
                id,
                occurrence,
                change
            }
        )
    }

    /// Edits "this and following": answers the new series.
    ///
    /// # Errors
    /// As [`CalendarHandle::change_occurrence`].
    pub async fn split_series(
        &self,
        id: String,
        occurrence: String,
        input: EventInput,
    ) -> CoreResult<EventView> {
        cal_call!(
            self,
            SplitSeries {
                id,
                occurrence,
                input
            }
        )
    }

    /// The viewer answers an invitation.
    ///
    /// # Errors
    /// `NotFound` when not invited.
    pub async fn rsvp(&self, id: String, rsvp: Rsvp) -> CoreResult<EventView> {
        self.kernel
            .calendars()
            .call_in(&self.kernel, &self.org, &self.id, |reply| {
                CalendarMsg::Rsvp {
                    user: self.viewer.user.clone(),
                    id,
                    rsvp,
                    reply,
                }
            })
            .await?
    }

    /// Renames, recolours or re-shares the calendar.
    ///
    /// # Errors
    /// `InvalidInput`, `Forbidden`.
    pub async fn update(&self, input: CalendarInput) -> CoreResult<CalendarView> {
        cal_call!(self, Update { input })
    }

    /// Deletes the calendar, its events and its feed.
    ///
    /// # Errors
    /// `NotFound` when the viewer cannot see it; `Conflict` for a personal or team
    /// calendar; `Forbidden` for someone neither its owner nor an admin.
    pub async fn delete(&self) -> CoreResult<()> {
        cal_call!(self, Delete {})
    }

    /// A new feed token (the old one stops working), or `None` after revoking.
    ///
    /// # Errors
    /// `Forbidden` for view-only members.
    pub async fn feed(&self, revoke: bool) -> CoreResult<Option<String>> {
        cal_call!(self, Feed { revoke })
    }
}

#[cfg(test)]
mod tests;
