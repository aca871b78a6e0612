//! The rules for files attached to work items and project tasks: how many one holds and
//! who may remove one. The same for both; the owning actor applies them.

use cflows_protocol::{AttachmentView, UserId};

/// Most attachments one work item or task holds.
pub const MAX_ATTACHMENTS: usize = 50;

/// What holds attachments; it names the thing and its admins in refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A work item (organization admins may remove others' files).
    Item,
    /// A project task (project and organization admins may).
    Task,
}

/// Why an attachment was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The holder is full.
    #[error("{} has at most {MAX_ATTACHMENTS} attachments", noun(*.0))]
    TooMany(Holder),
    /// Someone else's file, and the remover is no admin.
    #[error("only who attached it or {} removes an attachment", admin(*.0))]
    NotYours(Holder),
}

fn noun(h: Holder) -> &'static str {
    match h {
        Holder::Item => "an item",
        Holder::Task => "a task",
    }
}

fn admin(h: Holder) -> &'static str {
    match h {
        Holder::Item => "an admin",
        Holder::Task => "a project admin",
    }
}

/// Whether one more file fits on a holder that has `count`.
///
/// # Errors
/// [`Refused::TooMany`] when it holds [`MAX_ATTACHMENTS`] already.
pub fn may_attach(holder: Holder, count: usize) -> Result<(), Refused> {
    if count >= MAX_ATTACHMENTS {
        return Err(Refused::TooMany(holder));
    }
    Ok(())
}

/// Whether `by` may remove `attachment`: who attached it, or an admin of the holder.
///
/// # Errors
/// [`Refused::NotYours`] for anyone else.
pub fn may_remove(
    holder: Holder,
    attachment: &AttachmentView,
    by: &UserId,
    admin: bool,
) -> Result<(), Refused> {
    if &attachment.by != by && !admin {
        return Err(Refused::NotYours(holder));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_by(user: &str) -> AttachmentView {
        AttachmentView {
            id: "a1".into(),
            name: "photo.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 1,
            sha256: "00".into(),
            thumbnail: false,
            by: UserId::new(user),
            at: 0,
        }
    }

    #[test]
    fn fifty_files_at_most() {
        assert_eq!(may_attach(Holder::Item, MAX_ATTACHMENTS - 1), Ok(()));
        let full = may_attach(Holder::Task, MAX_ATTACHMENTS).unwrap_err();
        assert_eq!(full.to_string(), "a task has at most 50 attachments");
        assert_eq!(
            may_attach(Holder::Item, MAX_ATTACHMENTS)
                .unwrap_err()
                .to_string(),
            "an item has at most 50 attachments"
        );
    }

    #[test]
    fn who_attached_it_or_an_admin_removes_it() {
        let file = file_by("ann");
        assert_eq!(
            may_remove(Holder::Item, &file, &UserId::new("ann"), false),
            Ok(())
        );
        assert_eq!(
            may_remove(Holder::Item, &file, &UserId::new("bo"), true),
            Ok(())
        );
        let refused = may_remove(Holder::Task, &file, &UserId::new("bo"), false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "only who attached it or a project admin removes an attachment"
        );
    }
}
