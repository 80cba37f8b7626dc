//! `capacity`: one run of the wind tunnel behind `make capacity` (scripts/capacity.py runs the
//! default and the tuned settings side by side, then draws the table and the picture).
//!
//! The real ingress and sweeper binaries run against `fake-aws` enforcing AWS's quotas scaled
//! down by `--scale` (1/100: 10 write units a second per index partition, 0.4 GetParameter a
//! second, ...), fed a burst scaled the same way (0 to `--peak` webhooks a second in `--ramp-secs`,
//! held `--hold-secs`). Lambda is played by a fleet of ingress processes, one request at a time
//! each, started under load as Lambda starts instances (at most the account's concurrency scaled,
//! at Lambda's scaling rate scaled; a request finding neither an idle instance nor room for a new
//! one gets 429, as Lambda throttles it; an instance whose init fails answers that request 502).
//! Every rate is driven by the quotas' token buckets and the offered schedule, not by how fast
//! this machine runs. After the burst the sweeper (every 60 s, as scheduled) drains what is
//! pending; the run ends when nothing is pending and every event answered 2xx is on the queue,
//! or after `--drain-limit-secs`. `lost` counts 2xx events never queued: it must be 0.
//!
//! With `--settings github` the provider never retries (GitHub's behaviour): the tuned settings'
//! quotas, deliveries signed as GitHub signs them, and every delivery (status, time) kept in a
//! local copy of GitHub's hook deliveries API (`GET .../hooks/ID/deliveries`, newest first, 100 a
//! page, the next page's cursor in the `Link` header; `POST .../deliveries/ID/attempts`
//! redelivers through the same Lambda stand-in, answered 202 at once as GitHub does). A 429 or 5xx
//! is then an event only the real `reconciler` binary (`--every`, run beside the burst against the
//! same fake) can bring back; the run ends when every event emitted is on the queue, and `lost`
//! counts the emitted events never queued.
//!
//! With `--backlog N` there is no burst: the outbox starts with N pending rows (real-world
//! N x scale), as an SQS outage leaves them, and the run measures how long the deployed sweeper
//! (one-minute sweeps of at most 60 s) takes to send them under the same quotas.
//!
//! ```text
//! capacity --settings default|tuned|github --out DIR [--scale 100] [--peak 10000] [--ramp-secs 10]
//!          [--hold-secs 300] [--drain-limit-secs 420] [--backlog ROWS] [--bin-dir target/debug]
//!          [--reconcile-every 20] [--pending-shards N]
//! ```
//!
//! Writes `DIR/SETTINGS.csv` (one line a second) and `DIR/SETTINGS.json` (the totals), or
//! `DIR/drain.*` for a backlog run, in the tunnel's own units; scripts/capacity.py converts them to
//! real-world terms.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use e2e::samples::{sample_event, webhook, Layout, Provider};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use shared::aws::dynamodb::pending_item;
use shared::cost::{
    index_warm_write_units_for, pending_shards_for, table_warm_write_units_for,
    NEW_TABLE_WRITE_UNITS_PER_SECOND, PARTITION_WRITE_UNITS_PER_SECOND,
};
use shared::event::shard_of;
use shared::signature::SignatureScheme;
use shared::time::{now_millis, rfc3339_millis, EpochMillis};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The GitHub run's hook secret; fake_aws answers it for every parameter, so it is also the token
/// the reconciler reads and the deliveries API expects.
const GITHUB_SECRET: &str = "capacity-github-hook-secret";
/// The hook the reconciler reads (`RECONCILE_GITHUB_HOOK`) and its API path.
const GITHUB_HOOK: &str = "repos/acme/shop/42";
const GITHUB_HOOK_PATH: &str = "/repos/acme/shop/hooks/42";
/// GitHub's largest page of deliveries, and its default.
const GITHUB_MAX_PER_PAGE: usize = 100;
const GITHUB_DEFAULT_PER_PAGE: usize = 30;
const SOURCE: &str = "burst";
/// A Stripe-like body of this size, the outbox stores compressed in a row under 1 KiB (one write
/// unit a write: docs/COST.md), as most webhooks are.
const BODY_BYTES: usize = 1500;
/// The row the tuned table's warm throughput is sized for.
const ROW_BYTES: usize = 1000;

/// AWS's figures (docs/CAPACITY.md gives the source of each), before scaling.
const SSM_STANDARD_PER_SECOND: f64 = 40.0;
const SSM_HIGHER_PER_SECOND: f64 = 10_000.0;
const LAMBDA_ACCOUNT_CONCURRENCY: f64 = 1000.0;
/// The tuned account's concurrency (a Service Quotas increase; docs/CAPACITY.md sizes it).
const LAMBDA_TUNED_CONCURRENCY: f64 = 3000.0;
/// Lambda adds at most 1,000 instances every 10 s per function.
const LAMBDA_NEW_INSTANCES_PER_SECOND: f64 = 100.0;

