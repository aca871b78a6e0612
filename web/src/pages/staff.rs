//! The staff panel (`/staff`, organization admins): users, teams and settings. Every page
//! works without JavaScript. Ids of another organization answer 404 like missing ones,
//! because every lookup goes through the session's own organization actor.

use super::home::{ProfileForm, chrome, profile_form};
use super::{Flash, layout, see_other_with_notice};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use cflows_actors::{MemberChange, SettingsChange, TeamInput};
use cflows_protocol::{ClockFormat, MemberView, OrgSnapshot, Role, TeamId, TeamView, UserId};
use maud::{Markup, html};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(|| async { Redirect::to("/staff/users") }))
        .route("/staff/users", get(users_page).post(add_user))
        .route("/staff/users/{user_id}", get(user_page))
        .route("/staff/users/{user_id}/membership", post(update_membership))
        .route("/staff/users/{user_id}/teams", post(update_user_teams))
        .route("/staff/users/{user_id}/profile", post(update_user_profile))
        .route("/staff/users/{user_id}/remove", post(remove_user))
        .route("/staff/teams", get(teams_page).post(create_team))
        .route("/staff/teams/{team_id}", get(team_page).post(update_team))
        .route("/staff/teams/{team_id}/delete", post(delete_team))
        .route("/staff/settings", get(settings_page).post(update_settings))
}

/// Renders `body` in the staff frame with `status`.
async fn staff_page(
    state: &AppState,
    m: &Member,
    section: &'static str,
    title: &str,
    status: axum::http::StatusCode,
    body: Markup,
) -> PageResult<Response> {
    let chrome = chrome(state, &m.authed, Some(m), section).await?;
    Ok((status, layout::page(&chrome, title, body)).into_response())
}

