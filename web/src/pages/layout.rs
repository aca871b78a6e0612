//! The page frame: header with navigation, organization switcher and logout, then content.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;

/// The stylesheet, compiled into the binary and served at `/static/app.css`.
pub const APP_CSS: &str = include_str!("../../static/css/app.css");
/// The browser protocol client (`/static/js/cflows.js`).
pub const CLIENT_JS: &str = include_str!("../../static/js/cflows.js");
/// The notification bell (`/static/js/bell.js`).
pub const BELL_JS: &str = include_str!("../../static/js/bell.js");
/// Vendored @msgpack/msgpack UMD build (`/static/vendor/msgpack.min.js`); see scripts/vendor.sh.
pub const MSGPACK_JS: &str = include_str!("../../static/vendor/msgpack/msgpack.min.js");

/// What the header shows about the viewer.
pub struct Chrome {
    pub user_name: String,
    /// For the bell's `inbox:{user}` stream.
    pub user_id: String,
    /// Unread notifications when the page was rendered; the bell keeps it live.
    pub unread: u32,
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
    page_with(chrome, title, content, html! {}, html! {})
}

/// [`page`] with extra stylesheets in the head and scripts after the content.
pub fn page_with(
    chrome: &Chrome,
    title: &str,
    content: Markup,
    head: Markup,
    scripts: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cflows" }
                (head)
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
                            a href="/staff/capacity" aria-current=[current(chrome, "capacity")] { "Job types & hours" }
                            a href="/staff/workflows" aria-current=[current(chrome, "workflows")] { "Workflows" }
                            a href="/staff/kiosks" aria-current=[current(chrome, "kiosks")] { "Kiosks" }
                            a href="/staff/metrics" aria-current=[current(chrome, "metrics")] { "Metrics" }
                            a href="/staff/audit" aria-current=[current(chrome, "audit")] { "Audit log" }
                            a href="/staff/settings" aria-current=[current(chrome, "settings")] { "Settings" }
                        }
                        @if chrome.org_name.is_some() {
                            a href="/boards" aria-current=[current(chrome, "boards")] { "Boards" }
                            a href="/projects" aria-current=[current(chrome, "projects")] { "Projects" }
                            a href="/tasks" aria-current=[current(chrome, "tasks")] { "My tasks" }
                            a href="/calendar" aria-current=[current(chrome, "calendar")] { "Calendar" }
                            a href="/calendar/board" aria-current=[current(chrome, "board")] { "Capacity" }
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
                    a.bell href="/notifications" data-bell data-user=(chrome.user_id) aria-label=(format!("Notifications, {} unread", chrome.unread)) {
                        (bell_icon()) span.badge data-unread hidden[chrome.unread == 0] { (chrome.unread) }
                    }
                    div.bell-panel data-bell-panel hidden {
                        ul {}
                        div.actions { a href="/notifications" { "All notifications" } button type="button" data-mark-all { "Mark all read" } }
                    }
                    span { (chrome.user_name) }
                    form method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(chrome.csrf);
                        button.link type="submit" { "Log out" }
                    }
                }
                main { (content) }
                script src="/static/vendor/msgpack.min.js" {}
                script type="module" src="/static/js/bell.js" {}
                (scripts)
            }
        }
    }
}

/// A bell outline (inline SVG: no icon font or emoji font needed).
fn bell_icon() -> maud::PreEscaped<&'static str> {
    maud::PreEscaped(
        r#"<svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.73 21a2 2 0 0 1-3.46 0"/></svg>"#,
    )
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

/// A colour swatch (an SVG fill, so the page needs no inline style under its CSP).
pub fn swatch(colour: &str) -> Markup {
    html! {
        svg.swatch width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" {
            rect width="12" height="12" rx="2" fill=(colour) {}
        }
    }
}

/// A JSON block a page's script boots from (no inline script under the CSP).
pub fn json_block(id: &str, value: &impl Serialize) -> Markup {
    // `</` cannot end the block early: JSON escapes it.
    let text = serde_json::to_string(value)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    maud::html! { script #(id) type="application/json" { (PreEscaped(text)) } }
}

/// Formats an instant (Unix ms) as a date and time in the organization's zone and clock
/// (see [`crate::clock::Clock`] for the viewer's own zone).
pub fn when_in(org: &cflows_protocol::OrgView) -> impl Fn(i64) -> String + use<> {
    let clock = crate::clock::Clock::new(org, "");
    move |ms| clock.when(ms)
}
