//! `fake-aws`: an in-memory DynamoDB and SQS that answer at once, for the sweeper's drain
//! benchmark. moto, the emulator every test uses, takes several milliseconds of one Python thread
//! per call, so against it the drain measures moto; against this fake (behind the latency proxy)
//! it measures the sweeper: its CPU per row and how its rate follows AWS latency and its
//! concurrency.
//!
//! ```text
//! fake-aws [--secret VALUE]   # prints `listening http://127.0.0.1:PORT`, serves until killed
//! ```
//!
//! It implements only what the bench's backlog writer, the sweeper and the ingress's cold start
//! call, the way they call it: SSM GetParameter (every name has the value of `--secret`),
//! DescribeTable, GetQueueAttributes, SendMessage, PutItem (optionally `attribute_not_exists`),
//! Query on the `unsent-index` (a key, an optional `received_at` range, `Limit`,
//! `ExclusiveStartKey`, `Select=COUNT`), BatchGetItem, UpdateItem (`SET`/`REMOVE` with `=` and
//! `IN` conditions), and SendMessageBatch (messages are counted and dropped). Anything else is
//! answered 400 `UnknownOperationException` with the operation named, so the benchmark fails
//! loudly instead of measuring a wrong path.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

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

/// A call the fake cannot answer as DynamoDB or SQS would: a 400 with this type and message.
struct Refusal(&'static str, String);

fn refuse<T>(kind: &'static str, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(kind, message.into()))
}

#[derive(Default)]
struct Tables {
    /// What GetParameter answers, whatever the name.
    secret: String,
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
            "AmazonSQS.SendMessageBatch" => self.send_message_batch(input),
            "AmazonSQS.SendMessage" => {
                self.messages_sent += 1;
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
            "AmazonSSM.GetParameter" => Ok(json!({"Parameter": {
                "Name": input["Name"],
                "Type": "SecureString",
                "Value": self.secret,
                "Version": 1,
            }})),
            other => refuse(
                "UnknownOperationException",
                format!("fake-aws does not implement {other}"),
            ),
        }
    }

    fn put_item(&mut self, input: &Value) -> Result<Value, Refusal> {
        let item = input["Item"].as_object().cloned().unwrap_or_default();
        let id = key_of(&item)?;
        if let Some(condition) = input["ConditionExpression"].as_str() {
            let existing = self.rows.get(&id);
            if !holds(condition, input, existing)? {
                return Err(Refusal(
                    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "The conditional request failed".into(),
                ));
            }
        }
        self.store(id, item);
        Ok(json!({}))
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
                return Err(Refusal(
                    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "The conditional request failed".into(),
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
        self.store(id, item);
        Ok(json!({}))
    }

    fn send_message_batch(&mut self, input: &Value) -> Result<Value, Refusal> {
        let mut successful = Vec::new();
        for entry in input["Entries"].as_array().into_iter().flatten() {
            self.messages_sent += 1;
            successful.push(json!({
                "Id": entry["Id"],
                "MessageId": format!("fake-{}", self.messages_sent),
                "MD5OfMessageBody": "00000000000000000000000000000000",
            }));
        }
        Ok(json!({"Successful": successful, "Failed": []}))
    }
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

/// Evaluates the condition forms the outbox writes: `attribute_not_exists(x)`, `x = :v` and
/// `x IN (:a, :b)`, joined by ` AND `.
fn holds(condition: &str, input: &Value, item: Option<&Item>) -> Result<bool, Refusal> {
    for clause in condition.split(" AND ") {
        let attribute = |name: &str| -> Result<Option<&Value>, Refusal> {
            Ok(item.and_then(|item| item.get(&resolve_name(name, input).ok()?)))
        };
        let clause = clause.trim();
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
        Err(Refusal(kind, message)) => (
            StatusCode::BAD_REQUEST,
            json!({"__type": kind, "message": message}),
        ),
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
    let secret = match args.as_slice() {
        [] => String::new(),
        [flag, value] if flag == "--secret" => value.clone(),
        _ => anyhow::bail!("usage: fake-aws [--secret VALUE] (prints the address it listens on)"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1")?;
    println!("listening http://{}", listener.local_addr()?);
    let tables = Arc::new(Mutex::new(Tables {
        secret,
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
