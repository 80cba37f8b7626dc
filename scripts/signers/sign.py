#!/usr/bin/env python3
"""Sign a webhook body with the provider's own SDK and print the headers as JSON.

    sign.py SCHEME SECRET [--timestamp UNIX] [--id EVENT_ID] < body

Standard Webhooks with `standardwebhooks` (PyPI), Svix-branded senders (Clerk, Resend, ...: the
Standard Webhooks scheme under `svix-*` header names) with `svix` (PyPI), Slack with `slack_sdk`'s SignatureVerifier (PyPI),
Stripe with `stripe` and GitHub with `@octokit/webhooks-methods` (npm, through sign.mjs beside this
file), Shopify with its documented formula (it publishes no SDK signer): base64 of HMAC-SHA256 of
the raw body with the app's client secret; the catalog's other providers (DOCUMENTED_SCHEMES) by
their documented rules. Used by the tests and scripts/send_webhook.py.
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
SDK_SCHEMES = ("standard-webhooks", "svix", "stripe", "github", "shopify", "slack", "twilio")
# Providers whose SDK has no signer: each is signed here as its documentation states the rule,
# independently of the Rust code; where the provider's SDK has a verifier (Paddle's
# `paddle-python-sdk`, Square's `squareup`, Linear's `@linear/sdk` from npm) or a signature function
# (HubSpot's `hubspot-api-client`), that SDK checks or makes the signature too (`_sdk_agrees`).
DOCUMENTED_SCHEMES = ("paddle", "hubspot", "zendesk", "calendly", "twitch", "linear", "intercom",
                      "pagerduty", "typeform", "bitbucket", "woocommerce", "razorpay", "square",
                      "mailgun", "gitlab", "token", "basic",
                      # Not in the catalog: the worked examples of docs/custom-schemes.md, which the
                      # ingress verifies as SIGNATURE_SCHEME=custom with their SIGNATURE_SPEC.
                      "mux", "sentry", "vercel")
# Signed with a private key (the SECRET argument: hex of the Ed25519 seed or the P-256 scalar); the
# ingress holds the public key. PyNaCl signs Ed25519 and Discord's `discord-interactions` (npm)
# checks it; `cryptography` signs P-256 and SendGrid's `sendgrid` SDK checks it.
ASYMMETRIC_SCHEMES = ("discord", "sendgrid", "standard-webhooks-v1a")
SCHEMES = SDK_SCHEMES + DOCUMENTED_SCHEMES + ASYMMETRIC_SCHEMES


def public_key(scheme, private):
    """The public key, as the provider's dashboard shows it, of a private key given in hex."""
    if scheme == "sendgrid":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.derive_private_key(int(private, 16), ec.SECP256R1()).public_key()
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()
    from nacl.signing import SigningKey

    verify_key = bytes(SigningKey(bytes.fromhex(private)).verify_key)
    if scheme == "discord":
        return verify_key.hex()
    return "whpk_" + base64.b64encode(verify_key).decode()


def asymmetric(scheme, private, body, event_id, timestamp):
    ts = str(timestamp)
    if scheme == "sendgrid":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from sendgrid.helpers.eventwebhook import EventWebhook

        key = ec.derive_private_key(int(private, 16), ec.SECP256R1())
        signature = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        sdk = EventWebhook(public_key(scheme, private))
        if not sdk.verify_signature(body.decode(), signature, ts):
            sys.exit("sign.py: SendGrid's SDK does not accept the signature")
        return {"X-Twilio-Email-Event-Webhook-Signature": signature,
                "X-Twilio-Email-Event-Webhook-Timestamp": ts}
    from nacl.signing import SigningKey

    key = SigningKey(bytes.fromhex(private))
    if scheme == "discord":
        signature = key.sign(ts.encode() + body).signature.hex()
        public = public_key(scheme, private)
        if not _node_verify(["verify-discord", public, signature, ts], body):
            sys.exit("sign.py: Discord's discord-interactions does not accept the signature")
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": ts}
    message = event_id.encode() + b"." + ts.encode() + b"." + body
    signature = base64.b64encode(key.sign(message).signature).decode()
    return {"webhook-id": event_id, "webhook-timestamp": ts, "webhook-signature": f"v1a,{signature}"}


def _hmac(secret, message, algorithm=hashlib.sha256):
    return hmac.new(secret.encode(), message, algorithm)


