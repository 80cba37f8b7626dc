//! Capacity arithmetic of the outbox table: write and read units by size, and what a peak of
//! webhooks needs in index shards and warm throughput (docs/COST.md). How DynamoDB sizes an item
//! of attribute values is in [`crate::aws::dynamodb::item_size`].

pub const WRITE_UNIT_BYTES: usize = 1024;
pub const READ_UNIT_BYTES: usize = 4096;

/// Write units of one write, split between the table and its index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteUnits {
    pub table: u64,
    pub index: u64,
}

impl WriteUnits {
    pub fn total(self) -> u64 {
        self.table + self.index
    }
}

impl std::ops::Add for WriteUnits {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            table: self.table + other.table,
            index: self.index + other.index,
        }
    }
}

/// Write units for an item of `bytes`: one per started KiB, at least one.
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Read units of a strongly consistent read of an item of `bytes`.
pub fn consistent_read_units(bytes: usize) -> u64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64
}

/// The write units one partition of a table or index serves a second, whatever the table's
/// throughput: the pending index puts every row of a shard on one partition.
pub const PARTITION_WRITE_UNITS_PER_SECOND: u64 = 1000;
/// What a new on-demand table, and each new index, serves at once before it has scaled.
pub const NEW_TABLE_WRITE_UNITS_PER_SECOND: u64 = 4000;
/// The share of a quota a sizing plans to use: the rest absorbs uneven shards and retries.
pub const PLANNED_SHARE: f64 = 0.8;
/// The share of a partition's quota the shard count plans to use. Lower than [`PLANNED_SHARE`]:
/// a partition takes one shard's webhooks, each writing its entry and then removing it within
/// milliseconds, so its arrivals are far lumpier than the table's or the whole index's (the
/// capacity wind tunnel at 80 % refused some 5 % of the partitions' writes while the table and
/// the index at the same 80 % refused none; docs/CAPACITY.md), and a shard costs only one more
/// Query a sweep.
pub const PARTITION_PLANNED_SHARE: f64 = 0.5;
/// The largest `PENDING_SHARDS` the configuration accepts.
const MAX_PENDING_SHARDS: u16 = 256;

/// Index entries written per webhook: added with the pending row, removed when it is sent.
pub const INDEX_WRITES_PER_WEBHOOK: u64 = 2;

/// `PENDING_SHARDS` for an expected peak of `webhooks_per_second` for one source: each webhook
/// writes two entries of its shard's index partition, and a partition takes
/// [`PARTITION_WRITE_UNITS_PER_SECOND`], planned at [`PARTITION_PLANNED_SHARE`]. Never below the
/// default 8.
pub fn pending_shards_for(webhooks_per_second: f64) -> u16 {
    let per_shard = PARTITION_WRITE_UNITS_PER_SECOND as f64 * PARTITION_PLANNED_SHARE
        / INDEX_WRITES_PER_WEBHOOK as f64;
    let shards = (webhooks_per_second / per_shard).ceil();
    (shards.clamp(8.0, f64::from(MAX_PENDING_SHARDS))) as u16
}

/// The table's warm write throughput for a peak of `webhooks_per_second` with rows of `row_bytes`:
/// the put and the mark-sent update each bill one unit per started KiB, planned at
/// [`PLANNED_SHARE`]. `None` when a new table's own throughput already covers it.
pub fn table_warm_write_units_for(webhooks_per_second: f64, row_bytes: usize) -> Option<u64> {
    let per_webhook = 2 * write_units(row_bytes);
    warm_units(webhooks_per_second * per_webhook as f64)
}

/// The unsent-index's warm write throughput for a peak of `webhooks_per_second` (two one-unit
/// entries a webhook), or `None` when a new index's own throughput covers it.
pub fn index_warm_write_units_for(webhooks_per_second: f64) -> Option<u64> {
    warm_units(webhooks_per_second * INDEX_WRITES_PER_WEBHOOK as f64)
}

fn warm_units(units_per_second: f64) -> Option<u64> {
    let planned = (units_per_second / PLANNED_SHARE / 1000.0).ceil() as u64 * 1000;
    (planned > NEW_TABLE_WRITE_UNITS_PER_SECOND).then_some(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_shards_grow_with_the_peak_from_the_default_eight() {
        assert_eq!(pending_shards_for(0.0), 8);
        // 8 shards take 8 x 1,000 x 0.5 / 2 = 2,000 webhooks a second.
        assert_eq!(pending_shards_for(2000.0), 8);
        assert_eq!(pending_shards_for(2001.0), 9);
        assert_eq!(pending_shards_for(10_000.0), 40);
        assert_eq!(pending_shards_for(1e9), 256);
    }

    #[test]
    fn warm_throughput_is_sized_from_the_peak_and_the_row() {
        // Rows under 1 KiB (most webhooks, stored compressed): 2 units a webhook on the table;
        // rows of 1-2 KiB: 4. The index: 2.
        assert_eq!(table_warm_write_units_for(10_000.0, 1000), Some(25_000));
        assert_eq!(table_warm_write_units_for(10_000.0, 1800), Some(50_000));
        assert_eq!(index_warm_write_units_for(10_000.0), Some(25_000));
        // What a new table serves anyway needs no warm throughput.
        assert_eq!(table_warm_write_units_for(1600.0, 1000), None);
        assert_eq!(index_warm_write_units_for(1600.0), None);
    }

    #[test]
    fn units_are_per_started_kib() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(consistent_read_units(4097), 2);
    }
}
