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
    let mut queued = false;
    for row in &rows {
        queued |= on_row(state, &mut orgs, row).await?;
    }
    if queued {
        state.mailer.wake();
    }
    store.set_journal_cursor(CURSOR, reached).await?;
    Ok(full.then_some(reached))
}

/// The organizations a round needs, each read once.
#[derive(Default)]
struct Orgs(HashMap<String, Option<(OrgHandle, OrgView)>>);

impl Orgs {
    async fn get(&mut self, state: &AppState, org: &str) -> Option<(OrgHandle, OrgView)> {
        if let Some(known) = self.0.get(org) {
            return known.clone();
        }
        let found = async {
            let handle = state
                .core
                .directory
                .org(&OrgId::new(org.to_string()))
                .await
                .ok()?;
            let view = handle.settings().await.ok()?;
            Some((handle, view))
        }
        .await;
        self.0.insert(org.to_string(), found.clone());
        found
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
    /// Deleted: everyone holding its invitation gets the cancellation.
    Gone,
}

fn digest(parts: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(parts).unwrap_or_default();
    hex::encode(&Sha256::digest(json.as_bytes())[..16])
}

/// Mails what row `row` changes for whom; `true` when something was queued.
async fn on_row(state: &AppState, orgs: &mut Orgs, row: &FeedRow) -> Result<bool, AppError> {
    let Ok(stream) = StreamName::parse(&row.stream) else {
        return Ok(false);
    };
    let Some(org_id) = row.org.clone() else {
        return Ok(false);
    };
    let Ok(event) = decode_journal(stream.kind(), &row.payload) else {
        tracing::warn!(stream = %row.stream, seq = row.seq, "calendar mail: a row does not parse");
        return Ok(false);
    };
    let Some((org, view)) = orgs.get(state, &org_id).await else {
        return Ok(false);
    };
    let now = Utc::now().timestamp_millis();
    let wanted = match event {
        StreamEvent::Team(
            TeamEvent::BookingCreated { booking }
            | TeamEvent::BookingConfirmed { booking }
            | TeamEvent::BookingChanged { booking }
            | TeamEvent::BookingCancelled { booking },
        ) => {
            let team = org
                .team(booking.team.clone())
                .await
                .ok()
                .flatten()
                .map_or_else(String::new, |t| t.name);
            let people = if booking.state == BookingState::Confirmed && booking.end > now - PAST_MS
            {
                booking
                    .assigned
                    .iter()
                    .map(|u| (u.to_string(), "ACCEPTED"))
                    .collect()
            } else {
                BTreeMap::new()
            };
            Wanted {
                uid: booking.id.clone(),
                digest: digest(&(
                    booking.start,
                    booking.end,
                    &booking.title,
                    &team,
                    &booking.assigned,
                )),
                people,
                thing: Thing::Booking { booking, team },
            }
        }
        StreamEvent::Calendar(
            CalendarEvent::EventCreated { event } | CalendarEvent::EventChanged { event },
        ) => {
            let current = event.recurrence.is_some() || event.end > now - PAST_MS;
            let people = if current {
                event
                    .invitees
                    .iter()
                    .map(|i| (i.user.to_string(), ics::partstat(i.rsvp)))
                    .collect()
            } else {
                BTreeMap::new()
            };
            let invitees: Vec<&UserId> = event.invitees.iter().map(|i| &i.user).collect();
            Wanted {
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
            }
        }
        StreamEvent::Calendar(CalendarEvent::EventDeleted { id }) => Wanted {
            uid: id,
            people: BTreeMap::new(),
            digest: String::new(),
            thing: Thing::Gone,
        },
        _ => return Ok(false),
    };
    decide(state, &org, &view, row, &wanted).await
}

/// Compares `wanted` with the ledger, person by person, and records and mails the
/// difference.
async fn decide(
    state: &AppState,
    org: &OrgHandle,
    view: &OrgView,
    row: &FeedRow,
    wanted: &Wanted,
) -> Result<bool, AppError> {
    let store = state.core.directory.store();
    let ledger: HashMap<String, CalendarMailRecord> = store
        .calendar_mail_of(&wanted.uid)
        .await?
        .into_iter()
        .map(|r| (r.user.clone(), r))
        .collect();
    let everyone: BTreeSet<&String> = wanted.people.keys().chain(ledger.keys()).collect();
    let mut queued = false;
    for user in everyone {
        let before = ledger.get(user);
        if before.is_some_and(|b| b.seq >= row.seq) {
            // A later row (or this one) was already decided for this person.
            continue;
        }
        let holds = before.is_some_and(|b| b.invited);
        let method = match (wanted.people.contains_key(user), holds) {
            (true, _) if before.is_some_and(|b| b.invited && b.digest == wanted.digest) => None,
            (true, _) => Some(Method::Request { update: holds }),
            (false, true) => Some(Method::Cancel),
            (false, false) => None,
        };
        let Some(method) = method else {
            continue;
        };
        let Some(person) = state
            .core
            .directory
            .user(&UserId::new(user.clone()))
            .await?
        else {
            continue;
        };
        let member = org.member(UserId::new(user.clone())).await.ok().flatten();
        let zone = member.as_ref().map_or("", |m| m.profile.timezone.as_str());
        let clock = Clock::new(view, zone);
        let recipient = Party {
            name: &person.display_name,
            email: &person.email,
        };
        let names = attendees(state, wanted).await?;
        let entry = ledger_entry(row, wanted, user, &method, before, &view.timezone);
        let mail = letter(
            state, view, &clock, &recipient, wanted, &method, &entry, &names, row.seq,
        );
        let id = format!(
            "cal{}",
            digest(&(&wanted.uid, user, row.seq, method.name()))
        );
        let now = Utc::now().timestamp_millis();
        if store
            .record_calendar_mail(&entry, before.map(|b| b.seq), Some((&id, &mail)), now)
            .await?
        {
            metrics::counter!("cflows_calendar_mail_total", "method" => method.name()).increment(1);
            queued = true;
        }
    }
    Ok(queued)
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

/// The people on the invitation, as the `ATTENDEE`s every copy lists.
async fn attendees(
    state: &AppState,
    wanted: &Wanted,
) -> Result<Vec<(String, String, &'static str)>, AppError> {
    let mut out = Vec::new();
    for (user, stat) in &wanted.people {
        if let Some(u) = state
            .core
            .directory
            .user(&UserId::new(user.clone()))
            .await?
        {
            out.push((u.display_name, u.email, *stat));
        }
    }
    Ok(out)
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
    let (title, start, end, all_day, zone) = match &wanted.thing {
        Thing::Booking { booking, .. } => (
            booking.title.clone(),
            booking.start,
            booking.end,
            false,
            org_zone.to_string(),
        ),
        Thing::Event(e) => (e.title.clone(), e.start, e.end, e.all_day, e.zone.clone()),
        Thing::Gone => before.map_or_else(
            || (String::new(), 0, 0, false, org_zone.to_string()),
            |b| (b.title.clone(), b.start, b.end, b.all_day, b.zone.clone()),
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
    }
}

/// The mail: words in the recipient's zone and clock, the iCalendar object in the
/// booking's or event's own zone.
#[allow(clippy::too_many_arguments)]
fn letter(
    state: &AppState,
    org: &OrgView,
    clock: &Clock,
    to: &Party<'_>,
    wanted: &Wanted,
    method: &Method,
    entry: &CalendarMailRecord,
    names: &[(String, String, &'static str)],
    sequence: u64,
) -> OutgoingMail {
    let base = state.settings.http.public_url();
    let from = state.mailer.from_address().unwrap_or_default();
    let organizer = Party {
        name: &org.name,
        email: &from,
    };
    let people: Vec<(Party<'_>, &str)> = names
        .iter()
        .map(|(name, email, stat)| (Party { name, email }, *stat))
        .collect();
    let tz: chrono_tz::Tz = entry.zone.parse().unwrap_or(chrono_tz::UTC);
    let when = if entry.all_day {
        let last = entry.end - 1;
        if clock.day(entry.start) == clock.day(last) {
            clock.day(entry.start)
        } else {
            format!("{} – {}", clock.day(entry.start), clock.day(last))
        }
    } else {
        format!("{} ({})", clock.span(entry.start, entry.end), clock.zone())
    };
    let hello = format!("Hello {},", to.name);
    let (subject, said, link, ics) = match (&wanted.thing, method) {
        (Thing::Booking { booking, team }, Method::Request { update }) => {
            let link = booking.work_item.as_ref().map_or_else(
                || format!("{base}/calendar"),
                |item| format!("{base}/items/{item}"),
            );
            let (subject, said) = if *update {
                (
                    format!("Changed: {}, {when}", booking.title),
                    format!(
                        "A booking you are assigned to has changed. {} with {team} is now on {when}.",
                        booking.title
                    ),
                )
            } else {
                (
                    format!("Booked for you: {}, {when}", booking.title),
                    format!(
                        "{} booked you for {} with {team} on {when}.",
                        booking.booked_by_name, booking.title
                    ),
                )
            };
            let ics = ics::request(
                &Entry::Booking(booking, team, tz),
                sequence,
                &organizer,
                &people,
            );
            (subject, said, link, ics)
        }
        (Thing::Event(e), Method::Request { update }) => {
            let place = if e.location.is_empty() {
                String::new()
            } else {
                format!(" at {}", e.location)
            };
            let repeats = if e.recurrence.is_some() {
                " (it repeats; the invitation holds every date)"
            } else {
                ""
            };
            let (subject, said) = if *update {
                (
                    format!("Updated invitation: {}, {when}", e.title),
                    format!(
                        "{} has changed: it is now on {when}{place}{repeats}.",
                        e.title
                    ),
                )
            } else {
                (
                    format!("Invitation: {}, {when}", e.title),
                    format!("You are invited to {} on {when}{place}{repeats}.", e.title),
                )
            };
            let ics = ics::request(&Entry::Event(e), sequence, &organizer, &people);
            (subject, said, format!("{base}/calendar"), ics)
        }
        // Nobody is invited to a deleted event: its rows only cancel.
        (_, Method::Cancel) | (Thing::Gone, Method::Request { .. }) => {
            let said = match &wanted.thing {
                Thing::Gone => format!("{} on {when} was deleted.", entry.title),
                Thing::Booking { booking, .. } if booking.state == BookingState::Cancelled => {
                    format!("{} on {when} was cancelled.", entry.title)
                }
                _ => format!("You are no longer on {} on {when}.", entry.title),
            };
            let cancelled = Cancelled {
                id: &wanted.uid,
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
            let ics = ics::cancel(&cancelled, sequence, &organizer, &only);
            (
                format!("Cancelled: {}, {when}", entry.title),
                said,
                format!("{base}/calendar"),
                ics,
            )
        }
    };
    let letter = Letter {
        sender: &org.name,
        subject,
        paragraphs: vec![
            hello,
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
    mail.ics_method = Some(method.name().to_string());
    mail.ics = Some(ics);
    mail
}
