//! Routing (`ROUTES`): which queue an event goes to, by the value at a JSON pointer in its body or
//! in one of its headers, matched exactly or by prefix; the first matching route wins and every
//! other event goes to `QUEUE_URL`. A `.fifo` destination gets a `MessageGroupId` (the value at
//! the route's `group_pointer`, else the source) and a `MessageDeduplicationId` derived from the
//! outbox key, so SQS itself drops a re-send within its five-minute window.
//!
//! `ROUTES` is JSON, so Terraform writes it with `jsonencode` and lambroll templates it as one
//! string:
//!
//! ```json
//! [{"name": "orders", "pointer": "/type", "prefix": "order.", "queue_url": "https://sqs.../orders.fifo",
//!   "group_pointer": "/data/order_id"},
//!  {"name": "pushes", "header": "X-GitHub-Event", "equals": "push", "queue_url": "https://sqs.../pushes"}]
//! ```

use http::{HeaderMap, HeaderName};
use serde::Deserialize;

use crate::primitives::{sha256_hex, LazyJson};
use crate::signature::SignatureScheme;

/// Longest `MessageGroupId` SQS accepts.
const MAX_GROUP_ID_LEN: usize = 128;

/// Where a route looks for the value it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A JSON pointer into the body (RFC 6901); strings and numbers match.
    Pointer(String),
    Header(HeaderName),
}

/// How the value must look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Equals(String),
    Prefix(String),
}

/// One route of `ROUTES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub selector: Selector,
    pub matcher: Matcher,
    pub queue_url: String,
    /// For a FIFO queue: the JSON pointer whose value is the `MessageGroupId`.
    pub group_pointer: Option<String>,
}

/// Every configured route, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(Vec<Route>);

/// Where one event goes: a route's queue, or the default queue when `queue_url` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// The routed queue; `None` means `QUEUE_URL`.
    pub queue_url: Option<String>,
    /// `MessageGroupId` for a FIFO destination.
    pub group_id: Option<String>,
}

/// Why `ROUTES` was refused; the message names the offending route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutesError {
    #[error("not a JSON list of routes: {0}")]
    NotJson(String),
    #[error("route {position} ({name}): {problem}")]
    Route {
        position: usize,
        name: String,
        problem: String,
    },
}

/// A route as written in `ROUTES`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    name: Option<String>,
    pointer: Option<String>,
    header: Option<String>,
    equals: Option<String>,
    prefix: Option<String>,
    queue_url: Option<String>,
    group_pointer: Option<String>,
}

/// Whether SQS treats the queue as FIFO (its name ends in `.fifo`).
pub fn is_fifo(queue_url: &str) -> bool {
    queue_url.ends_with(".fifo")
}

/// The `MessageDeduplicationId` of an event on a FIFO queue: the SHA-256 of its outbox key, so
/// every send of one event (ingress, sweeper, on-call) carries the same one, and it always fits
/// SQS's 128 characters whatever the key holds.
pub fn deduplication_id(outbox_key: &str) -> String {
    sha256_hex(outbox_key.as_bytes())
}

impl Routes {
    /// Parses and validates `ROUTES` (empty text: no routes). `default_queue_url` is `QUEUE_URL`,
    /// which a route may not name (it would make a routed row indistinguishable from the rest).
    pub fn parse(text: &str, default_queue_url: &str) -> Result<Self, RoutesError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let specs: Vec<RouteSpec> =
            serde_json::from_str(text).map_err(|err| RoutesError::NotJson(err.to_string()))?;
        let mut routes = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let position = index + 1;
            let name = spec.name.clone().unwrap_or_else(|| format!("#{position}"));
            let route = route_from(spec, &name, default_queue_url).map_err(|problem| {
                RoutesError::Route {
                    position,
                    name: name.clone(),
                    problem,
                }
            })?;
            if routes.iter().any(|r: &Route| r.name == route.name) {
                return Err(RoutesError::Route {
                    position,
                    name,
                    problem: "another route has the same name".to_owned(),
                });
            }
            routes.push(route);
        }
        Ok(Self(routes))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter()
    }

    /// The routes that choose a queue by a header `scheme`'s signature does not cover: whoever
    /// replays a captured signed body can send it down such a route, or away from it, by
    /// changing that header. A pointer route reads the signed body.
    pub fn on_unsigned_headers<'r>(
        &'r self,
        scheme: &'r SignatureScheme,
    ) -> impl Iterator<Item = &'r Route> {
        self.0.iter().filter(move |route| match &route.selector {
            Selector::Header(name) => !scheme.signed_headers().contains(&name.as_str()),
            Selector::Pointer(_) => false,
        })
    }

    /// Every queue a route sends to (not `QUEUE_URL`), in route order, without repeats.
    pub fn queue_urls(&self) -> Vec<&str> {
        let mut urls: Vec<&str> = Vec::new();
        for route in &self.0 {
            if !urls.contains(&route.queue_url.as_str()) {
                urls.push(&route.queue_url);
            }
        }
        urls
    }

    /// Where an event goes: the first route whose selector's value matches, else the default
    /// queue. A FIFO destination gets its group id (the route's `group_pointer` value, else the
    /// source).
    pub fn destination(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        json: &LazyJson,
        source: &str,
        default_queue_url: &str,
    ) -> Destination {
        let matched = self.0.iter().find(|route| {
            let value = match &route.selector {
                Selector::Pointer(pointer) => json.scalar_at(body, pointer),
                Selector::Header(name) => headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned()),
            };
            value.is_some_and(|value| match &route.matcher {
                Matcher::Equals(expected) => &value == expected,
                Matcher::Prefix(prefix) => value.starts_with(prefix.as_str()),
            })
        });
        let (queue_url, group_pointer) = match matched {
            Some(route) => (route.queue_url.as_str(), route.group_pointer.as_deref()),
            None => (default_queue_url, None),
        };
        let group_id = is_fifo(queue_url).then(|| {
            group_pointer
                .and_then(|pointer| json.scalar_at(body, pointer))
                .filter(|id| usable_group_id(id))
                .unwrap_or_else(|| source.to_owned())
        });
        Destination {
            queue_url: matched.map(|route| route.queue_url.clone()),
            group_id,
        }
    }
}

