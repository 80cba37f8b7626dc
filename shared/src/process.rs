//! Process-level helpers shared by the binaries' local modes.

use std::time::Duration;

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// The interval of a local mode's `--every N`: a whole number of seconds above 0.
pub fn every_interval(seconds: &str) -> Result<Duration, String> {
    seconds
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("--every takes a whole number of seconds above 0, not `{seconds}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_takes_whole_seconds_above_zero() {
        assert_eq!(every_interval("30"), Ok(Duration::from_secs(30)));
        for bad in ["0", "-1", "1.5", "", "ten"] {
            assert!(every_interval(bad).is_err(), "{bad}");
        }
    }
}
