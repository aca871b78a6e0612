//! `/projects`: the projects a member may read, and creating one; `/projects/{id}`: a
//! project's tasks in columns by status, its activity feed, and (with `?task=`) one
//! task with its details, comments and attachments; `/tasks`: the member's open tasks
//! across projects. Item pages get their attachments here too.
//!
//! Usable without JavaScript (every change is a form); `/static/js/project.js` follows
//! `project:{id}` and redraws the live part of the page when anyone changes it.

use super::home::chrome;
use super::layout;
use crate::AppState;
use crate::api::attachments::read_upload;
use crate::auth::Member;
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm, CsrfMultipart};
use crate::pages::layout::Section;
use crate::pages::{Flash, see_other_with, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cflows_actors::project;
use cflows_protocol::{
    AttachmentView, ItemId, NewTask, Priority, ProjectId, ProjectInput, ProjectSnapshot,
    TaskChange, TaskView, UserId,
};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(projects_page).post(create_project))
        .route("/projects/{id}", get(project_page))
        .route("/projects/{id}/settings", post(save_project))
        .route("/projects/{id}/tasks", post(create_task))
        .route("/projects/{id}/tasks/{task}", post(save_task))
        .route("/projects/{id}/tasks/{task}/comments", post(comment_task))
        .route("/projects/{id}/tasks/{task}/delete", post(delete_task))
        .route("/tasks", get(my_tasks_page))
        .merge(
            Router::new()
                .route(
                    "/projects/{id}/tasks/{task}/attachments",
                    post(attach_to_task),
                )
                .route("/items/{id}/attachments", post(attach_to_item))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
}

fn names(org: &cflows_protocol::OrgSnapshot) -> HashMap<UserId, String> {
    org.members
        .iter()
        .map(|x| (x.user.id.clone(), x.user.display_name.clone()))
        .collect()
}

async fn projects_page(
    State(state): State<AppState>,
    m: Member,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Projects).await?;
    let a = m.acting(&state);
    let list = project::projects_of(a.kernel, a.org_id, &a.booker()).await?;
    let body = html! {
        h1 { "Projects" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        @if list.is_empty() { p.muted { "No projects you are a member of yet." } }
        ul {
            @for p in &list {
                li {
                    a href=(format!("/projects/{}", p.id)) { (p.name) }
                    " " span.muted { "(" (p.key) ", " (p.members.len()) " members" @if p.archived { ", archived" } ")" }
                }
            }
        }
        section aria-labelledby="new-project" {
            h2 #new-project { "New project" }
            form.stack method="post" action="/projects" {
                (layout::csrf_field(&m.authed.csrf))
                label for="p-name" { "Name" }
                input #p-name type="text" name="name" required maxlength="120";
                label for="p-desc" { "Description" }
                textarea #p-desc name="description" rows="2" maxlength="5000" {}
                button type="submit" { "Create project" }
            }
        }
    };
    Ok(layout::page(&chrome, "Projects", body).into_response())
}

