//! `spawn_app()`: the real server on 127.0.0.1:0 with a fresh in-memory SurrealDB, and
//! HTTP helpers that behave like a browser (cookie jar, no automatic redirects).

use cflows_actors::{Caller, Core, NewOrg, Store, StoreConfig};
use cflows_protocol::{ClockFormat, OrgView, Role, UserView};
use cflows_web::{AppState, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Once;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: String,
    pub core: Core,
    pub state: cflows_web::AppState,
}

/// Logs are quiet unless `TEST_LOG` is set.
fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    std::env::var("TEST_LOG")
                        .ok()
                        .filter(|v| v.len() > 1)
                        .unwrap_or_else(|| "info,cflows=debug".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(StoreConfig::memory()).await
}

/// The app on any store (the remote-mode tests use a SurrealDB server).
pub async fn spawn_app_on(config: StoreConfig) -> TestApp {
    spawn_app_with(config, |_| {}).await
}

/// The app with adjusted settings.
pub async fn spawn_app_with(config: StoreConfig, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_until(config, adjust, std::future::pending()).await
}

/// The app, serving until `shutdown` resolves.
pub async fn spawn_app_until(
    config: StoreConfig,
    adjust: impl FnOnce(&mut Settings),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> TestApp {
    init_logs();
    let store = Store::open(&config).await.unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut settings = Settings::default();
    settings.http.addr = addr.clone();
    // The database it runs on (a SurrealDB server turns the journal feed on).
    settings.database.url.clone_from(&config.url);
    // Attachment bytes of each test app in a directory of its own.
    settings.data_dir =
        std::env::temp_dir().join(format!("cflows-test-{}", cflows_actors::store::new_id()));
    adjust(&mut settings);
    let core = Core::start_with(store, settings.kernel()).await.unwrap();
    let state = AppState::new(settings, core.clone());
    tokio::spawn(cflows_web::serve(state.clone(), listener, shutdown));
    TestApp { addr, core, state }
}

/// An organization with an owner (who is also logged in via [`TestApp::login`]).
pub struct Org {
    pub org: OrgView,
    pub owner: UserView,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A fresh browser-like client: its own cookie jar, redirects not followed.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Creates an org whose owner is `owner_email`.
    pub async fn org(&self, name: &str, owner_email: &str) -> Org {
        let owner = self
            .core
            .directory
            .create_user(owner_email, "Owner", PASSWORD, false)
            .await
            .unwrap();
        let org = self
            .core
            .directory
            .create_org(NewOrg {
                name: name.into(),
                slug: String::new(),
                timezone: "Europe/Berlin".into(),
                clock: ClockFormat::H24,
                owner: Some(cflows_actors::Owner::Existing(owner.id.clone())),
            })
            .await
            .unwrap();
        Org { org, owner }
    }

    /// Adds a new user to `org` with `role`.
    pub async fn member(&self, org: &Org, email: &str, name: &str, role: Role) -> UserView {
        let user = self
            .core
            .directory
            .create_user(email, name, PASSWORD, false)
            .await
            .unwrap();
        let handle = self.core.directory.org(&org.org.id).await.unwrap();
        handle
            .add_member(Caller::System, user.clone(), role)
            .await
            .unwrap();
        user
    }

    /// Logs in over the JSON API; returns the client (with its session cookie) and CSRF token.
    pub async fn login(&self, email: &str) -> (reqwest::Client, String) {
        let client = self.client();
        let resp = client
            .post(self.url("/api/v1/session"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "login of {email} failed");
        let body: Value = resp.json().await.unwrap();
        (client, body["csrf_token"].as_str().unwrap().to_string())
    }

    /// Logs in for the WebSocket client.
    pub async fn ws_session(&self, email: &str) -> cflows_load::client::Session {
        cflows_load::client::login(&self.addr, email, PASSWORD)
            .await
            .unwrap()
    }

    /// A connected, welcomed protocol client.
    pub async fn ws(&self, email: &str) -> cflows_load::client::Client {
        let session = self.ws_session(email).await;
        cflows_load::client::Client::connect(
            &self.addr,
            &session,
            Some(&format!("http://{}", self.addr)),
            vec![],
        )
        .await
        .unwrap()
        .0
    }

    /// Fetches `path` and returns the login-form CSRF token (from the form's hidden field).
    pub async fn csrf_from_page(&self, client: &reqwest::Client, path: &str) -> String {
        let html = client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = html
            .find(marker)
            .unwrap_or_else(|| panic!("no csrf field on {path}"))
            + marker.len();
        html[start..start + 64].to_string()
    }
}

/// Reads an API error body's code.
pub async fn error_code(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
        body["error"]["message"].as_str().unwrap_or("").to_string(),
    )
}

/// Invites `email` over the API as the logged-in admin; returns the token of the link.
pub async fn invite(
    app: &TestApp,
    admin: &reqwest::Client,
    csrf: &str,
    email: &str,
    role: &str,
) -> String {
    let r = admin
        .post(app.url("/api/v1/members"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "email": email, "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "invitation of {email}");
    let body: Value = r.json().await.unwrap();
    token_of(body["link"].as_str().unwrap())
}

/// The secret token at the end of an invitation link.
pub fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

/// GETs `path` with `client` and reads the JSON answer.
pub async fn get_json(app: &TestApp, client: &reqwest::Client, path: &str) -> Value {
    client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The page journey of a person without a session who got an invitation link: opens it,
/// chooses a name and password, logs in as the invited address (`email`, with
/// `login_password`: the one just chosen, or an existing account's) and joins. Returns
/// the answer to choosing (the "next step" page) and whether joining worked.
pub async fn join_by_link(
    app: &TestApp,
    browser: &reqwest::Client,
    invite_path: &str,
    (name, password): (&str, &str),
    (email, login_password): (&str, &str),
) -> (StatusCode, String, bool) {
    let csrf = app.csrf_from_page(browser, invite_path).await;
    let chosen = browser
        .post(app.url(invite_path))
        .form(&[
            ("csrf", csrf.as_str()),
            ("display_name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let answer = (chosen.status(), chosen.text().await.unwrap());
    let csrf = app
        .csrf_from_page(browser, &format!("/login?next={invite_path}"))
        .await;
    let login = browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", login_password),
            ("next", invite_path),
        ])
        .send()
        .await
        .unwrap();
    if login.status() != StatusCode::SEE_OTHER {
        return (answer.0, answer.1, false);
    }
    let csrf = app.csrf_from_page(browser, invite_path).await;
    let joined = browser
        .post(app.url(invite_path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    (answer.0, answer.1, joined.status() == StatusCode::SEE_OTHER)
}
