//! "Forgot password?" and the page a reset link opens. Plain forms; before there is a
//! session their CSRF token is a double-submit cookie (as the login form's).

use super::layout;
use super::login::pre_session_csrf;
use crate::AppState;
use crate::auth::{self, Authed, ClientIp};
use crate::error::AppError;
use crate::forms::CsrfForm;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use cflows_actors::domain::validate::MIN_PASSWORD;
use maud::{Markup, html};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot_submit))
        .route(
            "/password/reset/{token}",
            get(reset_page).post(reset_submit),
        )
}

/// The form's token: the session's when logged in, the pre-session cookie's otherwise.
fn token(state: &AppState, authed: Option<&Authed>, jar: CookieJar) -> (CookieJar, String) {
    match authed {
        Some(a) => (jar, a.csrf.clone()),
        None => pre_session_csrf(jar, state.settings.http.secure_cookies(), "/password"),
    }
}

fn forgot_form(state: &AppState, csrf: &str, email: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Forgot password",
        html! {
            div.login.card {
                h1 { "Set a new password" }
                @if state.mailer.enabled() {
                    p { "Type the email address you log in with. We mail you a link to set a new password; it works for one hour." }
                    (layout::banners(None, error))
                    form.stack method="post" action="/password/forgot" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="email" { "Email" }
                        input #email type="email" name="email" value=(email) required autocomplete="username" autofocus;
                        button type="submit" { "Send me a link" }
                    }
                } @else {
                    p { "This server does not send mail. Ask an administrator of your organization to send you a reset link: they find it on your page under Staff → People." }
                }
                p { a href="/login" { "Back to log in" } }
            }
        },
    )
}

async fn forgot_page(
    State(state): State<AppState>,
    authed: Result<Authed, auth::AuthRejection>,
    jar: CookieJar,
) -> Response {
    let (jar, csrf) = token(&state, authed.as_ref().ok(), jar);
    (jar, forgot_form(&state, &csrf, "", None)).into_response()
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    authed: Result<Authed, auth::AuthRejection>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Response {
    let (jar, csrf) = token(&state, authed.as_ref().ok(), jar);
    match crate::passwords::forgot(&state, ip, &form.email).await {
        Ok(()) => (
            jar,
            layout::bare(
                "Check your mail",
                html! {
                    div.login.card {
                        h1 { "Check your mail" }
                        p role="status" {
                            "If an account exists for " strong { (form.email.trim()) } ", we have mailed it a link to set a new password. The link works once, for one hour."
                        }
                        p { "Nothing after a few minutes? Look in your spam folder, or ask an administrator of your organization to send you a link." }
                        p { a href="/login" { "Back to log in" } }
                    }
                },
            ),
        )
            .into_response(),
        Err(e) => (
            e.status(),
            jar,
            forgot_form(&state, &csrf, &form.email, Some(&e.to_string())),
        )
            .into_response(),
    }
}

fn reset_form(csrf: &str, token: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Set a new password",
        html! {
            div.login.card {
                h1 { "Set a new password" }
                p { "At least " (MIN_PASSWORD) " characters. Setting it logs you out everywhere else." }
                (layout::banners(None, error))
                form.stack method="post" action=(format!("/password/reset/{token}")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="new" { "New password" }
                    input #new type="password" name="new" required minlength=(MIN_PASSWORD) autocomplete="new-password" autofocus;
                    label for="again" { "New password again" }
                    input #again type="password" name="again" required minlength=(MIN_PASSWORD) autocomplete="new-password";
                    button type="submit" { "Set password" }
                }
            }
        },
    )
}

fn dead_link() -> Markup {
    layout::bare(
        "Link expired",
        html! {
            div.login.card {
                h1 { "This link does not work any more" }
                p { "It has expired (links work for one hour) or was already used." }
                p { a href="/password/forgot" { "Ask for a new link" } " · " a href="/login" { "Log in" } }
            }
        },
    )
}

async fn reset_page(
    State(state): State<AppState>,
    authed: Result<Authed, auth::AuthRejection>,
    jar: CookieJar,
    Path(link): Path<String>,
) -> Response {
    match crate::passwords::link_works(&state, &link).await {
        Ok(true) => {
            let (jar, csrf) = token(&state, authed.as_ref().ok(), jar);
            (jar, reset_form(&csrf, &link, None)).into_response()
        }
        Ok(false) => (axum::http::StatusCode::NOT_FOUND, dead_link()).into_response(),
        Err(e) => crate::error::PageError(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

async fn reset_submit(
    State(state): State<AppState>,
    authed: Result<Authed, auth::AuthRejection>,
    jar: CookieJar,
    Path(link): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Response {
    let (jar, csrf) = token(&state, authed.as_ref().ok(), jar);
    match crate::passwords::reset(&state, &link, &form.new, &form.again).await {
        Ok(()) => (
            jar,
            layout::bare(
                "Password set",
                html! {
                    div.login.card {
                        h1 { "Your new password is set" }
                        p role="status" { "Every other session of your account has ended. Log in with the new password." }
                        p { a.button href="/login" { "Log in" } }
                    }
                },
            ),
        )
            .into_response(),
        Err(AppError::InvalidInput(msg)) if msg == crate::passwords::DEAD_LINK => {
            (axum::http::StatusCode::NOT_FOUND, jar, dead_link()).into_response()
        }
        Err(e) => (
            e.status(),
            jar,
            reset_form(&csrf, &link, Some(&e.to_string())),
        )
            .into_response(),
    }
}
