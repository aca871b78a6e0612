//! Notifications by mail. Each person chooses, per kind of notification, how it reaches
//! them: in the app only, by mail at once, or in a daily digest at a local hour
//! (`/me/notifications`). "At once" waits `mail.notify_delay_secs` (a few minutes) and is
//! dropped if they read it in the app meanwhile; what gathered in that time goes out as
//! one mail. Every node looks; a notification is mailed once (the claim and the outbox
//! row are one transaction that fails if another node took it). Every mail carries a
//! one-click unsubscribe link (RFC 8058) for the kinds in it.

use crate::AppState;
use crate::mail::{Letter, compose};
use cflows_actors::store::{MailPrefRecord, NotificationRecord};
use cflows_protocol::NotificationKind;
use chrono::{TimeZone, Timelike};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a kind of notification reaches a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In the app only.
    App,
    /// By mail, a few minutes later unless read.
    Now,
    /// In the daily digest.
    Digest,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::App, Mode::Now, Mode::Digest];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::App => "app",
            Mode::Now => "now",
            Mode::Digest => "digest",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Its words on the preferences page.
    pub fn words(self) -> &'static str {
        match self {
            Mode::App => "In the app only",
            Mode::Now => "By mail at once",
            Mode::Digest => "In the daily digest",
        }
    }
}

/// What a person gets when they chose nothing: mail at once for what is addressed to
/// them personally, the digest for what goes on around them.
pub fn default_mode(kind: NotificationKind) -> Mode {
    match kind {
        NotificationKind::Comment
        | NotificationKind::ProjectUpdate
        | NotificationKind::WorkItemMoved => Mode::Digest,
        _ => Mode::Now,
    }
}

/// A kind's words on the preferences page.
pub fn kind_words(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::TaskAssigned => "A task is assigned to me",
        NotificationKind::Comment => "Comments on my tasks and vehicles",
        NotificationKind::Mention => "Someone mentions me",
        NotificationKind::ProjectUpdate => "News of my projects",
        NotificationKind::DirectMessage => "Messages to me",
        NotificationKind::EventInvite => "Invitations to calendar events",
        NotificationKind::BookingConfirmed => "My bookings are confirmed",
        NotificationKind::BookingCancelled => "My bookings are cancelled",
        NotificationKind::BookingHeld => "A slot I waited for is held for me",
        NotificationKind::WorkItemMoved => "Vehicles reach my team's step",
        NotificationKind::Invitation => "Invitations to organizations",
    }
}

/// `pref`'s mode for `kind`.
pub fn mode_of(pref: Option<&MailPrefRecord>, kind: NotificationKind) -> Mode {
    pref.and_then(|p| p.modes.get(kind.as_str()))
        .and_then(|m| Mode::parse(m))
        .unwrap_or_else(|| default_mode(kind))
}

/// A person's preferences, made (with a new unsubscribe secret) when they have none.
///
/// # Errors
/// A store failure.
pub async fn prefs_of(
    state: &AppState,
    user: &str,
    zone: &str,
) -> Result<MailPrefRecord, crate::error::AppError> {
    let store = state.core.directory.store();
    if let Some(p) = store.mail_pref(user).await? {
        return Ok(p);
    }
    let pref = MailPrefRecord {
        id: user.to_string(),
        modes: BTreeMap::new(),
        digest_hour: 7,
        zone: zone.to_string(),
        token: cflows_actors::directory::random_token(),
    };
    store.put_mail_pref(&pref).await?;
    Ok(pref)
}

/// Looks for notifications to mail, on this node, until the core stops.
pub async fn run(state: AppState) {
    if !state.mailer.enabled() {
        return;
    }
    let delay = Duration::from_secs(state.settings.mail.notify_delay_secs);
    let every = (delay / 2).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let stopped = state.core.kernel.stopped();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.cancelled() => return,
        }
        if let Err(e) = round(&state, delay).await {
            tracing::warn!(error = %e, "notification mail: a round failed");
        }
    }
}

