//! `backfill`: events the provider emitted that never reached the outbox (a DNS or certificate
//! problem, a secret rotated on one side, a provider that gave up retrying), found through the
//! provider's own API and brought in. GitHub is asked to redeliver (the delivery then arrives
//! signed, through the ingress); Stripe's events are taken from its API, recorded in the outbox and
//! sent like accepted events with `delivered-by: backfill`. An event whose id already has a row is
//! never touched, so a run again does nothing more.

pub mod api;
pub mod github;
pub mod github_app;
pub mod stripe;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use http::HeaderMap;
use indicatif::ProgressBar;
use serde_json::json;
use shared::aws::dynamodb::{DynamoDbOutbox, MAX_BATCH_GET};
use shared::aws::sqs::Queues;
use shared::config::OutboxSettings;
use shared::event::{outbox_key, AcceptedEvent, LazyJson};
use shared::message::{DeliveredBy, OutgoingMessage};
use shared::outbox::{InsertOutcome, OutboxError};
use shared::time::{now_millis, rfc3339_millis, EpochMillis};

use self::api::{ApiClient, ApiError, Sleeper, TokioSleeper};
use self::github::HookPath;
use crate::output::{table, Output};
use crate::target::Target;
use crate::timearg::parse_time;
use crate::Outcome;

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";
/// The GitHub REST API version the requests are written against.
const GITHUB_API_VERSION: &str = "2022-11-28";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    Stripe,
    Github,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Whose API to ask.
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// Events emitted at or after this time (RFC 3339 with its offset, or an age such as `3d`).
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Events emitted before this time (RFC 3339 with its offset, or an age).
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub until: String,
    /// GitHub: the hook that delivers to this ingress, repos/OWNER/REPO/HOOK_ID, orgs/ORG/HOOK_ID, or
    /// `app` for a GitHub App's own hook (the credential is then the App's id and private key).
    #[arg(long, value_name = "HOOK", required_if_eq("provider", "github"))]
    pub github_hook: Option<HookPath>,
    /// Stripe: every event of the window, not only those some endpoint did not get
    /// (for an endpoint Stripe never called, whose events count as delivered elsewhere).
    #[arg(long)]
    pub all: bool,
    /// Stripe: the API version to serialise events in (`Stripe-Version`), the webhook endpoint's
    /// own; default the account's.
    #[arg(long, value_name = "VERSION")]
    pub stripe_version: Option<String>,
    /// The SSM parameter (SecureString) holding the API credential: a Stripe restricted key
    /// with read access to events, a GitHub token allowed to read and redeliver the hook's
    /// deliveries, or for `--github-hook app` the App's `{"app_id": ..., "private_key": "<PEM>"}`.
    #[arg(
        long,
        env = "BACKFILL_CREDENTIAL_PARAMETER",
        value_name = "NAME",
        required = true
    )]
    pub credential_parameter: String,
    /// Stripe's API (a test server's, or a proxy's).
    #[arg(long, env = "STRIPE_API_BASE", value_name = "URL", default_value = DEFAULT_STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// GitHub's API (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_BASE", value_name = "URL", default_value = DEFAULT_GITHUB_API_BASE)]
    pub github_api_base: String,
    /// Do it (without: list, and print what would be done and the calls it would make).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// The long help of the command.
