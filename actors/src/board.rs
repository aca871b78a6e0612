//! `Board(workflow_id)`: the single writer of `board:{workflow}` — the cards of a
//! workflow's items as the board shows them — and of the workflow's item numbers and
//! saved filters. It creates items (numbering them `KEY-n` and writing the item's first
//! journal row in the same transaction); afterwards each item's `WorkItem` owns it and
//! tells the board after every change it committed.
//!
//! A change the item committed but the board never heard of (a crash in between) is not
//! lost: the board records what it last published of each item (`board_card`) and, when
//! it loads, publishes again every item that changed since.

use crate::domain::validate;
use crate::domain::workflow::check_value;
use crate::error::{CoreError, CoreResult};
use crate::kernel::{Entity, Journal, Kernel};
use crate::org::OrgHandle;
use crate::store::{FilterRecord, new_id, writes};
use crate::team_calendar::Booker;
use cflows_protocol::{
    BoardEvent, BoardFilter, BoardSnapshot, CardView, HistoryEntry, ItemEvent, ItemId, NewItem,
    OrgId, SavedFilter, StreamName, UserId, WorkItemView, WorkflowId, WorkflowView,
};
use ractor::RpcReplyPort;
use std::collections::HashMap;

/// Done items stay on the board this long after their last change (ms): 7 days.
const DONE_VISIBLE_MS: i64 = 7 * 24 * 3_600_000;
/// Most saved filters per member and board.
pub const MAX_FILTERS: usize = 20;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Messages the `Board` handles (tenancy is checked by the registry's `call_in`).
pub enum BoardMsg {
    Snapshot {
        reply: RpcReplyPort<CoreResult<BoardSnapshot>>,
    },
    Head {
        reply: RpcReplyPort<CoreResult<u64>>,
    },
    CreateItem {
        by: Booker,
        input: NewItem,
        reply: RpcReplyPort<CoreResult<WorkItemView>>,
    },
    /// From a `WorkItem`, after it committed a change.
    CardChanged { item: Box<WorkItemView> },
    /// From the Org, after it saved a new version.
    DefinitionChanged { workflow: Box<WorkflowView> },
    Filters {
        user: UserId,
        reply: RpcReplyPort<CoreResult<Vec<SavedFilter>>>,
    },
    SaveFilter {
        user: UserId,
        name: String,
        filter: BoardFilter,
        reply: RpcReplyPort<CoreResult<SavedFilter>>,
    },
    DeleteFilter {
        user: UserId,
        id: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
}

/// One workflow's board, hot.
pub struct Board {
    kernel: Kernel,
    org: OrgId,
    workflow: WorkflowView,
    /// By item id.
    cards: HashMap<ItemId, CardView>,
    next_number: u32,
    journal: Journal,
}

impl Entity for Board {
    type Id = WorkflowId;
    type Msg = BoardMsg;
    const KIND: &'static str = "board";

    fn decides(msg: &BoardMsg) -> bool {
        !matches!(
            msg,
            BoardMsg::Snapshot { .. } | BoardMsg::Head { .. } | BoardMsg::Filters { .. }
        )
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Board(id) => Some(id.clone()),
            _ => None,
        }
    }
    const SCOPE_TABLE: Option<&'static str> = Some("workflow");

    async fn load(kernel: &Kernel, id: &WorkflowId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Board(id.clone())).await?;
        let record = store
            .workflow(id.as_str())
            .await?
            .ok_or(CoreError::NotFound)?;
        let org = OrgId::new(record.org.clone());
        let next_number = store.board(id.as_str()).await?.map_or(1, |b| b.next_number);
        let items = store
            .items_of_workflow(id.as_str(), now_ms() - DONE_VISIBLE_MS)
            .await?;
        let published: HashMap<String, i64> = store
            .board_cards(id.as_str())
            .await?
            .into_iter()
            .map(|c| (c.id, c.updated_at))
            .collect();
        let journal = journal.in_org(&org);
        let mut board = Self {
            kernel: kernel.clone(),
            org,
            workflow: record.into(),
            cards: HashMap::new(),
            next_number,
            journal,
        };
        // Changes the items committed that this board never published.
        let mut missed = Vec::new();
        for item in items {
            let item = WorkItemView::from(item);
            if published.get(item.id.as_str()) != Some(&item.updated_at) {
                missed.push(item.clone());
            }
            board.cards.insert(item.id.clone(), CardView::from(&item));
        }
        for item in missed {
            board.publish_card(&item).await?;
        }
        Ok(board)
    }

    async fn handle(&mut self, _kernel: &Kernel, msg: BoardMsg) {
        match msg {
            BoardMsg::Snapshot { reply } => {
                let _ = reply.send(Ok(self.snapshot()));
            }
            BoardMsg::Head { reply } => {
                let _ = reply.send(Ok(self.journal.seq()));
            }
            BoardMsg::CreateItem { by, input, reply } => {
                let _ = reply.send(self.on_create_item(&by, input).await);
            }
            BoardMsg::CardChanged { item } => {
                let known = self.cards.get(&item.id).map(|c| c.updated_at);
                if known.is_none_or(|t| t <= item.updated_at)
                    && let Err(e) = self.publish_card(&item).await
                {
                    tracing::warn!(item = %item.id, error = %e, "card not published; it is published when the board next loads");
                }
            }
            BoardMsg::DefinitionChanged { workflow } => {
                if workflow.version > self.workflow.version {
                    let event = BoardEvent::WorkflowChanged {
                        workflow: workflow.clone(),
                    };
                    if self
                        .journal
                        .commit(writes::nothing(), vec![event.into()], None)
                        .await
                        .is_ok()
                    {
                        self.workflow = *workflow;
                    }
                }
            }
            BoardMsg::Filters { user, reply } => {
                let _ = reply.send(self.filters(&user).await);
            }
            BoardMsg::SaveFilter {
                user,
                name,
                filter,
                reply,
            } => {
                let _ = reply.send(self.on_save_filter(user, name, filter).await);
            }
            BoardMsg::DeleteFilter { user, id, reply } => {
                let _ = reply.send(self.on_delete_filter(user, id).await);
            }
        }
    }

    fn journals(&mut self) -> Vec<&mut Journal> {
        vec![&mut self.journal]
    }

    fn scope(&self) -> Option<&OrgId> {
        Some(&self.org)
    }
}

