//! Login and logout. Unknown email and wrong password get the same answer; attempts are
//! rate-limited per IP and per account; a new session id is issued at every login; the
//! form is protected by a double-submit CSRF cookie (there is no session yet).

use super::layout;
use crate::AppState;
use crate::auth::{self, Authed, ClientIp, LOGIN_CSRF_COOKIE};
use crate::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use cflows_actors::directory::random_token;
use cflows_actors::store::SessionRecord;
use cflows_protocol::{OrgView, UserId, UserView};
use maud::html;
use serde::Deserialize;
use std::net::IpAddr;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
}

fn login_form(csrf: &str, email: &str, error: Option<&str>) -> maud::Markup {
    layout::bare(
        "Log in",
        html! {
            div.login.card {
                h1 { "Log in to cflows" }
                (layout::banners(None, error))
                form.stack method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) required autocomplete="username" autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" required autocomplete="current-password";
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// A fresh login CSRF cookie and its value.
fn login_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(existing) = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string())
        && existing.len() == 64
    {
        return (jar, existing);
    }
    let token = random_token();
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, token.clone()))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/login")
        .build();
    (jar.add(cookie), token)
}

async fn login_page(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, token) = login_csrf(jar, state.settings.http.secure_cookies());
    (jar, login_form(&token, "", None)).into_response()
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let secure = state.settings.http.secure_cookies();
    let cookie_token = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if cookie_token.is_empty() || cookie_token != form.csrf {
        let (jar, token) = login_csrf(jar.remove(Cookie::from(LOGIN_CSRF_COOKIE)), secure);
        return (
            StatusCode::FORBIDDEN,
            jar,
            login_form(&token, &form.email, Some(&AppError::Csrf.to_string())),
        )
            .into_response();
    }
    match start_session(&state, ip, &jar, &form.email, &form.password).await {
        Ok((session, _, _)) => {
            let jar = jar
                .add(auth::session_cookie(secure, session.id))
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"));
            (jar, Redirect::to("/")).into_response()
        }
        Err(e) => (
            e.status(),
            jar,
            login_form(&cookie_token, &form.email, Some(&e.to_string())),
        )
            .into_response(),
    }
}

/// Checks the rate limits and credentials, ends any session the browser still had, and
/// starts a new one in the user's first organization.
///
/// # Errors
/// `RateLimited`, `BadCredentials`, or a store failure.
pub(crate) async fn start_session(
    state: &AppState,
    ip: IpAddr,
    jar: &CookieJar,
    email: &str,
    password: &str,
) -> Result<(SessionRecord, UserView, Option<OrgView>), AppError> {
    state.login_limits.check(ip, email)?;
    let dir = &state.core.directory;
    let user = dir
        .authenticate(email, password)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let user_id = UserId::new(user.id.clone());
    let orgs = dir.orgs_of(&user_id).await?;
    if orgs.is_empty() && !user.platform_operator {
        // A user removed from every organization has nowhere to go.
        return Err(AppError::BadCredentials);
    }
    if let Some(old) = jar.get(auth::session_cookie_name(
        state.settings.http.secure_cookies(),
    )) {
        let _ = dir.end_session(old.value()).await;
    }
    let org = orgs.into_iter().next().map(|(o, _)| o);
    let session = dir
        .create_session(user_id.clone(), org.as_ref().map(|o| o.id.clone()))
        .await?;
    tracing::info!(user = %user_id, "login");
    Ok((
        session,
        UserView {
            id: user_id,
            email: user.email,
            display_name: user.display_name,
        },
        org,
    ))
}

/// The logout form's fields.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    authed: Authed,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, crate::error::PageError> {
    authed.check_csrf(&form.csrf)?;
    state.core.directory.end_session(&authed.session_id).await?;
    let secure = state.settings.http.secure_cookies();
    Ok((
        jar.add(auth::clear_session_cookie(secure)),
        Redirect::to("/login"),
    )
        .into_response())
}
