//! The start page ("Today", gathered and drawn in [`super::today`]), the organization
//! switcher and the member's own profile page with their picture and the password change.

use super::{Flash, layout, see_other_with_notice};
use crate::AppState;
use crate::auth::{self, Authed, ClientIp, Member};
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm, CsrfMultipart};
use crate::pages::layout::Section;
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
        .route("/me/password", post(password_submit))
        .route("/me/avatar/remove", post(avatar_remove))
        .merge(
            // A picture may be as large as an attachment: read up to that limit.
            Router::new()
                .route("/me/avatar", post(avatar_upload))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
}

/// The header for `authed`, in `member`'s organization if any.
pub(crate) async fn chrome(
    state: &AppState,
    authed: &Authed,
    member: Option<&Member>,
    section: layout::Section,
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
    // The clock from the Org itself: the list above may be up to half a minute old.
    let h24 = match member {
        Some(m) => m.org.settings().await?.clock == cflows_protocol::ClockFormat::H24,
        None => false,
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
        h24,
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
        let chrome = chrome(&state, &authed, None, Section::Today).await?;
        return Ok(layout::page(&chrome, "Welcome", html! {
            h1 { "Welcome, " (authed.user.display_name) }
            p { "You are not an active member of any organization. Ask an administrator to add you." }
        })
        .into_response());
    };
    let today = super::today::gather(&state, &m).await?;
    let chrome = chrome(&state, &authed, Some(&m), Section::Today).await?;
    let scripts = html! { script type="module" src="/static/js/live.js" {} };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        layout::page_with(
            &chrome,
            "Today",
            super::today::render(&today),
            html! {},
            scripts,
        ),
    )
        .into_response())
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
            label for="timezone" { "Time zone (empty: the organization's)" }
            (layout::zone_input("timezone", &p.timezone, false))
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
    pub bio: String,
}

impl ProfileForm {
    /// The profile the form describes, keeping the picture it does not edit.
    pub(crate) fn profile(self, avatar: String) -> ProfileView {
        ProfileView {
            title: self.title,
            location: self.location,
            timezone: self.timezone,
            avatar,
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
    let chrome = chrome(state, &m.authed, Some(m), Section::Profile).await?;
    let body = html! {
        h1 { "My profile" }
        p { a href="/me/notifications" { "Notifications by mail" } " — choose what reaches you by mail, and when." }
        (layout::banners(notice, error))
        (picture_card(&m.authed.csrf, &m.authed.user.display_name, &p.avatar))
        div.card { (profile_form("/me", &m.authed.csrf, p)) }
        div.card {
            h2 #password-title { "Change your password" }
            p.muted { "Your other browsers and devices will be logged out; this one stays logged in." }
            form.stack method="post" action="/me/password" aria-labelledby="password-title" {
                (layout::csrf_field(&m.authed.csrf))
                input type="hidden" name="username" value=(m.authed.user.email) autocomplete="username";
                label for="current_password" { "Current password" }
                input #current_password type="password" name="current_password" required autocomplete="current-password";
                label for="new_password" { "New password" }
                input #new_password type="password" name="new_password" required autocomplete="new-password"
                    minlength=(cflows_actors::domain::validate::MIN_PASSWORD) aria-describedby="new-password-hint";
                p.muted.hint #new-password-hint { "At least " (cflows_actors::domain::validate::MIN_PASSWORD) " characters." }
                label for="new_password_again" { "New password again" }
                input #new_password_again type="password" name="new_password_again" required autocomplete="new-password";
                button type="submit" { "Change password" }
            }
        }
    };
    Ok(layout::page(&chrome, "My profile", body).into_response())
}

async fn profile_submit(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> PageResult<Response> {
    let profile = form.profile(m.member.profile.avatar.clone());
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

/// The member's picture (or their initials) with the upload and remove forms.
fn picture_card(csrf: &str, name: &str, avatar: &str) -> Markup {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    html! {
        div.card {
            h2 #picture-title { "Your picture" }
            div.picture {
                @if avatar.is_empty() {
                    span.avatar.initials role="img" aria-label="No picture yet" { (initials) }
                } @else {
                    img.avatar src=(avatar) alt="Your picture" width="96" height="96";
                }
                div {
                    form.stack method="post" action="/me/avatar" enctype="multipart/form-data" aria-labelledby="picture-title" {
                        // The token is the first part: it is checked before the file is read.
                        (layout::csrf_field(csrf))
                        label for="avatar-file" { "Choose a picture" }
                        input #avatar-file type="file" name="avatar" required
                            accept="image/png,image/jpeg,image/webp,image/gif" aria-describedby="avatar-hint";
                        p.muted.hint #avatar-hint { "A PNG, JPEG, WebP or GIF photo; it is shown small and square." }
                        button type="submit" { "Upload picture" }
                    }
                    @if !avatar.is_empty() {
                        form method="post" action="/me/avatar/remove" {
                            (layout::csrf_field(csrf))
                            button.danger type="submit" { "Remove picture" }
                        }
                    }
                }
            }
        }
    }
}

/// Saves `avatar` as the member's picture, then shows the profile saying `done` (or
/// the refusal on the same page).
async fn save_avatar(
    state: &AppState,
    m: &Member,
    avatar: Result<String, AppError>,
    done: &str,
) -> PageResult<Response> {
    let saved = match avatar {
        Ok(avatar) => {
            let profile = ProfileView {
                avatar,
                ..m.member.profile.clone()
            };
            m.org
                .update_profile(m.caller(), m.member.user.id.clone(), profile)
                .await
                .map_err(AppError::from)
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(see_other_with_notice("/me", done)),
        Err(e @ (AppError::InvalidInput(_) | AppError::Malformed(..) | AppError::Unavailable)) => {
            let mut resp =
                render_profile(state, m, &m.member.profile, None, Some(&e.to_string())).await?;
            *resp.status_mut() = e.status();
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

async fn avatar_upload(
    State(state): State<AppState>,
    m: Member,
    multipart: CsrfMultipart,
) -> PageResult<Response> {
    let files = state.core.kernel.files();
    let avatar = async {
        let (_, bytes) = multipart.file("avatar", files.max_bytes()).await?;
        Ok(files.picture(bytes).await?)
    }
    .await;
    save_avatar(&state, &m, avatar, "Picture saved").await
}

async fn avatar_remove(
    State(state): State<AppState>,
    m: Member,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    save_avatar(&state, &m, Ok(String::new()), "Picture removed").await
}

/// The password form's fields.
#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

async fn password_submit(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> PageResult<Response> {
    match crate::app::change_password(
        &state,
        ip,
        &m.authed,
        &form.current_password,
        &form.new_password,
        &form.new_password_again,
    )
    .await
    {
        Ok(session) => {
            let secure = state.settings.http.secure_cookies();
            Ok((
                jar.add(auth::session_cookie(secure, &session)),
                see_other_with_notice(
                    "/me",
                    "Password changed. Your other sessions were logged out.",
                ),
            )
                .into_response())
        }
        Err(e @ (AppError::InvalidInput(_) | AppError::RateLimited)) => {
            let mut resp =
                render_profile(&state, &m, &m.member.profile, None, Some(&e.to_string())).await?;
            *resp.status_mut() = e.status();
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}
