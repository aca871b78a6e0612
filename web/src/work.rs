//! Workflows, work items and kiosks, the application layer shared by the JSON API, the
//! socket and the pages: which actor handle a member acts on, how a kiosk token becomes
//! a principal, and screen pairing.

use crate::AppState;
use crate::bookings::Acting;
use crate::error::AppError;
use cflows_actors::board::BoardHandle;
use cflows_actors::org::{KioskInput, OrgHandle};
use cflows_actors::project::ProjectHandle;
use cflows_actors::streams::Principal;
use cflows_actors::work_item::WorkItemHandle;
use cflows_protocol::{ItemId, KioskView, OrgId, ProjectId, WorkflowId};

impl Acting<'_> {
    /// A work item of the member's organization (another's answers `not_found`).
    pub fn item(&self, id: &ItemId) -> WorkItemHandle {
        WorkItemHandle::new(self.kernel, self.org_id, id)
    }

    /// A project of the member's organization, acted on as this member (another
    /// organization's, or one the member may not read, answers `not_found`).
    pub fn project(&self, id: &ProjectId) -> ProjectHandle {
        ProjectHandle::new(self.kernel, self.org_id, id, self.booker())
    }

    /// A workflow's board in the member's organization.
    pub fn board(&self, workflow: &WorkflowId) -> BoardHandle {
        BoardHandle::new(self.kernel, self.org_id, workflow)
    }
}

/// The kiosk a secret token opens, and its organization.
///
/// # Errors
/// `not_found` for an unknown or revoked token.
pub async fn kiosk_by_token(state: &AppState, token: &str) -> Result<(OrgId, KioskView), AppError> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::NotFound);
    }
    let hash = cflows_actors::org::token_hash(token);
    let kernel = &state.core.kernel;
    let record = kernel
        .store()
        .kiosk_by_token_hash(&hash)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or(AppError::NotFound)?;
    let org = OrgId::new(record.org);
    // The Org's hot state decides: a kiosk revoked a moment ago is gone there first.
    let view = OrgHandle::new(kernel, &org)
        .kiosk(&cflows_protocol::KioskId::new(record.id))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((org, view))
}

/// The socket principal of a kiosk screen.
///
/// # Errors
/// `not_found` for an unknown or revoked token.
pub async fn kiosk_principal(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let (org, kiosk) = kiosk_by_token(state, token).await?;
    OrgHandle::new(&state.core.kernel, &org)
        .kiosk_seen(kiosk.id.clone())
        .await;
    Ok(Principal::Kiosk {
        kiosk: kiosk.id,
        org,
        scope: kiosk.scope,
    })
}

/// Pairs the screen showing `code` as a new kiosk of the admin's organization: the
/// screen's next poll gets its link.
///
/// # Errors
/// `invalid_input` for an unknown or expired code or a bad scope; `forbidden`.
pub async fn pair(
    state: &AppState,
    org: &OrgHandle,
    by: cflows_actors::Caller,
    code: &str,
    input: KioskInput,
) -> Result<KioskView, AppError> {
    let dir = &state.core.directory;
    let code = code.trim().to_uppercase();
    let pairing = dir.take_pairing(&code).await?.ok_or_else(|| {
        AppError::InvalidInput(
            "no screen shows this code (it may have expired): reload the screen".into(),
        )
    })?;
    let (kiosk, token) = org.create_kiosk(by, input).await?;
    dir.complete_pairing(pairing, token).await?;
    Ok(kiosk)
}

/// Whether a screen of kiosk `id` has an open connection now.
pub fn online(state: &AppState, id: &cflows_protocol::KioskId) -> usize {
    state.core.kernel.revocations().kiosk_screens(id)
}

/// How a list of cards is narrowed and ordered (board filters, the list view, the API).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// Words that must all appear in the key or title (any case).
    #[serde(default)]
    pub q: Option<String>,
    /// A step id.
    #[serde(default)]
    pub step: Option<String>,
    /// Items in steps of this team.
    #[serde(default)]
    pub team: Option<cflows_protocol::TeamId>,
    #[serde(default)]
    pub assignee: Option<cflows_protocol::UserId>,
    #[serde(default)]
    pub priority: Option<cflows_protocol::Priority>,
    /// Include done items (the last 7 days); default false.
    #[serde(default)]
    pub done: bool,
    /// `key`, `title`, `step`, `entered_at` (default), `priority` or `due`.
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    pub order: Option<String>,
}

