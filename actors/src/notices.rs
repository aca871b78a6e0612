//! What people are told about a change: one vocabulary for the bell today and for mail,
//! digests and webhooks next. A [`Notice`] says who should hear of a change, which
//! [`Change`] it was, who made it and the [`Entity`] it is about; [`Notice::words`] and
//! [`Notice::link`] are the only place its text and its link are written. Actors build a
//! notice and [`send`] it; they never assemble titles, paths or `EntityRef` strings.
//!
//! Pure apart from [`send`], which hands each recipient's copy to its `Inbox` without
//! waiting (a decision must not wait on an inbox).

use crate::inbox::{NewNotification, deliver_later};
use crate::kernel::Kernel;
use cflows_protocol::{
    CalendarId, CommentView, EntityRef, ItemId, NotificationKind, OrgId, ProjectId, Role, TeamId,
    UserId,
};

/// A comment's first characters, as a notification shows them.
const EXCERPT_CHARS: usize = 200;
/// A direct message's preview.
const MESSAGE_PREVIEW_CHARS: usize = 280;

/// The person who made a change, as the recipients read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub user: UserId,
    /// Their display name, never their id.
    pub name: String,
}

impl Author {
    /// `user`, called `name`.
    pub fn new(user: &UserId, name: &str) -> Self {
        Self {
            user: user.clone(),
            name: name.to_string(),
        }
    }
}

/// What a notification is about, typed; [`Entity::to_ref`] gives the wire form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    Item(ItemId),
    Project(ProjectId),
    Task {
        project: ProjectId,
        task: String,
    },
    Event {
        calendar: CalendarId,
        event: String,
    },
    Booking {
        team: TeamId,
        booking: String,
    },
    Org(OrgId),
    /// A person (the sender of a direct message).
    User(UserId),
}

impl Entity {
    /// The wire and storage form (`kind` and `id`); also the key notifications coalesce on.
    pub fn to_ref(&self) -> EntityRef {
        let (kind, id) = match self {
            Self::Item(id) => ("item", id.to_string()),
            Self::Project(id) => ("project", id.to_string()),
            Self::Task { task, .. } => ("task", task.clone()),
            Self::Event { event, .. } => ("event", event.clone()),
            Self::Booking { booking, .. } => ("booking", booking.clone()),
            Self::Org(id) => ("org", id.to_string()),
            Self::User(id) => ("user", id.to_string()),
        };
        EntityRef {
            kind: kind.to_string(),
            id,
        }
    }

    /// The page that shows it.
    pub fn link(&self) -> Link {
        Link(match self {
            Self::Item(id) => format!("/items/{id}"),
            Self::Project(id) => format!("/projects/{id}"),
            Self::Task { project, task } => format!("/projects/{project}?task={task}"),
            Self::Event { calendar, event } => {
                format!("/calendar?event={event}&calendar={calendar}")
            }
            Self::Booking { team, booking } => format!("/calendar?team={team}&booking={booking}"),
            Self::Org(_) | Self::User(_) => "/notifications".to_string(),
        })
    }
}

/// Where a notification leads: a path on this server. The bell uses the path; mail and
/// webhooks make it absolute under `http.public_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link(String);

impl Link {
    /// The page that accepts the invitation with secret `token`.
    pub fn invitation(token: &str) -> Self {
        Self(format!("/invite/{token}"))
    }

    /// The path (with its query), starting with `/`.
    pub fn path(&self) -> &str {
        &self.0
    }

    /// The link under `base` (the server's public URL, with or without a trailing `/`,
    /// possibly with a path prefix of its own).
    pub fn absolute(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.0)
    }
}

/// A work item or a project task: the things people comment on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Thread {
    Item {
        item: ItemId,
        /// `KEY-n` on its board.
        key: String,
    },
    Task {
        project: ProjectId,
        task: String,
        /// `KEY-n` in its project.
        key: String,
    },
}

impl Thread {
    fn key(&self) -> &str {
        match self {
            Self::Item { key, .. } | Self::Task { key, .. } => key,
        }
    }

    fn entity(&self) -> Entity {
        match self {
            Self::Item { item, .. } => Entity::Item(item.clone()),
            Self::Task { project, task, .. } => Entity::Task {
                project: project.clone(),
                task: task.clone(),
            },
        }
    }
}