pub const LONG_ABOUT: &str = "\
Finds the events the provider emitted between --since and --until that never reached this \
source's outbox, through the provider's API, and brings them in. An event whose id already has a \
row is never touched, so running it again backfills nothing more.
  github  lists the hook's deliveries (--github-hook), keeps the events none of whose deliveries \
got a 2xx and that have no row, and asks GitHub to redeliver the latest delivery of each \
(POST .../deliveries/ID/attempts): it arrives signed, through the ingress. GitHub refuses \
deliveries older than three days: those are reported as failed.
  stripe  lists the events Stripe did not deliver to every endpoint (GET /v1/events with \
delivery_success=false; --all: every event), records each that has no row in the outbox and sends \
it to the queue with `delivered-by: backfill`. Its body is the API's JSON of the event, \
authenticated by the API call, not by a webhook signature (docs/backfill.md). Stripe lists events \
of the last 30 days.
The credential is read from the SSM parameter BACKFILL_CREDENTIAL_PARAMETER and never printed. \
Rate limits are waited out as the API asks (Retry-After). Without --yes it only lists, and prints \
what it would do and the API calls it would make. Exit 3 when an event could not be recovered.";

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events the provider listed in the window.
    pub listed: usize,
    /// GitHub: events one of whose deliveries succeeded.
    pub delivered: usize,
    /// Events with a row in the outbox already.
    pub already_present: usize,
    /// Events with neither: what a run with --yes brings in.
    pub missing: Vec<Missing>,
    /// Redelivered (GitHub) or recorded and sent (Stripe).
    pub recovered: Vec<String>,
    /// Recorded in the outbox but not sent (the sweeper sends them).
    pub left_to_sweeper: Vec<String>,
    /// Not recovered, with why.
    pub failed: Vec<String>,
    /// The API calls made, and in a dry run the calls and changes a run with --yes would make.
    pub calls: Vec<String>,
}

/// An event the outbox lacks.
#[derive(Debug, Clone)]
pub struct Missing {
    pub id: String,
    pub event_type: Option<String>,
    /// When the provider emitted or last delivered it.
    pub at: String,
    /// Why the provider's delivery failed, when it says (GitHub's status code).
    pub last_status: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Listing(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Where recovered Stripe events go: this source's outbox and queues, as the ingress sends them.
pub struct Sink<'a> {
    pub outbox: &'a DynamoDbOutbox,
    pub queues: &'a Queues,
    pub settings: &'a OutboxSettings,
}

/// The window, in epoch milliseconds: `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: EpochMillis,
    pub until: EpochMillis,
}

/// The keys among `ids` that have a row in `outbox` (whatever its state).
async fn present(outbox: &DynamoDbOutbox, ids: &[&str]) -> Result<HashSet<String>, OutboxError> {
    let keys: Vec<String> = ids
        .iter()
        .map(|id| outbox_key(outbox.source(), id))
        .collect();
    let mut found = HashSet::new();
    for chunk in keys.chunks(MAX_BATCH_GET) {
        for row in outbox.load_rows(chunk).await? {
            found.insert(row.key);
        }
    }
    Ok(found)
}

/// GitHub: lists the hook's deliveries in `window`, and with `act` asks for a redelivery of each
/// failed event the outbox lacks.
pub async fn github(
    api: &ApiClient,
    hook: &HookPath,
    window: Window,
    outbox: &DynamoDbOutbox,
    act: bool,
    progress: &ProgressBar,
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let mut deliveries = Vec::new();
    let mut url = api.url(&hook.deliveries_path());
    loop {
        summary.calls.push(format!("GET {url}"));
        let response = api.get(&url).await?;
        if !response.status.is_success() {
            return Err(BackfillError::Listing(format!(
                "GitHub refused to list the deliveries of {}: {} (does the token have the hook's admin:repo_hook / admin:org_hook scope, and is the hook id right?)",
                hook.api_path(),
                response.refusal()
            )));
        }
        let page: Vec<github::Delivery> =
            serde_json::from_slice(&response.body).map_err(|err| {
                BackfillError::Listing(format!("GitHub's delivery list cannot be read: {err}"))
            })?;
        progress.inc_length(page.len() as u64);
        progress.inc(page.len() as u64);
        // Newest first: once a page reaches before the window, later pages are older still.
        let mut older_than_window = false;
        for delivery in page {
            match delivery.delivered_at_millis() {
                Some(at) if at < window.since => older_than_window = true,
                Some(at) if at >= window.until => {}
                _ => deliveries.push(delivery),
            }
        }
        match github::next_link(&response.headers) {
            Some(next) if !older_than_window => {
                if !api.owns(&next) {
                    return Err(BackfillError::Listing(format!(
                        "GitHub's next page `{next}` is not on the API's own address; the token is not sent there"
                    )));
                }
                url = next;
            }
            _ => break,
        }
    }
    let triage = github::triage(&deliveries);
    summary.listed = triage.events;
    summary.delivered = triage.delivered;
    let guids: Vec<&str> = triage.failed.iter().map(|f| f.guid.as_str()).collect();
    let found = present(outbox, &guids).await?;
    let missing: Vec<&github::FailedEvent> = triage
        .failed
        .iter()
        .filter(|failed| !found.contains(&outbox_key(outbox.source(), &failed.guid)))
        .collect();
    summary.already_present = triage.failed.len() - missing.len();
    summary.missing = missing
        .iter()
        .map(|failed| Missing {
            id: failed.guid.clone(),
            event_type: Some(failed.event.clone()),
            at: failed.delivered_at.clone(),
            last_status: Some(failed.status_code),
        })
        .collect();
    for failed in missing {
        let url = api.url(&hook.attempts_path(failed.delivery_id));
        if !act {
            summary
                .calls
                .push(format!("would POST {url} (redeliver {})", failed.guid));
            continue;
        }
        summary.calls.push(format!("POST {url}"));
        match api.post(&url).await {
            Ok(response) if response.status.is_success() => {
                summary.recovered.push(failed.guid.clone())
            }
            Ok(response) => summary.failed.push(format!(
                "{} (delivery {}): GitHub refused the redelivery: {}",
                failed.guid,
                failed.delivery_id,
                response.refusal()
            )),
            Err(err) => summary.failed.push(format!("{}: {err}", failed.guid)),
        }
    }
    Ok(summary)
}

