//! Tests of the actor tree against the real SurrealDB engine in memory.

use crate::testing::{memory_store, org_with_owner};
use crate::{Caller, Core, CoreError, MemberChange, SettingsChange, TeamInput};
use cflows_protocol::{ClockFormat, OrgEvent, Role, StreamName, TeamId};

async fn core() -> Core {
    Core::start(memory_store().await).await.unwrap()
}

#[tokio::test]
async fn org_changes_are_journalled_in_order() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    assert_eq!(org.slug, "demo-motors");
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let mech = core
        .directory
        .create_user("mech@example.com", "Max Mechanic", "long enough pw", false)
        .await
        .unwrap();
    handle
        .add_member(by.clone(), mech.clone(), Role::Member)
        .await
        .unwrap();
    let team = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "Mechanics".into(),
                members: vec![mech.id.clone()],
                bookable_count: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let snap = handle.snapshot().await.unwrap();
    assert_eq!(
        snap.seq, 4,
        "org created, owner added, member added, team created"
    );
    assert_eq!(snap.teams, vec![team.clone()]);
    let mech_view = snap.members.iter().find(|m| m.user.id == mech.id).unwrap();
    assert_eq!(mech_view.teams, vec![team.id.clone()]);

    let journal = core
        .directory
        .store()
        .journal(&StreamName::Org(org.id.clone()), 0, 100)
        .await
        .unwrap();
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let last: OrgEvent = serde_json::from_str(&journal[3].payload).unwrap();
    assert_eq!(last, OrgEvent::TeamCreated { team });
    assert_eq!(journal[3].actor.as_deref(), Some(owner.id.as_str()));
}

