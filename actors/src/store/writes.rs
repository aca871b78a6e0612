//! Every write statement the actors commit, as typed constructors of [`Write`]. The
//! owning actor decides; this module only says how a decision is stored. Each
//! [`Write`] is committed by the kernel's journal writer together with its journal rows.

use cflows_protocol::{
    InvitationView, NotificationView, OrgView, ProfileView, Role, TeamId, TeamView, UserId,
    UserView,
};
use serde_json::{Map, Value as Json, json};

pub use super::calendars::{
    create_calendar, delete_calendar, delete_event, delete_feed, put_event, put_event_as, put_feed,
    update_calendar,
};
pub use super::capacity::{
    add_waiter, create_job_type, delete_job_type, nothing, put_bookings, remove_waiters,
    set_team_hours, update_job_type,
};
pub use super::outbox::{create_password_reset, enqueue_mail};
pub use super::projects::{
    add_attachment, add_task_comment, delete_attachment, delete_task, put_project, put_task,
};
pub use super::workflows::{
    add_comment, archive_workflow, board_card, create_item, delete_filter, delete_kiosk,
    kiosk_seen, move_item, put_filter, put_item, put_kiosk, save_workflow,
};

/// SurrealQL statements and their variables, committed in one transaction.
#[derive(Clone, Debug)]
pub struct Write {
    pub(super) sql: String,
    pub(super) vars: Map<String, Json>,
}

impl Write {
    pub(super) fn new(sql: &str, vars: Json) -> Self {
        let Json::Object(vars) = vars else {
            unreachable!("write variables are always a JSON object")
        };
        Self {
            sql: sql.to_string(),
            vars,
        }
    }

    /// Both writes, in order, in one transaction. Their variable names must differ.
    pub fn and(mut self, other: Write) -> Self {
        for (k, v) in other.vars {
            let clash = self.vars.insert(k.clone(), v);
            debug_assert!(clash.is_none(), "variable ${k} used by both writes");
        }
        self.sql.push('\n');
        self.sql.push_str(&other.sql);
        self
    }
}

/// A migration file's statements and its record.
pub(super) fn apply_migration(sql: &str, name: &str, checksum: &str) -> Write {
    Write::new(sql, json!({ "name": name, "checksum": checksum }))
}

fn team_json(t: &TeamView) -> Json {
    json!({
        "id": t.id, "name": t.name, "description": t.description, "colour": t.colour,
        "parent": t.parent, "members": t.members, "bookable_count": t.bookable_count, "manager": t.manager, "reminder_hours": t.reminder_hours,
    })
}

const NEW_MEMBERSHIP: &str = "CREATE membership CONTENT { org: $org, user: $user, role: $role, active: true, title: '', location: '', timezone: '', avatar: '', bio: '', created_at: time::now() };";
const NEW_USER: &str = "CREATE type::record('user', $u.id) CONTENT { email: $u.email, display_name: $u.display_name, password_hash: $hash, platform_operator: $op, created_at: time::now() };";

/// A new organization, and its first owner's membership when given.
pub fn create_org(org: &OrgView, owner: Option<&UserId>) -> Write {
    let mut sql = String::from(
        "CREATE type::record('org', $org) CONTENT { name: $name, slug: $slug, timezone: $timezone, clock: $clock, created_at: time::now() };",
    );
    if owner.is_some() {
        sql.push_str(NEW_MEMBERSHIP);
    }
    Write::new(
        &sql,
        json!({ "org": org.id, "name": org.name, "slug": org.slug, "timezone": org.timezone,
                "clock": org.clock, "user": owner, "role": Role::Owner }),
    )
}

/// A new user with an (already hashed) password.
pub fn create_user(user: &UserView, password_hash: &str, platform_operator: bool) -> Write {
    Write::new(
        NEW_USER,
        json!({ "u": user, "hash": password_hash, "op": platform_operator }),
    )
}

/// A new user who is at once a member of `org` (one transaction: no orphan user).
pub fn create_user_with_membership(
    org: &str,
    user: &UserView,
    password_hash: &str,
    role: Role,
) -> Write {
    Write::new(
        &format!("{NEW_USER}{NEW_MEMBERSHIP}"),
        json!({ "u": user, "hash": password_hash, "op": false, "org": org, "user": user.id, "role": role }),
    )
}

/// A new password; every session of the user ends.
pub fn set_password(user: &UserId, password_hash: &str) -> Write {
    Write::new(
        "UPDATE type::record('user', $id) SET password_hash = $hash; DELETE session WHERE user = $id;",
        json!({ "id": user, "hash": password_hash }),
    )
}

/// A login session lasting `ttl_days`.
pub fn create_session(
    id: &str,
    user: &UserId,
    org: Option<&str>,
    csrf: &str,
    lifetime_secs: u64,
) -> Write {
    Write::new(
        &format!(
            "CREATE type::record('session', $id) CONTENT {{ user: $user, org: $org, csrf: $csrf, created_at: time::now(), expires_at: time::now() + {lifetime_secs}s }};"
        ),
        json!({ "id": id, "user": user, "org": org, "csrf": csrf }),
    )
}

/// Ends one session.
pub fn end_session(id: &str) -> Write {
    Write::new("DELETE type::record('session', $id);", json!({ "id": id }))
}

/// Name, zone and clock format of an organization.
pub fn update_org_settings(org: &OrgView) -> Write {
    Write::new(
        "UPDATE type::record('org', $id) SET name = $name, timezone = $timezone, clock = $clock;",
        json!({ "id": org.id, "name": org.name, "timezone": org.timezone, "clock": org.clock }),
    )
}

