//! The start page, the organization switcher and the member's own profile page.

use super::{Flash, layout, see_other_with_notice};
use crate::AppState;
use crate::auth::{self, Authed, Member};
use crate::error::{AppError, PageResult};
use crate::forms::CsrfForm;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use cflows_protocol::{OrgId, ProfileView};
use maud::{Markup, html};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/switch-org", post(switch_org))
        .route("/me", get(profile_page).post(profile_submit))
}

/// The header for `authed`, in `member`'s organization if any.
pub(crate) async fn chrome(
    state: &AppState,
    authed: &Authed,
    member: Option<&Member>,
    section: &'static str,
) -> Result<layout::Chrome, AppError> {
    let orgs = state
        .core
        .directory
        .orgs_of_for_display(&authed.user_id())
        .await?;
    let org_name = match (member, &authed.org) {
        (Some(_), Some(id)) => orgs
            .iter()
            .find(|(o, _)| &o.id == id)
            .map(|(o, _)| o.name.clone()),
        _ => None,
    };
    let unread = match state.core.directory.inbox(&authed.user_id()).await {
        Ok(inbox) => inbox.snapshot().await.map_or(0, |s| s.unread),
        Err(_) => 0,
    };
    Ok(layout::Chrome {
        user_name: authed.user.display_name.clone(),
        user_id: authed.user.id.clone(),
        unread,
        csrf: authed.csrf.clone(),
        org_name,
        admin: member.is_some_and(|m| m.role().is_admin()),
        operator: authed.user.platform_operator,
        orgs: orgs
            .iter()
            .map(|(o, _)| (o.id.to_string(), o.name.clone()))
            .collect(),
        active_org: authed.org.as_ref().map(ToString::to_string),
        section,
    })
}

async fn home(
    State(state): State<AppState>,
    authed: Authed,
    member: Option<Member>,
) -> PageResult<Response> {
    let Some(m) = member else {
        if authed.user.platform_operator {
            return Ok(Redirect::to("/platform").into_response());
        }
        let chrome = chrome(&state, &authed, None, "home").await?;
        return Ok(layout::page(&chrome, "Welcome", html! {
            h1 { "Welcome, " (authed.user.display_name) }
            p { "You are not an active member of any organization. Ask an administrator to add you." }
        })
        .into_response());
    };
    let snap = m.org.snapshot().await?;
    let chrome = chrome(&state, &authed, Some(&m), "home").await?;
    let my_teams: Vec<_> = snap
        .teams
        .iter()
        .filter(|t| t.members.contains(&m.member.user.id))
        .collect();
    let body = html! {
        h1 { (snap.org.name) }
        div.card {
            p { "Signed in as " strong { (m.member.user.display_name) } " (" (m.role().as_str()) ")." }
            p.muted { "Time zone " (snap.org.timezone) " · " (if snap.org.clock == cflows_protocol::ClockFormat::H24 { "24-hour clock" } else { "12-hour clock" }) }
        }
        h2 { "Your teams" }
        @if my_teams.is_empty() { p.muted { "You are not in a team yet." } }
        @else {
            ul { @for t in &my_teams { li { (layout::swatch(&t.colour)) (t.name) } } }
        }
        @if m.role().is_admin() {
            h2 { "Administration" }
            p { a href="/staff/users" { "Manage users" } " · " a href="/staff/teams" { "Manage teams" } " · " a href="/staff/settings" { "Organization settings" } }
        }
    };
    Ok(layout::page(&chrome, &snap.org.name, body).into_response())
}

/// The switcher's fields.
#[derive(Deserialize)]
struct SwitchForm {
    org_id: String,
}

async fn switch_org(
    State(state): State<AppState>,
    authed: Authed,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> PageResult<Response> {
    let (session, _) =
        crate::app::switch_session_org(&state, &authed, &OrgId::new(form.org_id)).await?;
    let secure = state.settings.http.secure_cookies();
    Ok((
        jar.add(auth::session_cookie(secure, &session)),
        Redirect::to("/"),
    )
        .into_response())
}

/// The profile form (own profile; admins edit others' on the staff user page).
pub(crate) fn profile_form(action: &str, csrf: &str, p: &ProfileView) -> Markup {
    html! {
        form.stack method="post" action=(action) {
            (layout::csrf_field(csrf))
            label for="title" { "Title" }
            input #title type="text" name="title" value=(p.title) maxlength="120";
            label for="location" { "Location" }
            input #location type="text" name="location" value=(p.location) maxlength="120";
            label for="timezone" { "Time zone (IANA, empty for the organization's)" }
            input #timezone type="text" name="timezone" value=(p.timezone) placeholder="Europe/Berlin";
            label for="avatar" { "Avatar (image data URL)" }
            input #avatar type="text" name="avatar" value=(p.avatar) placeholder="data:image/png;base64,...";
            label for="bio" { "Bio" }
            textarea #bio name="bio" maxlength="2000" { (p.bio) }
            button type="submit" { "Save profile" }
        }
    }
}

/// Profile form fields.
#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub avatar: String,
    #[serde(default)]
    pub bio: String,
}

impl ProfileForm {
    pub(crate) fn profile(self) -> ProfileView {
        ProfileView {
            title: self.title,
            location: self.location,
            timezone: self.timezone,
            avatar: self.avatar,
            bio: self.bio,
        }
    }
}

async fn profile_page(
    State(state): State<AppState>,
    m: Member,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_profile(&state, &m, &m.member.profile, flash.notice.as_deref(), None).await
}

async fn render_profile(
    state: &AppState,
    m: &Member,
    p: &ProfileView,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult<Response> {
    let chrome = chrome(state, &m.authed, Some(m), "me").await?;
    let body = html! {
        h1 { "My profile" }
        (layout::banners(notice, error))
        div.card { (profile_form("/me", &m.authed.csrf, p)) }
    };
    Ok(layout::page(&chrome, "My profile", body).into_response())
}

async fn profile_submit(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> PageResult<Response> {
    let profile = form.profile();
    match m
        .org
        .update_profile(m.caller(), m.member.user.id.clone(), profile.clone())
        .await
    {
        Ok(_) => Ok(see_other_with_notice("/me", "Profile saved")),
        Err(e) => {
            let e = AppError::from(e);
            let mut resp = render_profile(&state, &m, &profile, None, Some(&e.to_string())).await?;
            *resp.status_mut() = e.status();
            Ok(resp)
        }
    }
}
