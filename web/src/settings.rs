//! Typed settings. Defaults live here; the binary layers an optional TOML file and
//! `CFLOWS_`-prefixed environment variables (`__` for nesting) on top. Every setting is
//! documented in the README's table.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// All settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    /// Where the embedded database and lock file live (`CFLOWS_DATA_DIR`).
    pub data_dir: PathBuf,
    pub log: LogSettings,
    pub demo: DemoSettings,
    pub ws: WsSettings,
    pub actors: ActorSettings,
    pub uploads: UploadSettings,
    pub sessions: SessionSettings,
    pub cluster: ClusterSettings,
    pub mail: MailSettings,
}

/// Outbound mail (README, "Mail").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// lettre's SMTP URL (`CFLOWS_MAIL__SMTP_URL`): `smtp://127.0.0.1:2525` (a local relay,
    /// no TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
    /// (implicit TLS). Empty: no mail is sent, and pages offer the link to pass on.
    pub smtp_url: String,
    /// The sender (`CFLOWS_MAIL__FROM`), e.g. `Demo Motors <cflows@example.com>`.
    pub from: String,
    /// A PEM file of the certificate authority a private relay's certificate is issued
    /// by (`CFLOWS_MAIL__TLS_CA_FILE`), trusted besides the public ones; empty: only
    /// the public ones. Only with TLS (`smtps://` or `?tls=required`).
    pub tls_ca_file: String,
    /// How long a notification mailed "at once" waits first, in seconds
    /// (`CFLOWS_MAIL__NOTIFY_DELAY_SECS`): read in the app meanwhile, it is not mailed;
    /// several in that time go out as one mail.
    pub notify_delay_secs: u64,
    /// How often booking reminders that have come due are looked for, in seconds
    /// (`CFLOWS_MAIL__REMINDER_POLL_SECS`); a team sets how long before a booking.
    pub reminder_poll_secs: u64,
    /// How long a message the mail server did not take waits before its first retry,
    /// in seconds (`CFLOWS_MAIL__RETRY_SECS`); each later retry waits twice as long, at
    /// most an hour.
    pub retry_secs: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "cflows <cflows@localhost>".into(),
            tls_ca_file: String::new(),
            notify_delay_secs: 180,
            reminder_poll_secs: 60,
            retry_secs: 30,
        }
    }
}

impl MailSettings {
    /// Whether mail is sent at all.
    pub fn enabled(&self) -> bool {
        !self.smtp_url.trim().is_empty()
    }
}

/// Several nodes on one database (README, "Running several nodes").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    /// Follow the journal written by other nodes (`CFLOWS_CLUSTER__FEED`): `auto` (the
    /// default: on for a database server, `ws://`/`wss://`; off for the embedded one,
    /// which one process holds), `on` or `off`.
    pub feed: String,
    /// Between two reads of the journal's tail, in milliseconds
    /// (`CFLOWS_CLUSTER__FEED_POLL_MS`).
    pub feed_poll_ms: u64,
    /// How many nodes serve this database (`CFLOWS_CLUSTER__NODES`): per-user message
    /// limits are divided by it, so a user spread over every node gets the same total.
    pub nodes: u32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            feed: "auto".into(),
            feed_poll_ms: 10,
            nodes: 1,
        }
    }
}

/// Login sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// How long a session lasts after logging in, in seconds
    /// (`CFLOWS_SESSIONS__LIFETIME_SECS`); then it must log in again.
    pub lifetime_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifetime_secs: cflows_actors::kernel::DEFAULT_SESSION_LIFETIME.as_secs(),
        }
    }
}

/// The actor kernel.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorSettings {
    /// An actor (organization, inbox, …) that handled nothing for this many seconds stops
    /// and frees its memory; the next use starts it again from the store.
    pub idle_secs: u64,
}

impl Default for ActorSettings {
    fn default() -> Self {
        Self { idle_secs: 600 }
    }
}

/// Attachments of tasks and work items.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadSettings {
    /// The largest file accepted, in bytes (`CFLOWS_UPLOADS__MAX_BYTES`); larger uploads
    /// are refused with 413.
    pub max_bytes: u64,
    /// Image decodes (thumbnails) at once (`CFLOWS_UPLOADS__DECODES`); 0: one per core.
    pub decodes: usize,
    /// How long an image upload waits for a decode turn, in seconds
    /// (`CFLOWS_UPLOADS__DECODE_WAIT_SECS`); then it answers 503 with `Retry-After`.
    pub decode_wait_secs: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            max_bytes: cflows_actors::kernel::DEFAULT_MAX_UPLOAD_BYTES,
            decodes: 0,
            decode_wait_secs: 20,
        }
    }
}

/// WebSocket limits (announced to clients in `welcome`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WsSettings {
    /// Largest frame accepted from a client; larger ones close the connection with 1009.
    pub max_frame_bytes: u32,
    /// Bytes queued for one connection before it is closed as a slow consumer (4008).
    pub max_queue_bytes: u32,
    /// Requests and subscribes per second per connection (bursts up to twice that).
    pub requests_per_second: u32,
    /// Server ping interval; a connection silent for three intervals is closed (4000).
    pub heartbeat_secs: u64,
    /// How long after the upgrade a client has to send `hello` (closed with 4002 at this
    /// deadline, whatever else it sends meanwhile). Milliseconds, so tests can be quick.
    pub hello_timeout_ms: u64,
    /// Direct messages a user may send per minute.
    pub messages_per_minute: u32,
}

