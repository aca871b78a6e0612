//! Records, reads and writes of workflows and kiosks (the Org actor's), work items with
//! their history and comments (each item's WorkItem actor's), and boards (each
//! workflow's Board actor's: item numbers, published cards, saved filters).

use super::writes::Write;
use super::{Store, StoreResult};
use cflows_protocol::{
    BoardFilter, CommentView, FieldValue, HistoryEntry, ItemBooking, ItemId, KioskId, KioskScope,
    KioskView, Priority, StepDef, TransitionDef, UserId, WorkItemView, WorkflowId, WorkflowView,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// A workflow row (its current version).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkflowRecord {
    pub id: String,
    pub org: String,
    pub name: String,
    pub key: String,
    pub version: u32,
    pub steps: Vec<StepDef>,
    pub transitions: Vec<TransitionDef>,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<WorkflowRecord> for WorkflowView {
    fn from(r: WorkflowRecord) -> Self {
        Self {
            id: WorkflowId::new(r.id),
            name: r.name,
            key: r.key,
            version: r.version,
            steps: r.steps,
            transitions: r.transitions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A saved version of a workflow, as saved (read by `cflows check`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkflowVersionRecord {
    pub id: String,
    pub org: String,
    pub workflow: String,
    pub version: u32,
    pub steps: Vec<StepDef>,
    pub transitions: Vec<TransitionDef>,
    /// Removed step → the step its items moved to.
    pub relocations: BTreeMap<String, String>,
    pub saved_by: String,
    pub saved_at: i64,
}

/// A work item row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkItemRecord {
    pub id: String,
    pub org: String,
    pub workflow: String,
    pub key: String,
    pub title: String,
    pub version: u32,
    pub step: String,
    pub entered_at: i64,
    pub done: bool,
    pub assignee: Option<String>,
    pub priority: Priority,
    pub due: Option<String>,
    pub data: BTreeMap<String, FieldValue>,
    pub booking: Option<ItemBooking>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<WorkItemRecord> for WorkItemView {
    fn from(r: WorkItemRecord) -> Self {
        Self {
            id: ItemId::new(r.id),
            key: r.key,
            title: r.title,
            workflow: WorkflowId::new(r.workflow),
            version: r.version,
            step: r.step,
            entered_at: r.entered_at,
            done: r.done,
            assignee: r.assignee.map(UserId::new),
            priority: r.priority,
            due: r.due,
            data: r.data,
            booking: r.booking,
            created_by: UserId::new(r.created_by),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A history row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryRecord {
    pub item: String,
    pub at: i64,
    pub by: String,
    pub by_name: String,
    pub from: Option<String>,
    pub to: String,
    pub label: String,
    pub comment: Option<String>,
}

impl From<EntryRecord> for HistoryEntry {
    fn from(r: EntryRecord) -> Self {
        Self {
            at: r.at,
            by: UserId::new(r.by),
            by_name: r.by_name,
            from: r.from,
            to: r.to,
            label: r.label,
            comment: r.comment,
        }
    }
}

/// A comment row (of a work item, or of a task: `item` is what it is on).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommentRecord {
    pub id: String,
    pub item: String,
    pub at: i64,
    pub by: String,
    pub by_name: String,
    pub body: String,
    pub mentions: Vec<String>,
}

impl From<CommentRecord> for CommentView {
    fn from(r: CommentRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            by: UserId::new(r.by),
            by_name: r.by_name,
            body: r.body,
            mentions: r.mentions.into_iter().map(UserId::new).collect(),
        }
    }
}

/// A board row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoardRecord {
    pub id: String,
    pub org: String,
    pub next_number: u32,
}

/// What a board last published of an item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoardCardRecord {
    pub id: String,
    pub workflow: String,
    pub updated_at: i64,
}

/// A saved board filter row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FilterRecord {
    pub id: String,
    pub org: String,
    pub workflow: String,
    pub user: String,
    pub name: String,
    pub filter: BoardFilter,
    pub created_at: i64,
}

/// A kiosk row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KioskRecord {
    pub id: String,
    pub org: String,
    pub name: String,
    pub scope: KioskScope,
    pub token_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_seen: Option<i64>,
}

impl From<KioskRecord> for KioskView {
    fn from(r: KioskRecord) -> Self {
        Self {
            id: KioskId::new(r.id),
            name: r.name,
            scope: r.scope,
            created_by: UserId::new(r.created_by),
            created_at: r.created_at,
            last_seen: r.last_seen,
        }
    }
}

/// A journal row of an organization, for the audit log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditRecord {
    pub stream: String,
    pub seq: u64,
    pub kind: String,
    pub actor: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// What the audit log is filtered by.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// A stream name prefix: `item:` for every item, `item:{id}` for one.
    pub stream_prefix: Option<String>,
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    pub limit: u32,
}

pub(super) const WORKFLOW_FIELDS: &str = "record::id(id) AS id, org, name, key, version, steps, transitions, archived, created_at, updated_at";
pub(super) const WORK_ITEM_FIELDS: &str = "record::id(id) AS id, org, workflow, key, title, version, step, entered_at, done, assignee, priority, due, data, booking, created_by, created_at, updated_at";
pub(super) const BOARD_FIELDS: &str = "record::id(id) AS id, org, next_number";
pub(super) const BOARD_CARD_FIELDS: &str = "record::id(id) AS id, workflow, updated_at";
pub(super) const FILTER_FIELDS: &str =
    "record::id(id) AS id, org, workflow, user, name, filter, created_at";
pub(super) const WORKFLOW_VERSION_FIELDS: &str = "record::id(id) AS id, org, workflow, version, steps, transitions, relocations, saved_by, saved_at";
pub(super) const ENTRY_FIELDS: &str = "item, at, by, by_name, from, to, label, comment";
pub(super) const COMMENT_FIELDS: &str =
    "record::id(id) AS id, item, at, by, by_name, body, mentions";
pub(super) const KIOSK_FIELDS: &str =
    "record::id(id) AS id, org, name, scope, token_hash, created_by, created_at, last_seen";

impl Store {
    /// The workflows of an organization (archived ones too), by name.
    ///
    /// # Errors
    /// The query fails.
    pub async fn workflows_of_org(&self, org: &str) -> StoreResult<Vec<WorkflowRecord>> {
        self.rows(
            &format!("SELECT {WORKFLOW_FIELDS} FROM workflow WHERE org = $org ORDER BY name"),
            json!({ "org": org }),
        )
        .await
    }

    /// One workflow.
    ///
    /// # Errors
    /// The query fails.
    pub async fn workflow(&self, id: &str) -> StoreResult<Option<WorkflowRecord>> {
        self.row(
            &format!("SELECT {WORKFLOW_FIELDS} FROM type::record('workflow', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// One work item.
    ///
    /// # Errors
    /// The query fails.
    pub async fn work_item(&self, id: &str) -> StoreResult<Option<WorkItemRecord>> {
        self.row(
            &format!("SELECT {WORK_ITEM_FIELDS} FROM type::record('work_item', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// The work item of `org` with identifier `key` (`VH-1042`).
    ///
    /// # Errors
    /// The query fails.
    pub async fn work_item_by_key(&self, org: &str, key: &str) -> StoreResult<Option<String>> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let row: Option<Id> = self
            .row(
                "SELECT record::id(id) AS id FROM work_item WHERE org = $org AND key = $key LIMIT 1",
                json!({ "org": org, "key": key }),
            )
            .await?;
        Ok(row.map(|r| r.id))
    }

    /// A workflow's items that are not done or were updated after `since` (Unix ms).
    ///
    /// # Errors
    /// The query fails.
    pub async fn items_of_workflow(
        &self,
        workflow: &str,
        since: i64,
    ) -> StoreResult<Vec<WorkItemRecord>> {
        self.rows(
            &format!(
                "SELECT {WORK_ITEM_FIELDS} FROM work_item WHERE workflow = $w AND (done = false OR updated_at > $since) ORDER BY created_at"
            ),
            json!({ "w": workflow, "since": since }),
        )
        .await
    }

    /// Ids of a workflow's items in any of `steps`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn items_in_steps(
        &self,
        workflow: &str,
        steps: &[&str],
    ) -> StoreResult<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            step: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT record::id(id) AS id, step FROM work_item WHERE workflow = $w AND step IN $steps",
                json!({ "w": workflow, "steps": steps }),
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.step)).collect())
    }

    /// An item's history, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn item_history(&self, item: &str) -> StoreResult<Vec<EntryRecord>> {
        self.rows(
            &format!("SELECT {ENTRY_FIELDS} FROM item_entry WHERE item = $item ORDER BY at, id"),
            json!({ "item": item }),
        )
        .await
    }

    /// The history of every item of a workflow (`(item, entry)`), oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn entries_of_workflow(&self, workflow: &str) -> StoreResult<Vec<EntryRecord>> {
        self.rows(
            &format!(
                "SELECT {ENTRY_FIELDS} FROM item_entry WHERE item IN (SELECT VALUE record::id(id) FROM work_item WHERE workflow = $w) ORDER BY at, id"
            ),
            json!({ "w": workflow }),
        )
        .await
    }

    /// An item's comments, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn item_comments(&self, item: &str) -> StoreResult<Vec<CommentRecord>> {
        self.rows(
            &format!(
                "SELECT {COMMENT_FIELDS} FROM item_comment WHERE item = $item ORDER BY at, id"
            ),
            json!({ "item": item }),
        )
        .await
    }

    /// A workflow's board row.
    ///
    /// # Errors
    /// The query fails.
    pub async fn board(&self, workflow: &str) -> StoreResult<Option<BoardRecord>> {
        self.row(
            &format!("SELECT {BOARD_FIELDS} FROM type::record('board', $id)"),
            json!({ "id": workflow }),
        )
        .await
    }

    /// What a board last published of each item.
    ///
    /// # Errors
    /// The query fails.
    pub async fn board_cards(&self, workflow: &str) -> StoreResult<Vec<BoardCardRecord>> {
        self.rows(
            &format!("SELECT {BOARD_CARD_FIELDS} FROM board_card WHERE workflow = $w"),
            json!({ "w": workflow }),
        )
        .await
    }

    /// A member's saved filters of a board.
    ///
    /// # Errors
    /// The query fails.
    pub async fn board_filters(
        &self,
        workflow: &str,
        user: &str,
    ) -> StoreResult<Vec<FilterRecord>> {
        self.rows(
            &format!("SELECT {FILTER_FIELDS} FROM board_filter WHERE workflow = $w AND user = $u ORDER BY name"),
            json!({ "w": workflow, "u": user }),
        )
        .await
    }

    /// The kiosks of an organization, by name.
    ///
    /// # Errors
    /// The query fails.
    pub async fn kiosks_of_org(&self, org: &str) -> StoreResult<Vec<KioskRecord>> {
        self.rows(
            &format!("SELECT {KIOSK_FIELDS} FROM kiosk WHERE org = $org ORDER BY name"),
            json!({ "org": org }),
        )
        .await
    }

    /// The kiosk whose secret token hashes to `hash`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn kiosk_by_token_hash(&self, hash: &str) -> StoreResult<Option<KioskRecord>> {
        self.row(
            &format!("SELECT {KIOSK_FIELDS} FROM kiosk WHERE token_hash = $h LIMIT 1"),
            json!({ "h": hash }),
        )
        .await
    }

    /// The bookings linked to a work item, newest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn bookings_of_item(&self, item: &str) -> StoreResult<Vec<super::BookingRecord>> {
        self.rows(
            &format!(
                "SELECT {} FROM booking WHERE work_item = $item ORDER BY created_at DESC",
                super::capacity::BOOKING_FIELDS
            ),
            json!({ "item": item }),
        )
        .await
    }

    /// An organization's journal rows, newest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn audit(&self, org: &str, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        let mut sql = String::from(
            "SELECT stream, seq, kind, actor, <string> at AS at FROM event WHERE org = $org",
        );
        if q.actor.is_some() {
            sql.push_str(" AND actor = $actor");
        }
        if q.stream_prefix.is_some() {
            sql.push_str(" AND string::starts_with(stream, $prefix)");
        }
        if q.from.is_some() {
            sql.push_str(" AND at >= time::from_millis($from)");
        }
        if q.to.is_some() {
            sql.push_str(" AND at < time::from_millis($to)");
        }
        sql.push_str(" ORDER BY at DESC LIMIT $limit");
        self.rows(
            &sql,
            json!({ "org": org, "actor": q.actor, "prefix": q.stream_prefix,
                    "from": q.from, "to": q.to, "limit": q.limit }),
        )
        .await
    }
}

