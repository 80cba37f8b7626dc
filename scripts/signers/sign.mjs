// Signs the body read from stdin with a provider's own SDK and prints the headers as JSON; or, for
// providers whose SDK only verifies, prints whether it accepts a signature (`true` or `false`).
// Usage: node sign.mjs stripe|github SECRET [UNIX_TIMESTAMP] < body
//        node sign.mjs verify-linear SECRET SIGNATURE < body
//        node sign.mjs verify-discord PUBLIC_KEY_HEX SIGNATURE TIMESTAMP < body
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { sign as githubSign } from "@octokit/webhooks-methods";
import { verifyKey } from "discord-interactions";
import Stripe from "stripe";

const [scheme, secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString("utf8");

let headers;
if (scheme === "verify-linear") {
  // verify() checks the signature first, then that the body's webhookTimestamp is within a minute
  // of now; only the signature is asked about here (the tests also send stale requests).
  let accepted;
  try {
    accepted = new LinearWebhookClient(secret).verify(Buffer.from(payload), timestamp);
  } catch (error) {
    accepted = !String(error.message).includes("signature");
  }
  console.log(JSON.stringify(accepted));
  process.exit(0);
} else if (scheme === "verify-discord") {
  const [signature, signedAt] = process.argv.slice(4);
  console.log(JSON.stringify(await verifyKey(payload, signature, signedAt, secret)));
  process.exit(0);
} else if (scheme === "stripe") {
  // The API key is never used: generateTestHeaderString only signs locally.
  const stripe = new Stripe("sk_test_unused");
  const header = stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    timestamp: timestamp ? Number(timestamp) : undefined,
  });
  headers = { "Stripe-Signature": header };
} else if (scheme === "github") {
  headers = { "X-Hub-Signature-256": await githubSign(secret, payload) };
} else {
  console.error(`sign.mjs: unknown scheme ${scheme} (stripe or github)`);
  process.exit(2);
}
console.log(JSON.stringify(headers));
