//! Subcommands. Each opens the store through [`open`], which refuses politely when
//! another process holds the embedded database.

use anyhow::Context;
use cflows_actors::demo::{self, DemoLogin};
use cflows_actors::{Core, NewOrg, Store};
use cflows_protocol::{ClockFormat, Role};
use cflows_web::{AppState, Settings};
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// cflows: real-time workflow, calendar and team-capacity server.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Args {
    /// TOML settings file (default: $CFLOWS_CONFIG, else ./cflows.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default): migrate, seed the demo on an empty database, serve.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Seed the dealership demo (idempotent) and print its login.
    Demo {
        /// Password for the demo users (default: random, printed once).
        #[arg(long, env = "CFLOWS_DEMO_PASSWORD")]
        password: Option<String>,
    },
    /// Create an organization.
    CreateOrg {
        #[arg(long)]
        name: String,
        /// URL slug (default: made from the name).
        #[arg(long, default_value = "")]
        slug: String,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Show times on a 12-hour clock.
        #[arg(long)]
        h12: bool,
        /// Email of an existing user who becomes the owner.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Create a user, optionally as a member of an organization.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Initial password (at least 10 characters).
        #[arg(long, env = "CFLOWS_NEW_USER_PASSWORD")]
        password: String,
        /// Slug of the organization to join.
        #[arg(long)]
        org: Option<String>,
        /// Role in that organization: member, admin or owner.
        #[arg(long, default_value = "member")]
        role: String,
        /// Make the user a platform operator (creates organizations, sees health).
        #[arg(long)]
        operator: bool,
    },
    /// Check the store's integrity; exits 1 when it finds problems.
    Check,
    /// Write one organization — records, journal and attachment files — as one
    /// versioned JSON document.
    Export {
        /// The organization's slug (or id).
        #[arg(long)]
        org: String,
        /// Where to write it (default: standard output). Created with mode 0600: it
        /// holds password hashes and secret token hashes.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Restore an exported organization. Refuses (writing nothing) a document that is
    /// truncated, changed, inconsistent or that the database does not fully accept.
    Import {
        /// The document (`-` for standard input).
        file: std::path::PathBuf,
        /// Import it as a new organization with this slug (new ids; kiosk, feed and
        /// invitation tokens and notifications are not copied). Without it the
        /// organization is restored as it was, and must not exist yet.
        #[arg(long = "as")]
        as_slug: Option<String>,
        /// With --as: the new organization's name.
        #[arg(long, requires = "as_slug")]
        name: Option<String>,
    },
}

/// An exclusive lock on the embedded database, held for the life of the process.
struct DbLock {
    _file: File,
}