impl Board {
    fn snapshot(&self) -> BoardSnapshot {
        let mut cards: Vec<CardView> = self.cards.values().cloned().collect();
        cards.sort_by(|a, b| a.entered_at.cmp(&b.entered_at).then(a.key.cmp(&b.key)));
        BoardSnapshot {
            workflow: self.workflow.clone(),
            cards,
            seq: self.journal.seq(),
        }
    }

    /// Journals `item`'s card as it is now.
    async fn publish_card(&mut self, item: &WorkItemView) -> CoreResult<()> {
        let card = CardView::from(item);
        let event = if self.cards.contains_key(&item.id) {
            BoardEvent::CardChanged { card: card.clone() }
        } else {
            BoardEvent::CardAdded { card: card.clone() }
        };
        self.journal
            .commit(writes::board_card(item), vec![event.into()], None)
            .await?;
        self.cards.insert(item.id.clone(), card);
        Ok(())
    }

    async fn on_create_item(&mut self, by: &Booker, input: NewItem) -> CoreResult<WorkItemView> {
        let org = OrgHandle::get(&self.kernel, &self.org).await?;
        // The current definition (the Org's word, not this board's copy) and that the
        // workflow is not archived.
        let workflow = org
            .workflows()
            .await?
            .into_iter()
            .find(|w| w.id == self.workflow.id)
            .ok_or_else(|| CoreError::Conflict("this workflow is archived".into()))?;
        let title = validate::name("Title", &input.title)?;
        if title.chars().count() > 200 {
            return Err(CoreError::invalid(
                "the title is longer than 200 characters",
            ));
        }
        if let Some(due) = &input.due {
            validate_due(due)?;
        }
        if let Some(assignee) = &input.assignee {
            org.active_member(assignee)
                .await
                .map_err(|_| CoreError::invalid("the assignee is not a member"))?;
        }
        let start = workflow
            .steps
            .iter()
            .find(|s| s.start)
            .ok_or_else(|| CoreError::invalid("the workflow has no start step"))?;
        for (key, value) in &input.data {
            let field = start.fields.iter().find(|f| &f.key == key).ok_or_else(|| {
                CoreError::invalid(format!(
                    "\"{key}\" is not a field of the start step {}",
                    start.name
                ))
            })?;
            check_value(field, value).map_err(CoreError::InvalidInput)?;
        }
        let now = now_ms();
        let number = self.next_number;
        let item = WorkItemView {
            id: ItemId::new(new_id()),
            key: format!("{}-{number}", workflow.key),
            title,
            workflow: workflow.id.clone(),
            version: workflow.version,
            step: start.id.clone(),
            entered_at: now,
            done: false,
            assignee: input.assignee,
            priority: input.priority,
            due: input.due,
            data: input.data,
            booking: None,
            created_by: by.user.clone(),
            created_at: now,
            updated_at: now,
        };
        let entry = HistoryEntry {
            at: now,
            by: by.user.clone(),
            by_name: by.name.clone(),
            from: None,
            to: start.id.clone(),
            label: "created".into(),
            comment: None,
        };
        let item_rows = crate::kernel::journal::rows(
            &StreamName::Item(item.id.clone()),
            0,
            &[ItemEvent::ItemCreated {
                item: Box::new(item.clone()),
                entry: entry.clone(),
            }
            .into()],
            Some(&by.user),
            Some(&self.org),
        );
        let card = CardView::from(&item);
        self.journal
            .commit_with(
                writes::create_item(self.org.as_str(), &item, &entry, number + 1),
                vec![BoardEvent::CardAdded { card: card.clone() }.into()],
                Some(&by.user),
                item_rows,
            )
            .await?;
        self.next_number = number + 1;
        self.cards.insert(item.id.clone(), card);
        Ok(item)
    }

