//! foreign-ids: how long the JSON API takes to answer 404 for another organization's
//! items, projects, calendars and boards, and for ids that do not exist (PROTOCOL §7:
//! the two must be indistinguishable, in time too). Prints the median of each; the
//! server under test runs on loopback with the demo and a second organization.
//!
//! ```text
//! cflows-load's foreign-ids --owner admin@demo-motors.example --stranger op@example.com
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Median 404 times for another organization's ids and for missing ids.
#[derive(Parser, Debug)]
struct Args {
    /// `host:port` of the server (loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// A member of the organization whose ids are probed (the demo admin).
    #[arg(long, default_value = "admin@demo-motors.example")]
    owner: String,
    /// A member of another organization, who probes.
    #[arg(long)]
    stranger: String,
    /// Both accounts' password.
    #[arg(long, env = "CFLOWS_LOAD_PASSWORD")]
    password: String,
    /// Requests of each kind per resource.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
}

struct Probe {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Probe {
    async fn login(addr: &str, email: &str, password: &str) -> anyhow::Result<Self> {
        let session = cflows_load::client::login(addr, email, password).await?;
        Ok(Self {
            client: reqwest::Client::new(),
            base: format!("http://{addr}/api/v1"),
            cookie: session.cookie,
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Value, Duration)> {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Ok((status, body, started.elapsed()))
    }

    async fn ids(&self, path: &str) -> anyhow::Result<Vec<String>> {
        let (status, body, _) = self.get(path).await?;
        if status != 200 {
            bail!("GET {path}: {status}");
        }
        Ok(body
            .as_array()
            .context("a list")?
            .iter()
            .filter_map(|v| v["id"].as_str().map(String::from))
            .collect())
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn random_id() -> String {
    (0..32)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap())
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let owner = Probe::login(&args.addr, &args.owner, &args.password).await?;
    let stranger = Probe::login(&args.addr, &args.stranger, &args.password).await?;
    let workflows = owner.ids("/workflows").await?;
    let workflow = workflows
        .first()
        .context("the owner's org has a workflow")?;
    let items = owner.ids(&format!("/workflows/{workflow}/items")).await?;
    let kinds: Vec<(&str, String, String)> = vec![
        (
            "items",
            format!("/items/{}", items.first().context("an item")?),
            "/items/".into(),
        ),
        (
            "projects",
            format!(
                "/projects/{}",
                owner.ids("/projects").await?.first().context("a project")?
            ),
            "/projects/".into(),
        ),
        (
            "calendars",
            format!(
                "/calendars/{}",
                owner
                    .ids("/calendars")
                    .await?
                    .first()
                    .context("a calendar")?
            ),
            "/calendars/".into(),
        ),
        (
            "boards",
            format!("/workflows/{workflow}/board"),
            "/workflows/{}/board".into(),
        ),
    ];
    println!("| resource | foreign id (median) | missing id (median) | ratio |");
    println!("| --- | --- | --- | --- |");
    for (kind, foreign, missing) in kinds {
        // Running for its own organization, as in a working day.
        owner.get(&foreign).await?;
        let (mut f, mut m) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            let (status, _, t) = stranger.get(&foreign).await?;
            anyhow::ensure!(status == 404, "{kind}: foreign answered {status}");
            f.push(t);
            let path = if missing.contains("{}") {
                missing.replace("{}", &random_id())
            } else {
                format!("{missing}{}", random_id())
            };
            let (status, _, t) = stranger.get(&path).await?;
            anyhow::ensure!(status == 404, "{kind}: missing answered {status}");
            m.push(t);
        }
        let (f, m) = (median(f), median(m));
        println!(
            "| {kind} | {:.2} ms | {:.2} ms | {:.2} |",
            f.as_secs_f64() * 1e3,
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() / f.as_secs_f64()
        );
    }
    Ok(())
}
