//! GitLab: a project's or group's webhook events (`GET .../hooks/{id}/events`, the hook's delivery
//! log of the last 7 days, newest first, offset pagination through `x-next-page`) and a resend of
//! each event none of whose deliveries succeeded (`POST .../hooks/{id}/events/{event_id}/resend`).
//! GitLab sends the logged request again through the hook (signed with its secret token, as any
//! delivery), so nothing is written here.
//!
//! An event is recognised across its deliveries by its `Idempotency-Key` (GitLab 17.4 and later:
//! "consistent across webhook retries", and kept by a resend), else by its `X-Gitlab-Event-UUID`.
//! A resend gets a new `X-Gitlab-Event-UUID`, so every id a delivery of the event carried is looked
//! for in the outbox.

use std::collections::BTreeMap;
use std::str::FromStr;

use http::HeaderMap;
use serde::Deserialize;
use shared::time::EpochMillis;

use crate::github::rfc3339_to_millis;

/// Events asked for per page (GitLab's maximum for this endpoint).
pub const PER_PAGE: u32 = 20;

/// Which hook: a project's or a group's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitlabHook {
    /// `projects` or `groups`.
    kind: &'static str,
    /// The project's or group's id, or its path URL-encoded (`acme%2Fshop`).
    owner: String,
    id: u64,
}

impl FromStr for GitlabHook {
    type Err = String;

    /// `projects/ID_OR_PATH/HOOK_ID` or `groups/ID_OR_PATH/HOOK_ID`; a path may be given with its
    /// slashes (`projects/acme/shop/42`) or encoded (`projects/acme%2Fshop/42`).
    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!(
                "`{}` is not a GitLab hook: give projects/PROJECT_ID_OR_PATH/HOOK_ID or groups/GROUP_ID_OR_PATH/HOOK_ID",
                crate::terminal::escape(text)
            )
        };
        let parts: Vec<&str> = text.trim().trim_matches('/').split('/').collect();
        let (kind, rest) = match parts.split_first() {
            Some((&"projects", rest)) => ("projects", rest),
            Some((&"groups", rest)) => ("groups", rest),
            _ => return Err(wrong()),
        };
        let Some((hook, owner)) = rest.split_last() else {
            return Err(wrong());
        };
        let id = hook.parse::<u64>().map_err(|_| {
            format!(
                "`{}` is not a hook id (a number: Settings > Webhooks, the hook's edit URL ends with it)",
                crate::terminal::escape(hook)
            )
        })?;
        let named = |part: &&str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'%'))
        };
        if owner.is_empty() || !owner.iter().all(named) {
            return Err(wrong());
        }
        Ok(Self {
            kind,
            owner: owner.join("%2F"),
            id,
        })
    }
}

impl GitlabHook {
    /// The API path of the hook (`/projects/acme%2Fshop/hooks/42`).
    pub fn api_path(&self) -> String {
        format!("/{}/{}/hooks/{}", self.kind, self.owner, self.id)
    }

    /// One page of the hook's events.
    pub fn events_path(&self, page: u64) -> String {
        format!("{}/events?per_page={PER_PAGE}&page={page}", self.api_path())
    }

    /// Where to ask for an event to be sent again.
    pub fn resend_path(&self, event_id: u64) -> String {
        format!("{}/events/{event_id}/resend", self.api_path())
    }
}

/// One delivery as the API lists it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub struct HookEvent {
    pub id: u64,
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub request_headers: BTreeMap<String, serde_json::Value>,
    /// The logged payload; only whether GitLab kept it is looked at.
    #[serde(default)]
    pub request_data: serde_json::Value,
    /// The status the hook's URL answered (`"200"`), or `"internal error"` when it could not be
    /// reached; a string in the API, a number tolerated.
    #[serde(default)]
    pub response_status: serde_json::Value,
    #[serde(default)]
    pub created_at: String,
}

impl HookEvent {
    fn header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// The id GitLab keeps across retries and resends of the event, else the event's UUID.
    pub fn event_key(&self) -> Option<&str> {
        self.header("idempotency-key")
            .or_else(|| self.header("x-gitlab-event-uuid"))
    }

