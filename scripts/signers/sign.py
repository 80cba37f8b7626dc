#!/usr/bin/env python3
"""Sign a webhook body with the provider's own SDK and print the headers as JSON.

    sign.py SCHEME SECRET [--timestamp UNIX] [--id EVENT_ID] < body

Standard Webhooks with `standardwebhooks` (PyPI), Svix-branded senders (Clerk, Resend, ...: the
Standard Webhooks scheme under `svix-*` header names) with `svix` (PyPI), Slack with `slack_sdk`'s SignatureVerifier (PyPI),
Stripe with `stripe` and GitHub with `@octokit/webhooks-methods` (npm, through sign.mjs beside this
file), Shopify with its documented formula (it publishes no SDK signer): base64 of HMAC-SHA256 of
the raw body with the app's client secret. Used by the tests and scripts/send_webhook.py.
"""
import argparse
import base64
import hashlib
import hmac
import json
import pathlib
import subprocess
import sys
import time
from datetime import datetime, timezone

HERE = pathlib.Path(__file__).resolve().parent
SCHEMES = ("standard-webhooks", "svix", "stripe", "github", "shopify", "slack")


def _node(scheme, secret, timestamp, body):
    if not (HERE / "node_modules").is_dir():
        sys.exit("sign.py: the npm SDKs are not installed: run `make signers`")
    output = subprocess.run(["node", str(HERE / "sign.mjs"), scheme, secret, str(timestamp)],
                            input=body, capture_output=True, check=True)
    return json.loads(output.stdout)


def sign(scheme, secret, body, event_id=None, timestamp=None):
    """The headers `scheme`'s provider sends with `body` (bytes), signed with `secret`."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    if scheme == "standard-webhooks":
        from standardwebhooks.webhooks import Webhook

        at = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        signature = Webhook(secret).sign(event_id, at, body.decode("utf-8"))
        return {"webhook-id": event_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": signature}
    if scheme == "svix":
        from svix.webhooks import Webhook

        at = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        signature = Webhook(secret).sign(event_id, at, body.decode("utf-8"))
        return {"svix-id": event_id, "svix-timestamp": str(timestamp),
                "svix-signature": signature}
    if scheme == "slack":
        from slack_sdk.signature import SignatureVerifier

        signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
        return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}
    if scheme == "shopify":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        headers = {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}
        if event_id:
            headers["X-Shopify-Webhook-Id"] = event_id
        return headers
    if scheme in ("stripe", "github"):
        headers = _node(scheme, secret, timestamp, body)
        if scheme == "github" and event_id:
            headers["X-GitHub-Delivery"] = event_id
        return headers
    raise ValueError(f"no SDK signer for scheme {scheme!r} (one of {', '.join(SCHEMES)})")


def main():
    parser = argparse.ArgumentParser(description="Sign stdin as a provider would; print headers as JSON.")
    parser.add_argument("scheme", choices=SCHEMES)
    parser.add_argument("secret")
    parser.add_argument("--timestamp", type=int, help="Unix seconds (default: now)")
    parser.add_argument("--id", help="event id for the schemes that carry it in a header")
    args = parser.parse_args()
    body = sys.stdin.buffer.read()
    print(json.dumps(sign(args.scheme, args.secret, body, args.id, args.timestamp)))


if __name__ == "__main__":
    main()