def _rfc3339(timestamp):
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sdk_agrees(scheme, secret, body, headers, url):
    """Whether the provider's own SDK accepts (or makes) the same signature."""
    if scheme == "paddle":
        from paddle_billing.Notifications import Secret, Verifier

        class Request:
            def __init__(self):
                self.headers = headers
                self.body = body

        return Verifier().verify(Request(), Secret(secret), verify_time_drift=False)
    if scheme == "square":
        from square.utils.webhooks_helper import verify_signature

        return verify_signature(request_body=body.decode(), notification_url=url, signature_key=secret,
                                signature_header=headers["X-Square-Hmacsha256-Signature"])
    if scheme == "hubspot":
        from hubspot.utils.signature import Signature

        made = Signature.get_signature(secret, body.decode(), "v3", url, "POST",
                                       headers["X-HubSpot-Request-Timestamp"])
        return made == headers["X-HubSpot-Signature-v3"]
    if scheme == "linear":
        return _node_verify(["verify-linear", secret, headers["Linear-Signature"]], body)
    return True


def _node_verify(args, body):
    """Whether a provider's npm SDK (sign.mjs verify-...) accepts a signature."""
    if not (HERE / "node_modules").is_dir():
        sys.exit("sign.py: the npm SDKs are not installed: run `make signers`")
    output = subprocess.run(["node", str(HERE / "sign.mjs"), *args], input=body, capture_output=True,
                            check=True)
    return json.loads(output.stdout) is True


def documented(scheme, secret, body, event_id, timestamp, url, method="POST"):
    """The headers of `scheme` by its provider's documented rule."""
    ts = str(timestamp)
    if scheme == "paddle":  # Paddle-Signature: ts=..;h1=hex(HMAC(ts + ":" + body))
        h1 = _hmac(secret, ts.encode() + b":" + body).hexdigest()
        return {"Paddle-Signature": f"ts={ts};h1={h1}"}
    if scheme == "hubspot":  # base64(HMAC(method + uri + body + timestamp_ms))
        millis = str(timestamp * 1000)
        message = method.encode() + url.encode() + body + millis.encode()
        return {"X-HubSpot-Signature-v3": base64.b64encode(_hmac(secret, message).digest()).decode(),
                "X-HubSpot-Request-Timestamp": millis}
    if scheme == "zendesk":  # base64(HMAC(timestamp + body))
        at = _rfc3339(timestamp)
        digest = _hmac(secret, at.encode() + body).digest()
        return {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-Zendesk-Webhook-Signature-Timestamp": at}
    if scheme == "calendly":  # t=..,v1=hex(HMAC(t + "." + body))
        v1 = _hmac(secret, ts.encode() + b"." + body).hexdigest()
        return {"Calendly-Webhook-Signature": f"t={ts},v1={v1}"}
    if scheme == "twitch":  # sha256=hex(HMAC(id + timestamp + body))
        at = _rfc3339(timestamp)
        digest = _hmac(secret, event_id.encode() + at.encode() + body).hexdigest()
        return {"Twitch-Eventsub-Message-Id": event_id, "Twitch-Eventsub-Message-Timestamp": at,
                "Twitch-Eventsub-Message-Type": "notification",
                "Twitch-Eventsub-Message-Signature": f"sha256={digest}"}
    if scheme == "linear":  # hex(HMAC(body)); the body's webhookTimestamp is checked
        headers = {"Linear-Signature": _hmac(secret, body).hexdigest()}
        if event_id:
            headers["Linear-Delivery"] = event_id
        return headers
    if scheme == "intercom":  # sha1=hex(HMAC-SHA1(body))
        return {"X-Hub-Signature": "sha1=" + _hmac(secret, body, hashlib.sha1).hexdigest()}
    if scheme == "pagerduty":  # v1=hex(HMAC(body)), one per active secret
        return {"X-PagerDuty-Signature": "v1=" + _hmac(secret, body).hexdigest()}
    if scheme == "typeform":  # sha256=base64(HMAC(body))
        return {"Typeform-Signature": "sha256=" + base64.b64encode(_hmac(secret, body).digest()).decode()}
    if scheme == "bitbucket":  # sha256=hex(HMAC(body))
        headers = {"X-Hub-Signature": "sha256=" + _hmac(secret, body).hexdigest(),
                   "X-Event-Key": "repo:push"}
        if event_id:
            headers["X-Request-UUID"] = event_id
        return headers
    if scheme == "woocommerce":  # base64(HMAC(body))
        headers = {"X-WC-Webhook-Signature": base64.b64encode(_hmac(secret, body).digest()).decode(),
                   "X-WC-Webhook-Topic": "order.created"}
        if event_id:
            headers["X-WC-Webhook-Delivery-ID"] = event_id
        return headers
    if scheme == "razorpay":  # hex(HMAC(body))
        headers = {"X-Razorpay-Signature": _hmac(secret, body).hexdigest()}
        if event_id:
            headers["X-Razorpay-Event-Id"] = event_id
        return headers
    if scheme == "square":  # base64(HMAC(notification URL + body))
        digest = _hmac(secret, url.encode() + body).digest()
        return {"X-Square-Hmacsha256-Signature": base64.b64encode(digest).decode()}
    if scheme == "mailgun":  # hex(HMAC(timestamp + token)), inside the body: prints the body
        token = hashlib.sha256(event_id.encode() + ts.encode()).hexdigest()[:50]
        signature = _hmac(secret, ts.encode() + token.encode()).hexdigest()
        envelope = {"signature": {"timestamp": ts, "token": token, "signature": signature},
                    "event-data": json.loads(body)}
        return {"body": json.dumps(envelope)}
    if scheme == "mux":  # Mux-Signature: t=..,v1=hex(HMAC(t + "." + body))
        return {"Mux-Signature": f"t={ts},v1=" + _hmac(secret, ts.encode() + b"." + body).hexdigest()}
    if scheme == "sentry":  # Sentry-Hook-Signature: hex(HMAC(body))
        headers = {"Sentry-Hook-Signature": _hmac(secret, body).hexdigest(),
                   "Sentry-Hook-Resource": "issue"}
        if event_id:
            headers["Request-ID"] = event_id
        return headers
    if scheme == "vercel":  # x-vercel-signature: hex(HMAC-SHA1(body))
        return {"x-vercel-signature": _hmac(secret, body, hashlib.sha1).hexdigest()}
    if scheme == "gitlab":
        headers = {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}
        if event_id:  # GitLab 17.4+ sends both; Idempotency-Key is the one a resend keeps
            headers["Idempotency-Key"] = event_id
            headers["X-Gitlab-Event-UUID"] = event_id
        return headers
    if scheme == "token":
        return {"Authorization": f"Bearer {secret}"}
    if scheme == "basic":
        return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    raise ValueError(f"no documented signer for scheme {scheme!r}")


def _node(scheme, secret, timestamp, body):
    if not (HERE / "node_modules").is_dir():
        sys.exit("sign.py: the npm SDKs are not installed: run `make signers`")
    output = subprocess.run(["node", str(HERE / "sign.mjs"), scheme, secret, str(timestamp)],
                            input=body, capture_output=True, check=True)
    return json.loads(output.stdout)


def _twilio(secret, body, event_id, url, content_type):
    """Twilio's signature by its SDK: over the URL and the sorted form parameters, or for a JSON
    body over the URL with `bodySHA256` (the body's hex SHA-256) added to its query, as Twilio
    sends JSON; the SDK's own validator checks it."""
    from urllib.parse import parse_qsl

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(secret)
    if content_type == "application/json":
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}bodySHA256={validator.compute_hash(body.decode())}"
        signature = validator.compute_signature(url, {})
        agrees = validator.validate(url, body.decode(), signature)
    else:
        content_type = "application/x-www-form-urlencoded"
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        signature = validator.compute_signature(url, params)
        agrees = validator.validate(url, params, signature)
    if not agrees:
        sys.exit("sign.py: Twilio's RequestValidator does not accept the signature")
    return {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": event_id or "",
            "Content-Type": content_type}


