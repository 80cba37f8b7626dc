#!/usr/bin/env python3
"""Sweep throughput benchmark: how many pending rows per second the sweeper re-sends against moto.

Provisions a private table and queue (scripts/localstack.py), writes N pending rows older than the
grace period exactly as the ingress writes them, then runs the built `sweeper` binary (one sweep per
run, each limited to 55 s like the Lambda) until nothing is pending, and reports rows per second.
A thread keeps draining the queue (receive and delete) so moto's depth-dependent slowdown (real SQS does not
slow down) does not skew the figure.

    make bench-sweep                      # 3,000 rows, the debug binary
    .venv/bin/python scripts/bench_sweep.py --rows 10000 --sweeper target/release/sweeper
"""
import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import uuid

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARDS = 8


def shard_of(key, shards):
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % shards


def pending_item(source, event_id, received_at):
    key = f"{source}:{event_id}"
    body = json.dumps({"type": "bench.event", "id": event_id, "padding": "x" * 900}).encode()
    return {
        "id": {"S": key},
        "source": {"S": source},
        "event_id": {"S": event_id},
        "event_type": {"S": "bench.event"},
        "status": {"S": "pending"},
        "body": {"B": body},
        "body_sha256": {"S": hashlib.sha256(body).hexdigest()},
        "received_at": {"N": str(received_at)},
        "attempts": {"N": "0"},
        "unsent_key": {"S": f"pending#{source}#{shard_of(key, SHARDS)}"},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--endpoint", default=os.environ.get("MOTO_ENDPOINT", "http://127.0.0.1:4566"))
    parser.add_argument("--sweeper", default=str(ROOT / "target" / "debug" / "sweeper"))
    args = parser.parse_args()
    if not pathlib.Path(args.sweeper).exists():
        sys.exit(f"bench_sweep.py: {args.sweeper} not found: run `make build` first")

    suffix = uuid.uuid4().hex[:8]
    names = {"table": f"bench-outbox-{suffix}", "queue": f"bench-events-{suffix}", "dlq": f"bench-dlq-{suffix}"}
    created = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "localstack.py"), "--endpoint", args.endpoint,
         "--table", names["table"], "--queue", names["queue"], "--dlq", names["dlq"]],
        check=True, capture_output=True, text=True)
    queue_url = json.loads(created.stdout)["queue_url"]
    session = dict(endpoint_url=args.endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
    ddb, sqs = boto3.client("dynamodb", **session), boto3.client("sqs", **session)

    old = int(time.time() * 1000) - 10 * 60 * 1000
    items = [pending_item("bench", f"evt-{n}", old + n) for n in range(args.rows)]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        ddb.batch_write_item(RequestItems={names["table"]: batch})

    env = {**os.environ, "SOURCE_NAME": "bench", "OUTBOX_TABLE": names["table"], "QUEUE_URL": queue_url,
           "PENDING_SHARDS": str(SHARDS), "GRACE_SECS": "120", "AWS_ENDPOINT_URL": args.endpoint,
           "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "RUST_LOG": "warn"}
    stop = threading.Event()

    def drain_continuously():
        while not stop.is_set():
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
            else:
                time.sleep(0.05)

    purger = threading.Thread(target=drain_continuously, daemon=True)
    purger.start()
    total_resent, sweeping_secs, runs = 0, 0.0, 0
    while runs < 50:
        started = time.monotonic()
        done = subprocess.run([args.sweeper], env=env, capture_output=True, text=True)
        sweeping_secs += time.monotonic() - started
        runs += 1
        report = next((json.loads(line) for line in done.stdout.splitlines() if '"_aws"' in line), None)
        if report is None:
            sys.exit(f"bench_sweep.py: no EMF line from the sweeper:\n{done.stdout}\n{done.stderr}")
        total_resent += int(report["Resent"])
        if report["PendingCount"] == 0:
            break
    stop.set()
    print(f"rows {args.rows}, resent {total_resent}, sweeps {runs}, "
          f"time {sweeping_secs:.1f} s, throughput {total_resent / sweeping_secs:.0f} rows/s "
          f"(sweeper {pathlib.Path(args.sweeper).name} against moto at {args.endpoint})")
    return 0 if total_resent >= args.rows else 1


if __name__ == "__main__":
    sys.exit(main())
