//! Backfill: events the provider emitted that never reached the outbox (a DNS or certificate
//! problem, a secret rotated on one side, a provider that gave up retrying), found through the
//! provider's own API and brought in. GitHub, GitLab and Paddle are asked to deliver again (the
//! delivery then arrives signed, through the ingress); Stripe's events are taken from its API,
//! recorded in the outbox and sent like accepted events with `delivered-by: backfill`
//! ([`shared::delivery`]). An event whose id already has a row is never touched, so a run again
//! does nothing more.
//!
//! One code path for `outboxctl backfill` (a person, a window they choose) and the `reconciler`
//! (a schedule, a sliding window from its checkpoint): both call [`github`], [`gitlab`],
//! [`paddle`] and [`stripe`].

pub mod api;
pub mod github;
pub mod github_app;
pub mod gitlab;
pub mod paddle;
pub mod stripe;
pub mod terminal;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use http::HeaderMap;
use shared::config::OutboxSettings;
use shared::delivery::{ClaimCheck, Conflicted, Delivered, Deliverer, Delivery, Rules, Unbounded};
use shared::event::{outbox_key, AcceptedEvent, LazyJson};
use shared::large_body::{needs_claim_check, MAX_INLINE_BODY_BYTES};
use shared::message::DeliveredBy;
use shared::metrics::MetricSet;
use shared::outbox::OutboxError;
use shared::ports::{Outbox, QueueSet};
use shared::time::{now_millis, EpochMillis};

use self::api::{ApiClient, ApiError};
use self::github::HookPath;
use self::gitlab::GitlabHook;

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";
pub const DEFAULT_GITLAB_API_BASE: &str = "https://gitlab.com/api/v4";
pub const DEFAULT_PADDLE_API_BASE: &str = "https://api.paddle.com";
/// The GitHub REST API version the requests are written against.
pub const GITHUB_API_VERSION: &str = "2022-11-28";
/// Pages read in one run at most: a listing that goes on longer is an API gone wrong (or a
/// window far too wide), and ends the run with an error rather than running forever.
pub const MAX_PAGES: usize = 2_000;
/// Most keys read per BatchGetItem.
const MAX_BATCH_GET: usize = 100;

/// Whose API to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Stripe,
    Github,
    Gitlab,
    Paddle,
}

impl Provider {
    pub const NAMES: &'static [&'static str] = &["stripe", "github", "gitlab", "paddle"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Paddle => "paddle",
        }
    }

    /// Whether the provider is asked to deliver again (through the ingress) rather than the
    /// event recorded from its API.
    pub fn redelivers(self) -> bool {
        !matches!(self, Self::Stripe)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "stripe" => Ok(Self::Stripe),
            "github" => Ok(Self::Github),
            "gitlab" => Ok(Self::Gitlab),
            "paddle" => Ok(Self::Paddle),
            _ => Err(format!(
                "`{}` is not a provider backfill knows: {}",
                terminal::escape(text),
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events the provider listed in the window.
    pub listed: usize,
    /// GitHub, GitLab: events one of whose deliveries succeeded.
    pub delivered: usize,
    /// Events with a row in the outbox already.
    pub already_present: usize,
    /// Events with neither: what a run that acts brings in.
    pub missing: Vec<Missing>,
    /// Redelivered (GitHub, GitLab, Paddle) or recorded and sent (Stripe).
    pub recovered: Vec<String>,
    /// Recorded in the outbox but not sent (the sweeper sends them).
    pub left_to_sweeper: Vec<String>,
    /// Not recovered, with why.
    pub failures: Vec<Failure>,
    /// The API calls made, and in a dry run the calls and changes a run that acts would make.
    pub calls: Vec<String>,
}

impl Summary {
    /// Each failure as one line for people: the event, and why.
    pub fn failed(&self) -> Vec<String> {
        self.failures.iter().map(ToString::to_string).collect()
    }

    /// Failures the provider says are final (a redelivery refused as too old).
    pub fn unrecoverable(&self) -> usize {
        self.failures.iter().filter(|f| f.permanent).count()
    }

    /// The earliest time of an event a later run may still recover (a failure that is not
    /// final): a sliding window must not move past it. `None` when there is none.
    pub fn retry_from(&self, window: Window) -> Option<EpochMillis> {
        self.failures
            .iter()
            .filter(|f| !f.permanent)
            .map(|f| {
                f.at.unwrap_or(window.since)
                    .clamp(window.since, window.until)
            })
            .min()
    }
}

/// An event the outbox lacks.
#[derive(Debug, Clone)]
pub struct Missing {
    pub id: String,
    pub event_type: Option<String>,
    /// When the provider emitted or last delivered it (RFC 3339; empty when unknown).
    pub at: String,
    /// Why the provider's delivery failed, when it says (GitHub's status code).
    pub last_status: Option<u16>,
}

/// An event not recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub id: String,
    /// When the provider emitted or last delivered it, when known.
    pub at: Option<EpochMillis>,
    pub reason: String,
    /// The provider refused for good (no later run can recover it): a redelivery refused as too
    /// old. Otherwise (an API error, a rate limit, the outbox unreachable) a later run may.
    pub permanent: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.id, self.reason)
    }
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