/// SQS takes 1 to 128 characters from `a-zA-Z0-9` and ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``.
fn usable_group_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_GROUP_ID_LEN && id.chars().all(|c| c.is_ascii_graphic())
}

fn route_from(spec: RouteSpec, name: &str, default_queue_url: &str) -> Result<Route, String> {
    let usable_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '#'));
    if !usable_name {
        return Err("`name` takes at most 64 letters, digits, `-`, `_` or `.`".to_owned());
    }
    let selector = match (spec.pointer, spec.header) {
        (Some(pointer), None) => Selector::Pointer(json_pointer(pointer, "pointer")?),
        (None, Some(header)) => Selector::Header(
            HeaderName::try_from(header.to_ascii_lowercase())
                .map_err(|_| format!("`{header}` is not an HTTP header name"))?,
        ),
        _ => return Err("give exactly one of `pointer` or `header`".to_owned()),
    };
    let matcher = match (spec.equals, spec.prefix) {
        (Some(value), None) => Matcher::Equals(value),
        (None, Some(prefix)) if !prefix.is_empty() => Matcher::Prefix(prefix),
        (None, Some(_)) => return Err("`prefix` must not be empty".to_owned()),
        _ => return Err("give exactly one of `equals` or `prefix`".to_owned()),
    };
    let queue_url = spec.queue_url.ok_or("`queue_url` is missing")?;
    if !(queue_url.starts_with("https://") || queue_url.starts_with("http://")) {
        return Err(format!(
            "`queue_url` must be the queue URL (https://sqs...), not `{queue_url}`"
        ));
    }
    if queue_url == default_queue_url {
        return Err("`queue_url` is QUEUE_URL, where unrouted events go anyway".to_owned());
    }
    let group_pointer = spec
        .group_pointer
        .map(|pointer| json_pointer(pointer, "group_pointer"))
        .transpose()?;
    if group_pointer.is_some() && !is_fifo(&queue_url) {
        return Err(
            "`group_pointer` only applies to a FIFO queue (a URL ending in .fifo)".to_owned(),
        );
    }
    Ok(Route {
        name: name.to_owned(),
        selector,
        matcher,
        queue_url,
        group_pointer,
    })
}