async fn round(state: &AppState, delay: Duration) -> Result<(), crate::error::AppError> {
    let store = state.core.directory.store();
    let now = chrono::Utc::now().timestamp_millis();
    // Unread, not yet mailed, old enough to have been read at once, not older than two
    // days (nothing ancient is mailed).
    let due = store
        .unmailed_notifications(now - 2 * 86_400_000, now - delay.as_millis() as i64, 2000)
        .await?;
    let mut by_user: BTreeMap<String, Vec<NotificationRecord>> = BTreeMap::new();
    for n in due {
        by_user.entry(n.user.clone()).or_default().push(n);
    }
    for (user, notes) in by_user {
        // The organization is read only for what needs it: the zone of a person with no
        // preferences yet, and the sender's name of a mail that goes out.
        let pref = match store.mail_pref(&user).await? {
            Some(p) => p,
            None => {
                let zone = org_view(state, &notes[0].org)
                    .await
                    .map_or_else(|| "UTC".to_string(), |o| o.timezone);
                prefs_of(state, &user, &zone).await?
            }
        };
        let digest_now = digest_due(&pref, now);
        let (mut quiet, mut send) = (Vec::new(), Vec::new());
        for n in notes {
            match mode_of(Some(&pref), n.kind) {
                Mode::App => quiet.push(n.id),
                Mode::Now => send.push(n),
                Mode::Digest if digest_now => send.push(n),
                Mode::Digest => {}
            }
        }
        if !quiet.is_empty() {
            // Not to be mailed: settled, so they are not looked at again.
            store.mail_notifications(&quiet, None, now).await?;
        }
        if send.is_empty() {
            continue;
        }
        let Some(account) = state
            .core
            .directory
            .user(&cflows_protocol::UserId::new(user.clone()))
            .await?
        else {
            continue;
        };
        let sender = org_view(state, &send[0].org)
            .await
            .map_or_else(|| "cflows".to_string(), |o| o.name);
        let ids: Vec<String> = send.iter().map(|n| n.id.clone()).collect();
        let mail = letter_for(
            state,
            &account.email,
            &account.display_name,
            &sender,
            &pref,
            &send,
        );
        if store.mail_notifications(&ids, Some(&mail), now).await? {
            state.mailer.wake();
        }
    }
    Ok(())
}

/// The organization a notification is of (none when it is gone).
async fn org_view(state: &AppState, org: &str) -> Option<cflows_protocol::OrgView> {
    let handle = state
        .core
        .directory
        .org(&cflows_protocol::OrgId::new(org.to_string()))
        .await
        .ok()?;
    handle.settings().await.ok()
}

/// Whether it is the person's digest hour now (in their zone).
fn digest_due(pref: &MailPrefRecord, now: i64) -> bool {
    let zone: chrono_tz::Tz = pref.zone.parse().unwrap_or(chrono_tz::UTC);
    zone.timestamp_millis_opt(now)
        .single()
        .is_some_and(|t| i64::from(t.hour()) == pref.digest_hour)
}

fn letter_for(
    state: &AppState,
    to: &str,
    name: &str,
    sender: &str,
    pref: &MailPrefRecord,
    notes: &[NotificationRecord],
) -> cflows_actors::store::OutgoingMail {
    let base = state.settings.http.public_url();
    let subject = match notes {
        [one] => one.title.clone(),
        many => format!("{} new notifications", many.len()),
    };
    let mut paragraphs = vec![format!("Hello {name},")];
    for n in notes {
        let more = if n.count > 1 {
            format!(" ({} times)", n.count)
        } else {
            String::new()
        };
        let body = if n.body.is_empty() {
            String::new()
        } else {
            format!(": {}", n.body)
        };
        paragraphs.push(format!("• {}{more}{body} — {base}{}", n.title, n.link));
    }
    let mut kinds: Vec<&str> = notes.iter().map(|n| n.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let unsubscribe = format!(
        "{base}/unsubscribe/{}?kinds={}",
        pref.token,
        kinds.join(",")
    );
    let action = match notes {
        [one] => ("Open it".to_string(), format!("{base}{}", one.link)),
        _ => (
            "Open my notifications".to_string(),
            format!("{base}/notifications"),
        ),
    };
    let letter = Letter {
        sender,
        subject,
        paragraphs,
        action: Some(action),
        footer: format!(
            "You get these because of your notification settings ({base}/me/notifications). Stop mails like this one: {unsubscribe}"
        ),
    };
    let mut mail = compose("notification", Some(&notes[0].org), to, &letter, false);
    mail.unsubscribe = Some(unsubscribe);
    mail
}

/// One-click unsubscribe: `kinds` of the person holding `token` reach them in the app
/// only from now on. The kinds' words, or `None` for an unknown token.
///
/// # Errors
/// A store failure.
pub async fn unsubscribe(
    state: &AppState,
    token: &str,
    kinds: &str,
) -> Result<Option<Vec<&'static str>>, crate::error::AppError> {
    let store = state.core.directory.store();
    let Some(mut pref) = store.mail_pref_by_token(token).await? else {
        return Ok(None);
    };
    let mut words = Vec::new();
    for k in kinds.split(',') {
        if let Some(kind) = NotificationKind::ALL.iter().find(|x| x.as_str() == k) {
            pref.modes.insert(k.to_string(), Mode::App.as_str().into());
            words.push(kind_words(*kind));
        }
    }
    store.put_mail_pref(&pref).await?;
    Ok(Some(words))
}