#[derive(Deserialize)]
struct NewProjectForm {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_project(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(f): CsrfForm<NewProjectForm>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let input = ProjectInput {
        name: Some(f.name),
        description: Some(f.description),
        ..ProjectInput::default()
    };
    Ok(
        match project::create(a.kernel, a.org_id, &a.booker(), input).await {
            Ok(p) => see_other_with_notice(&format!("/projects/{}", p.id), "Project created."),
            Err(e) => see_other_with("/projects", "error", &AppError::from(e).to_string()),
        },
    )
}

#[derive(Deserialize, Default)]
struct ProjectQuery {
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

fn attachment_list(list: &[AttachmentView]) -> Markup {
    html! {
        ul.attachments {
            @for a in list {
                li {
                    @if a.thumbnail {
                        img src=(format!("/api/v1/attachments/{}/thumbnail", a.id)) alt="" width="64" loading="lazy";
                        " "
                    }
                    a href=(format!("/api/v1/attachments/{}", a.id)) { (a.name) }
                    " " span.muted { "(" (a.content_type.split(';').next().unwrap_or("")) ", " (size(a.size)) ")" }
                }
            }
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / 1_048_576.0)
    } else {
        format!("{} kB", bytes.div_ceil(1024))
    }
}

/// The form that uploads a file to `action` (a multipart form: token first).
pub(crate) fn upload_form(csrf: &str, action: &str, id: &str) -> Markup {
    html! {
        form.stack method="post" action=(action) enctype="multipart/form-data" {
            (layout::csrf_field(csrf))
            label for=(id) { "Attach a file (images, PDF, office documents, text)" }
            input id=(id) type="file" name="file" required;
            button type="submit" { "Upload" }
        }
    }
}

pub(crate) fn attachments_section(csrf: &str, list: &[AttachmentView], action: &str) -> Markup {
    html! {
        section aria-labelledby="attachments-title" {
            h2 #attachments-title { "Attachments" }
            (attachment_list(list))
            (upload_form(csrf, action, "file-upload"))
        }
    }
}

fn task_card(
    p: &ProjectSnapshot,
    t: &TaskView,
    who: &HashMap<UserId, String>,
    today: &str,
) -> Markup {
    let overdue = !t.done && t.due.as_deref().is_some_and(|d| d < today);
    html! {
        li.tcard data-task=(t.id) {
            a href=(format!("/projects/{}?task={}", p.project.id, t.id)) { span.key { (t.key) } " " (t.title) }
            br;
            span.muted {
                (t.assignee.as_ref().and_then(|a| who.get(a)).map_or("Unassigned", String::as_str))
                @if let Some(d) = &t.due { " · due " span.late[overdue] { (d) } }
                @if t.priority != Priority::Normal { " · " (t.priority.as_str()) }
                @if !t.comments.is_empty() { " · " (t.comments.len()) " comments" }
                @if !t.attachments.is_empty() { " · " (t.attachments.len()) " files" }
            }
        }
    }
}

async fn project_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let snap = a.project(&ProjectId::new(id.clone())).snapshot().await?;
    let org = m.org.snapshot().await?;
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Projects).await?;
    let who = names(&org);
    let tz = cflows_actors::domain::time::zone(&org.org.timezone).unwrap_or(chrono_tz::UTC);
    let when = layout::when_in(&org.org);
    let today = chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string();
    let p = &snap.project;
    let admin = m.role().is_admin() || p.admins.contains(&m.member.user.id);
    let selected = q
        .task
        .as_deref()
        .and_then(|t| snap.tasks.iter().find(|x| x.id == t || x.key == t));
    let linked_key = match selected.and_then(|t| t.link.as_ref()) {
        Some(cflows_protocol::TaskLink::Item { item }) => a
            .kernel
            .store()
            .work_item(item.as_str())
            .await
            .ok()
            .flatten()
            .map(|i| i.key),
        _ => None,
    };
    let project_members: Vec<_> = org
        .members
        .iter()
        .filter(|x| x.active && p.members.contains(&x.user.id))
        .collect();
    let base = format!("/projects/{}", p.id);
    let live = html! {
        div #project-live {
            div.columns role="list" aria-label="Tasks by status" {
                @for s in &p.statuses {
                    @let tasks: Vec<&TaskView> = snap.tasks.iter().filter(|t| t.status == s.id).collect();
                    section.column role="listitem" aria-labelledby=(format!("st-{}", s.id)) {
                        h2 id=(format!("st-{}", s.id)) { (s.name) " " span.muted { "(" (tasks.len()) ")" } }
                        ul.cards {
                            @for t in tasks { (task_card(&snap, t, &who, &today)) }
                        }
                    }
                }
            }
            @if let Some(t) = selected {
                section.task aria-labelledby="task-title" {
                    h2 #task-title { span.key { (t.key) } " " (t.title) }
                    @if !t.description.is_empty() { p { (t.description) } }
                    @if let Some(link) = &t.link {
                        p { "Linked to "
                            @match link {
                                cflows_protocol::TaskLink::Item { item } => { a href=(format!("/items/{item}")) { "work item " (linked_key.as_deref().unwrap_or("")) } }
                                cflows_protocol::TaskLink::Booking { .. } => { "a booking" }
                            }
                        }
                    }
                    form.stack method="post" action=(format!("{base}/tasks/{}", t.id)) {
                        (layout::csrf_field(&m.authed.csrf))
                        label for="t-title" { "Title" }
                        input #t-title type="text" name="title" value=(t.title) required maxlength="200";
                        label for="t-desc" { "Description" }
                        textarea #t-desc name="description" rows="3" maxlength="10000" { (t.description) }
                        label for="t-status" { "Status" }
                        select #t-status name="status" {
                            @for s in &p.statuses { option value=(s.id) selected[s.id == t.status] { (s.name) } }
                        }
                        label for="t-assignee" { "Assignee" }
                        select #t-assignee name="assignee" {
                            option value="" { "Unassigned" }
                            @for x in &project_members {
                                option value=(x.user.id) selected[t.assignee.as_ref() == Some(&x.user.id)] { (x.user.display_name) }
                            }
                        }
                        label for="t-due" { "Due" }
                        input #t-due type="date" name="due" value=[t.due.as_deref()];
                        label for="t-priority" { "Priority" }
                        select #t-priority name="priority" {
                            @for pr in Priority::ALL { option value=(pr.as_str()) selected[t.priority == pr] { (pr.as_str()) } }
                        }
                        @if !matches!(t.link, Some(cflows_protocol::TaskLink::Booking { .. })) {
                            input type="hidden" name="linked" value=(if t.link.is_some() { "item" } else { "" });
                            label for="t-item" { "Work item (its key, e.g. VH-3; empty for none)" }
                            input #t-item type="text" name="item_key" value=[linked_key.as_deref()] maxlength="20";
                        }
                        button type="submit" { "Save task" }
                    }
                    @if admin {
                        form.inline method="post" action=(format!("{base}/tasks/{}/delete", t.id)) {
                            (layout::csrf_field(&m.authed.csrf))
                            button.danger type="submit" { "Delete task" }
                        }
                    }
                    (attachments_section(&m.authed.csrf, &t.attachments, &format!("{base}/tasks/{}/attachments", t.id)))
                    (comments_section(&m.authed.csrf, &t.comments, &format!("{base}/tasks/{}/comments", t.id), &when))
                }
            }
            section aria-labelledby="activity-title" {
                h2 #activity-title { "Activity" }
                ol.activity {
                    @for e in snap.activity.iter().rev().take(30) {
                        li { span.muted { (when(e.at)) } " " strong { (e.by_name) } " " (e.text) }
                    }
                }
            }
        }
    };
    let body = html! {
        div.project-page data-project=(p.id) {
            p { a href="/projects" { "← Projects" } }
            h1 { (p.name) @if p.archived { " " span.muted { "(archived)" } } }
            @if !p.description.is_empty() { p.lede { (p.description) } }
            (layout::banners(q.notice.as_deref(), q.error.as_deref()))
            p #project-status.muted role="status" aria-live="polite" {}
            (live)
            section aria-labelledby="new-task" {
                h2 #new-task { "New task" }
                form.stack method="post" action=(format!("{base}/tasks")) {
                    (layout::csrf_field(&m.authed.csrf))
                    label for="n-title" { "Title" }
                    input #n-title type="text" name="title" required maxlength="200";
                    label for="n-assignee" { "Assignee" }
                    select #n-assignee name="assignee" {
                        option value="" { "Unassigned" }
                        @for x in &project_members { option value=(x.user.id) { (x.user.display_name) } }
                    }
                    label for="n-due" { "Due" }
                    input #n-due type="date" name="due";
                    button type="submit" { "Add task" }
                }
            }
            @if admin {
                section aria-labelledby="members-title" {
                    h2 #members-title { "Members" }
                    form.stack method="post" action=(format!("{base}/settings")) {
                        (layout::csrf_field(&m.authed.csrf))
                        fieldset {
                            legend { "Who works on this project" }
                            @for x in org.members.iter().filter(|x| x.active) {
                                label.check {
                                    input type="checkbox" name="member" value=(x.user.id) checked[p.members.contains(&x.user.id)];
                                    " " (x.user.display_name)
                                    @if p.admins.contains(&x.user.id) { " (project admin)" }
                                }
                            }
                        }
                        label.check { input type="checkbox" name="archived" value="true" checked[p.archived]; " Archived" }
                        button type="submit" { "Save members" }
                    }
                }
            }
        }
        (layout::json_block("project-boot", &serde_json::json!({ "project": p.id })))
    };
    Ok(live_page(&chrome, &p.name, body, "/static/js/project.js"))
}

