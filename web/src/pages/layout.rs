//! The page frame: header with navigation, organization switcher and logout, then content.

use maud::{DOCTYPE, Markup, html};

/// The stylesheet, compiled into the binary and served at `/static/app.css`.
pub const APP_CSS: &str = include_str!("../../static/css/app.css");

/// What the header shows about the viewer.
pub struct Chrome {
    pub user_name: String,
    pub csrf: String,
    /// Active organization name, if any.
    pub org_name: Option<String>,
    pub admin: bool,
    pub operator: bool,
    /// (org id, name) pairs to switch between; shown when more than one.
    pub orgs: Vec<(String, String)>,
    pub active_org: Option<String>,
    /// The current section, for `aria-current`.
    pub section: &'static str,
}

/// A page for a logged-in user.
pub fn page(chrome: &Chrome, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cflows" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header.top {
                    a.brand href="/" { "cflows" }
                    nav {
                        @if let Some(org) = &chrome.org_name { span.muted { (org) } }
                        @if chrome.admin {
                            a href="/staff/users" aria-current=[current(chrome, "users")] { "Users" }
                            a href="/staff/teams" aria-current=[current(chrome, "teams")] { "Teams" }
                            a href="/staff/settings" aria-current=[current(chrome, "settings")] { "Settings" }
                        }
                        @if chrome.org_name.is_some() {
                            a href="/me" aria-current=[current(chrome, "me")] { "My profile" }
                        }
                        @if chrome.operator { a href="/platform" aria-current=[current(chrome, "platform")] { "Platform" } }
                    }
                    @if chrome.orgs.len() > 1 {
                        form method="post" action="/switch-org" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            select name="org_id" aria-label="Organization" {
                                @for (id, name) in &chrome.orgs {
                                    option value=(id) selected[chrome.active_org.as_deref() == Some(id.as_str())] { (name) }
                                }
                            }
                            " " button.link type="submit" { "Switch" }
                        }
                    }
                    span { (chrome.user_name) }
                    form method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(chrome.csrf);
                        button.link type="submit" { "Log out" }
                    }
                }
                main { (content) }
            }
        }
    }
}

fn current(chrome: &Chrome, section: &str) -> Option<&'static str> {
    (chrome.section == section).then_some("page")
}

/// A page without the logged-in frame (login, errors).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cflows" }
                link rel="stylesheet" href="/static/app.css";
            }
            body { main { (content) } }
        }
    }
}

/// Notice and error banners from the query string or a failed form.
pub fn banners(notice: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A colour swatch.
pub fn swatch(colour: &str) -> Markup {
    html! { span.swatch style=(format!("background:{colour}")) {} }
}
