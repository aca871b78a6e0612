//! The booking panel of the step an item is in: on the item page, and fetched as a
//! fragment into the board's dialog (a card's Book button, or a drop into a step that
//! needs a booking). It offers the next free times of the step's team for its job type
//! (one click holds one), then the hold's countdown with Confirm and Cancel booking, then
//! Mark done (which moves the item on). An expired hold says so and offers to book again;
//! a refusal is told in the viewer's time with its free times as buttons.
//!
//! The forms (CSRF-checked by [`CsrfForm`]) work without JavaScript (answered by a redirect to the item page);
//! `/static/js/booking.js` posts them in place (header `x-panel`) and swaps in the panel
//! the server answers with. Decisions are the application layer's (`work.rs`).

use crate::AppState;
use crate::auth::Member;
use crate::bookings::Acting;
use crate::clock::Clock;
use crate::error::{AppError, PageResult};
use crate::forms::CsrfForm;
use crate::pages::layout;
use crate::work::{StepBooking, StepBookingChange};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cflows_protocol::{BookingState, Interval, ItemId, WorkItemView, WorkflowView};
use maud::{Markup, html};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/items/{id}/booking", get(panel_fragment).post(change))
        .route("/items/{id}/book", post(book))
}

/// What the last action said, shown at the top of the panel.
#[derive(Default)]
pub struct Outcome {
    pub notice: Option<String>,
    pub error: Option<String>,
    /// Free times a refusal suggested, offered as buttons.
    pub suggestions: Vec<Interval>,
    /// The item left the step (its booking was marked done).
    pub moved: bool,
}

/// Everything the panel shows, read fresh.
pub struct PanelData {
    pub item: WorkItemView,
    pub workflow: WorkflowView,
    pub booking: Option<StepBooking>,
    pub clock: Clock,
}

impl PanelData {
    /// Reads the item, its workflow, its step's booking and the viewer's clock.
    ///
    /// # Errors
    /// `not_found` for an unknown or foreign item; `unavailable`.
    pub async fn read(a: &Acting<'_>, id: &ItemId) -> Result<Self, AppError> {
        let item = a.item(id).snapshot().await?.item;
        let workflow = a.org.workflow(&item.workflow).await?;
        let booking = a.step_booking(&item, &workflow).await?;
        Ok(Self {
            item,
            workflow,
            booking,
            clock: a.clock().await?,
        })
    }

    fn step_name(&self) -> &str {
        self.workflow
            .steps
            .iter()
            .find(|s| s.id == self.item.step)
            .map_or(self.item.step.as_str(), |s| s.name.as_str())
    }
}

