//! Workflows, work items and kiosks, the application layer shared by the JSON API, the
//! socket and the pages: which actor handle a member acts on, how a kiosk token becomes
//! a principal, and screen pairing.

use crate::AppState;
use crate::bookings::Acting;
use crate::error::AppError;
use cflows_actors::board::BoardHandle;
use cflows_actors::org::{KioskInput, OrgHandle};
use cflows_actors::streams::Principal;
use cflows_actors::work_item::WorkItemHandle;
use cflows_protocol::{ItemId, KioskView, OrgId, WorkflowId};

impl Acting<'_> {
    /// A work item of the member's organization (another's answers `not_found`).
    pub fn item(&self, id: &ItemId) -> WorkItemHandle {
        WorkItemHandle::new(self.kernel, self.org_id, id)
    }

    /// A workflow's board in the member's organization.
    pub fn board(&self, workflow: &WorkflowId) -> BoardHandle {
        BoardHandle::new(self.kernel, self.org_id, workflow)
    }
}

/// The kiosk a secret token opens, and its organization.
///
/// # Errors
/// `not_found` for an unknown or revoked token.
pub async fn kiosk_by_token(state: &AppState, token: &str) -> Result<(OrgId, KioskView), AppError> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::NotFound);
    }
    let hash = cflows_actors::org::token_hash(token);
    let kernel = &state.core.kernel;
    let record = kernel
        .store()
        .kiosk_by_token_hash(&hash)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or(AppError::NotFound)?;
    let org = OrgId::new(record.org);
    // The Org's hot state decides: a kiosk revoked a moment ago is gone there first.
    let view = OrgHandle::new(kernel, &org)
        .kiosk(&cflows_protocol::KioskId::new(record.id))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((org, view))
}

/// The socket principal of a kiosk screen.
///
/// # Errors
/// `not_found` for an unknown or revoked token.
pub async fn kiosk_principal(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let (org, kiosk) = kiosk_by_token(state, token).await?;
    OrgHandle::new(&state.core.kernel, &org)
        .kiosk_seen(kiosk.id.clone())
        .await;
    Ok(Principal::Kiosk {
        kiosk: kiosk.id,
        org,
        scope: kiosk.scope,
    })
}

/// Pairs the screen showing `code` as a new kiosk of the admin's organization: the
/// screen's next poll gets its link.
///
/// # Errors
/// `invalid_input` for an unknown or expired code or a bad scope; `forbidden`.
pub async fn pair(
    state: &AppState,
    org: &OrgHandle,
    by: cflows_actors::Caller,
    code: &str,
    input: KioskInput,
) -> Result<KioskView, AppError> {
    let dir = &state.core.directory;
    let code = code.trim().to_uppercase();
    let pairing = dir.take_pairing(&code).await?.ok_or_else(|| {
        AppError::InvalidInput(
            "no screen shows this code (it may have expired): reload the screen".into(),
        )
    })?;
    let (kiosk, token) = org.create_kiosk(by, input).await?;
    dir.complete_pairing(pairing, token).await?;
    Ok(kiosk)
}

/// Whether a screen of kiosk `id` has an open connection now.
pub fn online(state: &AppState, id: &cflows_protocol::KioskId) -> usize {
    state.core.kernel.revocations().kiosk_screens(id)
}
