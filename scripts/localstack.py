#!/usr/bin/env python3
"""Provision the local stack's AWS resources on the moto server, idempotently.

This file is the single description of the local resources' shape (the same keys, index, TTL and
redrive settings as terraform/ creates): `make up`/`make run` call it for the default names and the
Rust integration tests call it for their own uniquely named table and queues. The infrastructure
checks (tests/infra) compare these constants with the Terraform modules.
"""
import argparse
import json
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

# Outbox table (docs/outbox-table.md).
TABLE_HASH_KEY = "id"
TTL_ATTRIBUTE = "expires_at"
UNSENT_INDEX = "unsent-index"
UNSENT_INDEX_HASH_KEY = "unsent_key"  # "pending#<source>#<shard>" / "parked#<source>#<shard>"; absent once sent
UNSENT_INDEX_RANGE_KEY = "received_at"  # epoch milliseconds (N)
UNSENT_INDEX_PROJECTION = "KEYS_ONLY"

# Queues (README, Message contract).
MAX_RECEIVE_COUNT = 5
QUEUE_VISIBILITY_TIMEOUT_SECS = 60
QUEUE_RETENTION_SECS = 4 * 24 * 3600
DLQ_RETENTION_SECS = 14 * 24 * 3600
MAX_MESSAGE_BYTES = 1048576

# Large-body bucket (the S3 claim check): objects are written tagged unsent and re-tagged sent once
# their row is sent or discarded; only sent objects expire, after the row's retention plus the time
# a message may still sit on the queue and then the DLQ (shared::large_body, terraform/).
LARGE_BODY_STATE_TAG = "outbox-state"
LARGE_BODY_SENT = "sent"
RETENTION_DAYS = 14
LARGE_BODY_EXPIRY_DAYS = RETENTION_DAYS + (QUEUE_RETENTION_SECS + DLQ_RETENTION_SECS) // 86400

DEFAULTS = {
    "table": "webhook-outbox",
    "queue": "webhook-events",
    "dlq": "webhook-events-dlq",
    "parameter": "/webhook-ingress/secret",
}


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def create_table(ddb, name):
    try:
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": TABLE_HASH_KEY, "AttributeType": "S"},
                {"AttributeName": UNSENT_INDEX_HASH_KEY, "AttributeType": "S"},
                {"AttributeName": UNSENT_INDEX_RANGE_KEY, "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": TABLE_HASH_KEY, "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": UNSENT_INDEX,
                    "KeySchema": [
                        {"AttributeName": UNSENT_INDEX_HASH_KEY, "KeyType": "HASH"},
                        {"AttributeName": UNSENT_INDEX_RANGE_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": UNSENT_INDEX_PROJECTION},
                }
            ],
            SSESpecification={"Enabled": True},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
    if _ttl_disabled(ddb, name):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


def _ttl_disabled(ddb, name):
    status = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING")


def create_queues(sqs, queue, dlq):
    dlq_url = sqs.create_queue(
        QueueName=dlq,
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECS),
                    "MaximumMessageSize": str(MAX_MESSAGE_BYTES)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=queue,
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT_SECS),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECS),
            "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def create_bucket(s3, bucket):
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "expire-sent-bodies",
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": LARGE_BODY_STATE_TAG, "Value": LARGE_BODY_SENT}},
        "Expiration": {"Days": LARGE_BODY_EXPIRY_DAYS},
    }]})


def create_secret(kms, ssm, parameter, secret):
    alias = "alias/webhook-ingress-local"
    try:
        key_id = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except ClientError:
        key_id = kms.create_key(Description="local webhook secret key")["KeyMetadata"]["KeyId"]
        try:
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        except ClientError as err:
            # Another provisioning run (a parallel test) created it first: use theirs.
            if err.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
            key_id = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name=parameter, Value=secret, Type="SecureString", KeyId=key_id,
                      Overwrite=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--table", default=DEFAULTS["table"])
    parser.add_argument("--queue", default=DEFAULTS["queue"])
    parser.add_argument("--dlq", default=DEFAULTS["dlq"])
    parser.add_argument("--parameter", default=DEFAULTS["parameter"])
    parser.add_argument("--secret", help="value to store in the parameter (omit to skip it)")
    parser.add_argument("--bucket", help="large-body bucket to create (omit to skip it)")
    args = parser.parse_args()

    try:
        create_table(client("dynamodb", args.endpoint, args.region), args.table)
        queue_url, dlq_url = create_queues(
            client("sqs", args.endpoint, args.region), args.queue, args.dlq)
        if args.bucket is not None:
            s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name=args.region,
                              aws_access_key_id="test", aws_secret_access_key="test",
                              config=botocore.config.Config(s3={"addressing_style": "path"}))
            create_bucket(s3, args.bucket)
        if args.secret is not None:
            create_secret(client("kms", args.endpoint, args.region),
                          client("ssm", args.endpoint, args.region), args.parameter, args.secret)
    except Exception as err:  # noqa: BLE001 - one readable line for the Makefile and the tests
        print(f"localstack.py: cannot provision on {args.endpoint}: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"table": args.table, "queue_url": queue_url, "dlq_url": dlq_url,
                      "bucket": args.bucket}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