struct Args {
    settings: String,
    out: PathBuf,
    scale: f64,
    peak: f64,
    ramp_secs: f64,
    hold_secs: f64,
    drain_limit_secs: f64,
    backlog: u64,
    bin_dir: PathBuf,
    reconcile_every: f64,
    /// `PENDING_SHARDS` instead of the settings' own (to try a sizing).
    pending_shards: Option<u16>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        settings: String::new(),
        out: PathBuf::new(),
        scale: 100.0,
        peak: 10_000.0,
        ramp_secs: 10.0,
        hold_secs: 300.0,
        drain_limit_secs: 420.0,
        backlog: 0,
        bin_dir: PathBuf::from("target/debug"),
        reconcile_every: 20.0,
        pending_shards: None,
    };
    let given: Vec<String> = std::env::args().skip(1).collect();
    let mut rest = given.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .with_context(|| format!("{flag} takes a number above 0, not `{value}`"))
        };
        match flag.as_str() {
            "--settings" => args.settings = value.clone(),
            "--out" => args.out = PathBuf::from(value),
            "--scale" => args.scale = number()?,
            "--peak" => args.peak = number()?,
            "--ramp-secs" => args.ramp_secs = number()?,
            "--hold-secs" => args.hold_secs = number()?,
            "--drain-limit-secs" => args.drain_limit_secs = number()?,
            "--backlog" => args.backlog = number()? as u64,
            "--bin-dir" => args.bin_dir = PathBuf::from(value),
            "--reconcile-every" => args.reconcile_every = number()?.ceil(),
            "--pending-shards" => args.pending_shards = Some(number()?.min(256.0) as u16),
            other => bail!("unknown option {other}"),
        }
    }
    if !matches!(args.settings.as_str(), "default" | "tuned" | "github")
        || args.out.as_os_str().is_empty()
    {
        bail!("usage: capacity --settings default|tuned|github --out DIR [--scale N] [--peak N] [--ramp-secs N] [--hold-secs N] [--drain-limit-secs N] [--bin-dir DIR] [--reconcile-every SECS] [--pending-shards N]");
    }
    Ok(args)
}

/// The settings of a run, in real-world terms.
struct Settings {
    pending_shards: u16,
    table_write_units: f64,
    index_write_units: f64,
    get_parameter_per_second: f64,
    lambda_concurrency: f64,
}

impl Settings {
    fn of(name: &str, peak: f64) -> Self {
        let new_table = NEW_TABLE_WRITE_UNITS_PER_SECOND as f64;
        if name == "default" {
            return Self {
                pending_shards: 8,
                table_write_units: new_table,
                index_write_units: new_table,
                get_parameter_per_second: SSM_STANDARD_PER_SECOND,
                lambda_concurrency: LAMBDA_ACCOUNT_CONCURRENCY,
            };
        }
        Self {
            pending_shards: pending_shards_for(peak),
            table_write_units: table_warm_write_units_for(peak, ROW_BYTES)
                .map_or(new_table, |units| units as f64),
            index_write_units: index_warm_write_units_for(peak)
                .map_or(new_table, |units| units as f64),
            get_parameter_per_second: SSM_HIGHER_PER_SECOND,
            lambda_concurrency: LAMBDA_TUNED_CONCURRENCY,
        }
    }
}

/// One second of the run, as the driver saw it.
#[derive(Default, Clone, Copy)]
struct Second {
    offered: u64,
    accepted: u64,
    failed_5xx: u64,
    throttled_429: u64,
    init_failed: u64,
    cold_starts: u64,
    /// Redeliveries the reconciler asked for (GitHub run), and those answered 2xx.
    redelivered: u64,
    redelivered_accepted: u64,
}

/// One delivery as GitHub records it: its own id, the event (`number`: the guid is
/// [`event_id`]), the status the hook's URL answered (0: no answer), and when it was sent.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DeliveryRecord {
    id: u64,
    number: u64,
    status: u16,
    delivered_at: EpochMillis,
    redelivery: bool,
}

impl DeliveryRecord {
    fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// As GitHub's API lists it.
    fn to_json(self) -> Value {
        // GitHub writes whole seconds.
        let at = rfc3339_millis(self.delivered_at);
        json!({
            "id": self.id,
            "guid": event_id(self.number),
            "delivered_at": format!("{}Z", &at[..19.min(at.len())]),
            "redelivery": self.redelivery,
            "duration": 0.1,
            "status": if self.succeeded() { "OK" } else { "failed" },
            "status_code": self.status,
            "event": "push",
            "action": null,
            "installation_id": null,
            "repository_id": 1,
        })
    }
}

/// The `event-id` of event `number` (GitHub's `X-GitHub-Delivery` in the GitHub run).
fn event_id(number: u64) -> String {
    format!("evt_{number:08}")
}

/// One page of GitHub's delivery list: newest first, at most `per_page` of the deliveries whose
/// id is below `cursor` (all of them without one), and the cursor of the next page when there
/// are more. `deliveries` is in the order they were recorded (ids ascending).
fn deliveries_page(
    deliveries: &[DeliveryRecord],
    cursor: Option<u64>,
    per_page: usize,
) -> (Vec<DeliveryRecord>, Option<u64>) {
    let per_page = per_page.clamp(1, GITHUB_MAX_PER_PAGE);
    let below = deliveries.partition_point(|d| cursor.is_none_or(|cursor| d.id < cursor));
    let page: Vec<DeliveryRecord> = deliveries[..below]
        .iter()
        .rev()
        .take(per_page)
        .copied()
        .collect();
    let next = (below > page.len())
        .then(|| page.last().map(|d| d.id))
        .flatten();
    (page, next)
}

/// `per_page` and `cursor` of a deliveries URL's query.
fn page_query(query: &str) -> (usize, Option<u64>) {
    let mut per_page = GITHUB_DEFAULT_PER_PAGE;
    let mut cursor = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("per_page", value)) => per_page = value.parse().unwrap_or(per_page),
            Some(("cursor", value)) => cursor = value.parse().ok(),
            _ => {}
        }
    }
    (per_page, cursor)
}

