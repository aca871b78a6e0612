//! Who may change whose membership, and who may delete a calendar. Decided here once;
//! the `Org` and `Calendar` actors apply it.

use cflows_protocol::{CalendarKind, Role};

/// Whether `actor` (an admin or owner) may give `target` (currently `current`) the role
/// `new`. Only owners grant or take away ownership; an organization keeps at least one
/// active owner (`owners` counts the active owners now).
///
/// # Errors
/// A sentence saying why not.
pub fn check_role_change(
    actor: Role,
    current: Role,
    new: Role,
    owners: usize,
) -> Result<(), String> {
    if !actor.is_admin() {
        return Err("only admins can change roles".into());
    }
    if (current == Role::Owner || new == Role::Owner) && actor != Role::Owner {
        return Err("only an owner can grant or remove the owner role".into());
    }
    if current == Role::Owner && new != Role::Owner && owners <= 1 {
        return Err("an organization needs at least one owner".into());
    }
    Ok(())
}

/// Whether `actor` may remove or deactivate a member whose role is `target`.
///
/// # Errors
/// A sentence saying why not.
pub fn check_removal(actor: Role, target: Role, owners: usize) -> Result<(), String> {
    if !actor.is_admin() {
        return Err("only admins can remove members".into());
    }
    if target == Role::Owner && actor != Role::Owner {
        return Err("only an owner can remove an owner".into());
    }
    if target == Role::Owner && owners <= 1 {
        return Err("an organization needs at least one owner".into());
    }
    Ok(())
}

/// Why a calendar may not be deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarDeletionRefused {
    /// Not a kind that is deleted on its own (a conflict with what it belongs to).
    BelongsElsewhere(String),
    /// The person may not (forbidden).
    NotAllowed(String),
}

/// Whether someone may delete a calendar of `kind`: only shared calendars are deleted
/// on their own — a member's personal calendar belongs to the membership and a team's
/// calendar to the team (both come back empty on next use) — and only by the shared
/// calendar's owner (who created it) or an admin.
///
/// # Errors
/// Why not, in words for the person.
pub fn check_calendar_deletion(
    kind: CalendarKind,
    is_owner: bool,
    admin: bool,
) -> Result<(), CalendarDeletionRefused> {
    match kind {
        CalendarKind::Personal => Err(CalendarDeletionRefused::BelongsElsewhere(
            "your personal calendar belongs to your membership and cannot be deleted; delete its events instead".into(),
        )),
        CalendarKind::Team => Err(CalendarDeletionRefused::BelongsElsewhere(
            "a team's calendar belongs to the team and cannot be deleted on its own; delete its events instead".into(),
        )),
        CalendarKind::Shared if is_owner || admin => Ok(()),
        CalendarKind::Shared => Err(CalendarDeletionRefused::NotAllowed(
            "only the person who created this calendar or an admin can delete it".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![Just(Role::Member), Just(Role::Admin), Just(Role::Owner)]
    }

    proptest! {
        #[test]
        fn never_leaves_an_org_without_an_owner(actor in role(), current in role(), new in role(), owners in 0usize..4) {
            if check_role_change(actor, current, new, owners).is_ok() && current == Role::Owner && new != Role::Owner {
                prop_assert!(owners >= 2);
            }
            if check_removal(actor, current, owners).is_ok() && current == Role::Owner {
                prop_assert!(owners >= 2);
            }
        }

        #[test]
        fn members_change_nothing(current in role(), new in role(), owners in 0usize..4) {
            prop_assert!(check_role_change(Role::Member, current, new, owners).is_err());
            prop_assert!(check_removal(Role::Member, current, owners).is_err());
        }

        #[test]
        fn only_owners_touch_ownership(current in role(), new in role(), owners in 2usize..4) {
            let touches = current == Role::Owner || new == Role::Owner;
            prop_assert_eq!(check_role_change(Role::Admin, current, new, owners).is_ok(), !touches);
        }
    }

    #[test]
    fn only_shared_calendars_are_deleted_by_their_owner_or_an_admin() {
        use CalendarKind::*;
        for (kind, owner, admin, ok) in [
            (Shared, true, false, true),
            (Shared, false, true, true),
            (Shared, false, false, false),
            (Personal, true, true, false),
            (Team, false, true, false),
        ] {
            assert_eq!(
                check_calendar_deletion(kind, owner, admin).is_ok(),
                ok,
                "{kind:?} {owner} {admin}"
            );
        }
    }
}
