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
                    "Dimensions": [["Source"]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert("Source".into(), Value::from(source));
        for (name, value, _) in &self.0 {
            document.insert((*name).into(), json!(value));
        }
        Value::Object(document)
    }
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
        let line = metrics
            .to_emf(&self.namespace, &self.source, timestamp)
            .to_string();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
    }
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
    fn set_replaces_and_get_defaults_to_zero() {
        let mut metrics = MetricSet::default();
        metrics.set("PendingCount", 4.0, Unit::Count);
        metrics.set("PendingCount", 2.0, Unit::Count);
        assert_eq!(metrics.get("PendingCount"), 2.0);
        assert_eq!(metrics.get("Parked"), 0.0);
    }
}
