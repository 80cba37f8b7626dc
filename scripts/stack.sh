#!/usr/bin/env bash
# The local stack: moto on 127.0.0.1:4566, the outbox table, the queues, the
# secret parameter, the ingress on 127.0.0.1:9000 and the sweeper every 15 s.
#   scripts/stack.sh moto   start moto (if it is not already listening) and return
#   scripts/stack.sh up     everything in the background; returns when the ingress answers
#   scripts/stack.sh run    everything in the foreground; Ctrl-C stops it all
#   scripts/stack.sh down   stop what `up` started
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_PORT="${MOTO_PORT:-4566}"
ENDPOINT="http://127.0.0.1:${MOTO_PORT}"
LISTEN="${INGRESS_LISTEN:-127.0.0.1:9000}"
SCHEME="${SIGNATURE_SCHEME:-standard-webhooks}"
SWEEP_EVERY="${SWEEP_EVERY:-15}"
STATE=.local
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# The large-body bucket (S3 claim check) and the key it encrypts with: the local secret's key.
LOCAL_BUCKET=webhook-large-bodies
LOCAL_KMS_KEY=alias/webhook-ingress-local

mkdir -p "$STATE"

say() { printf '%s\n' "$*" >&2; }

venv() {
  if [[ ! -x .venv/bin/moto_server ]]; then
    say "installing moto into .venv (once, about 30 s)"
    make -s venv
  fi
}

moto_ready() { curl -fsS -o /dev/null "${ENDPOINT}/moto-api/" 2>/dev/null; }

start_moto() {
  venv
  if moto_ready; then return; fi
  nohup .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/moto.pid"
  for _ in $(seq 1 100); do
    if moto_ready; then return; fi
    sleep 0.2
  done
  say "moto did not start on ${ENDPOINT}; see $STATE/moto.log"
  exit 1
}

dev_secret() {
  # Keep the secret across restarts so a provider simulator configured once keeps working.
  if [[ -f "$STATE/env" ]] && grep -q '^WEBHOOK_SECRET=' "$STATE/env" && \
     [[ "$(sed -n 's/^SIGNATURE_SCHEME=//p' "$STATE/env")" == "$SCHEME" ]]; then
    sed -n 's/^WEBHOOK_SECRET=//p' "$STATE/env"
  elif [[ "$SCHEME" == standard-webhooks ]]; then
    echo "whsec_$(head -c 24 /dev/urandom | base64)"
  else
    head -c 24 /dev/urandom | base64 | tr -d '+/='
  fi
}

