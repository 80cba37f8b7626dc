//! `outboxctl`, the on-call CLI: the same `shared` adapters as the ingress and the sweeper
//! (outbox, queue, secrets, message contract, configuration parsing), driven from a terminal.

pub mod backfill;
pub mod cli;
pub mod dlq;
pub mod hints;
pub mod output;
pub mod replay;
pub mod rows;
pub mod send_test;
pub mod status;
pub mod target;
pub mod timearg;

use cli::{Cli, Command};
use output::Output;
use target::Target;

/// The IAM actions of outboxctl's reads (status, list, show, dlq list/show, replay --dry-run).
/// Looking at DLQ messages receives them and makes them visible again at once, hence
/// ReceiveMessage and ChangeMessageVisibility; `show` of a row whose body is in S3 reads the
/// object. The read-only on-call policy grants exactly these.
pub const OUTBOXCTL_READ_ONLY_IAM_ACTIONS: &[&str] = &[
    "lambda:GetFunctionConfiguration",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "s3:GetObject",
];

/// Every IAM action outboxctl's AWS calls need: the reads above plus the repairs (resend, park,
/// discard, replay, dlq redrive, send-test, backfill; resend and discard re-tag a body in S3 as
/// sent, a copy onto itself; backfill writes the row of a Stripe event it took from the API). The
/// repair on-call policy grants exactly these (terraform/, checked by tests/infra). Not listed:
/// sts:GetCallerIdentity (who discarded a row), which every identity may call.
pub const OUTBOXCTL_IAM_ACTIONS: &[&str] = &[
    "lambda:GetFunctionConfiguration",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "s3:GetObject",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "sqs:SendMessage",
    "sqs:DeleteMessage",
    "sqs:StartMessageMoveTask",
    "lambda:GetFunctionUrlConfig",
    "ssm:GetParameter",
    "s3:PutObject",
    "s3:PutObjectTagging",
];

/// How a command ended, beyond success or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Something needs a person (exit 3).
    Attention,
}

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let output = Output { json: cli.json };
    let target = Target::resolve(&cli.target).await?;
    // Every command says where it points: a `.local/env` in this directory wins over the
    // environment, and a person must see that before trusting what follows.
    eprintln!("{}", target.pointing_at());
    if let (target::Origin::LocalStack(file), true) = (&target.origin, cli.command.acts()) {
        if let Some(credentials) = target::real_aws_credentials() {
            eprintln!(
                "note: this changes the LOCAL stack ({file}), not AWS, although AWS credentials \
                 are configured here ({credentials}); for a deployment give --function NAME"
            );
        }
    }
    match &cli.command {
        Command::Status(args) => status::run(&target, args, output).await,
        Command::Dlq(args) => dlq::run(&target, args, output).await,
        Command::SendTest(args) => send_test::run(&target, args, output).await,
        Command::List(args) => rows::list(&target, args, output).await,
        Command::Show(args) => rows::show(&target, args, output).await,
        Command::Resend(args) => rows::resend(&target, args, output).await,
        Command::Park(args) => rows::park(&target, args, output).await,
        Command::Unpark(args) => rows::unpark(&target, args, output).await,
        Command::Discard(args) => rows::discard(&target, args, output).await,
        Command::Replay(args) => replay::run(std::sync::Arc::new(target), args, output).await,
        Command::Backfill(args) => backfill::run(&target, args, output).await,
    }
}
