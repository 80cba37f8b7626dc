//! The queue message contract the PHP workers rely on (README, Message contract): the raw body byte for
//! byte, or base64 with `body-encoding: base64` when SQS cannot carry it, plus string attributes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::event::AcceptedEvent;
use crate::large_body::pointer_message_body;
use crate::routes::deduplication_id;
use crate::time::rfc3339_millis;

pub const ATTR_EVENT_ID: &str = "event-id";
pub const ATTR_SOURCE: &str = "source";
pub const ATTR_EVENT_TYPE: &str = "event-type";
pub const ATTR_RECEIVED_AT: &str = "received-at";
pub const ATTR_DELIVERED_BY: &str = "delivered-by";
pub const ATTR_BODY_ENCODING: &str = "body-encoding";
/// `body-encoding` of a body SQS cannot carry as text: the message body is its base64.
pub const ENCODING_BASE64: &str = "base64";
/// `body-encoding` of an empty body (SQS refuses empty messages): the message body is
/// [`EMPTY_BODY_PLACEHOLDER`] and the webhook's body is no bytes at all.
pub const ENCODING_EMPTY: &str = "empty";
pub const EMPTY_BODY_PLACEHOLDER: &str = "-";
/// On a second body received under an event id already holding another body: the first body's
/// SHA-256. Workers that deduplicate on `event-id` must not drop it as a duplicate.
pub const ATTR_ID_CONFLICT_OF: &str = "id-conflict-of";
/// On a replayed message: the message id of the event's first delivery.
pub const ATTR_REPLAY_OF: &str = "replay-of";

/// Who put the message on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveredBy {
    Ingress,
    Sweeper,
    Outboxctl,
    /// `outboxctl backfill`: an event taken from the provider's API, not from a delivery.
    Backfill,
}

impl DeliveredBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Sweeper => "sweeper",
            Self::Outboxctl => "outboxctl",
            Self::Backfill => "backfill",
        }
    }
}

/// A message ready for SendMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// `(name, value)` pairs, all of SQS type String.
    pub attributes: Vec<(&'static str, String)>,
    /// `MessageGroupId` and `MessageDeduplicationId`, for a FIFO destination only.
    pub fifo: Option<FifoIds>,
    /// For a body in S3: its size, sent as the Number attribute `ExtendedPayloadSize` beside a
    /// pointer body (the Extended Client Library's format).
    pub extended_payload_size: Option<u64>,
}

/// The ids a FIFO queue requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoIds {
    pub group_id: String,
    pub deduplication_id: String,
}

impl OutgoingMessage {
    pub fn for_event(event: &AcceptedEvent, delivered_by: DeliveredBy) -> Self {
        let (body, encoding) = if let Some(pointer) = &event.claim_check {
            // The object holds the exact bytes: no encoding applies to them.
            (pointer_message_body(&pointer.bucket, &pointer.key), None)
        } else if event.body.is_empty() {
            // SQS refuses an empty message: a placeholder, flagged, stands for no bytes at all.
            (EMPTY_BODY_PLACEHOLDER.to_owned(), Some(ENCODING_EMPTY))
        } else {
            match sqs_safe_text(&event.body) {
                Some(text) => (text.to_owned(), None),
                None => (BASE64.encode(&event.body), Some(ENCODING_BASE64)),
            }
        };
        let mut attributes = vec![
            (ATTR_EVENT_ID, event.event_id.clone()),
            (ATTR_SOURCE, event.source.clone()),
            (ATTR_RECEIVED_AT, rfc3339_millis(event.received_at)),
            (ATTR_DELIVERED_BY, delivered_by.as_str().to_owned()),
        ];
        if let Some(event_type) = &event.event_type {
            attributes.push((ATTR_EVENT_TYPE, event_type.clone()));
        }
        if let Some(encoding) = encoding {
            attributes.push((ATTR_BODY_ENCODING, encoding.to_owned()));
        }
        if let Some(first_sha256) = &event.id_conflict_of {
            attributes.push((ATTR_ID_CONFLICT_OF, first_sha256.clone()));
        }
        let fifo = event.destination.group_id.as_ref().map(|group_id| FifoIds {
            group_id: group_id.clone(),
            deduplication_id: deduplication_id(&event.key),
        });
        Self {
            body,
            attributes,
            fifo,
            extended_payload_size: event.claim_check.as_ref().map(|pointer| pointer.size),
        }
    }
}

impl OutgoingMessage {
    /// An event already delivered once, sent again by on-call in replay run `run`:
    /// `delivered-by: outboxctl` and `replay-of` naming the first delivery's message id (or
    /// `unknown` when the row lacks it).
    pub fn replay(event: &AcceptedEvent, first_message_id: Option<&str>, run: &str) -> Self {
        let mut message = Self::for_event(event, DeliveredBy::Outboxctl);
        message.attributes.push((
            ATTR_REPLAY_OF,
            first_message_id.unwrap_or("unknown").to_owned(),
        ));
        // A FIFO queue drops a message whose deduplication id it saw in the last five minutes:
        // each run has its own, so neither the first delivery nor an earlier replay hides it.
        if let Some(fifo) = &mut message.fifo {
            fifo.deduplication_id = deduplication_id(&format!("{}#replay#{run}", event.key));
        }
        message
    }
}

/// The body as text if SQS accepts it unchanged: valid UTF-8, not empty, and only the characters
/// SQS allows (`#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`). Rust strings
/// cannot hold surrogates, so only the control characters and U+FFFE/U+FFFF need checking.
pub fn sqs_safe_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    (!text.is_empty() && text.chars().all(allowed)).then_some(text)
}