fn lock_embedded(settings: &Settings) -> anyhow::Result<Option<DbLock>> {
    let config = settings.store_config();
    let Some(path) = config.embedded_path() else {
        return Ok(None);
    };
    let lock_path = PathBuf::from(format!("{path}.lock"));
    if let Some(parent) = lock_path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            write!(file, "{}", std::process::id())?;
            Ok(Some(DbLock { _file: file }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            anyhow::bail!(
                "the database {path} is in use by another cflows process (pid {}). Stop that server first, \
                 or point this command at a SurrealDB server (database.url = ws://...) that both can share.",
                holder.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

async fn open(settings: &Settings) -> anyhow::Result<(Option<DbLock>, Store)> {
    let lock = lock_embedded(settings)?;
    let config = settings.store_config();
    let store = Store::open(&config)
        .await
        .with_context(|| format!("cannot open the database {}", config.url))?;
    let report = store
        .migrate()
        .await
        .context("migrations failed; the server was not started")?;
    for name in &report.applied {
        tracing::info!(migration = %name, "migration applied");
    }
    Ok((lock, store))
}

fn print_login(login: &DemoLogin, public_url: &str) {
    println!("demo organization \"Demo Motors\" created; log in with");
    println!("  email: {}  password: {}", login.email, login.password);
    if let Some(link) = &login.kiosk_link {
        println!(
            "  workshop kiosk: {}{link}",
            public_url.trim_end_matches('/')
        );
    }
}

fn random_password() -> String {
    cflows_actors::directory::random_token()[..16].to_string()
}

/// Runs the chosen subcommand.
pub async fn run(args: Args, settings: Settings) -> anyhow::Result<ExitCode> {
    let (_lock, store) = open(&settings).await?;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, store).await,
        Command::Migrate => {
            println!("migrations are current");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { password } => {
            let core = Core::start(store).await?;
            let password = password.unwrap_or_else(random_password);
            match demo::seed(&core.directory, &password).await? {
                Some(login) => print_login(&login, &settings.http.public_url()),
                None => println!("the demo organization already exists; nothing changed"),
            }
            core.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateOrg {
            name,
            slug,
            timezone,
            h12,
            owner,
        } => {
            let core = Core::start(store).await?;
            let owner = match owner {
                Some(email) => Some(cflows_actors::Owner::Existing(
                    cflows_protocol::UserId::new(
                        core.directory
                            .user_by_email(&email)
                            .await?
                            .with_context(|| format!("no user with email {email}"))?
                            .id,
                    ),
                )),
                None => None,
            };
            let clock = if h12 {
                ClockFormat::H12
            } else {
                ClockFormat::H24
            };
            let org = core
                .directory
                .create_org(NewOrg {
                    name,
                    slug,
                    timezone,
                    clock,
                    owner,
                })
                .await?;
            println!(
                "created organization {} (slug {}, id {})",
                org.name, org.slug, org.id
            );
            core.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateUser {
            email,
            name,
            password,
            org,
            role,
            operator,
        } => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role {role}: use member, admin or owner"))?;
            let core = Core::start(store.clone()).await?;
            // Resolve the organization before creating anything.
            let org = match org {
                Some(slug) => Some(
                    store
                        .org_by_slug(&slug)
                        .await?
                        .with_context(|| format!("no organization with slug {slug}"))?,
                ),
                None => None,
            };
            match org {
                // User and membership in one transaction: a refusal leaves no user.
                Some(org) => {
                    let handle = core
                        .directory
                        .org(&cflows_protocol::OrgId::new(org.id))
                        .await?;
                    let user =
                        cflows_actors::directory::new_user(&email, &name, &password, operator)
                            .await?;
                    let member = handle
                        .create_member(cflows_actors::Caller::System, user, role)
                        .await?;
                    println!("created user {} ({})", member.user.email, member.user.id);
                    println!("added to {} as {}", org.name, role.as_str());
                }
                None => {
                    let user = core
                        .directory
                        .create_user(&email, &name, &password, operator)
                        .await?;
                    println!("created user {} ({})", user.email, user.id);
                }
            }
            core.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { org, out } => {
            let files = cflows_actors::files::Files::new(
                settings.data_dir().join("files"),
                settings.uploads.max_bytes,
            );
            let doc = cflows_actors::portable::export(&store, &files, &org)
                .await
                .map_err(|e| match e {
                    cflows_actors::CoreError::NotFound => {
                        anyhow::anyhow!("no organization with slug or id {org}")
                    }
                    e => e.into(),
                })?;
            let text = serde_json::to_vec(&doc)?;
            match out {
                Some(path) => {
                    use std::io::Write as _;
                    let mut opts = std::fs::OpenOptions::new();
                    opts.write(true).create(true).truncate(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                    let mut f = opts
                        .open(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    f.write_all(&text)?;
                    f.sync_all()?;
                    eprintln!(
                        "exported {} ({} records, {} journal rows, {} files) to {}",
                        doc.slug,
                        doc.tables.values().map(Vec::len).sum::<usize>(),
                        doc.journal.len(),
                        doc.files.len(),
                        path.display()
                    );
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&text)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            file,
            as_slug,
            name,
        } => {
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)?;
                t
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let files = cflows_actors::files::Files::new(
                settings.data_dir().join("files"),
                settings.uploads.max_bytes,
            );
            let mode = match as_slug {
                Some(slug) => cflows_actors::portable::ImportAs::New { slug, name },
                None => cflows_actors::portable::ImportAs::Same,
            };
            let doc = cflows_actors::portable::parse(&text)
                .map_err(|e| anyhow::anyhow!("refused, nothing was imported: {e}"))?;
            let done = cflows_actors::portable::import(&store, &files, doc, mode)
                .await
                .map_err(|e| anyhow::anyhow!("refused, nothing was imported: {e}"))?;
            println!(
                "imported {} (id {}): {} records, {} journal rows, {} files",
                done.slug, done.org, done.records, done.journal_rows, done.files
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let problems = cflows_actors::check::integrity(&store).await?;
            if problems.is_empty() {
                println!("ok: no integrity problems");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &problems {
                    println!("problem: {p}");
                }
                println!("{} problem(s) found", problems.len());
                Ok(ExitCode::from(1))
            }
        }
    }
}

async fn serve(settings: Settings, store: Store) -> anyhow::Result<ExitCode> {
    // Bad mail settings stop start-up with what to fix.
    cflows_web::mail::Mailer::new(&settings).map_err(|e| anyhow::anyhow!(e))?;
    let core = Core::start_with(store.clone(), settings.kernel()).await?;
    if settings.demo.seed_on_empty && store.count("org").await? == 0 {
        let password = std::env::var("CFLOWS_DEMO_PASSWORD").unwrap_or_else(|_| random_password());
        // Nodes started at once on a fresh database all try: the loser of a unique
        // index (the admin's email, the demo's slug) wrote nothing and tries again,
        // and finds the demo there.
        // The winner's seeding may take long on a slow machine: up to a minute.
        let since = std::time::Instant::now();
        let seeded = loop {
            match demo::seed(&core.directory, &password).await {
                Ok(seeded) => break seeded,
                Err(e)
                    if lost_a_race(&e) && since.elapsed() < std::time::Duration::from_secs(60) =>
                {
                    tracing::info!(error = %e, "seeding the demo raced another node; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(login) = seeded {
            print_login(&login, &settings.http.public_url());
        }
    }
    let listener = tokio::net::TcpListener::bind(&settings.http.addr)
        .await
        .with_context(|| format!("cannot listen on {}", settings.http.addr))?;
    let local = listener.local_addr()?;
    let public = settings.http.public_url();
    println!("cflows listening on http://{local} (public URL {public})");
    let state = AppState::new(settings, core);
    cflows_web::serve(state, listener, shutdown_signal()).await?;
    println!("cflows stopped");
    Ok(ExitCode::SUCCESS)
}

/// An error another node's concurrent seeding causes (a unique address or slug taken
/// meanwhile, a transaction that lost), not a broken seed.
fn lost_a_race(e: &cflows_actors::CoreError) -> bool {
    use cflows_actors::{CoreError, StoreError};
    match e {
        CoreError::Conflict(_) => true,
        CoreError::Store(StoreError::Duplicate(_) | StoreError::TxConflict(_)) => true,
        CoreError::Store(StoreError::Db(m)) => m.contains("already exists"),
        _ => false,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
