//! Calendar mail: the people assigned to a confirmed booking and the invitees of an
//! event get an iTIP invitation (RFC 5546 `REQUEST`, with the zone's `VTIMEZONE`) when it
//! is confirmed or changed, and a `CANCEL` when it is cancelled or they are taken off it,
//! so Outlook, Gmail and Apple Calendar keep it in their calendars.
//!
//! Derived from the journal by a consumer with a durable cursor (DESIGN, outbox): every
//! node reads the booking and event rows after the shared cursor (less a window, as
//! commit order is not `at` order) and, per person and booking or event, compares
//! with the ledger of what that person was last sent. A mail and its ledger entry are
//! written in one transaction guarded by the entry's position and with an outbox id made
//! from the row, so a row read twice, by one node or two, mails once; a node killed
//! before it wrote leaves the cursor behind and the next round (on any node) does it.

use crate::AppState;
use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::{Letter, compose};
use cflows_actors::domain::ics::{self, Cancelled, Entry, Party};
use cflows_actors::kernel::decode_journal;
use cflows_actors::org::OrgHandle;
use cflows_actors::store::{CALENDAR_MAIL_KINDS, CalendarMailRecord, FeedRow, OutgoingMail};
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    BookingState, BookingView, CalendarEvent, EventView, OrgId, OrgView, StreamName, TeamEvent,
    UserId,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// The shared cursor's name.
const CURSOR: &str = "calendar_mail";
/// How far behind the cursor each round reads again: a transaction's rows carry the
/// time it began, and it may become visible later than rows written after it.
const WINDOW_SECS: i64 = 30;
/// Rows read a round, at most (more: the next round goes on from the last one read).
const BATCH: u32 = 2000;
/// Bookings and events that ended longer ago than this get no mail.
const PAST_MS: i64 = 3_600_000;

/// Follows the journal for calendar mail, on this node, until the core stops.
pub async fn run(state: AppState) {
    if !state.mailer.enabled() {
        return;
    }
    let stopped = state.core.kernel.stopped();
    let mut catching_up: Option<DateTime<Utc>> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = stopped.cancelled() => return,
        }
        match round(&state, catching_up).await {
            Ok(next) => catching_up = next,
            Err(e) => tracing::warn!(error = %e, "calendar mail: a round failed"),
        }
    }
}

/// One round; `Some(at)` when it read a full batch (the next round starts at `at`).
async fn round(
    state: &AppState,
    catching_up: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let store = state.core.directory.store();
    let window = chrono::Duration::seconds(WINDOW_SECS);
    let since = match (catching_up, store.journal_cursor(CURSOR).await?) {
        (Some(at), _) => at,
        (None, Some(at)) => at - window,
        // Mail was just switched on: nothing before now is mailed.
        (None, None) => store.server_now().await? - window,
    };
    let (now, mut rows) = store
        .journal_of_kinds(since, &CALENDAR_MAIL_KINDS, BATCH)
        .await?;
    let full = rows.len() == BATCH as usize;
    // Catching up: the next round starts just before the last row read (rows sharing
    // its time are read again; the ledger makes that harmless).
    let reached = if full {
        rows.last()
            .map_or(now, |r| r.at - chrono::Duration::milliseconds(1))
    } else {
        now
    };
    rows.sort_by(|a, b| (a.stream.as_str(), a.seq).cmp(&(b.stream.as_str(), b.seq)));
    let mut orgs = Orgs::default();
    let mut done = Done::default();
    for row in &rows {
        on_row(state, &mut orgs, row, &mut done).await?;
    }
    if done.queued {
        state.mailer.wake();
    }
    // A decision another node recorded first: that node moves the cursor; this one
    // keeps its place, so nothing it lost the race on is passed over unseen.
    if done.raced {
        return Ok(catching_up);
    }
    store.set_journal_cursor(CURSOR, reached).await?;
    Ok(full.then_some(reached))
}