    /// The status code answered, when the hook's URL answered at all.
    pub fn status_code(&self) -> Option<u16> {
        match &self.response_status {
            serde_json::Value::String(text) => text.trim().parse().ok(),
            serde_json::Value::Number(number) => {
                number.as_u64().and_then(|n| u16::try_from(n).ok())
            }
            _ => None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status_code().is_some_and(|s| (200..300).contains(&s))
    }

    pub fn created_at_millis(&self) -> Option<EpochMillis> {
        rfc3339_to_millis(&self.created_at)
    }

    /// GitLab keeps `{"oversize": true}` instead of a payload too large for its log; a resend
    /// would deliver that.
    pub fn payload_kept(&self) -> bool {
        self.request_data != serde_json::json!({"oversize": true})
    }
}

/// An event none of whose deliveries succeeded: its latest delivery is the one to resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    /// The event's key (`Idempotency-Key`, else `X-Gitlab-Event-UUID`).
    pub key: String,
    /// Every id the ingress may have stored the event under: the key and each delivery's
    /// `X-Gitlab-Event-UUID`.
    pub ids: Vec<String>,
    pub log_id: u64,
    /// `X-Gitlab-Event` (`Push Hook`), else the trigger (`push_hooks`).
    pub event: Option<String>,
    pub created_at: String,
    pub status_code: Option<u16>,
    pub payload_kept: bool,
}

/// What the listed deliveries say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Triage {
    /// Distinct events delivered in the window.
    pub events: usize,
    /// Events one of whose deliveries succeeded.
    pub delivered: usize,
    /// The others, oldest first.
    pub failed: Vec<FailedEvent>,
    /// Deliveries that carry neither id (GitLab before 15.x): counted, never resent.
    pub unnamed: usize,
}

/// Groups deliveries by event: an event any of whose deliveries got a 2xx reached the ingress;
/// for the others, the latest delivery (highest id) is the one to resend. An event first
/// delivered at or after `until` is left out (a later window has it); the deliveries of an earlier
/// event made after `until` (a resend) still count, so an event resent already is not asked again.
pub fn triage(deliveries: &[HookEvent], until: EpochMillis) -> Triage {
    let mut by_key: BTreeMap<&str, Vec<&HookEvent>> = BTreeMap::new();
    let mut triage = Triage::default();
    for delivery in deliveries {
        match delivery.event_key() {
            Some(key) => by_key.entry(key).or_default().push(delivery),
            None => triage.unnamed += 1,
        }
    }
    for (key, attempts) in by_key {
        let first = attempts.iter().filter_map(|d| d.created_at_millis()).min();
        if first.is_some_and(|first| first >= until) {
            continue;
        }
        triage.events += 1;
        if attempts.iter().any(|d| d.succeeded()) {
            triage.delivered += 1;
            continue;
        }
        let Some(latest) = attempts.iter().max_by_key(|d| d.id) else {
            continue;
        };
        let mut ids = vec![key.to_owned()];
        for attempt in &attempts {
            if let Some(uuid) = attempt.header("x-gitlab-event-uuid") {
                if !ids.iter().any(|id| id == uuid) {
                    ids.push(uuid.to_owned());
                }
            }
        }
        triage.failed.push(FailedEvent {
            key: key.to_owned(),
            ids,
            log_id: latest.id,
            event: latest
                .header("x-gitlab-event")
                .map(str::to_owned)
                .or_else(|| latest.trigger.clone()),
            created_at: latest.created_at.clone(),
            status_code: latest.status_code(),
            payload_kept: latest.payload_kept(),
        });
    }
    triage
        .failed
        .sort_by(|a, b| (&a.created_at, a.log_id).cmp(&(&b.created_at, b.log_id)));
    triage
}