/// Damage as a crash or a race would leave it, for the tests of recovery paths; never
/// called by cflows itself.
#[cfg(any(test, feature = "test-support"))]
impl Store {
    /// Forgets what the board published of `item` (a crash between the item's commit
    /// and the board's).
    ///
    /// # Errors
    /// The statement fails.
    pub async fn forget_board_card_for_tests(&self, item: &str) -> StoreResult<()> {
        self.run(
            "UPDATE type::record('board_card', $id) SET updated_at = 0",
            json!({ "id": item }),
        )
        .await
        .map(|_| ())
    }

    /// Puts `item` in `step` behind its actor's back (a move that landed in a step a new
    /// workflow version removed).
    ///
    /// # Errors
    /// The statement fails.
    pub async fn strand_item_for_tests(&self, item: &str, step: &str) -> StoreResult<()> {
        self.run(
            "UPDATE type::record('work_item', $id) SET step = $step",
            json!({ "id": item, "step": step }),
        )
        .await
        .map(|_| ())
    }
}

fn workflow_json(org: &str, w: &WorkflowView, archived: bool) -> serde_json::Value {
    json!({
        "org": org, "name": w.name, "key": w.key, "version": w.version, "steps": w.steps,
        "transitions": w.transitions, "archived": archived, "created_at": w.created_at,
        "updated_at": w.updated_at,
    })
}

