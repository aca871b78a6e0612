//! `/invite/{token}`: accepting an invitation. A logged-in account with the invited
//! address joins with one click; anyone else may log in with that address, or choose a
//! name and password to create the account. The page looks the same whether or not the
//! address already has an account.

use super::layout;
use super::login::pre_session_csrf;
use crate::AppState;
use crate::app::{InvitedNext, accept_invitation, prepare_invited_account};
use crate::auth::{self, AuthRejection, Authed};
use crate::error::PageError;
use crate::forms::CsrfForm;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use cflows_protocol::{InvitationView, OrgView};
use maud::{Markup, html};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/invite/{token}", get(invite_page).post(accept))
}

const DEAD_LINK: &str =
    "This invitation link does not work any more (used, revoked or expired). Ask for a new one.";

fn page(
    token: &str,
    org: &OrgView,
    inv: &InvitationView,
    authed: Option<&Authed>,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    let action = format!("/invite/{token}");
    layout::bare(
        "Invitation",
        html! {
            div.login.card {
                h1 { "Join " (org.name) }
                p { "An invitation for " strong { (inv.email) } ", as " (inv.role.as_str()) "." }
                (layout::banners(None, error))
                @match authed {
                    Some(a) if a.user.email.eq_ignore_ascii_case(&inv.email) => {
                        form.stack method="post" action=(action) {
                            input type="hidden" name="csrf" value=(a.csrf);
                            button type="submit" { "Join " (org.name) }
                        }
                    }
                    Some(a) => {
                        p { "You are logged in as " (a.user.email) ". Log out, then open this link again to accept as " (inv.email) "." }
                    }
                    None => {
                        p { "Already use cflows? " a href=(format!("/login?next={}", urlencode(&action))) { "Log in as " (inv.email) } " and join." }
                        h2 { "New to cflows?" }
                        p { "Choose your name and a password; then log in with them to join." }
                        form.stack method="post" action=(action) {
                            input type="hidden" name="csrf" value=(csrf);
                            label for="display_name" { "Your name" }
                            input #display_name type="text" name="display_name" required maxlength="120" autocomplete="name";
                            label for="password" { "Choose a password (at least 10 characters)" }
                            input #password type="password" name="password" required minlength="10" autocomplete="new-password";
                            button type="submit" { "Continue" }
                        }
                    }
                }
            }
        },
    )
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn invite_page(
    State(state): State<AppState>,
    authed: Result<Authed, AuthRejection>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let Some((_, org, inv)) = state.core.directory.invitation(&token).await? else {
        return Ok(dead_link());
    };
    let (jar, csrf) = pre_session_csrf(jar, state.settings.http.secure_cookies(), "/invite");
    Ok((
        jar,
        page(&token, &org, &inv, authed.ok().as_ref(), &csrf, None),
    )
        .into_response())
}

fn dead_link() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout::bare("Invitation", html! { div.login.card { h1 { "Invitation" } p { (DEAD_LINK) } p { a href="/login" { "Log in" } } } }),
    )
        .into_response()
}

/// The accept form: a name and password for a new account.
#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
}

async fn accept(
    State(state): State<AppState>,
    authed: Result<Authed, AuthRejection>,
    jar: CookieJar,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> Result<Response, PageError> {
    let authed = authed.ok();
    let result = match &authed {
        Some(a) => accept_invitation(&state, &token, a)
            .await
            .map(|(session, _, _)| {
                let secure = state.settings.http.secure_cookies();
                (
                    jar.clone().add(auth::session_cookie(secure, &session)),
                    Redirect::to("/"),
                )
                    .into_response()
            }),
        None => prepare_invited_account(&state, &token, &form.display_name, &form.password)
            .await
            .map(|next| next_step(&token, &next).into_response()),
    };
    match result {
        Ok(response) => Ok(response),
        Err(e) => {
            let Some((_, org, inv)) = state.core.directory.invitation(&token).await? else {
                return Ok(dead_link());
            };
            let (jar, csrf) =
                pre_session_csrf(jar, state.settings.http.secure_cookies(), "/invite");
            let body = page(
                &token,
                &org,
                &inv,
                authed.as_ref(),
                &csrf,
                Some(&e.to_string()),
            );
            Ok((e.status(), jar, body).into_response())
        }
    }
}

/// After choosing a name and password: log in as the invited address, then join.
fn next_step(token: &str, next: &InvitedNext) -> Markup {
    let login = format!("/login?next={}", urlencode(&format!("/invite/{token}")));
    layout::bare(
        "Invitation",
        html! {
            div.login.card {
                h1 { "Almost there" }
                p.notice role="status" { (next.message) }
                p { a href=(login) { "Log in as " (next.email) } }
            }
        },
    )
}
