use super::*;
use crate::domain::ics;
use crate::testing::{memory_store, org_with_owner};
use crate::{Caller, Core};
use cflows_protocol::{Frequency, NotificationKind, Role};
use chrono::TimeZone;

struct World {
    core: Core,
    org: OrgId,
    owner: Viewer,
    cal: CalendarHandle,
}

async fn world() -> World {
    let core = Core::start(memory_store().await).await.unwrap();
    let (org, owner) = org_with_owner(&core).await;
    let id = personal_id(&org.id, &owner.id);
    let view = CalendarView {
        id: id.clone(),
        kind: CalendarKind::Personal,
        name: "Olive".into(),
        colour: "#336699".into(),
        owner: Some(owner.id.clone()),
        team: None,
        members: vec![],
    };
    create(&core.kernel, &org.id, &view, Some(&owner.id))
        .await
        .unwrap();
    assert!(matches!(
        create(&core.kernel, &org.id, &view, Some(&owner.id)).await,
        Err(CoreError::Conflict(_))
    ));
    let viewer = Viewer {
        user: owner.id.clone(),
        name: "Olive".into(),
        admin: true,
        teams: vec![],
    };
    let cal = CalendarHandle::new(&core.kernel, &org.id, &id, viewer.clone());
    World {
        core,
        org: org.id,
        owner: viewer,
        cal,
    }
}

fn at(zone: &str, local: &str) -> i64 {
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    time::resolve(
        tz,
        NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap(),
    )
    .timestamp_millis()
}

fn local(zone: &str, ms: i64) -> String {
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&tz)
        .format("%m-%d %H:%M")
        .to_string()
}

fn weekly_mondays(count: u32) -> Recurrence {
    Recurrence {
        freq: Frequency::Weekly,
        interval: 1,
        by_day: vec![1],
        by_month_day: vec![],
        count: Some(count),
        until: None,
    }
}

