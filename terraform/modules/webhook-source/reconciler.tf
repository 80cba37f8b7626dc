# The reconciler's place (DESIGN section 14): a scheduled function per source that lists what the
# provider emitted (its event or delivery API) and recovers what has no outbox row, as
# `outboxctl backfill --yes` does. It is built in Rust separately; its Terraform goes in this file, for
# sources whose backfill_provider is set, from what this module already has:
#   - module "reconciler" from ../lambda (its own role, log group, alarms; async_invoke with no retry,
#     like the sweeper), environment as its crate's ENV_VARS and a reconciler/function.json;
#   - module "reconciler_schedule" from ../lambda-schedule (every 10 minutes by default);
#   - the credential it reads: module.backfill_credential[0] (parameter_arn, and the secrets key with
#     kms:EncryptionContext:PARAMETER_ARN, as the ingress reads its secret), which then stops being
#     readable by the repair policy only;
#   - its role in local.queue_senders, when it sends to the queues;
#   - its Reconcile* alarms in module.monitoring, its lambroll settings in local.lambroll_env.
# Its IAM is exactly its crate's IAM_ACTIONS, checked by tests/infra like the other functions'.
