//! Settings layering (defaults → optional TOML file → `CFLOWS_` environment variables,
//! `__` for nesting) and tracing set-up.

use cflows_web::Settings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Loads settings. The file is `path`, else `$CFLOWS_CONFIG`, else `cflows.toml` if present.
pub fn load(path: Option<&Path>) -> anyhow::Result<Settings> {
    let file = path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CFLOWS_CONFIG").map(Into::into))
        .unwrap_or_else(|| "cflows.toml".into());
    if path.is_some() && !file.exists() {
        anyhow::bail!("config file {} does not exist", file.display());
    }
    let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(&file))
        .merge(Env::prefixed("CFLOWS_").split("__").ignore(&["config"]))
        .extract()?;
    Ok(settings)
}

/// Logs to stderr as text or JSON; `RUST_LOG` overrides `log.filter`.
pub fn init_tracing(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
