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
Flags such as --table or --queue-url override any of them. Region and profile come from the
AWS SDK's usual sources (AWS_REGION, AWS_PROFILE, ~/.aws/config).

Exit status: 0 ok, 1 failure, 2 usage error, 3 needs attention (status not ok; rows or
messages left that need a person).

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
and the body as pretty JSON, text or a hex dump. A body too large for the row is in S3 (the row's \
`body_s3_bucket` and `body_s3_key`): it is read from there (s3:GetObject), so `show` works the same for \
both kinds of row. --body writes the body's exact bytes and nothing else."
    )]
    Show(ShowArgs),
    /// Send rows to the queue now (delivered-by outboxctl) and mark them sent.
    #[command(
        long_about = "Sends pending or parked rows to the queue with `delivered-by: outboxctl` and marks \
each sent only if the send succeeded and the row is still unsent (the sweeper's rule), so a row \
another sweeper sent meanwhile is not touched. Give IDs, or --status parked (with --since/--until) \
for every parked row. Dry run unless --yes."
    )]
    Resend(ResendArgs),
    /// Park rows: the sweeper stops re-sending them until someone resends them.
    Park(ChangeArgs),
    /// Give up on unsent rows for good, keeping them audited (who, when, why).
    #[command(
        long_about = "Marks pending or parked rows `discarded`: they leave the unsent index, keep their \
body, and record who discarded them, when and why; they expire after RETENTION_DAYS like a sent row. \
Never a delete. Dry run unless --yes."
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
    SendTest(SendTestArgs),
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

/// A time window; times are RFC 3339 (`2026-11-29T03:00:00Z`) or an age such as `2h`, `90m`.
#[derive(Debug, Args, Clone, Default)]
pub struct Window {
    /// Received at or after this time (RFC 3339, or an age: `2h` = two hours ago).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Received before this time (RFC 3339, or an age).
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
    #[arg(long, default_value_t = 100)]
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
    /// Do it (without: print what would be done).
    #[arg(long)]
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
    #[arg(long)]
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
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Received at or after (RFC 3339 or an age such as `6h`).
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Received before (RFC 3339 or an age).
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
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The DLQ of this route's queue (a `name` in ROUTES; `status` names the route whose DLQ
    /// holds messages) instead of the main queue's; redrive sends back to that queue.
    #[arg(long, value_name = "NAME")]
    pub route: Option<String>,

    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The messages in the DLQ (looked at, then made visible again at once).
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        max: usize,
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
`dlq --route NAME` that route's queue (whose DLQ is found from its RedrivePolicy). Without --max (and without --by-copy) it \
starts an SQS message move task (StartMessageMoveTask) and prints its handle; where the endpoint has \
no move tasks, or with --max or --by-copy, it receives each message, sends it to that queue with \
the same body and attributes, and deletes it from the DLQ only after that send succeeded. Dry run \
unless --yes."
    )]
    Redrive {
        /// Move at most this many (by copy).
        #[arg(long)]
        max: Option<usize>,
        /// Copy message by message even where SQS move tasks exist.
        #[arg(long)]
        by_copy: bool,
        /// Do it (without: print what would be done).
        #[arg(long)]
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
}
