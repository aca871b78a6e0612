//! Booking reminders: a team may have the people assigned to its confirmed bookings
//! reminded by mail some hours before each starts (`TeamView::reminder_hours`).
//!
//! Every node looks every `mail.reminder_poll_secs` for bookings whose reminder has come
//! due and not passed (the booking has not started). Each reminder is an outbox row
//! whose id is made from the booking, the person and the booking's start, so it is
//! queued once however many nodes look, and a moved booking is reminded of again at its
//! new time. A booking made within its team's reminder time is reminded of at once.

use crate::AppState;
use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::{Letter, compose};
use cflows_protocol::{BookingState, BookingView, OrgId, UserId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// Looks for due reminders, on this node, until the core stops.
pub async fn run(state: AppState) {
    if !state.mailer.enabled() {
        return;
    }
    let every = Duration::from_secs(state.settings.mail.reminder_poll_secs.max(1));
    let stopped = state.core.kernel.stopped();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stopped.cancelled() => return,
        }
        if let Err(e) = round(&state).await {
            tracing::warn!(error = %e, "reminders: a round failed");
        }
    }
}

/// The outbox id of the reminder of `booking` starting at `start` for `user`.
fn reminder_id(booking: &str, user: &str, start: i64) -> String {
    let digest = Sha256::digest(format!("reminder|{booking}|{user}|{start}").as_bytes());
    format!("rem{}", hex::encode(&digest[..16]))
}

async fn round(state: &AppState) -> Result<(), AppError> {
    let store = state.core.directory.store();
    let now = chrono::Utc::now().timestamp_millis();
    let mut queued = false;
    for team in store.teams_with_reminders().await? {
        // One team's trouble (its organization not answering) holds up no other.
        match remind(state, &team, now).await {
            Ok(q) => queued |= q,
            Err(e) => tracing::warn!(team = %team.id, error = %e, "reminders: a team was skipped"),
        }
    }
    if queued {
        state.mailer.wake();
    }
    Ok(())
}

/// Queues the due reminders of `team`'s bookings; `true` when it queued one.
async fn remind(
    state: &AppState,
    team: &cflows_actors::store::TeamRecord,
    now: i64,
) -> Result<bool, AppError> {
    let store = state.core.directory.store();
    let mut queued = false;
    let Some(hours) = team.reminder_hours else {
        return Ok(false);
    };
    let lead = i64::from(hours) * 3_600_000;
    let due: Vec<BookingView> = store
        .bookings_between(&team.id, now, now + lead)
        .await?
        .into_iter()
        .map(BookingView::from)
        .filter(|b| b.state == BookingState::Confirmed && b.start > now && b.start <= now + lead)
        .collect();
    let wanted: Vec<(String, &BookingView, &UserId)> = due
        .iter()
        .flat_map(|b| {
            b.assigned
                .iter()
                .map(move |u| (reminder_id(&b.id, u.as_str(), b.start), b, u))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(false);
    }
    let ids: Vec<String> = wanted.iter().map(|(id, _, _)| id.clone()).collect();
    let sent = store.outbox_rows_existing(&ids).await?;
    let handle = state
        .core
        .directory
        .org(&OrgId::new(team.org.clone()))
        .await?;
    let org = handle.settings().await?;
    let mut people = HashMap::new();
    for (id, booking, user) in wanted {
        if sent.contains(&id) {
            continue;
        }
        let member = match people.get(user) {
            Some(m) => m,
            None => {
                let m = handle.member(user.clone()).await?;
                people.entry(user.clone()).or_insert(m)
            }
        };
        let Some(member) = member.as_ref().filter(|m| m.active) else {
            continue;
        };
        let clock = Clock::of(member, &org);
        let base = state.settings.http.public_url();
        let link = booking.work_item.as_ref().map_or_else(
            || format!("{base}/calendar"),
            |item| format!("{base}/items/{item}"),
        );
        let when = format!(
            "{} ({})",
            clock.span(booking.start, booking.end),
            clock.zone()
        );
        let letter = Letter {
            sender: &org.name,
            subject: format!("Reminder: {}, {when}", booking.title),
            paragraphs: vec![
                format!("Hello {},", member.user.display_name),
                format!(
                    "{} with {} starts {when}. You are booked for it.",
                    booking.title, team.name
                ),
            ],
            action: Some(("Open it".into(), link)),
            footer: format!(
                "{} reminds the people booked {} before a booking (a team setting in {}).",
                team.name,
                lead_words(hours),
                org.name
            ),
        };
        let mail = compose(
            "reminder",
            Some(org.id.as_str()),
            &member.user.email,
            &letter,
            false,
        );
        queued |= store.enqueue_mail_once(&id, &mail, now).await?;
    }
    Ok(queued)
}

/// "2 hours", "1 day", "1 week".
fn lead_words(hours: u32) -> String {
    match hours {
        1 => "1 hour".into(),
        168 => "1 week".into(),
        h if h % 24 == 0 && h / 24 == 1 => "1 day".into(),
        h if h % 24 == 0 => format!("{} days", h / 24),
        h => format!("{h} hours"),
    }
}