/// What a round did.
#[derive(Default)]
struct Done {
    /// Queued a mail.
    queued: bool,
    /// Found a decision recorded by another node meanwhile.
    raced: bool,
}

/// The organizations a round needs, each read once (`None`: deleted).
#[derive(Default)]
struct Orgs(HashMap<String, Option<(OrgHandle, OrgView)>>);

impl Orgs {
    async fn get(
        &mut self,
        state: &AppState,
        org: &str,
    ) -> Result<Option<(OrgHandle, OrgView)>, AppError> {
        if let Some(known) = self.0.get(org) {
            return Ok(known.clone());
        }
        let found = match state.core.directory.org(&OrgId::new(org.to_string())).await {
            Ok(handle) => {
                let view = handle.settings().await?;
                Some((handle, view))
            }
            Err(cflows_actors::CoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        self.0.insert(org.to_string(), found.clone());
        Ok(found)
    }
}

/// What a row says about one booking or event: who should hold its invitation now
/// (with how each stands), and what the invitation says.
struct Wanted {
    uid: String,
    people: BTreeMap<String, &'static str>,
    digest: String,
    thing: Thing,
}

enum Thing {
    Booking {
        booking: BookingView,
        team: String,
    },
    Event(EventView),
    /// Deleted (or its calendar): everyone holding its invitation gets the
    /// cancellation.
    Gone,
}

fn digest(parts: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(parts).unwrap_or_default();
    hex::encode(&Sha256::digest(json.as_bytes())[..16])
}

/// Mails what row `row` changes for whom.
async fn on_row(
    state: &AppState,
    orgs: &mut Orgs,
    row: &FeedRow,
    done: &mut Done,
) -> Result<(), AppError> {
    let Ok(stream) = StreamName::parse(&row.stream) else {
        return Ok(());
    };
    let Some(org_id) = row.org.clone() else {
        return Ok(());
    };
    let Ok(event) = decode_journal(stream.kind(), &row.payload) else {
        tracing::warn!(stream = %row.stream, seq = row.seq, "calendar mail: a row does not parse");
        return Ok(());
    };
    let Some((org, view)) = orgs.get(state, &org_id).await? else {
        return Ok(());
    };
    let now = Utc::now().timestamp_millis();
    let mut all = Vec::new();
    match event {
        StreamEvent::Team(
            TeamEvent::BookingCreated { booking }
            | TeamEvent::BookingConfirmed { booking }
            | TeamEvent::BookingChanged { booking }
            | TeamEvent::BookingCancelled { booking },
        ) => {
            // Past bookings mail nobody (an edit afterwards is not news); held ones
            // are nobody's yet, done ones stay in people's calendars.
            let people = match booking.state {
                _ if booking.end < now - PAST_MS => return Ok(()),
                BookingState::Confirmed => booking
                    .assigned
                    .iter()
                    .map(|u| (u.to_string(), "ACCEPTED;RSVP=FALSE"))
                    .collect(),
                BookingState::Cancelled => BTreeMap::new(),
                _ => return Ok(()),
            };
            let team = org
                .team(booking.team.clone())
                .await?
                .map_or_else(String::new, |t| t.name);
            all.push(Wanted {
                uid: booking.id.clone(),
                digest: digest(&(
                    booking.start,
                    booking.end,
                    &booking.title,
                    &booking.team,
                    &booking.assigned,
                )),
                people,
                thing: Thing::Booking { booking, team },
            });
        }
        StreamEvent::Calendar(
            CalendarEvent::EventCreated { event } | CalendarEvent::EventChanged { event },
        ) => {
            if event.recurrence.is_none() && event.end < now - PAST_MS {
                return Ok(());
            }
            let people = event
                .invitees
                .iter()
                .map(|i| (i.user.to_string(), ics::partstat(i.rsvp)))
                .collect();
            let invitees: Vec<&UserId> = event.invitees.iter().map(|i| &i.user).collect();
            all.push(Wanted {
                uid: event.id.clone(),
                digest: digest(&(
                    &event.title,
                    &event.description,
                    &event.location,
                    event.start,
                    event.end,
                    event.all_day,
                    &event.zone,
                    &event.recurrence,
                    &event.exceptions,
                    invitees,
                )),
                people,
                thing: Thing::Event(event),
            });
        }
        StreamEvent::Calendar(CalendarEvent::EventDeleted { id }) => all.push(gone(id)),
        StreamEvent::Calendar(CalendarEvent::CalendarDeleted { .. }) => {
            let store = state.core.directory.store();
            let uids: BTreeSet<String> = store
                .calendar_mail_of_stream(&row.stream)
                .await?
                .into_iter()
                .map(|r| r.uid)
                .collect();
            all.extend(uids.into_iter().map(gone));
        }
        _ => return Ok(()),
    }
    for wanted in &all {
        decide(state, &org, &view, row, wanted, done).await?;
    }
    Ok(())
}

fn gone(uid: String) -> Wanted {
    Wanted {
        uid,
        people: BTreeMap::new(),
        digest: String::new(),
        thing: Thing::Gone,
    }
}

/// Compares `wanted` with the ledger, person by person, and records and mails the
/// difference.
async fn decide(
    state: &AppState,
    org: &OrgHandle,
    view: &OrgView,
    row: &FeedRow,
    wanted: &Wanted,
    done: &mut Done,
) -> Result<(), AppError> {
    let store = state.core.directory.store();
    let ledger: HashMap<String, CalendarMailRecord> = store
        .calendar_mail_of(&wanted.uid)
        .await?
        .into_iter()
        .map(|r| (r.user.clone(), r))
        .collect();
    // The active members among the people wanted (a deactivated one is taken off).
    let mut people: Vec<(UserId, cflows_protocol::MemberView, &'static str)> = Vec::new();
    for (user, stat) in &wanted.people {
        let id = UserId::new(user.clone());
        if let Some(m) = org.member(id.clone()).await?.filter(|m| m.active) {
            people.push((id, m, stat));
        }
    }
    let attendees: Vec<(Party<'_>, &str)> = people
        .iter()
        .map(|(_, m, stat)| {
            (
                Party {
                    name: &m.user.display_name,
                    email: &m.user.email,
                },
                *stat,
            )
        })
        .collect();
    let everyone: BTreeSet<&str> = wanted
        .people
        .keys()
        .chain(ledger.keys())
        .map(String::as_str)
        .collect();
    let now = Utc::now().timestamp_millis();
    for user in everyone {
        let before = ledger.get(user);
        if before.is_some_and(|b| b.seq >= row.seq) {
            // A later row (or this one) was already decided for this person.
            continue;
        }
        let holds = before.is_some_and(|b| b.invited);
        let member = people.iter().find(|(id, _, _)| id.as_str() == user);
        let method = match (member.is_some(), holds) {
            (true, _) if before.is_some_and(|b| b.invited && b.digest == wanted.digest) => None,
            (true, _) => Some(Method::Request { update: holds }),
            // A cancellation of something long over is not news either.
            (false, true) if before.is_some_and(|b| !b.recurring && b.end < now - PAST_MS) => None,
            (false, true) => Some(Method::Cancel),
            (false, false) => None,
        };
        let Some(method) = method else {
            continue;
        };
        let (name, email, zone) = match member {
            Some((_, m, _)) => (
                m.user.display_name.clone(),
                m.user.email.clone(),
                m.profile.timezone.clone(),
            ),
            None => {
                let Some(u) = state
                    .core
                    .directory
                    .user(&UserId::new(user.to_string()))
                    .await?
                else {
                    continue;
                };
                (u.display_name, u.email, String::new())
            }
        };
        let recipient = Party {
            name: &name,
            email: &email,
        };
        let entry = ledger_entry(row, wanted, user, &method, before, &view.timezone);
        let letter = Mail {
            org: view,
            clock: Clock::new(view, &zone),
            to: &recipient,
            wanted,
            method: &method,
            entry: &entry,
            attendees: &attendees,
            sequence: row.seq,
        };
        let mail = letter.render(state);
        let id = format!(
            "cal{}",
            digest(&(&wanted.uid, user, row.seq, method.name()))
        );
        if store
            .record_calendar_mail(&entry, before.map(|b| b.seq), Some((&id, &mail)), now)
            .await?
        {
            metrics::counter!("cflows_calendar_mail_total", "method" => method.name()).increment(1);
            done.queued = true;
        } else {
            done.raced = true;
        }
    }
    Ok(())
}

enum Method {
    /// An invitation; `update`: the person holds an earlier one.
    Request {
        update: bool,
    },
    Cancel,
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Self::Request { .. } => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

/// The ledger entry after this decision: what a later cancellation needs is kept from
/// the last invitation.
fn ledger_entry(
    row: &FeedRow,
    wanted: &Wanted,
    user: &str,
    method: &Method,
    before: Option<&CalendarMailRecord>,
    org_zone: &str,
) -> CalendarMailRecord {
    let (title, start, end, all_day, zone, recurring) = match &wanted.thing {
        Thing::Booking { booking, .. } => (
            booking.title.clone(),
            booking.start,
            booking.end,
            false,
            org_zone.to_string(),
            false,
        ),
        Thing::Event(e) => (
            e.title.clone(),
            e.start,
            e.end,
            e.all_day,
            e.zone.clone(),
            e.recurrence.is_some(),
        ),
        Thing::Gone => before.map_or_else(
            || (String::new(), 0, 0, false, org_zone.to_string(), false),
            |b| {
                let b = b.clone();
                (b.title, b.start, b.end, b.all_day, b.zone, b.recurring)
            },
        ),
    };
    CalendarMailRecord {
        id: digest(&(&wanted.uid, user)),
        uid: wanted.uid.clone(),
        user: user.to_string(),
        stream: row.stream.clone(),
        seq: row.seq,
        invited: matches!(method, Method::Request { .. }),
        digest: wanted.digest.clone(),
        org: row.org.clone().unwrap_or_default(),
        title,
        start,
        end,
        all_day,
        zone,
        recurring,
    }
}

/// A calendar mail to one person, before it is rendered.
struct Mail<'a> {
    org: &'a OrgView,
    /// The recipient's zone and the organization's clock.
    clock: Clock,
    to: &'a Party<'a>,
    wanted: &'a Wanted,
    method: &'a Method,
    entry: &'a CalendarMailRecord,
    /// Everyone on the invitation (every copy lists them all).
    attendees: &'a [(Party<'a>, &'a str)],
    sequence: u64,
}

impl Mail<'_> {
    /// When, for people: a timed one in the recipient's zone; an all-day one as its
    /// dates, which are the same everywhere.
    fn when(&self) -> String {
        let e = self.entry;
        if e.all_day {
            let own = Clock::new(self.org, &e.zone);
            let last = e.end - 1;
            if own.day(e.start) == own.day(last) {
                own.day(e.start)
            } else {
                format!("{} – {}", own.day(e.start), own.day(last))
            }
        } else {
            format!(
                "{} ({})",
                self.clock.span(e.start, e.end),
                self.clock.zone()
            )
        }
    }

    /// The words in the recipient's zone and clock, the iCalendar object in the
    /// booking's or event's own zone.
    fn render(&self, state: &AppState) -> OutgoingMail {
        let (org, entry, to) = (self.org, self.entry, self.to);
        let base = state.settings.http.public_url();
        let from = state.mailer.from_address().unwrap_or_default();
        let organizer = Party {
            name: &org.name,
            email: &from,
        };
        let tz: chrono_tz::Tz = entry.zone.parse().unwrap_or(chrono_tz::UTC);
        let when = self.when();
        let calendar = format!("{base}/calendar");
        let (subject, said, link, ics) = match (&self.wanted.thing, self.method) {
            (Thing::Booking { booking, team }, Method::Request { update }) => {
                let link = booking
                    .work_item
                    .as_ref()
                    .map_or_else(|| calendar.clone(), |item| format!("{base}/items/{item}"));
                let by = booking.booked_by_name.trim();
                let (subject, said) = if *update {
                    (
                        format!("Changed: {}, {when}", booking.title),
                        format!(
                            "A booking you are on has changed: {} with {team} is now on {when}.",
                            booking.title
                        ),
                    )
                } else if by.is_empty() || by == to.name {
                    (
                        format!("Booked for you: {}, {when}", booking.title),
                        format!("{} with {team} is booked for you on {when}.", booking.title),
                    )
                } else {
                    (
                        format!("Booked for you: {}, {when}", booking.title),
                        format!(
                            "{by} booked you for {} with {team} on {when}.",
                            booking.title
                        ),
                    )
                };
                let ics = ics::request(
                    &Entry::Booking(booking, team, tz),
                    self.sequence,
                    &organizer,
                    self.attendees,
                );
                (subject, said, link, ics)
            }
            (Thing::Event(e), Method::Request { update }) => {
                let place = if e.location.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", e.location)
                };
                let (on, repeats) = if e.recurrence.is_some() {
                    ("from", " (it repeats; the invitation holds every date)")
                } else {
                    ("on", "")
                };
                let (subject, said) = if *update {
                    (
                        format!("Updated invitation: {}, {when}", e.title),
                        format!(
                            "{} has changed: it is now {on} {when}{place}{repeats}.",
                            e.title
                        ),
                    )
                } else {
                    (
                        format!("Invitation: {}, {when}", e.title),
                        format!(
                            "You are invited to {} {on} {when}{place}{repeats}.",
                            e.title
                        ),
                    )
                };
                let ics = ics::request(&Entry::Event(e), self.sequence, &organizer, self.attendees);
                (subject, said, calendar, ics)
            }
            // Nobody is invited to a deleted event: its rows only cancel.
            (_, Method::Cancel) | (Thing::Gone, Method::Request { .. }) => {
                let (subject, said) = match &self.wanted.thing {
                    Thing::Gone => (
                        format!("Cancelled: {}, {when}", entry.title),
                        format!("{} on {when} was deleted.", entry.title),
                    ),
                    Thing::Booking { booking, .. } if booking.state == BookingState::Cancelled => (
                        format!("Cancelled: {}, {when}", entry.title),
                        format!("{} on {when} was cancelled.", entry.title),
                    ),
                    _ => (
                        format!("Taken off: {}, {when}", entry.title),
                        format!(
                            "You are no longer on {} on {when}; it goes on without you.",
                            entry.title
                        ),
                    ),
                };
                let cancelled = Cancelled {
                    id: &self.wanted.uid,
                    title: &entry.title,
                    start: entry.start,
                    end: entry.end,
                    all_day: entry.all_day,
                    tz,
                };
                let only = [(
                    Party {
                        name: to.name,
                        email: to.email,
                    },
                    "NEEDS-ACTION",
                )];
                let ics = ics::cancel(&cancelled, self.sequence, &organizer, &only);
                (subject, said, calendar, ics)
            }
        };
        let letter = Letter {
            sender: &org.name,
            subject,
            paragraphs: vec![
                format!("Hello {},", to.name),
                said,
                "The calendar invitation in this mail keeps it in your own calendar (Outlook, Gmail, Apple Calendar).".into(),
            ],
            action: Some(("Open the calendar".into(), link)),
            footer: format!(
                "You get this because you are on this booking or event in {} on cflows.",
                org.name
            ),
        };
        let mut mail = compose("calendar", Some(org.id.as_str()), to.email, &letter, false);
        mail.ics_method = Some(self.method.name().to_string());
        mail.ics = Some(ics);
        mail
    }
}