/// The cards of `workflow` that match `q`, in its order.
///
/// # Errors
/// `invalid_input` for an unknown sort key or order.
pub fn select_cards(
    workflow: &cflows_protocol::WorkflowView,
    cards: Vec<cflows_protocol::CardView>,
    q: &CardQuery,
) -> Result<Vec<cflows_protocol::CardView>, AppError> {
    let words: Vec<String> =
        q.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let step_team = |step: &str| {
        workflow
            .steps
            .iter()
            .find(|s| s.id == step)
            .and_then(|s| s.team.clone())
    };
    let mut out: Vec<_> = cards
        .into_iter()
        .filter(|c| q.done || !c.done)
        .filter(|c| q.step.as_ref().is_none_or(|s| &c.step == s))
        .filter(|c| q.assignee.is_none() || c.assignee == q.assignee)
        .filter(|c| q.priority.is_none_or(|p| c.priority == p))
        .filter(|c| q.team.is_none() || step_team(&c.step) == q.team)
        .filter(|c| {
            let hay = format!("{} {}", c.key, c.title).to_lowercase();
            words.iter().all(|w| hay.contains(w))
        })
        .collect();
    let order = |c: &cflows_protocol::CardView| {
        workflow
            .steps
            .iter()
            .position(|s| s.id == c.step)
            .unwrap_or(usize::MAX)
    };
    let number = |c: &cflows_protocol::CardView| {
        c.key
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    match q.sort.as_deref().unwrap_or("entered_at") {
        "key" => out.sort_by_key(number),
        "title" => out.sort_by_key(|c| c.title.to_lowercase()),
        "step" => out.sort_by_key(|c| (order(c), c.entered_at)),
        "entered_at" => out.sort_by_key(|c| c.entered_at),
        "priority" => out.sort_by_key(|c| (std::cmp::Reverse(c.priority), c.entered_at)),
        "due" => out.sort_by_key(|c| (c.due.is_none(), c.due.clone())),
        other => {
            return Err(AppError::InvalidInput(format!(
                "sort must be key, title, step, entered_at, priority or due, not '{other}'"
            )));
        }
    }
    match q.order.as_deref().unwrap_or("asc") {
        "asc" => {}
        "desc" => out.reverse(),
        other => {
            return Err(AppError::InvalidInput(format!(
                "order must be asc or desc, not '{other}'"
            )));
        }
    }
    Ok(out)
}

/// How many free times the booking panel offers.
pub const FREE_TIMES: usize = 4;

/// Booking the step an item is in, as the booking panel shows it.
pub struct StepBooking {
    pub step: cflows_protocol::StepDef,
    pub team: cflows_protocol::TeamView,
    pub job: cflows_protocol::JobTypeView,
    /// The item's booking of this step, in any state.
    pub booking: Option<cflows_protocol::ItemBooking>,
    /// The next free times for the job from now (only when there is nothing open to
    /// act on: no booking, or a cancelled or expired one).
    pub free: Vec<cflows_protocol::Interval>,
}

impl StepBooking {
    /// Whether the step can be booked now (nothing held, confirmed or completed).
    pub fn bookable(&self) -> bool {
        use cflows_protocol::BookingState as S;
        self.booking
            .as_ref()
            .is_none_or(|b| matches!(b.state, S::Cancelled | S::Expired))
    }
}

/// What a person does with the booking of an item's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepBookingChange {
    Confirm,
    Cancel,
    /// Mark done: the item then moves on by itself.
    Complete,
}

