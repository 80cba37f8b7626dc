//! GitHub: a hook's recent deliveries (`GET .../hooks/{id}/deliveries`, newest first, cursor
//! pagination through the `Link` header), the events none of whose deliveries succeeded, and a
//! redelivery request for each (`POST .../deliveries/{id}/attempts`). The redelivery arrives
//! through the ingress's normal signed path, byte for byte, so nothing is written here.

use std::collections::BTreeMap;
use std::str::FromStr;

use http::HeaderMap;
use serde::Deserialize;
use shared::time::EpochMillis;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Deliveries asked for per page (GitHub's maximum).
const PER_PAGE: u32 = 100;

/// Which hook: a repository's or an organisation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookPath {
    Repository {
        owner: String,
        repo: String,
        id: u64,
    },
    Organisation {
        org: String,
        id: u64,
    },
    /// A GitHub App's own hook, authenticated as the App (a JWT from its private key).
    App,
}

impl FromStr for HookPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim_matches('/').split('/').collect();
        let id = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("`{text}` is not a hook id (a number: the hook's settings page URL ends with it)"))
        };
        let named = |text: &str| !text.is_empty() && !text.contains(['?', '#', ' ']);
        match parts.as_slice() {
            ["repos", owner, repo, hook] if named(owner) && named(repo) => Ok(Self::Repository {
                owner: (*owner).to_owned(),
                repo: (*repo).to_owned(),
                id: id(hook)?,
            }),
            ["orgs", org, hook] if named(org) => Ok(Self::Organisation {
                org: (*org).to_owned(),
                id: id(hook)?,
            }),
            ["app"] => Ok(Self::App),
            _ => Err(format!(
                "`{text}` is not a hook: give repos/OWNER/REPO/HOOK_ID, orgs/ORG/HOOK_ID or app"
            )),
        }
    }
}

impl HookPath {
    /// The API path of the hook (`/repos/o/r/hooks/1`).
    pub fn api_path(&self) -> String {
        match self {
            Self::Repository { owner, repo, id } => format!("/repos/{owner}/{repo}/hooks/{id}"),
            Self::Organisation { org, id } => format!("/orgs/{org}/hooks/{id}"),
            Self::App => "/app/hook".to_owned(),
        }
    }

    /// The first page of deliveries.
    pub fn deliveries_path(&self) -> String {
        format!("{}/deliveries?per_page={PER_PAGE}", self.api_path())
    }

    /// Where to ask for a delivery to be sent again.
    pub fn attempts_path(&self, delivery_id: u64) -> String {
        format!("{}/deliveries/{delivery_id}/attempts", self.api_path())
    }
}

/// One delivery as the API lists it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub id: u64,
    /// The event's id: `X-GitHub-Delivery`, the same for every redelivery of the event.
    pub guid: String,
    pub delivered_at: String,
    /// The HTTP status the hook's URL answered; 0 when it could not be reached.
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }

    /// `delivered_at` as epoch milliseconds; `None` when GitHub sent something else.
    pub fn delivered_at_millis(&self) -> Option<EpochMillis> {
        rfc3339_to_millis(&self.delivered_at)
    }
}

/// An RFC 3339 time as epoch milliseconds; `None` when it is not one.
pub fn rfc3339_to_millis(text: &str) -> Option<EpochMillis> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok())
}

/// An event (one guid) of which no delivery succeeded: its latest delivery is the one to send
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    pub guid: String,
    pub delivery_id: u64,
    pub event: String,
    pub delivered_at: String,
    pub status_code: u16,
}

/// What the listed deliveries say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Triage {
    /// Distinct events (guids) delivered in the window.
    pub events: usize,
    /// Events one of whose deliveries succeeded.
    pub delivered: usize,
    /// The others, oldest first.
    pub failed: Vec<FailedEvent>,
}

