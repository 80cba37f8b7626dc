//! Times on the command line: RFC 3339 with its offset (`Z` or `+01:00`), or an age such as `2h`
//! meaning "two hours ago". A time without an offset is refused, never guessed.

use std::time::Duration;

use shared::time::EpochMillis;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The forms a time may take, for every refusal.
const ACCEPTED: &str = "an RFC 3339 time with its offset (2026-11-29T03:00:00Z, \
2026-11-29T03:00:00.000+01:00), an age before now (90s, 15m, 2h, 1d, 1h 30m), or `now`";

/// `text` as epoch milliseconds: `now`, an RFC 3339 time with an offset, or an age before `now`.
pub fn parse_time(text: &str, now: EpochMillis) -> Result<EpochMillis, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)));
    }
    match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| format!("`{text}` is too far away")),
        Err(_) if looks_like_a_time_without_offset(text) => Err(format!(
            "`{text}` has no offset, so it could be any time zone's: add `Z` for UTC or the offset \
             (`{text}Z`, `{text}+01:00`); accepted: {ACCEPTED}"
        )),
        Err(err) => Err(format!(
            "`{text}` is not a time ({err}); accepted: {ACCEPTED}"
        )),
    }
}

/// `2026-11-29` or `2026-11-29T03:00[:00[.000]]`: a date and time that only lacks its offset.
fn looks_like_a_time_without_offset(text: &str) -> bool {
    let with_offset = format!(
        "{}{}",
        if text.len() == 10 {
            format!("{text}T00:00:00")
        } else if text.len() == 16 {
            format!("{text}:00")
        } else {
            text.to_owned()
        },
        "Z"
    );
    OffsetDateTime::parse(&with_offset, &Rfc3339).is_ok()
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
    fn rfc3339_times_keep_their_offset() {
        assert_eq!(
            parse_time("2021-02-25T15:02:10.123Z", NOW),
            Ok(1_614_265_330_123)
        );
        // 03:00 at +01:00 is 02:00Z, with or without fractional seconds.
        let two_utc = parse_time("2026-11-29T02:00:00Z", NOW).unwrap();
        assert_eq!(
            parse_time("2026-11-29T03:00:00.000+01:00", NOW),
            Ok(two_utc)
        );
        assert_eq!(parse_time("2026-11-29T03:00:00+01:00", NOW), Ok(two_utc));
        assert_eq!(parse_time("2026-11-28T21:00:00-05:00", NOW), Ok(two_utc));
        assert_eq!(parse_time("now", NOW), Ok(NOW));
    }

    #[test]
    fn a_time_without_offset_is_refused_with_the_accepted_forms() {
        for text in [
            "2026-11-29T03:00:00",
            "2026-11-29",
            "2026-11-29T03:00",
            "2026-11-29T03:00:00.5",
        ] {
            let err = parse_time(text, NOW).unwrap_err();
            assert!(
                err.contains("no offset") && err.contains("Z") && err.contains("2h"),
                "{text}: {err}"
            );
        }
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