/// An existing user joins `org`.
pub fn add_membership(org: &str, user: &UserId, role: Role) -> Write {
    Write::new(
        NEW_MEMBERSHIP,
        json!({ "org": org, "user": user, "role": role }),
    )
}

/// Role and active flag of a membership.
pub fn update_membership(org: &str, user: &UserId, role: Role, active: bool) -> Write {
    Write::new(
        "UPDATE membership SET role = $role, active = $active WHERE org = $org AND user = $user;",
        json!({ "org": org, "user": user, "role": role, "active": active }),
    )
}

/// A member's profile inside `org`.
pub fn update_profile(org: &str, user: &UserId, profile: &ProfileView) -> Write {
    Write::new(
        "UPDATE membership SET title = $p.title, location = $p.location, timezone = $p.timezone, avatar = $p.avatar, bio = $p.bio WHERE org = $org AND user = $user;",
        json!({ "org": org, "user": user, "p": profile }),
    )
}

/// A member leaves `org`; the teams they were in are rewritten as given.
pub fn remove_membership(org: &str, user: &UserId, teams: &[TeamView]) -> Write {
    Write::new(
        "DELETE membership WHERE org = $org AND user = $user;
         FOR $t IN $teams { UPDATE type::record('team', $t.id) SET members = $t.members, manager = $t.manager, bookable_count = $t.bookable_count; };",
        json!({ "org": org, "user": user, "teams": teams.iter().map(team_json).collect::<Vec<_>>() }),
    )
}

/// Members and bookable counts of the given teams.
pub fn set_team_members(teams: &[TeamView]) -> Write {
    Write::new(
        "FOR $t IN $teams { UPDATE type::record('team', $t.id) SET members = $t.members, bookable_count = $t.bookable_count; };",
        json!({ "teams": teams.iter().map(team_json).collect::<Vec<_>>() }),
    )
}

/// A new team of `org`.
pub fn create_team(org: &str, team: &TeamView) -> Write {
    Write::new(
        "CREATE type::record('team', $t.id) CONTENT { org: $org, name: $t.name, description: $t.description, colour: $t.colour, parent: $t.parent, members: $t.members, bookable_count: $t.bookable_count, manager: $t.manager, reminder_hours: $t.reminder_hours, created_at: time::now() };",
        json!({ "org": org, "t": team_json(team) }),
    )
}

/// Every field of a team.
pub fn update_team(team: &TeamView) -> Write {
    Write::new(
        "UPDATE type::record('team', $t.id) SET name = $t.name, description = $t.description, colour = $t.colour, parent = $t.parent, members = $t.members, bookable_count = $t.bookable_count, manager = $t.manager, reminder_hours = $t.reminder_hours;",
        json!({ "t": team_json(team) }),
    )
}

/// Deletes a team; `children` move to `parent`.
pub fn delete_team(id: &TeamId, children: &[TeamId], parent: Option<&TeamId>) -> Write {
    Write::new(
        "DELETE type::record('team', $id);
         FOR $c IN $children { UPDATE type::record('team', $c) SET parent = $parent; };",
        json!({ "id": id, "children": children, "parent": parent }),
    )
}

/// A new invitation to `org`; pending ones to the same address (`replaced`) go.
pub fn create_invitation(
    org: &str,
    inv: &InvitationView,
    token_hash: &str,
    replaced: &[String],
) -> Write {
    Write::new(
        "FOR $r IN $replaced { DELETE type::record('invitation', $r); };
         CREATE type::record('invitation', $i.id) CONTENT { org: $org, email: $i.email, role: $i.role, token_hash: $hash, invited_by: $i.invited_by, created_at: $i.created_at, expires_at: $i.expires_at };",
        json!({ "org": org, "i": inv, "hash": token_hash, "replaced": replaced }),
    )
}

/// An invitation revoked (or used up).
pub fn delete_invitation(id: &str) -> Write {
    Write::new(
        "DELETE type::record('invitation', $inv);",
        json!({ "inv": id }),
    )
}

/// A new notification in `user`'s inbox.
pub fn create_notification(user: &UserId, n: &NotificationView) -> Write {
    Write::new(
        "CREATE type::record('notification', $n.id) CONTENT { user: $user, org: $n.org, kind: $n.kind, title: $n.title, body: $n.body, link: $n.link, entity_kind: $ek, entity_id: $eid, from: $n.from, created_at: $n.created_at, updated_at: $n.updated_at, count: 1, read: false };",
        json!({
            "n": n, "user": user,
            "ek": n.entity.as_ref().map(|e| &e.kind), "eid": n.entity.as_ref().map(|e| &e.id),
        }),
    )
}

/// A notification that absorbed another (text, sender, time and count change).
pub fn coalesce_notification(n: &NotificationView) -> Write {
    Write::new(
        "UPDATE type::record('notification', $n.id) SET title = $n.title, body = $n.body, link = $n.link, from = $n.from, updated_at = $n.updated_at, count = $n.count;",
        json!({ "n": n }),
    )
}

/// One notification read.
pub fn mark_notification_read(id: &str) -> Write {
    Write::new(
        "UPDATE type::record('notification', $id) SET read = true;",
        json!({ "id": id }),
    )
}

/// Every notification of `user` read.
pub fn mark_all_notifications_read(user: &UserId) -> Write {
    Write::new(
        "UPDATE notification SET read = true WHERE user = $user AND read = false;",
        json!({ "user": user }),
    )
}
