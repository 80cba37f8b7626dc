//! Stripe: the account's events in a window (`GET /v1/events`, newest first, `starting_after`
//! pagination), by default only those not delivered to every endpoint (`delivery_success=false`).
//! Stripe cannot be asked to redeliver, so each event is taken from the API as it serialises it:
//! the body is that JSON object's bytes exactly as the API sent them inside the list.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use shared::time::{checked_rfc3339_millis, EpochMillis, MAX_RFC3339_MILLIS};

use crate::api::percent_encode;
use crate::terminal::escape;

/// Events asked for per page (Stripe's maximum).
const LIMIT: u32 = 100;

/// One page of `GET /v1/events`.
#[derive(Debug, Deserialize)]
struct EventList<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    has_more: bool,
}

/// The fields read from an event; the rest travels untouched in the body.
#[derive(Debug, Deserialize)]
struct EventHead {
    id: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Epoch seconds; any JSON number is read, so a wrong one is reported rather than refused
    /// by the parser with the value in its message.
    created: Option<serde_json::Number>,
}

/// An event as the API returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEvent {
    pub id: String,
    pub event_type: Option<String>,
    /// The event object's JSON, byte for byte as it stood in the list.
    pub body: Bytes,
    /// `created` in epoch milliseconds (a time RFC 3339 can write), when the event has one.
    pub created_millis: Option<EpochMillis>,
}

impl ListedEvent {
    /// `created` as RFC 3339, for people; empty when the event has none.
    pub fn created_rfc3339(&self) -> String {
        self.created_millis
            .and_then(checked_rfc3339_millis)
            .unwrap_or_default()
    }
}

/// A page: its events, and whether more follow.
#[derive(Debug)]
pub struct Page {
    pub events: Vec<ListedEvent>,
    pub has_more: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("Stripe's event list cannot be read: {0}")]
pub struct ListError(String);

/// The query of one page: events created in `[since_secs, until_secs)`, only the undelivered
/// ones unless `all`, after the event `starting_after` (the last id of the previous page).
pub fn events_path(
    since_secs: i64,
    until_secs: i64,
    all: bool,
    starting_after: Option<&str>,
) -> String {
    let mut path = format!(
        "/v1/events?limit={LIMIT}&created%5Bgte%5D={since_secs}&created%5Blt%5D={until_secs}"
    );
    if !all {
        path.push_str("&delivery_success=false");
    }
    if let Some(id) = starting_after {
        path.push_str("&starting_after=");
        path.push_str(&percent_encode(id));
    }
    path
}

/// Reads one page, keeping each event's own bytes.
pub fn parse_page(body: &[u8]) -> Result<Page, ListError> {
    let list: EventList<'_> =
        serde_json::from_slice(body).map_err(|err| ListError(err.to_string()))?;
    let mut events = Vec::with_capacity(list.data.len());
    for raw in list.data {
        let head: EventHead =
            serde_json::from_str(raw.get()).map_err(|err| ListError(err.to_string()))?;
        let created_millis = match &head.created {
            None => None,
            Some(created) => Some(created_millis(created).ok_or_else(|| {
                ListError(format!(
                    "event {} has `created` {}, not a time between 1970 and 9999",
                    escape(&head.id),
                    escape(&created.to_string())
                ))
            })?),
        };
        events.push(ListedEvent {
            id: head.id,
            event_type: head.kind,
            body: Bytes::copy_from_slice(raw.get().as_bytes()),
            created_millis,
        });
    }
    Ok(Page {
        events,
        has_more: list.has_more,
    })
}

/// Epoch seconds as milliseconds, when they are a whole number RFC 3339 can write.
fn created_millis(created: &serde_json::Number) -> Option<EpochMillis> {
    created
        .as_i64()
        .and_then(|secs| secs.checked_mul(1000))
        .filter(|millis| (0..=MAX_RFC3339_MILLIS).contains(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_bounds_the_window_and_pages_after_the_last_id() {
        assert_eq!(
            events_path(100, 200, false, None),
            "/v1/events?limit=100&created%5Bgte%5D=100&created%5Blt%5D=200&delivery_success=false"
        );
        assert_eq!(
            events_path(100, 200, true, Some("evt_1&x")),
            "/v1/events?limit=100&created%5Bgte%5D=100&created%5Blt%5D=200&starting_after=evt_1%26x"
        );
    }

    #[test]
    fn each_event_keeps_the_bytes_the_api_sent() {
        let page = br#"{"object":"list","url":"/v1/events","has_more":true,"data":[
            {"id":"evt_2","object":"event","type":"invoice.paid","created":2,"data":{"object":{"z":1,"a":2}}},
            {"id":"evt_1","object":"event","created":1}]}"#;
        let page = parse_page(page).unwrap();
        assert!(page.has_more);
        assert_eq!(page.events[0].id, "evt_2");
        assert_eq!(page.events[0].event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(
            page.events[0].body.as_ref(),
            br#"{"id":"evt_2","object":"event","type":"invoice.paid","created":2,"data":{"object":{"z":1,"a":2}}}"#,
            "key order and spacing as sent"
        );
        assert_eq!(page.events[1].event_type, None);
        assert_eq!(page.events[1].created_millis, Some(1_000));
        assert_eq!(page.events[1].created_rfc3339(), "1970-01-01T00:00:01.000Z");
        assert!(parse_page(b"{\"error\":{}}").is_err());
    }

    #[test]
    fn a_created_no_calendar_can_write_is_an_error_not_a_panic() {
        for created in [
            "253402300800",
            "9223372036854775807",
            "-1",
            "1e300",
            "18446744073709551615",
        ] {
            let page = format!(
                r#"{{"has_more":false,"data":[{{"id":"evt_\u001b[2J","object":"event","created":{created}}}]}}"#
            );
            let err = parse_page(page.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("not a time between 1970 and 9999"), "{err}");
            assert!(!err.contains('\u{1b}'), "escaped: {err}");
        }
        let last = br#"{"has_more":false,"data":[{"id":"evt_1","created":253402300799}]}"#;
        assert_eq!(
            parse_page(last).unwrap().events[0].created_rfc3339(),
            "9999-12-31T23:59:59.000Z"
        );
    }
}