/// Whether a run changes anything, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// List, and say what would be done.
    DryRun,
    /// Recover, starting no recovery after `stop_by` (then the events left count as failures a
    /// later run recovers): a scheduled run stops before its lease or its invocation ends.
    Recover { stop_by: Option<Instant> },
}

impl Act {
    fn acts(self) -> bool {
        matches!(self, Self::Recover { .. })
    }

    fn out_of_time(self) -> bool {
        matches!(self, Self::Recover { stop_by: Some(at) } if Instant::now() >= at)
    }
}

/// This source's outbox and queues, where recovered events go.
pub struct Sink<'a> {
    pub outbox: &'a dyn Outbox,
    pub queues: &'a QueueSet,
    pub settings: &'a OutboxSettings,
    /// Where a body the row cannot hold goes (`LARGE_BODY_BUCKET`), as the ingress stores it;
    /// `None`: such an event is not recorded (a failure a later run retries).
    pub claim_check: Option<&'a ClaimCheck>,
}

impl Sink<'_> {
    /// Records `event` and sends it with `delivered-by: backfill`: the ingress's routine
    /// ([`shared::delivery`]) under the recovery's rules.
    async fn record_and_send(&self, event: AcceptedEvent) -> Delivered {
        let deliverer = Deliverer {
            outbox: self.outbox,
            queues: self.queues,
            claim_check: self.claim_check,
            delivered_by: DeliveredBy::Backfill,
            retention: self.settings.retention,
            rules: Rules::RECOVERY,
            now: now_millis,
        };
        let mut metrics = MetricSet::default();
        deliverer
            .record_and_send(event, &Unbounded, &mut metrics)
            .await
            .0
    }
}

/// The window, in epoch milliseconds: `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: EpochMillis,
    pub until: EpochMillis,
}

/// The keys among `ids` that have a row in `outbox` (whatever its state).
async fn present(
    outbox: &dyn Outbox,
    source: &str,
    ids: &[&str],
) -> Result<HashSet<String>, OutboxError> {
    let keys: Vec<String> = ids.iter().map(|id| outbox_key(source, id)).collect();
    let mut found = HashSet::new();
    for chunk in keys.chunks(MAX_BATCH_GET) {
        for row in outbox.load_rows(chunk).await? {
            found.insert(row.key);
        }
    }
    Ok(found)
}