/// A page that a script keeps live: never cached.
pub(crate) fn live_page(
    chrome: &layout::Chrome,
    title: &str,
    body: Markup,
    script: &str,
) -> Response {
    let scripts = html! { script type="module" src=(script) {} };
    (
        [(header::CACHE_CONTROL, "no-store")],
        layout::page_with(chrome, title, body, html! {}, scripts),
    )
        .into_response()
}

/// Comments, oldest first, and the form that adds one (posting `body` to `action`).
pub(crate) fn comments_section(
    csrf: &str,
    comments: &[cflows_protocol::CommentView],
    action: &str,
    when: &dyn Fn(i64) -> String,
) -> Markup {
    html! {
        section aria-labelledby="comments-title" {
            h2 #comments-title { "Comments" }
            ul #comments {
                @for c in comments {
                    li { strong { (c.by_name) } " " span.muted { (when(c.at)) } p { (c.body) } }
                }
            }
            form.stack method="post" action=(action) {
                (layout::csrf_field(csrf))
                label for="c-body" { "Comment (mention with @name, the part of an email before the @)" }
                textarea #c-body name="body" required maxlength="5000" rows="3" {}
                button type="submit" { "Comment" }
            }
        }
    }
}

fn back(id: &str, task: Option<&str>) -> String {
    match task {
        Some(t) => format!("/projects/{id}?task={t}"),
        None => format!("/projects/{id}"),
    }
}