/// A change someone should hear about, with what its words need (names, not ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A work item entered a step of one of the recipients' teams.
    ItemMoved {
        item: ItemId,
        key: String,
        title: String,
        /// The step's name.
        step: String,
    },
    /// The recipients were mentioned in a comment.
    Mentioned { on: Thread, comment: String },
    /// A comment on what the recipients are assigned to.
    Commented { on: Thread, comment: String },
    /// The recipients were added to a project.
    AddedToProject { project: ProjectId, name: String },
    /// A task was assigned to the recipients.
    TaskAssigned {
        project: ProjectId,
        task: String,
        key: String,
        title: String,
        /// `YYYY-MM-DD`, when the task has a due date.
        due: Option<String>,
    },
    /// The recipients were invited to a calendar event.
    EventInvited {
        calendar: CalendarId,
        event: String,
        title: String,
        /// When it takes place, already in words (its zone's local time).
        when: String,
    },
    /// A slot the recipients waited for is held for them.
    WaitlistHeld {
        team: TeamId,
        booking: String,
        /// The booking's title (may be empty).
        title: String,
    },
    /// The recipients were invited to join an organization.
    Invited {
        org_name: String,
        role: Role,
        /// The secret of the invitation link.
        token: String,
    },
    /// A direct message from the author.
    Message { text: String },
}

/// What a notification says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    pub title: String,
    pub body: String,
}

/// A change, who should hear about it, and who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub org: OrgId,
    pub recipients: Vec<UserId>,
    /// Who made the change; `None` when the system did (a hold promoted off a waitlist).
    pub by: Option<Author>,
    pub change: Change,
}

impl Notice {
    /// A notice of `change` in `org` made by `by`, for no one yet.
    pub fn new(org: &OrgId, by: Option<Author>, change: Change) -> Self {
        Self {
            org: org.clone(),
            recipients: Vec::new(),
            by,
            change,
        }
    }

    /// The same notice for `recipients`.
    #[must_use]
    pub fn to(mut self, recipients: impl IntoIterator<Item = UserId>) -> Self {
        self.recipients = recipients.into_iter().collect();
        self
    }

    /// Which kind of notification it is (what people choose how to receive).
    pub fn kind(&self) -> NotificationKind {
        match &self.change {
            Change::ItemMoved { .. } => NotificationKind::WorkItemMoved,
            Change::Mentioned { .. } => NotificationKind::Mention,
            Change::Commented { .. } => NotificationKind::Comment,
            Change::AddedToProject { .. } => NotificationKind::ProjectUpdate,
            Change::TaskAssigned { .. } => NotificationKind::TaskAssigned,
            Change::EventInvited { .. } => NotificationKind::EventInvite,
            Change::WaitlistHeld { .. } => NotificationKind::BookingHeld,
            Change::Invited { .. } => NotificationKind::Invitation,
            Change::Message { .. } => NotificationKind::DirectMessage,
        }
    }

    /// What it is about.
    pub fn entity(&self) -> Entity {
        match &self.change {
            Change::ItemMoved { item, .. } => Entity::Item(item.clone()),
            Change::Mentioned { on, .. } | Change::Commented { on, .. } => on.entity(),
            Change::AddedToProject { project, .. } => Entity::Project(project.clone()),
            Change::TaskAssigned { project, task, .. } => Entity::Task {
                project: project.clone(),
                task: task.clone(),
            },
            Change::EventInvited {
                calendar, event, ..
            } => Entity::Event {
                calendar: calendar.clone(),
                event: event.clone(),
            },
            Change::WaitlistHeld { team, booking, .. } => Entity::Booking {
                team: team.clone(),
                booking: booking.clone(),
            },
            Change::Invited { .. } => Entity::Org(self.org.clone()),
            Change::Message { .. } => match &self.by {
                Some(by) => Entity::User(by.user.clone()),
                None => Entity::Org(self.org.clone()),
            },
        }
    }

    /// Where it leads: the entity's page, or the invitation to accept.
    pub fn link(&self) -> Link {
        match &self.change {
            Change::Invited { token, .. } => Link::invitation(token),
            _ => self.entity().link(),
        }
    }

