//! `latency-proxy`: the fault proxy as a process of its own. With no faults and a fixed added
//! latency per AWS call, for the sweeper's drain-rate benchmark (`make bench`); with `--faults`,
//! `make soak`'s fault mix for the ingress's or the sweeper's calls, for soaks driven from outside
//! Rust (`make soak-worker`, the PHP worker kit's).
//!
//! ```text
//! latency-proxy --upstream 127.0.0.1:4566 [--latency-ms 20] [--faults ingress|sweeper --seed N]
//! ```
//! Prints `listening http://127.0.0.1:PORT` once ready and serves until killed.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use e2e::harness::SoakConfig;
use e2e::proxy::{FaultProxy, FaultRules, ProxyConfig};

const USAGE: &str =
    "usage: latency-proxy --upstream HOST:PORT [--latency-ms N] [--faults ingress|sweeper --seed N]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut upstream: Option<SocketAddr> = None;
    let mut latency_ms = 0_u64;
    let mut faults: Option<String> = None;
    let mut seed = 1_u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--upstream" => upstream = Some(value.parse().context("--upstream HOST:PORT")?),
            "--latency-ms" => latency_ms = value.parse().context("--latency-ms N")?,
            "--faults" => faults = Some(value),
            "--seed" => seed = value.parse().context("--seed N")?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    let upstream = upstream.with_context(|| format!("--upstream is required\n{USAGE}"))?;
    let soak = SoakConfig::soak(seed);
    let rules = match faults.as_deref() {
        None => FaultRules::none(),
        Some("ingress") => soak.ingress_rules(),
        Some("sweeper") => soak.sweeper_rules(),
        Some(other) => bail!("--faults {other}: give ingress or sweeper\n{USAGE}"),
    };
    let mut config = ProxyConfig::new(upstream, rules, seed);
    config.added_latency = Duration::from_millis(latency_ms);
    config.hang_for = soak.hang_for;
    let proxy = FaultProxy::start(config).await?;
    println!("listening {}", proxy.endpoint());
    shared::process::shutdown_signal().await;
    Ok(())
}
