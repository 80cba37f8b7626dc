//! `fake-aws`: an in-memory DynamoDB and SQS that answer at once, for the sweeper's drain
//! benchmark. moto, the emulator every test uses, takes several milliseconds of one Python thread
//! per call, so against it the drain measures moto; against this fake (behind the latency proxy)
//! it measures the sweeper: its CPU per row and how its rate follows AWS latency and its
//! concurrency.
//!
//! ```text
//! fake-aws [--secret VALUE] [--quotas JSON]   # prints `listening http://127.0.0.1:PORT`
//! ```
//!
//! With `--quotas` it also enforces AWS's throughput quotas, as token buckets refilled by the
//! clock (the capacity wind tunnel scales them down): write units a second for the table, for the
//! unsent-index as a whole and for each of its partitions (one per hash key value), and
//! GetParameter calls a second. Write units follow DynamoDB's rules (one per started KiB of the
//! item, an UpdateItem billing the larger of before and after; an index entry put or removed is
//! one unit of its partition). A write that any bucket cannot pay is refused whole, as DynamoDB
//! refuses a table write its index cannot take, with `ProvisionedThroughputExceededException`;
//! SSM answers `ThrottlingException`. `GET /_stats` answers the counters and `GET /_messages`
//! the `event-id` of every message queued, for the wind tunnel's consumer; `POST /_load` stores a
//! JSON array of items as they are, unbilled (a backlog left by an outage).
//!
//! It implements only what the bench's backlog writer, the sweeper, the ingress's cold start and
//! the reconciler call, the way they call it: SSM GetParameter (every name has the value of
//! `--secret`: the webhook secret, and the reconciler's API credential), DescribeTable,
//! GetQueueAttributes, SendMessage, PutItem (optionally `attribute_not_exists`), GetItem, Query on
//! the `unsent-index` (a key, an optional `received_at` range, `Limit`, `ExclusiveStartKey`,
//! `Select=COUNT`), BatchGetItem, UpdateItem (`SET`/`REMOVE` with `=`, `IN`, number comparisons
//! and `attribute_not_exists` conditions joined by AND and OR, `ReturnValues=ALL_NEW`,
//! `ReturnValuesOnConditionCheckFailure=ALL_OLD`: the checkpoint's lease), and SendMessageBatch
//! (messages are counted and dropped). `GET /_stats` also counts refused writes by operation and
//! by the bucket that could not pay (the table, the index, an index partition). Anything else is
//! answered 400 `UnknownOperationException` with the operation named, so the benchmark fails
//! loudly instead of measuring a wrong path.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};

type Item = Map<String, Value>;

/// A call refused as DynamoDB, SQS or SSM would refuse it: a 400 with this type and message
/// (and, for a failed condition that asked for it, the item as it was).
#[derive(Debug)]
struct Refusal(&'static str, String, Option<Value>);

impl Refusal {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self(kind, message.into(), None)
    }

    fn with_item(kind: &'static str, message: &str, item: Option<Value>) -> Self {
        Self(kind, message.to_owned(), item)
    }
}

fn refuse<T>(kind: &'static str, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::new(kind, message))
}

/// A token bucket: `rate` tokens a second, holding at most `burst` seconds of them.
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(rate: f64, burst_secs: f64, now: Instant) -> Self {
        let capacity = (rate * burst_secs).max(1.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            refilled: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.refilled = now;
    }
}

/// The quotas to enforce, per second (`--quotas`, JSON with these names).
#[derive(Clone, Copy)]
struct Quotas {
    table_write_units: f64,
    index_write_units: f64,
    partition_write_units: f64,
    get_parameter: f64,
    /// How many seconds of unused capacity a bucket keeps.
    burst_secs: f64,
}

/// Which buckets could not pay for a refused write.
#[derive(Debug, Clone, Copy)]
struct Walls {
    table: bool,
    index: bool,
    partition: bool,
}

/// The buckets of [`Quotas`]; one per index partition, made on first use.
struct Limits {
    quotas: Quotas,
    table: Bucket,
    index: Bucket,
    partitions: HashMap<String, Bucket>,
    ssm: Bucket,
}

