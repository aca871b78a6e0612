//! The cflows binary: reads settings, starts tracing, opens and migrates the store, and
//! runs a subcommand (by default `serve`). Composition only; no business logic here.

mod cli;
mod config;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = cli::Args::parse();
    let settings = match config::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid settings: {e:#}");
            return ExitCode::from(2);
        }
    };
    config::init_tracing(&settings);
    match cli::run(args, settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