/// Re-renders a page after a failed form: the error's status and message.
async fn failed<F, Fut>(e: impl Into<AppError>, render: F) -> PageResult<Response>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = PageResult<Response>>,
{
    let e = e.into();
    if matches!(
        e,
        AppError::NotFound | AppError::Csrf | AppError::Unavailable | AppError::Internal(_)
    ) {
        return Err(e.into());
    }
    let status = e.status();
    let mut resp = render(Some(e.to_string())).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

fn role_select(name: &str, selected: Role, viewer: Role) -> Markup {
    html! {
        select name=(name) id=(name) {
            @for r in [Role::Member, Role::Admin, Role::Owner] {
                @if r != Role::Owner || viewer == Role::Owner || selected == Role::Owner {
                    option value=(r.as_str()) selected[r == selected] { (r.as_str()) }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- users

/// The add-user form's fields.
#[derive(Deserialize, Default)]
struct AddUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

async fn users_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_users(&state, &m, flash, &AddUserForm::default()).await
}

async fn render_users(
    state: &AppState,
    m: &Member,
    flash: Flash,
    form: &AddUserForm,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let body = html! {
        h1 { "Users" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        table {
            thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Status" } th { "Teams" } } }
            tbody {
                @for mem in &snap.members {
                    tr {
                        td { a href=(format!("/staff/users/{}", mem.user.id)) { (mem.user.display_name) } }
                        td { (mem.user.email) }
                        td { (mem.role.as_str()) }
                        td { @if mem.active { "active" } @else { span.muted { "deactivated" } } }
                        td { @for t in team_names(&snap, mem) { span.tag { (t) } } }
                    }
                }
            }
        }
        div.card {
            h2 { "Add a user" }
            p.muted { "A new email creates the user with the initial password; an existing user's email adds them to this organization." }
            form.stack method="post" action="/staff/users" {
                (layout::csrf_field(&m.authed.csrf))
                label for="email" { "Email" }
                input #email type="email" name="email" value=(form.email) required maxlength="254";
                label for="display_name" { "Display name" }
                input #display_name type="text" name="display_name" value=(form.display_name) maxlength="120";
                label for="password" { "Initial password (new users, at least 10 characters)" }
                input #password type="password" name="password" autocomplete="new-password";
                label for="role" { "Role" }
                (role_select("role", Role::parse(&form.role).unwrap_or(Role::Member), m.role()))
                button type="submit" { "Add user" }
            }
        }
    };
    staff_page(state, m, "users", "Users", axum::http::StatusCode::OK, body).await
}

fn team_names<'a>(snap: &'a OrgSnapshot, mem: &MemberView) -> Vec<&'a str> {
    snap.teams
        .iter()
        .filter(|t| mem.teams.contains(&t.id))
        .map(|t| t.name.as_str())
        .collect()
}

async fn add_user(
    State(state): State<AppState>,
    Admin(m): Admin,
    Form(form): Form<AddUserForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let result = match Role::parse(&form.role) {
        None => Err(AppError::InvalidInput("choose a role".into())),
        Some(role) => {
            crate::app::add_member(
                &state,
                &m,
                &form.email,
                &form.display_name,
                &form.password,
                role,
            )
            .await
        }
    };
    match result {
        Ok(view) => Ok(see_other_with_notice(
            "/staff/users",
            &format!("{} was added", view.user.display_name),
        )),
        Err(e) => {
            let flash = Flash {
                notice: None,
                error: Some(e.to_string()),
            };
            let status = e.status();
            let mut resp = render_users(&state, &m, flash, &form).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

/// After a user form: back to the user page with `notice`, or the page again with the error.
async fn user_outcome<T>(
    state: &AppState,
    m: &Member,
    user_id: &str,
    result: Result<T, cflows_actors::CoreError>,
    notice: &str,
) -> PageResult<Response> {
    match result {
        Ok(_) => Ok(see_other_with_notice(
            &format!("/staff/users/{user_id}"),
            notice,
        )),
        Err(e) => {
            failed(e, |error| {
                render_user(
                    state,
                    m,
                    user_id,
                    Flash {
                        notice: None,
                        error,
                    },
                )
            })
            .await
        }
    }
}

async fn find_member(m: &Member, user_id: &str) -> Result<MemberView, AppError> {
    m.org
        .member(UserId::new(user_id))
        .await?
        .ok_or(AppError::NotFound)
}

async fn user_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_user(&state, &m, &user_id, flash).await
}

async fn render_user(
    state: &AppState,
    m: &Member,
    user_id: &str,
    flash: Flash,
) -> PageResult<Response> {
    let target = find_member(m, user_id).await?;
    let snap = m.org.snapshot().await?;
    let base = format!("/staff/users/{}", target.user.id);
    let body = html! {
        p { a href="/staff/users" { "← Users" } }
        h1 { (target.user.display_name) " " span.muted { (target.user.email) } }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card {
            h2 { "Membership" }
            form.stack method="post" action=(format!("{base}/membership")) {
                (layout::csrf_field(&m.authed.csrf))
                label for="role" { "Role" }
                (role_select("role", target.role, m.role()))
                label { input type="checkbox" name="active" value="true" checked[target.active]; " Active (a deactivated member cannot log in to this organization)" }
                button type="submit" { "Save membership" }
            }
        }
        div.card {
            h2 { "Teams" }
            @if snap.teams.is_empty() { p.muted { "No teams yet. " a href="/staff/teams" { "Create one" } } }
            @else {
                form.stack method="post" action=(format!("{base}/teams")) {
                    (layout::csrf_field(&m.authed.csrf))
                    fieldset {
                        legend { "Member of" }
                        @for t in &snap.teams {
                            label { input type="checkbox" name="teams" value=(t.id) checked[target.teams.contains(&t.id)]; " " (layout::swatch(&t.colour)) (t.name) }
                        }
                    }
                    button type="submit" { "Save teams" }
                }
            }
        }
        div.card {
            h2 { "Profile" }
            (profile_form(&format!("{base}/profile"), &m.authed.csrf, &target.profile))
        }
        div.card {
            h2 { "Remove from organization" }
            p.muted { "Removes the membership and takes the user off every team. Their account stays for other organizations." }
            form method="post" action=(format!("{base}/remove")) {
                (layout::csrf_field(&m.authed.csrf))
                button.danger type="submit" { "Remove " (target.user.display_name) }
            }
        }
    };
    staff_page(
        state,
        m,
        "users",
        &target.user.display_name,
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

/// Membership form fields.
#[derive(Deserialize)]
struct MembershipForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    /// Present (any value) when the box is ticked.
    active: Option<String>,
}

async fn update_membership(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    Form(form): Form<MembershipForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let change = MemberChange {
        role: Role::parse(&form.role),
        active: Some(form.active.is_some()),
    };
    let result = m
        .org
        .update_member(m.caller(), UserId::new(&user_id), change)
        .await;
    user_outcome(&state, &m, &user_id, result, "Membership saved").await
}

/// Teams form fields (repeated `teams` keys).
#[derive(Deserialize)]
struct TeamsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    teams: Vec<String>,
}

async fn update_user_teams(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    axum_extra::extract::Form(form): axum_extra::extract::Form<TeamsForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let teams = form.teams.into_iter().map(TeamId::new).collect();
    let result = m
        .org
        .set_member_teams(m.caller(), UserId::new(&user_id), teams)
        .await;
    user_outcome(&state, &m, &user_id, result, "Teams saved").await
}

async fn update_user_profile(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    Form(form): Form<ProfileForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let result = m
        .org
        .update_profile(m.caller(), UserId::new(&user_id), form.profile())
        .await;
    user_outcome(&state, &m, &user_id, result, "Profile saved").await
}

async fn remove_user(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    Form(form): Form<super::login::CsrfForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let name = find_member(&m, &user_id).await?.user.display_name;
    match m.org.remove_member(m.caller(), UserId::new(&user_id)).await {
        Ok(()) => Ok(see_other_with_notice(
            "/staff/users",
            &format!("{name} was removed"),
        )),
        Err(e) => {
            failed(e, |error| {
                render_user(
                    &state,
                    &m,
                    &user_id,
                    Flash {
                        notice: None,
                        error,
                    },
                )
            })
            .await
        }
    }
}

// ---------------------------------------------------------------- teams

/// Team form fields (repeated `members` keys).
#[derive(Deserialize, Default, Clone)]
struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    bookable_count: String,
    #[serde(default)]
    manager: String,
}

impl TeamForm {
    fn input(self) -> Result<TeamInput, AppError> {
        let count = self.bookable_count.trim();
        let bookable_count = if count.is_empty() {
            0
        } else {
            count.parse().map_err(|_| {
                AppError::InvalidInput("bookable count must be a whole number from 0".into())
            })?
        };
        let some = |s: String| (!s.trim().is_empty()).then_some(s);
        Ok(TeamInput {
            name: self.name,
            description: self.description,
            colour: self.colour,
            parent: some(self.parent).map(TeamId::new),
            members: self.members.into_iter().map(UserId::new).collect(),
            bookable_count,
            manager: some(self.manager).map(UserId::new),
        })
    }

    fn from_team(t: &TeamView) -> Self {
        Self {
            csrf: String::new(),
            name: t.name.clone(),
            description: t.description.clone(),
            colour: t.colour.clone(),
            parent: t
                .parent
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            members: t.members.iter().map(ToString::to_string).collect(),
            bookable_count: t.bookable_count.to_string(),
            manager: t
                .manager
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}

fn team_form(
    snap: &OrgSnapshot,
    csrf: &str,
    action: &str,
    this: Option<&TeamId>,
    f: &TeamForm,
    submit: &str,
) -> Markup {
    let colour = if f.colour.is_empty() {
        "#64748b"
    } else {
        f.colour.as_str()
    };
    html! {
        form.stack method="post" action=(action) {
            (layout::csrf_field(csrf))
            label for="name" { "Name" }
            input #name type="text" name="name" value=(f.name) required maxlength="120";
            label for="description" { "Description" }
            textarea #description name="description" maxlength="2000" { (f.description) }
            label for="colour" { "Colour" }
            input #colour type="color" name="colour" value=(colour);
            label for="parent" { "Parent team" }
            select #parent name="parent" {
                option value="" { "(none)" }
                @for t in snap.teams.iter().filter(|t| Some(&t.id) != this) {
                    option value=(t.id) selected[f.parent == t.id.as_str()] { (t.name) }
                }
            }
            fieldset {
                legend { "Members" }
                @for mem in snap.members.iter().filter(|m| m.active) {
                    label { input type="checkbox" name="members" value=(mem.user.id) checked[f.members.iter().any(|x| x == mem.user.id.as_str())]; " " (mem.user.display_name) }
                }
            }
            label for="bookable_count" { "Bookable members (capacity: how many can be booked at once)" }
            input #bookable_count type="number" name="bookable_count" min="0" value=(f.bookable_count);
            label for="manager" { "Manager" }
            select #manager name="manager" {
                option value="" { "(none)" }
                @for mem in snap.members.iter().filter(|m| m.active) {
                    option value=(mem.user.id) selected[f.manager == mem.user.id.as_str()] { (mem.user.display_name) }
                }
            }
            button type="submit" { (submit) }
        }
    }
}

async fn teams_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_teams(&state, &m, flash, &TeamForm::default()).await
}

async fn render_teams(
    state: &AppState,
    m: &Member,
    flash: Flash,
    form: &TeamForm,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let name_of = |id: &Option<TeamId>| {
        id.as_ref()
            .and_then(|p| snap.teams.iter().find(|t| &t.id == p))
            .map(|t| t.name.clone())
    };
    let body = html! {
        h1 { "Teams" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        table {
            thead { tr { th { "Team" } th { "Parent" } th { "Members" } th { "Bookable" } th { "Manager" } } }
            tbody {
                @for t in &snap.teams {
                    tr {
                        td { (layout::swatch(&t.colour)) a href=(format!("/staff/teams/{}", t.id)) { (t.name) } }
                        td { (name_of(&t.parent).unwrap_or_default()) }
                        td { (t.members.len()) }
                        td { (t.bookable_count) }
                        td { (t.manager.as_ref().and_then(|u| snap.members.iter().find(|m| &m.user.id == u)).map(|m| m.user.display_name.clone()).unwrap_or_default()) }
                    }
                }
            }
        }
        div.card {
            h2 { "Create a team" }
            (team_form(&snap, &m.authed.csrf, "/staff/teams", None, form, "Create team"))
        }
    };
    staff_page(state, m, "teams", "Teams", axum::http::StatusCode::OK, body).await
}

async fn create_team(
    State(state): State<AppState>,
    Admin(m): Admin,
    axum_extra::extract::Form(form): axum_extra::extract::Form<TeamForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let kept = form.clone();
    let result = match form.input() {
        Ok(input) => m
            .org
            .create_team(m.caller(), input)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => Ok(see_other_with_notice(
            "/staff/teams",
            &format!("Team {} was created", t.name),
        )),
        Err(e) => {
            failed(e, |error| {
                render_teams(
                    &state,
                    &m,
                    Flash {
                        notice: None,
                        error,
                    },
                    &kept,
                )
            })
            .await
        }
    }
}

async fn find_team(m: &Member, team_id: &str) -> Result<(OrgSnapshot, TeamView), AppError> {
    let snap = m.org.snapshot().await?;
    let team = snap
        .teams
        .iter()
        .find(|t| t.id.as_str() == team_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok((snap, team))
}

async fn team_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(team_id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let (_, team) = find_team(&m, &team_id).await?;
    render_team(&state, &m, &team_id, flash, &TeamForm::from_team(&team)).await
}

async fn render_team(
    state: &AppState,
    m: &Member,
    team_id: &str,
    flash: Flash,
    form: &TeamForm,
) -> PageResult<Response> {
    let (snap, team) = find_team(m, team_id).await?;
    let base = format!("/staff/teams/{}", team.id);
    let body = html! {
        p { a href="/staff/teams" { "← Teams" } }
        h1 { (layout::swatch(&team.colour)) (team.name) }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card { (team_form(&snap, &m.authed.csrf, &base, Some(&team.id), form, "Save team")) }
        div.card {
            h2 { "Delete team" }
            p.muted { "Its child teams move up to its parent." }
            form method="post" action=(format!("{base}/delete")) {
                (layout::csrf_field(&m.authed.csrf))
                button.danger type="submit" { "Delete " (team.name) }
            }
        }
    };
    staff_page(
        state,
        m,
        "teams",
        &team.name,
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

async fn update_team(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(team_id): Path<String>,
    axum_extra::extract::Form(form): axum_extra::extract::Form<TeamForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let kept = form.clone();
    let result = match form.input() {
        Ok(input) => m
            .org
            .update_team(m.caller(), TeamId::new(&team_id), input)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other_with_notice(
            &format!("/staff/teams/{team_id}"),
            "Team saved",
        )),
        Err(e) => {
            failed(e, |error| {
                render_team(
                    &state,
                    &m,
                    &team_id,
                    Flash {
                        notice: None,
                        error,
                    },
                    &kept,
                )
            })
            .await
        }
    }
}

async fn delete_team(
    State(_state): State<AppState>,
    Admin(m): Admin,
    Path(team_id): Path<String>,
    Form(form): Form<super::login::CsrfForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let (_, team) = find_team(&m, &team_id).await?;
    m.org.delete_team(m.caller(), team.id).await?;
    Ok(see_other_with_notice(
        "/staff/teams",
        &format!("Team {} was deleted", team.name),
    ))
}

// ---------------------------------------------------------------- settings

/// Settings form fields.
#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    clock: String,
}

async fn settings_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    let org = m.org.snapshot().await?.org;
    let form = SettingsForm {
        csrf: String::new(),
        name: org.name,
        timezone: org.timezone,
        clock: org.clock.as_str().into(),
    };
    render_settings(&state, &m, flash, &form).await
}

async fn render_settings(
    state: &AppState,
    m: &Member,
    flash: Flash,
    f: &SettingsForm,
) -> PageResult<Response> {
    let body = html! {
        h1 { "Organization settings" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card {
            form.stack method="post" action="/staff/settings" {
                (layout::csrf_field(&m.authed.csrf))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(f.name) required maxlength="120";
                label for="timezone" { "Time zone (IANA name)" }
                input #timezone type="text" name="timezone" value=(f.timezone) required list="zones";
                datalist #zones { @for z in COMMON_ZONES { option value=(z) {} } }
                label for="clock" { "Time display" }
                select #clock name="clock" {
                    option value="h24" selected[f.clock == "h24"] { "24-hour (13:30)" }
                    option value="h12" selected[f.clock == "h12"] { "12-hour (1:30 PM)" }
                }
                button type="submit" { "Save settings" }
            }
        }
    };
    staff_page(
        state,
        m,
        "settings",
        "Settings",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

/// Suggestions for the zone field; any IANA name is accepted.
const COMMON_ZONES: &[&str] = &[
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Warsaw",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
];

async fn update_settings(
    State(state): State<AppState>,
    Admin(m): Admin,
    Form(form): Form<SettingsForm>,
) -> PageResult<Response> {
    m.authed.check_csrf(&form.csrf)?;
    let result = match ClockFormat::parse(&form.clock) {
        None => Err(AppError::InvalidInput("choose 12- or 24-hour time".into())),
        Some(clock) => m
            .org
            .update_settings(
                m.caller(),
                SettingsChange {
                    name: form.name.clone(),
                    timezone: form.timezone.clone(),
                    clock,
                },
            )
            .await
            .map_err(AppError::from),
    };
    match result {
        Ok(_) => Ok(see_other_with_notice("/staff/settings", "Settings saved")),
        Err(e) => {
            failed(e, |error| {
                render_settings(
                    &state,
                    &m,
                    Flash {
                        notice: None,
                        error,
                    },
                    &form,
                )
            })
            .await
        }
    }
}
