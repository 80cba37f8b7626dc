#!/usr/bin/env python3
"""Sign a webhook as the provider would and POST it to the ingress.

Every provider scheme is signed with the provider's own SDK through scripts/signers/sign.py
(`standardwebhooks` and `slack_sdk` in .venv, `stripe` and `@octokit/webhooks-methods` from npm via
`make signers`; Shopify by its published formula); the generic hmac-sha256 scheme with Python's hmac
module. Settings come from the environment, falling back to .local/env (written by
`make up` / `make run`): INGRESS_URL, WEBHOOK_SECRET, SIGNATURE_SCHEME, SIGNATURE_HEADER,
SIGNATURE_ENCODING, SIGNATURE_PREFIX.

Prints the HTTP status and exits 0 on a 2xx answer, 1 otherwise.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import pathlib
import sys
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "signers"))
import sign as provider_sdk  # noqa: E402  (scripts/signers/sign.py)

ENV_FILE = pathlib.Path(__file__).resolve().parent.parent / ".local" / "env"


def settings():
    values = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value.strip().strip("'\"")
    values.update({k: v for k, v in os.environ.items() if v})
    return values


def sign_generic(env, secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    encoded = base64.b64encode(digest).decode() if env.get("SIGNATURE_ENCODING", "hex").lower() == "base64" \
        else digest.hex()
    return {env["SIGNATURE_HEADER"]: env.get("SIGNATURE_PREFIX", "") + encoded}


def main():
    parser = argparse.ArgumentParser(description="Sign a test webhook and POST it to the ingress.")
    parser.add_argument("body", nargs="?", help="request body (default: a sample JSON event)")
    parser.add_argument("--body-file", help="read the request body's exact bytes from this file "
                        "(for bodies too large for a command line, e.g. a 3 MB one)")
    parser.add_argument("--id", help="event id (default: a new msg_... id)")
    parser.add_argument("--forge", action="store_true", help="sign with a wrong secret (expect 404)")
    parser.add_argument("--url", help="ingress URL (default: INGRESS_URL)")
    args = parser.parse_args()

    env = settings()
    url = args.url or env.get("INGRESS_URL")
    secret = env.get("WEBHOOK_SECRET")
    if not url or not secret:
        sys.exit("send_webhook.py: INGRESS_URL and WEBHOOK_SECRET are needed: run `make up` "
                 "(it writes .local/env) or export them")
    secret = secret.split(",")[0].split()[0]
    scheme = env.get("SIGNATURE_SCHEME", "standard-webhooks")
    if args.forge:
        secret = "whsec_" + base64.b64encode(b"not-the-secret-at-all-000").decode() \
            if scheme == "standard-webhooks" else secret + "-forged"
    event_id = args.id or f"msg_{uuid.uuid4().hex}"
    if args.body_file:
        with open(args.body_file, "rb") as f:
            body = f.read()
    else:
        body = (args.body if args.body is not None else json.dumps(
            {"type": "product.review_status_changed", "id": event_id, "event_id": event_id,
             "data": {"product_id": "p-1001", "status": "approved"}})).encode()

    if scheme in provider_sdk.SCHEMES:
        # The URL-signing schemes sign PUBLIC_URL, the exact URL the ingress verifies against.
        headers = provider_sdk.sign(scheme, secret, body, event_id, url=env.get("PUBLIC_URL", ""),
                                    content_type="application/json")
    elif scheme == "hmac-sha256":
        headers = sign_generic(env, secret, body)
    else:
        sys.exit(f"send_webhook.py: cannot sign for SIGNATURE_SCHEME={scheme}")
    headers.pop("Content-Type", None)
    headers["content-type"] = "application/json"

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except urllib.error.URLError as err:
        sys.exit(f"send_webhook.py: cannot reach {url}: {err.reason}")
    print(f"{status} event {event_id}")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
