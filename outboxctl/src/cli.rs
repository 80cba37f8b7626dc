//! The command line: global options that say where the deployment is, and one subcommand per
//! on-call task. `--help` on any command says what it does and what it changes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "On-call CLI of the durable webhook ingress: finds, explains and repairs any event \
between the provider and the workers' queue (outbox table, queue, dead-letter queue).";

const AFTER_HELP: &str = "\
Where it points (first match wins):
  --function NAME[:ALIAS]  the deployed ingress function's own environment (Lambda
                           GetFunctionConfiguration): table, queue, source, shards; the DLQ
                           from the queue's RedrivePolicy. Use the alias that serves traffic,
                           e.g. --function webhook-marketplace-ingress:current
  --local, or .local/env   the local stack that `make up` started (its settings file)
  otherwise                the functions' own variables in this environment: SOURCE_NAME,
                           OUTBOX_TABLE, QUEUE_URL, PENDING_SHARDS, RETENTION_DAYS,
                           SECRET_PARAMETER, SIGNATURE_*, and DLQ_URL, INGRESS_URL
Flags such as --table or --queue-url override any of them; --source naming another source
than the deployment's own also needs --queue-url (its queue is not this deployment's).
--region and --profile (else AWS_REGION, AWS_PROFILE, ~/.aws/config) say which account and
region. Every command first prints where it points (origin, table, queue, source) on stderr.
Options go before or after the subcommand; -y is --yes; --limit caps a count everywhere.

Exit status: 0 ok, 1 failure, 2 usage error, 3 needs attention: status not ok, or the
command shows or leaves rows or messages that wait for a person (parked rows listed, DLQ
messages listed or left, rows skipped, rows parked by hand left out of a resend).

Start with `outboxctl status`; docs/runbook.md says what to do for each alarm.";

#[derive(Debug, Parser)]
#[command(name = "outboxctl", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the deployment is.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Read the settings from this deployed ingress function (NAME, NAME:ALIAS or its ARN).
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "local")]
    pub function: Option<String>,

    /// Use the local stack (`make up`): the settings in .local/env (see --local-env).
    #[arg(long, global = true)]
    pub local: bool,

    /// The local stack's settings file; used without --local too when it exists.
    #[arg(long, global = true, value_name = "FILE", default_value = ".local/env")]
    pub local_env: PathBuf,

    /// Outbox table name (overrides OUTBOX_TABLE).
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,

    /// Main queue URL (overrides QUEUE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub queue_url: Option<String>,

    /// Dead-letter queue URL (default: DLQ_URL, else the main queue's RedrivePolicy).
    #[arg(long, global = true, value_name = "URL")]
    pub dlq_url: Option<String>,

    /// Webhook source (overrides SOURCE_NAME): the outbox key prefix.
    #[arg(long, global = true, value_name = "NAME")]
    pub source: Option<String>,

    /// Shard count of the unsent index (overrides PENDING_SHARDS; must match the functions').
    #[arg(long, global = true, value_name = "N")]
    pub shards: Option<u16>,

    /// AWS region (else AWS_REGION or the profile's; the local stack's file sets its own).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile of ~/.aws/config (else AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Queue, DLQ and outbox at a glance, with a verdict (exit 3 when not ok).
    #[command(
        long_about = "Queue visible and in-flight messages, DLQ depth (for the main queue and every \
routed queue of ROUTES), pending rows and the age of the oldest, parked rows, and one verdict line: ok, behind (the outbox or the workers lag) or attention \
(parked rows or DLQ messages wait for a person), with the reason and the command to run next. \
Exit 0 when ok, 3 otherwise, so it can gate a script."
    )]
    Status(StatusArgs),
    /// Pending or parked rows by time received, from the unsent index (never a Scan).
    List(ListArgs),
    /// One row: every attribute, attempts, last error, and the body.
    #[command(
        long_about = "Shows one outbox row: every attribute (times also as RFC 3339), attempts, last error, \
and the body as pretty JSON, text or a hex dump. Attributes the table stores under short names are \
shown under their long ones, whichever release wrote the row: `event_type` (stored as `etype`), \
`message_id` (`mid`, the SQS id's 16 bytes) and `delivered_by` (`sent_by`, absent for the ingress). A body too large for the row is in S3 (the row's \
`body_s3_bucket` and `body_s3_key`): it is read from there (s3:GetObject), so `show` works the same for \
both kinds of row. --body writes the body's exact bytes and nothing else."
    )]
    Show(ShowArgs),
    /// Send rows to the queue now (delivered-by outboxctl) and mark them sent.
    #[command(
        long_about = "Sends pending or parked rows to the queue with `delivered-by: outboxctl`, in \
SendMessageBatch calls, and marks each sent only if the send succeeded and the row is still unsent \
(the sweeper's rule), so a row another sweeper sent meanwhile is not touched. Give IDs, or --status \
parked (with --since/--until) for every parked row; rows someone parked by hand (`park`) are left out \
and counted unless --include-parked-by-hand. On an AWS error it stops and prints what it sent, what \
failed and what is left, with the command that continues. Dry run unless --yes."
    )]
    Resend(ResendArgs),
    /// Park rows on purpose (who and why kept): the sweeper stops re-sending them.
    #[command(
        long_about = "Parks pending rows on purpose: they leave the pending index for the parked one and \
record who parked them, when and why (--reason). The sweeper no longer sends them; `resend --status \
parked` leaves them out unless given --include-parked-by-hand, and `unpark` puts them back to pending. \
A sweep that had already read a row just before it was parked may still send it once (the row stays \
parked; the sweeper logs it). Dry run unless --yes."
    )]
    Park(ParkArgs),
    /// Put parked rows back to pending, so the sweeper sends them again.
    #[command(
        long_about = "Moves parked rows back to pending with no failed attempts and without who parked \
them: the next sweep sends them (and parks them again after MAX_ATTEMPTS failures). Dry run unless --yes."
    )]
    Unpark(ChangeArgs),
    /// Give up on unsent rows for good, keeping them audited (who, when, why).
    #[command(
        long_about = "Marks pending or parked rows `discarded`: they leave the unsent index, keep their \
body, and record who discarded them, when and why; they expire after RETENTION_DAYS like a sent row. \
Never a delete. A sweep that had already read a pending row just before it was discarded may still \
send it once (the row stays discarded; the sweeper logs `sent, but the row changed meanwhile`): park it \
first and wait a sweep when that matters. Dry run unless --yes."
    )]
    Discard(DiscardArgs),
    /// Re-enqueue events that were already sent (a worker lost them).
    #[command(
        long_about = "Finds the sent rows received between --since and --until (optionally of one event \
type) with a parallel segmented Scan of the table (sent rows are not in the unsent index) and sends \
each again with `delivered-by: outboxctl` and `replay-of: <its first message id>`. The rows are not \
changed. --dry-run (or leaving out --yes) counts them and prints the read units the Scan consumed."
    )]
    Replay(ReplayArgs),
    /// Look at and redrive the dead-letter queue (the main queue's, or a routed queue's).
    Dlq(DlqArgs),
    /// Sign a sample webhook with the deployment's scheme and secret and POST it to the ingress.
    #[command(
        long_about = "Signs a sample webhook with the deployment's scheme and secret (from SSM) and POSTs \
it to the ingress, so the whole path answers. The default body is an event of type `outboxctl.test` \
whose id starts `outboxctl-test-`: on the queue it carries `event-type: outboxctl.test` and that \
`event-id`, which workers skip. Against a deployment (not the local stack) it asks for --yes."
    )]
    SendTest(SendTestArgs),
    /// Bring in events the provider emitted that never reached the outbox (GitHub, GitLab, Paddle, Stripe).
    #[command(long_about = crate::backfill::LONG_ABOUT)]
    Backfill(Box<crate::backfill::BackfillArgs>),
}

