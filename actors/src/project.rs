//! `Project(project_id)`: the single writer of one project — its settings, members,
//! statuses, tasks with their comments and attachments — and of `project:{id}`. Every
//! event carries a line of the activity feed (who did what, when); the feed is the
//! journal itself, read back when the project loads.
//!
//! Who may do what: organization admins and the project's members read it and work on
//! its tasks; organization admins and the project's admins change the project and
//! delete tasks. Anyone else is told `NotFound`, exactly as for a missing project.

use crate::board::validate_due;
use crate::domain::attachments::{self, Holder};
use crate::domain::mentions::mentioned;
use crate::domain::validate;
use crate::error::{CoreError, CoreResult};
use crate::files::Kept;
use crate::kernel::{Entity, Journal, Kernel};
use crate::notices::{self, Author, Change, Notice, Thread};
use crate::org::OrgHandle;
use crate::store::{Write, new_id, writes};
use crate::team_calendar::Booker;
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{
    ActivityEntry, AttachmentView, CommentView, NewTask, OrgId, ProjectEvent, ProjectId,
    ProjectInput, ProjectSnapshot, ProjectView, StreamName, TaskChange, TaskLink, TaskStatus,
    TaskView, UserId, WorkflowView,
};
use ractor::RpcReplyPort;
use std::collections::VecDeque;

