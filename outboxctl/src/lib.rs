//! `outboxctl`, the on-call CLI: the same `shared` adapters as the ingress and the sweeper
//! (outbox, queue, secrets, message contract, configuration parsing), driven from a terminal.

pub mod cli;
pub mod dlq;
pub mod hints;
pub mod output;
pub mod send_test;
pub mod status;
pub mod target;
pub mod timearg;

use cli::{Cli, Command};
use output::Output;
use target::Target;

/// The IAM actions outboxctl's AWS calls need (the on-call policies in terraform/ grant exactly
/// these; tests/infra checks it). Reads first, then the repairs.
pub const OUTBOXCTL_IAM_ACTIONS: &[&str] = &[
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionUrlConfig",
    "dynamodb:Query",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "ssm:GetParameter",
    "sqs:SendMessage",
    "sqs:DeleteMessage",
    "sqs:StartMessageMoveTask",
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
    match &cli.command {
        Command::Status(args) => status::run(&target, args, output).await,
        Command::Dlq(command) => dlq::run(&target, command, output).await,
        Command::SendTest(args) => send_test::run(&target, args, output).await,
        Command::List(_)
        | Command::Show(_)
        | Command::Resend(_)
        | Command::Park(_)
        | Command::Discard(_)
        | Command::Replay(_) => anyhow::bail!("not built yet"),
    }
}