    /// What it says, in the words a person reads.
    pub fn words(&self) -> Words {
        let who = match &self.by {
            Some(a) if !a.name.trim().is_empty() => a.name.as_str(),
            _ => "Someone",
        };
        let (title, body) = match &self.change {
            Change::ItemMoved {
                key, title, step, ..
            } => (
                format!("{key} is in {step}"),
                format!("{who} moved {title} to {step}."),
            ),
            Change::Mentioned { on, comment } => (
                format!("{who} mentioned you on {}", on.key()),
                excerpt(comment, EXCERPT_CHARS),
            ),
            Change::Commented { on, comment } => (
                format!("{who} commented on {}", on.key()),
                excerpt(comment, EXCERPT_CHARS),
            ),
            Change::AddedToProject { name, .. } => {
                (format!("{who} added you to {name}"), String::new())
            }
            Change::TaskAssigned {
                key, title, due, ..
            } => {
                let due = due
                    .as_ref()
                    .map(|d| format!(" (due {d})"))
                    .unwrap_or_default();
                (
                    format!("{who} assigned you {key}: {title}{due}"),
                    String::new(),
                )
            }
            Change::EventInvited { title, when, .. } => {
                (format!("{who} invited you: {title}"), when.clone())
            }
            Change::WaitlistHeld { title, .. } => (
                "A slot you waited for is held for you".to_string(),
                if title.is_empty() {
                    "Confirm it before the hold runs out.".to_string()
                } else {
                    format!("Confirm it before the hold runs out: {title}.")
                },
            ),
            Change::Invited { org_name, role, .. } => (
                format!("You are invited to join {org_name}"),
                format!("as {}", role.as_str()),
            ),
            Change::Message { text } => (
                format!("Message from {who}"),
                excerpt(text, MESSAGE_PREVIEW_CHARS),
            ),
        };
        Words { title, body }
    }

    /// What one recipient's inbox is given.
    pub fn notification(&self) -> NewNotification {
        let Words { title, body } = self.words();
        NewNotification {
            org: self.org.clone(),
            kind: self.kind(),
            title,
            body,
            link: self.link().path().to_string(),
            entity: Some(self.entity().to_ref()),
            from: self.by.as_ref().map(|a| a.user.clone()),
        }
    }
}

