//! Wall-clock helpers. Domain functions take the time as an argument so tests can fix it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as stored in the outbox.
pub type EpochMillis = i64;

/// The current time in epoch milliseconds.
pub fn now_millis() -> EpochMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 with millisecond precision (`2026-11-28T15:33:19.123Z`), as workers receive it.
pub fn rfc3339_millis(at: EpochMillis) -> String {
    let since_epoch = Duration::from_millis(u64::try_from(at).unwrap_or(0));
    humantime::format_rfc3339_millis(UNIX_EPOCH + since_epoch).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_millis_as_rfc3339() {
        assert_eq!(
            rfc3339_millis(1_614_265_330_123),
            "2021-02-25T15:02:10.123Z"
        );
    }
}