/// A workflow's new version: the workflow row and the version's own row. `relocations`
/// maps removed steps to where their items went.
pub fn save_workflow(
    org: &str,
    w: &WorkflowView,
    relocations: &BTreeMap<String, String>,
    by: &UserId,
) -> Write {
    Write::new(
        "UPSERT type::record('workflow', $id) CONTENT $wf; \
         CREATE type::record('workflow_version', $vid) CONTENT $version;",
        json!({
            "id": w.id, "wf": workflow_json(org, w, false),
            "vid": format!("{}-{}", w.id, w.version),
            "version": {
                "org": org, "workflow": w.id, "version": w.version, "steps": w.steps,
                "transitions": w.transitions, "relocations": relocations, "saved_by": by,
                "saved_at": w.updated_at,
            },
        }),
    )
}

/// Archives a workflow (its board and items stay readable; no new items).
pub fn archive_workflow(id: &WorkflowId, now: i64) -> Write {
    Write::new(
        "UPDATE type::record('workflow', $id) SET archived = true, updated_at = $now;",
        json!({ "id": id, "now": now }),
    )
}

fn item_json(org: &str, i: &WorkItemView) -> serde_json::Value {
    json!({
        "org": org, "workflow": i.workflow, "key": i.key, "title": i.title,
        "version": i.version, "step": i.step, "entered_at": i.entered_at, "done": i.done,
        "assignee": i.assignee, "priority": i.priority, "due": i.due, "data": i.data,
        "booking": i.booking, "created_by": i.created_by, "created_at": i.created_at,
        "updated_at": i.updated_at,
    })
}