/// The next page GitLab names in `x-next-page` (empty on the last page).
pub fn next_page(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-next-page")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// Whether GitLab's answer to a resend says the hook's URL answered 2xx: `{"response_status": 200}`
/// (GitLab answers 201 once it has sent the request, whatever the URL answered). `None` when the
/// answer does not say.
pub fn resend_status(body: &[u8]) -> Option<Result<(), String>> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let status = &json["response_status"];
    let code = match status {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Null => return None,
        _ => None,
    };
    Some(match code {
        Some(code) if (200..300).contains(&code) => Ok(()),
        _ => Err(crate::terminal::escape(
            &status
                .as_str()
                .map_or_else(|| status.to_string(), str::to_owned),
        )),
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn delivery(
        id: u64,
        key: Option<&str>,
        uuid: &str,
        status: serde_json::Value,
        at: &str,
    ) -> HookEvent {
        let mut headers = BTreeMap::from([
            ("X-Gitlab-Event".to_owned(), json!("Push Hook")),
            ("X-Gitlab-Event-UUID".to_owned(), json!(uuid)),
            ("X-Gitlab-Token".to_owned(), json!("[REDACTED]")),
        ]);
        if let Some(key) = key {
            headers.insert("Idempotency-Key".to_owned(), json!(key));
        }
        HookEvent {
            id,
            trigger: Some("push_hooks".to_owned()),
            request_headers: headers,
            request_data: json!({"object_kind": "push"}),
            response_status: status,
            created_at: at.to_owned(),
        }
    }

    #[test]
    fn hooks_are_named_like_their_api_paths() {
        let project: GitlabHook = "projects/acme/shop/42".parse().unwrap();
        assert_eq!(project.api_path(), "/projects/acme%2Fshop/hooks/42");
        assert_eq!(
            project.events_path(3),
            "/projects/acme%2Fshop/hooks/42/events?per_page=20&page=3"
        );
        assert_eq!(
            project.resend_path(9),
            "/projects/acme%2Fshop/hooks/42/events/9/resend"
        );
        let encoded: GitlabHook = "projects/acme%2Fshop/42".parse().unwrap();
        assert_eq!(encoded, project);
        let group: GitlabHook = "groups/7/1".parse().unwrap();
        assert_eq!(group.api_path(), "/groups/7/hooks/1");
        for wrong in [
            "projects/42",
            "projects/acme/hook",
            "users/x/1",
            "",
            "projects/a?b/1",
            "projects//1",
        ] {
            assert!(wrong.parse::<GitlabHook>().is_err(), "{wrong}");
        }
        let err = "projects/\u{1b}[2J/x".parse::<GitlabHook>().unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn an_event_is_known_by_its_idempotency_key_across_resends() {
        let deliveries = [
            // A resend: a new event UUID, the same idempotency key, delivered.
            delivery(5, Some("k-a"), "u-a2", json!("200"), "2026-12-01T10:05:00Z"),
            delivery(
                4,
                Some("k-a"),
                "u-a1",
                json!("internal error"),
                "2026-12-01T10:00:00Z",
            ),
            delivery(3, Some("k-b"), "u-b2", json!("502"), "2026-12-01T10:03:00Z"),
            delivery(2, Some("k-b"), "u-b1", json!("404"), "2026-12-01T10:02:00Z"),
            delivery(1, None, "u-c", json!(500), "2026-12-01T10:01:00Z"),
        ];
        let triage = triage(&deliveries, i64::MAX);
        assert_eq!((triage.events, triage.delivered, triage.unnamed), (3, 1, 0));
        let failed: Vec<(&str, u64, &[String])> = triage
            .failed
            .iter()
            .map(|f| (f.key.as_str(), f.log_id, f.ids.as_slice()))
            .collect();
        assert_eq!(
            failed,
            [
                ("u-c", 1, &["u-c".to_owned()][..]),
                (
                    "k-b",
                    3,
                    &["k-b".to_owned(), "u-b2".to_owned(), "u-b1".to_owned()][..]
                ),
            ],
            "oldest first; every id a delivery carried"
        );
        assert_eq!(triage.failed[1].event.as_deref(), Some("Push Hook"));
        assert_eq!(triage.failed[1].status_code, Some(502));
        assert_eq!(triage.failed[0].status_code, Some(500));
        assert!(triage.failed[1].payload_kept);
    }

    #[test]
    fn an_event_first_delivered_after_the_window_waits_and_a_later_resend_still_counts() {
        let until = rfc3339_to_millis("2026-12-01T10:04:00Z").unwrap();
        let deliveries = [
            // Resent (and delivered) after the window's end: still delivered.
            delivery(5, Some("k-a"), "u-a2", json!("200"), "2026-12-01T10:05:00Z"),
            delivery(4, Some("k-a"), "u-a1", json!("500"), "2026-12-01T10:00:00Z"),
            // First delivered after the window's end: a later run's.
            delivery(3, Some("k-b"), "u-b1", json!("502"), "2026-12-01T10:06:00Z"),
        ];
        let triage = triage(&deliveries, until);
        assert_eq!((triage.events, triage.delivered), (1, 1));
        assert!(triage.failed.is_empty());
    }

    #[test]
    fn an_oversize_payload_is_not_kept_and_pages_come_from_x_next_page() {
        let mut big = delivery(1, Some("k"), "u", json!("500"), "2026-12-01T10:00:00Z");
        big.request_data = json!({"oversize": true});
        assert!(!big.payload_kept());
        let mut headers = HeaderMap::new();
        assert_eq!(next_page(&headers), None);
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page(&headers), None);
        headers.insert("x-next-page", HeaderValue::from_static("4"));
        assert_eq!(next_page(&headers), Some(4));
    }

    #[test]
    fn a_resend_answer_says_what_the_hooks_url_answered() {
        assert_eq!(resend_status(br#"{"response_status": 200}"#), Some(Ok(())));
        assert_eq!(
            resend_status(br#"{"response_status": "204"}"#),
            Some(Ok(()))
        );
        assert_eq!(
            resend_status(br#"{"response_status": 401}"#),
            Some(Err("401".to_owned()))
        );
        assert_eq!(
            resend_status(br#"{"response_status": "internal error"}"#),
            Some(Err("internal error".to_owned()))
        );
        assert_eq!(resend_status(b"{}"), None);
        assert_eq!(resend_status(b"not json"), None);
    }
}