/// Stripe: lists the events of `window` (the undelivered ones unless `all`), and with `act`
/// records each the outbox lacks and sends it with `delivered-by: backfill`.
pub async fn stripe(
    api: &ApiClient,
    window: Window,
    all: bool,
    sink: &Sink<'_>,
    act: bool,
    progress: &ProgressBar,
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let since = window.since.div_euclid(1000);
    let until = window.until.div_euclid(1000) + i64::from(window.until.rem_euclid(1000) > 0);
    let mut events: Vec<stripe::ListedEvent> = Vec::new();
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let url = api.url(&stripe::events_path(since, until, all, after.as_deref()));
        summary.calls.push(format!("GET {url}"));
        let response = api.get(&url).await?;
        if !response.status.is_success() {
            return Err(BackfillError::Listing(format!(
                "Stripe refused to list events: {} (is the key a restricted key with read access to Events?)",
                response.refusal()
            )));
        }
        let page = stripe::parse_page(&response.body)
            .map_err(|err| BackfillError::Listing(err.to_string()))?;
        progress.inc_length(page.events.len() as u64);
        progress.inc(page.events.len() as u64);
        after = page.events.last().map(|event| event.id.clone());
        for event in page.events {
            if seen.insert(event.id.clone()) {
                events.push(event);
            }
        }
        if !page.has_more || after.is_none() {
            break;
        }
    }
    summary.listed = events.len();
    let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
    let source = sink.settings.source.as_str();
    let found = present(sink.outbox, &ids).await?;
    let missing: Vec<stripe::ListedEvent> = events
        .into_iter()
        .filter(|event| !found.contains(&outbox_key(source, &event.id)))
        .collect();
    summary.already_present = summary.listed - missing.len();
    // Oldest first, as the provider would have delivered them.
    for event in missing.iter().rev() {
        summary.missing.push(Missing {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            at: created_at(&event.body),
            last_status: None,
        });
    }
    for event in missing.into_iter().rev() {
        let id = event.id.clone();
        let destination = sink.settings.routes.destination(
            &HeaderMap::new(),
            &event.body,
            &LazyJson::default(),
            source,
            &sink.settings.queue_url,
        );
        let queue_name = destination
            .queue_url
            .clone()
            .unwrap_or_else(|| sink.settings.queue_url.clone());
        if !act {
            summary.calls.push(format!(
                "would record {id} in {} (PutItem) and send it to {queue_name} (SendMessage, delivered-by backfill)",
                sink.outbox.table()
            ));
            continue;
        }
        let accepted =
            AcceptedEvent::new(source, event.id, event.event_type, event.body, now_millis())
                .routed_to(destination);
        match sink.outbox.insert_pending(&accepted).await {
            Ok(InsertOutcome::Inserted) => {}
            Ok(InsertOutcome::AlreadyThere(_)) => {
                // Delivered meanwhile (a Stripe retry reached the ingress): nothing to do.
                summary.already_present += 1;
                continue;
            }
            Err(err) => {
                summary.failed.push(format!("{id}: not recorded: {err}"));
                continue;
            }
        }
        summary
            .calls
            .push(format!("PutItem {id}; SendMessage to {queue_name}"));
        let Some(queue) = sink.queues.get(accepted.destination.queue_url.as_deref()) else {
            summary.left_to_sweeper.push(id);
            continue;
        };
        let message = OutgoingMessage::for_event(&accepted, DeliveredBy::Backfill);
        match queue.send(&message).await {
            Ok(message_id) => {
                if let Err(err) = sink
                    .outbox
                    .mark_sent(
                        &accepted.key,
                        accepted.received_at,
                        &message_id,
                        DeliveredBy::Backfill,
                        now_millis(),
                        sink.settings.retention,
                    )
                    .await
                {
                    // Sent; the sweeper may send it once more, which the workers tolerate.
                    tracing::warn!(event_id = %id, error = %err, "sent, but the row could not be marked sent");
                }
                summary.recovered.push(id);
            }
            Err(err) => {
                tracing::warn!(event_id = %id, error = %err, "recorded but not sent; the sweeper sends it");
                summary.left_to_sweeper.push(id);
            }
        }
    }
    Ok(summary)
}