fn answer<T>(r: Result<T, impl Into<AppError>>, path: &str, notice: &str) -> Response {
    match r {
        Ok(_) => see_other_with_notice(path, notice),
        Err(e) => see_other_with(path, "error", &e.into().to_string()),
    }
}

async fn save_project(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> PageResult<Response> {
    let members: Vec<UserId> = form
        .iter()
        .filter(|(k, _)| k == "member")
        .map(|(_, v)| UserId::new(v.clone()))
        .collect();
    let archived = form.iter().any(|(k, v)| k == "archived" && v == "true");
    let r = m
        .acting(&state)
        .project(&ProjectId::new(id.clone()))
        .update(ProjectInput {
            members: Some(members),
            archived: Some(archived),
            ..ProjectInput::default()
        })
        .await;
    Ok(answer(r, &back(&id, None), "Saved."))
}

fn field(form: &HashMap<String, String>, k: &str) -> Option<String> {
    form.get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

async fn create_task(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let r = m
        .acting(&state)
        .project(&ProjectId::new(id.clone()))
        .create_task(NewTask {
            title: form.get("title").cloned().unwrap_or_default(),
            assignee: field(&form, "assignee").map(UserId::new),
            due: field(&form, "due"),
            ..NewTask::default()
        })
        .await;
    Ok(match r {
        Ok(t) => see_other_with_notice(&back(&id, Some(&t.id)), &format!("{} added.", t.key)),
        Err(e) => see_other_with(&back(&id, None), "error", &AppError::from(e).to_string()),
    })
}

async fn save_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> PageResult<Response> {
    let path = back(&id, Some(&task));
    let link = match field(&form, "item_key") {
        Some(key) => {
            let found = state
                .core
                .kernel
                .store()
                .work_item_by_key(m.org_id.as_str(), &key.to_uppercase())
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            match found {
                Some(item) => Some(Some(cflows_protocol::TaskLink::Item {
                    item: ItemId::new(item),
                })),
                None => {
                    return Ok(see_other_with(
                        &path,
                        "error",
                        &format!("no work item {key}"),
                    ));
                }
            }
        }
        None if form.get("linked").is_some_and(|l| l == "item") => Some(None),
        None => None,
    };
    let change = TaskChange {
        title: field(&form, "title"),
        description: form.get("description").cloned(),
        status: field(&form, "status"),
        assignee: form
            .contains_key("assignee")
            .then(|| field(&form, "assignee").map(UserId::new)),
        due: form.contains_key("due").then(|| field(&form, "due")),
        priority: field(&form, "priority").and_then(|p| Priority::parse(&p)),
        link,
    };
    let r = m
        .acting(&state)
        .project(&ProjectId::new(id.clone()))
        .update_task(task, change)
        .await;
    Ok(answer(r, &path, "Saved."))
}

#[derive(Deserialize)]
struct CommentForm {
    body: String,
}

async fn comment_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<CommentForm>,
) -> PageResult<Response> {
    let r = m
        .acting(&state)
        .project(&ProjectId::new(id.clone()))
        .comment(task.clone(), f.body)
        .await;
    Ok(answer(r, &back(&id, Some(&task)), "Comment added."))
}

async fn delete_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    let r = m
        .acting(&state)
        .project(&ProjectId::new(id.clone()))
        .delete_task(task)
        .await;
    Ok(answer(r, &back(&id, None), "Task deleted."))
}

