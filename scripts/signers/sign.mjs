// Signs the body read from stdin with a provider's own SDK and prints the headers as JSON.
// Usage: node sign.mjs stripe|github SECRET [UNIX_TIMESTAMP] < body
import { sign as githubSign } from "@octokit/webhooks-methods";
import Stripe from "stripe";

const [scheme, secret, timestamp] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const payload = Buffer.concat(chunks).toString("utf8");

let headers;
if (scheme === "stripe") {
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