/// GitHub: lists the hook's deliveries in `window`, and when acting asks for a redelivery of
/// each failed event the outbox lacks. `progress` is told how many deliveries each page held.
pub async fn github(
    api: &ApiClient,
    hook: &HookPath,
    window: Window,
    sink: &Sink<'_>,
    act: Act,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let mut deliveries = Vec::new();
    let mut url = api.url(&hook.deliveries_path());
    let mut visited = HashSet::new();
    loop {
        if !visited.insert(url.clone()) {
            return Err(BackfillError::Listing(format!(
                "GitHub's delivery list links back to a page already read (`{}`): stopped rather than loop",
                terminal::escape(&url)
            )));
        }
        if visited.len() > MAX_PAGES {
            return Err(BackfillError::Listing(format!(
                "GitHub's delivery list goes on past {MAX_PAGES} pages: stopped (narrow the window)"
            )));
        }
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
        progress(page.len() as u64);
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
                        "GitHub's next page `{}` is not on the API's own address; the token is not sent there",
                        terminal::escape(&next)
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
    let source = sink.settings.source.as_str();
    let guids: Vec<&str> = triage.failed.iter().map(|f| f.guid.as_str()).collect();
    let found = present(sink.outbox, source, &guids).await?;
    let missing: Vec<&github::FailedEvent> = triage
        .failed
        .iter()
        .filter(|failed| !found.contains(&outbox_key(source, &failed.guid)))
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
        let at = github::rfc3339_to_millis(&failed.delivered_at);
        if !act.acts() {
            summary
                .calls
                .push(format!("would POST {url} (redeliver {})", failed.guid));
            continue;
        }
        if act.out_of_time() {
            summary.failures.push(Failure {
                id: failed.guid.clone(),
                at,
                reason: "not asked: the run stopped before its time ran out".to_owned(),
                permanent: false,
            });
            continue;
        }
        summary.calls.push(format!("POST {url}"));
        match api.post(&url).await {
            Ok(response) if response.status.is_success() => {
                summary.recovered.push(failed.guid.clone())
            }
            Ok(response) => summary.failures.push(Failure {
                id: failed.guid.clone(),
                at,
                reason: format!(
                    "(delivery {}): GitHub refused the redelivery: {}",
                    failed.delivery_id,
                    response.refusal()
                ),
                // 422 is GitHub's answer for a delivery it will not send again (older than
                // three days); 404/410 a delivery gone. Anything else may pass later.
                permanent: matches!(response.status.as_u16(), 404 | 410 | 422),
            }),
            Err(err) => summary.failures.push(Failure {
                id: failed.guid.clone(),
                at,
                reason: err.to_string(),
                permanent: false,
            }),
        }
    }
    Ok(summary)
}