/// The panel (an empty placeholder when the step needs no booking and nothing was said).
pub fn panel(csrf: &str, d: &PanelData, outcome: &Outcome) -> Markup {
    let item = &d.item;
    let said = html! {
        @if let Some(n) = &outcome.notice { p.notice role="status" { (n) } }
        @if let Some(e) = &outcome.error { p.error role="alert" { (e) } }
    };
    let Some(sb) = &d.booking else {
        return html! {
            div #booking-panel data-for-item=(item.id) data-moved[outcome.moved] {
                @if outcome.notice.is_some() || outcome.error.is_some() {
                    section.booking-panel aria-labelledby="booking-title" {
                        h2 #booking-title { (item.key) " is in " (d.step_name()) }
                        (said)
                        @if !item.done { p.muted { (d.step_name()) " needs no booking." } }
                    }
                }
            }
        };
    };
    let clock = &d.clock;
    let book_form = |start: i64, label: Markup, class: &str| {
        html! {
            form.inline method="post" action=(format!("/items/{}/book", item.id)) data-panel {
                (layout::csrf_field(csrf))
                input type="hidden" name="start" value=(start);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    let change_form = |change: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(format!("/items/{}/booking", item.id)) data-panel {
                (layout::csrf_field(csrf))
                input type="hidden" name="change" value=(change);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    html! {
        div #booking-panel data-for-item=(item.id) data-moved[outcome.moved] {
            section.booking-panel aria-labelledby="booking-title" data-state=(sb.booking.as_ref().map_or("none", |b| b.state.as_str())) {
                h2 #booking-title { (sb.job.name) " with " (sb.team.name) }
                p.muted {
                    (item.key) " needs its " (sb.job.name) " (" (super::boards::duration_words(u64::from(sb.job.duration_minutes))) ") booked and done before it leaves "
                    (sb.step.name) ". Times in " (clock.zone()) "."
                }
                (said)
                @if !outcome.suggestions.is_empty() {
                    p { "Free instead:" }
                    ul.slots { @for s in &outcome.suggestions { li { (book_form(s.start, html! { "Book " (clock.span(s.start, s.end)) }, "")) } } }
                }
                @match sb.booking.as_ref().map(|b| (b, b.state)) {
                    Some((b, BookingState::Held)) => {
                        p.hold {
                            strong { "Held" } " for " (sb.team.name) ": " (clock.span(b.start, b.end)) " · "
                            @if let Some(t) = b.hold_expires_at {
                                span.countdown data-expires=(t) { "hold ends at " (clock.time(t)) }
                            }
                        }
                        div.actions {
                            (change_form("confirm", "Confirm", ""))
                            (change_form("cancel", "Cancel booking", "danger"))
                        }
                    }
                    Some((b, BookingState::Confirmed)) => {
                        p { strong { "Booked" } " with " (sb.team.name) ": " (clock.span(b.start, b.end)) }
                        div.actions {
                            (change_form("complete", "Mark done", ""))
                            (change_form("cancel", "Cancel booking", "danger"))
                        }
                    }
                    Some((b, BookingState::Completed)) => {
                        p { strong { "Done" } ": " (clock.span(b.start, b.end)) }
                    }
                    other => {
                        @if let Some((b, BookingState::Expired)) = other {
                            p.expired role="status" {
                                strong { "Hold expired" } ": the hold for " (clock.span(b.start, b.end))
                                " ran out before anyone confirmed it."
                            }
                            @if b.start > now {
                                div.actions { (book_form(b.start, html! { "Book again" }, "")) }
                            }
                        }
                        @if let Some((b, BookingState::Cancelled)) = other {
                            p { "The booking for " (clock.span(b.start, b.end)) " was cancelled." }
                        }
                        h3 { "Next free times" }
                        @if sb.free.is_empty() {
                            p { (sb.team.name) " has nothing free in the next four weeks: ask an admin to add capacity or working hours." }
                        } @else {
                            ul.slots {
                                @for s in &sb.free { li { (book_form(s.start, html! { "Book " (clock.span(s.start, s.end)) }, "")) } }
                            }
                        }
                        details.other-time {
                            summary { "Another time" }
                            form.inline method="post" action=(format!("/items/{}/book", item.id)) data-panel {
                                (layout::csrf_field(csrf))
                                label for=(format!("bk-at-{}", item.id)) { "Starts" }
                                input id=(format!("bk-at-{}", item.id)) type="datetime-local" name="local" required;
                                button type="submit" { "Book" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the request came from `booking.js` (answer with the panel, not a redirect).
fn in_place(headers: &HeaderMap) -> bool {
    headers.contains_key("x-panel")
}

fn fragment(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], markup).into_response()
}

async fn panel_fragment(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let d = PanelData::read(&a, &ItemId::new(id)).await?;
    Ok(fragment(
        StatusCode::OK,
        panel(&m.authed.csrf, &d, &Outcome::default()),
    ))
}

/// Answers an action: the fresh panel with what happened (in place), or a redirect to the
/// item page with a banner.
async fn answer(
    a: &Acting<'_>,
    m: &Member,
    id: &ItemId,
    headers: &HeaderMap,
    result: Result<Outcome, AppError>,
) -> PageResult<Response> {
    let path = format!("/items/{id}");
    if !in_place(headers) {
        return Ok(match result {
            Ok(o) => super::see_other_with_notice(&path, o.notice.as_deref().unwrap_or("Saved.")),
            Err(e) => super::see_other_with(&path, "error", &e.to_string()),
        });
    }
    let d = PanelData::read(a, id).await?;
    let (status, outcome) = match result {
        Ok(o) => (StatusCode::OK, o),
        Err(e) => {
            let suggestions = match &e {
                AppError::NoCapacity(r, _) if r.waitlisted.is_none() => r.suggestions.clone(),
                _ => Vec::new(),
            };
            (
                e.status(),
                Outcome {
                    error: Some(e.to_string()),
                    suggestions,
                    ..Outcome::default()
                },
            )
        }
    };
    Ok(fragment(status, panel(&m.authed.csrf, &d, &outcome)))
}

#[derive(Deserialize)]
struct BookForm {
    /// A free time's start (Unix ms), from a button.
    #[serde(default)]
    start: Option<i64>,
    /// A `datetime-local` value, in the viewer's zone.
    #[serde(default)]
    local: Option<String>,
}

async fn book(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    CsrfForm(f): CsrfForm<BookForm>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let id = ItemId::new(id);
    let result = async {
        let clock = a.clock().await?;
        let start = match (f.start, f.local.as_deref().map(str::trim)) {
            (Some(start), _) => start,
            (None, Some(local)) if !local.is_empty() => clock
                .parse_local(local)
                .ok_or_else(|| AppError::InvalidInput("choose a day and a time to book".into()))?,
            _ => {
                return Err(AppError::InvalidInput(
                    "choose a day and a time to book".into(),
                ));
            }
        };
        let item = a.book_step(&id, start).await?;
        let held = item.booking.and_then(|b| b.hold_expires_at);
        Ok(Outcome {
            notice: Some(match held {
                Some(t) => format!("Held until {}: confirm it to keep it.", clock.time(t)),
                None => "Booked.".into(),
            }),
            ..Outcome::default()
        })
    }
    .await;
    answer(&a, &m, &id, &headers, result).await
}

#[derive(Deserialize)]
struct ChangeForm {
    change: StepBookingChange,
}

async fn change(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    CsrfForm(f): CsrfForm<ChangeForm>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let id = ItemId::new(id);
    let result = async {
        let before = a.item(&id).snapshot().await?.item;
        let b = a.change_step_booking(&id, f.change).await?;
        let clock = a.clock().await?;
        Ok(match f.change {
            StepBookingChange::Confirm => Outcome {
                notice: Some(format!("Booked: {}.", clock.span(b.start, b.end))),
                ..Outcome::default()
            },
            StepBookingChange::Cancel => Outcome {
                notice: Some("Booking cancelled.".into()),
                ..Outcome::default()
            },
            StepBookingChange::Complete => {
                // The item heard of it before the calendar answered: it has moved on.
                let after = a.item(&id).snapshot().await?.item;
                let workflow = a.org.workflow(&after.workflow).await?;
                let step = workflow
                    .steps
                    .iter()
                    .find(|s| s.id == after.step)
                    .map_or(after.step.clone(), |s| s.name.clone());
                let moved = after.step != before.step;
                Outcome {
                    notice: Some(if moved {
                        format!("Marked done: {} moved on to {step}.", after.key)
                    } else {
                        format!("Marked done. Move {} on when it is ready.", after.key)
                    }),
                    moved,
                    ..Outcome::default()
                }
            }
        })
    }
    .await;
    answer(&a, &m, &id, &headers, result).await
}