impl Acting<'_> {
    /// The booking of the step `item` is in, or `None` when the step needs none.
    ///
    /// # Errors
    /// `unavailable`; `not_found` when the step's team is gone.
    pub async fn step_booking(
        &self,
        item: &cflows_protocol::WorkItemView,
        workflow: &cflows_protocol::WorkflowView,
    ) -> Result<Option<StepBooking>, AppError> {
        let Some(step) = workflow.steps.iter().find(|s| s.id == item.step) else {
            return Ok(None);
        };
        let (Some(team), Some(job)) = (&step.team, &step.booking_job_type) else {
            return Ok(None);
        };
        if item.done {
            return Ok(None);
        }
        let (team, job) = self
            .org
            .team_and_job_type(team.clone(), job.clone())
            .await?;
        let (Some(team), Some(job)) = (team, job) else {
            return Ok(None);
        };
        let mut out = StepBooking {
            step: step.clone(),
            team,
            job,
            booking: item.booking.clone().filter(|b| b.step == item.step),
            free: Vec::new(),
        };
        if out.bookable() {
            out.free = self
                .calendar(&out.team.id)
                .free_slots(
                    cflows_actors::domain::capacity::job_length_ms(out.job.duration_minutes),
                    1,
                    chrono::Utc::now().timestamp_millis(),
                    FREE_TIMES,
                )
                .await?;
        }
        Ok(Some(out))
    }

    /// Books the step item `id` is in from `start` (a hold on the step's team).
    ///
    /// # Errors
    /// `no_capacity` told in the member's time with free times; `conflict` when the step
    /// has a booking open; `invalid_input` when it needs none; `not_found`.
    pub async fn book_step(
        &self,
        id: &ItemId,
        start: i64,
    ) -> Result<cflows_protocol::WorkItemView, AppError> {
        match self.item(id).book(self.booker(), start).await {
            Ok(item) => Ok(item),
            Err(e @ cflows_actors::CoreError::NoCapacity(_)) => {
                let team = self.team_name_of_step(id, None).await;
                Err(self.for_people(e, &team).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves item `id` along a transition (placing the target step's hold when the move
    /// names a start).
    ///
    /// # Errors
    /// `no_capacity` told in the member's time with free times (nothing moves);
    /// `conflict` when it moved meanwhile or a rule blocks it; `invalid_input` when no
    /// transition leads there; `not_found`.
    pub async fn move_item(
        &self,
        id: &ItemId,
        change: cflows_protocol::MoveRequest,
    ) -> Result<cflows_protocol::WorkItemView, AppError> {
        let to = change.to.clone();
        match self.item(id).move_to(self.booker(), change).await {
            Ok(item) => Ok(item),
            Err(e @ cflows_actors::CoreError::NoCapacity(_)) => {
                let team = self.team_name_of_step(id, Some(&to)).await;
                Err(self.for_people(e, &team).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Confirms, cancels or completes the booking of the step item `id` is in. Completing
    /// it moves the item on (the item hears of it before this returns).
    ///
    /// # Errors
    /// `conflict` when the step has no such booking (none, or it ran out); `not_found`.
    pub async fn change_step_booking(
        &self,
        id: &ItemId,
        change: StepBookingChange,
    ) -> Result<cflows_protocol::BookingView, AppError> {
        let item = self.item(id).snapshot().await?.item;
        let b = item
            .booking
            .filter(|b| b.step == item.step)
            .ok_or_else(|| AppError::Conflict(format!("{} has no booking to change", item.key)))?;
        match b.state {
            cflows_protocol::BookingState::Expired => {
                return Err(AppError::Conflict(format!(
                    "the hold on {} expired before it was confirmed: book again",
                    item.key
                )));
            }
            cflows_protocol::BookingState::Cancelled => {
                return Err(AppError::Conflict(format!(
                    "the booking of {} was cancelled: book again",
                    item.key
                )));
            }
            _ => {}
        }
        let cal = self.calendar(&b.team);
        let by = self.booker();
        Ok(match change {
            StepBookingChange::Confirm => cal.confirm(by, b.id).await?,
            StepBookingChange::Cancel => cal.cancel(by, b.id).await?,
            StepBookingChange::Complete => cal.complete(by, b.id).await?,
        })
    }

    /// The name of the team of step `step` of item `id`'s workflow (`None`: the step the
    /// item is in); "The team" when unknown.
    async fn team_name_of_step(&self, id: &ItemId, step: Option<&str>) -> String {
        let fallback = || "The team".to_string();
        let Ok(snap) = self.item(id).snapshot().await else {
            return fallback();
        };
        let Ok(workflow) = self.org.workflow(&snap.item.workflow).await else {
            return fallback();
        };
        let Some(team) = workflow
            .steps
            .iter()
            .find(|s| s.id == step.unwrap_or(&snap.item.step))
            .and_then(|s| s.team.clone())
        else {
            return fallback();
        };
        match self.org.team(team).await {
            Ok(Some(t)) => t.name,
            _ => fallback(),
        }
    }
}
