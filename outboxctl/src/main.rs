//! The `outboxctl` binary: parse, run, and turn the result into the documented exit status
//! (0 ok, 1 failure, 2 usage, 3 needs attention).

use std::process::ExitCode;

use clap::Parser as _;
use outboxctl::cli::Cli;
use outboxctl::{hints, run, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2.
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Attention) => ExitCode::from(3),
        Err(err) => {
            eprintln!("error: {}", hints::chain(&err));
            if let Some(step) = hints::next_step(&err) {
                eprintln!("next: {step}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Warnings to stderr in plain text (people read them); RUST_LOG raises the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}
