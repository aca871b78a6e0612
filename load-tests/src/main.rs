//! cflows-load: runs load scenarios against a cflows server on loopback and prints a
//! Markdown report. Bounded in connections and time; refuses non-loopback targets.

use cflows_load::scenarios::{self, Target};
use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use std::time::Duration;

/// Load generator for cflows (loopback only; bounded in count and time).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The scenarios to run, in order.
    #[arg(value_enum, required = true)]
    scenarios: Vec<Scenario>,
    /// `host:port` of the server under test (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Login used for every connection (an admin of the organization, e.g. the demo admin).
    #[arg(long, default_value = "admin@demo-motors.example")]
    email: String,
    /// Its password (`CFLOWS_DEMO_PASSWORD` of the server's first start).
    #[arg(long, env = "CFLOWS_LOAD_PASSWORD")]
    password: String,
    /// Connections (connect) or subscribers (fanout, resume).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Events the writer publishes (fanout, resume).
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// The server's pid, to report its memory per connection.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Hard limit on each scenario, in seconds.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// fanout: events per second the writer publishes (0: back to back, a burst).
    /// booking: decisions per second all clients together aim at (0: each client as fast
    /// as its connection's request limit allows).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// soak: how long the idle sockets are held, in seconds.
    #[arg(long, default_value_t = 60)]
    hold: u64,
    /// Pin every thread of the server (`--server-pid`) to this CPU; cluster: the database
    /// server and every node it starts.
    #[arg(long)]
    pin_server: Option<usize>,
    /// cluster: the `surreal` binary (SurrealDB 3 server) to start.
    #[arg(long, env = "CFLOWS_TEST_SURREAL_BIN")]
    surreal_bin: Option<std::path::PathBuf>,
    /// cluster: the `cflows` binary every node runs (default: `cflows` beside this binary,
    /// i.e. `target/<profile>/cflows`).
    #[arg(long)]
    cflows_bin: Option<std::path::PathBuf>,
    /// cluster: how many `cflows` nodes it starts.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// booking: teams created for the run.
    #[arg(long, default_value_t = 100)]
    teams: usize,
    /// board: workflows created for the run.
    #[arg(long, default_value_t = 50)]
    boards: usize,
    /// board: items per workflow.
    #[arg(long, default_value_t = 20)]
    items: usize,
    /// board: boards each kiosk shows (screens = --connections, moves per mover = --events).
    #[arg(long, default_value_t = 2)]
    boards_per_kiosk: usize,
    /// board: member sockets moving items.
    #[arg(long, default_value_t = 10)]
    movers: usize,
    /// Pin this load generator to this CPU (use another one than the server's).
    #[arg(long)]
    pin_client: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// N connections authenticated and subscribed: connect rate, server memory per connection.
    Connect,
    /// One writer, N subscribers on one stream: delivered frames/s and latency percentiles.
    Fanout,
    /// Connections dropped mid-stream reconnect and resume: no gap, no duplicate.
    Resume,
    /// N idle subscribed sockets held with heartbeats: server memory and CPU per 10k.
    Soak,
    /// N clients hold/confirm/cancel/move on `--teams` small-capacity teams: decisions/s,
    /// latency; fails if capacity is ever exceeded or an acknowledged booking is missing.
    Booking,
    /// `--nodes` cflows processes on one `surreal` server it starts; booking's clients
    /// round-robin over them, a monitor on each: decisions/s, cross-node latency, feed
    /// lag, conflicts, server CPU per event; fails as booking does or on any gap.
    Cluster,
    /// `--boards` workflows with `--items` items, kiosk screens (`--connections`) following
    /// them, `--movers` moving items: moves/s, publish → screen latency; fails on a gap or
    /// a screen that ends showing something else than the board.
    Board,
}

/// Runs `cluster` with the binaries the arguments name.
async fn cluster(args: &Args, target: &Target) -> anyhow::Result<String> {
    use anyhow::Context;
    let surreal_bin = args
        .surreal_bin
        .clone()
        .context("cluster needs --surreal-bin or CFLOWS_TEST_SURREAL_BIN (scripts/build-surreal.sh builds one)")?;
    let cflows_bin = match &args.cflows_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this binary's directory")?
            .join("cflows"),
    };
    cflows_load::cluster::cluster(
        cflows_load::cluster::ClusterLoad {
            surreal_bin,
            cflows_bin,
            nodes: args.nodes,
            booking: cflows_load::booking::BookingLoad {
                teams: args.teams,
                clients: args.connections,
                decisions: args.events,
                rate: args.rate,
            },
            pin_server: args.pin_server,
        },
        &target.password,
        target.deadline,
    )
    .await
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let target = Target {
        addr: args.addr.clone(),
        email: args.email.clone(),
        password: args.password.clone(),
        server_pid: args.server_pid,
        deadline: Duration::from_secs(args.seconds),
    };
    if let Err(e) = target.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let mut pinning = String::new();
    let only_cluster = args
        .scenarios
        .iter()
        .all(|s| matches!(s, Scenario::Cluster));
    if args.pin_server.is_some() && args.server_pid.is_none() && !only_cluster {
        eprintln!(
            "error: --pin-server needs --server-pid (except for cluster, which starts its own)"
        );
        return ExitCode::from(2);
    }
    if let (Some(cpu), Some(pid)) = (args.pin_server, args.server_pid) {
        match cflows_load::pin::pin_process(pid, cpu) {
            Ok(threads) => pinning.push_str(&format!(
                "server pinned to CPU {cpu} ({threads} threads) · "
            )),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(cpu) = args.pin_client {
        match cflows_load::pin::pin_self(cpu) {
            Ok(_) => pinning.push_str(&format!("load generator pinned to CPU {cpu} · ")),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    println!(
        "# cflows load report\n\n{pinning}server {} · {} connections · {} events\n",
        args.addr, args.connections, args.events
    );
    let mut failed = false;
    for s in &args.scenarios {
        let result = match s {
            Scenario::Connect => scenarios::connect(&target, args.connections).await,
            Scenario::Fanout => {
                scenarios::fanout(&target, args.connections, args.events, args.rate).await
            }
            Scenario::Soak => {
                scenarios::soak(&target, args.connections, Duration::from_secs(args.hold)).await
            }
            Scenario::Resume => scenarios::resume(&target, args.connections, args.events).await,
            Scenario::Board => {
                cflows_load::board::board(
                    &target,
                    cflows_load::board::BoardLoad {
                        boards: args.boards,
                        items: args.items,
                        screens: args.connections,
                        boards_per_kiosk: args.boards_per_kiosk,
                        movers: args.movers,
                        moves: args.events,
                        rate: args.rate,
                    },
                )
                .await
            }
            Scenario::Cluster => cluster(&args, &target).await,
            Scenario::Booking => {
                cflows_load::booking::booking(
                    &target,
                    cflows_load::booking::BookingLoad {
                        teams: args.teams,
                        clients: args.connections,
                        decisions: args.events,
                        rate: args.rate,
                    },
                )
                .await
            }
        };
        match result {
            Ok(section) => println!("{section}"),
            Err(e) => {
                failed = true;
                println!("## {s:?}\n\n**FAILED**: {e:#}\n");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
