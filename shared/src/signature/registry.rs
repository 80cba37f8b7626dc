//! The one list of every `SIGNATURE_SCHEME` value. A provider whose signature is an HMAC over
//! header-addressed parts of the request is a declared entry (its rule in `catalog.rs`); a scheme
//! that is something else is a coded entry (a [`Scheme`] in `coded.rs`, its code in its own file);
//! the schemes made from settings of their own are configured entries. The scheme names, the
//! configuration's error, the ingress's `--help` and `docs/providers.md`'s table are derived from
//! or checked against this list, as are the test vectors and the fuzz target.

use super::catalog::{
    BITBUCKET, CALENDLY, GITHUB, HUBSPOT, INTERCOM, LINEAR, PADDLE, PAGERDUTY, RAZORPAY, SHOPIFY,
    SLACK, SQUARE, STRIPE, TWITCH, TYPEFORM, WOOCOMMERCE, ZENDESK,
};
use super::coded::{Basic, Discord, GitLab, Mailgun, SendGrid, StandardWebhooks, Twilio};
use super::{HmacScheme, Scheme, CUSTOM_SCHEME};

/// One `SIGNATURE_SCHEME` value.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy)]
pub enum EntryKind {
    /// An HMAC scheme described by its rule.
    Declared(&'static HmacScheme),
    /// A scheme with code of its own.
    Coded(&'static dyn Scheme),
    /// A scheme made from the named settings (`hmac-sha256`, `token`, `custom`).
    Configured { settings: &'static [&'static str] },
}

const fn declared(name: &'static str, scheme: &'static HmacScheme) -> Entry {
    Entry {
        name,
        kind: EntryKind::Declared(scheme),
    }
}

const fn coded(name: &'static str, scheme: &'static dyn Scheme) -> Entry {
    Entry {
        name,
        kind: EntryKind::Coded(scheme),
    }
}

/// Every scheme, in the order error messages, `--help` and `docs/providers.md` list them.
pub const REGISTRY: &[Entry] = &[
    coded("standard-webhooks", &StandardWebhooks),
    Entry {
        name: "hmac-sha256",
        kind: EntryKind::Configured {
            settings: &["SIGNATURE_HEADER", "SIGNATURE_ENCODING", "SIGNATURE_PREFIX"],
        },
    },
    declared("stripe", &STRIPE),
    declared("github", &GITHUB),
    declared("shopify", &SHOPIFY),
    declared("slack", &SLACK),
    declared("paddle", &PADDLE),
    declared("hubspot", &HUBSPOT),
    declared("zendesk", &ZENDESK),
    declared("calendly", &CALENDLY),
    declared("twitch", &TWITCH),
    declared("linear", &LINEAR),
    declared("intercom", &INTERCOM),
    declared("pagerduty", &PAGERDUTY),
    declared("typeform", &TYPEFORM),
    declared("bitbucket", &BITBUCKET),
    declared("woocommerce", &WOOCOMMERCE),
    declared("razorpay", &RAZORPAY),
    declared("square", &SQUARE),
    coded("mailgun", &Mailgun),
    coded("twilio", &Twilio),
    coded("sendgrid", &SendGrid),
    coded("discord", &Discord),
    coded("gitlab", &GitLab),
    Entry {
        name: "token",
        kind: EntryKind::Configured {
            settings: &["SIGNATURE_HEADER", "SIGNATURE_PREFIX"],
        },
    },
    coded("basic", &Basic),
    Entry {
        name: CUSTOM_SCHEME,
        kind: EntryKind::Configured {
            settings: &["SIGNATURE_SPEC"],
        },
    },
];

const COUNT: usize = REGISTRY.len();

const fn names() -> [&'static str; COUNT] {
    let mut out = [""; COUNT];
    let mut index = 0;
    while index < COUNT {
        out[index] = REGISTRY[index].name;
        index += 1;
    }
    out
}

const NAMES: [&str; COUNT] = names();

/// Every `SIGNATURE_SCHEME` value, in the registry's order.
pub const SCHEME_NAMES: &[&str] = &NAMES;

/// The declared entries of the registry.
pub fn declared_schemes() -> impl Iterator<Item = &'static HmacScheme> {
    REGISTRY.iter().filter_map(|entry| match entry.kind {
        EntryKind::Declared(scheme) => Some(scheme),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderName};

    use super::super::catalog::tests as catalog;
    use super::super::spec::tests as spec;
    use super::super::{
        GenericHmac, SignatureEncoding, SignatureScheme, SignedRequest, TokenHeader,
    };
    use super::*;

    /// A request signed by the provider's own rule or SDK, independently of this crate.
    struct Vector {
        scheme: SignatureScheme,
        secret: &'static str,
        /// An active secret that did not sign it.
        other_secret: &'static str,
        url: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static [u8],
        now: i64,
    }

    /// The scheme a configured entry stands for in the vectors.
    fn configured(name: &str) -> SignatureScheme {
        match name {
            "hmac-sha256" => SignatureScheme::HmacSha256(GenericHmac {
                header: HeaderName::from_static("x-hub-signature-256"),
                encoding: SignatureEncoding::Hex,
                prefix: "sha256=".to_owned(),
            }),
            "token" => SignatureScheme::Token(TokenHeader {
                header: HeaderName::from_static("x-webhook-token"),
                prefix: String::new(),
            }),
            "custom" => SignatureScheme::Hmac(super::super::parse_spec(spec::MUX).unwrap()),
            other => panic!("no configured scheme {other}"),
        }
    }

    /// Every scheme's vectors: the catalog's (made with Python's `hmac` from each provider's
    /// documented rule, see `catalog.rs`) and the published examples the coded schemes' own tests
    /// use (the Standard Webhooks specification's, Twilio's, and the PyNaCl / `cryptography`
    /// signatures of `asymmetric.rs`).
    fn vectors() -> Vec<Vector> {
        let mut all: Vec<Vector> = declared_schemes()
            .map(|declared| Vector {
                scheme: SignatureScheme::Hmac(declared),
                secret: catalog::SECRET,
                other_secret: "another-secret",
                url: catalog::URL,
                headers: catalog::documented(declared.name).to_vec(),
                body: catalog::BODY,
                now: catalog::NOW,
            })
            .collect();
        all.extend([
            Vector {
                scheme: SignatureScheme::StandardWebhooks,
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                other_secret: "whsec_b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVzLTAw",
                url: "",
                headers: vec![
                    ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                    ("webhook-timestamp", "1614265330"),
                    (
                        "webhook-signature",
                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                    ),
                ],
                body: br#"{"test": 2432232314}"#,
                now: 1_614_265_330,
            },
            // Python's `hmac` over the body, read by a generic `hmac-sha256` configuration.
            Vector {
                scheme: configured("hmac-sha256"),
                secret: "It's-a-Secret-to-Everybody",
                other_secret: "another-secret",
                url: "",
                headers: vec![(
                    "x-hub-signature-256",
                    "sha256=fff9d530176ddefaf50a3004e52ad278a4ef09eee3f00efc14fc4c207384f931",
                )],
                body: b"Hello, World!",
                now: 0,
            },
            Vector {
                scheme: SignatureScheme::Mailgun,
                secret: "key-mailgun-doc-0001",
                other_secret: "key-another",
                url: "",
                headers: vec![],
                body: br#"{"signature":{"timestamp":"1700000000","token":"a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0","signature":"9d73753bc26ababacc69d9a7804468a298d3235d89ffdd8218934fc3016bd581"},"event-data":{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered"}}"#,
                now: 1_700_000_000,
            },
            // Twilio's security documentation's example.
            Vector {
                scheme: SignatureScheme::Twilio,
                secret: "12345",
                other_secret: "54321",
                url: "https://mycompany.com/myapp.php?foo=1&bar=2",
                headers: vec![
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
                ],
                body: b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212",
                now: 0,
            },
            Vector {
                scheme: SignatureScheme::SendGrid,
                secret: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEb/A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY8T3U6Vb8B3FP2wLDH7ueLQMb/fSWpbiKCuYnO9xwUSg==",
                other_secret: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVQ9HEAPz35fD31Bqx5f2ch+xoft7j2+D0iRJimXIjiQTYJPXAS5QmnNxXL0LAKPMD/S1wBs/+hlqsfsycDa45g==",
                url: "",
                headers: vec![
                    (
                        "x-twilio-email-event-webhook-signature",
                        "MEQCIB07vArlEVxSHDDw+954z3LyMR07b7Vzcq8XpV8lNS7IAiBXGjmuxpA159i23R5PeD85A4fQwIo4SezuKXh+PXs6hA==",
                    ),
                    ("x-twilio-email-event-webhook-timestamp", "1700000000"),
                ],
                body: br#"[{"sg_event_id":"e1","event":"delivered"}]"#,
                now: 1_700_000_000,
            },
            Vector {
                scheme: SignatureScheme::Discord,
                secret: "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                other_secret: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                url: "",
                headers: vec![
                    ("x-signature-ed25519", "9ef52e0980512fc86504213828935ead2d8ad69632af84e31aae7c0a1593a04f81779d871c1d68240dce56038c60788e51e59a6c3f14c72a4183c785b1e8b70e"),
                    ("x-signature-timestamp", "1700000000"),
                ],
                body: br#"{"type":1}"#,
                now: 1_700_000_000,
            },
            Vector {
                scheme: SignatureScheme::GitLab,
                secret: "gitlab-token",
                other_secret: "another-token",
                url: "",
                headers: vec![("x-gitlab-token", "gitlab-token")],
                body: b"{}",
                now: 0,
            },
            Vector {
                scheme: configured("token"),
                secret: "a-token",
                other_secret: "another-token",
                url: "",
                headers: vec![("x-webhook-token", "a-token")],
                body: b"{}",
                now: 0,
            },
            // Mux's rule as a `SIGNATURE_SPEC`, signed by Python's `hmac` (docs/custom-schemes.md).
            Vector {
                scheme: configured("custom"),
                secret: "mux-signing-secret",
                other_secret: "another-secret",
                url: "",
                headers: vec![("mux-signature", spec::MUX_HEADER)],
                body: spec::MUX_BODY,
                now: 1_700_000_000,
            },
            // `curl -u hooks:correct-horse` sends this header.
            Vector {
                scheme: SignatureScheme::Basic,
                secret: "hooks:correct-horse",
                other_secret: "hooks:wrong",
                url: "",
                headers: vec![("authorization", "Basic aG9va3M6Y29ycmVjdC1ob3JzZQ==")],
                body: b"{}",
                now: 0,
            },
        ]);
        all
    }

    fn verify(vector: &Vector, secret: &str) -> bool {
        let headers: HeaderMap = vector
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                )
            })
            .collect();
        let keys = vector.scheme.parse_keys(secret).unwrap();
        let request = SignedRequest {
            method: "POST",
            url: vector.url,
            headers: &headers,
            body: vector.body,
        };
        vector
            .scheme
            .verify_request(&request, &keys, vector.now, 300)
            .is_ok()
    }

    #[test]
    fn every_scheme_has_a_vector_that_verifies_under_its_secret_only() {
        let vectors = vectors();
        for entry in REGISTRY {
            let mine: Vec<&Vector> = vectors
                .iter()
                .filter(|vector| vector.scheme.name() == entry.name)
                .collect();
            assert!(!mine.is_empty(), "{} has no test vector", entry.name);
            for vector in mine {
                assert!(verify(vector, vector.secret), "{}", entry.name);
                assert!(!verify(vector, vector.other_secret), "{}", entry.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_each_entry_is_the_scheme_it_names() {
        for (index, entry) in REGISTRY.iter().enumerate() {
            assert!(
                !SCHEME_NAMES[..index].contains(&entry.name),
                "{} twice",
                entry.name
            );
            assert_eq!(SCHEME_NAMES[index], entry.name);
            match entry.kind {
                EntryKind::Declared(declared) => assert_eq!(declared.name, entry.name),
                EntryKind::Coded(coded) => assert_eq!(coded.name(), entry.name),
                EntryKind::Configured { settings } => {
                    assert!(SignatureScheme::named(entry.name).is_none());
                    assert!(!settings.is_empty(), "{}", entry.name);
                    continue;
                }
            }
            assert_eq!(
                SignatureScheme::named(entry.name).map(|scheme| scheme.name()),
                Some(entry.name)
            );
        }
    }

    /// docs/providers.md's table: one row per scheme, in the registry's order.
    #[test]
    fn the_providers_table_has_one_row_per_scheme_in_order() {
        let doc = include_str!("../../../docs/providers.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once("` |").map(|(name, _)| name))
            .collect();
        assert_eq!(rows, SCHEME_NAMES, "docs/providers.md's table");
    }

    /// The fuzz target covers every scheme through `SCHEME_NAMES`; a scheme whose secret is not
    /// plain text, which is made from settings, or which it cannot sign through `sign_request`
    /// must be handled there by name.
    #[test]
    fn the_fuzz_target_can_configure_key_and_sign_every_scheme() {
        let target = include_str!("../../../fuzz/fuzz_targets/admit.rs");
        for entry in REGISTRY {
            let name = entry.name;
            let needs_a_case = match entry.kind {
                EntryKind::Configured { .. } => true,
                EntryKind::Declared(_) => false,
                EntryKind::Coded(coded) => {
                    let scheme = SignatureScheme::Coded(coded);
                    match scheme.parse_keys("fuzz-secret") {
                        Err(_) => true,
                        Ok(keys) => scheme
                            .sign(keys.first().unwrap(), "evt_1", 0, b"{}")
                            .is_empty(),
                    }
                }
            };
            if needs_a_case {
                assert!(
                    target.contains(&format!("\"{name}\"")),
                    "fuzz/fuzz_targets/admit.rs does not handle {name}"
                );
            }
        }
    }
}