    async fn filters(&self, user: &UserId) -> CoreResult<Vec<SavedFilter>> {
        Ok(self
            .journal
            .store()
            .board_filters(self.workflow.id.as_str(), user.as_str())
            .await?
            .into_iter()
            .map(|f| SavedFilter {
                id: f.id,
                name: f.name,
                filter: f.filter,
            })
            .collect())
    }

    async fn on_save_filter(
        &mut self,
        user: UserId,
        name: String,
        filter: BoardFilter,
    ) -> CoreResult<SavedFilter> {
        let name = validate::name("Filter name", &name)?;
        // A filter names a team and a person of this organization, never a made-up or
        // another organization's id (it would match nothing, silently).
        let org = OrgHandle::get(&self.kernel, &self.org).await?;
        if let Some(team) = &filter.team
            && org.team(team.clone()).await?.is_none()
        {
            return Err(CoreError::invalid(
                "the filter's team is not one of this organization's: choose a team from the list",
            ));
        }
        if let Some(person) = &filter.assignee
            && org.member(person.clone()).await?.is_none()
        {
            return Err(CoreError::invalid(
                "the filter's assignee is not a member of this organization: choose someone from the list",
            ));
        }
        let existing = self.filters(&user).await?;
        let id = existing
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&name))
            .map(|f| f.id.clone());
        if id.is_none() && existing.len() >= MAX_FILTERS {
            return Err(CoreError::invalid(format!(
                "at most {MAX_FILTERS} saved filters per board"
            )));
        }
        let record = FilterRecord {
            id: id.unwrap_or_else(new_id),
            org: self.org.to_string(),
            workflow: self.workflow.id.to_string(),
            user: user.to_string(),
            name,
            filter,
            created_at: now_ms(),
        };
        // Private to its member: no stream event.
        self.journal
            .commit(writes::put_filter(&record), Vec::new(), Some(&user))
            .await?;
        Ok(SavedFilter {
            id: record.id,
            name: record.name,
            filter: record.filter,
        })
    }

    async fn on_delete_filter(&mut self, user: UserId, id: String) -> CoreResult<()> {
        if !self.filters(&user).await?.iter().any(|f| f.id == id) {
            return Err(CoreError::NotFound);
        }
        self.journal
            .commit(writes::delete_filter(&id), Vec::new(), Some(&user))
            .await
    }
}

