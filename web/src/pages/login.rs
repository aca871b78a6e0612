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
use maud::html;
use serde::Deserialize;

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
    match crate::app::start_session(&state, ip, &jar, &form.email, &form.password).await {
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
