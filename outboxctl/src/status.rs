//! `status`: the queue, the DLQ and the outbox at a glance, and one verdict.

use std::time::Duration;

use serde::Serialize;
use shared::aws::sqs::QueueDepth;
use shared::outbox::RowStatus;
use shared::time::{now_millis, EpochMillis};

use crate::cli::StatusArgs;
use crate::output::{table, Output};
use crate::target::Target;
use crate::timearg::age;
use crate::Outcome;

/// What `status` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub queue: QueueDepth,
    pub dlq: QueueDepth,
    pub pending: u64,
    /// Age of the oldest pending row; `None` when nothing is pending.
    pub oldest_pending_age_secs: Option<f64>,
    pub parked: u64,
    /// Every routed queue (`ROUTES`) and its DLQ, which the verdict weighs like the main ones.
    pub routed: Vec<RoutedQueueFigures>,
    /// The secret parameter, and whether it still holds the value Terraform writes at apply
    /// (`None`: not checked, e.g. without ssm:GetParameter).
    pub secret: Option<SecretCheck>,
    /// The reconciler's checkpoint and last run, when this source has one.
    pub reconciler: Option<ReconcilerFigures>,
}

/// The reconciler's checkpoint (a row of the outbox table) as `status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcilerFigures {
    /// How far behind now the checkpoint is; `None` before a run settled anything.
    pub checkpoint_age_secs: Option<f64>,
    /// How long ago the last run ended.
    pub last_run_age_secs: Option<f64>,
    pub listed: u64,
    pub missing: u64,
    pub recovered: u64,
    pub unrecoverable: u64,
    pub failed: u64,
    /// Why the last run stopped early, when it did.
    pub error: Option<String>,
}

impl ReconcilerFigures {
    fn of(checkpoint: &shared::checkpoint::Checkpoint, now: EpochMillis) -> Self {
        let age = |at: EpochMillis| (now - at).max(0) as f64 / 1000.0;
        let last = checkpoint.last_run.clone().unwrap_or_default();
        Self {
            checkpoint_age_secs: checkpoint.at.map(age),
            last_run_age_secs: checkpoint.last_run.as_ref().map(|run| age(run.at)),
            listed: last.listed,
            missing: last.missing,
            recovered: last.recovered,
            unrecoverable: last.unrecoverable,
            failed: last.failed,
            error: last.error,
        }
    }

    /// One line for people.
    fn detail(&self) -> String {
        let checkpoint = self.checkpoint_age_secs.map_or_else(
            || "no checkpoint yet".to_owned(),
            |secs| format!("checkpoint {} behind", age(secs)),
        );
        let last = match self.last_run_age_secs {
            None => "no run finished".to_owned(),
            Some(secs) => format!(
                "last run {} ago: listed {}, missing {}, recovered {}, unrecoverable {}, failed {}",
                age(secs),
                self.listed,
                self.missing,
                self.recovered,
                self.unrecoverable,
                self.failed
            ),
        };
        match &self.error {
            Some(error) => format!(
                "{checkpoint}; {last}; stopped: {}",
                ::backfill::terminal::escape(error)
            ),
            None => format!("{checkpoint}; {last}"),
        }
    }
}

/// What `status` found in the secret parameter (never its value).
#[derive(Debug, Clone, Serialize)]
pub struct SecretCheck {
    pub parameter: String,
    pub placeholder: Option<bool>,
    /// Why it could not be checked.
    pub unchecked: Option<String>,
}

/// The value Terraform writes into the secret parameter at apply, until someone sets the
/// provider's secret with `aws ssm put-parameter --overwrite`: the ingress then rejects every
/// delivery.
pub const SECRET_PLACEHOLDER: &str = "placeholder-set-with-aws-ssm-put-parameter-overwrite";

/// One routed queue's depth and its DLQ's (`None`: the queue has no RedrivePolicy).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoutedQueueFigures {
    /// The first route (by its `name` in ROUTES) that sends to this queue.
    pub route: String,
    pub url: String,
    pub queue: QueueDepth,
    pub dlq: Option<QueueDepth>,
}

fn dead(dlq: &QueueDepth) -> u64 {
    dlq.visible + dlq.in_flight + dlq.delayed
}

