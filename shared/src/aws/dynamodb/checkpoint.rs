//! The reconciler's checkpoint row ([`crate::checkpoint`]) through the DynamoDB API: the lease is
//! a conditional UpdateItem (taken only when no one holds it or it has run out), and every later
//! write is conditional on still holding it, so a run whose lease ran out changes nothing.

use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{aws_error, n, s, DynamoDbOutbox};
use crate::checkpoint::{
    attr, checkpoint_key, Checkpoint, LastRun, Lease, KIND, MAX_LAST_ERROR_CHARS,
};
use crate::outbox::{attr as row, OutboxError};
use crate::time::EpochMillis;

type Item = std::collections::HashMap<String, AttributeValue>;

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn checkpoint_of(item: &Item) -> Checkpoint {
    let count = |name| {
        number(item, name)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    };
    Checkpoint {
        at: number(item, attr::CHECKPOINT_AT),
        lease_owner: text(item, attr::LEASE_OWNER),
        lease_until: number(item, attr::LEASE_UNTIL).unwrap_or(0),
        last_run: number(item, attr::LAST_RUN_AT).map(|at| LastRun {
            at,
            window_since: number(item, attr::LAST_WINDOW_SINCE).unwrap_or(0),
            window_until: number(item, attr::LAST_WINDOW_UNTIL).unwrap_or(0),
            listed: count(attr::LAST_LISTED),
            missing: count(attr::LAST_MISSING),
            recovered: count(attr::LAST_RECOVERED),
            unrecoverable: count(attr::LAST_UNRECOVERABLE),
            failed: count(attr::LAST_FAILED),
            error: text(item, attr::LAST_ERROR),
        }),
    }
}

impl DynamoDbOutbox {
    /// This source's checkpoint as it is now (read consistently); `None` before any run.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, OutboxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(row::ID, s(&checkpoint_key(&self.source)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| aws_error("GetItem", err))?;
        Ok(output.item().map(checkpoint_of))
    }

    /// Takes the checkpoint's lease for `owner` until `now + lease`, when no one holds it or
    /// its holder's time has run out (the row is created on the first run).
    pub async fn acquire_checkpoint_lease(
        &self,
        owner: &str,
        now: EpochMillis,
        lease: Duration,
    ) -> Result<Lease, OutboxError> {
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(row::ID, s(&checkpoint_key(&self.source)))
            .update_expression("SET #kind = :kind, #owner = :owner, #until = :until")
            .condition_expression("attribute_not_exists(#until) OR #until <= :now")
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#owner", attr::LEASE_OWNER)
            .expression_attribute_names("#until", attr::LEASE_UNTIL)
            .expression_attribute_values(":kind", s(KIND))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Lease::Acquired(
                output.attributes().map(checkpoint_of).unwrap_or_default(),
            )),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let held = failed.item().map(checkpoint_of).unwrap_or_default();
                    Ok(Lease::Held {
                        owner: held.lease_owner,
                        until: held.lease_until,
                    })
                }
                _ => Err(aws_error("UpdateItem", err)),
            },
        }
    }

    /// Extends `owner`'s lease to `now + lease`, only while `owner` still holds it; `false` when
    /// it does not (its time ran out and another run took it).
    pub async fn renew_checkpoint_lease(
        &self,
        owner: &str,
        now: EpochMillis,
        lease: Duration,
    ) -> Result<bool, OutboxError> {
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(row::ID, s(&checkpoint_key(&self.source)))
            .update_expression("SET #until = :until")
            .condition_expression("#owner = :owner AND #until > :now")
            .expression_attribute_names("#owner", attr::LEASE_OWNER)
            .expression_attribute_names("#until", attr::LEASE_UNTIL)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        held(result)
    }

    /// Ends `owner`'s run: records what it did, moves the checkpoint to `checkpoint_at` when
    /// given (`None`: it stays where it was, the run settled nothing), and releases the lease.
    /// Only while `owner` still holds the lease; `false` when it does not (nothing written).
    pub async fn finish_checkpoint_run(
        &self,
        owner: &str,
        now: EpochMillis,
        checkpoint_at: Option<EpochMillis>,
        run: &LastRun,
    ) -> Result<bool, OutboxError> {
        let mut set = vec![
            "#until = :released",
            "#run_at = :run_at",
            "#since = :since",
            "#wuntil = :wuntil",
            "#listed = :listed",
            "#missing = :missing",
            "#recovered = :recovered",
            "#unrecoverable = :unrecoverable",
            "#failed = :failed",
        ];
        let count = |value: u64| n(i64::try_from(value).unwrap_or(i64::MAX));
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(row::ID, s(&checkpoint_key(&self.source)))
            .condition_expression("#owner = :owner AND #until > :now")
            .expression_attribute_names("#owner", attr::LEASE_OWNER)
            .expression_attribute_names("#until", attr::LEASE_UNTIL)
            .expression_attribute_names("#run_at", attr::LAST_RUN_AT)
            .expression_attribute_names("#since", attr::LAST_WINDOW_SINCE)
            .expression_attribute_names("#wuntil", attr::LAST_WINDOW_UNTIL)
            .expression_attribute_names("#listed", attr::LAST_LISTED)
            .expression_attribute_names("#missing", attr::LAST_MISSING)
            .expression_attribute_names("#recovered", attr::LAST_RECOVERED)
            .expression_attribute_names("#unrecoverable", attr::LAST_UNRECOVERABLE)
            .expression_attribute_names("#failed", attr::LAST_FAILED)
            .expression_attribute_names("#error", attr::LAST_ERROR)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":released", n(0))
            .expression_attribute_values(":run_at", n(run.at))
            .expression_attribute_values(":since", n(run.window_since))
            .expression_attribute_values(":wuntil", n(run.window_until))
            .expression_attribute_values(":listed", count(run.listed))
            .expression_attribute_values(":missing", count(run.missing))
            .expression_attribute_values(":recovered", count(run.recovered))
            .expression_attribute_values(":unrecoverable", count(run.unrecoverable))
            .expression_attribute_values(":failed", count(run.failed));
        if let Some(at) = checkpoint_at {
            set.push("#checkpoint = :checkpoint");
            request = request
                .expression_attribute_names("#checkpoint", attr::CHECKPOINT_AT)
                .expression_attribute_values(":checkpoint", n(at));
        }
        let mut expression = format!("SET {}", set.join(", "));
        match &run.error {
            Some(error) => {
                expression.push_str(", #error = :error");
                let error: String = error.chars().take(MAX_LAST_ERROR_CHARS).collect();
                request = request.expression_attribute_values(":error", s(&error));
            }
            None => expression.push_str(" REMOVE #error"),
        }
        held(request.update_expression(expression).send().await)
    }
}

fn held<T>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<UpdateItemError>>,
) -> Result<bool, OutboxError> {
    match result {
        Ok(_) => Ok(true),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
            _ => Err(aws_error("UpdateItem", err)),
        },
    }
}
