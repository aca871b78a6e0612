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

/// Declares [`Section`] and its [`Section::ALL`] from one list of variants.
macro_rules! sections {
    ($($variant:ident),* $(,)?) => {
        /// A place in the navigation: every page that shows the header names one, and the
        /// header's links are derived from [`Section::ALL`] (there is no other list of them).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Section { $($variant),* }

        impl Section {
            /// Every section, in the order the header lists them.
            pub const ALL: &'static [Section] = &[$(Section::$variant),*];
        }
    };
}

sections![
    Today,
    Calendar,
    Capacity,
    Boards,
    Projects,
    Tasks,
    Notifications,
    Profile,
    Users,
    Teams,
    JobTypes,
    Workflows,
    Kiosks,
    Audit,
    Mail,
    Metrics,
    Settings,
    Platform,
];

/// Which part of the header a section's link lives in, and who sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NavGroup {
    /// Everyday pages of any member, first in the header.
    Everyday,
    /// The organization's administration, under the one "Staff" menu (admins only).
    Staff,
    /// Platform operators only.
    Platform,
    /// Reached from the account area (bell, name), not from the list of links.
    Account,
}

impl Section {
    /// The page the section's link opens.
    pub fn href(self) -> &'static str {
        match self {
            Section::Today => "/",
            Section::Calendar => "/calendar",
            Section::Capacity => "/calendar/board",
            Section::Boards => "/boards",
            Section::Projects => "/projects",
            Section::Tasks => "/tasks",
            Section::Notifications => "/notifications",
            Section::Profile => "/me",
            Section::Users => "/staff/users",
            Section::Teams => "/staff/teams",
            Section::JobTypes => "/staff/capacity",
            Section::Workflows => "/staff/workflows",
            Section::Kiosks => "/staff/kiosks",
            Section::Metrics => "/staff/metrics",
            Section::Audit => "/staff/audit",
            Section::Mail => "/staff/mail",
            Section::Settings => "/staff/settings",
            Section::Platform => "/platform",
        }
    }

    /// The link's words.
    pub fn label(self) -> &'static str {
        match self {
            Section::Today => "Today",
            Section::Calendar => "Calendar",
            Section::Capacity => "Capacity",
            Section::Boards => "Boards",
            Section::Projects => "Projects",
            Section::Tasks => "My tasks",
            Section::Notifications => "Notifications",
            Section::Profile => "My profile",
            Section::Users => "Users & invitations",
            Section::Teams => "Teams",
            Section::JobTypes => "Job types & hours",
            Section::Workflows => "Workflows",
            Section::Kiosks => "Workshop screens",
            Section::Metrics => "Metrics",
            Section::Audit => "Audit log",
            Section::Mail => "Mail",
            Section::Settings => "Organization settings",
            Section::Platform => "Platform",
        }
    }

    /// Where the link is shown.
    pub fn group(self) -> NavGroup {
        match self {
            Section::Today
            | Section::Calendar
            | Section::Capacity
            | Section::Boards
            | Section::Projects
            | Section::Tasks => NavGroup::Everyday,
            Section::Notifications | Section::Profile => NavGroup::Account,
            Section::Users
            | Section::Teams
            | Section::JobTypes
            | Section::Workflows
            | Section::Kiosks
            | Section::Metrics
            | Section::Audit
            | Section::Mail
            | Section::Settings => NavGroup::Staff,
            Section::Platform => NavGroup::Platform,
        }
    }

    /// The sections of `group`, in header order.
    pub fn of(group: NavGroup) -> impl Iterator<Item = Section> {
        Section::ALL
            .iter()
            .copied()
            .filter(move |s| s.group() == group)
    }
}

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
    pub section: Section,
    /// The organization writes 24-hour times: `page.js` gives date-and-time inputs a
    /// 24-hour time box (browsers show AM/PM wherever their language says so).
    pub h24: bool,
}

impl Chrome {
    /// Whether the viewer's header lists `section` (the pages behind it answer them).
    pub fn shows(&self, section: Section) -> bool {
        match section.group() {
            NavGroup::Everyday | NavGroup::Account => self.org_name.is_some(),
            NavGroup::Staff => self.admin,
            NavGroup::Platform => self.operator,
        }
    }

    fn link(&self, section: Section) -> Markup {
        html! {
            a href=(section.href()) aria-current=[(self.section == section).then_some("page")] { (section.label()) }
        }
    }
}

/// A page for a logged-in user.
pub fn page(chrome: &Chrome, title: &str, content: Markup) -> Markup {
    page_with(chrome, title, content, html! {}, html! {})
}

