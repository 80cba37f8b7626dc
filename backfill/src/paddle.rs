//! Paddle Billing: the notifications of one notification destination (`GET /notifications`,
//! newest first, `meta.pagination.next` paging) that were not delivered, and a replay of each
//! event's original notification (`POST /notifications/{id}/replay`). Paddle sends the event again,
//! signed with the destination's secret (`Paddle-Signature`), through the ingress, so nothing is
//! written here.
//!
//! An event is recognised by its `event_id` (the payload's, the ingress's id for Paddle): a
//! replay is a new notification of the same event.

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::time::EpochMillis;

use crate::api::percent_encode;
use crate::github::rfc3339_to_millis;
use crate::terminal::escape;

/// Notifications asked for per page (Paddle's maximum).
pub const PER_PAGE: u32 = 200;

/// One page of `GET /notifications`.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub data: Vec<Notification>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub pagination: Pagination,
}

#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

/// A notification as the API lists it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `delivered`, `failed` (Paddle gave up), `needs_retry` (Paddle is still retrying) or
    /// `not_attempted`.
    pub status: String,
    /// `event`, or `replay` for a notification created by a replay.
    #[serde(default)]
    pub origin: String,
    #[serde(default)]
    pub occurred_at: String,
    #[serde(default)]
    pub notification_setting_id: String,
    pub payload: Payload,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    pub event_id: String,
    #[serde(default)]
    pub event_type: Option<String>,
}

impl Notification {
    pub fn occurred_at_millis(&self) -> Option<EpochMillis> {
        rfc3339_to_millis(&self.occurred_at)
    }
}

/// The statuses listed: every one but `delivered`.
pub const UNDELIVERED: &str = "failed,needs_retry,not_attempted";

/// The first page: the destination's notifications not delivered, occurred in
/// `[since, until)` (RFC 3339).
pub fn notifications_path(destination: &str, since: &str, until: &str) -> String {
    format!(
        "/notifications?per_page={PER_PAGE}&notification_setting_id={}&status={}&from={}&to={}",
        percent_encode(destination),
        percent_encode(UNDELIVERED),
        percent_encode(since),
        percent_encode(until)
    )
}

/// Where to ask for a notification to be replayed.
pub fn replay_path(notification_id: &str) -> String {
    format!("/notifications/{}/replay", percent_encode(notification_id))
}

/// An event none of whose notifications to the destination was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    pub event_id: String,
    pub event_type: Option<String>,
    pub occurred_at: String,
    /// The event's original notification (`origin: event`), the one Paddle replays, with its
    /// status; `None` when the window holds only replays of it.
    pub original: Option<(String, String)>,
}

impl FailedEvent {
    /// Whether Paddle would replay it now: only a `failed` (or `delivered`) original can be.
    pub fn replayable(&self) -> Option<&str> {
        match &self.original {
            Some((id, status)) if status == "failed" => Some(id),
            _ => None,
        }
    }

    /// Why it cannot be replayed now (when [`FailedEvent::replayable`] is `None`).
    pub fn why_not(&self) -> String {
        match &self.original {
            Some((id, status)) => format!(
                "(notification {}) Paddle is still delivering it (`{}`): it can be replayed once Paddle marks it failed",
                escape(id),
                escape(status)
            ),
            None => "its original notification is not in the window (only replays of it are): replay it from Paddle's dashboard".to_owned(),
        }
    }
}

/// Groups the listed notifications of `destination` by event, oldest first.
pub fn failed_events(notifications: &[Notification], destination: &str) -> Vec<FailedEvent> {
    let mut by_event: BTreeMap<&str, Vec<&Notification>> = BTreeMap::new();
    for notification in notifications {
        // Listed by the destination already; another destination's would say nothing of ours.
        if notification.notification_setting_id.is_empty()
            || notification.notification_setting_id == destination
        {
            by_event
                .entry(&notification.payload.event_id)
                .or_default()
                .push(notification);
        }
    }
    let mut failed: Vec<FailedEvent> = by_event
        .into_iter()
        .filter(|(_, all)| !all.iter().any(|n| n.status == "delivered"))
        .map(|(event_id, all)| {
            let original = all.iter().find(|n| n.origin == "event").copied();
            let first = original.unwrap_or(all[0]);
            FailedEvent {
                event_id: event_id.to_owned(),
                event_type: first
                    .payload
                    .event_type
                    .clone()
                    .or_else(|| first.kind.clone()),
                occurred_at: first.occurred_at.clone(),
                original: original.map(|n| (n.id.clone(), n.status.clone())),
            }
        })
        .collect();
    failed.sort_by(|a, b| (&a.occurred_at, &a.event_id).cmp(&(&b.occurred_at, &b.event_id)));
    failed
}

