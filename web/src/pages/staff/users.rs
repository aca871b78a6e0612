//! Staff: the organization's users — list, invite, membership, teams, profile, removal.

use super::{failed, role_select, staff_page};
use crate::AppState;
use crate::auth::{Admin, Member};
use crate::error::{AppError, PageResult};
use crate::forms::{Button, CsrfForm};
use crate::pages::home::{ProfileForm, profile_form};
use crate::pages::layout::Section;
use crate::pages::{Flash, layout, see_other_with_notice};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use cflows_actors::MemberChange;
use cflows_protocol::{MemberView, OrgSnapshot, Role, TeamId, UserId};
use maud::html;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/users", get(users_page).post(add_user))
        .route("/staff/users/{user_id}", get(user_page))
        .route("/staff/users/{user_id}/membership", post(update_membership))
        .route("/staff/users/{user_id}/teams", post(update_user_teams))
        .route("/staff/users/{user_id}/profile", post(update_user_profile))
        .route("/staff/users/{user_id}/remove", post(remove_user))
        .route("/staff/users/{user_id}/reset-link", post(send_reset_link))
        .route("/staff/invitations/{id}/revoke", post(revoke_invitation))
}

/// The invite form's fields.
#[derive(Deserialize, Default)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// A link just created, shown once on the page that answers the form.
struct NewLink {
    email: String,
    link: String,
}

async fn users_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_users(&state, &m, flash, &InviteForm::default(), None).await
}

