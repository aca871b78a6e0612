//! Login and logout. Unknown email and wrong password get the same answer; attempts are
//! rate-limited per IP and per account; a new session id is issued at every login; the
//! form is protected by a double-submit CSRF cookie (there is no session yet), checked
//! by [`CsrfForm`].

use super::layout;
use crate::AppState;
use crate::auth::{self, Authed, ClientIp, LOGIN_CSRF_COOKIE};
use crate::forms::{Button, CsrfForm};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
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

fn login_form(csrf: &str, email: &str, next: &str, error: Option<&str>) -> maud::Markup {
    layout::bare(
        "Log in",
        html! {
            div.login.card {
                h1 { "Log in to cflows" }
                (layout::banners(None, error))
                form.stack method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    @if !next.is_empty() { input type="hidden" name="next" value=(next); }
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) required autocomplete="username" autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" required autocomplete="current-password";
                    button type="submit" { "Log in" }
                }
                p { a href="/password/forgot" { "Forgot password?" } }
            }
        },
    )
}

/// The CSRF token of a form posted before there is a session (login, accepting an
/// invitation as a new person): a double-submit cookie scoped to `path`.
pub(crate) fn pre_session_csrf(jar: CookieJar, secure: bool, path: &str) -> (CookieJar, String) {
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
        .path(path.to_string())
        .build();
    (jar.add(cookie), token)
}

fn login_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    pre_session_csrf(jar, secure, "/login")
}

/// Where to go after logging in: `?next=`, only a path on this server.
#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
}

impl Next {
    fn safe(&self) -> &str {
        let n = self.next.as_str();
        if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') {
            n
        } else {
            ""
        }
    }
}

async fn login_page(
    State(state): State<AppState>,
    authed: Result<Authed, auth::AuthRejection>,
    jar: CookieJar,
    axum::extract::Query(next): axum::extract::Query<Next>,
) -> Response {
    // A form posted with a session carries the session's token (see `forms`).
    if let Ok(a) = authed {
        return login_form(&a.csrf, "", next.safe(), None).into_response();
    }
    let (jar, token) = login_csrf(jar, state.settings.http.secure_cookies());
    (jar, login_form(&token, "", next.safe(), None)).into_response()
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    next: Next,
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let secure = state.settings.http.secure_cookies();
    let (jar, token) = login_csrf(jar, secure);
    let next = form.next.safe().to_string();
    match crate::app::start_session(&state, ip, &jar, &form.email, &form.password).await {
        Ok((session, _, _)) => {
            let jar = jar
                .add(auth::session_cookie(secure, &session))
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"));
            let to = if next.is_empty() { "/" } else { next.as_str() };
            (jar, Redirect::to(to)).into_response()
        }
        Err(e) => (
            e.status(),
            jar,
            login_form(&token, &form.email, &next, Some(&e.to_string())),
        )
            .into_response(),
    }
}

async fn logout(
    State(state): State<AppState>,
    authed: Authed,
    jar: CookieJar,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> Result<Response, crate::error::PageError> {
    state.core.directory.end_session(&authed.session_id).await?;
    let secure = state.settings.http.secure_cookies();
    Ok((
        jar.add(auth::clear_session_cookie(secure)),
        Redirect::to("/login"),
    )
        .into_response())
}