/// An event's `created` (epoch seconds) as RFC 3339, for people.
fn created_at(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json["created"].as_i64())
        .map(|secs| rfc3339_millis(secs * 1000))
        .unwrap_or_default()
}

/// Reads the credential from SSM; its value is never printed or logged.
async fn credential(target: &Target, parameter: &str) -> anyhow::Result<String> {
    let answer = aws_sdk_ssm::Client::new(&target.sdk)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
        .with_context(|| format!("cannot read the credential parameter {parameter} (ssm:GetParameter, and kms:Decrypt on its key)"))?;
    let value = answer
        .parameter()
        .and_then(|p| p.value())
        .map(str::trim)
        .unwrap_or_default();
    anyhow::ensure!(
        !value.is_empty(),
        "the credential parameter {parameter} is empty"
    );
    Ok(value.to_owned())
}

pub async fn run(target: &Target, args: &BackfillArgs, output: Output) -> anyhow::Result<Outcome> {
    run_with(target, args, output, Arc::new(TokioSleeper)).await
}

/// [`run`] with the clock rate limits wait on.
pub async fn run_with(
    target: &Target,
    args: &BackfillArgs,
    output: Output,
    sleeper: Arc<dyn Sleeper>,
) -> anyhow::Result<Outcome> {
    let now = now_millis();
    let window = Window {
        since: parse_time(&args.since, now).map_err(anyhow::Error::msg)?,
        until: parse_time(&args.until, now).map_err(anyhow::Error::msg)?,
    };
    anyhow::ensure!(
        window.since < window.until,
        "--since must be before --until"
    );
    if args.all && args.provider != Provider::Stripe {
        anyhow::bail!("--all is for --provider stripe (GitHub lists every delivery)");
    }
    let secret = credential(target, &args.credential_parameter).await?;
    eprintln!(
        "window (UTC): {} .. {}; {}",
        rfc3339_millis(window.since),
        rfc3339_millis(window.until),
        if args.yes { "recovering" } else { "dry run" }
    );
    let progress = output.progress(0, "listing");
    let summary = match args.provider {
        Provider::Github => {
            let hook = args
                .github_hook
                .as_ref()
                .context("--github-hook is required with --provider github")?;
            let token = match hook {
                HookPath::App => {
                    let app = github_app::AppCredential::parse(&secret)?;
                    let now = now_millis() / 1000;
                    app.jwt(now)?
                }
                _ => secret,
            };
            let api = ApiClient::new(
                &args.github_api_base,
                &format!("Bearer {token}"),
                &[
                    ("accept", "application/vnd.github+json"),
                    ("x-github-api-version", GITHUB_API_VERSION),
                ],
                sleeper,
            )?;
            github(&api, hook, window, &target.outbox, args.yes, &progress).await?
        }
        Provider::Stripe => {
            let mut extra = Vec::new();
            if let Some(version) = &args.stripe_version {
                extra.push(("stripe-version", version.as_str()));
            }
            let api = ApiClient::new(
                &args.stripe_api_base,
                &format!("Bearer {secret}"),
                &extra,
                sleeper,
            )?;
            let sink = Sink {
                outbox: &target.outbox,
                queues: &target.queues,
                settings: &target.settings,
            };
            stripe(&api, window, args.all, &sink, args.yes, &progress).await?
        }
    };
    progress.finish_and_clear();
    print_summary(&summary, args, output);
    if !summary.failed.is_empty() {
        return Ok(Outcome::Attention);
    }
    Ok(Outcome::Ok)
}