/// Stripe: lists the events of `window` (the undelivered ones unless `all`), and when acting
/// records each the outbox lacks and sends it with `delivered-by: backfill`.
pub async fn stripe(
    api: &ApiClient,
    window: Window,
    all: bool,
    sink: &Sink<'_>,
    act: Act,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let since = window.since.div_euclid(1000);
    let until = window.until.div_euclid(1000) + i64::from(window.until.rem_euclid(1000) > 0);
    let mut events: Vec<stripe::ListedEvent> = Vec::new();
    let mut seen = HashSet::new();
    let mut afters = HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(BackfillError::Listing(format!(
                "Stripe's event list goes on past {MAX_PAGES} pages: stopped (narrow the window)"
            )));
        }
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
        progress(page.events.len() as u64);
        after = page.events.last().map(|event| event.id.clone());
        for event in page.events {
            if seen.insert(event.id.clone()) {
                events.push(event);
            }
        }
        if !page.has_more || after.is_none() {
            break;
        }
        if let Some(id) = &after {
            if !afters.insert(id.clone()) {
                return Err(BackfillError::Listing(format!(
                    "Stripe's event list returns the same page again (starting after `{}`): stopped rather than loop",
                    terminal::escape(id)
                )));
            }
        }
    }
    summary.listed = events.len();
    let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
    let source = sink.settings.source.as_str();
    let found = present(sink.outbox, source, &ids).await?;
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
            at: event.created_rfc3339(),
            last_status: None,
        });
    }
    for event in missing.into_iter().rev() {
        let id = event.id.clone();
        let at = event.created_millis;
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
        if !act.acts() {
            let body = match (needs_claim_check(event.body.len()), sink.claim_check) {
                (false, _) => String::new(),
                (true, Some(claim_check)) => format!(
                    "store its body in S3 bucket {} (PutObject, the claim check), ",
                    claim_check.settings.bucket
                ),
                (true, None) => {
                    "(over what a row holds, and no LARGE_BODY_BUCKET: it would fail) ".to_owned()
                }
            };
            summary.calls.push(format!(
                "would {body}record {id} in {} (PutItem) and send it to {queue_name} (SendMessage, delivered-by backfill)",
                sink.settings.table
            ));
            continue;
        }
        if act.out_of_time() {
            summary.failures.push(Failure {
                id,
                at,
                reason: "not recorded: the run stopped before its time ran out".to_owned(),
                permanent: false,
            });
            continue;
        }
        let accepted =
            AcceptedEvent::new(source, event.id, event.event_type, event.body, now_millis())
                .routed_to(destination);
        let sent = format!("PutItem {id}; SendMessage to {queue_name}");
        match sink.record_and_send(accepted).await {
            Delivered::Accepted(Delivery::Deferred)
            | Delivered::IdConflict(Conflicted::Accepted(Delivery::Deferred)) => {
                summary.calls.push(format!("{sent} failed"));
                summary.left_to_sweeper.push(id);
            }
            Delivered::Accepted(_) | Delivered::IdConflict(_) => {
                summary.calls.push(sent);
                summary.recovered.push(id);
            }
            // Delivered meanwhile (a Stripe retry reached the ingress): nothing to do.
            Delivered::Duplicate(_) | Delivered::OtherBody(_) => summary.already_present += 1,
            Delivered::TooLarge => summary.failures.push(Failure {
                id,
                at,
                reason: format!("not recorded: the event is over what an outbox row holds ({MAX_INLINE_BODY_BYTES} bytes) and LARGE_BODY_BUCKET is not set"),
                permanent: false,
            }),
            Delivered::Failed(reason) => summary.failures.push(Failure {
                id,
                at,
                reason: format!("not recorded: {reason}"),
                permanent: false,
            }),
        }
    }
    Ok(summary)
}

/// An event the provider can be asked to deliver again, as a provider's listing found it.
struct Redeliverable {
    /// The id shown and reported.
    id: String,
    /// Every id the ingress may have stored it under (the first is `id`).
    ids: Vec<String>,
    event_type: Option<String>,
    /// When the provider emitted or last delivered it (RFC 3339).
    at: String,
    last_status: Option<u16>,
    /// The API path to POST to deliver it again, or why it cannot be asked (and whether for good).
    ask: Result<String, (String, bool)>,
}

/// How a provider's answer to "deliver again" reads: `Ok` when it was done, else why, and
/// whether for good.
type Judge = dyn Fn(&api::ApiResponse) -> Result<(), (String, bool)> + Sync;

/// The events among `events` the outbox lacks under every id, and when acting asks the provider to
/// deliver each again. A rate limit the API keeps up leaves the rest for a later run.
async fn redeliver(
    api: &ApiClient,
    events: Vec<Redeliverable>,
    sink: &Sink<'_>,
    act: Act,
    summary: &mut Summary,
    judge: &Judge,
) -> Result<(), BackfillError> {
    let source = sink.settings.source.as_str();
    let ids: Vec<&str> = events
        .iter()
        .flat_map(|event| event.ids.iter().map(String::as_str))
        .collect();
    let found = present(sink.outbox, source, &ids).await?;
    let missing: Vec<Redeliverable> = events
        .into_iter()
        .filter(|event| {
            !event
                .ids
                .iter()
                .any(|id| found.contains(&outbox_key(source, id)))
        })
        .collect();
    summary.already_present += summary
        .listed
        .saturating_sub(summary.delivered)
        .saturating_sub(missing.len());
    summary.missing = missing
        .iter()
        .map(|event| Missing {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            at: event.at.clone(),
            last_status: event.last_status,
        })
        .collect();
    let mut limited: Option<String> = None;
    for event in missing {
        let at = github::rfc3339_to_millis(&event.at);
        let fail = |reason: String, permanent: bool| Failure {
            id: event.id.clone(),
            at,
            reason,
            permanent,
        };
        let path = match event.ask {
            Ok(path) => path,
            Err((reason, permanent)) => {
                summary.failures.push(fail(reason, permanent));
                continue;
            }
        };
        let url = api.url(&path);
        if !act.acts() {
            summary
                .calls
                .push(format!("would POST {url} (deliver {} again)", event.id));
            continue;
        }
        if let Some(why) = &limited {
            summary
                .failures
                .push(fail(format!("not asked: {why}"), false));
            continue;
        }
        if act.out_of_time() {
            summary.failures.push(fail(
                "not asked: the run stopped before its time ran out".to_owned(),
                false,
            ));
            continue;
        }
        summary.calls.push(format!("POST {url}"));
        match api.post(&url).await {
            Ok(response) => match judge(&response) {
                Ok(()) => summary.recovered.push(event.id.clone()),
                Err((reason, permanent)) => summary.failures.push(fail(reason, permanent)),
            },
            Err(err @ (ApiError::RateLimited { .. } | ApiError::WaitBudgetSpent { .. })) => {
                limited = Some("the API's rate limit held up an earlier request".to_owned());
                summary.failures.push(fail(err.to_string(), false));
            }
            Err(err) => summary.failures.push(fail(err.to_string(), false)),
        }
    }
    Ok(())
}