/// Whether a refusal to replay is for good: the notification is gone (older than 90 days: `404`),
/// or is not one Paddle replays (`notification_replay_invalid_origin_type`). Paddle's
/// `notification_cannot_replay` (still being delivered) may pass.
pub fn refused_for_good(status: u16, body: &[u8]) -> bool {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json["error"]["code"].as_str().map(str::to_owned));
    matches!(status, 404 | 410)
        || code.as_deref() == Some("notification_replay_invalid_origin_type")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn notification(id: &str, event: &str, status: &str, origin: &str, at: &str) -> Notification {
        serde_json::from_value(json!({
            "id": id, "type": "transaction.completed", "status": status,
            "payload": {"event_id": event, "event_type": "transaction.completed", "occurred_at": at, "notification_id": id, "data": {}},
            "occurred_at": at, "delivered_at": null, "replayed_at": null, "origin": origin,
            "last_attempt_at": at, "retry_at": null, "times_attempted": 3,
            "notification_setting_id": "ntfset_ours",
        }))
        .unwrap()
    }

    #[test]
    fn the_query_names_the_destination_the_window_and_the_undelivered() {
        assert_eq!(
            notifications_path("ntfset_1", "2026-12-01T10:00:00.000Z", "2026-12-01T11:00:00.000Z"),
            "/notifications?per_page=200&notification_setting_id=ntfset_1&status=failed%2Cneeds_retry%2Cnot_attempted&from=2026-12-01T10%3A00%3A00.000Z&to=2026-12-01T11%3A00%3A00.000Z"
        );
        assert_eq!(replay_path("ntf_1/x"), "/notifications/ntf_1%2Fx/replay");
    }

    #[test]
    fn an_event_is_replayed_through_its_original_notification_once_paddle_gave_up() {
        let listed = [
            notification("ntf_4", "evt_b", "failed", "replay", "2026-12-01T10:02:00Z"),
            notification(
                "ntf_3",
                "evt_c",
                "needs_retry",
                "event",
                "2026-12-01T10:03:00Z",
            ),
            notification("ntf_2", "evt_b", "failed", "event", "2026-12-01T10:02:00Z"),
            notification(
                "ntf_1",
                "evt_a",
                "delivered",
                "replay",
                "2026-12-01T10:01:00Z",
            ),
            notification("ntf_0", "evt_a", "failed", "event", "2026-12-01T10:01:00Z"),
        ];
        let failed = failed_events(&listed, "ntfset_ours");
        let ids: Vec<&str> = failed.iter().map(|f| f.event_id.as_str()).collect();
        assert_eq!(ids, ["evt_b", "evt_c"], "evt_a was delivered by a replay");
        assert_eq!(failed[0].replayable(), Some("ntf_2"), "the original");
        assert_eq!(failed[1].replayable(), None);
        assert!(
            failed[1].why_not().contains("needs_retry"),
            "{}",
            failed[1].why_not()
        );
        assert!(failed_events(&listed, "ntfset_other").is_empty());
    }

    #[test]
    fn a_gone_or_replayed_notification_is_refused_for_good_and_one_in_flight_is_not() {
        assert!(refused_for_good(404, b"{}"));
        assert!(refused_for_good(
            400,
            br#"{"error":{"type":"request_error","code":"notification_replay_invalid_origin_type","detail":"Only notifications with the origin `event` can be replayed."}}"#
        ));
        assert!(!refused_for_good(
            400,
            br#"{"error":{"type":"request_error","code":"notification_cannot_replay"}}"#
        ));
        assert!(!refused_for_good(500, b"oops"));
    }
}