impl Quotas {
    fn from_json(text: &str) -> anyhow::Result<Self> {
        let value: Value = serde_json::from_str(text)?;
        let number = |name: &str| {
            value[name]
                .as_f64()
                .filter(|n| *n > 0.0)
                .with_context(|| format!("`{name}` must be a number above 0"))
        };
        Ok(Self {
            table_write_units: number("table_write_units")?,
            index_write_units: number("index_write_units")?,
            partition_write_units: number("partition_write_units")?,
            get_parameter: number("get_parameter")?,
            burst_secs: number("burst_secs")?,
        })
    }
}

impl Limits {
    fn new(quotas: Quotas, now: Instant) -> Self {
        Self {
            quotas,
            table: Bucket::new(quotas.table_write_units, quotas.burst_secs, now),
            index: Bucket::new(quotas.index_write_units, quotas.burst_secs, now),
            partitions: HashMap::new(),
            ssm: Bucket::new(quotas.get_parameter, quotas.burst_secs, now),
        }
    }

    /// Takes `table_units` from the table and one unit per entry of `index_writes` from the index
    /// and that entry's partition, or nothing at all when one of them cannot pay (then says which
    /// could not).
    fn write(
        &mut self,
        table_units: f64,
        index_writes: &[&str],
        now: Instant,
    ) -> Result<(), Walls> {
        self.table.refill(now);
        self.index.refill(now);
        let mut needed: HashMap<&str, f64> = HashMap::new();
        for partition in index_writes {
            *needed.entry(partition).or_default() += 1.0;
        }
        let (quotas, partitions) = (self.quotas, &mut self.partitions);
        let mut walls = Walls {
            table: self.table.tokens < table_units,
            index: self.index.tokens < index_writes.len() as f64,
            partition: false,
        };
        for (partition, units) in &needed {
            let bucket = partitions
                .entry((*partition).to_owned())
                .or_insert_with(|| {
                    Bucket::new(quotas.partition_write_units, quotas.burst_secs, now)
                });
            bucket.refill(now);
            walls.partition |= bucket.tokens < *units;
        }
        if walls.table || walls.index || walls.partition {
            return Err(walls);
        }
        self.table.tokens -= table_units;
        self.index.tokens -= index_writes.len() as f64;
        for (partition, units) in needed {
            if let Some(bucket) = self.partitions.get_mut(partition) {
                bucket.tokens -= units;
            }
        }
        Ok(())
    }

    fn get_parameter(&mut self) -> Result<(), Refusal> {
        self.ssm.refill(Instant::now());
        if self.ssm.tokens < 1.0 {
            return refuse("ThrottlingException", "Rate exceeded");
        }
        self.ssm.tokens -= 1.0;
        Ok(())
    }
}

/// What the wind tunnel reads from `GET /_stats`.
#[derive(Default)]
struct Counters {
    rows_put: u64,
    write_throttles: u64,
    get_parameter: u64,
    get_parameter_throttles: u64,
    /// Messages sent (SendMessage and SendMessageBatch entries), duplicates included.
    messages: u64,
    /// Of those, sent by SendMessageBatch (the sweeper).
    messages_batched: u64,
    /// Messages whose outbox row did not exist when they were sent (PutItem had failed).
    sent_without_row: u64,
    /// Refused writes by operation (`put`, `update`).
    throttles_by_operation: HashMap<String, u64>,
    /// Refused writes the table's bucket could not pay (one write may count under several).
    throttled_by_table: u64,
    /// ... the index's as a whole could not pay.
    throttled_by_index: u64,
    /// ... one of the index's partitions could not pay.
    throttled_by_partition: u64,
    /// ... only a partition could not pay (the table and the index could).
    throttled_by_partition_only: u64,
}

#[derive(Default)]
struct Tables {
    /// What GetParameter answers, whatever the name.
    secret: String,
    limits: Option<Limits>,
    counters: Counters,
    /// The `event-id` attribute of every message sent, once each.
    queued_event_ids: HashSet<String>,
    /// Rows by `id` (one table: the bench has one).
    rows: HashMap<String, Item>,
    /// The sparse `unsent-index`: (unsent_key, received_at, id) of every row that has one.
    unsent: BTreeSet<(String, i64, String)>,
    messages_sent: u64,
}

