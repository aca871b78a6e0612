//! `/api/v1/kiosks`: kiosk screens of the active organization (admins): created with a
//! secret link, or paired from the code a screen shows at `/kiosk`; rescoped; revoked
//! (an open screen goes blank at once). `/api/v1/kiosk-pairings` is the screen's side
//! of pairing and needs no session.

use super::ApiJson;
use crate::AppState;
use crate::auth::Admin;
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cflows_actors::directory::PairingState;
use cflows_actors::org::KioskInput;
use cflows_protocol::{KioskId, KioskScope, KioskView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's routes, with their OpenAPI paths.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_kiosks, create_kiosk))
        .routes(routes!(update_kiosk, revoke_kiosk))
        .routes(routes!(pair_kiosk))
        .routes(routes!(start_pairing))
        .routes(routes!(poll_pairing))
}

/// A kiosk and whether a screen shows it now.
#[derive(Serialize, ToSchema)]
pub struct KioskStatus {
    #[serde(flatten)]
    pub kiosk: KioskView,
    /// Screens connected now.
    pub screens: usize,
}

/// A kiosk's name and what it shows.
#[derive(Deserialize, ToSchema)]
pub struct KioskBody {
    /// 1–80 characters.
    pub name: String,
    pub scope: KioskScope,
}

impl From<KioskBody> for KioskInput {
    fn from(b: KioskBody) -> Self {
        Self {
            name: b.name,
            scope: b.scope,
        }
    }
}

/// A new kiosk's secret link, shown once.
#[derive(Serialize, ToSchema)]
pub struct KioskCreated {
    pub kiosk: KioskView,
    /// The screen's address (path), with the secret token: `/kiosk/k/{token}`.
    pub link: String,
}

/// The organization's kiosks, with online status.
#[utoipa::path(get, path = "/kiosks", tag = "kiosks", responses((status = 200, body = Vec<KioskStatus>), (status = 403, body = ErrorBody)))]
async fn list_kiosks(
    State(state): State<AppState>,
    Admin(m): Admin,
) -> ApiResult<Json<Vec<KioskStatus>>> {
    let kiosks = m.org.kiosks().await?;
    Ok(Json(
        kiosks
            .into_iter()
            .map(|k| KioskStatus {
                screens: crate::work::online(&state, &k.id),
                kiosk: k,
            })
            .collect(),
    ))
}

/// Creates a kiosk with a secret link (admins).
#[utoipa::path(post, path = "/kiosks", tag = "kiosks", request_body = KioskBody,
    responses((status = 201, body = KioskCreated), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_kiosk(
    Admin(m): Admin,
    ApiJson(body): ApiJson<KioskBody>,
) -> ApiResult<(StatusCode, Json<KioskCreated>)> {
    let (kiosk, token) = m.org.create_kiosk(m.caller(), body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(KioskCreated {
            kiosk,
            link: format!("/kiosk/k/{token}"),
        }),
    ))
}

/// Renames or rescopes a kiosk (admins); its open screens reload with the new scope.
#[utoipa::path(put, path = "/kiosks/{kiosk_id}", tag = "kiosks", params(("kiosk_id" = String, Path)), request_body = KioskBody,
    responses((status = 200, body = KioskView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_kiosk(
    Admin(m): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<KioskBody>,
) -> ApiResult<Json<KioskView>> {
    Ok(Json(
        m.org
            .update_kiosk(m.caller(), KioskId::new(id), body.into())
            .await?,
    ))
}

/// Revokes a kiosk (admins): its link stops working and open screens go blank at once.
#[utoipa::path(delete, path = "/kiosks/{kiosk_id}", tag = "kiosks", params(("kiosk_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_kiosk(Admin(m): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    m.org.revoke_kiosk(m.caller(), KioskId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The code a screen shows, with the new kiosk's name and scope.
#[derive(Deserialize, ToSchema)]
pub struct PairBody {
    /// The 6-character code shown at `/kiosk` (any case).
    pub code: String,
    pub name: String,
    pub scope: KioskScope,
}

/// Pairs the screen showing `code` as a new kiosk (admins); the screen opens its view
/// on its next poll (within 2 seconds).
#[utoipa::path(post, path = "/kiosks/pair", tag = "kiosks", request_body = PairBody,
    responses((status = 201, body = KioskView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pair_kiosk(
    State(state): State<AppState>,
    Admin(m): Admin,
    ApiJson(body): ApiJson<PairBody>,
) -> ApiResult<(StatusCode, Json<KioskView>)> {
    let kiosk = crate::work::pair(
        &state,
        &m.org,
        m.caller(),
        &body.code,
        KioskInput {
            name: body.name,
            scope: body.scope,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(kiosk)))
}

/// A screen's pairing code and the secret it polls with.
#[derive(Serialize, ToSchema)]
pub struct PairingStarted {
    /// 6 characters (A–Z without I, L, O; digits 2–9), valid 10 minutes.
    pub code: String,
    /// Poll `GET /api/v1/kiosk-pairings/{secret}` with it.
    pub secret: String,
}

/// Starts pairing a screen (no session needed): show the code, poll with the secret.
#[utoipa::path(post, path = "/kiosk-pairings", tag = "kiosks", security(()),
    responses((status = 201, body = PairingStarted), (status = 409, body = ErrorBody)))]
async fn start_pairing(
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, Json<PairingStarted>)> {
    let (code, secret) = state.core.directory.start_pairing().await?;
    Ok((StatusCode::CREATED, Json(PairingStarted { code, secret })))
}

/// Where a screen's pairing stands: 202 waiting, 200 `{ "link" }` once paired (given
/// once), 404 when unknown or expired (start again).
#[utoipa::path(get, path = "/kiosk-pairings/{secret}", tag = "kiosks", security(()), params(("secret" = String, Path)),
    responses((status = 200, body = Object), (status = 202), (status = 404, body = ErrorBody)))]
async fn poll_pairing(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> ApiResult<Response> {
    Ok(match state.core.directory.poll_pairing(secret).await? {
        PairingState::Waiting => StatusCode::ACCEPTED.into_response(),
        PairingState::Paired(token) => {
            Json(serde_json::json!({ "link": format!("/kiosk/k/{token}") })).into_response()
        }
        PairingState::Gone => AppError::NotFound.into_response(),
    })
}
