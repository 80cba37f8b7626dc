//! Realistic webhook bodies for the size model's pinned test and the benchmarks: Stripe-, GitHub-
//! and Shopify-like events with random ids, amounts, names and timestamps, compact or
//! pretty-printed, grown to a target size by adding more of what such an event really repeats
//! (charges, commits, line items), never by padding that compresses to nothing.
//!
//! Seeded, so a pinned figure is the same on every run.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use serde_json::{json, Value};

use shared::event::AcceptedEvent;
use shared::outbox::{attr, display_name, message_id_text, unsent_key, RowStatus};

/// The provider whose event shape a sample imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `payment_intent.succeeded` with its charges.
    Stripe,
    /// `push` with its commits.
    GitHub,
    /// `orders/create` with its line items.
    Shopify,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Stripe, Provider::GitHub, Provider::Shopify];

    pub fn name(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::GitHub => "github",
            Self::Shopify => "shopify",
        }
    }
}

/// How the provider lays out its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Compact,
    /// Two-space indentation, as Stripe and GitHub send it.
    Pretty,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Compact, Layout::Pretty];

    pub fn name(self) -> &'static str {
        match self {
            Self::Compact => "compact",
            Self::Pretty => "pretty",
        }
    }
}

/// An accepted event carrying a sample body, with the id and type the provider would give it
/// (Stripe's `evt_` id, GitHub's and Shopify's delivery UUIDs), received on 2026-11-29.
pub fn sample_event(
    provider: Provider,
    layout: Layout,
    target_bytes: usize,
    seed: u64,
) -> AcceptedEvent {
    let body = webhook(provider, layout, target_bytes, seed);
    let mut rng = Rng::new(seed ^ 0x5EED);
    let (event_id, event_type) = match provider {
        Provider::Stripe => (format!("evt_{}", rng.alnum(24)), "payment_intent.succeeded"),
        Provider::GitHub => (rng.uuid(), "push"),
        Provider::Shopify => (rng.uuid(), "orders/create"),
    };
    AcceptedEvent::new(
        provider.name(),
        event_id,
        Some(event_type.to_owned()),
        Bytes::from(body),
        1_764_400_000_000 + rng.range(0, 86_400_000) as i64,
    )
}

/// The row exactly as the ingress wrote it in the legacy layout, before rows kept only what cannot
/// be derived (every attribute repeated, hex body hash, raw body, `attempts` 0), for before/after figures and for reading old rows in tests.
pub fn legacy_pending_item(event: &AcceptedEvent, shard: u16) -> HashMap<String, AttributeValue> {
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let mut item = HashMap::from([
        ("id".to_owned(), s(&event.key)),
        ("source".to_owned(), s(&event.source)),
        ("event_id".to_owned(), s(&event.event_id)),
        ("status".to_owned(), s("pending")),
        (
            "body".to_owned(),
            AttributeValue::B(Blob::new(event.body.to_vec())),
        ),
        ("body_sha256".to_owned(), s(&event.body_sha256)),
        (
            "received_at".to_owned(),
            AttributeValue::N(event.received_at.to_string()),
        ),
        ("attempts".to_owned(), AttributeValue::N("0".to_owned())),
        (
            "unsent_key".to_owned(),
            s(&unsent_key(RowStatus::Pending, &event.source, shard)),
        ),
    ]);
    if let Some(event_type) = &event.event_type {
        item.insert("event_type".to_owned(), s(event_type));
    }
    item
}

/// `row` as the release before the short attribute names wrote it: the same attributes under
/// their long names (`event_type`, `message_id` as text, `delivered_by` even for the ingress).
/// For before/after figures and for reading such rows in tests.
pub fn with_long_names(row: &HashMap<String, AttributeValue>) -> HashMap<String, AttributeValue> {
    let mut long: HashMap<String, AttributeValue> = row
        .iter()
        .map(|(name, value)| match (name.as_str(), value) {
            (attr::MESSAGE_ID, AttributeValue::B(bytes)) => {
                let bytes: [u8; 16] = bytes.as_ref().try_into().expect("a UUID's 16 bytes");
                (
                    attr::legacy::MESSAGE_ID.to_owned(),
                    AttributeValue::S(message_id_text(&bytes)),
                )
            }
            (name, value) => (display_name(name).to_owned(), value.clone()),
        })
        .collect();
    if row.contains_key(attr::MESSAGE_ID) && !row.contains_key(attr::SENT_BY) {
        long.insert(
            attr::legacy::DELIVERED_BY.to_owned(),
            AttributeValue::S("ingress".to_owned()),
        );
    }
    long
}

