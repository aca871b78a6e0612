//! `WorkItem(item_id)`: the single writer of one work item — its step, fields, history
//! and comments — and of `item:{id}`. Moves follow the workflow's transitions (the
//! Org's current version, checked by `domain::workflow`), one at a time, so of two racing
//! moves exactly one wins and the other learns the step the item is in now.
//!
//! A step that requires a booking cannot be left forward until its booking (on the step
//! team's calendar, linked to this item and step) is completed. The `TeamCalendar` tells
//! the item about every change of a linked booking; completing it advances the item
//! along the first forward transition the rules allow. After each commit the item tells
//! its workflow's `Board`.

use crate::board::{BoardHandle, validate_due};
use crate::domain::attachments::{self, Holder};
use crate::domain::capacity;
use crate::domain::workflow::{self, ItemFacts, MoveRefusal, check_value};
use crate::error::{CoreError, CoreResult};
use crate::kernel::{Entity, Journal, Kernel};
use crate::notices::{self, Author, Change, Notice, Thread};
use crate::org::OrgHandle;
use crate::store::{new_id, writes};
use crate::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    AttachmentView, BookingState, BookingView, CommentView, HistoryEntry, ItemBooking, ItemChange,
    ItemEvent, ItemId, ItemSnapshot, MoveRequest, OrgId, StepDef, StreamName, UserId, WorkItemView,
    WorkflowView,
};
use ractor::RpcReplyPort;