/// Checks a due date (`YYYY-MM-DD`).
///
/// # Errors
/// `InvalidInput` when it is not a calendar date.
pub fn validate_due(due: &str) -> CoreResult<()> {
    if due.len() == 10 && chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").is_ok() {
        Ok(())
    } else {
        Err(CoreError::invalid("due must be a date as YYYY-MM-DD"))
    }
}

/// A typed handle on one workflow's board (of one organization).
#[derive(Clone)]
pub struct BoardHandle {
    kernel: Kernel,
    org: OrgId,
    workflow: WorkflowId,
}

impl BoardHandle {
    /// A handle on `workflow`'s board in `org` (nothing is checked until the first call).
    pub fn new(kernel: &Kernel, org: &OrgId, workflow: &WorkflowId) -> Self {
        Self {
            kernel: kernel.clone(),
            org: org.clone(),
            workflow: workflow.clone(),
        }
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<CoreResult<T>>) -> BoardMsg,
    ) -> CoreResult<T> {
        self.kernel
            .boards()
            .call_in(&self.kernel, &self.org, &self.workflow, build)
            .await?
    }

    /// Sends without waiting for the board to handle it (in order, from one sender).
    async fn tell(&self, msg: BoardMsg) {
        let (kernel, workflow) = (&self.kernel, &self.workflow);
        if let Err(e) = kernel
            .boards()
            .send_in(kernel, &self.org, workflow, msg)
            .await
        {
            tracing::warn!(%workflow, error = %e, "board not told; it catches up when it next loads");
        }
    }

    /// The board's stream state.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign workflow.
    pub async fn snapshot(&self) -> CoreResult<BoardSnapshot> {
        self.call(|reply| BoardMsg::Snapshot { reply }).await
    }

    /// The last position of `board:{workflow}`.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign workflow.
    pub async fn head(&self) -> CoreResult<u64> {
        self.call(|reply| BoardMsg::Head { reply }).await
    }

    /// Creates an item in the workflow's start step.
    ///
    /// # Errors
    /// `InvalidInput` (title, due date, assignee, field values), `Conflict` for an
    /// archived workflow, `NotFound`.
    pub async fn create_item(&self, by: Booker, input: NewItem) -> CoreResult<WorkItemView> {
        self.call(|reply| BoardMsg::CreateItem { by, input, reply })
            .await
    }

    /// Tells the board an item changed (after the item's commit).
    pub async fn card_changed(&self, item: WorkItemView) {
        self.tell(BoardMsg::CardChanged {
            item: Box::new(item),
        })
        .await;
    }

    /// Tells the board a new version of its workflow was saved.
    pub async fn definition_changed(&self, workflow: WorkflowView) {
        self.tell(BoardMsg::DefinitionChanged {
            workflow: Box::new(workflow),
        })
        .await;
    }

    /// A member's saved filters.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign workflow.
    pub async fn filters(&self, user: UserId) -> CoreResult<Vec<SavedFilter>> {
        self.call(|reply| BoardMsg::Filters { user, reply }).await
    }

    /// Saves (or replaces, by name) a member's filter.
    ///
    /// # Errors
    /// `InvalidInput` (name, too many), `NotFound`.
    pub async fn save_filter(
        &self,
        user: UserId,
        name: String,
        filter: BoardFilter,
    ) -> CoreResult<SavedFilter> {
        self.call(|reply| BoardMsg::SaveFilter {
            user,
            name,
            filter,
            reply,
        })
        .await
    }

    /// Deletes one of a member's filters.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_filter(&self, user: UserId, id: String) -> CoreResult<()> {
        self.call(|reply| BoardMsg::DeleteFilter { user, id, reply })
            .await
    }
}