/// A Stripe `invoice.payment_succeeded` event of about 2.1 KB with six invoice lines, rendered
/// with a space after every `,` and `:` (as Stripe's own libraries and most re-serialisers print
/// JSON), its ids random 24-character strings: the densest 2 KB body we know of, whose sent row
/// billed 2 write units before the row's attributes were shortened. Keyed and typed as the
/// ingress keys it (`stripe:evt_...`, `invoice.payment_succeeded`).
pub fn stripe_invoice_event(seed: u64) -> AcceptedEvent {
    let mut rng = Rng::new(seed ^ 0x1A0_1CE5);
    let event_id = format!("evt_{}", rng.alnum(24));
    let body = spaced(&stripe_invoice(&mut rng, &event_id, 6));
    AcceptedEvent::new(
        "stripe",
        event_id,
        Some("invoice.payment_succeeded".to_owned()),
        Bytes::from(body),
        1_764_400_000_000 + rng.range(0, 86_400_000) as i64,
    )
}

fn stripe_invoice(rng: &mut Rng, event_id: &str, lines: usize) -> Value {
    let created = rng.epoch();
    let invoice = format!("in_{}", rng.alnum(24));
    let subscription = format!("sub_{}", rng.alnum(24));
    let currency = rng.pick(&["usd", "eur", "gbp"]);
    let data: Vec<Value> = (0..lines)
        .map(|_| {
            let quantity = rng.range(1, 5);
            let unit = rng.range(5, 300) * 100;
            json!({
                "id": format!("il_{}", rng.alnum(24)),
                "object": "line_item",
                "amount": quantity * unit,
                "currency": currency,
                "invoice_item": format!("ii_{}", rng.alnum(24)),
                "price": format!("price_{}", rng.alnum(24)),
                "quantity": quantity,
                "subscription_item": format!("si_{}", rng.alnum(24))
            })
        })
        .collect();
    let total: u64 = data.iter().filter_map(|line| line["amount"].as_u64()).sum();
    json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {
            "object": {
                "id": invoice,
                "object": "invoice",
                "amount_due": total,
                "amount_paid": total,
                "currency": currency,
                "customer": format!("cus_{}", rng.alnum(24)),
                "lines": { "object": "list", "data": data, "has_more": false, "total_count": lines },
                "payment_intent": format!("pi_{}", rng.alnum(24)),
                "status": "paid",
                "subscription": subscription,
                "total": total
            }
        },
        "livemode": true,
        "pending_webhooks": 1,
        "type": "invoice.payment_succeeded"
    })
}

/// `value` as one line with a space after every `,` and `:` (`{"a": 1, "b": [2, 3]}`).
pub fn spaced(value: &Value) -> Vec<u8> {
    struct Spaced;
    impl serde_json::ser::Formatter for Spaced {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }

        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }

        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
        ) -> std::io::Result<()> {
            writer.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Spaced);
    serde::Serialize::serialize(value, &mut serializer).map_or_else(|_| Vec::new(), |()| out)
}

