//! Stripe: the account's events in a window (`GET /v1/events`, newest first, `starting_after`
//! pagination), by default only those not delivered to every endpoint (`delivery_success=false`).
//! Stripe cannot be asked to redeliver, so each event is taken from the API as it serialises it:
//! the body is that JSON object's bytes exactly as the API sent them inside the list.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

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
}

/// An event as the API returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEvent {
    pub id: String,
    pub event_type: Option<String>,
    /// The event object's JSON, byte for byte as it stood in the list.
    pub body: Bytes,
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

/// Event ids are `evt_` and alphanumerics; anything else is encoded rather than trusted.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads one page, keeping each event's own bytes.
pub fn parse_page(body: &[u8]) -> Result<Page, ListError> {
    let list: EventList<'_> =
        serde_json::from_slice(body).map_err(|err| ListError(err.to_string()))?;
    let mut events = Vec::with_capacity(list.data.len());
    for raw in list.data {
        let head: EventHead =
            serde_json::from_str(raw.get()).map_err(|err| ListError(err.to_string()))?;
        events.push(ListedEvent {
            id: head.id,
            event_type: head.kind,
            body: Bytes::copy_from_slice(raw.get().as_bytes()),
        });
    }
    Ok(Page {
        events,
        has_more: list.has_more,
    })
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
        assert!(parse_page(b"{\"error\":{}}").is_err());
    }
}