async fn render_users(
    state: &AppState,
    m: &Member,
    flash: Flash,
    form: &InviteForm,
    created: Option<NewLink>,
) -> PageResult<Response> {
    let snap = m.org.snapshot().await?;
    let invitations = m.org.invitations(m.caller()).await?;
    let body = html! {
        h1 { "Users" }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        @if let Some(new) = &created {
            div.card.notice role="status" {
                h2 { "Invitation for " (new.email) }
                @if state.mailer.enabled() {
                    p { "We are mailing the invitation to " strong { (new.email) } " (see Staff → Mail). You can also pass this link on yourself. It works once, for " (crate::app::INVITATION_DAYS) " days." }
                } @else {
                    p { "This server sends no mail: pass this link on. It works once, for " (crate::app::INVITATION_DAYS) " days: an existing account logs in and accepts, a new person chooses a name and password." }
                }
                label for="invite-link" { "Invitation link" }
                input #invite-link type="text" readonly value=(new.link);
                button type="button" data-copy="#invite-link" aria-describedby="invite-copied" hidden { "Copy link" }
                span #invite-copied role="status" {}
            }
        }
        div.table-wrap {
            table {
                thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Status" } th { "Teams" } } }
                tbody {
                    @for mem in &snap.members {
                        tr {
                            td data-label="Name" { a href=(format!("/staff/users/{}", mem.user.id)) { (mem.user.display_name) } }
                            td data-label="Email" { (mem.user.email) }
                            td data-label="Role" { (mem.role.as_str()) }
                            td data-label="Status" { @if mem.active { "active" } @else { span.muted { "deactivated" } } }
                            td data-label="Teams" { @for t in team_names(&snap, mem) { span.tag { (t) } } }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { "Invite someone" }
            p.muted {
                "Nobody is added without accepting. "
                @if state.mailer.enabled() { "The invitation is mailed to the address, and you get its link too; " } @else { "You get a link to pass on; " }
                "someone who already has an account also sees the invitation in their notifications."
            }
            form.stack method="post" action="/staff/users" {
                (layout::csrf_field(&m.authed.csrf))
                label for="email" { "Email" }
                input #email type="email" name="email" value=(form.email) required maxlength="254";
                label for="role" { "Role" }
                (role_select("role", Role::parse(&form.role).unwrap_or(Role::Member), m.role()))
                button type="submit" { "Create invitation" }
            }
        }
        @if !invitations.is_empty() {
            div.card {
                h2 { "Pending invitations" }
                div.table-wrap {
                    table {
                        thead { tr { th { "Email" } th { "Role" } th { "Expires" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for inv in &invitations {
                                tr {
                                    td data-label="Email" { (inv.email) }
                                    td data-label="Role" { (inv.role.as_str()) }
                                    td data-label="Expires" { (expiry(inv.expires_at, &snap.org.timezone)) }
                                    td {
                                        form method="post" action=(format!("/staff/invitations/{}/revoke", inv.id)) {
                                            (layout::csrf_field(&m.authed.csrf))
                                            button.danger type="submit" { "Revoke" span.visually-hidden { " the invitation of " (inv.email) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::Users,
        "Users",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

/// An expiry instant as a date in the organization's zone.
fn expiry(ms: i64, zone: &str) -> String {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn team_names<'a>(snap: &'a OrgSnapshot, mem: &MemberView) -> Vec<&'a str> {
    snap.teams
        .iter()
        .filter(|t| mem.teams.contains(&t.id))
        .map(|t| t.name.as_str())
        .collect()
}

async fn add_user(
    State(state): State<AppState>,
    Admin(m): Admin,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> PageResult<Response> {
    let result = match Role::parse(&form.role) {
        None => Err(AppError::InvalidInput("choose a role".into())),
        Some(role) => crate::app::invite(&state, &m, &form.email, role).await,
    };
    match result {
        Ok((invitation, link)) => {
            let created = NewLink {
                email: invitation.email,
                link,
            };
            render_users(
                &state,
                &m,
                Flash::default(),
                &InviteForm::default(),
                Some(created),
            )
            .await
        }
        Err(e) => {
            let flash = Flash {
                notice: None,
                error: Some(e.to_string()),
            };
            let status = e.status();
            let mut resp = render_users(&state, &m, flash, &form, None).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

async fn revoke_invitation(
    Admin(m): Admin,
    Path(id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    m.org.revoke_invitation(m.caller(), id).await?;
    Ok(see_other_with_notice(
        "/staff/users",
        "The invitation was revoked; its link no longer works",
    ))
}

/// After a user form: back to the user page with `notice`, or the page again with the error.
async fn user_outcome<T>(
    state: &AppState,
    m: &Member,
    user_id: &str,
    result: Result<T, cflows_actors::CoreError>,
    notice: &str,
) -> PageResult<Response> {
    match result {
        Ok(_) => Ok(see_other_with_notice(
            &format!("/staff/users/{user_id}"),
            notice,
        )),
        Err(e) => {
            failed(e, |error| {
                render_user(
                    state,
                    m,
                    user_id,
                    Flash {
                        notice: None,
                        error,
                    },
                )
            })
            .await
        }
    }
}

async fn find_member(m: &Member, user_id: &str) -> Result<MemberView, AppError> {
    m.org
        .member(UserId::new(user_id))
        .await?
        .ok_or(AppError::NotFound)
}

async fn user_page(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    Query(flash): Query<Flash>,
) -> PageResult<Response> {
    render_user(&state, &m, &user_id, flash).await
}

async fn render_user(
    state: &AppState,
    m: &Member,
    user_id: &str,
    flash: Flash,
) -> PageResult<Response> {
    let target = find_member(m, user_id).await?;
    let snap = m.org.snapshot().await?;
    let base = format!("/staff/users/{}", target.user.id);
    let body = html! {
        p { a href="/staff/users" { "← Users" } }
        h1 { (target.user.display_name) " " span.muted { (target.user.email) } }
        (layout::banners(flash.notice.as_deref(), flash.error.as_deref()))
        div.card {
            h2 { "Membership" }
            form.stack method="post" action=(format!("{base}/membership")) {
                (layout::csrf_field(&m.authed.csrf))
                label for="role" { "Role" }
                (role_select("role", target.role, m.role()))
                label { input type="checkbox" name="active" value="true" checked[target.active]; " Active (a deactivated member cannot log in to this organization)" }
                button type="submit" { "Save membership" }
            }
        }
        div.card {
            h2 { "Teams" }
            @if snap.teams.is_empty() { p.muted { "No teams yet. " a href="/staff/teams" { "Create one" } } }
            @else {
                form.stack method="post" action=(format!("{base}/teams")) {
                    (layout::csrf_field(&m.authed.csrf))
                    fieldset {
                        legend { "Member of" }
                        @for t in &snap.teams {
                            label { input type="checkbox" name="teams" value=(t.id) checked[target.teams.contains(&t.id)]; " " (layout::swatch(&t.colour)) (t.name) }
                        }
                    }
                    button type="submit" { "Save teams" }
                }
            }
        }
        div.card {
            h2 { "Profile" }
            (profile_form(&format!("{base}/profile"), &m.authed.csrf, &target.profile))
        }
        div.card {
            h2 { "Password" }
            p.muted {
                @if state.mailer.enabled() { "Mails " (target.user.display_name) " a link to set a new password. " }
                @else { "Gives you a link to pass on to " (target.user.display_name) " (this server sends no mail). " }
                "It works once, for one hour; using it logs them out everywhere."
            }
            form method="post" action=(format!("{base}/reset-link")) {
                (layout::csrf_field(&m.authed.csrf))
                button type="submit" { "Send a password reset link" }
            }
        }
        div.card {
            h2 { "Remove from organization" }
            p.muted { "Removes the membership and takes the user off every team. Their account stays for other organizations." }
            form method="post" action=(format!("{base}/remove")) {
                (layout::csrf_field(&m.authed.csrf))
                button.danger type="submit" { "Remove " (target.user.display_name) }
            }
        }
    };
    staff_page(
        state,
        m,
        Section::Users,
        &target.user.display_name,
        axum::http::StatusCode::OK,
        body,
    )
    .await
}

/// Membership form fields.
#[derive(Deserialize)]
struct MembershipForm {
    #[serde(default)]
    role: String,
    /// Present (any value) when the box is ticked.
    active: Option<String>,
}

async fn update_membership(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    CsrfForm(form): CsrfForm<MembershipForm>,
) -> PageResult<Response> {
    let change = MemberChange {
        role: Role::parse(&form.role),
        active: Some(form.active.is_some()),
    };
    let result = m
        .org
        .update_member(m.caller(), UserId::new(&user_id), change)
        .await;
    user_outcome(&state, &m, &user_id, result, "Membership saved").await
}

/// Teams form fields (repeated `teams` keys).
#[derive(Deserialize)]
struct TeamsForm {
    #[serde(default)]
    teams: Vec<String>,
}

async fn update_user_teams(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    CsrfForm(form): CsrfForm<TeamsForm>,
) -> PageResult<Response> {
    let teams = form.teams.into_iter().map(TeamId::new).collect();
    let result = m
        .org
        .set_member_teams(m.caller(), UserId::new(&user_id), teams)
        .await;
    user_outcome(&state, &m, &user_id, result, "Teams saved").await
}

async fn update_user_profile(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> PageResult<Response> {
    // The picture is the member's own to change: it stays as it is.
    let avatar = m
        .org
        .snapshot()
        .await?
        .members
        .into_iter()
        .find(|x| x.user.id.as_str() == user_id)
        .map(|x| x.profile.avatar)
        .unwrap_or_default();
    let result = m
        .org
        .update_profile(m.caller(), UserId::new(&user_id), form.profile(avatar))
        .await;
    user_outcome(&state, &m, &user_id, result, "Profile saved").await
}

async fn remove_user(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    let name = find_member(&m, &user_id).await?.user.display_name;
    match m.org.remove_member(m.caller(), UserId::new(&user_id)).await {
        Ok(()) => Ok(see_other_with_notice(
            "/staff/users",
            &format!("{name} was removed"),
        )),
        Err(e) => {
            failed(e, |error| {
                render_user(
                    &state,
                    &m,
                    &user_id,
                    Flash {
                        notice: None,
                        error,
                    },
                )
            })
            .await
        }
    }
}

async fn send_reset_link(
    State(state): State<AppState>,
    Admin(m): Admin,
    Path(user_id): Path<String>,
    CsrfForm(Button {}): CsrfForm<Button>,
) -> PageResult<Response> {
    let target = find_member(&m, &user_id).await?;
    let sent = crate::passwords::send_to_member(&state, &m, &target.user.id).await?;
    let base = format!("/staff/users/{}", target.user.id);
    if sent.mailed {
        return Ok(see_other_with_notice(
            &base,
            &format!(
                "A link to set a new password is on its way to {} (it works for one hour)",
                target.user.email
            ),
        ));
    }
    let body = html! {
        p { a href=(base) { "← " (target.user.display_name) } }
        h1 { "Password reset link for " (target.user.display_name) }
        div.card.notice role="status" {
            p { "This server sends no mail: pass this link on to " (target.user.display_name) " yourself, privately. It works once, for one hour; using it logs them out everywhere." }
            label for="reset-link" { "Reset link" }
            input #reset-link type="text" readonly value=(sent.link);
            button type="button" data-copy="#reset-link" aria-describedby="reset-copied" hidden { "Copy link" }
            span #reset-copied role="status" {}
        }
    };
    staff_page(
        &state,
        &m,
        Section::Users,
        "Password reset link",
        axum::http::StatusCode::OK,
        body,
    )
    .await
}
