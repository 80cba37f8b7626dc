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

/// The last millisecond RFC 3339 can write with four digits of year: 9999-12-31T23:59:59.999Z.
pub const MAX_RFC3339_MILLIS: EpochMillis = 253_402_300_799_999;

/// RFC 3339 with millisecond precision (`2026-11-28T15:33:19.123Z`), as workers receive it.
/// Times before 1970 or after [`MAX_RFC3339_MILLIS`] are written as those bounds (see
/// [`checked_rfc3339_millis`] to tell).
pub fn rfc3339_millis(at: EpochMillis) -> String {
    let since_epoch = Duration::from_millis(u64::try_from(at.min(MAX_RFC3339_MILLIS)).unwrap_or(0));
    humantime::format_rfc3339_millis(UNIX_EPOCH + since_epoch).to_string()
}

/// [`rfc3339_millis`] of a time between 1970 and [`MAX_RFC3339_MILLIS`]; `None` otherwise.
pub fn checked_rfc3339_millis(at: EpochMillis) -> Option<String> {
    (0..=MAX_RFC3339_MILLIS)
        .contains(&at)
        .then(|| rfc3339_millis(at))
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

    #[test]
    fn times_rfc3339_cannot_write_are_bounded_not_a_panic() {
        assert_eq!(
            rfc3339_millis(MAX_RFC3339_MILLIS),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(rfc3339_millis(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_millis(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(checked_rfc3339_millis(MAX_RFC3339_MILLIS + 1), None);
        assert_eq!(checked_rfc3339_millis(-1), None);
        assert_eq!(
            checked_rfc3339_millis(0).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
    }
}