impl Default for WsSettings {
    fn default() -> Self {
        let l = cflows_protocol::wire::Limits::default();
        Self {
            max_frame_bytes: l.max_frame_bytes,
            max_queue_bytes: l.max_queue_bytes,
            requests_per_second: l.requests_per_second,
            heartbeat_secs: 15,
            hello_timeout_ms: 10_000,
            messages_per_minute: 20,
        }
    }
}

impl WsSettings {
    /// The limits as the protocol announces them.
    pub fn limits(&self) -> cflows_protocol::wire::Limits {
        cflows_protocol::wire::Limits {
            max_frame_bytes: self.max_frame_bytes,
            max_queue_bytes: self.max_queue_bytes,
            requests_per_second: self.requests_per_second.max(1),
            ..cflows_protocol::wire::Limits::default()
        }
    }
}

/// The HTTP listener and how the server is reached from outside.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Listen address (`CFLOWS_HTTP__ADDR`).
    pub addr: String,
    /// The URL people use (`CFLOWS_HTTP__PUBLIC_URL`): links and the WebSocket Origin check.
    /// Empty: `http://{addr}`.
    pub public_url: String,
    /// Mark the session cookie `Secure` and use the `__Host-` prefix. Empty (unset) follows
    /// `public_url`: on for `https://`, off for plain-HTTP development on localhost.
    pub secure_cookies: Option<bool>,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy such as
    /// the Traefik of docker-compose.yml). Used by the login rate limit.
    pub trust_forwarded: bool,
    /// How many trusted proxies stand in front of cflows, each appending the address it
    /// saw to `X-Forwarded-For`: the client is that many entries from the right. Entries
    /// further left are whatever the client sent and are never trusted.
    pub trusted_proxies: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            public_url: String::new(),
            secure_cookies: None,
            trust_forwarded: false,
            trusted_proxies: 1,
        }
    }
}

impl HttpSettings {
    /// `public_url` without a trailing slash, defaulting to the listen address.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.addr)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    /// The origin (`scheme://host[:port]`) browsers send in `Origin` for this server.
    pub fn public_origin(&self) -> String {
        let url = self.public_url();
        match url.split_once("://") {
            Some((scheme, rest)) => {
                format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
            }
            None => url,
        }
    }

    /// Whether cookies are `Secure` (and `__Host-` prefixed).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
            .unwrap_or_else(|| self.public_url().starts_with("https://"))
    }
}

/// The database connection.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `surrealkv://path`, `mem://` or `ws://host:port` (`CFLOWS_DATABASE__URL`).
    /// Empty: `surrealkv://{data_dir}/cflows.db`.
    pub url: String,
    pub namespace: String,
    pub database: String,
    /// For `ws://` servers.
    pub username: Option<String>,
    /// For `ws://` servers. Redacted in logs.
    pub password: Option<String>,
    /// surrealkv fsync policy: `every` commit (default), `never`, or an interval like `1s`.
    pub sync: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            namespace: "cflows".into(),
            database: "cflows".into(),
            username: None,
            password: None,
            sync: "every".into(),
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sync", &self.sync)
            .finish()
    }
}

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,cflows=debug`; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info,surrealdb=warn,surrealkv=warn".into(),
        }
    }
}

/// First-start demo data.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DemoSettings {
    /// Seed the dealership demo when the database has no organization yet.
    pub seed_on_empty: bool,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            seed_on_empty: true,
        }
    }
}

impl Settings {
    /// The store configuration these settings describe.
    pub fn store_config(&self) -> cflows_actors::StoreConfig {
        let url = if self.database.url.is_empty() {
            format!(
                "surrealkv://{}",
                self.data_dir().join("cflows.db").display()
            )
        } else {
            self.database.url.clone()
        };
        cflows_actors::StoreConfig {
            url,
            namespace: self.database.namespace.clone(),
            database: self.database.database.clone(),
            username: self.database.username.clone(),
            password: self.database.password.clone(),
            sync: self.database.sync.clone(),
        }
    }

    /// The kernel's configuration: attachment bytes under `{data_dir}/files`.
    pub fn kernel(&self) -> cflows_actors::KernelConfig {
        cflows_actors::KernelConfig {
            idle_after: std::time::Duration::from_secs(self.actors.idle_secs.max(1)),
            files_dir: self.data_dir().join("files"),
            max_upload_bytes: self.uploads.max_bytes.max(1),
            decodes: cflows_actors::files::DecodeLimit {
                at_once: match self.uploads.decodes {
                    0 => cflows_actors::files::DecodeLimit::default().at_once,
                    n => n,
                },
                wait: std::time::Duration::from_secs(self.uploads.decode_wait_secs),
            },
            session_lifetime: std::time::Duration::from_secs(self.sessions.lifetime_secs.max(1)),
            feed: cflows_actors::kernel::FeedConfig {
                enabled: self.feed_enabled(),
                poll: std::time::Duration::from_millis(self.cluster.feed_poll_ms.max(1)),
                ..Default::default()
            },
        }
    }

    /// Whether this node follows the journal feed (`cluster.feed`).
    pub fn feed_enabled(&self) -> bool {
        match self.cluster.feed.as_str() {
            "on" => true,
            "off" => false,
            _ => self.database.url.starts_with("ws://") || self.database.url.starts_with("wss://"),
        }
    }

    /// `data_dir`, defaulting to `./data`.
    pub fn data_dir(&self) -> PathBuf {
        if self.data_dir.as_os_str().is_empty() {
            PathBuf::from("data")
        } else {
            self.data_dir.clone()
        }
    }
}
