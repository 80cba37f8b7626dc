//! `backfill`: the CLI over the [`backfill`](::backfill) crate, which holds the logic the
//! reconciler runs too: events the provider emitted that never reached the outbox, found through
//! the provider's own API and brought in. This module parses the flags, reads the credential and
//! prints what was done.

use std::sync::Arc;

use ::backfill::api::{Sleeper, TokioSleeper};
use ::backfill::github::HookPath;
use ::backfill::gitlab::GitlabHook;
use ::backfill::terminal::escape;
use ::backfill::{Act, Provider, Sink, Summary, Window};
pub use ::backfill::{
    DEFAULT_GITHUB_API_BASE, DEFAULT_GITLAB_API_BASE, DEFAULT_PADDLE_API_BASE,
    DEFAULT_STRIPE_API_BASE,
};
use anyhow::Context as _;
use clap::builder::TypedValueParser as _;
use clap::Args;
use serde_json::json;
use shared::delivery::ClaimCheck;
use shared::time::{now_millis, rfc3339_millis};

use crate::output::{table, Output};
use crate::target::Target;
use crate::timearg::parse_time;
use crate::Outcome;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Whose API to ask: stripe, github, gitlab or paddle.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Provider::NAMES).map(|name| name.parse::<Provider>().expect("a listed name")))]
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
    /// GitLab: the hook that delivers to this ingress, projects/PROJECT_ID_OR_PATH/HOOK_ID or
    /// groups/GROUP_ID_OR_PATH/HOOK_ID.
    #[arg(long, value_name = "HOOK", required_if_eq("provider", "gitlab"))]
    pub gitlab_hook: Option<GitlabHook>,
    /// Paddle: the notification destination (notification setting) that delivers to this
    /// ingress, `ntfset_...`.
    #[arg(long, value_name = "ID", required_if_eq("provider", "paddle"))]
    pub paddle_destination: Option<String>,
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
    /// deliveries, or for `--github-hook app` the App's `{"app_id": ..., "private_key": "<PEM>"}`,
    /// a GitLab access token (api scope, Maintainer), or a Paddle API key (notification read and
    /// write).
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
    /// GitLab's API (self-managed: https://HOST/api/v4).
    #[arg(long, env = "GITLAB_API_BASE", value_name = "URL", default_value = DEFAULT_GITLAB_API_BASE)]
    pub gitlab_api_base: String,
    /// Paddle's API (sandbox: https://sandbox-api.paddle.com).
    #[arg(long, env = "PADDLE_API_BASE", value_name = "URL", default_value = DEFAULT_PADDLE_API_BASE)]
    pub paddle_api_base: String,
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
  gitlab  lists the hook's events (--gitlab-hook; GitLab keeps 7 days), keeps the events (by \
Idempotency-Key) none of whose deliveries got a 2xx and that have no row, and asks GitLab to resend \
the latest delivery of each (POST .../events/ID/resend): it arrives with the hook's token, through \
the ingress.
  paddle  lists the notifications of --paddle-destination not delivered (GET /notifications), keeps \
the events (by event_id) that have no row, and asks Paddle to replay each event's notification \
(POST /notifications/ID/replay): it arrives signed, through the ingress. Paddle replays only what it \
has given up retrying, and keeps 90 days.
  stripe  lists the events Stripe did not deliver to every endpoint (GET /v1/events with \
delivery_success=false; --all: every event), records each that has no row in the outbox and sends \
it to the queue with `delivered-by: backfill`. Its body is the API's JSON of the event, \
authenticated by the API call, not by a webhook signature (docs/backfill.md). Stripe lists events \
of the last 30 days. An event over what an outbox row holds (384 KiB) is stored in the \
deployment's LARGE_BODY_BUCKET first and sent as a pointer, as the ingress stores one \
(docs/large-bodies.md); without a bucket it is reported as failed.
The credential is read from the SSM parameter BACKFILL_CREDENTIAL_PARAMETER and never printed. \
Rate limits are waited out as the API asks (Retry-After). Without --yes it only lists, and prints \
what it would do and the API calls it would make. Exit 3 when an event could not be recovered.";

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
        anyhow::bail!("--all is for --provider stripe (the others list every delivery)");
    }
    let ssm = aws_sdk_ssm::Client::new(&target.sdk);
    let secret = ::backfill::read_credential(&ssm, &args.credential_parameter).await?;
    eprintln!(
        "window (UTC): {} .. {}; {}",
        rfc3339_millis(window.since),
        rfc3339_millis(window.until),
        if args.yes { "recovering" } else { "dry run" }
    );
    let progress = output.progress(0, "listing");
    let tick = |n: u64| {
        progress.inc_length(n);
        progress.inc(n);
    };
    let queues = target.queues.ports();
    let claim_check = ClaimCheck::configured(
        target.settings.large_bodies.as_ref(),
        Arc::new(target.bodies.clone()),
    );
    let sink = Sink {
        outbox: &target.outbox,
        queues: &queues,
        settings: &target.settings,
        claim_check: claim_check.as_ref(),
    };
    let act = if args.yes {
        Act::Recover { stop_by: None }
    } else {
        Act::DryRun
    };
    let summary = match args.provider {
        Provider::Github => {
            let hook = args
                .github_hook
                .as_ref()
                .context("--github-hook is required with --provider github")?;
            let api = ::backfill::client(
                Provider::Github,
                &secret,
                Some(hook),
                &args.github_api_base,
                None,
                sleeper,
            )?;
            ::backfill::github(&api, hook, window, &sink, act, &tick).await?
        }
        Provider::Gitlab => {
            let hook = args
                .gitlab_hook
                .as_ref()
                .context("--gitlab-hook is required with --provider gitlab")?;
            let api = ::backfill::client(
                Provider::Gitlab,
                &secret,
                None,
                &args.gitlab_api_base,
                None,
                sleeper,
            )?;
            ::backfill::gitlab(&api, hook, window, &sink, act, &tick).await?
        }
        Provider::Paddle => {
            let destination = args
                .paddle_destination
                .as_deref()
                .context("--paddle-destination is required with --provider paddle")?;
            let api = ::backfill::client(
                Provider::Paddle,
                &secret,
                None,
                &args.paddle_api_base,
                None,
                sleeper,
            )?;
            ::backfill::paddle(&api, destination, window, &sink, act, &tick).await?
        }
        Provider::Stripe => {
            let api = ::backfill::client(
                Provider::Stripe,
                &secret,
                None,
                &args.stripe_api_base,
                args.stripe_version.as_deref(),
                sleeper,
            )?;
            ::backfill::stripe(&api, window, args.all, &sink, act, &tick).await?
        }
    };
    progress.finish_and_clear();
    print_summary(&summary, args, output);
    if !summary.failures.is_empty() {
        return Ok(Outcome::Attention);
    }
    Ok(Outcome::Ok)
}