/// The header's navigation: everyday pages first, the administration under one "Staff"
/// disclosure, all inside the phone's "Menu" disclosure (on wide screens that one is
/// always open and its button hidden). `<details>` needs no JavaScript and is announced
/// as a button that expands; `page.js` only adds closing on Escape and outside clicks.
fn navigation(chrome: &Chrome) -> Markup {
    let staff_here = chrome.section.group() == NavGroup::Staff;
    html! {
        nav.site aria-label="Main" {
            details.menu data-menu {
                summary.menu-button { (menu_icon()) " Menu" }
                ul.nav-links {
                    @for s in Section::of(NavGroup::Everyday).filter(|s| chrome.shows(*s)) {
                        li { (chrome.link(s)) }
                    }
                    @if chrome.admin {
                        li.staff {
                            details.staff-menu data-menu {
                                summary.current[staff_here] { "Staff" span.visually-hidden { " pages" } }
                                ul {
                                    @for s in Section::of(NavGroup::Staff) { li { (chrome.link(s)) } }
                                }
                            }
                        }
                    }
                    @if chrome.operator {
                        @for s in Section::of(NavGroup::Platform) { li { (chrome.link(s)) } }
                    }
                }
            }
        }
    }
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
                (favicon())
                (head)
                link rel="stylesheet" href="/static/app.css";
            }
            body data-clock=[chrome.h24.then_some("24h")] {
                header.top {
                    a.brand href="/" { "cflows" }
                    @if let Some(org) = &chrome.org_name { span.org-name { (org) } }
                    (navigation(chrome))
                    div.account {
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
                        a.bell href="/notifications" data-bell data-user=(chrome.user_id) aria-label=(format!("Notifications, {} unread", chrome.unread)) aria-current=[(chrome.section == Section::Notifications).then_some("page")] {
                            (bell_icon()) span.badge data-unread hidden[chrome.unread == 0] { (chrome.unread) }
                        }
                        div.bell-panel data-bell-panel hidden {
                            ul {}
                            div.actions { a href="/notifications" { "All notifications" } button type="button" data-mark-all data-when-unread hidden[chrome.unread == 0] { "Mark all read" } }
                        }
                        @if chrome.shows(Section::Profile) {
                            a.me href=(Section::Profile.href()) title="My profile" aria-current=[(chrome.section == Section::Profile).then_some("page")] { (chrome.user_name) }
                        } @else {
                            span.me { (chrome.user_name) }
                        }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { (content) }
                script src="/static/vendor/msgpack.min.js" {}
                script type="module" src="/static/js/bell.js" {}
                script type="module" src="/static/js/page.js" {}
                (scripts)
            }
        }
    }
}

/// The tab icon (`/static/favicon.svg`).
pub fn favicon() -> Markup {
    html! { link rel="icon" type="image/svg+xml" href="/static/favicon.svg"; }
}

/// Three bars: the phone menu's button.
fn menu_icon() -> maud::PreEscaped<&'static str> {
    maud::PreEscaped(
        r#"<svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true"><path d="M4 6h16M4 12h16M4 18h16"/></svg>"#,
    )
}

/// A bell outline (inline SVG: no icon font or emoji font needed).
fn bell_icon() -> maud::PreEscaped<&'static str> {
    maud::PreEscaped(
        r#"<svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.73 21a2 2 0 0 1-3.46 0"/></svg>"#,
    )
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
                (favicon())
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

/// A time zone field that suggests every zone by name as one types ("Berlin" finds
/// `Europe/Berlin`), from chrono-tz's list; the server still checks what is sent.
pub fn zone_input(id: &str, value: &str, required: bool) -> Markup {
    let list = format!("{id}-zones");
    html! {
        input id=(id) type="text" name=(id) value=(value) required[required] list=(list)
            autocomplete="off" spellcheck="false" placeholder="Type a city, e.g. Berlin";
        datalist id=(list) {
            @for z in chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|n| n.contains('/') && !n.starts_with("Etc/")) {
                option value=(z) {}
            }
            option value="UTC" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{NavGroup, Section};

    #[test]
    fn every_staff_page_is_in_the_staff_menu_and_everyday_pages_come_first() {
        let groups: Vec<NavGroup> = Section::ALL.iter().map(|s| s.group()).collect();
        let first_other = groups
            .iter()
            .position(|g| *g != NavGroup::Everyday)
            .unwrap();
        assert!(
            groups[first_other..]
                .iter()
                .all(|g| *g != NavGroup::Everyday)
        );
        for s in Section::of(NavGroup::Staff) {
            assert!(s.href().starts_with("/staff/"), "{s:?}");
        }
        let mut hrefs: Vec<_> = Section::ALL.iter().map(|s| s.href()).collect();
        hrefs.sort_unstable();
        hrefs.dedup();
        assert_eq!(hrefs.len(), Section::ALL.len(), "two sections share a page");
    }
}