/// A body of `provider`'s shape, as large as possible without exceeding `target_bytes` (the base
/// event alone when it is already larger).
pub fn webhook(provider: Provider, layout: Layout, target_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ (provider as u64).wrapping_mul(0x9E37_79B9));
    let (mut event, list_pointer) = match provider {
        Provider::Stripe => (stripe_event(&mut rng), "/data/object/charges/data"),
        Provider::GitHub => (github_push(&mut rng), "/commits"),
        Provider::Shopify => (shopify_order(&mut rng), "/line_items"),
    };
    let mut body = render(&event, layout);
    // Whole elements (charges, commits, line items) while they fit, then small ones (metadata,
    // topics, note attributes) to come close to the target.
    for small in [false, true] {
        loop {
            let (pointer, element) = match (provider, small) {
                (Provider::Stripe, false) => (list_pointer, stripe_charge(&mut rng)),
                (Provider::GitHub, false) => (list_pointer, github_commit(&mut rng)),
                (Provider::Shopify, false) => (list_pointer, shopify_line_item(&mut rng)),
                (Provider::Stripe, true) => ("/data/object/metadata", json!(rng.alnum(12))),
                (Provider::GitHub, true) => ("/repository/topics", json!(rng.word())),
                (Provider::Shopify, true) => (
                    "/note_attributes",
                    json!({ "name": rng.word(), "value": rng.alnum(10) }),
                ),
            };
            let mut grown = event.clone();
            match grown.pointer_mut(pointer) {
                Some(Value::Array(list)) => list.push(element),
                Some(Value::Object(map)) => {
                    let key = format!("{}_{}", rng.word(), map.len());
                    map.insert(key, element);
                }
                _ => {}
            }
            let rendered = render(&grown, layout);
            if rendered.len() > target_bytes {
                break;
            }
            (event, body) = (grown, rendered);
        }
    }
    body
}

fn render(event: &Value, layout: Layout) -> Vec<u8> {
    let rendered = match layout {
        Layout::Compact => serde_json::to_vec(event),
        Layout::Pretty => serde_json::to_vec_pretty(event),
    };
    rendered.unwrap_or_default()
}

fn stripe_event(rng: &mut Rng) -> Value {
    let created = rng.epoch();
    let amount = rng.range(500, 250_000);
    json!({
        "id": format!("evt_{}", rng.alnum(24)),
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {
            "object": {
                "id": format!("pi_{}", rng.alnum(24)),
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "capture_method": "automatic",
                "charges": { "object": "list", "data": [], "has_more": false },
                "client_secret": format!("pi_{}_secret_{}", rng.alnum(24), rng.alnum(25)),
                "created": created - rng.range(1, 30),
                "currency": rng.pick(&["usd", "eur", "gbp"]),
                "customer": format!("cus_{}", rng.alnum(14)),
                "description": format!("Order #{}", rng.range(10_000, 99_999)),
                "latest_charge": format!("ch_{}", rng.alnum(24)),
                "livemode": true,
                "metadata": { "order_id": rng.range(100_000, 999_999).to_string() },
                "payment_method": format!("pm_{}", rng.alnum(24)),
                "payment_method_types": ["card"],
                "status": "succeeded"
            }
        },
        "livemode": true,
        "pending_webhooks": rng.range(1, 3),
        "request": { "id": format!("req_{}", rng.alnum(14)), "idempotency_key": rng.uuid() },
        "type": "payment_intent.succeeded"
    })
}

fn stripe_charge(rng: &mut Rng) -> Value {
    let amount = rng.range(500, 250_000);
    json!({
        "id": format!("ch_{}", rng.alnum(24)),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "balance_transaction": format!("txn_{}", rng.alnum(24)),
        "billing_details": {
            "address": { "city": rng.pick(CITIES), "country": rng.pick(&["US", "DE", "FR", "GB"]), "postal_code": rng.range(10_000, 99_999).to_string() },
            "email": format!("{}@example.com", rng.word()),
            "name": rng.name()
        },
        "captured": true,
        "created": rng.epoch(),
        "outcome": { "network_status": "approved_by_network", "risk_level": "normal", "risk_score": rng.range(0, 99), "seller_message": "Payment complete.", "type": "authorized" },
        "paid": true,
        "payment_method_details": {
            "card": { "brand": rng.pick(&["visa", "mastercard", "amex"]), "exp_month": rng.range(1, 12), "exp_year": rng.range(2027, 2032), "fingerprint": rng.alnum(16), "funding": "credit", "last4": format!("{:04}", rng.range(0, 9999)) },
            "type": "card"
        },
        "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", rng.alnum(40)),
        "status": "succeeded"
    })
}