fn print_summary(summary: &Summary, args: &BackfillArgs, output: Output) {
    let recovered_word = match args.provider {
        Provider::Github => "redelivered",
        Provider::Stripe => "backfilled",
    };
    let missing: Vec<serde_json::Value> = summary
        .missing
        .iter()
        .map(|m| json!({"id": m.id, "event_type": m.event_type, "at": m.at, "last_status": m.last_status}))
        .collect();
    let json = json!({
        "dry_run": !args.yes,
        "provider": match args.provider { Provider::Github => "github", Provider::Stripe => "stripe" },
        "listed": summary.listed,
        "delivered": summary.delivered,
        "already_present": summary.already_present,
        "missing": missing,
        recovered_word: summary.recovered,
        "left_to_sweeper": summary.left_to_sweeper,
        "failed": summary.failed,
        "calls": summary.calls,
    });
    output.emit(&json, || {
        if !summary.missing.is_empty() {
            let mut missing = table(&["event id", "type", "at", "last status"]);
            for m in &summary.missing {
                missing.add_row(vec![
                    m.id.clone(),
                    m.event_type.clone().unwrap_or_default(),
                    m.at.clone(),
                    m.last_status.map(|s| s.to_string()).unwrap_or_default(),
                ]);
            }
            println!("{missing}");
        }
        for call in &summary.calls {
            println!("{call}");
        }
        let delivered = if args.provider == Provider::Github {
            format!(" (delivered fine {})", summary.delivered)
        } else {
            String::new()
        };
        let swept = if summary.left_to_sweeper.is_empty() {
            String::new()
        } else {
            format!(
                ", recorded for the sweeper to send {}",
                summary.left_to_sweeper.len()
            )
        };
        println!(
            "listed {}{delivered}, already present {}, {recovered_word} {}, failed {}{swept}",
            summary.listed,
            summary.already_present,
            summary.recovered.len(),
            summary.failed.len(),
        );
        for failure in &summary.failed {
            println!("failed: {failure}");
        }
        if !args.yes {
            println!(
                "dry run: {} event(s) missing from the outbox; add --yes to {}",
                summary.missing.len(),
                match args.provider {
                    Provider::Github => "ask GitHub to redeliver them",
                    Provider::Stripe => "record and send them (delivered-by backfill)",
                }
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<BackfillArgs, clap::Error> {
        let mut all = vec!["outboxctl", "backfill", "--credential-parameter", "/p"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|cli| match cli.command {
            Command::Backfill(args) => args,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn github_needs_its_hook_and_times_default_to_now() {
        assert!(parse(&["--provider", "github", "--since", "3d"]).is_err());
        let args = parse(&[
            "--provider",
            "github",
            "--since",
            "3d",
            "--github-hook",
            "orgs/acme/7",
            "-y",
        ])
        .unwrap();
        assert_eq!(args.until, "now");
        assert!(args.yes);
        assert_eq!(args.github_api_base, DEFAULT_GITHUB_API_BASE);
        assert!(parse(&[
            "--provider",
            "stripe",
            "--since",
            "1d",
            "--github-hook",
            "users/x/1"
        ])
        .is_err());
        assert!(parse(&["--provider", "paypal", "--since", "1d"]).is_err());
    }
}