/// Activity lines kept in memory and sent in a snapshot.
pub const ACTIVITY_KEPT: usize = 100;
/// Most tasks in one project.
pub const MAX_TASKS: usize = 5000;
/// Most statuses of a project.
pub const MAX_STATUSES: usize = 20;
/// Longest task description (characters): the longest text of any message, which is
/// the codec's string limit (`max_string_chars`, characters too).
pub const MAX_DESCRIPTION: usize = cflows_protocol::wire::MAX_TEXT_CHARS as usize;
// Every other text limit fits inside the codec's, in the same unit.
const _: () = assert!(
    crate::work_item::MAX_COMMENT <= MAX_DESCRIPTION
        && crate::work_item::MAX_MOVE_COMMENT <= MAX_DESCRIPTION
        && crate::domain::validate::MAX_TEXT <= MAX_DESCRIPTION
);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Messages the `Project` handles (tenancy is checked by the registry's `call_in`).
pub enum ProjectMsg {
    Snapshot {
        by: Booker,
        reply: RpcReplyPort<CoreResult<ProjectSnapshot>>,
    },
    Head {
        by: Booker,
        reply: RpcReplyPort<CoreResult<u64>>,
    },
    Update {
        by: Booker,
        input: ProjectInput,
        reply: RpcReplyPort<CoreResult<ProjectView>>,
    },
    CreateTask {
        by: Booker,
        task: NewTask,
        reply: RpcReplyPort<CoreResult<TaskView>>,
    },
    UpdateTask {
        by: Booker,
        task: String,
        change: TaskChange,
        reply: RpcReplyPort<CoreResult<TaskView>>,
    },
    DeleteTask {
        by: Booker,
        task: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
    Comment {
        by: Booker,
        task: String,
        body: String,
        reply: RpcReplyPort<CoreResult<CommentView>>,
    },
    Attach {
        by: Booker,
        task: String,
        kept: Box<Kept>,
        reply: RpcReplyPort<CoreResult<AttachmentView>>,
    },
    Detach {
        by: Booker,
        task: String,
        attachment: String,
        reply: RpcReplyPort<CoreResult<()>>,
    },
}

/// One project, hot.
pub struct Project {
    kernel: Kernel,
    org: OrgId,
    project: ProjectView,
    next_number: u32,
    tasks: Vec<TaskView>,
    activity: VecDeque<ActivityEntry>,
    journal: Journal,
}

impl Entity for Project {
    type Id = ProjectId;
    type Msg = ProjectMsg;
    const KIND: &'static str = "project";

    fn decides(msg: &ProjectMsg) -> bool {
        !matches!(msg, ProjectMsg::Snapshot { .. } | ProjectMsg::Head { .. })
    }

    fn of_stream(stream: &StreamName) -> Option<Self::Id> {
        match stream {
            StreamName::Project(id) => Some(id.clone()),
            _ => None,
        }
    }
    const SCOPE_TABLE: Option<&'static str> = Some("project");

    async fn load(kernel: &Kernel, id: &ProjectId) -> CoreResult<Self> {
        let store = kernel.store();
        // Position first, then state (see `Journal::open`).
        let journal = Journal::open(kernel, StreamName::Project(id.clone())).await?;
        let record = store
            .project(id.as_str())
            .await?
            .ok_or(CoreError::NotFound)?;
        let org = OrgId::new(record.org.clone());
        let next_number = record.next_number;
        let mut tasks: Vec<TaskView> = store
            .tasks_of_project(id.as_str())
            .await?
            .into_iter()
            .map(TaskView::from)
            .collect();
        for c in store.task_comments_of_project(id.as_str()).await? {
            if let Some(t) = tasks.iter_mut().find(|t| t.id == c.item) {
                t.comments.push(c.into());
            }
        }
        for a in store.attachments_of_project(id.as_str()).await? {
            if let Some(t) = tasks
                .iter_mut()
                .find(|t| a.owner.strip_prefix("task:") == Some(t.id.as_str()))
            {
                t.attachments.push(a.into());
            }
        }
        let journal = journal.in_org(&org);
        // The feed is the journal: its latest rows.
        let mut activity = VecDeque::new();
        let stream = StreamName::Project(id.clone());
        let from = journal.seq().saturating_sub(ACTIVITY_KEPT as u64);
        for row in store.journal(&stream, from, ACTIVITY_KEPT as u32).await? {
            if let Ok(StreamEvent::Project(e)) = crate::kernel::journal::decode_journal(
                cflows_protocol::StreamKind::Project,
                &row.payload,
            ) {
                activity.push_back(e.activity().clone());
            }
        }
        let mut project = Self {
            kernel: kernel.clone(),
            org,
            project: record.into(),
            next_number,
            tasks,
            activity,
            journal,
        };
        project.refresh_statuses().await;
        Ok(project)
    }

    async fn handle(&mut self, _kernel: &Kernel, msg: ProjectMsg) {
        match msg {
            ProjectMsg::Snapshot { by, reply } => {
                let _ = reply.send(self.may_read(&by).map(|()| self.snapshot()));
            }
            ProjectMsg::Head { by, reply } => {
                let _ = reply.send(self.may_read(&by).map(|()| self.journal.seq()));
            }
            ProjectMsg::Update { by, input, reply } => {
                let _ = reply.send(self.on_update(&by, input).await);
            }
            ProjectMsg::CreateTask { by, task, reply } => {
                let _ = reply.send(self.on_create_task(&by, task).await);
            }
            ProjectMsg::UpdateTask {
                by,
                task,
                change,
                reply,
            } => {
                let _ = reply.send(self.on_update_task(&by, &task, change).await);
            }
            ProjectMsg::DeleteTask { by, task, reply } => {
                let _ = reply.send(self.on_delete_task(&by, &task).await);
            }
            ProjectMsg::Comment {
                by,
                task,
                body,
                reply,
            } => {
                let _ = reply.send(self.on_comment(&by, &task, body).await);
            }
            ProjectMsg::Attach {
                by,
                task,
                kept,
                reply,
            } => {
                let _ = reply.send(self.on_attach(&by, &task, *kept).await);
            }
            ProjectMsg::Detach {
                by,
                task,
                attachment,
                reply,
            } => {
                let _ = reply.send(self.on_detach(&by, &task, &attachment).await);
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

/// Statuses from a workflow's steps (a terminal step is done).
fn statuses_of(workflow: &WorkflowView) -> Vec<TaskStatus> {
    workflow
        .steps
        .iter()
        .map(|s| TaskStatus {
            id: s.id.clone(),
            name: s.name.clone(),
            done: s.terminal,
        })
        .collect()
}

/// Checks a project's own statuses.
fn check_statuses(statuses: &[TaskStatus]) -> CoreResult<Vec<TaskStatus>> {
    if statuses.is_empty() || statuses.len() > MAX_STATUSES {
        return Err(CoreError::invalid(format!(
            "a project has 1–{MAX_STATUSES} statuses"
        )));
    }
    let mut out: Vec<TaskStatus> = Vec::new();
    for s in statuses {
        let ok_id = !s.id.is_empty()
            && s.id.len() <= 40
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok_id {
            return Err(CoreError::invalid(format!(
                "status id \"{}\": 1–40 characters of a-z, 0-9, '-' and '_'",
                s.id
            )));
        }
        let name = validate::name("Status name", &s.name)?;
        if name.chars().count() > 80 {
            return Err(CoreError::invalid(
                "a status name has at most 80 characters",
            ));
        }
        if out
            .iter()
            .any(|o| o.id == s.id || o.name.eq_ignore_ascii_case(&name))
        {
            return Err(CoreError::invalid(format!(
                "status \"{name}\" appears twice"
            )));
        }
        out.push(TaskStatus {
            id: s.id.clone(),
            name,
            done: s.done,
        });
    }
    Ok(out)
}

/// The default key of a project: the first letters of its name's words.
fn key_from(name: &str) -> String {
    let key: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(char::is_ascii_alphanumeric))
        .map(|c| c.to_ascii_uppercase())
        .take(4)
        .collect();
    match key.chars().next() {
        Some(c) if c.is_ascii_uppercase() => key,
        _ => format!("P{}", &key[..key.len().min(3)]),
    }
}

fn check_key(key: &str) -> CoreResult<()> {
    let mut chars = key.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && key.len() <= 6
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "a key is 1–6 capital letters or digits, starting with a letter",
        ))
    }
}

fn check_text(what: &str, text: &str, max: usize) -> CoreResult<String> {
    let text = text.trim().to_string();
    if text.chars().count() > max {
        return Err(CoreError::invalid(format!(
            "{what} is longer than {max} characters"
        )));
    }
    Ok(text)
}

fn check_title(title: &str) -> CoreResult<String> {
    let title = validate::name("Title", title)?;
    if title.chars().count() > 200 {
        return Err(CoreError::invalid(
            "the title is longer than 200 characters",
        ));
    }
    Ok(title)
}

/// Creates a project of `org`; `by` becomes its first admin. Its id is new, so no other
/// writer exists yet: the project row and the first row of `project:{id}` are committed
/// together, and the `Project` actor owns it from its first message on.
///
/// # Errors
/// `InvalidInput` (name, key, statuses, members), `NotFound` for a workflow of another
/// organization, `Forbidden` when `by` is not an active member.
pub async fn create(
    kernel: &Kernel,
    org: &OrgId,
    by: &Booker,
    input: ProjectInput,
) -> CoreResult<ProjectView> {
    let handle = OrgHandle::get(kernel, org).await?;
    handle
        .active_member(&by.user)
        .await
        .map_err(|_| CoreError::Forbidden("only members create projects".into()))?;
    let name = validate::name("Project name", input.name.as_deref().unwrap_or(""))?;
    if name.chars().count() > 120 {
        return Err(CoreError::invalid(
            "a project name has at most 120 characters",
        ));
    }
    let description = check_text(
        "the description",
        input.description.as_deref().unwrap_or(""),
        5000,
    )?;
    let key = match input.key {
        Some(k) => k.trim().to_uppercase(),
        None => key_from(&name),
    };
    check_key(&key)?;
    let statuses = match (&input.workflow, &input.statuses) {
        (Some(_), Some(_)) => {
            return Err(CoreError::invalid(
                "a project uses its workflow's steps or statuses of its own, not both",
            ));
        }
        (Some(w), None) => {
            let workflow = handle
                .workflows()
                .await?
                .into_iter()
                .find(|x| &x.id == w)
                .ok_or_else(|| CoreError::invalid("no such workflow"))?;
            statuses_of(&workflow)
        }
        (None, Some(s)) => check_statuses(s)?,
        (None, None) => vec![
            TaskStatus {
                id: "todo".into(),
                name: "To do".into(),
                done: false,
            },
            TaskStatus {
                id: "doing".into(),
                name: "In progress".into(),
                done: false,
            },
            TaskStatus {
                id: "done".into(),
                name: "Done".into(),
                done: true,
            },
        ],
    };
    let mut admins = vec![by.user.clone()];
    for a in input.admins.unwrap_or_default() {
        if !admins.contains(&a) {
            admins.push(a);
        }
    }
    let mut members = admins.clone();
    for m in input.members.unwrap_or_default() {
        if !members.contains(&m) {
            members.push(m);
        }
    }
    for m in &members {
        handle
            .active_member(m)
            .await
            .map_err(|_| CoreError::invalid(format!("{m} is not a member of the organization")))?;
    }
    let now = now_ms();
    let project = ProjectView {
        id: ProjectId::new(new_id()),
        name,
        description,
        key,
        workflow: input.workflow,
        statuses,
        admins,
        members,
        archived: false,
        created_by: by.user.clone(),
        created_at: now,
        updated_at: now,
    };
    let activity = ActivityEntry {
        at: now,
        by: by.user.clone(),
        by_name: by.name.clone(),
        text: format!("created the project {}", project.name),
        task: None,
    };
    let rows = crate::kernel::journal::rows(
        &StreamName::Project(project.id.clone()),
        0,
        &[ProjectEvent::ProjectChanged {
            project: Box::new(project.clone()),
            activity,
        }
        .into()],
        Some(&by.user),
        Some(org),
    );
    kernel
        .store()
        .commit(writes::put_project(org.as_str(), &project, 1), &rows)
        .await?;
    tell_new_members(kernel, org, by, &project, &[]);
    Ok(project)
}

/// Notifies members added to a project (not the one who added them).
fn tell_new_members(
    kernel: &Kernel,
    org: &OrgId,
    by: &Booker,
    project: &ProjectView,
    before: &[UserId],
) {
    let notice = Notice::new(
        org,
        Some(Author::new(&by.user, &by.name)),
        Change::AddedToProject {
            project: project.id.clone(),
            name: project.name.clone(),
        },
    )
    .to(project
        .members
        .iter()
        .filter(|m| *m != &by.user && !before.contains(m))
        .cloned());
    notices::send(kernel, &notice, "project notification");
}

impl Project {
    fn snapshot(&self) -> ProjectSnapshot {
        ProjectSnapshot {
            project: self.project.clone(),
            tasks: self.tasks.clone(),
            activity: self.activity.iter().cloned().collect(),
            seq: self.journal.seq(),
        }
    }

    fn is_admin(&self, by: &Booker) -> bool {
        by.admin || self.project.admins.contains(&by.user)
    }

    fn may_read(&self, by: &Booker) -> CoreResult<()> {
        if by.admin || self.project.members.contains(&by.user) {
            Ok(())
        } else {
            Err(CoreError::NotFound)
        }
    }

    fn may_change(&self, by: &Booker) -> CoreResult<()> {
        self.may_read(by)?;
        if self.project.archived {
            return Err(CoreError::Conflict(
                "this project is archived; restore it first".into(),
            ));
        }
        Ok(())
    }

    fn org(&self) -> OrgHandle {
        OrgHandle::new(&self.kernel, &self.org)
    }

    /// A project that follows a workflow shows that workflow's current steps.
    async fn refresh_statuses(&mut self) {
        let Some(w) = self.project.workflow.clone() else {
            return;
        };
        match self.org().workflows().await {
            Ok(list) => {
                if let Some(workflow) = list.iter().find(|x| x.id == w) {
                    self.project.statuses = statuses_of(workflow);
                }
            }
            Err(e) => {
                tracing::warn!(project = %self.project.id, error = %e, "workflow statuses not refreshed")
            }
        }
    }

    fn activity(&self, by: &Booker, text: String, task: Option<&TaskView>) -> ActivityEntry {
        ActivityEntry {
            at: now_ms(),
            by: by.user.clone(),
            by_name: by.name.clone(),
            text,
            task: task.map(|t| t.id.clone()),
        }
    }

    /// Commits `write` with `event` and remembers its activity line.
    async fn commit(&mut self, write: Write, event: ProjectEvent, by: &Booker) -> CoreResult<()> {
        let line = event.activity().clone();
        self.journal
            .commit(write, vec![event.into()], Some(&by.user))
            .await?;
        self.activity.push_back(line);
        while self.activity.len() > ACTIVITY_KEPT {
            self.activity.pop_front();
        }
        Ok(())
    }

    fn task(&self, id: &str) -> CoreResult<&TaskView> {
        self.tasks
            .iter()
            .find(|t| t.id == id || t.key == id)
            .ok_or(CoreError::NotFound)
    }

    fn status_name(&self, id: &str) -> String {
        self.project
            .statuses
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    }

    fn status(&self, id: &str) -> CoreResult<&TaskStatus> {
        self.project
            .statuses
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| {
                let names: Vec<&str> = self
                    .project
                    .statuses
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect();
                CoreError::invalid(format!(
                    "\"{id}\" is not a status of this project (one of: {})",
                    names.join(", ")
                ))
            })
    }

    /// The assignee as a member, when they may be assigned: a member of this project and
    /// active in the organization.
    async fn check_assignee(&self, user: &UserId) -> CoreResult<cflows_protocol::MemberView> {
        if !self.project.members.contains(user) {
            return Err(CoreError::invalid(
                "the assignee is not a member of this project",
            ));
        }
        self.org()
            .active_member(user)
            .await
            .map_err(|_| CoreError::invalid("the assignee is not an active member"))
    }

    async fn check_link(&self, link: &TaskLink) -> CoreResult<()> {
        match link {
            TaskLink::Item { item } => {
                crate::work_item::WorkItemHandle::new(&self.kernel, &self.org, item)
                    .head()
                    .await
                    .map(|_| ())
                    .map_err(|_| CoreError::invalid("no such work item"))
            }
            TaskLink::Booking { team, booking } => {
                let found = self
                    .kernel
                    .store()
                    .booking(team.as_str(), booking)
                    .await?
                    .filter(|b| b.org == self.org.as_str());
                if found.is_some() {
                    Ok(())
                } else {
                    Err(CoreError::invalid("no such booking"))
                }
            }
        }
    }

    async fn on_update(&mut self, by: &Booker, input: ProjectInput) -> CoreResult<ProjectView> {
        self.may_read(by)?;
        if !self.is_admin(by) {
            return Err(CoreError::Forbidden(
                "only the project's admins change the project".into(),
            ));
        }
        if input.key.is_some() || input.workflow.is_some() {
            return Err(CoreError::invalid(
                "a project's key and workflow are set when it is created",
            ));
        }
        let mut next = self.project.clone();
        let mut what = Vec::new();
        if let Some(name) = input.name {
            let name = validate::name("Project name", &name)?;
            if name.chars().count() > 120 {
                return Err(CoreError::invalid(
                    "a project name has at most 120 characters",
                ));
            }
            if name != next.name {
                what.push(format!("renamed the project to {name}"));
                next.name = name;
            }
        }
        if let Some(d) = input.description {
            next.description = check_text("the description", &d, 5000)?;
        }
        if let Some(statuses) = input.statuses {
            if next.workflow.is_some() {
                return Err(CoreError::invalid(
                    "this project's statuses are its workflow's steps",
                ));
            }
            let statuses = check_statuses(&statuses)?;
            for t in &self.tasks {
                if !statuses.iter().any(|s| s.id == t.status) {
                    return Err(CoreError::Conflict(format!(
                        "status \"{}\" still holds {}: move its tasks first",
                        self.status_name(&t.status),
                        t.key
                    )));
                }
            }
            next.statuses = statuses;
            what.push("changed the statuses".into());
        }
        if let Some(admins) = input.admins {
            if admins.is_empty() {
                return Err(CoreError::invalid("a project has at least one admin"));
            }
            next.admins = admins;
        }
        if let Some(members) = input.members {
            next.members = members;
        }
        for a in next.admins.clone() {
            if !next.members.contains(&a) {
                next.members.push(a);
            }
        }
        for m in &next.members {
            if !self.project.members.contains(m) {
                self.org().active_member(m).await.map_err(|_| {
                    CoreError::invalid(format!("{m} is not a member of the organization"))
                })?;
            }
        }
        if next.members != self.project.members || next.admins != self.project.admins {
            what.push("changed the members".into());
        }
        if let Some(archived) = input.archived
            && archived != next.archived
        {
            next.archived = archived;
            what.push(if archived { "archived" } else { "restored" }.to_string() + " the project");
        }
        if next == self.project {
            return Ok(next);
        }
        next.updated_at = now_ms().max(self.project.updated_at + 1);
        if what.is_empty() {
            what.push("edited the project".into());
        }
        let activity = self.activity(by, what.join("; "), None);
        let before = self.project.members.clone();
        self.commit(
            writes::put_project(self.org.as_str(), &next, self.next_number),
            ProjectEvent::ProjectChanged {
                project: Box::new(next.clone()),
                activity,
            },
            by,
        )
        .await?;
        self.project = next;
        tell_new_members(&self.kernel, &self.org, by, &self.project, &before);
        Ok(self.project.clone())
    }

    async fn on_create_task(&mut self, by: &Booker, input: NewTask) -> CoreResult<TaskView> {
        self.may_change(by)?;
        if self.tasks.len() >= MAX_TASKS {
            return Err(CoreError::invalid(format!(
                "a project has at most {MAX_TASKS} tasks"
            )));
        }
        self.refresh_statuses().await;
        let title = check_title(&input.title)?;
        let description = check_text("the description", &input.description, MAX_DESCRIPTION)?;
        let status = match &input.status {
            Some(s) => self.status(s)?.clone(),
            None => self.project.statuses[0].clone(),
        };
        if let Some(due) = &input.due {
            validate_due(due)?;
        }
        if let Some(a) = &input.assignee {
            self.check_assignee(a).await?;
        }
        if let Some(link) = &input.link {
            self.check_link(link).await?;
        }
        let now = now_ms();
        let number = self.next_number;
        let task = TaskView {
            id: new_id(),
            project: self.project.id.clone(),
            key: format!("{}-{number}", self.project.key),
            title,
            description,
            assignee: input.assignee,
            status: status.id,
            done: status.done,
            due: input.due,
            priority: input.priority,
            link: input.link,
            comments: Vec::new(),
            attachments: Vec::new(),
            created_by: by.user.clone(),
            created_at: now,
            updated_at: now,
        };
        let activity = self.activity(
            by,
            format!("created {} {}", task.key, task.title),
            Some(&task),
        );
        self.commit(
            writes::put_task(self.org.as_str(), &task).and(writes::put_project(
                self.org.as_str(),
                &self.project,
                number + 1,
            )),
            ProjectEvent::TaskAdded {
                task: Box::new(task.clone()),
                activity,
            },
            by,
        )
        .await?;
        self.next_number = number + 1;
        self.tasks.push(task.clone());
        if let Some(a) = &task.assignee {
            self.tell_assignee(by, a, &task);
        }
        Ok(task)
    }

    fn tell_assignee(&self, by: &Booker, assignee: &UserId, task: &TaskView) {
        if assignee == &by.user {
            return;
        }
        let notice = Notice::new(
            &self.org,
            Some(Author::new(&by.user, &by.name)),
            Change::TaskAssigned {
                project: self.project.id.clone(),
                task: task.id.clone(),
                key: task.key.clone(),
                title: task.title.clone(),
                due: task.due.clone(),
            },
        )
        .to([assignee.clone()]);
        notices::send(&self.kernel, &notice, "task notification");
    }

    async fn on_update_task(
        &mut self,
        by: &Booker,
        id: &str,
        change: TaskChange,
    ) -> CoreResult<TaskView> {
        self.may_change(by)?;
        let current = self.task(id)?.clone();
        let mut next = current.clone();
        let mut what = Vec::new();
        if let Some(title) = change.title {
            next.title = check_title(&title)?;
        }
        if let Some(d) = change.description {
            next.description = check_text("the description", &d, MAX_DESCRIPTION)?;
        }
        if let Some(status) = change.status
            && status != next.status
        {
            self.refresh_statuses().await;
            let s = self.status(&status)?.clone();
            what.push(format!("moved {} to {}", next.key, s.name));
            next.status = s.id;
            next.done = s.done;
        }
        if let Some(assignee) = change.assignee
            && assignee != next.assignee
        {
            match &assignee {
                Some(a) => {
                    let name = self.check_assignee(a).await?.user.display_name;
                    what.push(format!("assigned {} to {name}", next.key));
                }
                None => what.push(format!("unassigned {}", next.key)),
            }
            next.assignee = assignee;
        }
        if let Some(due) = change.due {
            if let Some(d) = &due {
                validate_due(d)?;
            }
            next.due = due;
        }
        if let Some(p) = change.priority {
            next.priority = p;
        }
        if let Some(link) = change.link {
            if let Some(l) = &link {
                self.check_link(l).await?;
            }
            next.link = link;
        }
        if next == current {
            return Ok(next);
        }
        next.updated_at = now_ms().max(current.updated_at + 1);
        if what.is_empty() {
            what.push(format!("edited {}", next.key));
        }
        let activity = self.activity(by, what.join("; "), Some(&next));
        self.commit(
            writes::put_task(self.org.as_str(), &next),
            ProjectEvent::TaskChanged {
                task: Box::new(next.clone()),
                activity,
            },
            by,
        )
        .await?;
        self.replace(next.clone());
        if let Some(a) = &next.assignee
            && current.assignee.as_ref() != Some(a)
        {
            self.tell_assignee(by, a, &next);
        }
        Ok(next)
    }

    fn replace(&mut self, task: TaskView) {
        if let Some(t) = self.tasks.iter_mut().find(|t| t.id == task.id) {
            *t = task;
        }
    }

    async fn on_delete_task(&mut self, by: &Booker, id: &str) -> CoreResult<()> {
        self.may_change(by)?;
        if !self.is_admin(by) {
            return Err(CoreError::Forbidden(
                "only the project's admins delete tasks".into(),
            ));
        }
        let task = self.task(id)?.clone();
        let activity = self.activity(
            by,
            format!("deleted {} {}", task.key, task.title),
            Some(&task),
        );
        self.commit(
            writes::delete_task(&task.id),
            ProjectEvent::TaskRemoved {
                task: task.id.clone(),
                activity,
            },
            by,
        )
        .await?;
        self.tasks.retain(|t| t.id != task.id);
        for a in &task.attachments {
            self.kernel
                .files()
                .release(self.kernel.store(), &a.sha256)
                .await;
        }
        Ok(())
    }

    async fn on_comment(&mut self, by: &Booker, id: &str, body: String) -> CoreResult<CommentView> {
        self.may_change(by)?;
        let mut task = self.task(id)?.clone();
        let body = body.trim().to_string();
        let max = crate::work_item::MAX_COMMENT;
        if body.is_empty() || body.chars().count() > max {
            return Err(CoreError::invalid(format!(
                "a comment has 1–{max} characters"
            )));
        }
        let members = if body.contains('@') {
            self.org().snapshot().await?.members
        } else {
            Vec::new()
        };
        let mentions = mentioned(
            &body,
            members
                .iter()
                .filter(|m| m.active && self.project.members.contains(&m.user.id))
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
        task.comments.push(comment.clone());
        let activity = self.activity(by, format!("commented on {}", task.key), Some(&task));
        self.commit(
            writes::add_task_comment(&self.project.id, &task.id, &comment),
            ProjectEvent::TaskChanged {
                task: Box::new(task.clone()),
                activity,
            },
            by,
        )
        .await?;
        self.replace(task.clone());
        notices::send_comment(
            &self.kernel,
            &self.org,
            Author::new(&by.user, &by.name),
            Thread::Task {
                project: self.project.id.clone(),
                task: task.id.clone(),
                key: task.key.clone(),
            },
            &comment,
            task.assignee.as_ref(),
        );
        Ok(comment)
    }

    async fn on_attach(&mut self, by: &Booker, id: &str, kept: Kept) -> CoreResult<AttachmentView> {
        self.may_change(by)?;
        let mut task = self.task(id)?.clone();
        attachments::may_attach(Holder::Task, task.attachments.len())?;
        let attachment = kept.attachment(&by.user);
        task.attachments.push(attachment.clone());
        let activity = self.activity(
            by,
            format!("attached {} to {}", attachment.name, task.key),
            Some(&task),
        );
        self.commit(
            writes::add_attachment(
                self.org.as_str(),
                &format!("task:{}", task.id),
                Some(&self.project.id),
                &attachment,
            ),
            ProjectEvent::TaskChanged {
                task: Box::new(task.clone()),
                activity,
            },
            by,
        )
        .await?;
        drop(kept);
        self.replace(task);
        Ok(attachment)
    }

    async fn on_detach(&mut self, by: &Booker, id: &str, attachment: &str) -> CoreResult<()> {
        self.may_change(by)?;
        let mut task = self.task(id)?.clone();
        let gone = task
            .attachments
            .iter()
            .find(|a| a.id == attachment)
            .cloned()
            .ok_or(CoreError::NotFound)?;
        attachments::may_remove(Holder::Task, &gone, &by.user, self.is_admin(by))?;
        task.attachments.retain(|a| a.id != attachment);
        let activity = self.activity(
            by,
            format!("removed {} from {}", gone.name, task.key),
            Some(&task),
        );
        self.commit(
            writes::delete_attachment(&gone.id),
            ProjectEvent::TaskChanged {
                task: Box::new(task.clone()),
                activity,
            },
            by,
        )
        .await?;
        self.replace(task);
        self.kernel
            .files()
            .release(self.kernel.store(), &gone.sha256)
            .await;
        Ok(())
    }
}

/// The open tasks of `org` assigned to `user`, across projects.
///
/// # Errors
/// The store fails.
pub async fn open_tasks_of(
    kernel: &Kernel,
    org: &OrgId,
    user: &UserId,
) -> CoreResult<Vec<TaskView>> {
    Ok(kernel
        .store()
        .open_tasks_of(org.as_str(), user.as_str())
        .await?
        .into_iter()
        .map(TaskView::from)
        .collect())
}

/// The projects of `org` that `by` may read (all of them for an organization admin).
///
/// # Errors
/// The store fails.
pub async fn projects_of(
    kernel: &Kernel,
    org: &OrgId,
    by: &Booker,
) -> CoreResult<Vec<ProjectView>> {
    Ok(kernel
        .store()
        .projects_of_org(org.as_str())
        .await?
        .into_iter()
        .map(ProjectView::from)
        .filter(|p| by.admin || p.members.contains(&by.user))
        .collect())
}

/// A typed handle on one project (of one organization), for one caller.
#[derive(Clone)]
pub struct ProjectHandle {
    kernel: Kernel,
    org: OrgId,
    project: ProjectId,
    by: Booker,
}

impl ProjectHandle {
    /// A handle on `project` in `org`, acting as `by` (checked at each call).
    pub fn new(kernel: &Kernel, org: &OrgId, project: &ProjectId, by: Booker) -> Self {
        Self {
            kernel: kernel.clone(),
            org: org.clone(),
            project: project.clone(),
            by,
        }
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(Booker, RpcReplyPort<CoreResult<T>>) -> ProjectMsg,
    ) -> CoreResult<T> {
        let by = self.by.clone();
        self.kernel
            .projects()
            .call_in(&self.kernel, &self.org, &self.project, |reply| {
                build(by, reply)
            })
            .await?
    }

    /// The project's stream state.
    ///
    /// # Errors
    /// `NotFound` for an unknown or foreign project, or one the caller may not read.
    pub async fn snapshot(&self) -> CoreResult<ProjectSnapshot> {
        self.call(|by, reply| ProjectMsg::Snapshot { by, reply })
            .await
    }

    /// The last position of `project:{id}`.
    ///
    /// # Errors
    /// As [`Self::snapshot`].
    pub async fn head(&self) -> CoreResult<u64> {
        self.call(|by, reply| ProjectMsg::Head { by, reply }).await
    }

    /// Changes the project (its admins only).
    ///
    /// # Errors
    /// `InvalidInput`, `Forbidden`, `Conflict` (a status still holding tasks), `NotFound`.
    pub async fn update(&self, input: ProjectInput) -> CoreResult<ProjectView> {
        self.call(|by, reply| ProjectMsg::Update { by, input, reply })
            .await
    }

    /// Creates a task.
    ///
    /// # Errors
    /// `InvalidInput`, `Conflict` (archived), `NotFound`.
    pub async fn create_task(&self, task: NewTask) -> CoreResult<TaskView> {
        self.call(|by, reply| ProjectMsg::CreateTask { by, task, reply })
            .await
    }

    /// Changes a task (by id or key).
    ///
    /// # Errors
    /// `InvalidInput`, `Conflict` (archived), `NotFound`.
    pub async fn update_task(&self, task: String, change: TaskChange) -> CoreResult<TaskView> {
        self.call(|by, reply| ProjectMsg::UpdateTask {
            by,
            task,
            change,
            reply,
        })
        .await
    }

    /// Deletes a task with its comments and attachments (project admins only).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn delete_task(&self, task: String) -> CoreResult<()> {
        self.call(|by, reply| ProjectMsg::DeleteTask { by, task, reply })
            .await
    }

    /// Comments on a task (mentions notify).
    ///
    /// # Errors
    /// `InvalidInput`, `NotFound`.
    pub async fn comment(&self, task: String, body: String) -> CoreResult<CommentView> {
        self.call(|by, reply| ProjectMsg::Comment {
            by,
            task,
            body,
            reply,
        })
        .await
    }

    /// Attaches bytes already kept to a task (removed again when refused).
    ///
    /// # Errors
    /// `InvalidInput` (too many), `NotFound`.
    pub async fn attach(&self, task: String, kept: Kept) -> CoreResult<AttachmentView> {
        let sha = kept.sha256.clone();
        let r = self
            .call(|by, reply| ProjectMsg::Attach {
                by,
                task,
                kept: Box::new(kept),
                reply,
            })
            .await;
        crate::files::discard_if_refused(&self.kernel, &sha, r).await
    }

    /// Removes an attachment of a task.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn detach(&self, task: String, attachment: String) -> CoreResult<()> {
        self.call(|by, reply| ProjectMsg::Detach {
            by,
            task,
            attachment,
            reply,
        })
        .await
    }
}
