//! The "Today" start page: what a member has to do today — their bookings, their holds
//! that are running out (with a countdown), their tasks due, the vehicles over their
//! step's target, and unread notifications — each a link to where it is handled, times in
//! the member's zone and the organization's clock. It only reads: every change is made on
//! the page the link opens. `live.js` follows the streams these come from and redraws.

use super::boards::{elapsed, lateness};
use super::layout;
use super::notifications::link_of;
use crate::AppState;
use crate::auth::Member;
use crate::clock::Clock;
use crate::error::AppError;
use cflows_actors::project;
use cflows_protocol::{
    BookingState, BookingView, CardView, NotificationView, OrgSnapshot, StreamName, TaskView,
    WorkflowView,
};
use maud::{Markup, html};
use serde::Serialize;
use std::collections::HashMap;

/// How many unread notifications the page lists (the rest are one link away).
const UNREAD_SHOWN: usize = 5;

/// Holds that run out within this long are "running out" (ms); later ones are counted.
const HOLD_SOON_MS: i64 = 2 * 3_600_000;

/// Everything the page shows, read once per request.
pub struct Today {
    clock: Clock,
    now: i64,
    first_name: String,
    date: String,
    /// Today's bookings the member is assigned to or booked, by start.
    bookings: Vec<BookingView>,
    /// The member's holds that run out within [`HOLD_SOON_MS`], soonest first.
    holds: Vec<BookingView>,
    /// The member's other holds (running out later).
    later_holds: usize,
    /// Open tasks due today or earlier, earliest first.
    tasks: Vec<TaskView>,
    /// (workflow, card) past their step's target, longest over first.
    late: Vec<(WorkflowView, CardView)>,
    unread: Vec<NotificationView>,
    unread_total: u32,
    teams: HashMap<String, String>,
    job_types: HashMap<String, String>,
    projects: HashMap<String, String>,
    /// The streams the page follows.
    streams: Vec<String>,
    admin: bool,
}

/// Reads what `m` has to do today.
///
/// # Errors
/// An actor or the store failed.
pub async fn gather(state: &AppState, m: &Member) -> Result<Today, AppError> {
    let snap: OrgSnapshot = m.org.snapshot().await?;
    let a = m.acting(state);
    let me = &m.member.user.id;
    let clock = Clock::of(&m.member, &snap.org);
    let now = chrono::Utc::now().timestamp_millis();
    let (day_start, day_end) = clock.day_bounds(now);
    let today = clock.date(now).format("%Y-%m-%d").to_string();

    let mut bookings = Vec::new();
    let mut holds = Vec::new();
    for team in &snap.teams {
        for b in a.calendar(&team.id).snapshot().await?.bookings {
            let mine = &b.booked_by == me || b.assigned.contains(me);
            if !mine || b.state == BookingState::Cancelled {
                continue;
            }
            if b.state == BookingState::Held
                && &b.booked_by == me
                && b.hold_expires_at.is_some_and(|t| t > now)
            {
                holds.push(b.clone());
            }
            if b.start < day_end && b.end > day_start {
                bookings.push(b);
            }
        }
    }
    bookings.sort_by_key(|b| (b.start, b.end));
    holds.sort_by_key(|b| b.hold_expires_at);
    let soon = holds
        .iter()
        .take_while(|b| b.hold_expires_at.is_some_and(|t| t <= now + HOLD_SOON_MS))
        .count();
    let later_holds = holds.len() - soon;
    holds.truncate(soon);

    let mut tasks: Vec<TaskView> = project::open_tasks_of(a.kernel, a.org_id, me)
        .await?
        .into_iter()
        .filter(|t| t.due.as_deref().is_some_and(|d| d <= today.as_str()))
        .collect();
    tasks.sort_by(|x, y| x.due.cmp(&y.due));
    let projects = project::projects_of(a.kernel, a.org_id, &a.booker())
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();

    // Admins see every late vehicle; others those in their teams' steps or assigned to them.
    let admin = m.role().is_admin();
    let mut late = Vec::new();
    for w in &snap.workflows {
        let board = a.board(&w.id).snapshot().await?;
        for c in board.cards.into_iter().filter(|c| !c.done) {
            let step = w.steps.iter().find(|s| s.id == c.step);
            let ours = admin
                || c.assignee.as_ref() == Some(me)
                || step
                    .and_then(|s| s.team.as_ref())
                    .is_some_and(|t| m.member.teams.contains(t));
            if ours && lateness(step, now, c.entered_at) == "red" {
                late.push((board.workflow.clone(), c));
            }
        }
    }
    late.sort_by_key(|(w, c)| over_by(w, c, now).map(std::cmp::Reverse));

    let inbox = state.core.directory.inbox(me).await?;
    let (_, unread_total) = inbox.head().await?;
    let unread: Vec<NotificationView> = inbox
        .list(None, 50)
        .await?
        .into_iter()
        .filter(|n| !n.read)
        .take(UNREAD_SHOWN)
        .collect();

    let mut streams = vec![StreamName::Inbox(me.clone()).to_string()];
    streams.extend(
        snap.teams
            .iter()
            .map(|t| StreamName::Team(t.id.clone()).to_string()),
    );
    streams.extend(
        snap.workflows
            .iter()
            .map(|w| StreamName::Board(w.id.clone()).to_string()),
    );
    Ok(Today {
        now,
        first_name: m
            .member
            .user
            .display_name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        date: clock.date(now).format("%A, %-d %B").to_string(),
        clock,
        bookings,
        holds,
        later_holds,
        tasks,
        late,
        unread,
        unread_total,
        teams: snap
            .teams
            .iter()
            .map(|t| (t.id.to_string(), t.name.clone()))
            .collect(),
        job_types: snap
            .job_types
            .iter()
            .map(|j| (j.id.clone(), j.name.clone()))
            .collect(),
        projects,
        streams,
        admin,
    })
}