fn json_pointer(pointer: String, field: &str) -> Result<String, String> {
    if pointer.starts_with('/') {
        Ok(pointer)
    } else {
        Err(format!(
            "`{field}` `{pointer}` is not a JSON pointer: it must start with `/`, as in `/type`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "https://sqs.eu-west-1.amazonaws.com/1/webhook-events";
    const ORDERS: &str = "https://sqs.eu-west-1.amazonaws.com/1/orders.fifo";
    const PUSHES: &str = "https://sqs.eu-west-1.amazonaws.com/1/pushes";

    fn routes() -> Routes {
        Routes::parse(
            &format!(
                r#"[{{"name":"orders","pointer":"/type","prefix":"order.","queue_url":"{ORDERS}","group_pointer":"/data/order_id"}},
                    {{"name":"pushes","header":"X-GitHub-Event","equals":"push","queue_url":"{PUSHES}"}}]"#
            ),
            DEFAULT,
        )
        .unwrap()
    }

    fn destination(headers: &HeaderMap, body: &[u8]) -> Destination {
        routes().destination(headers, body, &LazyJson::default(), "shop", DEFAULT)
    }

    #[test]
    fn routes_on_headers_the_signature_does_not_cover_are_named() {
        let github = crate::signature::SignatureScheme::GitHub;
        let routes = routes();
        let unsigned: Vec<&str> = routes
            .on_unsigned_headers(&github)
            .map(|route| route.name.as_str())
            .collect();
        assert_eq!(unsigned, ["pushes"]);
        // A header the scheme signs is not one a replay can change.
        let on_signed = Routes::parse(
            &format!(r#"[{{"name":"ts","header":"X-Slack-Request-Timestamp","prefix":"1","queue_url":"{PUSHES}"}}]"#),
            DEFAULT,
        )
        .unwrap();
        let slack = crate::signature::SignatureScheme::Slack;
        assert_eq!(on_signed.on_unsigned_headers(&slack).count(), 0);
        assert_eq!(on_signed.on_unsigned_headers(&github).count(), 1);
    }

    #[test]
    fn the_first_matching_route_wins_and_the_rest_go_to_the_default_queue() {
        let mut push = HeaderMap::new();
        push.insert("x-github-event", "push".parse().unwrap());
        let none = HeaderMap::new();
        assert_eq!(
            destination(&none, br#"{"type":"order.paid","data":{"order_id":42}}"#),
            Destination {
                queue_url: Some(ORDERS.to_owned()),
                group_id: Some("42".to_owned())
            }
        );
        assert_eq!(
            destination(&push, br#"{"type":"ping"}"#),
            Destination {
                queue_url: Some(PUSHES.to_owned()),
                group_id: None
            }
        );
        assert_eq!(
            destination(&none, br#"{"type":"customer.created"}"#),
            Destination::default()
        );
        assert_eq!(destination(&none, b"not json"), Destination::default());
        // Exact, not prefix, for `equals`.
        let mut pushes = HeaderMap::new();
        pushes.insert("x-github-event", "push_request".parse().unwrap());
        assert_eq!(destination(&pushes, b"{}"), Destination::default());
    }

    #[test]
    fn a_fifo_group_falls_back_to_the_source_when_the_pointer_gives_nothing_usable() {
        let none = HeaderMap::new();
        assert_eq!(
            destination(&none, br#"{"type":"order.paid"}"#).group_id,
            Some("shop".to_owned())
        );
        let long = format!(
            r#"{{"type":"order.paid","data":{{"order_id":"{}"}}}}"#,
            "x".repeat(200)
        );
        assert_eq!(
            destination(&none, long.as_bytes()).group_id,
            Some("shop".to_owned())
        );
        let fifo_default = "https://sqs.eu-west-1.amazonaws.com/1/all.fifo";
        let dest =
            Routes::default().destination(&none, b"{}", &LazyJson::default(), "shop", fifo_default);
        assert_eq!(dest.group_id, Some("shop".to_owned()));
        assert_eq!(dest.queue_url, None);
    }

    #[test]
    fn deduplication_ids_are_stable_and_fit_sqs() {
        let id = deduplication_id("shop:evt_1");
        assert_eq!(id, deduplication_id("shop:evt_1"));
        assert_ne!(id, deduplication_id("shop:evt_2"));
        assert_eq!(id.len(), 64);
    }

    #[test]
    fn bad_routes_are_refused_naming_the_route() {
        let cases = [
            ("{}", "not a JSON list of routes"),
            (
                r#"[{"name":"a","pointer":"/t","equals":"x"}]"#,
                "route 1 (a): `queue_url` is missing",
            ),
            (
                r#"[{"name":"a","pointer":"t","equals":"x","queue_url":"https://q"}]"#,
                "route 1 (a): `pointer` `t` is not a JSON pointer",
            ),
            (
                r#"[{"name":"a","pointer":"/t","header":"h","equals":"x","queue_url":"https://q"}]"#,
                "route 1 (a): give exactly one of `pointer` or `header`",
            ),
            (
                r#"[{"pointer":"/t","queue_url":"https://q"}]"#,
                "route 1 (#1): give exactly one of `equals` or `prefix`",
            ),
            (
                r#"[{"name":"a","pointer":"/t","equals":"x","queue_url":"orders"}]"#,
                "route 1 (a): `queue_url` must be the queue URL",
            ),
            (
                r#"[{"name":"a","pointer":"/t","equals":"x","queue_url":"https://q","group_pointer":"/g"}]"#,
                "route 1 (a): `group_pointer` only applies to a FIFO queue",
            ),
            (
                r#"[{"name":"a","pointer":"/t","equals":"x","queue_url":"https://q"},{"name":"a","pointer":"/t","equals":"y","queue_url":"https://r"}]"#,
                "route 2 (a): another route has the same name",
            ),
            (
                r#"[{"name":"a","pointer":"/t","equals":"x","queue_url":"https://q","colour":"red"}]"#,
                "unknown field `colour`",
            ),
        ];
        for (text, expected) in cases {
            let err = Routes::parse(text, DEFAULT).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let same =
            format!(r#"[{{"name":"a","pointer":"/t","equals":"x","queue_url":"{DEFAULT}"}}]"#);
        assert!(Routes::parse(&same, DEFAULT)
            .unwrap_err()
            .to_string()
            .contains("is QUEUE_URL"));
        assert_eq!(Routes::parse("  ", DEFAULT), Ok(Routes::default()));
    }

    #[test]
    fn queue_urls_lists_each_routed_queue_once() {
        assert_eq!(routes().queue_urls(), vec![ORDERS, PUSHES]);
    }
}
