//! The floor under `fanout` at a steady rate: what one small send per socket costs on
//! this machine with no server logic at all — plain non-blocking 100-byte writes to N
//! loopback TCP sockets, 5 rounds per second, read by N sockets in another process.
//!
//! ```sh
//! taskset -c 0 sockets-floor server 10000 &   # sender on CPU 0: CPU per send
//! taskset -c 1 sockets-floor client 10000     # reader on CPU 1: latency per round
//! ```
//!
//! The sender reports its CPU time per send (user + system, `getrusage`), the reader the
//! send-to-read latency (p50, p99) and, per round, when the last socket got its message.

use anyhow::{Context, bail};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const ADDR: &str = "127.0.0.1:9911";
const ROUNDS: usize = 50;
const MESSAGE: usize = 100;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(role), Some(n)) = (args.get(1), args.get(2)) else {
        bail!("usage: sockets-floor server|client N");
    };
    let n: usize = n.parse().context("N: a number of sockets")?;
    match role.as_str() {
        "server" => server(n).await,
        "client" => client(n).await,
        other => bail!("unknown role {other}"),
    }
}

async fn server(n: usize) -> anyhow::Result<()> {
    let listener = TcpListener::bind(ADDR).await?;
    let mut sockets = Vec::with_capacity(n);
    while sockets.len() < n {
        let (s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        sockets.push(s);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_seconds();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut blocked = 0;
    for _ in 0..ROUNDS {
        tick.tick().await;
        let mut msg = [0u8; MESSAGE];
        msg[..8].copy_from_slice(&now_micros().to_le_bytes());
        for s in &sockets {
            if s.try_write(&msg).is_err() {
                blocked += 1;
            }
        }
    }
    let cpu = cpu_seconds() - before;
    println!(
        "sender: {} sends of {MESSAGE} bytes, {cpu:.2} s CPU: **{:.2} µs per send** ({:.0} sends per CPU-second); {blocked} would have blocked",
        ROUNDS * n,
        cpu * 1e6 / (ROUNDS * n) as f64,
        (ROUNDS * n) as f64 / cpu
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

async fn client(n: usize) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, u64)>();
    for _ in 0..n {
        let mut s = TcpStream::connect(ADDR).await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut round = 0;
            while round < ROUNDS {
                let Ok(k) = s.read(&mut buf).await else { break };
                if k == 0 {
                    break;
                }
                for m in buf[..k].chunks_exact(MESSAGE) {
                    let mut stamp = [0u8; 8];
                    stamp.copy_from_slice(&m[..8]);
                    let _ = tx.send((
                        round,
                        now_micros().saturating_sub(u64::from_le_bytes(stamp)),
                    ));
                    round += 1;
                }
            }
        });
    }
    drop(tx);
    let mut last = vec![0u64; ROUNDS];
    let mut all = Vec::with_capacity(n * ROUNDS);
    while let Some((round, latency)) = rx.recv().await {
        if let Some(l) = last.get_mut(round) {
            *l = (*l).max(latency);
        }
        all.push(latency);
    }
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    last.sort_unstable();
    println!(
        "reader: {} messages; send-to-read latency p50 {:.1} ms · p99 {:.1} ms; last socket of a round reached after: median {:.0} ms, max {:.0} ms",
        all.len(),
        at(0.5),
        at(0.99),
        last[ROUNDS / 2] as f64 / 1000.0,
        last[ROUNDS - 1] as f64 / 1000.0
    );
    Ok(())
}