/// How long a card has been past its step's target, in ms.
fn over_by(w: &WorkflowView, c: &CardView, now: i64) -> Option<i64> {
    let target = w.steps.iter().find(|s| s.id == c.step)?.target_minutes?;
    Some(now - c.entered_at - i64::from(target) * 60_000)
}

/// What `live.js` boots from.
#[derive(Serialize)]
struct LiveBoot<'a> {
    streams: &'a [String],
    region: &'static str,
}

/// Where a booking is handled: its vehicle's page, else the calendar at the booking.
fn booking_link(b: &BookingView) -> String {
    match &b.work_item {
        Some(item) => format!("/items/{item}"),
        None => format!("/calendar?team={}&booking={}", b.team, b.id),
    }
}

/// Time left, as the countdown shows it: `7:05 left` within the hour, else `3 h 20 min left`
/// (`live.js` counts the same way).
fn left(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    if s < 3600 {
        format!("{}:{:02} left", s / 60, s % 60)
    } else {
        format!("{} h {} min left", s / 3600, (s % 3600) / 60)
    }
}

/// The page body.
pub fn render(t: &Today) -> Markup {
    let name = |map: &HashMap<String, String>, id: &str| map.get(id).cloned().unwrap_or_default();
    let nothing = t.bookings.is_empty()
        && t.holds.is_empty()
        && t.tasks.is_empty()
        && t.late.is_empty()
        && t.unread.is_empty();
    html! {
        div.today #today-live {
            h1 { "Today" span.muted.today-date { " · " (t.date) } }
            @if nothing {
                div.card.empty {
                    p { strong { "Nothing needs you today, " (t.first_name) "." } }
                    p { "No bookings, holds, tasks due or late vehicles. To plan work, "
                        a href="/calendar" { "book a slot on the calendar" } " or "
                        a href="/boards" { "open a board" } "." }
                }
            }
            div.today-grid {
                @if !t.holds.is_empty() {
                    section.today-card.holds aria-labelledby="t-holds" {
                        h2 #t-holds { "Holds running out" }
                        p.muted { "Confirm them before the countdown ends, or the time is given back." }
                        ul.today-list {
                            @for b in &t.holds {
                                @let until = b.hold_expires_at.unwrap_or(t.now);
                                li {
                                    a href=(booking_link(b)) { (b.title) }
                                    span.when { (t.clock.when(b.start)) "–" (t.clock.time(b.end)) " · " (name(&t.teams, b.team.as_str())) }
                                    span.countdown data-countdown=(until) { (left(until - t.now)) }
                                }
                            }
                        }
                        @if t.later_holds > 0 {
                            p.muted { (t.later_holds) " more of your holds run out later. " a href="/calendar" { "See them on the calendar" } "." }
                        }
                    }
                } @else if t.later_holds > 0 {
                    section.today-card aria-labelledby="t-holds" {
                        h2 #t-holds { "Holds" }
                        p.muted { "None of your " (t.later_holds) " holds runs out in the next two hours. " a href="/calendar" { "See them on the calendar" } "." }
                    }
                }
                section.today-card aria-labelledby="t-bookings" {
                    h2 #t-bookings { "My bookings today" }
                    @if t.bookings.is_empty() {
                        p.muted { "No bookings today. " a href="/calendar" { "Open the calendar" } " to book one." }
                    } @else {
                        @let shown = bookings_to_show(&t.bookings, t.now);
                        ul.today-list {
                            @for b in shown {
                                li {
                                    span.time { (t.clock.time(b.start)) "–" (t.clock.time(b.end)) }
                                    a href=(booking_link(b)) { (b.title) }
                                    span.when {
                                        (name(&t.job_types, &b.job_type)) " · " (name(&t.teams, b.team.as_str()))
                                        @match b.state {
                                            BookingState::Held => " · held",
                                            BookingState::Completed => " · done",
                                            _ => "",
                                        }
                                    }
                                }
                            }
                        }
                        @if shown.len() < t.bookings.len() {
                            p.muted { (t.bookings.len() - shown.len()) " more today: " a href="/calendar" { "see the whole day on the calendar" } "." }
                        }
                    }
                }
                section.today-card aria-labelledby="t-tasks" {
                    h2 #t-tasks { "Tasks due" }
                    @if t.tasks.is_empty() {
                        p.muted { "No task of yours is due today. " a href="/tasks" { "All my tasks" } }
                    } @else {
                        ul.today-list {
                            @for task in &t.tasks {
                                @let overdue = task.due.as_deref().is_some_and(|d| d < t.clock.date(t.now).format("%Y-%m-%d").to_string().as_str());
                                li {
                                    a href=(format!("/projects/{}?task={}", task.project, task.id)) { span.key { (task.key) } " " (task.title) }
                                    span.when {
                                        (name(&t.projects, task.project.as_str())) " · "
                                        @if overdue { span.late { "overdue since " (task.due.as_deref().unwrap_or_default()) } }
                                        @else { "due today" }
                                    }
                                }
                            }
                        }
                    }
                }
                section.today-card aria-labelledby="t-late" {
                    h2 #t-late { "Over target" }
                    @if t.late.is_empty() {
                        p.muted {
                            @if t.admin { "Every vehicle is within its step's target." }
                            @else { "Every vehicle in your teams' steps is within its target." }
                        }
                    } @else {
                        ul.today-list {
                            @for (w, c) in &t.late {
                                @let step = w.steps.iter().find(|s| s.id == c.step);
                                li data-late="red" {
                                    a href=(format!("/items/{}", c.id)) { span.key { (c.key) } " " (c.title) }
                                    span.when {
                                        (step.map_or(c.step.as_str(), |s| s.name.as_str())) " · "
                                        span.in-step { (elapsed(t.now, c.entered_at)) " in step" }
                                        @if let Some(target) = step.and_then(|s| s.target_minutes) {
                                            " (target " (super::boards::duration_words(u64::from(target))) ")"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                section.today-card aria-labelledby="t-unread" {
                    h2 #t-unread { "Unread notifications" }
                    @if t.unread.is_empty() {
                        p.muted { "You have read everything." }
                    } @else {
                        ul.today-list {
                            @for n in &t.unread {
                                li {
                                    a href=(link_of(n)) { (n.title) @if n.count > 1 { " (" (n.count) ")" } }
                                    span.when { (t.clock.when(n.updated_at)) @if !n.body.is_empty() { " · " (n.body) } }
                                }
                            }
                        }
                        @if t.unread_total as usize > t.unread.len() {
                            p { a href="/notifications" { "All " (t.unread_total) " unread notifications" } }
                        }
                    }
                }
            }
        }
        (layout::json_block("live-boot", &LiveBoot { streams: &t.streams, region: "today-live" }))
    }
}

/// How many of today's bookings the start page lists before pointing to the calendar.
const BOOKINGS_SHOWN: usize = 8;

/// The bookings the start page lists: the next ones still to end (or, late in the day,
/// the last ones), at most [`BOOKINGS_SHOWN`], in order.
fn bookings_to_show(all: &[BookingView], now: i64) -> &[BookingView] {
    let first_open = all.iter().position(|b| b.end > now).unwrap_or(all.len());
    let from = first_open.min(all.len().saturating_sub(BOOKINGS_SHOWN));
    &all[from..(from + BOOKINGS_SHOWN).min(all.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(start: i64, end: i64) -> BookingView {
        serde_json::from_value(serde_json::json!({
            "id": format!("b{start}"), "team": "t", "job_type": "j", "title": "x",
            "start": start, "end": end, "members_required": 1, "state": "confirmed",
            "hold_expires_at": null, "booked_by": "u", "booked_by_name": "U",
            "assigned": [], "work_item": null, "step": null, "completed_by": null,
            "completed_at": null, "created_at": 0, "updated_at": 0
        }))
        .expect("a booking view")
    }

    #[test]
    fn a_busy_day_lists_the_next_bookings_and_late_in_the_day_the_last_ones() {
        let day: Vec<_> = (0..20).map(|i| booking(i * 10, i * 10 + 10)).collect();
        let shown = bookings_to_show(&day, 55);
        assert_eq!(shown.len(), BOOKINGS_SHOWN);
        assert_eq!(shown[0].start, 50, "starts with the one under way");
        let late = bookings_to_show(&day, 1000);
        assert_eq!(
            late.last().map(|b| b.start),
            Some(190),
            "the day's last ones"
        );
        assert_eq!(bookings_to_show(&day[..3], 0).len(), 3);
        assert!(bookings_to_show(&[], 0).is_empty());
    }
}