def sign(scheme, secret, body, event_id=None, timestamp=None, url="", content_type=None):
    """The headers `scheme`'s provider sends with `body` (bytes), signed with `secret`; `url` is
    the URL configured at the provider (the ingress's PUBLIC_URL) for the schemes that sign it,
    and `content_type` says whether a Twilio body is a form (the default) or JSON."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    if scheme in ASYMMETRIC_SCHEMES:
        return asymmetric(scheme, secret, body, event_id or "", timestamp)
    if scheme in DOCUMENTED_SCHEMES:
        headers = documented(scheme, secret, body, event_id or "", timestamp, url)
        if not _sdk_agrees(scheme, secret, body, headers, url):
            sys.exit(f"sign.py: {scheme}'s own SDK does not accept the documented signature")
        return headers
    if scheme == "twilio":
        return _twilio(secret, body, event_id, url, content_type)
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
    parser.add_argument("--url", default="",
                        help="the URL configured at the provider (hubspot, square, twilio)")
    parser.add_argument("--content-type", help="twilio: application/json signs a JSON body "
                        "(default: a form)")
    parser.add_argument("--public-key", action="store_true",
                        help="print the public key of an asymmetric scheme's private SECRET instead")
    args = parser.parse_args()
    if args.public_key:
        print(public_key(args.scheme, args.secret))
        return
    body = sys.stdin.buffer.read()
    print(json.dumps(sign(args.scheme, args.secret, body, args.id, args.timestamp, args.url,
                          args.content_type)))


if __name__ == "__main__":
    main()