fn meeting(zone: &str, start: &str, end: &str, recurrence: Option<Recurrence>) -> EventInput {
    EventInput {
        title: "Workshop meeting".into(),
        start: at(zone, start),
        end: at(zone, end),
        zone: zone.into(),
        recurrence,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_weekly_meeting_with_exceptions_and_a_split() {
    let w = world().await;
    let z = "Europe/Stockholm";
    let e = w
        .cal
        .create_event(meeting(
            z,
            "2026-03-16 09:00",
            "2026-03-16 10:00",
            Some(weekly_mondays(6)),
        ))
        .await
        .unwrap();
    let all = |occ: &[Occurrence]| occ.iter().map(|o| local(z, o.start)).collect::<Vec<_>>();
    let (from, to) = (at(z, "2026-03-01 00:00"), at(z, "2026-05-01 00:00"));
    assert_eq!(
        all(&w.cal.occurrences(from, to).await.unwrap()),
        vec![
            "03-16 09:00",
            "03-23 09:00",
            "03-30 09:00",
            "04-06 09:00",
            "04-13 09:00",
            "04-20 09:00"
        ],
        "09:00 local before and after the change on 29 March"
    );
    // Cancel one, move one (to Tuesday 14:00).
    w.cal
        .change_occurrence(
            e.id.clone(),
            "2026-03-23T09:00".into(),
            OccurrenceChange::Cancel,
        )
        .await
        .unwrap();
    let moved_start = at(z, "2026-03-31 14:00");
    w.cal
        .change_occurrence(
            e.id.clone(),
            "2026-03-30T09:00".into(),
            OccurrenceChange::Move {
                start: moved_start,
                end: moved_start + 3_600_000,
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(
            w.cal
                .change_occurrence(
                    e.id.clone(),
                    "2026-03-24T09:00".into(),
                    OccurrenceChange::Cancel
                )
                .await,
            Err(CoreError::NotFound)
        ),
        "not an occurrence of the rule"
    );
    let occ = w.cal.occurrences(from, to).await.unwrap();
    assert_eq!(
        all(&occ),
        vec![
            "03-16 09:00",
            "03-31 14:00",
            "04-06 09:00",
            "04-13 09:00",
            "04-20 09:00"
        ]
    );
    assert!(occ[1].changed);
    assert_eq!(occ[1].occurrence.as_deref(), Some("2026-03-30T09:00"));

    // This and following from 13 April: at 10:00 instead.
    let new = w
        .cal
        .split_series(
            e.id.clone(),
            "2026-04-13T09:00".into(),
            meeting(
                z,
                "2026-04-13 10:00",
                "2026-04-13 11:00",
                Some(weekly_mondays(6)),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        new.recurrence.as_ref().unwrap().count,
        Some(2),
        "what was left of six"
    );
    assert_eq!(
        all(&w.cal.occurrences(from, to).await.unwrap()),
        vec![
            "03-16 09:00",
            "03-31 14:00",
            "04-06 09:00",
            "04-13 10:00",
            "04-20 10:00"
        ]
    );
    let old = w.cal.event(e.id.clone()).await.unwrap();
    assert_eq!(old.recurrence.unwrap().count, Some(4));
    // The journal: created, two changes, split (changed + created).
    let kinds: Vec<String> = w
        .core
        .kernel
        .store()
        .journal(&StreamName::Calendar(w.cal.id().clone()), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "calendar_created",
            "event_created",
            "event_changed",
            "event_changed",
            "event_changed",
            "event_created"
        ]
    );
}

#[tokio::test]
async fn invitations_answers_and_privacy() {
    let w = world().await;
    let org = w.core.directory.org(&w.org).await.unwrap();
    let mia = org
        .create_member(
            Caller::System,
            crate::directory::NewUser {
                email: "mia@example.com".into(),
                display_name: "Mia".into(),
                password_hash: "x".into(),
                platform_operator: false,
            },
            Role::Member,
        )
        .await
        .unwrap()
        .user;
    let mut input = meeting("UTC", "2030-01-07 09:00", "2030-01-07 10:00", None);
    input.invitees = vec![mia.id.clone(), mia.id.clone()];
    let e = w.cal.create_event(input).await.unwrap();
    assert_eq!(e.invitees.len(), 1);
    assert_eq!(e.invitees[0].rsvp, Rsvp::Pending);
    let mia_viewer = Viewer {
        user: mia.id.clone(),
        name: "Mia".into(),
        admin: false,
        teams: vec![],
    };
    let as_mia = CalendarHandle::new(&w.core.kernel, &w.org, w.cal.id(), mia_viewer);
    // Mia cannot see Olive's personal calendar, but can read and answer her invitation.
    assert!(matches!(as_mia.snapshot().await, Err(CoreError::NotFound)));
    assert_eq!(as_mia.event(e.id.clone()).await.unwrap().id, e.id);
    let answered = as_mia.rsvp(e.id.clone(), Rsvp::Accepted).await.unwrap();
    assert_eq!(answered.invitees[0].rsvp, Rsvp::Accepted);
    assert!(as_mia.delete_event(e.id.clone()).await.is_err());
    // The invitation reached her inbox.
    let inbox = crate::inbox::InboxHandle::get(&w.core.kernel, &mia.id)
        .await
        .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..100 {
        kinds = inbox
            .list(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.kind)
            .collect();
        if !kinds.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(kinds, vec![NotificationKind::EventInvite]);
    // Another organization sees nothing.
    let other = CalendarHandle::new(
        &w.core.kernel,
        &OrgId::new("other"),
        w.cal.id(),
        w.owner.clone(),
    );
    assert!(matches!(other.snapshot().await, Err(CoreError::NotFound)));
    // Bad input is refused.
    let bad = EventInput {
        title: String::new(),
        ..meeting("UTC", "2030-01-07 09:00", "2030-01-07 10:00", None)
    };
    assert!(matches!(
        w.cal.create_event(bad).await,
        Err(CoreError::InvalidInput(_))
    ));
    let backwards = meeting("UTC", "2030-01-07 10:00", "2030-01-07 09:00", None);
    assert!(matches!(
        w.cal.create_event(backwards).await,
        Err(CoreError::InvalidInput(_))
    ));
    let bad_zone = EventInput {
        zone: "Mars/Olympus".into(),
        ..meeting("UTC", "2030-01-07 09:00", "2030-01-07 10:00", None)
    };
    assert!(matches!(
        w.cal.create_event(bad_zone).await,
        Err(CoreError::InvalidInput(_))
    ));
}

/// What an independent parser (Python `icalendar` + `recurring-ical-events`) makes of
/// a feed: `[uid, start, end, zone, summary]` per occurrence in `[from, to)`.
fn parsed_by_python(
    feed: &str,
    from: i64,
    to: i64,
) -> Vec<(String, String, String, String, String)> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import sys, json, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(sys.stdin.read())
utc = datetime.timezone.utc
a = datetime.datetime.fromtimestamp(int(sys.argv[1]) / 1000, utc)
b = datetime.datetime.fromtimestamp(int(sys.argv[2]) / 1000, utc)
def show(v):
    if isinstance(v, datetime.datetime):
        return v.astimezone(utc).strftime("%Y-%m-%dT%H:%MZ")
    return v.isoformat()
out = []
for ev in recurring_ical_events.of(cal).between(a, b):
    s, e = ev["DTSTART"].dt, ev["DTEND"].dt
    zone = getattr(getattr(s, "tzinfo", None), "key", None) or str(ev["DTSTART"].params.get("TZID", "date"))
    out.append([str(ev["UID"]), show(s), show(e), zone, str(ev["SUMMARY"])])
print(json.dumps(sorted(out)))
"#;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(from.to_string())
        .arg(to.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CI installs icalendar and recurring-ical-events)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Python parser failed (pip install icalendar recurring-ical-events): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn feeds_parse_back_with_the_same_occurrences_zones_and_exceptions() {
    let w = world().await;
    // Weekly 09:00 in Stockholm across spring, one cancelled, one moved.
    let sto = w
        .cal
        .create_event(meeting(
            "Europe/Stockholm",
            "2026-03-16 09:00",
            "2026-03-16 10:00",
            Some(weekly_mondays(8)),
        ))
        .await
        .unwrap();
    w.cal
        .change_occurrence(
            sto.id.clone(),
            "2026-03-30T09:00".into(),
            OccurrenceChange::Cancel,
        )
        .await
        .unwrap();
    let moved = at("Europe/Stockholm", "2026-04-07 15:30");
    w.cal
        .change_occurrence(
            sto.id.clone(),
            "2026-04-06T09:00".into(),
            OccurrenceChange::Move {
                start: moved,
                end: moved + 1_800_000,
            },
        )
        .await
        .unwrap();
    // Daily 08:30 in New York over the autumn change, until a date.
    let daily_until = Recurrence {
        freq: Frequency::Daily,
        interval: 1,
        by_day: vec![],
        by_month_day: vec![],
        count: None,
        until: Some("2026-11-04".into()),
    };
    w.cal
        .create_event(meeting(
            "America/New_York",
            "2026-10-29 08:30",
            "2026-10-29 09:15",
            Some(daily_until),
        ))
        .await
        .unwrap();
    // Daily at midnight in Santiago over the September change (00:00 does not exist).
    let daily5 = Recurrence {
        freq: Frequency::Daily,
        interval: 1,
        by_day: vec![],
        by_month_day: vec![],
        count: Some(5),
        until: None,
    };
    w.cal
        .create_event(meeting(
            "America/Santiago",
            "2026-09-04 00:00",
            "2026-09-04 01:00",
            Some(daily5),
        ))
        .await
        .unwrap();
    // An all-day event and a plain one with text that needs escaping.
    let mut all_day = meeting(
        "Europe/Stockholm",
        "2026-06-19 00:00",
        "2026-06-20 00:00",
        None,
    );
    all_day.all_day = true;
    all_day.title = "Midsummer; closed, all day".into();
    w.cal.create_event(all_day).await.unwrap();

    let snap = w.cal.snapshot().await.unwrap();
    let refs: Vec<ics::Entry<'_>> = snap.events.iter().map(ics::Entry::Event).collect();
    let feed = ics::feed("Olive", &refs);
    assert!(feed.contains("BEGIN:VTIMEZONE\r\nTZID:America/Santiago"));

    let (from, to) = (at("UTC", "2026-01-01 00:00"), at("UTC", "2027-01-01 00:00"));
    let ours: Vec<(String, String, String, String, String)> = {
        let mut v: Vec<_> = w
            .cal
            .occurrences(from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|o| {
                let e = snap.events.iter().find(|e| e.id == o.event).unwrap();
                let show = |ms: i64| {
                    let t = DateTime::from_timestamp_millis(ms).unwrap();
                    if o.all_day {
                        let tz: chrono_tz::Tz = e.zone.parse().unwrap();
                        t.with_timezone(&tz).format("%Y-%m-%d").to_string()
                    } else {
                        t.format("%Y-%m-%dT%H:%MZ").to_string()
                    }
                };
                let zone = if o.all_day {
                    "date".to_string()
                } else {
                    e.zone.clone()
                };
                (
                    format!("{}@cflows", o.event),
                    show(o.start),
                    show(o.end),
                    zone,
                    o.title,
                )
            })
            .collect();
        v.sort();
        v
    };
    let theirs = parsed_by_python(&feed, from, to);
    assert_eq!(theirs, ours, "feed:\n{feed}");
    assert_eq!(
        ours.len(),
        7 + 7 + 5 + 1,
        "8 Mondays minus one; 7 days; 5 days; 1 all-day"
    );
    // Santiago's 6 September occurrence: 01:00 local (the rule moves it past the gap).
    let tz: chrono_tz::Tz = "America/Santiago".parse().unwrap();
    let sep6 = tz
        .with_ymd_and_hms(2026, 9, 6, 1, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        ours.iter()
            .any(|o| o.1 == sep6.format("%Y-%m-%dT%H:%MZ").to_string())
    );
}
