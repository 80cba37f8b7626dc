//! JSON-line logs through `tracing`, on stdout beside the EMF lines (CloudWatch Logs reads both),
//! with the field names Powertools for AWS Lambda writes, so the queries and dashboards its users
//! already have work here too: `level`, `message`, `timestamp`, `service`, and on every line of an
//! invocation `function_request_id`, `cold_start` and, when the invocation is traced,
//! `xray_trace_id`. The invocation fields come from the span the Lambda runtime opens around each
//! invocation; lines outside one (start-up, the local server) carry none.
//!
//! The level: `RUST_LOG` when set, else Lambda's own setting (`AWS_LAMBDA_LOG_LEVEL`, the function's
//! "application log level"), else `info`. Callers log sizes and hashes, never bodies or secrets.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::primitives::{EnvSource, ProcessEnv};
use crate::time::{now_millis, rfc3339_millis};

/// The name of the span `lambda_runtime` opens around each invocation, with the fields
/// `requestId` and (when traced) `xrayTraceId`.
pub const INVOCATION_SPAN: &str = "Lambda runtime invoke";

/// Installs the JSON subscriber once per process; a second call is a no-op.
pub fn init() {
    let env = ProcessEnv;
    let _ = tracing_subscriber::registry()
        .with(EnvFilter::new(level_directives(&env)))
        .with(PowertoolsJson::new(service_name(&env), std::io::stdout))
        .try_init();
}

/// The filter directives: `RUST_LOG` when set (it may name modules), else Lambda's application log
/// level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, which has no tracing level and means
/// errors only), else `info`. A value Lambda does not define is ignored.
pub fn level_directives(env: &dyn EnvSource) -> String {
    if let Some(directives) = env.var("RUST_LOG").filter(|v| !v.trim().is_empty()) {
        return directives;
    }
    let lambda = env.var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default();
    match lambda.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
    .to_owned()
}

/// `service`: `POWERTOOLS_SERVICE_NAME` as Powertools reads it, else the function's name, else the
/// binary's.
pub fn service_name(env: &dyn EnvSource) -> String {
    env.var("POWERTOOLS_SERVICE_NAME")
        .or_else(|| env.var("AWS_LAMBDA_FUNCTION_NAME"))
        .filter(|name| !name.trim().is_empty())
        .or_else(|| {
            std::env::args()
                .next()
                .and_then(|path| path.rsplit('/').next().map(str::to_owned))
        })
        .unwrap_or_else(|| "service_undefined".to_owned())
}

/// The trace id Powertools logs: the `Root=` part of the X-Ray trace header.
fn trace_root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header)
}

/// Writes each event as one JSON line with the Powertools field names.
pub struct PowertoolsJson<W> {
    service: String,
    make_writer: W,
    /// No invocation seen yet: the next one is the cold start.
    before_first_invocation: AtomicBool,
}

impl<W> PowertoolsJson<W> {
    pub fn new(service: String, make_writer: W) -> Self {
        Self {
            service,
            make_writer,
            before_first_invocation: AtomicBool::new(true),
        }
    }
}

/// The fields an invocation span adds to each line logged inside it.
struct InvocationFields(Map<String, Value>);