impl Tables {
    fn index_entry(item: &Item) -> Option<(String, i64, String)> {
        Some((
            item.get("unsent_key")?.get("S")?.as_str()?.to_owned(),
            item.get("received_at")?.get("N")?.as_str()?.parse().ok()?,
            item.get("id")?.get("S")?.as_str()?.to_owned(),
        ))
    }

    /// Stores `item` under `id`, keeping the index in step.
    fn store(&mut self, id: String, item: Item) {
        if let Some(entry) = self.rows.get(&id).and_then(Self::index_entry) {
            self.unsent.remove(&entry);
        }
        if let Some(entry) = Self::index_entry(&item) {
            self.unsent.insert(entry);
        }
        self.rows.insert(id, item);
    }

    fn answer(&mut self, target: &str, input: &Value) -> Result<Value, Refusal> {
        match target {
            "DynamoDB_20120810.PutItem" => self.put_item(input),
            "DynamoDB_20120810.Query" => self.query(input),
            "DynamoDB_20120810.BatchGetItem" => self.batch_get_item(input),
            "DynamoDB_20120810.UpdateItem" => self.update_item(input),
            "DynamoDB_20120810.GetItem" => self.get_item(input),
            "AmazonSQS.SendMessageBatch" => self.send_message_batch(input),
            "AmazonSQS.SendMessage" => {
                self.messages_sent += 1;
                self.record_message(input);
                Ok(json!({
                    "MessageId": format!("fake-{}", self.messages_sent),
                    "MD5OfMessageBody": "00000000000000000000000000000000",
                }))
            }
            "AmazonSQS.GetQueueAttributes" => Ok(json!({"Attributes": {}})),
            "DynamoDB_20120810.DescribeTable" => Ok(json!({"Table": {
                "TableName": input["TableName"],
                "TableStatus": "ACTIVE",
            }})),
            "AmazonSSM.GetParameter" => {
                if let Some(limits) = &mut self.limits {
                    if let Err(throttled) = limits.get_parameter() {
                        self.counters.get_parameter_throttles += 1;
                        return Err(throttled);
                    }
                }
                self.counters.get_parameter += 1;
                Ok(json!({"Parameter": {
                    "Name": input["Name"],
                    "Type": "SecureString",
                    "Value": self.secret,
                    "Version": 1,
                }}))
            }
            other => refuse(
                "UnknownOperationException",
                format!("fake-aws does not implement {other}"),
            ),
        }
    }

    fn put_item(&mut self, input: &Value) -> Result<Value, Refusal> {
        let item = input["Item"].as_object().cloned().unwrap_or_default();
        let id = key_of(&item)?;
        let existing = self.rows.get(&id);
        let mut index_writes = Vec::new();
        index_writes.extend(existing.and_then(Self::index_entry).map(|entry| entry.0));
        index_writes.extend(Self::index_entry(&item).map(|entry| entry.0));
        let index_writes: Vec<&str> = index_writes.iter().map(String::as_str).collect();
        // A conditional put that fails still bills the item's units, but writes no index entry.
        let units = write_units(&item).max(existing.map_or(0.0, write_units));
        let condition_holds = match input["ConditionExpression"].as_str() {
            Some(condition) => holds(condition, input, existing)?,
            None => true,
        };
        let billed: &[&str] = if condition_holds { &index_writes } else { &[] };
        self.charge("put", units, billed)?;
        if !condition_holds {
            return Err(Refusal::new(
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "The conditional request failed",
            ));
        }
        self.counters.rows_put += 1;
        self.store(id, item);
        Ok(json!({}))
    }

