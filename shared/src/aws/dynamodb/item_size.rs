//! What DynamoDB bills for the items the outbox writes, by its published item-size rules, so the
//! cost model (docs/COST.md) is computed from the attribute maps the code really builds and
//! cannot drift from them. moto's ConsumedCapacity figures are not real, hence a model.
//!
//! Rules (DynamoDB developer guide, "Item sizes" and "Write capacity units"):
//! - an item's size is the sum over its attributes of the name's UTF-8 length plus the value's
//!   size: S = UTF-8 bytes, B = raw bytes, N = one byte per two significant digits plus one,
//!   BOOL/NULL = 1, L/M = 3 + the elements + 1 per element, sets = the sum of their elements;
//! - one write unit per started KiB of the item, at least one; an UpdateItem bills the larger of
//!   the item before and after; a conditional write that fails still bills the item's units;
//! - a global secondary index bills its own writes: putting an entry, and deleting it when the
//!   item loses the index key (a change of index key is a delete and a put). A KEYS_ONLY entry is
//!   the index keys, the table key and 100 bytes of overhead;
//! - deletes by TTL are free; a strongly consistent read costs one read unit per started 4 KiB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::cost::{write_units, WriteUnits};

/// What DynamoDB adds to every index entry's size.
pub const INDEX_ENTRY_OVERHEAD_BYTES: usize = 100;

/// An item as the SDK sends it.
pub type Item = HashMap<String, AttributeValue>;

/// A KEYS_ONLY global secondary index: its key attributes and the table's key.
#[derive(Debug, Clone, Copy)]
pub struct KeysOnlyIndex {
    pub table_key: &'static [&'static str],
    pub index_key: &'static [&'static str],
}

impl KeysOnlyIndex {
    /// The size of `item`'s entry in this index; `None` when the item lacks an index key
    /// attribute (a sparse index holds no entry for it).
    pub fn entry_size(&self, item: &Item) -> Option<usize> {
        let mut size = INDEX_ENTRY_OVERHEAD_BYTES;
        for name in self.index_key {
            size += name.len() + value_size(item.get(*name)?);
        }
        for name in self.table_key {
            size += name.len() + item.get(*name).map_or(0, value_size);
        }
        Some(size)
    }

    fn entry_key<'i>(&self, item: &'i Item) -> Option<Vec<&'i AttributeValue>> {
        self.index_key.iter().map(|name| item.get(*name)).collect()
    }
}

/// The size DynamoDB counts for one attribute value (without its name).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| name.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        // A type this SDK version does not know: count it as its name only.
        _ => 0,
    }
}

/// One byte per two significant digits (leading and trailing zeros dropped), plus one.
fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// The size DynamoDB counts for an item: every attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// What a PutItem of a new `item` bills.
pub fn put(item: &Item, index: &KeysOnlyIndex) -> WriteUnits {
    WriteUnits {
        table: write_units(item_size(item)),
        index: index.entry_size(item).map_or(0, write_units),
    }
}

/// What an UpdateItem turning `old` into `new` bills: the larger item, plus the index's delete
/// and/or put when the entry appears, disappears or changes key.
pub fn update(old: &Item, new: &Item, index: &KeysOnlyIndex) -> WriteUnits {
    let table = write_units(item_size(old).max(item_size(new)));
    let delete_old = index.entry_size(old).map_or(0, write_units);
    let put_new = index.entry_size(new).map_or(0, write_units);
    let index_units = match (index.entry_key(old), index.entry_key(new)) {
        (Some(before), Some(after)) if before == after => 0,
        _ => delete_old + put_new,
    };
    WriteUnits {
        table,
        index: index_units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    const INDEX: KeysOnlyIndex = KeysOnlyIndex {
        table_key: &["id"],
        index_key: &["gsi", "at"],
    };

    #[test]
    fn sizes_follow_the_published_rules() {
        assert_eq!(value_size(&s("héllo")), 6);
        assert_eq!(value_size(&AttributeValue::B(Blob::new(vec![0; 32]))), 32);
        // 13 significant digits: 7 bytes + 1.
        assert_eq!(value_size(&AttributeValue::N("1764390000123".into())), 8);
        assert_eq!(value_size(&AttributeValue::N("1000".into())), 2);
        assert_eq!(value_size(&AttributeValue::N("0".into())), 1);
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        let list = AttributeValue::L(vec![s("ab"), s("c")]);
        assert_eq!(value_size(&list), 3 + 3 + 2);
        let map = AttributeValue::M(HashMap::from([("k".to_owned(), s("vv"))]));
        assert_eq!(value_size(&map), 3 + 1 + 2 + 1);
        let item = Item::from([
            ("id".to_owned(), s("abc")),
            ("n".to_owned(), AttributeValue::N("12".into())),
        ]);
        assert_eq!(item_size(&item), 2 + 3 + 1 + 2);
    }

    #[test]
    fn an_update_bills_the_larger_item_and_the_index_changes() {
        let old = Item::from([
            ("id".to_owned(), s("k")),
            (
                "body".to_owned(),
                AttributeValue::B(Blob::new(vec![1; 1500])),
            ),
            ("gsi".to_owned(), s("pending#1")),
            ("at".to_owned(), AttributeValue::N("17".into())),
        ]);
        let mut new = old.clone();
        new.remove("gsi");
        assert_eq!(put(&old, &INDEX), WriteUnits { table: 2, index: 1 });
        // Leaving the sparse index deletes its entry.
        assert_eq!(
            update(&old, &new, &INDEX),
            WriteUnits { table: 2, index: 1 }
        );
        let mut moved = old.clone();
        moved.insert("gsi".to_owned(), s("parked#1"));
        // A new index key is a delete and a put.
        assert_eq!(
            update(&old, &moved, &INDEX),
            WriteUnits { table: 2, index: 2 }
        );
        let mut same_key = old.clone();
        same_key.insert("note".to_owned(), s("x"));
        assert_eq!(update(&old, &same_key, &INDEX).index, 0);
    }

    #[test]
    fn an_index_entry_is_its_keys_plus_overhead() {
        let item = Item::from([
            ("id".to_owned(), s("src:evt")),
            ("gsi".to_owned(), s("p#1")),
            ("at".to_owned(), AttributeValue::N("12".into())),
            (
                "body".to_owned(),
                AttributeValue::B(Blob::new(vec![1; 5000])),
            ),
        ]);
        assert_eq!(
            INDEX.entry_size(&item),
            Some(100 + (3 + 3) + (2 + 2) + (2 + 7))
        );
    }
}