/// Groups deliveries by event: an event whose any delivery got a 2xx reached the ingress; for
/// the others, the latest delivery (highest id) is the one to redeliver.
pub fn triage(deliveries: &[Delivery]) -> Triage {
    let mut by_guid: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
    for delivery in deliveries {
        by_guid.entry(&delivery.guid).or_default().push(delivery);
    }
    let mut triage = Triage {
        events: by_guid.len(),
        ..Triage::default()
    };
    for (guid, attempts) in by_guid {
        if attempts.iter().any(|d| d.succeeded()) {
            triage.delivered += 1;
            continue;
        }
        if let Some(latest) = attempts.iter().max_by_key(|d| d.id) {
            triage.failed.push(FailedEvent {
                guid: guid.to_owned(),
                delivery_id: latest.id,
                event: match &latest.action {
                    Some(action) => format!("{}.{action}", latest.event),
                    None => latest.event.clone(),
                },
                delivered_at: latest.delivered_at.clone(),
                status_code: latest.status_code,
            });
        }
    }
    triage
        .failed
        .sort_by(|a, b| (&a.delivered_at, a.delivery_id).cmp(&(&b.delivered_at, b.delivery_id)));
    triage
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|param| matches!(param.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn delivery(id: u64, guid: &str, status_code: u16, at: &str) -> Delivery {
        Delivery {
            id,
            guid: guid.to_owned(),
            delivered_at: at.to_owned(),
            status_code,
            event: "push".to_owned(),
            action: None,
        }
    }

    #[test]
    fn hooks_are_named_like_their_api_paths() {
        let repo: HookPath = "repos/acme/shop/12345".parse().unwrap();
        assert_eq!(
            repo.deliveries_path(),
            "/repos/acme/shop/hooks/12345/deliveries?per_page=100"
        );
        assert_eq!(
            repo.attempts_path(7),
            "/repos/acme/shop/hooks/12345/deliveries/7/attempts"
        );
        let org: HookPath = "orgs/acme/9".parse().unwrap();
        assert_eq!(org.api_path(), "/orgs/acme/hooks/9");
        for wrong in ["repos/acme/12345", "orgs/acme/hook", "users/x/1", ""] {
            assert!(wrong.parse::<HookPath>().is_err(), "{wrong}");
        }
        let app: HookPath = "app".parse().unwrap();
        assert_eq!(app.deliveries_path(), "/app/hook/deliveries?per_page=100");
        assert_eq!(app.attempts_path(3), "/app/hook/deliveries/3/attempts");
    }

    #[test]
    fn an_event_with_any_successful_delivery_is_not_failed() {
        let deliveries = [
            delivery(3, "b", 502, "2026-12-01T10:00:02Z"),
            delivery(2, "a", 200, "2026-12-01T10:00:01Z"),
            delivery(1, "a", 404, "2026-12-01T10:00:00Z"),
            delivery(5, "c", 0, "2026-12-01T10:05:00Z"),
            delivery(4, "c", 404, "2026-12-01T10:04:00Z"),
        ];
        let triage = triage(&deliveries);
        assert_eq!(triage.events, 3);
        assert_eq!(triage.delivered, 1);
        let failed: Vec<(&str, u64)> = triage
            .failed
            .iter()
            .map(|f| (f.guid.as_str(), f.delivery_id))
            .collect();
        assert_eq!(
            failed,
            [("b", 3), ("c", 5)],
            "the latest delivery, oldest event first"
        );
    }

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=100&cursor=v1_9>; rel=\"next\", <https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=100>; rel=\"first\"",
            ),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/repos/o/r/hooks/1/deliveries?per_page=100&cursor=v1_9")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn delivery_times_are_rfc3339() {
        assert_eq!(
            delivery(1, "a", 0, "2021-02-25T15:02:10Z").delivered_at_millis(),
            Some(1_614_265_330_000)
        );
        assert_eq!(delivery(1, "a", 0, "yesterday").delivered_at_millis(), None);
    }
}
