//! Secret subscription feeds (`/ics/{token}.ics`) of calendars and teams. A feed is part
//! of its target's state: the target's actor issues and revokes it through its own
//! journal writer. Only the token's SHA-256 is stored; the token is shown once.

use crate::error::CoreResult;
use crate::kernel::Journal;
use crate::store::writes;
use cflows_protocol::{OrgId, UserId};

/// What a feed shows.
#[derive(Clone, Copy, Debug)]
pub enum FeedTarget {
    Calendar,
    Team,
}

impl FeedTarget {
    /// The stored `target_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calendar => "calendar",
            Self::Team => "team",
        }
    }
}

/// A new token for `target`'s feed (the old one stops working), or `None` after
/// revoking it.
///
/// # Errors
/// The store failed; nothing changed.
pub(crate) async fn issue(
    journal: &mut Journal,
    org: &OrgId,
    kind: FeedTarget,
    target: &str,
    by: &UserId,
    revoke: bool,
) -> CoreResult<Option<String>> {
    if revoke {
        journal
            .commit(writes::delete_feed(kind.as_str(), target), vec![], Some(by))
            .await?;
        return Ok(None);
    }
    let token = crate::directory::random_token();
    let now = chrono::Utc::now().timestamp_millis();
    journal
        .commit(
            writes::put_feed(
                org.as_str(),
                kind.as_str(),
                target,
                &crate::org::token_hash(&token),
                now,
            ),
            vec![],
            Some(by),
        )
        .await?;
    Ok(Some(token))
}