fn print_summary(summary: &Summary, args: &BackfillArgs, output: Output) {
    let recovered_word = if args.provider.redelivers() {
        "redelivered"
    } else {
        "backfilled"
    };
    let missing: Vec<serde_json::Value> = summary
        .missing
        .iter()
        .map(|m| json!({"id": m.id, "event_type": m.event_type, "at": m.at, "last_status": m.last_status}))
        .collect();
    let json = json!({
        "dry_run": !args.yes,
        "provider": args.provider.as_str(),
        "listed": summary.listed,
        "delivered": summary.delivered,
        "already_present": summary.already_present,
        "missing": missing,
        recovered_word: summary.recovered,
        "left_to_sweeper": summary.left_to_sweeper,
        "failed": summary.failed(),
        "calls": summary.calls,
    });
    output.emit(&json, || {
        if !summary.missing.is_empty() {
            let mut missing = table(&["event id", "type", "at", "last status"]);
            for m in &summary.missing {
                // The provider's text, escaped: it reaches a terminal.
                missing.add_row(vec![
                    escape(&m.id),
                    escape(m.event_type.as_deref().unwrap_or_default()),
                    escape(&m.at),
                    m.last_status.map(|s| s.to_string()).unwrap_or_default(),
                ]);
            }
            println!("{missing}");
        }
        for call in &summary.calls {
            println!("{}", escape(call));
        }
        let delivered = if matches!(args.provider, Provider::Github | Provider::Gitlab) {
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
            summary.failures.len(),
        );
        for failure in summary.failed() {
            println!("failed: {}", escape(&failure));
        }
        if !args.yes {
            println!(
                "dry run: {} event(s) missing from the outbox; add --yes to {}",
                summary.missing.len(),
                match args.provider {
                    Provider::Github => "ask GitHub to redeliver them",
                    Provider::Gitlab => "ask GitLab to resend them",
                    Provider::Paddle => "ask Paddle to replay them",
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
            Command::Backfill(args) => *args,
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

    #[test]
    fn gitlab_needs_its_hook_and_paddle_its_destination() {
        assert!(parse(&["--provider", "gitlab", "--since", "1d"]).is_err());
        let gitlab = parse(&[
            "--provider",
            "gitlab",
            "--since",
            "1d",
            "--gitlab-hook",
            "projects/acme/shop/42",
        ])
        .unwrap();
        assert_eq!(
            gitlab.gitlab_hook.map(|h| h.api_path()).as_deref(),
            Some("/projects/acme%2Fshop/hooks/42")
        );
        assert_eq!(gitlab.gitlab_api_base, DEFAULT_GITLAB_API_BASE);
        assert!(parse(&["--provider", "paddle", "--since", "1d"]).is_err());
        let paddle = parse(&[
            "--provider",
            "paddle",
            "--since",
            "1d",
            "--paddle-destination",
            "ntfset_01",
        ])
        .unwrap();
        assert_eq!(paddle.paddle_destination.as_deref(), Some("ntfset_01"));
        assert_eq!(paddle.paddle_api_base, DEFAULT_PADDLE_API_BASE);
    }
}