/// GitLab: lists the hook's events (deliveries) in `window`, and when acting asks for a resend of
/// each event none of whose deliveries succeeded and that the outbox lacks.
pub async fn gitlab(
    api: &ApiClient,
    hook: &GitlabHook,
    window: Window,
    sink: &Sink<'_>,
    act: Act,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let mut deliveries = Vec::new();
    let mut page = 1_u64;
    let mut pages = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(BackfillError::Listing(format!(
                "GitLab's event list goes on past {MAX_PAGES} pages: stopped (narrow the window)"
            )));
        }
        let url = api.url(&hook.events_path(page));
        summary.calls.push(format!("GET {url}"));
        let response = api.get(&url).await?;
        if !response.status.is_success() {
            return Err(BackfillError::Listing(format!(
                "GitLab refused to list the events of {}: {} (does the token have the api scope and the Maintainer role, and is the hook id right?)",
                hook.api_path(),
                response.refusal()
            )));
        }
        let listed: Vec<gitlab::HookEvent> =
            serde_json::from_slice(&response.body).map_err(|err| {
                BackfillError::Listing(format!("GitLab's event list cannot be read: {err}"))
            })?;
        progress(listed.len() as u64);
        // Newest first: once a page reaches before the window, later pages are older still.
        // Deliveries after the window's end are kept: a resend there says the event arrived.
        let mut older_than_window = false;
        for delivery in listed {
            match delivery.created_at_millis() {
                Some(at) if at < window.since => older_than_window = true,
                _ => deliveries.push(delivery),
            }
        }
        match gitlab::next_page(&response.headers) {
            Some(next) if !older_than_window => {
                if next <= page {
                    return Err(BackfillError::Listing(format!(
                        "GitLab's event list names page {next} next, after page {page}: stopped rather than loop"
                    )));
                }
                page = next;
            }
            _ => break,
        }
    }
    let triage = gitlab::triage(&deliveries, window.until);
    summary.listed = triage.events;
    summary.delivered = triage.delivered;
    let events = triage
        .failed
        .into_iter()
        .map(|failed| Redeliverable {
            id: failed.key.clone(),
            ids: failed.ids,
            event_type: failed.event,
            at: failed.created_at,
            last_status: failed.status_code,
            ask: if failed.payload_kept {
                Ok(hook.resend_path(failed.log_id))
            } else {
                Err((
                    format!(
                        "(event {}): GitLab did not keep its payload (over its log's size limit), so a resend would not carry it",
                        failed.log_id
                    ),
                    true,
                ))
            },
        })
        .collect();
    let judge = |response: &api::ApiResponse| -> Result<(), (String, bool)> {
        if response.status.is_success() {
            return match gitlab::resend_status(&response.body) {
                Some(Err(answered)) => Err((
                    format!("GitLab resent it, and the hook's URL answered {answered}"),
                    false,
                )),
                _ => Ok(()),
            };
        }
        let refusal = response.refusal();
        // 404: the event is no longer in GitLab's log; 422 for a changed URL: GitLab will not
        // resend it. Anything else (a disabled hook, a failed request) may pass later.
        let permanent = matches!(response.status.as_u16(), 404 | 410)
            || (response.status.as_u16() == 422 && refusal.contains("URL has changed"));
        Err((format!("GitLab refused the resend: {refusal}"), permanent))
    };
    redeliver(api, events, sink, act, &mut summary, &judge).await?;
    Ok(summary)
}

