//! `soak`: the fault-injection run at full size, from the command line (`make soak`).
//!
//! ```text
//! cargo run -p e2e --bin soak -- [--events 5000] [--send-faults 0.33] [--dynamodb-faults 0.12]
//!     [--kills 20] [--seed N] [--concurrency 16] [--sweeper-faults 1.0] [--sweep-every SECS]
//!     [--sweep-grace 10] [--rival-every 3 | --no-rival] [--no-sweeper] [--quiet]
//! ```
//! Prints the report and ends with `misrouted N` (messages a rival source's sweeper sent to its
//! own queue) and `lost N`; exits 1 when either is above 0, 2 when the run itself failed.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use e2e::harness::{run, SoakConfig};

const USAGE: &str = "usage: soak [--events N] [--send-faults RATE] [--dynamodb-faults RATE] \
[--kills N] [--seed N] [--concurrency N] [--sweeper-faults SCALE] [--sweep-every SECS] \
[--sweep-grace SECS] [--rival-every SECS | --no-rival] [--no-sweeper] [--quiet]";

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("soak: {err:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match execute(&config) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            eprintln!("soak: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn execute(config: &SoakConfig) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let report = runtime
        .block_on(run(config))
        .context("the soak run could not complete")?;
    println!("{report}");
    println!("misrouted {}", report.misrouted_count());
    println!("lost {}", report.lost_count());
    Ok(report.lost_count() + usize::try_from(report.misrouted_count()).unwrap_or(usize::MAX))
}

/// `None` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<SoakConfig>> {
    let mut config = SoakConfig::soak(time_seed());
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match flag.as_str() {
            "--events" => config.events = number(&flag, &value(&flag)?)?,
            "--send-faults" => config.send_fault_rate = number(&flag, &value(&flag)?)?,
            "--dynamodb-faults" => config.dynamodb_fault_rate = number(&flag, &value(&flag)?)?,
            "--kills" => config.kills = number(&flag, &value(&flag)?)?,
            "--seed" => config.seed = number(&flag, &value(&flag)?)?,
            "--concurrency" => config.concurrency = number(&flag, &value(&flag)?)?,
            "--sweeper-faults" => config.sweeper.fault_scale = number(&flag, &value(&flag)?)?,
            "--sweep-every" => {
                let secs: u64 = number(&flag, &value(&flag)?)?;
                config.sweeper.schedule_every = Some(Duration::from_secs(secs.max(1)));
            }
            "--sweep-grace" => {
                config.sweeper.schedule_grace_secs = number(&flag, &value(&flag)?)?;
            }
            "--no-sweeper" => config.sweeper.enabled = false,
            "--rival-every" => {
                let secs: u64 = number(&flag, &value(&flag)?)?;
                config.sweeper.rival_every = Some(Duration::from_secs(secs.max(1)));
            }
            "--no-rival" => config.sweeper.rival_every = None,
            "--quiet" => config.progress = false,
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Some(config))
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<T> {
    text.parse()
        .map_err(|_| anyhow!("{flag}: `{text}` is not a valid number"))
}

/// A fresh seed per run unless `--seed` is given; the report prints it so a run can be repeated.
fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(1)
}