/// Reverses the encoding for a consumer, given the message's `body-encoding` attribute: the exact
/// bytes the provider sent.
pub fn decode_body(body: &str, encoding: Option<&str>) -> Result<Vec<u8>, BodyDecodeError> {
    match encoding {
        None => Ok(body.as_bytes().to_vec()),
        Some(ENCODING_BASE64) => Ok(BASE64.decode(body)?),
        Some(ENCODING_EMPTY) => Ok(Vec::new()),
        Some(other) => Err(BodyDecodeError::UnknownEncoding(other.to_owned())),
    }
}

/// A message body that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum BodyDecodeError {
    #[error("the body is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("unknown body-encoding {0:?}")]
    UnknownEncoding(String),
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn event(body: &'static [u8], event_type: Option<&str>) -> AcceptedEvent {
        AcceptedEvent::new(
            "marketplace",
            "evt-1".into(),
            event_type.map(str::to_owned),
            Bytes::from_static(body),
            1_614_265_330_123,
        )
    }

    fn attribute<'m>(message: &'m OutgoingMessage, name: &str) -> Option<&'m str> {
        message
            .attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_fifo_replay_has_its_own_deduplication_id_per_run_and_the_same_group() {
        let mut fifo_event = event(b"{}", None);
        fifo_event.destination.group_id = Some("order-7".into());
        let first = OutgoingMessage::for_event(&fifo_event, DeliveredBy::Ingress);
        let replay = |run| {
            OutgoingMessage::replay(&fifo_event, Some("m-1"), run)
                .fifo
                .unwrap()
        };
        let (first, replayed) = (first.fifo.unwrap(), replay("r1"));
        assert_eq!(replayed.group_id, "order-7");
        assert_ne!(
            replayed.deduplication_id, first.deduplication_id,
            "SQS would drop the replay"
        );
        assert_ne!(
            replayed.deduplication_id,
            replay("r2").deduplication_id,
            "SQS would drop a second run within five minutes"
        );
        assert_eq!(replayed, replay("r1"), "one run sends an event once");
    }

    #[test]
    fn json_bodies_travel_unchanged_with_every_attribute() {
        let message = OutgoingMessage::for_event(
            &event(br#"{"type":"a","x":"caf\u00e9 \u2603"}"#, Some("a")),
            DeliveredBy::Ingress,
        );
        assert_eq!(
            message.body.as_bytes(),
            br#"{"type":"a","x":"caf\u00e9 \u2603"}"#
        );
        assert_eq!(attribute(&message, ATTR_EVENT_ID), Some("evt-1"));
        assert_eq!(attribute(&message, ATTR_SOURCE), Some("marketplace"));
        assert_eq!(attribute(&message, ATTR_EVENT_TYPE), Some("a"));
        assert_eq!(
            attribute(&message, ATTR_RECEIVED_AT),
            Some("2021-02-25T15:02:10.123Z")
        );
        assert_eq!(attribute(&message, ATTR_DELIVERED_BY), Some("ingress"));
        assert_eq!(attribute(&message, ATTR_BODY_ENCODING), None);
    }

    #[test]
    fn bodies_sqs_cannot_carry_are_base64_and_flagged() {
        for body in [
            &b"\x00nul"[..],
            b"\xff\xfe not utf-8",
            b"bell\x07",
            "\u{FFFF}".as_bytes(),
        ] {
            let accepted =
                AcceptedEvent::new("s", "e".into(), None, Bytes::copy_from_slice(body), 0);
            let message = OutgoingMessage::for_event(&accepted, DeliveredBy::Sweeper);
            assert_eq!(
                attribute(&message, ATTR_BODY_ENCODING),
                Some("base64"),
                "{body:?}"
            );
            assert_eq!(decode_body(&message.body, Some("base64")).unwrap(), body);
        }
    }

    #[test]
    fn an_empty_body_travels_as_a_flagged_placeholder_sqs_accepts() {
        let accepted = AcceptedEvent::new("s", "e".into(), None, Bytes::new(), 0);
        let message = OutgoingMessage::for_event(&accepted, DeliveredBy::Ingress);
        assert_eq!(attribute(&message, ATTR_BODY_ENCODING), Some("empty"));
        assert!(sqs_safe_text(message.body.as_bytes()).is_some());
        assert_eq!(decode_body(&message.body, Some("empty")).unwrap(), b"");
        assert!(decode_body("x", Some("gzip")).is_err());
    }

    #[test]
    fn a_body_in_s3_travels_as_an_extended_client_pointer() {
        let pointer = crate::large_body::BodyPointer {
            bucket: "bodies".into(),
            key: "marketplace:evt-1/abc".into(),
            size: 3_000_000,
        };
        // Binary bytes too: the object holds them raw, so no body-encoding applies.
        let accepted = event(b"\x00 not read", Some("a")).with_claim_check(pointer);
        let message = OutgoingMessage::for_event(&accepted, DeliveredBy::Sweeper);
        assert_eq!(
            message.body,
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"bodies","s3Key":"marketplace:evt-1/abc"}]"#
        );
        assert_eq!(message.extended_payload_size, Some(3_000_000));
        assert_eq!(attribute(&message, ATTR_BODY_ENCODING), None);
        assert_eq!(attribute(&message, ATTR_EVENT_ID), Some("evt-1"));
        assert!(message.size() > message.body.len() + "ExtendedPayloadSize".len());
    }

    #[test]
    fn tabs_newlines_and_astral_characters_stay_text() {
        let body = "a\tb\r\nc 😀 \u{E000}".as_bytes();
        assert_eq!(sqs_safe_text(body), Some("a\tb\r\nc 😀 \u{E000}"));
    }
}