/// What became of the events a provider that never retries emitted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Distinct events emitted (first deliveries).
    emitted: u64,
    /// Of those, answered 2xx at their first delivery.
    accepted_first: u64,
    /// Events on the queue.
    on_queue: u64,
    /// Events whose first delivery failed (429, 5xx, no answer) that are on the queue: only a
    /// redelivery the reconciler asked for can have put them there.
    recovered: u64,
    /// Redeliveries asked for, and those answered 2xx.
    redeliveries: u64,
    redeliveries_accepted: u64,
    /// Events emitted and never queued.
    lost: u64,
}

fn tally(deliveries: &[DeliveryRecord], queued: &HashSet<String>) -> Tally {
    let mut first: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
    let mut tally = Tally::default();
    for delivery in deliveries {
        if delivery.redelivery {
            tally.redeliveries += 1;
            tally.redeliveries_accepted += u64::from(delivery.succeeded());
        } else {
            first.entry(delivery.number).or_insert(delivery.succeeded());
        }
    }
    for (number, accepted) in first {
        let on_queue = queued.contains(&event_id(number));
        tally.emitted += 1;
        tally.accepted_first += u64::from(accepted);
        tally.on_queue += u64::from(on_queue);
        tally.recovered += u64::from(on_queue && !accepted);
        tally.lost += u64::from(!on_queue);
    }
    tally
}

/// GitHub's record of the hook's deliveries (the GitHub run).
#[derive(Default)]
struct Hook {
    deliveries: Vec<DeliveryRecord>,
    next_id: u64,
    listed_pages: u64,
}

impl Hook {
    fn record(&mut self, number: u64, status: u16, delivered_at: EpochMillis, redelivery: bool) {
        self.next_id += 1;
        self.deliveries.push(DeliveryRecord {
            id: self.next_id,
            number,
            status,
            delivered_at,
            redelivery,
        });
    }
}

struct Instance {
    port: u16,
    child: Child,
}

/// The Lambda stand-in: idle instances, how many exist, and the scaling-rate bucket.
struct Fleet {
    idle: Vec<Instance>,
    existing: usize,
    limit: usize,
    scale_tokens: f64,
    scale_rate: f64,
    scale_burst: f64,
    refilled: Instant,
    started: u64,
    /// Every instance ever started, for the cold-start logs and the final kill.
    logs: Vec<PathBuf>,
}

impl Fleet {
    /// An idle instance, or leave to start one, or neither (Lambda would throttle).
    fn take(&mut self) -> Option<Option<Instance>> {
        if let Some(instance) = self.idle.pop() {
            return Some(Some(instance));
        }
        let now = Instant::now();
        self.scale_tokens = (self.scale_tokens
            + now.saturating_duration_since(self.refilled).as_secs_f64() * self.scale_rate)
            .min(self.scale_burst);
        self.refilled = now;
        if self.existing >= self.limit || self.scale_tokens < 1.0 {
            return None;
        }
        self.scale_tokens -= 1.0;
        self.existing += 1;
        Some(None)
    }
}

struct Run {
    args: Args,
    settings: Settings,
    endpoint: String,
    started: Instant,
    seconds: Mutex<Vec<Second>>,
    accepted_ids: Mutex<HashSet<String>>,
    /// How long each 2xx on a warm instance took, in milliseconds.
    warm_durations: Mutex<Vec<f64>>,
    fleet: Mutex<Fleet>,
    log_dir: PathBuf,
    /// `SOURCE_NAME`: the backlog's rows are the sample events' (`stripe`).
    source: &'static str,
    /// The GitHub run: a provider that never retries, with its deliveries API.
    github: bool,
    hook: Mutex<Hook>,
}

impl Run {
    fn record(&self, at: Instant, apply: impl FnOnce(&mut Second)) {
        let second = at.saturating_duration_since(self.started).as_secs() as usize;
        let mut seconds = self.seconds.lock().expect("no panic while recording");
        if seconds.len() <= second {
            seconds.resize(second + 1, Second::default());
        }
        apply(&mut seconds[second]);
    }

    fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "eu-west-1".into()),
            ("AWS_ACCESS_KEY_ID", "capacity".into()),
            ("AWS_SECRET_ACCESS_KEY", "capacity".into()),
            ("SOURCE_NAME", self.source.into()),
            ("OUTBOX_TABLE", "capacity-outbox".into()),
            (
                "QUEUE_URL",
                format!("{}/000000000000/capacity-events", self.endpoint),
            ),
            ("SECRET_PARAMETER", "/capacity/secret".into()),
            (
                "SIGNATURE_SCHEME",
                if self.github {
                    "github"
                } else {
                    "standard-webhooks"
                }
                .into(),
            ),
            ("PENDING_SHARDS", self.settings.pending_shards.to_string()),
            ("RUST_LOG", "warn".into()),
        ]
    }

    /// Starts one ingress process (a cold start) and waits until it listens, or its init failed.
    async fn cold_start(&self) -> anyhow::Result<Instance> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = {
            let mut fleet = self.fleet.lock().expect("no panic holding the fleet");
            fleet.started += 1;
            let log = self.log_dir.join(format!("ingress-{}.log", fleet.started));
            fleet.logs.push(log.clone());
            log
        };
        let mut child = Command::new(self.args.bin_dir.join("ingress"))
            .envs(self.function_env())
            .env("INGRESS_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the ingress")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(Instance { port, child });
            }
            if let Some(status) = child.try_wait()? {
                bail!("the ingress's init failed ({status})");
            }
            if Instant::now() > deadline {
                bail!("the ingress did not listen within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One webhook delivery (or, in the GitHub run, a redelivery the reconciler asked for),
    /// answered as a provider would see it; GitHub's side records it.
    async fn deliver(self: Arc<Self>, number: u64, redelivery: bool) {
        let delivered_at = now_millis();
        let status = Arc::clone(&self).attempt(number, redelivery).await;
        if self.github {
            self.hook.lock().expect("no panic holding the hook").record(
                number,
                status,
                delivered_at,
                redelivery,
            );
        }
    }

    /// The delivery through the Lambda stand-in: its status (429 throttled, 502 init failed, 0 no
    /// answer).
    async fn attempt(self: Arc<Self>, number: u64, redelivery: bool) -> u16 {
        let arrived = Instant::now();
        self.record(arrived, |s| {
            if redelivery {
                s.redelivered += 1;
            } else {
                s.offered += 1;
            }
        });
        let taken = self
            .fleet
            .lock()
            .expect("no panic holding the fleet")
            .take();
        let mut warm = true;
        let instance = match taken {
            None => {
                if !redelivery {
                    self.record(arrived, |s| s.throttled_429 += 1);
                }
                return 429;
            }
            Some(Some(instance)) => instance,
            Some(None) => {
                warm = false;
                self.record(arrived, |s| s.cold_starts += 1);
                match self.cold_start().await {
                    Ok(instance) => instance,
                    Err(_) => {
                        self.fleet.lock().expect("no panic").existing -= 1;
                        if !redelivery {
                            self.record(arrived, |s| {
                                s.init_failed += 1;
                                s.failed_5xx += 1;
                            });
                        }
                        return 502;
                    }
                }
            }
        };
        let event_id = event_id(number);
        let sent = Instant::now();
        let status = post(instance.port, &event_id, number, self.github).await;
        if warm && matches!(status, Some(200..=299)) {
            let millis = sent.elapsed().as_secs_f64() * 1000.0;
            self.warm_durations.lock().expect("no panic").push(millis);
        }
        self.fleet
            .lock()
            .expect("no panic holding the fleet")
            .idle
            .push(instance);
        match status {
            Some(200..=299) => {
                self.accepted_ids.lock().expect("no panic").insert(event_id);
                self.record(arrived, |s| {
                    if redelivery {
                        s.redelivered_accepted += 1;
                    } else {
                        s.accepted += 1;
                    }
                });
            }
            _ if !redelivery => self.record(arrived, |s| s.failed_5xx += 1),
            _ => {}
        }
        status.unwrap_or(0)
    }
}

/// GitHub's hook deliveries API for the GitHub run, the calls the reconciler makes: the list
/// (newest first, cursor pagination in the `Link` header) and a redelivery (202 at once; the
/// delivery runs after, through the Lambda stand-in, and is recorded like any other).
async fn deliveries_api(
    run: Arc<Run>,
    base: String,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let answer = |status: StatusCode, headers: &[(&str, String)], body: Value| {
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    };
    let authorised = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(&format!("Bearer {GITHUB_SECRET}"));
    if !authorised {
        return answer(
            StatusCode::UNAUTHORIZED,
            &[],
            json!({"message": "Bad credentials"}),
        );
    }
    let list = format!("{GITHUB_HOOK_PATH}/deliveries");
    let path = request.uri().path();
    if request.method() == Method::GET && path == list {
        let (per_page, cursor) = page_query(request.uri().query().unwrap_or_default());
        let (page, next) = {
            let mut hook = run.hook.lock().expect("no panic holding the hook");
            hook.listed_pages += 1;
            deliveries_page(&hook.deliveries, cursor, per_page)
        };
        let link: Vec<(&str, String)> = next
            .map(|cursor| {
                (
                    "link",
                    format!("<{base}{list}?per_page={per_page}&cursor={cursor}>; rel=\"next\""),
                )
            })
            .into_iter()
            .collect();
        let body = page.into_iter().map(DeliveryRecord::to_json).collect();
        return answer(StatusCode::OK, &link, Value::Array(body));
    }
    let attempt = path
        .strip_prefix(&format!("{list}/"))
        .and_then(|rest| rest.strip_suffix("/attempts"))
        .and_then(|id| id.parse::<u64>().ok());
    let Some(delivery_id) = attempt.filter(|_| request.method() == Method::POST) else {
        return answer(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"}));
    };
    let number = {
        let hook = run.hook.lock().expect("no panic holding the hook");
        let at = hook.deliveries.partition_point(|d| d.id < delivery_id);
        hook.deliveries
            .get(at)
            .filter(|d| d.id == delivery_id)
            .map(|d| d.number)
    };
    let Some(number) = number else {
        return answer(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"}));
    };
    tokio::spawn(Arc::clone(&run).deliver(number, true));
    answer(StatusCode::ACCEPTED, &[], json!({}))
}

/// Serves [`deliveries_api`] on 127.0.0.1; returns its base URL.
async fn serve_deliveries_api(run: &Arc<Run>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (run, served) = (Arc::clone(run), base.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (run, base) = (Arc::clone(&run), served.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (run, base) = (Arc::clone(&run), base.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(deliveries_api(run, base, request).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(base)
}

/// The burst: each delivery spawned when the schedule's integral passes its number; returns when
/// every one has been answered.
async fn offer_burst(run: &Arc<Run>) {
    let (peak, ramp, hold) = (
        run.args.peak / run.args.scale,
        run.args.ramp_secs,
        run.args.hold_secs,
    );
    let mut deliveries = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        let t = run.started.elapsed().as_secs_f64();
        let due = offered_by(t, peak, ramp, hold).floor() as u64;
        while sent < due {
            sent += 1;
            deliveries.spawn(Arc::clone(run).deliver(sent, false));
        }
        while deliveries.try_join_next().is_some() {}
        if t >= ramp + hold {
            break;
        }
    }
    while deliveries.join_next().await.is_some() {}
}

/// Stores `--backlog` pending rows of sample events in the fake (as the ingress wrote them while
/// SQS refused sends), and counts them as answered 2xx: each must reach the queue.
async fn load_backlog(run: &Run) -> anyhow::Result<()> {
    let shards = run.settings.pending_shards;
    let mut items = Vec::new();
    for seed in 0..run.args.backlog {
        let event = sample_event(Provider::Stripe, Layout::Compact, BODY_BYTES, seed);
        let item = pending_item(&event, shard_of(&event.key, shards));
        items.push(Value::Object(
            item.iter()
                .map(|(name, value)| (name.clone(), attribute_json(value)))
                .collect(),
        ));
        run.accepted_ids
            .lock()
            .expect("no panic")
            .insert(event.event_id.clone());
    }
    for chunk in items.chunks(500) {
        let body = serde_json::to_vec(chunk)?;
        let address = run.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await?;
        let head = format!(
            "POST /_load HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
    }
    Ok(())
}

/// An SDK attribute value in DynamoDB's JSON wire form.
fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => json!({"S": text}),
        AttributeValue::N(number) => json!({"N": number}),
        AttributeValue::B(blob) => {
            json!({"B": base64(blob.as_ref())})
        }
        AttributeValue::Bool(flag) => json!({"BOOL": flag}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(set) => json!({"SS": set}),
        AttributeValue::L(list) => {
            json!({"L": list.iter().map(attribute_json).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => json!({"M": map
            .iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect::<serde_json::Map<_, _>>()}),
        _ => Value::Null,
    }
}

/// Standard base64 with padding (the bench crate does not depend on a base64 crate for one use).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, byte)| {
            word | u32::from(*byte) << (16 - 8 * i)
        });
        for position in 0..4 {
            if position <= chunk.len() {
                text.push(ALPHABET[(word >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// POSTs one signed delivery (Standard Webhooks, or GitHub's signature and headers in the GitHub
/// run); the status, or `None` if the connection failed.
async fn post(port: u16, event_id: &str, seed: u64, github: bool) -> Option<u16> {
    let (scheme, secret, provider) = if github {
        (SignatureScheme::GitHub, GITHUB_SECRET, Provider::GitHub)
    } else {
        (SignatureScheme::StandardWebhooks, SECRET, Provider::Stripe)
    };
    let body = webhook(provider, Layout::Compact, BODY_BYTES, seed);
    let keys = scheme.parse_keys(secret).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if github {
        request.push_str("X-GitHub-Event: push\r\nX-GitHub-Hook-ID: 42\r\n");
    }
    for (name, value) in scheme.sign(keys.first()?, event_id, now, &body) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        stream.write_all(&body).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let status_line = answer.split(|b| *b == b'\r').next()?;
        std::str::from_utf8(status_line)
            .ok()?
            .split(' ')
            .nth(1)?
            .parse()
            .ok()
    };
    // A guard against a hang only: the ingress answers within its 3 s response budget.
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .ok()
        .flatten()
}

/// How many deliveries the schedule holds up to `t`: a linear ramp to `peak` over `ramp`
/// seconds, held for `hold` seconds, then nothing.
fn offered_by(t: f64, peak: f64, ramp: f64, hold: f64) -> f64 {
    let ramped = t.min(ramp);
    let held = (t - ramp).clamp(0.0, hold);
    peak * ramped * ramped / (2.0 * ramp) + peak * held
}

async fn get_json(endpoint: &str, path: &str) -> anyhow::Result<Value> {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header end")?;
    Ok(serde_json::from_slice(&answer[split + 4..])?)
}

fn spawn_logged(program: &Path, args: &[&str], log: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdout(std::fs::File::create(log)?)
        .stderr(Stdio::null())
        .kill_on_drop(true);
    Ok(command)
}

/// The sum of one EMF metric over every line of `log`.
fn emf_sum(log: &Path, metric: &str) -> f64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .filter_map(|line| line[metric].as_f64())
        .sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut settings = Settings::of(&args.settings, args.peak);
    if let Some(shards) = args.pending_shards {
        settings.pending_shards = shards;
    }
    let scale = args.scale;
    std::fs::create_dir_all(&args.out)?;
    let log_dir =
        std::env::temp_dir().join(format!("capacity-{}-{}", args.settings, std::process::id()));
    std::fs::create_dir_all(&log_dir)?;

    let quotas = json!({
        "table_write_units": settings.table_write_units / scale,
        "index_write_units": settings.index_write_units / scale,
        "partition_write_units": PARTITION_WRITE_UNITS_PER_SECOND as f64 / scale,
        "get_parameter": settings.get_parameter_per_second / scale,
        "burst_secs": 1.0,
    });
    let github = args.settings == "github";
    let secret = if github { GITHUB_SECRET } else { SECRET };
    let mut fake = Command::new(args.bin_dir.join("fake_aws"))
        .args(["--secret", secret, "--quotas", &quotas.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting fake_aws (build it with `cargo build -p bench`)")?;
    let mut first_line = String::new();
    BufReader::new(fake.stdout.take().context("fake_aws stdout")?)
        .read_line(&mut first_line)
        .await?;
    let endpoint = first_line
        .split_whitespace()
        .nth(1)
        .context("fake_aws printed no address")?
        .to_owned();

    let limit = (settings.lambda_concurrency / scale).round().max(1.0);
    let scale_burst = (LAMBDA_NEW_INSTANCES_PER_SECOND * 10.0 / scale).max(1.0);
    let run = Arc::new(Run {
        settings,
        endpoint,
        started: Instant::now(),
        seconds: Mutex::new(Vec::new()),
        accepted_ids: Mutex::new(HashSet::new()),
        warm_durations: Mutex::new(Vec::new()),
        fleet: Mutex::new(Fleet {
            idle: Vec::new(),
            existing: 0,
            limit: limit as usize,
            scale_tokens: scale_burst,
            scale_rate: LAMBDA_NEW_INSTANCES_PER_SECOND / scale,
            scale_burst,
            refilled: Instant::now(),
            started: 0,
            logs: Vec::new(),
        }),
        log_dir: log_dir.clone(),
        source: if args.backlog > 0 { "stripe" } else { SOURCE },
        github,
        hook: Mutex::new(Hook::default()),
        args,
    });
    if run.args.backlog > 0 {
        load_backlog(&run).await?;
    }
    let sweeper_log = log_dir.join("sweeper.log");
    let mut sweeper = spawn_logged(
        &run.args.bin_dir.join("sweeper"),
        &["--every", "60"],
        &sweeper_log,
    )?
    .envs(run.function_env())
    .spawn()
    .context("starting the sweeper")?;

    // The GitHub run: GitHub's deliveries API, and the reconciler reading it beside the burst.
    let reconciler_log = log_dir.join("reconciler.log");
    let mut reconciler = None;
    if run.github {
        let api_base = serve_deliveries_api(&run).await?;
        let every = run.args.reconcile_every.to_string();
        let mut command = spawn_logged(
            &run.args.bin_dir.join("reconciler"),
            &["--every", &every],
            &reconciler_log,
        )?;
        command.envs(run.function_env()).envs([
            ("RECONCILE_PROVIDER", "github".to_owned()),
            ("RECONCILE_GITHUB_HOOK", GITHUB_HOOK.to_owned()),
            ("GITHUB_API_BASE", api_base),
            (
                "BACKFILL_CREDENTIAL_PARAMETER",
                "/capacity/github-token".to_owned(),
            ),
            ("RECONCILE_LOOKBACK_SECS", "3600".to_owned()),
            // A delivery is recorded once answered (at most the ingress's budget): a run leaves
            // the last seconds to the next, and each window reaches back over the one before.
            ("RECONCILE_SETTLE_SECS", "10".to_owned()),
            ("RECONCILE_OVERLAP_SECS", "60".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]);
        reconciler = Some(command.spawn().context("starting the reconciler")?);
    }

    // The fake's counters once a second, beside the driver's own.
    let samples: Arc<Mutex<Vec<(f64, Value, usize)>>> = Arc::new(Mutex::new(Vec::new()));
    let sampling = {
        let run = Arc::clone(&run);
        let samples = Arc::clone(&samples);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let at = run.started.elapsed().as_secs_f64();
                if let Ok(stats) = get_json(&run.endpoint, "/_stats").await {
                    let instances = run.fleet.lock().expect("no panic").existing;
                    samples
                        .lock()
                        .expect("no panic")
                        .push((at, stats, instances));
                }
            }
        })
    };

    if run.args.backlog == 0 {
        offer_burst(&run).await;
    }
    let burst_end = run.started.elapsed().as_secs_f64();
    let pending_at_burst_end = get_json(&run.endpoint, "/_stats").await?["pending"].clone();

    // The drain: until nothing is pending and every 2xx event (GitHub run: every event emitted)
    // is on the queue.
    let offered: u64 = run
        .seconds
        .lock()
        .expect("no panic")
        .iter()
        .map(|s| s.offered)
        .sum();
    let emitted: HashSet<String> = (1..=offered).map(event_id).collect();
    let expected: HashSet<String> = if run.github {
        emitted.clone()
    } else {
        run.accepted_ids.lock().expect("no panic").clone()
    };
    let mut drained_at = None;
    let mut missing = expected.len();
    while run.started.elapsed().as_secs_f64() < burst_end + run.args.drain_limit_secs {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stats = get_json(&run.endpoint, "/_stats").await?;
        if stats["pending"].as_u64() != Some(0) {
            continue;
        }
        let queued: HashSet<String> =
            serde_json::from_value(get_json(&run.endpoint, "/_messages").await?)?;
        missing = expected.difference(&queued).count();
        if missing == 0 {
            drained_at = Some(run.started.elapsed().as_secs_f64());
            break;
        }
    }
    sampling.abort();
    let final_stats = get_json(&run.endpoint, "/_stats").await?;
    let queued: HashSet<String> =
        serde_json::from_value(get_json(&run.endpoint, "/_messages").await?)?;
    let accepted: HashSet<String> = run.accepted_ids.lock().expect("no panic").clone();
    let lost_accepted = accepted.difference(&queued).count();
    let lost = if run.github {
        expected.difference(&queued).count()
    } else {
        lost_accepted
    };
    let on_queue = emitted.intersection(&queued).count();
    let github_tally = run.github.then(|| {
        let hook = run.hook.lock().expect("no panic");
        let tally = tally(&hook.deliveries, &queued);
        json!({
            "emitted": tally.emitted,
            "accepted_first": tally.accepted_first,
            "on_queue": tally.on_queue,
            "recovered": tally.recovered,
            "redeliveries": tally.redeliveries,
            "redeliveries_accepted": tally.redeliveries_accepted,
            "lost": tally.lost,
            "listed_pages": hook.listed_pages,
        })
    });

    if let Some(mut reconciler) = reconciler {
        let _ = reconciler.kill().await;
    }
    let _ = sweeper.kill().await;
    let mut fleet_logs = Vec::new();
    {
        let mut fleet = run.fleet.lock().expect("no panic");
        for mut instance in fleet.idle.drain(..) {
            let _ = instance.child.start_kill();
        }
        fleet_logs.append(&mut fleet.logs);
    }
    let _ = fake.kill().await;

    let seconds = run.seconds.lock().expect("no panic").clone();
    let samples = samples.lock().expect("no panic").clone();
    write_outputs(
        &run,
        &seconds,
        &samples,
        &fleet_logs,
        &sweeper_log,
        json!({
            "burst_end_secs": burst_end,
            "pending_at_burst_end": pending_at_burst_end,
            "drained_secs_after_burst": drained_at.map(|at| at - burst_end),
            "missing_at_drain_limit": missing,
            "lost": lost,
            "lost_accepted": lost_accepted,
            "emitted": offered,
            "on_queue": on_queue,
            "github": github_tally,
            "reconciler": reconciler_figures(&reconciler_log),
            "final": final_stats,
        }),
    )?;
    if lost > 0 {
        if run.github {
            bail!("{lost} webhooks emitted never reached the queue");
        }
        bail!("{lost} webhooks answered 2xx never reached the queue");
    }
    Ok(())
}

/// The reconciler's runs and its EMF figures, summed over its log.
fn reconciler_figures(log: &Path) -> Value {
    let runs = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("ReconcileListed") && line.contains("_aws"))
        .count();
    json!({
        "runs": runs,
        "listed": emf_sum(log, "ReconcileListed"),
        "missing": emf_sum(log, "ReconcileMissing"),
        "recovered": emf_sum(log, "ReconcileRecovered"),
        "unrecoverable": emf_sum(log, "ReconcileUnrecoverable"),
        "failed": emf_sum(log, "ReconcileFailed"),
        "errors": emf_sum(log, "ReconcileErrors"),
    })
}

fn write_outputs(
    run: &Run,
    seconds: &[Second],
    samples: &[(f64, Value, usize)],
    fleet_logs: &[PathBuf],
    sweeper_log: &Path,
    mut summary: Value,
) -> anyhow::Result<()> {
    let name = if run.args.backlog > 0 {
        "drain"
    } else {
        run.args.settings.as_str()
    };
    let mut csv = String::from("second,offered,accepted,failed_5xx,throttled_429,init_failed,cold_starts,redelivered,redelivered_accepted,instances,rows_put,write_throttles,get_parameter_throttles,sent_without_row,resent_by_sweeper,pending,parked\n");
    let length = seconds.len().max(samples.len());
    for second in 0..length {
        let s = seconds.get(second).copied().unwrap_or_default();
        let sample = samples
            .iter()
            .rev()
            .find(|(at, _, _)| *at <= second as f64 + 1.0);
        let (stats, instances) = sample.map_or((json!({}), 0), |(_, stats, n)| (stats.clone(), *n));
        let counter = |name: &str| stats[name].as_u64().unwrap_or(0);
        csv.push_str(&format!(
            "{second},{},{},{},{},{},{},{},{},{instances},{},{},{},{},{},{},{}\n",
            s.offered,
            s.accepted,
            s.failed_5xx,
            s.throttled_429,
            s.init_failed,
            s.cold_starts,
            s.redelivered,
            s.redelivered_accepted,
            counter("rows_put"),
            counter("write_throttles"),
            counter("get_parameter_throttles"),
            counter("sent_without_row"),
            counter("messages_batched"),
            counter("pending"),
            counter("parked"),
        ));
    }
    std::fs::write(run.args.out.join(format!("{name}.csv")), csv)?;

    let total = |field: fn(&Second) -> u64| seconds.iter().map(field).sum::<u64>();
    let ingress_metric = |metric: &str| {
        fleet_logs
            .iter()
            .map(|log| emf_sum(log, metric))
            .sum::<f64>()
    };
    summary["settings"] = json!({
        "name": name,
        "scale": run.args.scale,
        "peak": run.args.peak,
        "ramp_secs": run.args.ramp_secs,
        "hold_secs": run.args.hold_secs,
        "backlog": run.args.backlog,
        "pending_shards": run.settings.pending_shards,
        "table_write_units": run.settings.table_write_units,
        "index_write_units": run.settings.index_write_units,
        "get_parameter_per_second": run.settings.get_parameter_per_second,
        "lambda_concurrency": run.settings.lambda_concurrency,
    });
    let mut durations = run.warm_durations.lock().expect("no panic").clone();
    durations.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        durations
            .get(((durations.len() as f64 - 1.0) * q).round().max(0.0) as usize)
            .copied()
    };
    summary["warm_duration_ms"] = json!({"p50": quantile(0.5), "p99": quantile(0.99)});
    summary["offered"] = json!(total(|s| s.offered));
    summary["accepted"] = json!(total(|s| s.accepted));
    summary["failed_5xx"] = json!(total(|s| s.failed_5xx));
    summary["throttled_429"] = json!(total(|s| s.throttled_429));
    summary["init_failed"] = json!(total(|s| s.init_failed));
    summary["cold_starts"] = json!(total(|s| s.cold_starts));
    summary["cold_start_secret_retries"] = json!(ingress_metric("ColdStartSecretRetries"));
    summary["outbox_write_failed"] = json!(ingress_metric("OutboxWriteFailed"));
    summary["enqueue_deferred"] = json!(ingress_metric("EnqueueDeferred"));
    summary["mark_sent_failed"] = json!(ingress_metric("MarkSentFailed"));
    summary["sweeper_resent"] = json!(emf_sum(sweeper_log, "Resent"));
    summary["sweeper_parked"] = json!(emf_sum(sweeper_log, "Parked"));
    let peak_pending = samples
        .iter()
        .filter_map(|(_, stats, _)| stats["pending"].as_u64())
        .max()
        .unwrap_or(0);
    summary["peak_pending"] = json!(peak_pending);
    std::fs::write(
        run.args.out.join(format!("{name}.json")),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: u64, number: u64, status: u16, redelivery: bool) -> DeliveryRecord {
        DeliveryRecord {
            id,
            number,
            status,
            delivered_at: 1_700_000_000_000 + id as i64,
            redelivery,
        }
    }

    #[test]
    fn deliveries_are_listed_newest_first_a_page_at_a_time_to_the_oldest() {
        let deliveries: Vec<DeliveryRecord> =
            (1..=7).map(|id| delivery(id, id, 200, false)).collect();
        let ids = |page: &[DeliveryRecord]| page.iter().map(|d| d.id).collect::<Vec<_>>();
        let (first, next) = deliveries_page(&deliveries, None, 3);
        assert_eq!((ids(&first), next), (vec![7, 6, 5], Some(5)));
        let (second, next) = deliveries_page(&deliveries, next, 3);
        assert_eq!((ids(&second), next), (vec![4, 3, 2], Some(2)));
        let (last, next) = deliveries_page(&deliveries, next, 3);
        assert_eq!(
            (ids(&last), next),
            (vec![1], None),
            "no link after the oldest"
        );
        let (exact, next) = deliveries_page(&deliveries[..6], None, 3);
        assert_eq!(ids(&exact), [6, 5, 4]);
        let (rest, next) = deliveries_page(&deliveries[..6], next, 3);
        assert_eq!(
            (ids(&rest), next),
            (vec![3, 2, 1], None),
            "a full last page links nowhere"
        );
        assert_eq!(deliveries_page(&[], None, 100), (vec![], None));
        let (capped, _) = deliveries_page(&deliveries, None, 1_000);
        assert_eq!(capped.len(), 7);
        assert_eq!(
            deliveries_page(&deliveries, None, 0).0.len(),
            1,
            "at least one a page"
        );
    }

    #[test]
    fn a_page_query_names_its_size_and_cursor() {
        assert_eq!(page_query("per_page=100&cursor=42"), (100, Some(42)));
        assert_eq!(page_query(""), (GITHUB_DEFAULT_PER_PAGE, None));
        assert_eq!(
            page_query("cursor=x&per_page=y"),
            (GITHUB_DEFAULT_PER_PAGE, None)
        );
    }

    #[test]
    fn listed_deliveries_read_as_github_writes_them() {
        let listed = delivery(9, 3, 429, true).to_json();
        assert_eq!(listed["guid"], "evt_00000003");
        assert_eq!(listed["status_code"], 429);
        assert_eq!(listed["status"], "failed");
        assert_eq!(
            listed["delivered_at"], "2023-11-14T22:13:20Z",
            "whole seconds"
        );
        let parsed: backfill::github::Delivery = serde_json::from_value(listed).unwrap();
        assert_eq!((parsed.id, parsed.succeeded()), (9, false));
        assert_eq!(parsed.delivered_at_millis(), Some(1_700_000_000_000));
    }

    #[test]
    fn an_event_counts_as_recovered_only_when_its_first_delivery_failed_and_it_is_queued() {
        let deliveries = [
            delivery(1, 1, 200, false),
            delivery(2, 2, 429, false),
            delivery(3, 3, 502, false),
            delivery(4, 4, 0, false),
            delivery(5, 2, 429, true),
            delivery(6, 2, 200, true),
            delivery(7, 3, 200, true),
        ];
        // 3 was redelivered but its message is not on the queue; 1 was accepted and queued.
        let queued: HashSet<String> = [1, 2].into_iter().map(event_id).collect();
        assert_eq!(
            tally(&deliveries, &queued),
            Tally {
                emitted: 4,
                accepted_first: 1,
                on_queue: 2,
                recovered: 1,
                redeliveries: 3,
                redeliveries_accepted: 2,
                lost: 2,
            }
        );
    }
}