fn excerpt(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// Delivers `notice` to each recipient's inbox without waiting; a failure is logged with
/// `what` (the change stands whether or not a notice arrives).
pub fn send(kernel: &Kernel, notice: &Notice, what: &'static str) {
    if notice.recipients.is_empty() {
        return;
    }
    let n = notice.notification();
    for user in &notice.recipients {
        deliver_later(kernel, user.clone(), n.clone(), what);
    }
}

/// Who hears of a comment: the people it mentions (once each, never its author) are
/// told they were mentioned; the assignee of what it is on, unless already told, that it
/// was commented.
pub fn about_comment(
    org: &OrgId,
    by: &Author,
    on: &Thread,
    comment: &CommentView,
    assignee: Option<&UserId>,
) -> [Notice; 2] {
    let mut told = vec![by.user.clone()];
    let mut mentioned = Vec::new();
    for user in &comment.mentions {
        if !told.contains(user) {
            told.push(user.clone());
            mentioned.push(user.clone());
        }
    }
    let change = |mention: bool| {
        let (on, comment) = (on.clone(), comment.body.clone());
        if mention {
            Change::Mentioned { on, comment }
        } else {
            Change::Commented { on, comment }
        }
    };
    [
        Notice::new(org, Some(by.clone()), change(true)).to(mentioned),
        Notice::new(org, Some(by.clone()), change(false))
            .to(assignee.filter(|a| !told.contains(a)).cloned()),
    ]
}

/// Sends [`about_comment`]'s notices.
pub fn send_comment(
    kernel: &Kernel,
    org: &OrgId,
    by: Author,
    on: Thread,
    comment: &CommentView,
    assignee: Option<&UserId>,
) {
    for notice in about_comment(org, &by, &on, comment, assignee) {
        send(kernel, &notice, "comment notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann_author() -> Author {
        Author::new(&UserId::new("u-ann"), "Ann Berg")
    }

    fn ann() -> Option<Author> {
        Some(ann_author())
    }

    fn notice(change: Change) -> Notice {
        Notice::new(&OrgId::new("o1"), ann(), change)
    }

    /// Kind, title, body, link and entity of `change` made by Ann.
    fn said(change: Change) -> (NotificationKind, String, String, String, (String, String)) {
        let n = notice(change).notification();
        let e = n.entity.expect("every notice names its entity");
        (n.kind, n.title, n.body, n.link, (e.kind, e.id))
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn a_moved_item_names_its_key_title_and_step() {
        let said = said(Change::ItemMoved {
            item: ItemId::new("i1"),
            key: s("SRV-7"),
            title: s("Volvo XC60 service"),
            step: s("Workshop"),
        });
        assert_eq!(
            said,
            (
                NotificationKind::WorkItemMoved,
                s("SRV-7 is in Workshop"),
                s("Ann Berg moved Volvo XC60 service to Workshop."),
                s("/items/i1"),
                (s("item"), s("i1")),
            )
        );
    }

    #[test]
    fn comments_and_mentions_on_items_and_tasks() {
        let item = Thread::Item {
            item: ItemId::new("i1"),
            key: s("SRV-7"),
        };
        let task = Thread::Task {
            project: ProjectId::new("p1"),
            task: s("t1"),
            key: s("WEB-3"),
        };
        assert_eq!(
            said(Change::Mentioned {
                on: item.clone(),
                comment: s("@bo look"),
            }),
            (
                NotificationKind::Mention,
                s("Ann Berg mentioned you on SRV-7"),
                s("@bo look"),
                s("/items/i1"),
                (s("item"), s("i1")),
            )
        );
        assert_eq!(
            said(Change::Commented {
                on: task.clone(),
                comment: s("done"),
            }),
            (
                NotificationKind::Comment,
                s("Ann Berg commented on WEB-3"),
                s("done"),
                s("/projects/p1?task=t1"),
                (s("task"), s("t1")),
            )
        );
        let long = "é".repeat(500);
        let n = notice(Change::Mentioned {
            on: task,
            comment: long,
        })
        .words();
        assert_eq!(n.body.chars().count(), 200, "a comment shows its start");
    }

    #[test]
    fn a_comment_tells_the_mentioned_then_the_assignee_never_its_author() {
        let on = Thread::Item {
            item: ItemId::new("i1"),
            key: s("SRV-7"),
        };
        let (ann, bo, cy) = (UserId::new("u-ann"), UserId::new("bo"), UserId::new("cy"));
        let comment = |mentions: Vec<UserId>| CommentView {
            id: s("c1"),
            at: 0,
            by: ann.clone(),
            by_name: s("Ann Berg"),
            body: s("see @bo"),
            mentions,
        };
        let who = |c: &CommentView, assignee: Option<&UserId>| {
            about_comment(&OrgId::new("o1"), &ann_author(), &on, c, assignee)
                .map(|n| (n.kind(), n.recipients))
        };
        assert_eq!(
            who(
                &comment(vec![bo.clone(), ann.clone(), bo.clone()]),
                Some(&cy)
            ),
            [
                (NotificationKind::Mention, vec![bo.clone()]),
                (NotificationKind::Comment, vec![cy.clone()]),
            ]
        );
        assert_eq!(
            who(&comment(vec![bo.clone()]), Some(&bo)),
            [
                (NotificationKind::Mention, vec![bo.clone()]),
                (NotificationKind::Comment, vec![]),
            ],
            "a mentioned assignee is told once"
        );
        assert_eq!(
            who(&comment(vec![]), Some(&ann)),
            [
                (NotificationKind::Mention, vec![]),
                (NotificationKind::Comment, vec![]),
            ],
            "the author is not told of their own comment"
        );
    }

    #[test]
    fn projects_and_tasks() {
        assert_eq!(
            said(Change::AddedToProject {
                project: ProjectId::new("p1"),
                name: s("Spring campaign"),
            }),
            (
                NotificationKind::ProjectUpdate,
                s("Ann Berg added you to Spring campaign"),
                s(""),
                s("/projects/p1"),
                (s("project"), s("p1")),
            )
        );
        let assigned = |due: Option<&str>| {
            said(Change::TaskAssigned {
                project: ProjectId::new("p1"),
                task: s("t1"),
                key: s("WEB-3"),
                title: s("Order banners"),
                due: due.map(s),
            })
        };
        assert_eq!(
            assigned(Some("2026-12-24")),
            (
                NotificationKind::TaskAssigned,
                s("Ann Berg assigned you WEB-3: Order banners (due 2026-12-24)"),
                s(""),
                s("/projects/p1?task=t1"),
                (s("task"), s("t1")),
            )
        );
        assert_eq!(
            assigned(None).1,
            "Ann Berg assigned you WEB-3: Order banners"
        );
    }

    #[test]
    fn calendar_invitations_and_held_slots() {
        assert_eq!(
            said(Change::EventInvited {
                calendar: CalendarId::new("c1"),
                event: s("e1"),
                title: s("Sales meeting"),
                when: s("Thu 3 Dec 2026 09:00 (Europe/Stockholm)"),
            }),
            (
                NotificationKind::EventInvite,
                s("Ann Berg invited you: Sales meeting"),
                s("Thu 3 Dec 2026 09:00 (Europe/Stockholm)"),
                s("/calendar?event=e1&calendar=c1"),
                (s("event"), s("e1")),
            )
        );
        let held = |title: &str| {
            Notice::new(
                &OrgId::new("o1"),
                None,
                Change::WaitlistHeld {
                    team: TeamId::new("t9"),
                    booking: s("b1"),
                    title: s(title),
                },
            )
            .notification()
        };
        let n = held("Tyre change");
        assert_eq!(
            (
                n.kind,
                n.title.as_str(),
                n.body.as_str(),
                n.link.as_str(),
                n.from
            ),
            (
                NotificationKind::BookingHeld,
                "A slot you waited for is held for you",
                "Confirm it before the hold runs out: Tyre change.",
                "/calendar?team=t9&booking=b1",
                None
            )
        );
        assert_eq!(
            n.entity,
            Some(EntityRef {
                kind: s("booking"),
                id: s("b1")
            })
        );
        assert_eq!(held("").body, "Confirm it before the hold runs out.");
    }

    #[test]
    fn invitations_and_messages() {
        assert_eq!(
            said(Change::Invited {
                org_name: s("Berg Motors"),
                role: Role::Member,
                token: s("secret"),
            }),
            (
                NotificationKind::Invitation,
                s("You are invited to join Berg Motors"),
                s("as member"),
                s("/invite/secret"),
                (s("org"), s("o1")),
            )
        );
        assert_eq!(
            said(Change::Message {
                text: "x".repeat(300),
            }),
            (
                NotificationKind::DirectMessage,
                s("Message from Ann Berg"),
                "x".repeat(280),
                s("/notifications"),
                (s("user"), s("u-ann")),
            )
        );
    }

    #[test]
    fn the_author_is_who_the_notification_is_from() {
        let n = notice(Change::Message { text: s("hi") }).notification();
        assert_eq!(n.from, Some(UserId::new("u-ann")));
        assert_eq!(n.org, OrgId::new("o1"));
        let nameless = Notice::new(
            &OrgId::new("o1"),
            Some(Author::new(&UserId::new("u-x"), " ")),
            Change::Message { text: s("hi") },
        );
        assert_eq!(
            nameless.words().title,
            "Message from Someone",
            "never a blank where a name goes"
        );
    }

    #[test]
    fn links_are_paths_made_absolute_under_the_public_url() {
        let link = Entity::Task {
            project: ProjectId::new("p1"),
            task: s("t1"),
        }
        .link();
        assert_eq!(link.path(), "/projects/p1?task=t1");
        assert_eq!(
            link.absolute("https://cflows.example.com"),
            "https://cflows.example.com/projects/p1?task=t1"
        );
        assert_eq!(
            link.absolute("https://example.com/cflows/"),
            "https://example.com/cflows/projects/p1?task=t1",
            "a trailing slash and a path prefix are kept once"
        );
    }

    #[test]
    fn every_kind_has_a_change() {
        // Each kind the protocol knows is produced by some change, or is named here as
        // not produced yet (booking confirmations and cancellations come with mail).
        let produced: Vec<NotificationKind> = [
            Change::ItemMoved {
                item: ItemId::new("i"),
                key: s("K-1"),
                title: s("t"),
                step: s("s"),
            },
            Change::Mentioned {
                on: Thread::Item {
                    item: ItemId::new("i"),
                    key: s("K-1"),
                },
                comment: s("c"),
            },
            Change::Commented {
                on: Thread::Item {
                    item: ItemId::new("i"),
                    key: s("K-1"),
                },
                comment: s("c"),
            },
            Change::AddedToProject {
                project: ProjectId::new("p"),
                name: s("P"),
            },
            Change::TaskAssigned {
                project: ProjectId::new("p"),
                task: s("t"),
                key: s("P-1"),
                title: s("T"),
                due: None,
            },
            Change::EventInvited {
                calendar: CalendarId::new("c"),
                event: s("e"),
                title: s("E"),
                when: s("w"),
            },
            Change::WaitlistHeld {
                team: TeamId::new("t"),
                booking: s("b"),
                title: s(""),
            },
            Change::Invited {
                org_name: s("O"),
                role: Role::Member,
                token: s("x"),
            },
            Change::Message { text: s("m") },
        ]
        .into_iter()
        .map(|c| notice(c).kind())
        .collect();
        let not_yet = [
            NotificationKind::BookingConfirmed,
            NotificationKind::BookingCancelled,
        ];
        for kind in NotificationKind::ALL {
            assert!(
                produced.contains(&kind) ^ not_yet.contains(&kind),
                "{}: produced by a change, or listed as not yet",
                kind.as_str()
            );
        }
    }
}
