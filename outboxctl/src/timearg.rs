//! Times on the command line: RFC 3339, or an age such as `2h` meaning "two hours ago".

use std::time::{Duration, UNIX_EPOCH};

use shared::time::EpochMillis;

/// `text` as epoch milliseconds: `now`, an RFC 3339 time (`2026-11-29T03:00:00Z`, a date
/// `2026-11-29` meaning its midnight UTC), or an age (`90s`, `15m`, `2h`, `1d`, `1h 30m`) before `now`.
pub fn parse_time(text: &str, now: EpochMillis) -> Result<EpochMillis, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    let with_time = if text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    if let Ok(at) = humantime::parse_rfc3339_weak(&with_time) {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| format!("`{text}` is before 1970"))?
            .as_millis();
        return i64::try_from(millis).map_err(|_| format!("`{text}` is too far away"));
    }
    match humantime::parse_duration(text) {
        Ok(age) => Ok(now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))),
        Err(_) => Err(format!(
            "`{text}` is neither an RFC 3339 time (2026-11-29T03:00:00Z) nor an age (2h, 90m, 1d)"
        )),
    }
}

/// A duration flag (`10m`, `600s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("`{text}` is not a duration such as 10m or 600s: {err}"))
}

/// An age in seconds as people read it (`3m 20s`).
pub fn age(seconds: f64) -> String {
    let whole = Duration::from_secs(seconds.max(0.0).round() as u64);
    humantime::format_duration(whole).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: EpochMillis = 1_795_000_000_000;

    #[test]
    fn rfc3339_times_and_dates_parse_to_epoch_millis() {
        assert_eq!(
            parse_time("2021-02-25T15:02:10.123Z", NOW),
            Ok(1_614_265_330_123)
        );
        assert_eq!(parse_time("2021-02-25", NOW), Ok(1_614_211_200_000));
        assert_eq!(parse_time("now", NOW), Ok(NOW));
    }

    #[test]
    fn ages_count_back_from_now() {
        assert_eq!(parse_time("2h", NOW), Ok(NOW - 7_200_000));
        assert_eq!(parse_time("1h 30m", NOW), Ok(NOW - 5_400_000));
        assert_eq!(parse_time("45s", NOW), Ok(NOW - 45_000));
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        let err = parse_time("yesterday", NOW).unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("2h"), "{err}");
        assert!(parse_duration("ten minutes").is_err());
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    }

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(age(200.4), "3m 20s");
        assert_eq!(age(-1.0), "0s");
    }
}