/// A new work item, its first history entry, and its board's next number.
pub fn create_item(
    org: &str,
    item: &WorkItemView,
    entry: &HistoryEntry,
    next_number: u32,
) -> Write {
    Write::new(
        "CREATE type::record('work_item', $id) CONTENT $item; \
         CREATE item_entry CONTENT $entry; \
         UPSERT type::record('board', $workflow) CONTENT { org: $org, next_number: $next };",
        json!({
            "id": item.id, "item": item_json(org, item), "entry": entry_json(&item.id, entry),
            "workflow": item.workflow, "org": org, "next": next_number,
        }),
    )
    .and(board_card(item))
}

fn entry_json(item: &ItemId, e: &HistoryEntry) -> serde_json::Value {
    json!({
        "item": item, "at": e.at, "by": e.by, "by_name": e.by_name, "from": e.from,
        "to": e.to, "label": e.label, "comment": e.comment,
    })
}

/// A work item as it is now (after a change).
pub fn put_item(org: &str, item: &WorkItemView) -> Write {
    Write::new(
        "UPSERT type::record('work_item', $item_id) CONTENT $item_content;",
        json!({ "item_id": item.id, "item_content": item_json(org, item) }),
    )
}

/// A moved work item and the history entry of its move.
pub fn move_item(org: &str, item: &WorkItemView, entry: &HistoryEntry) -> Write {
    put_item(org, item).and(Write::new(
        "CREATE item_entry CONTENT $entry;",
        json!({ "entry": entry_json(&item.id, entry) }),
    ))
}