/// Longest comment (characters).
pub const MAX_COMMENT: usize = 5000;
/// Longest move comment (characters).
pub const MAX_MOVE_COMMENT: usize = 2000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Messages the `WorkItem` handles (tenancy is checked by the registry's `call_in`).
pub enum ItemMsg {
    Snapshot {
        reply: RpcReplyPort<CoreResult<ItemSnapshot>>,
    },
    Head {
        reply: RpcReplyPort<CoreResult<u64>>,
    },
    Move {
        by: Booker,
        change: MoveRequest,
        reply: RpcReplyPort<CoreResult<WorkItemView>>,
    },
    Update {
        by: Booker,
        change: ItemChange,
        reply: RpcReplyPort<CoreResult<WorkItemView>>,
    },
    Comment {
        by: Booker,
        body: String,
        reply: RpcReplyPort<CoreResult<CommentView>>,
    },
    /// Holds the current step's team from `start` (the step needs a booking and has
    /// none open).
    Book {
        by: Booker,
        start: i64,
        reply: RpcReplyPort<CoreResult<WorkItemView>>,
    },
    /// From the `TeamCalendar`: a booking linked to this item changed.
    BookingChanged { booking: Box<BookingView> },
    Attach {
        by: Booker,
        kept: Box<crate::files::Kept>,
        reply: RpcReplyPort<CoreResult<AttachmentView>>,
    },
    Detach {
        by: Booker,
        attachment: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    /// From the Org: a new workflow version removed step `from`; items there go to `to`.
    Relocate {
        from: String,
        to: String,
        by: UserId,
    },
}

/// One work item, hot; hosted by the kernel.
pub struct WorkItem {
    kernel: Kernel,
    org: OrgId,
    item: WorkItemView,
    history: Vec<HistoryEntry>,
    comments: Vec<CommentView>,
    attachments: Vec<AttachmentView>,
    journal: Journal,
}

impl Entity for WorkItem {
    type Id = ItemId;
    type Msg = ItemMsg;
    const KIND: &'static str = "work_item";

    fn decides(msg: &ItemMsg) -> bool {
        !matches!(msg, ItemMsg::Snapshot { .. } | ItemMsg::Head { .. })
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Item(id) => Some(id.clone()),
            _ => None,
        }
    }
    const SCOPE_TABLE: Option<&'static str> = Some("work_item");

    async fn load(kernel: &Kernel, id: &ItemId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Item(id.clone())).await?;
        let record = store
            .work_item(id.as_str())
            .await?
            .ok_or(CoreError::NotFound)?;
        let org = OrgId::new(record.org.clone());
        let mut item = WorkItemView::from(record);
        // The booking records are the truth about bookings: a change the calendar told
        // while this item was not running (or lost in a crash) is read back here.
        let latest = store
            .bookings_of_item(id.as_str())
            .await?
            .into_iter()
            .find(|b| b.step.as_deref() == Some(item.step.as_str()));
        if let Some(b) = latest {
            item.booking = Some(item_booking(&BookingView::from(b)));
        }
        let history = store
            .item_history(id.as_str())
            .await?
            .into_iter()
            .map(HistoryEntry::from)
            .collect();
        let comments = store
            .item_comments(id.as_str())
            .await?
            .into_iter()
            .map(CommentView::from)
            .collect();
        let attachments = store
            .attachments_of(&format!("item:{id}"))
            .await?
            .into_iter()
            .map(AttachmentView::from)
            .collect();
        let journal = journal.in_org(&org);
        Ok(Self {
            kernel: kernel.clone(),
            org,
            item,
            history,
            comments,
            attachments,
            journal,
        })
    }

    async fn handle(&mut self, _kernel: &Kernel, msg: ItemMsg) {
        match msg {
            ItemMsg::Snapshot { reply } => {
                let _ = reply.send(Ok(self.snapshot()));
            }
            ItemMsg::Head { reply } => {
                let _ = reply.send(Ok(self.journal.seq()));
            }
            ItemMsg::Move { by, change, reply } => match self.on_move(&by, change).await {
                Ok((item, workflow)) => {
                    let _ = reply.send(Ok(item.clone()));
                    self.after_move(&by, &item, &workflow).await;
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            ItemMsg::Update { by, change, reply } => {
                let r = self.on_update(&by, change).await;
                let changed = r.as_ref().ok().cloned();
                let _ = reply.send(r);
                if let Some(item) = changed {
                    self.tell_board(item).await;
                }
            }
            ItemMsg::Comment { by, body, reply } => {
                let _ = reply.send(self.on_comment(&by, body).await);
            }
            ItemMsg::Book { by, start, reply } => {
                let r = self.on_book(&by, start).await;
                let changed = r.as_ref().ok().cloned();
                let _ = reply.send(r);
                if let Some(item) = changed {
                    self.tell_board(item).await;
                }
            }
            ItemMsg::Attach { by, kept, reply } => {
                let _ = reply.send(self.on_attach(&by, *kept).await);
            }
            ItemMsg::Detach {
                by,
                attachment,
                reply,
            } => {
                let _ = reply.send(self.on_detach(&by, &attachment).await);
            }
            ItemMsg::BookingChanged { booking } => self.on_booking_changed(*booking).await,
            ItemMsg::Relocate { from, to, by } => self.on_relocate(from, to, by).await,
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }

    fn scope(&self) -> Option<&OrgId> {
        Some(&self.org)
    }
}

fn item_booking(b: &BookingView) -> ItemBooking {
    ItemBooking {
        id: b.id.clone(),
        team: b.team.clone(),
        step: b.step.clone().unwrap_or_default(),
        state: b.state,
        start: b.start,
        end: b.end,
        hold_expires_at: b.hold_expires_at,
    }
}

fn step_name<'a>(workflow: &'a WorkflowView, id: &'a str) -> &'a str {
    workflow
        .steps
        .iter()
        .find(|s| s.id == id)
        .map_or(id, |s| s.name.as_str())
}

impl WorkItem {
    fn snapshot(&self) -> ItemSnapshot {
        ItemSnapshot {
            item: self.item.clone(),
            history: self.history.clone(),
            comments: self.comments.clone(),
            attachments: self.attachments.clone(),
            seq: self.journal.seq(),
        }
    }

    fn org(&self) -> OrgHandle {
        OrgHandle::new(&self.kernel, &self.org)
    }

    async fn workflow(&self) -> CoreResult<WorkflowView> {
        self.org().workflow(&self.item.workflow).await
    }

    async fn tell_board(&self, item: WorkItemView) {
        BoardHandle::new(&self.kernel, &self.org, &item.workflow)
            .card_changed(item)
            .await;
    }

    /// Commits `item` as the new state with a history `entry` (a move) or without.
    async fn commit(
        &mut self,
        item: WorkItemView,
        entry: Option<HistoryEntry>,
        by: Option<&UserId>,
    ) -> CoreResult<()> {
        let org = self.org.as_str();
        let (write, event) = match &entry {
            Some(entry) => (
                writes::move_item(org, &item, entry),
                ItemEvent::ItemMoved {
                    item: Box::new(item.clone()),
                    entry: entry.clone(),
                },
            ),
            None => (
                writes::put_item(org, &item),
                ItemEvent::ItemChanged {
                    item: Box::new(item.clone()),
                },
            ),
        };
        self.journal
            .commit(write, vec![StreamEvent::Item(event)], by)
            .await?;
        self.item = item;
        self.history.extend(entry);
        Ok(())
    }

    /// The moved item, and the workflow version it moved under.
    async fn on_move(
        &mut self,
        by: &Booker,
        change: MoveRequest,
    ) -> CoreResult<(WorkItemView, WorkflowView)> {
        let workflow = self.workflow().await?;
        if self.item.step != change.from {
            return Err(CoreError::Conflict(format!(
                "{} was moved meanwhile: it is now in {}",
                self.item.key,
                step_name(&workflow, &self.item.step)
            )));
        }
        if let Some(c) = &change.comment
            && c.chars().count() > MAX_MOVE_COMMENT
        {
            return Err(CoreError::invalid(format!(
                "the comment is longer than {MAX_MOVE_COMMENT} characters"
            )));
        }
        let facts = ItemFacts {
            step: &self.item.step,
            data: &self.item.data,
            booking: self.item.booking.as_ref().map(|b| b.state),
        };
        // An item left in a step a newer version removed (it moved there while the
        // version was being saved) may go to any step: that is how it gets back in.
        let stranded = !workflow.steps.iter().any(|s| s.id == self.item.step);
        let label = if stranded {
            "relocated".to_string()
        } else {
            workflow::check_move(&workflow.steps, &workflow.transitions, &facts, &change.to)
                .map_err(|r| match r {
                    MoveRefusal::NoTransition(m) => CoreError::InvalidInput(m),
                    MoveRefusal::Blocked(m) => CoreError::Conflict(m),
                })?
                .label
                .clone()
        };
        let target = workflow
            .steps
            .iter()
            .find(|s| s.id == change.to)
            .cloned()
            .ok_or(CoreError::NotFound)?;
        // Entering a step that needs a booking can place its hold first: no room, no move.
        let hold = match change.booking_start {
            Some(start) => Some(self.hold(by, &target, start).await?),
            None => None,
        };
        let now = now_ms();
        let mut next = self.item.clone();
        next.step = target.id.clone();
        next.entered_at = now;
        next.version = workflow.version;
        next.done = target.terminal;
        next.booking = hold.as_ref().map(item_booking);
        next.updated_at = now;
        let entry = HistoryEntry {
            at: now,
            by: by.user.clone(),
            by_name: by.name.clone(),
            from: Some(self.item.step.clone()),
            to: target.id.clone(),
            label,
            comment: change.comment.filter(|c| !c.trim().is_empty()),
        };
        let left = self.item.booking.clone();
        if let Err(e) = self.commit(next, Some(entry), Some(&by.user)).await {
            if let Some(h) = hold {
                let _ = TeamCalendarHandle::new(&self.kernel, &self.org, &h.team)
                    .cancel(by.clone(), h.id)
                    .await;
            }
            return Err(e);
        }
        // Leaving (backwards) a step whose booking is still open releases it.
        if let Some(b) = left
            && matches!(b.state, BookingState::Held | BookingState::Confirmed)
        {
            let _ = TeamCalendarHandle::new(&self.kernel, &self.org, &b.team)
                .cancel(by.clone(), b.id)
                .await;
        }
        Ok((self.item.clone(), workflow))
    }

    /// Books the step the item is in (it was entered without a booking, or its hold
    /// expired or was cancelled): a hold from `start`, recorded on the item at once.
    async fn on_book(&mut self, by: &Booker, start: i64) -> CoreResult<WorkItemView> {
        let workflow = self.workflow().await?;
        let step = workflow
            .steps
            .iter()
            .find(|s| s.id == self.item.step)
            .cloned()
            .ok_or_else(|| CoreError::invalid("the item's step is no longer in the workflow"))?;
        if let Some(b) = &self.item.booking
            && matches!(
                b.state,
                BookingState::Held | BookingState::Confirmed | BookingState::Completed
            )
        {
            let what = match b.state {
                BookingState::Held => "a hold",
                BookingState::Confirmed => "a booking",
                _ => "a completed booking",
            };
            return Err(CoreError::Conflict(format!(
                "{} already has {what} for {}; confirm or cancel that one first",
                self.item.key, step.name
            )));
        }
        let hold = self.hold(by, &step, start).await?;
        let mut next = self.item.clone();
        next.booking = Some(item_booking(&hold));
        next.updated_at = now_ms().max(self.item.updated_at + 1);
        if let Err(e) = self.commit(next, None, Some(&by.user)).await {
            let _ = TeamCalendarHandle::new(&self.kernel, &self.org, &hold.team)
                .cancel(by.clone(), hold.id)
                .await;
            return Err(e);
        }
        Ok(self.item.clone())
    }

    /// Places a hold for `step` starting at `start`, linked to this item.
    async fn hold(&self, by: &Booker, step: &StepDef, start: i64) -> CoreResult<BookingView> {
        let (Some(team), Some(job_type)) = (&step.team, &step.booking_job_type) else {
            return Err(CoreError::invalid(format!(
                "{} does not require a booking",
                step.name
            )));
        };
        let (_, job) = self
            .org()
            .team_and_job_type(team.clone(), job_type.clone())
            .await?;
        let job = job.ok_or_else(|| CoreError::invalid("the step's job type no longer exists"))?;
        let spec = BookingSpec {
            job_type: job.id.clone(),
            start,
            end: capacity::booking_end(start, None, job.duration_minutes)?,
            members_required: 1,
            title: format!("{} · {}", self.item.key, self.item.title),
            confirm: false,
            hold_ms: None,
            waitlist: false,
            assigned: Vec::new(),
            work_item: Some(self.item.id.clone()),
            step: Some(step.id.clone()),
        };
        TeamCalendarHandle::new(&self.kernel, &self.org, team)
            .hold(by.clone(), spec)
            .await
    }

    /// After a move's reply: the board, and the members of the step's team.
    async fn after_move(&self, by: &Booker, item: &WorkItemView, workflow: &WorkflowView) {
        self.tell_board(item.clone()).await;
        let Some(team) = workflow
            .steps
            .iter()
            .find(|s| s.id == item.step)
            .and_then(|s| s.team.clone())
        else {
            return;
        };
        let Ok(Some(team)) = self.org().team(team).await else {
            return;
        };
        let notice = Notice::new(
            &self.org,
            Some(Author::new(&by.user, &by.name)),
            Change::ItemMoved {
                item: item.id.clone(),
                key: item.key.clone(),
                title: item.title.clone(),
                step: step_name(workflow, &item.step).to_string(),
            },
        )
        .to(team.members.into_iter().filter(|m| *m != by.user));
        notices::send(&self.kernel, &notice, "work item notification");
    }

    async fn on_update(&mut self, by: &Booker, change: ItemChange) -> CoreResult<WorkItemView> {
        let workflow = self.workflow().await?;
        let mut next = self.item.clone();
        if let Some(title) = change.title {
            let title = crate::domain::validate::name("Title", &title)?;
            if title.chars().count() > 200 {
                return Err(CoreError::invalid(
                    "the title is longer than 200 characters",
                ));
            }
            next.title = title;
        }
        if let Some(assignee) = change.assignee {
            if let Some(a) = &assignee {
                self.org()
                    .active_member(a)
                    .await
                    .map_err(|_| CoreError::invalid("the assignee is not a member"))?;
            }
            next.assignee = assignee;
        }
        if let Some(priority) = change.priority {
            next.priority = priority;
        }
        if let Some(due) = change.due {
            if let Some(d) = &due {
                validate_due(d)?;
            }
            next.due = due;
        }
        for (key, value) in change.data {
            let field = workflow
                .steps
                .iter()
                .flat_map(|s| s.fields.iter())
                .find(|f| f.key == key)
                .ok_or_else(|| {
                    CoreError::invalid(format!("\"{key}\" is not a field of this workflow"))
                })?;
            match value {
                Some(v) => {
                    check_value(field, &v).map_err(CoreError::InvalidInput)?;
                    next.data.insert(key, v);
                }
                None => {
                    next.data.remove(&key);
                }
            }
        }
        if next == self.item {
            return Ok(next);
        }
        next.updated_at = now_ms().max(self.item.updated_at + 1);
        self.commit(next, None, Some(&by.user)).await?;
        Ok(self.item.clone())
    }

    async fn on_comment(&mut self, by: &Booker, body: String) -> CoreResult<CommentView> {
        let body = body.trim().to_string();
        if body.is_empty() || body.chars().count() > MAX_COMMENT {
            return Err(CoreError::invalid(format!(
                "a comment has 1–{MAX_COMMENT} characters"
            )));
        }
        // Members are looked up only when someone is mentioned.
        let members = if body.contains('@') {
            self.org().snapshot().await?.members
        } else {
            Vec::new()
        };
        let mentions = crate::domain::mentions::mentioned(
            &body,
            members
                .iter()
                .filter(|m| m.active)
                .map(|m| (&m.user.id, m.user.email.as_str())),
        );
        let comment = CommentView {
            id: new_id(),
            at: now_ms(),
            by: by.user.clone(),
            by_name: by.name.clone(),
            body,
            mentions: mentions.clone(),
        };
        self.journal
            .commit(
                writes::add_comment(&self.item.id, &comment),
                vec![StreamEvent::Item(ItemEvent::Commented {
                    comment: comment.clone(),
                })],
                Some(&by.user),
            )
            .await?;
        self.comments.push(comment.clone());
        notices::send_comment(
            &self.kernel,
            &self.org,
            Author::new(&by.user, &by.name),
            Thread::Item {
                item: self.item.id.clone(),
                key: self.item.key.clone(),
            },
            &comment,
            self.item.assignee.as_ref(),
        );
        Ok(comment)
    }

    async fn on_attach(
        &mut self,
        by: &Booker,
        kept: crate::files::Kept,
    ) -> CoreResult<AttachmentView> {
        attachments::may_attach(Holder::Item, self.attachments.len())?;
        let attachment = kept.attachment(&by.user);
        self.journal
            .commit(
                writes::add_attachment(
                    self.org.as_str(),
                    &format!("item:{}", self.item.id),
                    None,
                    &attachment,
                ),
                vec![StreamEvent::Item(ItemEvent::AttachmentAdded {
                    attachment: attachment.clone(),
                })],
                Some(&by.user),
            )
            .await?;
        drop(kept);
        self.attachments.push(attachment.clone());
        Ok(attachment)
    }

    async fn on_detach(&mut self, by: &Booker, id: &str) -> CoreResult<()> {
        let gone = self
            .attachments
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or(CoreError::NotFound)?;
        attachments::may_remove(Holder::Item, &gone, &by.user, by.admin)?;
        self.journal
            .commit(
                writes::delete_attachment(&gone.id),
                vec![StreamEvent::Item(ItemEvent::AttachmentRemoved {
                    id: gone.id.clone(),
                })],
                Some(&by.user),
            )
            .await?;
        self.attachments.retain(|a| a.id != id);
        self.kernel
            .files()
            .release(self.kernel.store(), &gone.sha256)
            .await;
        Ok(())
    }

    async fn on_booking_changed(&mut self, booking: BookingView) {
        if booking.step.as_deref() != Some(self.item.step.as_str()) {
            return; // A booking of a step the item has left.
        }
        let next_booking = item_booking(&booking);
        if self.item.booking.as_ref() == Some(&next_booking) {
            return;
        }
        let mut next = self.item.clone();
        next.booking = Some(next_booking);
        next.updated_at = now_ms().max(self.item.updated_at + 1);
        if let Err(e) = self.commit(next, None, None).await {
            tracing::warn!(item = %self.item.id, error = %e, "booking change not recorded; read back at the next load");
            return;
        }
        self.tell_board(self.item.clone()).await;
        if booking.state == BookingState::Completed {
            self.advance(&booking).await;
        }
    }

    /// A completed booking moves the item on, along the first forward transition the
    /// rules allow (none: it stays, and a person moves it).
    async fn advance(&mut self, booking: &BookingView) {
        let Ok(workflow) = self.workflow().await else {
            return;
        };
        let facts = ItemFacts {
            step: &self.item.step,
            data: &self.item.data,
            booking: Some(BookingState::Completed),
        };
        let Some(t) = workflow::advance(&workflow.steps, &workflow.transitions, &facts) else {
            return;
        };
        let by_user = booking
            .completed_by
            .clone()
            .unwrap_or_else(|| booking.booked_by.clone());
        let name = self
            .org()
            .member(by_user.clone())
            .await
            .ok()
            .flatten()
            .map_or_else(|| "cflows".to_string(), |m| m.user.display_name);
        let by = Booker {
            user: by_user,
            name,
            admin: false,
        };
        let change = MoveRequest {
            from: self.item.step.clone(),
            to: t.to.clone(),
            comment: Some("booking completed".into()),
            booking_start: None,
        };
        match self.on_move(&by, change).await {
            Ok((item, workflow)) => self.after_move(&by, &item, &workflow).await,
            Err(e) => {
                tracing::warn!(item = %self.item.id, error = %e, "completed booking did not advance the item");
            }
        }
    }

    async fn on_relocate(&mut self, from: String, to: String, by: UserId) {
        if self.item.step != from {
            return;
        }
        let Ok(workflow) = self.workflow().await else {
            return;
        };
        let Some(target) = workflow.steps.iter().find(|s| s.id == to) else {
            return;
        };
        let now = now_ms();
        let mut next = self.item.clone();
        next.step = to.clone();
        next.entered_at = now;
        next.version = workflow.version;
        next.done = target.terminal;
        next.booking = None;
        next.updated_at = now.max(self.item.updated_at + 1);
        let entry = HistoryEntry {
            at: now,
            by: by.clone(),
            by_name: "workflow change".into(),
            from: Some(from),
            to,
            label: "relocated".into(),
            comment: Some(format!(
                "its step was removed in version {}",
                workflow.version
            )),
        };
        match self.commit(next, Some(entry), Some(&by)).await {
            Ok(()) => self.tell_board(self.item.clone()).await,
            Err(e) => tracing::error!(item = %self.item.id, error = %e, "item not relocated"),
        }
    }
}

/// Tells item `booking.work_item` that its booking changed (from the `TeamCalendar`,
/// after its commit). Sent in order; the item ignores bookings of steps it has left.
pub(crate) async fn booking_changed(kernel: &Kernel, org: &OrgId, booking: BookingView) {
    let Some(item) = booking.work_item.clone() else {
        return;
    };
    let msg = ItemMsg::BookingChanged {
        booking: Box::new(booking),
    };
    // Only an item of the booking's organization hears of it.
    if let Err(e) = kernel.work_items().send_in(kernel, org, &item, msg).await {
        tracing::warn!(%item, error = %e, "work item not told of its booking; it reads it back when it loads");
    }
}

/// A typed handle on one work item (of one organization).
#[derive(Clone)]
pub struct WorkItemHandle {
    kernel: Kernel,
    org: OrgId,
    item: ItemId,
}

impl WorkItemHandle {
    /// A handle on `item` of `org` (nothing is checked until the first call).
    pub fn new(kernel: &Kernel, org: &OrgId, item: &ItemId) -> Self {
        Self {
            kernel: kernel.clone(),
            org: org.clone(),
            item: item.clone(),
        }
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<CoreResult<T>>) -> ItemMsg,
    ) -> CoreResult<T> {
        self.kernel
            .work_items()
            .call_in(&self.kernel, &self.org, &self.item, build)
            .await?
    }

    /// The item, its history and comments.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign item.
    pub async fn snapshot(&self) -> CoreResult<ItemSnapshot> {
        self.call(|reply| ItemMsg::Snapshot { reply }).await
    }

    /// The last position of `item:{id}`.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign item.
    pub async fn head(&self) -> CoreResult<u64> {
        self.call(|reply| ItemMsg::Head { reply }).await
    }

    /// Moves the item along a transition.
    ///
    /// # Errors
    /// `Conflict` when it is no longer in `change.from` (naming its step) or a rule
    /// blocks the move (required field, booking not completed, condition);
    /// `InvalidInput` when no transition leads there; `NoCapacity` when the requested
    /// hold does not fit; `NotFound`.
    pub async fn move_to(&self, by: Booker, change: MoveRequest) -> CoreResult<WorkItemView> {
        self.call(|reply| ItemMsg::Move { by, change, reply }).await
    }

    /// Books the step the item is in: a hold of its team from `start` for the step's job
    /// type, linked to the item (then confirmed or cancelled on the team's calendar).
    ///
    /// # Errors
    /// `InvalidInput` when the step needs no booking; `Conflict` when it has one open
    /// (held, confirmed or completed); `NoCapacity` with free slots when it does not
    /// fit; `NotFound`.
    pub async fn book(&self, by: Booker, start: i64) -> CoreResult<WorkItemView> {
        self.call(|reply| ItemMsg::Book { by, start, reply }).await
    }

    /// Changes title, assignee, priority, due date or field values.
    ///
    /// # Errors
    /// `InvalidInput` naming the wrong value; `NotFound`.
    pub async fn update(&self, by: Booker, change: ItemChange) -> CoreResult<WorkItemView> {
        self.call(|reply| ItemMsg::Update { by, change, reply })
            .await
    }

    /// Adds a comment (mentions notify).
    ///
    /// # Errors
    /// `InvalidInput` for an empty or too long body; `NotFound`.
    pub async fn comment(&self, by: Booker, body: String) -> CoreResult<CommentView> {
        self.call(|reply| ItemMsg::Comment { by, body, reply })
            .await
    }

    /// Attaches bytes already kept to the item (removed again when refused).
    ///
    /// # Errors
    /// `InvalidInput` (too many), `NotFound`.
    pub async fn attach(&self, by: Booker, kept: crate::files::Kept) -> CoreResult<AttachmentView> {
        let sha = kept.sha256.clone();
        let r = self
            .call(|reply| ItemMsg::Attach {
                by,
                kept: Box::new(kept),
                reply,
            })
            .await;
        crate::files::discard_if_refused(&self.kernel, &sha, r).await
    }

    /// Removes an attachment (who attached it, or an admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn detach(&self, by: Booker, attachment: String) -> CoreResult<()> {
        self.call(|reply| ItemMsg::Detach {
            by,
            attachment,
            reply,
        })
        .await
    }

    /// Moves the item out of a removed step (from the Org, after its commit).
    pub async fn relocate(&self, from: String, to: String, by: UserId) {
        let msg = ItemMsg::Relocate { from, to, by };
        if let Err(e) = self
            .kernel
            .work_items()
            .send_in(&self.kernel, &self.org, &self.item, msg)
            .await
        {
            tracing::error!(item = %self.item, error = %e, "item not relocated");
        }
    }
}

#[cfg(test)]
mod tests;