async fn attach_to_task(
    State(state): State<AppState>,
    m: Member,
    Path((id, task)): Path<(String, String)>,
    multipart: CsrfMultipart,
) -> PageResult<Response> {
    let handle = m.acting(&state).project(&ProjectId::new(id.clone()));
    handle.head().await?;
    let path = back(&id, Some(&task));
    let r = match read_upload(&state, multipart).await {
        Ok(kept) => handle.attach(task, kept).await.map_err(AppError::from),
        Err(e) => Err(e),
    };
    Ok(answer(r, &path, "File attached."))
}

async fn attach_to_item(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    multipart: CsrfMultipart,
) -> PageResult<Response> {
    let a = m.acting(&state);
    let item = a.item(&ItemId::new(id.clone()));
    item.head().await?;
    let r = match read_upload(&state, multipart).await {
        Ok(kept) => item.attach(a.booker(), kept).await.map_err(AppError::from),
        Err(e) => Err(e),
    };
    Ok(answer(r, &format!("/items/{id}"), "File attached."))
}

async fn my_tasks_page(State(state): State<AppState>, m: Member) -> PageResult<Response> {
    let chrome = chrome(&state, &m.authed, Some(&m), Section::Tasks).await?;
    let a = m.acting(&state);
    let tasks = project::open_tasks_of(a.kernel, a.org_id, &m.member.user.id).await?;
    let projects: HashMap<ProjectId, cflows_protocol::ProjectView> =
        project::projects_of(a.kernel, a.org_id, &a.booker())
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
    let tz = cflows_actors::domain::time::zone(&m.org.settings().await?.timezone)
        .unwrap_or(chrono_tz::UTC);
    let today = chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string();
    // Live: any change in a project the member reads, or in their inbox (a task of a new
    // project assigned to them), redraws the list.
    let mut streams =
        vec![cflows_protocol::StreamName::Inbox(m.member.user.id.clone()).to_string()];
    streams.extend(
        projects
            .keys()
            .map(|p| cflows_protocol::StreamName::Project(p.clone()).to_string()),
    );
    let body = html! {
        h1 { "My tasks" }
        div #tasks-live {
        @if tasks.is_empty() { p.muted { "Nothing assigned to you is open. " a href="/projects" { "See the projects" } "." } }
        @else {
            table.data {
                caption { "Open tasks assigned to you, by due date" }
                thead { tr { th scope="col" { "Task" } th scope="col" { "Project" } th scope="col" { "Status" } th scope="col" { "Due" } th scope="col" { "Priority" } } }
                tbody {
                    @for t in &tasks {
                        @let p = projects.get(&t.project);
                        @let overdue = t.due.as_deref().is_some_and(|d| d < today.as_str());
                        tr {
                            th scope="row" { a href=(format!("/projects/{}?task={}", t.project, t.id)) { span.key { (t.key) } " " (t.title) } }
                            td { (p.map_or("", |p| p.name.as_str())) }
                            td { (p.and_then(|p| p.statuses.iter().find(|s| s.id == t.status)).map_or(t.status.as_str(), |s| s.name.as_str())) }
                            td { @if let Some(d) = &t.due { span.late[overdue] { (d) @if overdue { " (overdue)" } } } }
                            td { (t.priority.as_str()) }
                        }
                    }
                }
            }
        }
        }
        (layout::json_block("live-boot", &serde_json::json!({ "streams": streams, "region": "tasks-live" })))
    };
    let scripts = html! { script type="module" src="/static/js/live.js" {} };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        layout::page_with(&chrome, "My tasks", body, html! {}, scripts),
    )
        .into_response())
}