fn github_push(rng: &mut Rng) -> Value {
    let owner = rng.word();
    let repo = format!("{}-{}", rng.word(), rng.word());
    let full = format!("{owner}/{repo}");
    json!({
        "ref": "refs/heads/main",
        "before": rng.hex(40),
        "after": rng.hex(40),
        "repository": {
            "id": rng.range(10_000_000, 900_000_000),
            "node_id": format!("R_{}", rng.alnum(16)),
            "name": repo,
            "full_name": full,
            "private": true,
            "html_url": format!("https://github.com/{full}"),
            "url": format!("https://api.github.com/repos/{full}"),
            "default_branch": "main",
            "topics": []
        },
        "pusher": { "name": owner, "email": format!("{owner}@users.noreply.github.com") },
        "sender": {
            "login": owner,
            "id": rng.range(1_000, 90_000_000),
            "node_id": format!("U_{}", rng.alnum(16)),
            "type": "User"
        },
        "created": false,
        "deleted": false,
        "forced": false,
        "compare": format!("https://github.com/{full}/compare/{}...{}", rng.hex(12), rng.hex(12)),
        "commits": []
    })
}

fn github_commit(rng: &mut Rng) -> Value {
    let id = rng.hex(40);
    let author = rng.name();
    let login = rng.word();
    let words = rng.range(3, 12);
    let message: Vec<String> = (0..words).map(|_| rng.word()).collect();
    json!({
        "id": id,
        "tree_id": rng.hex(40),
        "distinct": true,
        "message": message.join(" "),
        "timestamp": format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}+01:00", rng.range(1, 12), rng.range(1, 28), rng.range(0, 23), rng.range(0, 59), rng.range(0, 59)),
        "url": format!("https://github.com/{}/{}/commit/{id}", rng.word(), rng.word()),
        "author": { "name": author, "email": format!("{login}@example.com"), "username": login },
        "committer": { "name": "GitHub", "email": "noreply@github.com", "username": "web-flow" },
        "added": [format!("src/{}.rs", rng.word())],
        "removed": [],
        "modified": [format!("src/{}/{}.rs", rng.word(), rng.word())]
    })
}

fn shopify_order(rng: &mut Rng) -> Value {
    let id = rng.range(5_000_000_000_000, 6_000_000_000_000);
    let total = format!("{}.{:02}", rng.range(5, 900), rng.range(0, 99));
    json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
        "created_at": format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}-05:00", rng.range(1, 12), rng.range(1, 28), rng.range(0, 23), rng.range(0, 59), rng.range(0, 59)),
        "currency": "USD",
        "current_total_price": total,
        "email": format!("{}.{}@example.com", rng.word(), rng.word()),
        "financial_status": "paid",
        "fulfillment_status": null,
        "name": format!("#{}", rng.range(1_000, 99_999)),
        "order_number": rng.range(1_000, 99_999),
        "token": rng.hex(32),
        "total_price": total,
        "customer": {
            "id": rng.range(6_000_000_000_000, 7_000_000_000_000),
            "first_name": rng.word(),
            "last_name": rng.word(),
            "state": "enabled"
        },
        "line_items": [],
        "note_attributes": []
    })
}

fn shopify_line_item(rng: &mut Rng) -> Value {
    let id = rng.range(13_000_000_000_000, 14_000_000_000_000);
    json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/LineItem/{id}"),
        "fulfillable_quantity": rng.range(1, 5),
        "fulfillment_service": "manual",
        "gift_card": false,
        "grams": rng.range(50, 5_000),
        "name": format!("{} {} - {}", rng.word(), rng.word(), rng.pick(&["S", "M", "L", "XL"])),
        "price": format!("{}.{:02}", rng.range(2, 400), rng.range(0, 99)),
        "product_id": rng.range(7_000_000_000_000, 8_000_000_000_000),
        "quantity": rng.range(1, 5),
        "requires_shipping": true,
        "sku": format!("{}-{}", rng.alnum(4).to_uppercase(), rng.range(100, 999)),
        "taxable": true,
        "title": format!("{} {}", rng.word(), rng.word()),
        "variant_id": rng.range(40_000_000_000_000, 50_000_000_000_000),
        "vendor": rng.word()
    })
}