    /// Bills a write (`operation`: `put` or `update`) to the quotas, if any; refused whole when
    /// they cannot pay it, counted by operation and by the walls that refused it.
    fn charge(
        &mut self,
        operation: &str,
        table_units: f64,
        index_writes: &[&str],
    ) -> Result<(), Refusal> {
        let Some(limits) = &mut self.limits else {
            return Ok(());
        };
        let Err(walls) = limits.write(table_units, index_writes, Instant::now()) else {
            return Ok(());
        };
        let counters = &mut self.counters;
        counters.write_throttles += 1;
        *counters
            .throttles_by_operation
            .entry(operation.to_owned())
            .or_default() += 1;
        counters.throttled_by_table += u64::from(walls.table);
        counters.throttled_by_index += u64::from(walls.index);
        counters.throttled_by_partition += u64::from(walls.partition);
        counters.throttled_by_partition_only +=
            u64::from(walls.partition && !walls.table && !walls.index);
        Err(Refusal::new(
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded",
        ))
    }

    /// Notes a message's `event-id`, and whether its outbox row existed when it was sent.
    fn record_message(&mut self, message: &Value) {
        self.counters.messages += 1;
        let attribute = |name: &str| message["MessageAttributes"][name]["StringValue"].as_str();
        let (Some(event_id), Some(source)) = (attribute("event-id"), attribute("source")) else {
            return;
        };
        if !self.rows.contains_key(&format!("{source}:{event_id}")) {
            self.counters.sent_without_row += 1;
        }
        self.queued_event_ids.insert(event_id.to_owned());
    }

    /// `GET /_stats`: the counters, and the rows waiting in the index now.
    fn stats(&self) -> Value {
        let waiting = |prefix: &str| {
            self.unsent
                .iter()
                .filter(|(key, _, _)| key.starts_with(prefix))
                .count()
        };
        let counters = &self.counters;
        json!({
            "rows_put": counters.rows_put,
            "write_throttles": counters.write_throttles,
            "get_parameter": counters.get_parameter,
            "get_parameter_throttles": counters.get_parameter_throttles,
            "messages": counters.messages,
            "messages_batched": counters.messages_batched,
            "sent_without_row": counters.sent_without_row,
            "throttles_by_operation": counters.throttles_by_operation,
            "throttled_by_table": counters.throttled_by_table,
            "throttled_by_index": counters.throttled_by_index,
            "throttled_by_partition": counters.throttled_by_partition,
            "throttled_by_partition_only": counters.throttled_by_partition_only,
            "pending": waiting("pending#"),
            "parked": waiting("parked#"),
            "distinct_event_ids": self.queued_event_ids.len(),
        })
    }