/// Paddle Billing: lists the notifications of `destination` (a notification setting,
/// `ntfset_...`) in `window` that were not delivered, and when acting asks Paddle to replay the
/// original notification of each event the outbox lacks.
pub async fn paddle(
    api: &ApiClient,
    destination: &str,
    window: Window,
    sink: &Sink<'_>,
    act: Act,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, BackfillError> {
    let mut summary = Summary::default();
    let since = shared::time::rfc3339_millis(window.since);
    let until = shared::time::rfc3339_millis(window.until);
    let mut notifications = Vec::new();
    let mut url = api.url(&paddle::notifications_path(destination, &since, &until));
    let mut visited = HashSet::new();
    loop {
        if !visited.insert(url.clone()) {
            return Err(BackfillError::Listing(format!(
                "Paddle's notification list links back to a page already read (`{}`): stopped rather than loop",
                terminal::escape(&url)
            )));
        }
        if visited.len() > MAX_PAGES {
            return Err(BackfillError::Listing(format!(
                "Paddle's notification list goes on past {MAX_PAGES} pages: stopped (narrow the window)"
            )));
        }
        summary.calls.push(format!("GET {url}"));
        let response = api.get(&url).await?;
        if !response.status.is_success() {
            return Err(BackfillError::Listing(format!(
                "Paddle refused to list notifications: {} (does the API key have notification.read and notification.write, and is the notification setting id right?)",
                response.refusal()
            )));
        }
        let page: paddle::Page = serde_json::from_slice(&response.body).map_err(|err| {
            BackfillError::Listing(format!("Paddle's notification list cannot be read: {err}"))
        })?;
        progress(page.data.len() as u64);
        for notification in page.data {
            // The API filters by time already; a notification outside the window is not ours.
            match notification.occurred_at_millis() {
                Some(at) if at < window.since || at >= window.until => {}
                _ => notifications.push(notification),
            }
        }
        match page.meta.pagination.next {
            Some(next) if page.meta.pagination.has_more => {
                if !api.owns(&next) {
                    return Err(BackfillError::Listing(format!(
                        "Paddle's next page `{}` is not on the API's own address; the key is not sent there",
                        terminal::escape(&next)
                    )));
                }
                url = next;
            }
            _ => break,
        }
    }
    let failed = paddle::failed_events(&notifications, destination);
    summary.listed = failed.len();
    let events = failed
        .into_iter()
        .map(|event| Redeliverable {
            ids: vec![event.event_id.clone()],
            ask: match event.replayable() {
                Some(id) => Ok(paddle::replay_path(id)),
                None => Err((event.why_not(), false)),
            },
            id: event.event_id,
            event_type: event.event_type,
            at: event.occurred_at,
            last_status: None,
        })
        .collect();
    let judge = |response: &api::ApiResponse| -> Result<(), (String, bool)> {
        if response.status.is_success() {
            return Ok(());
        }
        Err((
            format!("Paddle refused the replay: {}", response.refusal()),
            paddle::refused_for_good(response.status.as_u16(), &response.body),
        ))
    };
    redeliver(api, events, sink, act, &mut summary, &judge).await?;
    Ok(summary)
}

/// The API client of `provider`, the credential sent as a bearer token (for a GitHub App's
/// hook, a token signed with the App's key; GitLab's as `PRIVATE-TOKEN`). The credential is never printed: an error says
/// what is wrong with it, never what it is.
pub fn client(
    provider: Provider,
    credential: &str,
    hook: Option<&HookPath>,
    api_base: &str,
    stripe_version: Option<&str>,
    sleeper: std::sync::Arc<dyn api::Sleeper>,
) -> Result<ApiClient, ClientError> {
    match provider {
        Provider::Github => {
            let token = match hook {
                Some(HookPath::App) => {
                    let app = github_app::AppCredential::parse(credential)?;
                    app.jwt(now_millis() / 1000)?
                }
                _ => credential.to_owned(),
            };
            Ok(ApiClient::new(
                api_base,
                &format!("Bearer {token}"),
                &[
                    ("accept", "application/vnd.github+json"),
                    ("x-github-api-version", GITHUB_API_VERSION),
                ],
                sleeper,
            )?)
        }
        Provider::Gitlab => Ok(ApiClient::with_credential_header(
            api_base,
            http::HeaderName::from_static("private-token"),
            credential,
            &[],
            sleeper,
        )?),
        Provider::Paddle => Ok(ApiClient::new(
            api_base,
            &format!("Bearer {credential}"),
            &[],
            sleeper,
        )?),
        Provider::Stripe => {
            let mut extra = Vec::new();
            if let Some(version) = stripe_version {
                extra.push(("stripe-version", version));
            }
            Ok(ApiClient::new(
                api_base,
                &format!("Bearer {credential}"),
                &extra,
                sleeper,
            )?)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    AppKey(#[from] github_app::AppKeyError),
}

/// Reads the credential from SSM (SecureString, decrypted); its value is never printed or logged.
pub async fn read_credential(
    ssm: &aws_sdk_ssm::Client,
    parameter: &str,
) -> Result<String, CredentialError> {
    let answer = ssm
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| CredentialError::Read {
            parameter: parameter.to_owned(),
            reason: shared::aws::describe(&err),
        })?;
    let value = answer
        .parameter()
        .and_then(|p| p.value())
        .map(str::trim)
        .unwrap_or_default();
    if value.is_empty() {
        return Err(CredentialError::Empty {
            parameter: parameter.to_owned(),
        });
    }
    Ok(value.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read the credential parameter {parameter} (ssm:GetParameter, and kms:Decrypt on its key): {reason}")]
    Read { parameter: String, reason: String },
    #[error("the credential parameter {parameter} is empty")]
    Empty { parameter: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(id: &str, at: Option<EpochMillis>, permanent: bool) -> Failure {
        Failure {
            id: id.to_owned(),
            at,
            reason: "r".to_owned(),
            permanent,
        }
    }

    #[test]
    fn a_window_may_move_only_up_to_the_earliest_failure_a_later_run_can_recover() {
        let window = Window {
            since: 1_000,
            until: 9_000,
        };
        let mut summary = Summary::default();
        assert_eq!(summary.retry_from(window), None);
        summary.failures.push(failure("final", Some(2_000), true));
        assert_eq!(
            summary.retry_from(window),
            None,
            "a final refusal holds nothing"
        );
        assert_eq!(summary.unrecoverable(), 1);
        summary.failures.push(failure("later", Some(5_000), false));
        summary
            .failures
            .push(failure("earlier", Some(3_000), false));
        assert_eq!(summary.retry_from(window), Some(3_000));
        summary.failures.push(failure("unknown time", None, false));
        assert_eq!(
            summary.retry_from(window),
            Some(1_000),
            "unknown: the window's start"
        );
        summary.failures.push(failure("before", Some(10), false));
        assert_eq!(
            summary.retry_from(window),
            Some(1_000),
            "never before the window"
        );
    }

    #[test]
    fn providers_parse_by_name_and_unknown_ones_are_escaped() {
        assert_eq!("GitHub".parse::<Provider>(), Ok(Provider::Github));
        assert_eq!("stripe".parse::<Provider>(), Ok(Provider::Stripe));
        let err = "pay\u{1b}[2Jpal".parse::<Provider>().unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