#[tokio::test]
async fn rejected_changes_change_nothing() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let before = handle.snapshot().await.unwrap();

    let bad_tz = SettingsChange {
        name: "X".into(),
        timezone: "Mars/Base".into(),
        clock: ClockFormat::H12,
    };
    assert!(matches!(
        handle.update_settings(by.clone(), bad_tz).await,
        Err(CoreError::InvalidInput(_))
    ));
    let empty = TeamInput {
        name: "  ".into(),
        ..Default::default()
    };
    assert!(matches!(
        handle.create_team(by.clone(), empty).await,
        Err(CoreError::InvalidInput(_))
    ));
    let too_many = TeamInput {
        name: "Sales".into(),
        bookable_count: 3,
        ..Default::default()
    };
    assert!(matches!(
        handle.create_team(by.clone(), too_many).await,
        Err(CoreError::InvalidInput(_))
    ));
    // The last owner can neither be demoted nor removed.
    let demote = MemberChange {
        role: Some(Role::Admin),
        active: None,
    };
    assert!(matches!(
        handle
            .update_member(by.clone(), owner.id.clone(), demote)
            .await,
        Err(CoreError::Forbidden(_))
    ));

    let dup = core
        .directory
        .create_user("OWNER@example.com", "Dup", "long enough pw", false)
        .await;
    assert!(matches!(dup, Err(CoreError::Conflict(_))), "{dup:?}");
    assert_eq!(handle.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn non_admins_and_strangers_are_refused() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let member = core
        .directory
        .create_user("m@example.com", "Mia", "long enough pw", false)
        .await
        .unwrap();
    let stranger = core
        .directory
        .create_user("s@example.com", "Sam", "long enough pw", false)
        .await
        .unwrap();
    handle
        .add_member(Caller::User(owner.id.clone()), member.clone(), Role::Member)
        .await
        .unwrap();
    let input = TeamInput {
        name: "Sales".into(),
        ..Default::default()
    };
    assert!(matches!(
        handle
            .create_team(Caller::User(member.id), input.clone())
            .await,
        Err(CoreError::Forbidden(_))
    ));
    assert!(matches!(
        handle.create_team(Caller::User(stranger.id), input).await,
        Err(CoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_crashed_org_restarts_from_committed_state() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let sales = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "Sales".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // Crash while a change is queued behind the crash: that change must not appear.
    handle.crash().await;
    let queued = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "Lost".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(queued, Err(CoreError::Unavailable)),
        "the caller gets an error, never a false success: {queued:?}"
    );

    // The next call starts it again from the store and sees exactly the committed state.
    let fresh = core.directory.org(&org.id).await.unwrap();
    let snap = fresh.snapshot().await.unwrap();
    let names: Vec<&str> = snap.teams.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["Sales"]);
    assert_eq!(snap.seq, 3);
    // And it keeps working, continuing the journal without a gap.
    fresh
        .create_team(
            by,
            TeamInput {
                name: "Testers".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(fresh.snapshot().await.unwrap().seq, 4);
    let _ = sales;
}

#[tokio::test]
async fn removing_a_member_takes_them_off_teams() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let m = core
        .directory
        .create_user("t@example.com", "Tia", "long enough pw", false)
        .await
        .unwrap();
    handle
        .add_member(by.clone(), m.clone(), Role::Member)
        .await
        .unwrap();
    let team = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "Testers".into(),
                members: vec![m.id.clone()],
                bookable_count: 1,
                manager: Some(m.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    handle.remove_member(by, m.id.clone()).await.unwrap();
    let t = handle
        .snapshot()
        .await
        .unwrap()
        .teams
        .into_iter()
        .find(|t| t.id == team.id)
        .unwrap();
    assert!(t.members.is_empty());
    assert_eq!(t.manager, None);
    assert_eq!(t.bookable_count, 0);
    // Restart from the store shows the same.
    let store_teams = core
        .directory
        .store()
        .teams_of_org(org.id.as_str())
        .await
        .unwrap();
    assert!(store_teams[0].members.is_empty());
}

#[tokio::test]
async fn team_parents_cannot_form_cycles() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let a = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "A".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = handle
        .create_team(
            by.clone(),
            TeamInput {
                name: "B".into(),
                parent: Some(a.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cycle = TeamInput {
        name: "A".into(),
        parent: Some(b.id.clone()),
        ..Default::default()
    };
    assert!(matches!(
        handle.update_team(by.clone(), a.id.clone(), cycle).await,
        Err(CoreError::InvalidInput(_))
    ));
    let unknown = TeamInput {
        name: "C".into(),
        parent: Some(TeamId::new("nope")),
        ..Default::default()
    };
    assert!(matches!(
        handle.create_team(by.clone(), unknown).await,
        Err(CoreError::InvalidInput(_))
    ));
    handle.delete_team(by, a.id).await.unwrap();
    let b_now = handle
        .snapshot()
        .await
        .unwrap()
        .teams
        .into_iter()
        .find(|t| t.id == b.id)
        .unwrap();
    assert_eq!(b_now.parent, None);
}

#[tokio::test]
async fn sessions_and_passwords() {
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let ok = core
        .directory
        .authenticate("Owner@Example.com", "long enough pw")
        .await
        .unwrap();
    assert_eq!(ok.unwrap().id, owner.id.as_str());
    assert!(
        core.directory
            .authenticate("owner@example.com", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        core.directory
            .authenticate("nobody@example.com", "long enough pw")
            .await
            .unwrap()
            .is_none()
    );
    let s = core
        .directory
        .create_session(owner.id.clone(), Some(org.id.clone()))
        .await
        .unwrap();
    let info = core.directory.session(&s.id).await.unwrap().unwrap();
    assert_eq!(info.org, Some(org.id.clone()));
    // A new password ends every session.
    core.directory
        .set_password(owner.id.clone(), "another long pw")
        .await
        .unwrap();
    assert!(core.directory.session(&s.id).await.unwrap().is_none());
    assert!(
        core.directory
            .authenticate("owner@example.com", "another long pw")
            .await
            .unwrap()
            .is_some()
    );
    let s2 = core
        .directory
        .create_session(owner.id.clone(), None)
        .await
        .unwrap();
    core.directory.end_session(&s2.id).await.unwrap();
    assert!(core.directory.session(&s2.id).await.unwrap().is_none());
}

#[tokio::test]
async fn unknown_org_is_not_found() {
    let core = core().await;
    assert!(matches!(
        core.directory
            .org(&cflows_protocol::OrgId::new("missing"))
            .await,
        Err(CoreError::NotFound)
    ));
}

#[tokio::test]
async fn invitations_reach_existing_accounts_and_work_once() {
    use crate::org::Accepting;
    use cflows_protocol::wire::{ServerMsg, StreamEvent, decode_server};
    use cflows_protocol::{InboxEvent, NotificationKind};
    let core = core().await;
    let (org, owner) = org_with_owner(&core).await;
    let handle = core.directory.org(&org.id).await.unwrap();
    let by = Caller::User(owner.id.clone());
    let ext = core
        .directory
        .create_user("ext@example.com", "Eve External", "long enough pw", false)
        .await
        .unwrap();
    let mut inbox = core
        .kernel
        .hub()
        .subscribe(&StreamName::Inbox(ext.id.clone()));

    let (inv, token) = handle
        .invite(by.clone(), "EXT@example.com".into(), Role::Member)
        .await
        .unwrap();
    assert_eq!(inv.email, "ext@example.com");
    // The Org actor told the account's Inbox actor: the notice arrives on its stream.
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv())
        .await
        .expect("the invitee is notified")
        .unwrap();
    let ServerMsg::Event {
        event: StreamEvent::Inbox(InboxEvent::NotificationAdded { notification, .. }),
        ..
    } = decode_server(&frame.bytes).unwrap()
    else {
        panic!("a notification")
    };
    assert_eq!(notification.kind, NotificationKind::Invitation);
    assert_eq!(notification.link, format!("/invite/{token}"));

    // An address without an account gets exactly the same kind of answer.
    let (fresh, fresh_token) = handle
        .invite(by.clone(), "new@example.com".into(), Role::Admin)
        .await
        .unwrap();
    assert_eq!(fresh.role, Role::Admin);
    assert_ne!(fresh_token, token);
    assert_eq!(handle.snapshot().await.unwrap().invitations.len(), 2);

    // Only the invited address may accept, once.
    assert!(matches!(
        handle
            .accept_invitation(&token, Accepting::Existing(owner.clone()))
            .await,
        Err(CoreError::Forbidden(_))
    ));
    let joined = handle
        .accept_invitation(&token, Accepting::Existing(ext.clone()))
        .await
        .unwrap();
    assert_eq!(
        (joined.user.id.clone(), joined.role),
        (ext.id.clone(), Role::Member)
    );
    assert!(matches!(
        handle
            .accept_invitation(&token, Accepting::Existing(ext.clone()))
            .await,
        Err(CoreError::InvalidInput(_))
    ));

    // A new person chooses a name and password; user and membership come together.
    let new = crate::directory::new_user("new@example.com", "Nia New", "long enough pw", false)
        .await
        .unwrap();
    let admin = handle
        .accept_invitation(&fresh_token, Accepting::New(new))
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(
        core.directory
            .authenticate("new@example.com", "long enough pw")
            .await
            .unwrap()
            .is_some()
    );

    // Revoked links stop working; nothing is pending at the end, also after a restart.
    let (_, revoked) = handle
        .invite(by.clone(), "late@example.com".into(), Role::Member)
        .await
        .unwrap();
    let pending = handle.snapshot().await.unwrap().invitations;
    handle
        .revoke_invitation(by.clone(), pending[0].id.clone())
        .await
        .unwrap();
    assert!(core.directory.invitation(&revoked).await.unwrap().is_none());
    assert!(handle.snapshot().await.unwrap().invitations.is_empty());
    let kinds: Vec<String> = core
        .directory
        .store()
        .journal(&StreamName::Org(org.id.clone()), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    let tail: Vec<&str> = kinds[kinds.len() - 8..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        vec![
            "invitation_created",
            "invitation_created",
            "invitation_accepted",
            "member_added",
            "invitation_accepted",
            "member_added",
            "invitation_created",
            "invitation_revoked",
        ]
    );
    assert!(
        crate::check::integrity(core.directory.store())
            .await
            .unwrap()
            .is_empty()
    );
}

/// The pure domain stays pure: read from its sources, so a new file is covered too.
mod domain_is_pure {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the domain's sources are readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The paths into the rest of the crate that `source` names (`crate::x` for any `x`
    /// but `domain`, or `super::` out of `domain/mod.rs`).
    fn outside_paths(source: &str, is_root: bool) -> Vec<String> {
        let mut found = Vec::new();
        for (at, _) in source.match_indices("crate::") {
            let rest = &source[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            if name != "domain" {
                found.push(format!("crate::{name}"));
            }
        }
        if is_root && source.contains("super::") {
            found.push("super::".into());
        }
        found
    }

    #[test]
    fn the_domain_imports_nothing_of_the_crate_outside_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(files.len() > 10, "found the domain's files");
        let mut offences = Vec::new();
        for file in files {
            let source = std::fs::read_to_string(&file).expect("a readable source");
            for path in outside_paths(&source, file.ends_with("domain/mod.rs")) {
                offences.push(format!("{}: {path}", file.display()));
            }
        }
        assert!(
            offences.is_empty(),
            "pure domain code reaches into the crate (give the domain its own type, \
             convert in error.rs): {offences:#?}"
        );
    }

    #[test]
    fn the_error_vocabulary_depends_on_the_domain_only() {
        assert_eq!(
            outside_paths(include_str!("error.rs"), false),
            Vec::<String>::new(),
            "error.rs names the store or an actor: move what it needs into it or the domain"
        );
    }

    #[test]
    fn the_check_sees_what_it_must_refuse() {
        assert_eq!(
            outside_paths("use crate::error::{CoreError, CoreResult};", false),
            vec!["crate::error"]
        );
        assert_eq!(
            outside_paths("hash(&crate::store::new_id())", false),
            vec!["crate::store"]
        );
        assert_eq!(
            outside_paths("use crate::{Core, Store};", false),
            vec!["crate::{Core"]
        );
        assert!(outside_paths("use crate::domain::time;", false).is_empty());
        assert_eq!(outside_paths("use super::kernel;", true), vec!["super::"]);
    }
}