/// The one-line judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "verdict", content = "reason")]
pub enum Verdict {
    Ok,
    /// The outbox or the workers lag; it may catch up by itself.
    Behind(String),
    /// Rows or messages wait for a person.
    Attention(String),
}

/// Parked rows and DLQ messages need a person; an old pending row or a long queue means lagging.
pub fn verdict(figures: &Figures, max_pending_age: Duration, max_visible: u64) -> Verdict {
    let mut attention = Vec::new();
    if let Some(SecretCheck {
        parameter,
        placeholder: Some(true),
        ..
    }) = &figures.secret
    {
        attention.push(format!(
            "the secret parameter {parameter} still holds the placeholder Terraform wrote, so the ingress rejects every delivery: set the provider's signing secret with `aws ssm put-parameter --name {parameter} --type SecureString --overwrite --value ...`"
        ));
    }
    if figures.parked > 0 {
        attention.push(format!(
            "{} parked row(s): see `outboxctl list --status parked`, fix the cause, then `outboxctl resend --status parked --yes`",
            figures.parked
        ));
    }
    let dead_letters = dead(&figures.dlq);
    if dead_letters > 0 {
        attention.push(format!(
            "{dead_letters} message(s) in the DLQ: see `outboxctl dlq list`; once the workers are fixed, `outboxctl dlq redrive --yes`"
        ));
    }
    for routed in &figures.routed {
        let dead_letters = routed.dlq.as_ref().map_or(0, dead);
        if dead_letters > 0 {
            let route = &routed.route;
            attention.push(format!(
                "{dead_letters} message(s) in the DLQ of route {route}'s queue: see `outboxctl dlq --route {route} list`; once its workers are fixed, `outboxctl dlq --route {route} redrive --yes`"
            ));
        }
    }
    if !attention.is_empty() {
        return Verdict::Attention(attention.join("; "));
    }
    let mut behind = Vec::new();
    if let Some(oldest) = figures.oldest_pending_age_secs {
        if oldest > max_pending_age.as_secs_f64() {
            behind.push(format!(
                "the oldest of {} pending row(s) is {} old (over {}): see `outboxctl list --status pending`; the sweeper should send them, `outboxctl resend ID... --yes` sends them now",
                figures.pending,
                age(oldest),
                age(max_pending_age.as_secs_f64())
            ));
        }
    }
    if figures.queue.visible >= max_visible {
        behind.push(format!(
            "{} messages wait on the queue: the workers are slow or stopped",
            figures.queue.visible
        ));
    }
    for routed in &figures.routed {
        if routed.queue.visible >= max_visible {
            behind.push(format!(
                "{} messages wait on route {}'s queue: its workers are slow or stopped",
                routed.queue.visible, routed.route
            ));
        }
    }
    if behind.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Behind(behind.join("; "))
    }
}

/// Reads the queues and the unsent index (counts and one row per shard, never a Scan).
pub async fn measure(target: &Target) -> anyhow::Result<Figures> {
    let dlq = target.dlq().await?;
    let mut figures = Figures {
        queue: target.queue.depth().await?,
        dlq: dlq.depth().await?,
        ..Figures::default()
    };
    for route in target.settings.routes.iter() {
        if figures.routed.iter().any(|r| r.url == route.queue_url) {
            continue;
        }
        let queue = target.queue.sibling(route.queue_url.clone());
        let dlq = match queue.dead_letter_queue().await? {
            Some(dlq) => Some(dlq.depth().await?),
            None => None,
        };
        figures.routed.push(RoutedQueueFigures {
            route: route.name.clone(),
            url: route.queue_url.clone(),
            queue: queue.depth().await?,
            dlq,
        });
    }
    let now = now_millis();
    let mut oldest: Option<EpochMillis> = None;
    for shard in 0..target.settings.pending_shards {
        let (pending, _) = target
            .outbox
            .count_unsent(RowStatus::Pending, shard)
            .await?;
        let (parked, _) = target.outbox.count_unsent(RowStatus::Parked, shard).await?;
        figures.pending += pending;
        figures.parked += parked;
        if pending > 0 {
            let first = target
                .outbox
                .unsent_page(RowStatus::Pending, shard, EpochMillis::MAX, 1, None)
                .await?;
            oldest = oldest
                .into_iter()
                .chain(first.rows.first().map(|row| row.received_at))
                .min();
        }
    }
    figures.oldest_pending_age_secs = oldest.map(|at| (now - at).max(0) as f64 / 1000.0);
    if let Some(parameter) = target.secret_parameter() {
        figures.secret = Some(check_secret(target, parameter).await);
    }
    match target.outbox.checkpoint().await {
        Ok(checkpoint) => {
            figures.reconciler = checkpoint.map(|c| ReconcilerFigures::of(&c, now));
        }
        Err(err) => tracing::warn!(error = %err, "cannot read the reconciler's checkpoint"),
    }
    Ok(figures)
}