/// A new comment.
pub fn add_comment(item: &ItemId, c: &CommentView) -> Write {
    Write::new(
        "CREATE type::record('item_comment', $id) CONTENT $comment;",
        json!({ "id": c.id, "comment": {
            "item": item, "at": c.at, "by": c.by, "by_name": c.by_name, "body": c.body,
            "mentions": c.mentions,
        }}),
    )
}

/// What the board published of an item.
pub fn board_card(item: &WorkItemView) -> Write {
    Write::new(
        "UPSERT type::record('board_card', $card_id) CONTENT { workflow: $card_wf, updated_at: $card_at };",
        json!({ "card_id": item.id, "card_wf": item.workflow, "card_at": item.updated_at }),
    )
}

/// A saved filter.
pub fn put_filter(f: &FilterRecord) -> Write {
    Write::new(
        "UPSERT type::record('board_filter', $id) CONTENT { org: $org, workflow: $workflow, user: $user, name: $name, filter: $filter, created_at: $created_at };",
        json!({ "id": f.id, "org": f.org, "workflow": f.workflow, "user": f.user,
                "name": f.name, "filter": f.filter, "created_at": f.created_at }),
    )
}

/// Deletes a saved filter.
pub fn delete_filter(id: &str) -> Write {
    Write::new(
        "DELETE type::record('board_filter', $id);",
        json!({ "id": id }),
    )
}

/// A new or changed kiosk.
pub fn put_kiosk(org: &str, k: &KioskView, token_hash: &str) -> Write {
    Write::new(
        "UPSERT type::record('kiosk', $id) CONTENT { org: $org, name: $name, scope: $scope, token_hash: $hash, created_by: $by, created_at: $at, last_seen: $seen };",
        json!({ "id": k.id, "org": org, "name": k.name, "scope": k.scope, "hash": token_hash,
                "by": k.created_by, "at": k.created_at, "seen": k.last_seen }),
    )
}

/// When a kiosk screen last connected.
pub fn kiosk_seen(id: &KioskId, at: i64) -> Write {
    Write::new(
        "UPDATE type::record('kiosk', $id) SET last_seen = $at;",
        json!({ "id": id, "at": at }),
    )
}

/// Revokes a kiosk.
pub fn delete_kiosk(id: &KioskId) -> Write {
    Write::new("DELETE type::record('kiosk', $id);", json!({ "id": id }))
}