impl Command {
    /// Whether this run changes something (a command given --yes).
    pub fn acts(&self) -> bool {
        match self {
            Self::Resend(args) => args.yes,
            Self::Park(args) => args.yes,
            Self::Unpark(args) => args.yes,
            Self::Discard(args) => args.yes,
            Self::Replay(args) => args.yes,
            Self::SendTest(args) => args.yes,
            Self::Backfill(args) => args.yes,
            Self::Dlq(args) => matches!(args.command, DlqCommand::Redrive { yes: true, .. }),
            Self::Status(_) | Self::List(_) | Self::Show(_) => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Pending rows older than this make the verdict `behind` (the alarm's threshold).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::timearg::parse_duration)]
    pub max_pending_age: std::time::Duration,
    /// Visible queue messages from this many make the verdict `behind` (workers lag).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_visible: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnsentStatus {
    Pending,
    Parked,
}

/// A time window; times are RFC 3339 with an offset (`2026-11-29T03:00:00Z`) or an age such as `2h`.
#[derive(Debug, Args, Clone, Default)]
pub struct Window {
    /// Received at or after this time (RFC 3339 with its offset, `Z` or `+01:00`, or an age: `2h` =
    /// two hours ago).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Received before this time (RFC 3339 with its offset, or an age).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which rows.
    #[arg(long, value_enum)]
    pub status: UnsentStatus,
    #[command(flatten)]
    pub window: Window,
    /// At most this many rows (oldest first).
    #[arg(long, alias = "max", default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The event id, or the whole outbox key (`source:event id`).
    pub id: String,
    /// Write the body's exact bytes to stdout and nothing else (read from S3 when the row points there).
    #[arg(long)]
    pub body: bool,
}

#[derive(Debug, Args)]
pub struct ResendArgs {
    /// Event ids or outbox keys.
    #[arg(required_unless_present = "status", conflicts_with = "status")]
    pub ids: Vec<String>,
    /// Every row in this state instead of ids (only `parked`: the sweeper handles pending rows).
    #[arg(long, value_enum)]
    pub status: Option<ParkedOnly>,
    #[command(flatten)]
    pub window: Window,
    /// With --status parked: also rows someone parked on purpose (`outboxctl park`).
    #[arg(long, requires = "status")]
    pub include_parked_by_hand: bool,
    /// Do it (without: print what would be done).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParkedOnly {
    Parked,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Event ids or outbox keys.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Do it (without: print what would be done).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ParkArgs {
    /// Event ids or outbox keys.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why (kept on the row, with who and when).
    #[arg(long, required = true)]
    pub reason: String,
    /// Do it (without: print what would be done).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// Event ids or outbox keys.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why (kept on the row, with who and when).
    #[arg(long, required = true)]
    pub reason: String,
    /// Do it (without: print what would be done).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Received at or after (RFC 3339 with its offset, or an age such as `6h`).
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Received before (RFC 3339 with its offset, or an age).
    #[arg(long, value_name = "TIME")]
    pub until: String,
    /// Only events of this type.
    #[arg(long, value_name = "TYPE")]
    pub event_type: Option<String>,
    /// Only count them and report the read units the Scan consumed.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Parallel Scan segments.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=64))]
    pub segments: i32,
    /// Send them (without: a dry run).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The DLQ of this route's queue (a `name` in ROUTES; `status` names the route whose DLQ
    /// holds messages) instead of the main queue's; redrive sends back to that queue.
    #[arg(long, global = true, value_name = "NAME")]
    pub route: Option<String>,

    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The messages in the DLQ (looked at, then made visible again at once).
    List {
        /// At most this many.
        #[arg(long, alias = "max", default_value_t = 50)]
        limit: usize,
    },
    /// One DLQ message by its message id or event id: attributes and body.
    Show {
        /// SQS message id or `event-id` attribute.
        id: String,
        /// Write the body's exact bytes (base64 undone, or read from S3 for an Extended Client
        /// pointer) to stdout and nothing else.
        #[arg(long)]
        body: bool,
    },
    /// Move DLQ messages back to the main queue (or the --route one).
    #[command(
        long_about = "Moves DLQ messages back to the queue they came from: the main queue, or with \
`dlq --route NAME` that route's queue (whose DLQ is found from its RedrivePolicy); it refuses a DLQ \
(--dlq-url) that queue's RedrivePolicy does not name. Without --limit, --by-copy or a large-body \
bucket it starts an SQS message move task (StartMessageMoveTask) and prints its handle. Otherwise (or \
where the endpoint has no move tasks) it receives each message with a long poll, renews the S3 object \
an Extended Client pointer names (a redriven message lives as long as a new one; a move task cannot \
do that), sends it to that queue with the same body and attributes, and deletes it from the DLQ only \
after that send succeeded. It ends by reading the DLQ's depth: exit 3 when messages remain. Dry run \
unless --yes."
    )]
    Redrive {
        /// Move at most this many (by copy).
        #[arg(long, alias = "max")]
        limit: Option<usize>,
        /// Copy message by message even where SQS move tasks exist.
        #[arg(long)]
        by_copy: bool,
        /// Do it (without: print what would be done).
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct SendTestArgs {
    /// Body to send (default: a small JSON event of type `outboxctl.test`).
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Ingress URL (default: INGRESS_URL, or the function's URL with --function).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Send it (needed against a deployment; the local stack needs none).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap_or_else(|err| panic!("{args:?}: {err}"))
    }

    #[test]
    fn fingers_conventions_are_accepted() {
        // -y for --yes, wherever a command has it.
        for args in [
            &["outboxctl", "resend", "evt_1", "-y"][..],
            &["outboxctl", "park", "evt_1", "--reason", "poison", "-y"],
            &["outboxctl", "unpark", "evt_1", "-y"],
            &["outboxctl", "discard", "evt_1", "--reason", "spam", "-y"],
            &[
                "outboxctl",
                "replay",
                "--since",
                "1h",
                "--until",
                "0s",
                "-y",
            ],
            &["outboxctl", "dlq", "redrive", "-y"],
            &["outboxctl", "send-test", "-y"],
        ] {
            parses(args);
        }
        // One name for a count limit; --region/--profile and --route after the subcommand.
        let cli = parses(&[
            "outboxctl",
            "dlq",
            "list",
            "--limit",
            "5",
            "--route",
            "orders",
            "--region",
            "eu-west-1",
            "--profile",
            "oncall",
        ]);
        assert_eq!(cli.target.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cli.target.profile.as_deref(), Some("oncall"));
        let Command::Dlq(dlq) = cli.command else {
            panic!("dlq");
        };
        assert_eq!(dlq.route.as_deref(), Some("orders"));
        assert!(matches!(dlq.command, DlqCommand::List { limit: 5 }));
        parses(&["outboxctl", "dlq", "redrive", "--limit", "3"]);
        parses(&[
            "outboxctl",
            "list",
            "--status",
            "parked",
            "--limit",
            "3",
            "--json",
        ]);
    }

    #[test]
    fn parking_needs_a_reason() {
        assert!(Cli::try_parse_from(["outboxctl", "park", "evt_1", "--yes"]).is_err());
    }
}
