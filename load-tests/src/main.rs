//! cflows-load: a load generator that speaks the cflows wire protocol over real sockets
//! on loopback. Scenarios (connect storms, fan-out latency, resume, booking contention,
//! a mixed dealership day) arrive with the real-time issue; for now the binary documents
//! its interface and refuses to run a scenario it does not have.

use clap::{Parser, ValueEnum};
use std::process::ExitCode;

/// Load generator for cflows (loopback only; bounded in count and time).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The scenario to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Base URL of the server under test (must be a loopback address).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Number of connections or subscribers.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Hard limit on the run's duration, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// N connections authenticated and subscribed: connect rate, server memory per connection.
    Connect,
    /// One writer, N subscribers on one stream: delivered frames/s and latency percentiles.
    Fanout,
    /// Connections killed mid-stream reconnect and resume: no gap, no duplicate.
    Resume,
}

fn main() -> ExitCode {
    let args = Args::parse();
    eprintln!(
        "scenario {:?} against {} ({} connections, {} s) needs the WebSocket gateway, which is not built yet",
        args.scenario, args.url, args.connections, args.seconds
    );
    ExitCode::from(2)
}