    fn query(&mut self, input: &Value) -> Result<Value, Refusal> {
        if input["IndexName"] != "unsent-index" {
            return refuse("ValidationException", "fake-aws only queries unsent-index");
        }
        let values = &input["ExpressionAttributeValues"];
        let number = |name: &str, default: i64| {
            values[name]["N"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(default)
        };
        let Some(key) = values[":key"]["S"].as_str() else {
            return refuse("ValidationException", "the Query names no :key");
        };
        let (since, last) = (number(":since", i64::MIN), number(":last", i64::MAX));
        let limit = input["Limit"].as_u64().map_or(usize::MAX, |l| l as usize);
        let after = input["ExclusiveStartKey"]
            .as_object()
            .and_then(Self::index_entry);
        let low = (key.to_owned(), since, String::new());
        let matching = self
            .unsent
            .range(low..)
            .take_while(|(k, at, _)| k == key && *at <= last)
            .filter(|entry| after.as_ref().is_none_or(|after| *entry > after));
        let page: Vec<&(String, i64, String)> = matching.take(limit.saturating_add(1)).collect();
        let more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let index_item = |(key, at, id): &(String, i64, String)| {
            let received_at = at.to_string();
            json!({"unsent_key": {"S": key}, "received_at": {"N": received_at}, "id": {"S": id}})
        };
        let mut output = json!({"Count": page.len(), "ScannedCount": page.len()});
        if input["Select"] != "COUNT" {
            output["Items"] = page.iter().map(|entry| index_item(entry)).collect();
        }
        if let (true, Some(last)) = (more, page.last()) {
            output["LastEvaluatedKey"] = index_item(last);
        }
        Ok(output)
    }

    fn batch_get_item(&mut self, input: &Value) -> Result<Value, Refusal> {
        let mut responses = Map::new();
        for (table, request) in input["RequestItems"].as_object().into_iter().flatten() {
            let mut found = Vec::new();
            for key in request["Keys"].as_array().into_iter().flatten() {
                let id = key_of(key.as_object().unwrap_or(&Map::new()))?;
                found.extend(self.rows.get(&id).cloned().map(Value::Object));
            }
            responses.insert(table.clone(), Value::Array(found));
        }
        Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
    }

    fn update_item(&mut self, input: &Value) -> Result<Value, Refusal> {
        let id = key_of(input["Key"].as_object().unwrap_or(&Map::new()))?;
        let existing = self.rows.get(&id);
        if let Some(condition) = input["ConditionExpression"].as_str() {
            if !holds(condition, input, existing)? {
                // `ReturnValuesOnConditionCheckFailure=ALL_OLD`: the item as it is, in the error.
                let old = (input["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD")
                    .then(|| existing.cloned().map(Value::Object))
                    .flatten();
                return Err(Refusal::with_item(
                    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "The conditional request failed",
                    old,
                ));
            }
        }
        let mut item = existing.cloned().unwrap_or_else(|| {
            let mut key = Map::new();
            key.insert("id".into(), json!({"S": id}));
            key
        });
        let expression = input["UpdateExpression"].as_str().unwrap_or_default();
        let (set, remove) = match expression.split_once(" REMOVE ") {
            Some((set, remove)) => (set, Some(remove)),
            None => (expression, None),
        };
        let Some(set) = set.strip_prefix("SET ") else {
            return refuse(
                "ValidationException",
                format!("fake-aws only applies SET ... [REMOVE ...], not `{expression}`"),
            );
        };
        for assignment in set.split(", ") {
            let Some((name, value)) = assignment.split_once(" = ") else {
                return refuse(
                    "ValidationException",
                    format!("fake-aws cannot apply `{assignment}`"),
                );
            };
            item.insert(resolve_name(name, input)?, resolve_value(value, input)?);
        }
        for name in remove.into_iter().flat_map(|names| names.split(", ")) {
            item.remove(&resolve_name(name, input)?);
        }
        let before = self.rows.get(&id);
        let (old_entry, new_entry) = (before.and_then(Self::index_entry), Self::index_entry(&item));
        let mut index_writes = Vec::new();
        if old_entry != new_entry {
            index_writes.extend(old_entry.map(|entry| entry.0));
            index_writes.extend(new_entry.map(|entry| entry.0));
        }
        let index_writes: Vec<&str> = index_writes.iter().map(String::as_str).collect();
        let units = write_units(&item).max(before.map_or(0.0, write_units));
        self.charge("update", units, &index_writes)?;
        let output = if input["ReturnValues"] == "ALL_NEW" {
            json!({"Attributes": item})
        } else {
            json!({})
        };
        self.store(id, item);
        Ok(output)
    }

    /// GetItem by `id` (the reconciler's checkpoint row), read as it is.
    fn get_item(&mut self, input: &Value) -> Result<Value, Refusal> {
        let id = key_of(input["Key"].as_object().unwrap_or(&Map::new()))?;
        Ok(match self.rows.get(&id) {
            Some(item) => json!({"Item": item}),
            None => json!({}),
        })
    }

    fn send_message_batch(&mut self, input: &Value) -> Result<Value, Refusal> {
        let mut successful = Vec::new();
        for entry in input["Entries"].as_array().into_iter().flatten() {
            self.messages_sent += 1;
            self.record_message(entry);
            self.counters.messages_batched += 1;
            successful.push(json!({
                "Id": entry["Id"],
                "MessageId": format!("fake-{}", self.messages_sent),
                "MD5OfMessageBody": "00000000000000000000000000000000",
            }));
        }
        Ok(json!({"Successful": successful, "Failed": []}))
    }
}

/// DynamoDB's write units for an item: one per started KiB of the names and values (S and N by
/// their text, B by its decoded bytes), at least one.
fn write_units(item: &Item) -> f64 {
    let value_size = |value: &Value| -> usize {
        match value.as_object().and_then(|typed| typed.iter().next()) {
            Some((kind, Value::String(text))) if kind == "B" => text.len() * 3 / 4,
            Some((_, Value::String(text))) => text.len(),
            Some((_, other)) => other.to_string().len(),
            None => 0,
        }
    };
    let bytes: usize = item
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum();
    bytes.div_ceil(1024).max(1) as f64
}

fn key_of(item: &Item) -> Result<String, Refusal> {
    match item.get("id").and_then(|id| id["S"].as_str()) {
        Some(id) => Ok(id.to_owned()),
        None => refuse("ValidationException", "the key has no string `id`"),
    }
}

fn resolve_name(name: &str, input: &Value) -> Result<String, Refusal> {
    let name = name.trim();
    if !name.starts_with('#') {
        return Ok(name.to_owned());
    }
    match input["ExpressionAttributeNames"][name].as_str() {
        Some(resolved) => Ok(resolved.to_owned()),
        None => refuse("ValidationException", format!("{name} is not defined")),
    }
}

fn resolve_value(value: &str, input: &Value) -> Result<Value, Refusal> {
    match input["ExpressionAttributeValues"].get(value.trim()) {
        Some(resolved) => Ok(resolved.clone()),
        None => refuse("ValidationException", format!("{value} is not defined")),
    }
}

/// Evaluates the condition forms the outbox and the reconciler's checkpoint write:
/// `attribute_not_exists(x)`, `x = :v`, `x IN (:a, :b)` and the number comparisons `x <= :v`,
/// `x < :v`, `x >= :v`, `x > :v`, joined by ` AND `, and those joined by ` OR ` (no parentheses:
/// AND binds tighter, as in DynamoDB).
fn holds(condition: &str, input: &Value, item: Option<&Item>) -> Result<bool, Refusal> {
    for alternative in condition.split(" OR ") {
        if all_hold(alternative, input, item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn all_hold(condition: &str, input: &Value, item: Option<&Item>) -> Result<bool, Refusal> {
    for clause in condition.split(" AND ") {
        let attribute = |name: &str| -> Result<Option<&Value>, Refusal> {
            Ok(item.and_then(|item| item.get(&resolve_name(name, input).ok()?)))
        };
        let number =
            |value: Option<&Value>| -> Option<f64> { value?.get("N")?.as_str()?.parse().ok() };
        let clause = clause.trim();
        let comparison = ["<=", ">=", "<", ">"].into_iter().find_map(|op| {
            clause
                .split_once(&format!(" {op} "))
                .map(|(l, r)| (op, l, r))
        });
        let holds = if let Some(name) = clause
            .strip_prefix("attribute_not_exists(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            attribute(name)?.is_none()
        } else if let Some((name, list)) = clause.split_once(" IN (") {
            let current = attribute(name)?;
            let mut allowed = list.trim_end_matches(')').split(", ");
            allowed.try_fold(false, |any, value| {
                Ok::<_, Refusal>(any || current == Some(&resolve_value(value, input)?))
            })?
        } else if let Some((op, name, value)) = comparison {
            // A missing attribute or a non-number compares false, as in DynamoDB.
            match (
                number(attribute(name)?),
                number(Some(&resolve_value(value, input)?)),
            ) {
                (Some(left), Some(right)) => match op {
                    "<=" => left <= right,
                    ">=" => left >= right,
                    "<" => left < right,
                    _ => left > right,
                },
                _ => false,
            }
        } else if let Some((name, value)) = clause.split_once(" = ") {
            attribute(name)? == Some(&resolve_value(value, input)?)
        } else {
            return refuse(
                "ValidationException",
                format!("fake-aws cannot evaluate `{clause}`"),
            );
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn serve(
    tables: Arc<Mutex<Tables>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() == http::Method::GET {
        let tables = tables.lock().expect("no thread panics holding the tables");
        let output = match request.uri().path() {
            "/_stats" => tables.stats(),
            "/_messages" => json!(tables.queued_event_ids.iter().collect::<Vec<_>>()),
            _ => json!({"message": "GET /_stats or /_messages"}),
        };
        return Ok(Response::new(Full::new(Bytes::from(output.to_string()))));
    }
    if request.method() == http::Method::POST && request.uri().path() == "/_load" {
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let items: Vec<Item> = serde_json::from_slice(&body).unwrap_or_default();
        let mut tables = tables.lock().expect("no thread panics holding the tables");
        let loaded = items.len();
        for item in items {
            if let Ok(id) = key_of(&item) {
                tables.store(id, item);
            }
        }
        return Ok(Response::new(Full::new(Bytes::from(
            json!({"loaded": loaded}).to_string(),
        ))));
    }
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let answer = match serde_json::from_slice::<Value>(&body) {
        Ok(input) => tables
            .lock()
            .expect("no thread panics holding the tables")
            .answer(&target, &input),
        Err(err) => refuse("SerializationException", err.to_string()),
    };
    let (status, output) = match answer {
        Ok(output) => (StatusCode::OK, output),
        Err(Refusal(kind, message, item)) => {
            let mut error = json!({"__type": kind, "message": message});
            if let Some(item) = item {
                error["Item"] = item;
            }
            (StatusCode::BAD_REQUEST, error)
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(output.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut secret, mut limits) = (String::new(), None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        match (flag.as_str(), rest.next()) {
            ("--secret", Some(value)) => secret = value.clone(),
            ("--quotas", Some(value)) => {
                let quotas = Quotas::from_json(value).context("--quotas")?;
                limits = Some(Limits::new(quotas, Instant::now()));
            }
            _ => anyhow::bail!(
                "usage: fake-aws [--secret VALUE] [--quotas JSON] (prints the address it listens on)"
            ),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1")?;
    println!("listening http://{}", listener.local_addr()?);
    let tables = Arc::new(Mutex::new(Tables {
        secret,
        limits,
        ..Tables::default()
    }));
    loop {
        let (stream, _) = listener.accept().await?;
        let tables = Arc::clone(&tables);
        tokio::spawn(async move {
            let service = service_fn(move |request| serve(Arc::clone(&tables), request));
            // A connection the client drops mid-request is the client's business.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, Value)]) -> Item {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    /// The checkpoint's lease, as the reconciler asks for it.
    #[test]
    fn the_lease_condition_holds_for_a_new_or_expired_lease_only() {
        let input = json!({
            "ExpressionAttributeNames": {"#until": "lease_until", "#owner": "lease_owner"},
            "ExpressionAttributeValues": {":now": {"N": "100"}, ":owner": {"S": "me"}},
        });
        let take = "attribute_not_exists(#until) OR #until <= :now";
        assert!(holds(take, &input, None).unwrap(), "no row yet");
        let held = item(&[
            ("lease_until", json!({"N": "150"})),
            ("lease_owner", json!({"S": "me"})),
        ]);
        assert!(!holds(take, &input, Some(&held)).unwrap(), "held until 150");
        let expired = item(&[("lease_until", json!({"N": "100"}))]);
        assert!(
            holds(take, &input, Some(&expired)).unwrap(),
            "ran out at 100"
        );
        let keep = "#owner = :owner AND #until > :now";
        assert!(holds(keep, &input, Some(&held)).unwrap());
        assert!(
            !holds(keep, &input, Some(&expired)).unwrap(),
            "no owner, ran out"
        );
        assert!(
            !holds(keep, &input, None).unwrap(),
            "a missing number compares false"
        );
        assert!(holds("#until BETWEEN :a AND :b", &input, Some(&held)).is_err());
    }

    #[test]
    fn a_refused_write_names_each_bucket_that_could_not_pay() {
        // One instant throughout: no bucket refills, whatever the machine's pace.
        let now = Instant::now();
        let quotas = Quotas {
            table_write_units: 4.0,
            index_write_units: 100.0,
            partition_write_units: 1.0,
            get_parameter: 1.0,
            burst_secs: 1.0,
        };
        let mut limits = Limits::new(quotas, now);
        assert!(limits.write(1.0, &["pending#a#0"], now).is_ok());
        let walls = limits.write(1.0, &["pending#a#0"], now).unwrap_err();
        assert!(walls.partition && !walls.table && !walls.index);
        assert!(
            limits.write(1.0, &["pending#a#1"], now).is_ok(),
            "another partition"
        );
        let walls = limits.write(3.0, &["pending#a#2"], now).unwrap_err();
        assert!(walls.table && !walls.partition, "2 units left on the table");
    }
}