const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Austin", "Leeds", "Porto", "Osaka", "Denver",
];

/// Vocabulary for names, commit messages and titles: real text repeats words, as here.
const WORDS: &[&str] = &[
    "alpha", "amber", "anchor", "apply", "audit", "basket", "batch", "beacon", "border", "bridge",
    "cache", "canvas", "cedar", "client", "cobalt", "config", "copper", "delta", "deploy", "drift",
    "ember", "engine", "falcon", "feature", "filter", "fix", "forest", "garden", "gateway",
    "granite", "harbor", "helper", "index", "island", "jasper", "kernel", "ledger", "linen",
    "marble", "meadow", "merge", "module", "nectar", "orbit", "parser", "pepper", "pixel",
    "quartz", "query", "refactor", "river", "router", "saddle", "schema", "signal", "silver",
    "socket", "spruce", "tensor", "timber", "token", "update", "velvet", "vendor", "walnut",
    "worker", "yarrow",
];

const NAMES: &[&str] = &[
    "Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Keiko",
    "Lars", "Maya", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
];

/// xorshift64*, seeded through splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(z | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn epoch(&mut self) -> u64 {
        self.range(1_750_000_000, 1_800_000_000)
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[(self.next() % choices.len() as u64) as usize]
    }

    fn word(&mut self) -> String {
        self.pick(WORDS).to_owned()
    }

    fn name(&mut self) -> String {
        format!("{} {}", self.pick(NAMES), capitalised(self.pick(WORDS)))
    }

    fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(CHARS[(self.next() % CHARS.len() as u64) as usize]))
            .collect()
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[(self.next() % 16) as usize]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_reach_their_target_size_without_exceeding_it() {
        for provider in Provider::ALL {
            for layout in Layout::ALL {
                for target in [2048, 8192, 32768] {
                    let body = webhook(provider, layout, target, 1);
                    assert!(body.len() <= target, "{provider:?} {layout:?} {target}");
                    assert!(
                        body.len() > target - 64,
                        "{provider:?} {layout:?} {target}: {}",
                        body.len()
                    );
                    assert!(serde_json::from_slice::<Value>(&body).is_ok());
                }
            }
        }
    }

    #[test]
    fn the_invoice_event_is_2_kb_of_spaced_json_with_six_lines() {
        for seed in 0..20 {
            let event = stripe_invoice_event(seed);
            let body: Value = serde_json::from_slice(&event.body).unwrap();
            assert_eq!(body["id"].as_str(), Some(event.event_id.as_str()));
            assert_eq!(
                body["data"]["object"]["lines"]["data"]
                    .as_array()
                    .unwrap()
                    .len(),
                6
            );
            assert!(
                (2000..=2250).contains(&event.body.len()),
                "{}",
                event.body.len()
            );
            assert!(event.body.windows(4).any(|w| w == b"\", \""));
            // Every key is followed by `: `, every element by `, ` (none of the values holds a quote).
            assert!(event
                .body
                .windows(3)
                .all(|w| w[..2] != *b"\":" || w[2] == b' '));
            assert!(event
                .body
                .windows(3)
                .all(|w| w[..2] != *b"\"," || w[2] == b' '));
        }
        assert_eq!(
            spaced(&json!({"a": [1, 2], "b": {}})),
            br#"{"a": [1, 2], "b": {}}"#
        );
        assert_ne!(stripe_invoice_event(1).body, stripe_invoice_event(2).body);
        assert_eq!(stripe_invoice_event(1).body, stripe_invoice_event(1).body);
    }

    #[test]
    fn samples_differ_by_seed_and_repeat_by_seed() {
        let one = webhook(Provider::Stripe, Layout::Compact, 2048, 1);
        assert_eq!(one, webhook(Provider::Stripe, Layout::Compact, 2048, 1));
        assert_ne!(one, webhook(Provider::Stripe, Layout::Compact, 2048, 2));
    }
}
