//! The reconciler's checkpoint: one row per source in the outbox table, under a key no event can
//! have (`reconciler#{source}`: event keys are `{source}:{id}`, and a source name holds no `#`
//! nor `:`). It says up to when the provider's events are settled, who is reconciling now (a
//! lease taken with a conditional write, so two overlapping runs never both act), and what the
//! last run found. The row has no status and no index key: the sweeper, the on-call scans and
//! the TTL never see it.

use crate::time::EpochMillis;

/// The row's attribute names (the key is `id`, as for every row).
pub mod attr {
    /// `reconciler-checkpoint`: what the row is, for a person reading the table.
    pub const KIND: &str = "kind";
    pub const CHECKPOINT_AT: &str = "checkpoint_at";
    pub const LEASE_OWNER: &str = "lease_owner";
    pub const LEASE_UNTIL: &str = "lease_until";
    pub const LAST_RUN_AT: &str = "last_run_at";
    pub const LAST_WINDOW_SINCE: &str = "last_window_since";
    pub const LAST_WINDOW_UNTIL: &str = "last_window_until";
    pub const LAST_LISTED: &str = "last_listed";
    pub const LAST_MISSING: &str = "last_missing";
    pub const LAST_RECOVERED: &str = "last_recovered";
    pub const LAST_UNRECOVERABLE: &str = "last_unrecoverable";
    pub const LAST_FAILED: &str = "last_failed";
    pub const LAST_ERROR: &str = "last_error";
}

pub const KIND: &str = "reconciler-checkpoint";

/// Longest `last_error` kept.
pub const MAX_LAST_ERROR_CHARS: usize = 500;

/// The key of `source`'s checkpoint row.
pub fn checkpoint_key(source: &str) -> String {
    format!("reconciler#{source}")
}

/// The checkpoint as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every event the provider emitted before this time is settled (recovered, present, or
    /// reported unrecoverable); `None` before the first run that finished.
    pub at: Option<EpochMillis>,
    pub lease_owner: Option<String>,
    /// The lease ends at this time (0: released).
    pub lease_until: EpochMillis,
    pub last_run: Option<LastRun>,
}

/// What the last finished run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastRun {
    pub at: EpochMillis,
    pub window_since: EpochMillis,
    pub window_until: EpochMillis,
    pub listed: u64,
    pub missing: u64,
    pub recovered: u64,
    pub unrecoverable: u64,
    /// Not recovered this time; a later run tries again.
    pub failed: u64,
    /// Why the run stopped early (an API or AWS error), when it did.
    pub error: Option<String>,
}

/// The result of asking for the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Ours until the time asked for; the checkpoint as it was.
    Acquired(Checkpoint),
    /// Another run holds it.
    Held {
        owner: Option<String>,
        until: EpochMillis,
    },
}

/// The window a run covers: from the checkpoint less `overlap` (the first run: `now` less
/// `lookback`) to `now` less `settle` (an event the provider may still be retrying is left for a
/// later run). `None` when that window is empty (the checkpoint is already past it).
pub fn window(
    checkpoint: Option<EpochMillis>,
    now: EpochMillis,
    lookback_ms: i64,
    overlap_ms: i64,
    settle_ms: i64,
) -> Option<(EpochMillis, EpochMillis)> {
    let until = now.saturating_sub(settle_ms);
    let since = match checkpoint {
        Some(at) => at.saturating_sub(overlap_ms),
        None => now.saturating_sub(lookback_ms),
    };
    (since < until).then_some((since, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_from_the_checkpoint_less_the_overlap_to_now_less_the_settle_delay() {
        let (now, day, hour, five) = (10_000_000_000, 86_400_000, 3_600_000, 300_000);
        assert_eq!(
            window(None, now, day, hour, five),
            Some((now - day, now - five)),
            "the first run looks back"
        );
        let at = now - 600_000;
        assert_eq!(
            window(Some(at), now, day, hour, five),
            Some((at - hour, now - five))
        );
        assert_eq!(
            window(Some(now), now, day, 0, five),
            None,
            "nothing settled yet"
        );
    }

    #[test]
    fn no_event_key_is_a_checkpoint_key() {
        let key = checkpoint_key("stripe-live");
        assert_eq!(key, "reconciler#stripe-live");
        assert!(!key.contains(':'), "event keys are {{source}}:{{id}}");
    }
}
