//! The small primitives several domain modules share: the body's lazily parsed JSON, its hash,
//! the outbox key, and where settings are read from (the process environment, or a map in tests). It sits below every other module and imports none of them, so routes, events,
//! the outbox and configuration can all use it without importing each other.

use sha2::{Digest, Sha256};

/// An error kept as the source of a typed error, whatever produced it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The values JSON pointers lead to in the body, each looked up at most once, and only if asked
/// for. A lookup is one streaming pass that keeps nothing but the value pointed at: skipped parts
/// are only checked (`IgnoredAny`), so a 6 MiB body costs no more memory than its bytes, where a
/// whole `serde_json::Value` tree takes many times that.
#[derive(Default)]
pub struct LazyJson {
    found: std::cell::RefCell<Vec<(String, Option<String>)>>,
    /// The body is not JSON: no pointer finds anything, and no other pass is made.
    not_json: std::cell::Cell<bool>,
}

impl LazyJson {
    /// The string at `pointer`, or the number there as its exact text in the body (so ids beyond
    /// 64 bits keep every digit), if the whole body is JSON and has one there.
    pub(crate) fn scalar_at(&self, body: &[u8], pointer: &str) -> Option<String> {
        if self.not_json.get() {
            return None;
        }
        if let Some((_, value)) = self.found.borrow().iter().find(|(p, _)| p == pointer) {
            return value.clone();
        }
        let value = match json_pointer::scalar_at(body, pointer) {
            Ok(value) => value,
            Err(json_pointer::NotJson) => {
                self.not_json.set(true);
                None
            }
        };
        self.found
            .borrow_mut()
            .push((pointer.to_owned(), value.clone()));
        value
    }
}

/// RFC 6901 pointers resolved by a streaming pass over the body (serde_json's own rules for
/// tokens and indices, and the last of duplicate keys, as `serde_json::Value::pointer` has them).
mod json_pointer {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    /// The body is not one JSON document.
    pub struct NotJson;

    pub(crate) fn scalar_at(body: &[u8], pointer: &str) -> Result<Option<String>, NotJson> {
        let path: Vec<String> = if pointer.is_empty() {
            Vec::new()
        } else {
            let Some(tokens) = pointer.strip_prefix('/') else {
                return Ok(None);
            };
            tokens
                .split('/')
                .map(|token| token.replace("~1", "/").replace("~0", "~"))
                .collect()
        };
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let found = Lookup { path: &path }
            .deserialize(&mut deserializer)
            .map_err(|_| NotJson)?;
        deserializer.end().map_err(|_| NotJson)?;
        Ok(found.and_then(scalar_text))
    }

    /// A string's value, or a number's exact text.
    fn scalar_text(raw: &RawValue) -> Option<String> {
        let text = raw.get();
        match text.as_bytes().first()? {
            b'"' => serde_json::from_str(text).ok(),
            b'-' | b'0'..=b'9' => Some(text.to_owned()),
            _ => None,
        }
    }

    /// An array index as serde_json reads one: digits only, no leading zero.
    fn index(token: &str) -> Option<usize> {
        if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
            return None;
        }
        token.parse().ok()
    }

    /// The value at `path` below the current one, borrowed from the body.
    struct Lookup<'p> {
        path: &'p [String],
    }

    impl<'de> DeserializeSeed<'de> for Lookup<'_> {
        type Value = Option<&'de RawValue>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            match self.path.split_first() {
                None => <&RawValue as serde::Deserialize>::deserialize(deserializer).map(Some),
                Some((token, rest)) => deserializer.deserialize_any(Step { token, rest }),
            }
        }
    }

    /// One level of the path: `token` in an object or an array, `rest` below it.
    struct Step<'p> {
        token: &'p str,
        rest: &'p [String],
    }

    impl<'de> Visitor<'de> for Step<'_> {
        type Value = Option<&'de RawValue>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut found = None;
            while let Some(matches) = map.next_key_seed(KeyIs(self.token))? {
                if matches {
                    // The last of duplicate keys wins, as in a parsed map.
                    found = map.next_value_seed(Lookup { path: self.rest })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }

        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
            let wanted = index(self.token);
            let mut found = None;
            let mut position = 0;
            loop {
                if Some(position) == wanted {
                    match seq.next_element_seed(Lookup { path: self.rest })? {
                        Some(value) => found = value,
                        None => break,
                    }
                } else if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                position += 1;
            }
            Ok(found)
        }

        // A scalar has nothing below it.
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    /// Whether an object key equals the token, compared without keeping the key.
    struct KeyIs<'p>(&'p str);

    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
            deserializer.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }
}

/// The outbox key `{source}:{event id}`.
pub fn outbox_key(source: &str, event_id: &str) -> String {
    format!("{source}:{event_id}")
}

/// Where configuration values come from: the process environment, or a map in tests.
pub trait EnvSource {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for std::collections::HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|value| (*value).to_owned())
    }
}

impl EnvSource for std::collections::HashMap<&str, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}