/// Whether the secret parameter (or any of its comma-separated secrets) is the placeholder;
/// the value itself is never printed nor logged.
async fn check_secret(target: &Target, parameter: String) -> SecretCheck {
    let answer = aws_sdk_ssm::Client::new(&target.sdk)
        .get_parameter()
        .name(&parameter)
        .with_decryption(true)
        .send()
        .await;
    match answer {
        Ok(output) => {
            let value = output
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default();
            SecretCheck {
                placeholder: Some(
                    value
                        .split(',')
                        .any(|secret| secret.trim() == SECRET_PLACEHOLDER),
                ),
                parameter,
                unchecked: None,
            }
        }
        Err(err) => SecretCheck {
            parameter,
            placeholder: None,
            unchecked: Some(format!("not checked: {}", shared::aws::describe(&err))),
        },
    }
}

pub async fn run(target: &Target, args: &StatusArgs, output: Output) -> anyhow::Result<Outcome> {
    let figures = measure(target).await?;
    let verdict = verdict(&figures, args.max_pending_age, args.max_visible);
    let json = serde_json::json!({
        "origin": target.origin.to_string(),
        "source": target.settings.source,
        "table": target.settings.table,
        "figures": figures,
        "status": verdict,
    });
    output.emit(&json, || {
        println!(
            "{} · source {} · table {}",
            target.origin, target.settings.source, target.settings.table
        );
        let mut rows = table(&["", "count", "detail"]);
        rows.add_row(vec![
            "queue".to_owned(),
            figures.queue.visible.to_string(),
            format!(
                "visible; {} in flight, {} delayed",
                figures.queue.in_flight, figures.queue.delayed
            ),
        ]);
        rows.add_row(vec![
            "dlq".to_owned(),
            (figures.dlq.visible + figures.dlq.in_flight + figures.dlq.delayed).to_string(),
            format!(
                "{} visible, {} in flight",
                figures.dlq.visible, figures.dlq.in_flight
            ),
        ]);
        for routed in &figures.routed {
            let name = &routed.route;
            rows.add_row(vec![
                format!("queue of {name}"),
                routed.queue.visible.to_string(),
                format!("visible; {} in flight (routed)", routed.queue.in_flight),
            ]);
            rows.add_row(vec![
                format!("dlq of {name}"),
                routed
                    .dlq
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |dlq| dead(dlq).to_string()),
                routed.dlq.as_ref().map_or_else(
                    || "no RedrivePolicy".to_owned(),
                    |dlq| format!("{} visible, {} in flight", dlq.visible, dlq.in_flight),
                ),
            ]);
        }
        rows.add_row(vec![
            "pending".to_owned(),
            figures.pending.to_string(),
            figures
                .oldest_pending_age_secs
                .map_or_else(|| "none".to_owned(), |secs| format!("oldest {}", age(secs))),
        ]);
        rows.add_row(vec![
            "parked".to_owned(),
            figures.parked.to_string(),
            "never retried by the sweeper".to_owned(),
        ]);
        if let Some(secret) = &figures.secret {
            rows.add_row(vec![
                "secret".to_owned(),
                match secret.placeholder {
                    Some(true) => "PLACEHOLDER".to_owned(),
                    Some(false) => "set".to_owned(),
                    None => "-".to_owned(),
                },
                match &secret.unchecked {
                    Some(why) => format!("{}: {why}", secret.parameter),
                    None => secret.parameter.clone(),
                },
            ]);
        }
        if let Some(reconciler) = &figures.reconciler {
            rows.add_row(vec![
                "reconciler".to_owned(),
                (reconciler.unrecoverable + reconciler.failed).to_string(),
                reconciler.detail(),
            ]);
        }
        println!("{rows}");
        match &verdict {
            Verdict::Ok => println!("verdict: ok"),
            Verdict::Behind(reason) => println!("verdict: behind: {reason}"),
            Verdict::Attention(reason) => println!("verdict: attention: {reason}"),
        }
        if let Some(step) = next_step(&verdict) {
            println!("next: {step}");
        }
    });
    Ok(if verdict == Verdict::Ok {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}

/// The first thing to do about a verdict that is not ok, as one command.
fn next_step(verdict: &Verdict) -> Option<&str> {
    let reason = match verdict {
        Verdict::Ok => return None,
        Verdict::Behind(reason) | Verdict::Attention(reason) => reason,
    };
    let start = reason.find('`')? + 1;
    let length = reason[start..].find('`')?;
    Some(&reason[start..start + length])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    #[test]
    fn the_placeholder_secret_needs_attention_with_the_command_that_sets_it() {
        let figures = Figures {
            secret: Some(SecretCheck {
                parameter: "/webhook/secret".to_owned(),
                placeholder: Some(true),
                unchecked: None,
            }),
            ..Figures::default()
        };
        let verdict = verdict(&figures, TEN_MINUTES, 1000);
        let Verdict::Attention(reason) = &verdict else {
            panic!("expected attention");
        };
        assert!(reason.contains("rejects every delivery"), "{reason}");
        assert_eq!(
            next_step(&verdict),
            Some("aws ssm put-parameter --name /webhook/secret --type SecureString --overwrite --value ...")
        );
        let unchecked = Figures {
            secret: Some(SecretCheck {
                parameter: "/webhook/secret".to_owned(),
                placeholder: None,
                unchecked: Some("not checked: AccessDenied".to_owned()),
            }),
            ..Figures::default()
        };
        assert_eq!(verdict_of(&unchecked), Verdict::Ok);
    }

    fn verdict_of(figures: &Figures) -> Verdict {
        verdict(figures, TEN_MINUTES, 1000)
    }

    #[test]
    fn young_pending_rows_are_ok() {
        let figures = Figures {
            pending: 3,
            oldest_pending_age_secs: Some(30.0),
            ..Figures::default()
        };
        assert_eq!(verdict(&figures, TEN_MINUTES, 1000), Verdict::Ok);
    }

    #[test]
    fn old_pending_rows_or_a_long_queue_are_behind() {
        let figures = Figures {
            pending: 2,
            oldest_pending_age_secs: Some(700.0),
            ..Figures::default()
        };
        let Verdict::Behind(reason) = verdict(&figures, TEN_MINUTES, 1000) else {
            panic!("expected behind");
        };
        assert!(
            reason.contains("11m 40s") && reason.contains("list --status pending"),
            "{reason}"
        );
        let mut long_queue = Figures::default();
        long_queue.queue.visible = 1000;
        assert!(matches!(
            verdict(&long_queue, TEN_MINUTES, 1000),
            Verdict::Behind(_)
        ));
    }

    #[test]
    fn parked_rows_and_dlq_messages_need_attention_first() {
        let mut figures = Figures {
            parked: 1,
            oldest_pending_age_secs: Some(9_999.0),
            ..Figures::default()
        };
        figures.dlq.in_flight = 2;
        let Verdict::Attention(reason) = verdict(&figures, TEN_MINUTES, 1000) else {
            panic!("expected attention");
        };
        assert!(
            reason.contains("1 parked") && reason.contains("2 message(s) in the DLQ"),
            "{reason}"
        );
    }

    #[test]
    fn a_routed_queue_counts_like_the_main_one_and_names_its_url() {
        let mut figures = Figures::default();
        figures.routed.push(RoutedQueueFigures {
            route: "orders".to_owned(),
            url: "http://sqs/123/orders".to_owned(),
            queue: QueueDepth {
                visible: 1000,
                ..QueueDepth::default()
            },
            dlq: None,
        });
        let Verdict::Behind(reason) = verdict(&figures, TEN_MINUTES, 1000) else {
            panic!("expected behind");
        };
        assert!(reason.contains("route orders's queue"), "{reason}");
        figures.routed[0].dlq = Some(QueueDepth {
            visible: 3,
            ..QueueDepth::default()
        });
        let Verdict::Attention(reason) = verdict(&figures, TEN_MINUTES, 1000) else {
            panic!("expected attention");
        };
        assert!(
            reason.contains("outboxctl dlq --route orders redrive --yes"),
            "{reason}"
        );
    }
}