/// Collects fields as JSON values of their own type.
#[derive(Default)]
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for PowertoolsJson<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != INVOCATION_SPAN {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut recorded = JsonFields::default();
        attrs.record(&mut recorded);
        let mut fields = Map::new();
        if let Some(request_id) = recorded.0.remove("requestId") {
            fields.insert("function_request_id".to_owned(), request_id);
        }
        if let Some(Value::String(trace)) = recorded.0.remove("xrayTraceId") {
            fields.insert(
                "xray_trace_id".to_owned(),
                Value::from(trace_root(&trace).to_owned()),
            );
        }
        let cold = self.before_first_invocation.swap(false, Ordering::Relaxed);
        fields.insert("cold_start".to_owned(), Value::from(cold));
        span.extensions_mut().insert(InvocationFields(fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "level".to_owned(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert(
            "timestamp".to_owned(),
            Value::from(rfc3339_millis(now_millis())),
        );
        line.insert("service".to_owned(), Value::from(self.service.as_str()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(invocation) = span.extensions().get::<InvocationFields>() {
                    line.extend(invocation.0.clone());
                }
            }
        }
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        // The event's own fields last: a field named like one above is the caller's to set.
        line.extend(fields.0);
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write per line, so lines never interleave with the EMF lines on the same stdout; a
        // closed stdout must not fail a request.
        let _ = self.make_writer.make_writer().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        }
    }

    fn context(request_id: &str, trace: Option<&str>) -> lambda_runtime::Context {
        let mut context = lambda_runtime::Context::default();
        context.request_id = request_id.to_owned();
        context.xray_trace_id = trace.map(str::to_owned);
        context
    }

    #[test]
    fn lines_carry_powertools_fields_from_the_runtimes_invocation_span() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(PowertoolsJson::new("ingress".to_owned(), buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("starting");
            // The span lambda_runtime itself opens around an invocation.
            let first = lambda_runtime::layers::trace::request_span(&context(
                "req-1",
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
            ));
            first.in_scope(|| {
                tracing::warn!(event_id = "evt_1", status = 404_u64, "webhook handled");
            });
            let second = lambda_runtime::layers::trace::request_span(&context("req-2", None));
            second.in_scope(|| tracing::info!(outcome = ?Some(1), "webhook handled"));
        });
        let lines = buffer.lines();
        assert_eq!(lines.len(), 3);
        let outside = &lines[0];
        assert_eq!(outside["message"], "starting");
        assert_eq!(outside["level"], "INFO");
        assert_eq!(outside["service"], "ingress");
        assert!(outside.get("function_request_id").is_none());
        assert!(outside.get("cold_start").is_none());
        let first = &lines[1];
        assert_eq!(first["level"], "WARN");
        assert_eq!(first["function_request_id"], "req-1");
        assert_eq!(first["cold_start"], true);
        assert_eq!(
            first["xray_trace_id"],
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(first["event_id"], "evt_1");
        assert_eq!(first["status"], 404);
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        let second = &lines[2];
        assert_eq!(second["function_request_id"], "req-2");
        assert_eq!(second["cold_start"], false);
        assert!(
            second.get("xray_trace_id").is_none(),
            "an untraced invocation"
        );
        assert_eq!(second["outcome"], "Some(1)");
    }

    #[test]
    fn rust_log_wins_then_lambdas_log_level_then_info() {
        let level = |pairs: &[(&'static str, &'static str)]| {
            level_directives(&pairs.iter().copied().collect::<HashMap<&str, &str>>())
        };
        assert_eq!(level(&[]), "info");
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]), "debug");
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]), "warn");
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), "error");
        assert_eq!(level(&[("AWS_LAMBDA_LOG_LEVEL", "bogus")]), "info");
        assert_eq!(
            level(&[
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
                ("RUST_LOG", "info,aws_smithy_runtime=debug")
            ]),
            "info,aws_smithy_runtime=debug"
        );
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE"), ("RUST_LOG", " ")]),
            "trace"
        );
    }

    #[test]
    fn the_level_filters_what_is_written() {
        let buffer = Buffer::default();
        let env = HashMap::from([("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new(level_directives(&env)))
            .with(PowertoolsJson::new("sweeper".to_owned(), buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("dropped");
            tracing::warn!("kept");
        });
        let messages: Vec<Value> = buffer
            .lines()
            .iter()
            .map(|l| l["message"].clone())
            .collect();
        assert_eq!(messages, ["kept"]);
    }

    #[test]
    fn service_is_powertools_name_else_the_function() {
        let env = HashMap::from([
            ("AWS_LAMBDA_FUNCTION_NAME", "webhook-ingress"),
            ("POWERTOOLS_SERVICE_NAME", "payments-webhooks"),
        ]);
        assert_eq!(service_name(&env), "payments-webhooks");
        let env = HashMap::from([("AWS_LAMBDA_FUNCTION_NAME", "webhook-ingress")]);
        assert_eq!(service_name(&env), "webhook-ingress");
    }
}