write_env() {
  local secret="$1" queue_url="$2" dlq_url="$3"
  cat >"$STATE/env" <<ENV
AWS_ENDPOINT_URL=${ENDPOINT}
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
SOURCE_NAME=${SOURCE_NAME:-local}
OUTBOX_TABLE=webhook-outbox
QUEUE_URL=${queue_url}
DLQ_URL=${dlq_url}
SECRET_PARAMETER=/webhook-ingress/secret
SIGNATURE_SCHEME=${SCHEME}
SIGNATURE_HEADER=${SIGNATURE_HEADER:-}
SIGNATURE_ENCODING=${SIGNATURE_ENCODING:-}
SIGNATURE_PREFIX=${SIGNATURE_PREFIX:-}
PUBLIC_URL=${PUBLIC_URL:-http://${LISTEN}/}
EVENT_ID_HEADER=${EVENT_ID_HEADER:-}
EVENT_ID_POINTER=${EVENT_ID_POINTER:-}
EVENT_TYPE_POINTER=${EVENT_TYPE_POINTER:-}
MAX_BODY_BYTES=${MAX_BODY_BYTES:-6291456}
LARGE_BODY_BUCKET=${LOCAL_BUCKET}
LARGE_BODY_PREFIX=${LARGE_BODY_PREFIX:-}
LARGE_BODY_KMS_KEY=${LOCAL_KMS_KEY}
TIMESTAMP_TOLERANCE_SECS=${TIMESTAMP_TOLERANCE_SECS:-}
PENDING_SHARDS=${PENDING_SHARDS:-8}
RETENTION_DAYS=${RETENTION_DAYS:-14}
RESPONSE_BUDGET_MS=${RESPONSE_BUDGET_MS:-3000}
METRICS_NAMESPACE=${METRICS_NAMESPACE:-WebhookIngress}
GRACE_SECS=${GRACE_SECS:-120}
MAX_ATTEMPTS=${MAX_ATTEMPTS:-10}
INGRESS_LISTEN=${LISTEN}
INGRESS_URL=http://${LISTEN}/
WEBHOOK_SECRET=${secret}
ENV
  # ROUTES is JSON: quoted for the shell, and only written when set.
  if [[ -n "${ROUTES:-}" ]]; then
    printf "ROUTES='%s'\n" "${ROUTES//\'/\'\\\'\'}" >>"$STATE/env"
  fi
}

stop_pid() {
  local file="$STATE/$1.pid"
  if [[ -f "$file" ]]; then
    kill "$(cat "$file")" 2>/dev/null || true
    rm -f "$file"
  fi
}

up() {
  # The same build as `make test` (whole workspace, test targets included, so the same features):
  # after `make test` this compiles nothing.
  cargo test --workspace --no-run --quiet 2>/dev/null || cargo test --workspace --no-run
  start_moto
  local secret provisioned queue_url dlq_url
  secret="$(dev_secret)"
  provisioned="$(.venv/bin/python scripts/localstack.py --endpoint "$ENDPOINT" --secret "$secret" --bucket "$LOCAL_BUCKET")"
  queue_url="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["queue_url"])' <<<"$provisioned")"
  dlq_url="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["dlq_url"])' <<<"$provisioned")"
  write_env "$secret" "$queue_url" "$dlq_url"

  stop_pid ingress
  (set -a; . "$STATE/env"; set +a; exec "$TARGET_DIR/debug/ingress") >>"$STATE/ingress.log" 2>&1 &
  echo $! >"$STATE/ingress.pid"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://${LISTEN}/"; then break; fi
    if ! kill -0 "$(cat "$STATE/ingress.pid")" 2>/dev/null; then
      say "the ingress exited; see $STATE/ingress.log"; tail -5 "$STATE/ingress.log" >&2; exit 1
    fi
    sleep 0.2
  done
  stop_pid sweeper
  (set -a; . "$STATE/env"; set +a; exec "$TARGET_DIR/debug/sweeper" --every "$SWEEP_EVERY") >>"$STATE/sweeper.log" 2>&1 &
  echo $! >"$STATE/sweeper.pid"
  say "local stack up: moto ${ENDPOINT}, ingress http://${LISTEN}/, sweeper every ${SWEEP_EVERY} s (logs in $STATE/), settings in $STATE/env"
}

down() {
  stop_pid sweeper
  stop_pid ingress
  stop_pid moto
  say "local stack stopped"
}

banner() {
  cat >&2 <<TXT

  ingress   http://${LISTEN}/   (scheme ${SCHEME})
  moto      ${ENDPOINT}
  secret    $(sed -n 's/^WEBHOOK_SECRET=//p' "$STATE/env")
  settings  $STATE/env

  send a signed test webhook:   .venv/bin/python scripts/send_webhook.py
  send a forged one (404):      .venv/bin/python scripts/send_webhook.py --forge

  Ctrl-C stops everything.
TXT
}

case "${1:-}" in
  moto) start_moto ;;
  up) up ;;
  down) down ;;
  run)
    trap down EXIT
    up
    banner
    tail -n 0 -F "$STATE/ingress.log" "$STATE/sweeper.log"
    ;;
  *) say "usage: scripts/stack.sh moto|up|run|down"; exit 2 ;;
esac
