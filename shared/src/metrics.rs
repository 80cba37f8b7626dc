//! CloudWatch Embedded Metric Format (EMF) records printed on stdout: CloudWatch Logs turns each
//! line into metrics, so the hot path makes no PutMetricData call.

use std::io::Write as _;

use serde_json::{json, Map, Value};

use crate::time::EpochMillis;

/// CloudWatch metric units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
        }
    }
}

/// The metrics of one request or one sweep, in the order they were first recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet(Vec<(&'static str, f64, Unit)>);

impl MetricSet {
    /// Adds one to a count.
    pub fn count(&mut self, name: &'static str) {
        self.add(name, 1.0, Unit::Count);
    }

    /// Adds `value` to the metric `name` (created at zero).
    pub fn add(&mut self, name: &'static str, value: f64, unit: Unit) {
        match self.0.iter_mut().find(|(n, _, _)| *n == name) {
            Some(entry) => entry.1 += value,
            None => self.0.push((name, value, unit)),
        }
    }

    /// Sets a gauge-like metric, replacing any earlier value.
    pub fn set(&mut self, name: &'static str, value: f64, unit: Unit) {
        self.0.retain(|(n, _, _)| *n != name);
        self.0.push((name, value, unit));
    }

    /// The recorded value, `0` for a count never incremented.
    pub fn get(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(0.0, |(_, value, _)| *value)
    }

    /// One EMF document with dimension `Source`.
    pub fn to_emf(&self, namespace: &str, source: &str, timestamp: EpochMillis) -> Value {
        self.to_emf_with(namespace, &[("Source", source)], timestamp)
    }

    /// One EMF document whose metrics have the one dimension set `dimensions`.
    pub fn to_emf_with(
        &self,
        namespace: &str,
        dimensions: &[(&str, &str)],
        timestamp: EpochMillis,
    ) -> Value {
        let definitions: Vec<Value> = self
            .0
            .iter()
            .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in dimensions {
            document.insert((*name).into(), Value::from(*value));
        }
        for (name, value, _) in &self.0 {
            document.insert((*name).into(), json!(value));
        }
        Value::Object(document)
    }
}

/// The metric of a cold start, named as Powertools names it.
pub const COLD_START: &str = "ColdStart";
/// The dimension naming the function, beside `Source`, on `ColdStart` only (Powertools'
/// `function_name`): the ingress's and the sweeper's cold starts are told apart.
pub const FUNCTION_NAME_DIMENSION: &str = "function_name";

/// `ColdStart` = 1 when this process is a Lambda execution environment started for a request
/// (`AWS_LAMBDA_RUNTIME_API` set), as Powertools counts it: not one pre-initialised for
/// provisioned concurrency (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`), whose start
/// no request waited for. `None` otherwise (a local run), else the function's name.
pub fn cold_start(env: &dyn crate::primitives::EnvSource) -> Option<String> {
    let under_lambda = env
        .var("AWS_LAMBDA_RUNTIME_API")
        .is_some_and(|api| !api.is_empty());
    let provisioned =
        env.var("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref() == Some("provisioned-concurrency");
    (under_lambda && !provisioned).then(|| env.var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default())
}

/// Prints metric sets as EMF lines for one namespace and source.
#[derive(Debug, Clone)]
pub struct EmfEmitter {
    namespace: String,
    source: String,
}

impl EmfEmitter {
    pub fn new(namespace: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            source: source.into(),
        }
    }

    /// Writes one line to stdout. A write error (a closed stdout) is ignored: metrics must never
    /// fail a request.
    pub fn emit(&self, metrics: &MetricSet, timestamp: EpochMillis) {
        if metrics.0.is_empty() {
            return;
        }
        write_line(&metrics.to_emf(&self.namespace, &self.source, timestamp));
    }

    /// The cold-start document: `ColdStart` = 1 under dimensions `Source` and `function_name`,
    /// when [`cold_start`] says this process is one.
    pub fn cold_start_document(
        &self,
        env: &dyn crate::primitives::EnvSource,
        timestamp: EpochMillis,
    ) -> Option<Value> {
        let function = cold_start(env)?;
        let mut metrics = MetricSet::default();
        metrics.count(COLD_START);
        Some(metrics.to_emf_with(
            &self.namespace,
            &[
                ("Source", self.source.as_str()),
                (FUNCTION_NAME_DIMENSION, function.as_str()),
            ],
            timestamp,
        ))
    }

    /// Prints the cold-start document, if any (see [`EmfEmitter::cold_start_document`]).
    pub fn emit_cold_start(&self, env: &dyn crate::primitives::EnvSource, timestamp: EpochMillis) {
        if let Some(document) = self.cold_start_document(env, timestamp) {
            write_line(&document);
        }
    }
}

fn write_line(document: &Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{document}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_metric_under_the_source_dimension() {
        let mut metrics = MetricSet::default();
        metrics.count("Received");
        metrics.count("Accepted");
        metrics.count("Received");
        metrics.add("LatencyMs", 12.5, Unit::Milliseconds);
        let doc = metrics.to_emf("WebhookIngress", "marketplace", 1_700_000_000_000);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "WebhookIngress");
        assert_eq!(directive["Dimensions"], json!([["Source"]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                {"Name": "Received", "Unit": "Count"},
                {"Name": "Accepted", "Unit": "Count"},
                {"Name": "LatencyMs", "Unit": "Milliseconds"},
            ])
        );
        assert_eq!(doc["Source"], "marketplace");
        assert_eq!(doc["Received"], 2.0);
        assert_eq!(doc["LatencyMs"], 12.5);
    }

    #[test]
    fn a_cold_start_counts_under_lambda_unless_provisioned() {
        use std::collections::HashMap;
        let emitter = EmfEmitter::new("WebhookIngress", "market");
        let on_demand = HashMap::from([
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "webhook-market-ingress"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ]);
        let doc = emitter.cold_start_document(&on_demand, 7).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "WebhookIngress");
        assert_eq!(
            directive["Dimensions"],
            json!([["Source", "function_name"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "ColdStart", "Unit": "Count"}])
        );
        assert_eq!(doc["ColdStart"], 1.0);
        assert_eq!(doc["Source"], "market");
        assert_eq!(doc["function_name"], "webhook-market-ingress");
        let provisioned = HashMap::from([
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency"),
        ]);
        assert_eq!(emitter.cold_start_document(&provisioned, 7), None);
        assert_eq!(
            emitter.cold_start_document(&HashMap::<&str, &str>::new(), 7),
            None,
            "not under Lambda"
        );
    }

    #[test]
    fn set_replaces_and_get_defaults_to_zero() {
        let mut metrics = MetricSet::default();
        metrics.set("PendingCount", 4.0, Unit::Count);
        metrics.set("PendingCount", 2.0, Unit::Count);
        assert_eq!(metrics.get("PendingCount"), 2.0);
        assert_eq!(metrics.get("Parked"), 0.0);
    }
}
