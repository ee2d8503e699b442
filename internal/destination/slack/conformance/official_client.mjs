// Drives Slack's official Node.js client (@slack/web-api) against the
// slacktest emulator for the call the slack destination makes
// (chat.postMessage, and conversations.list for the catalog) and the answers
// it handles: success, channel_not_found, invalid_auth, ratelimited, cursor
// pages and missing_scope. Run by conformance_test.go with SLACK_API_URL,
// SLACK_TOKEN and SLACK_API_URL_NO_SCOPE (an emulator whose token lacks
// channels:read and groups:read) set; the Go test then asserts the
// emulator's state.
import assert from "node:assert/strict";
import { WebClient, ErrorCode } from "@slack/web-api";

const slackApiUrl = process.env.SLACK_API_URL;
const options = { slackApiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
const client = new WebClient(process.env.SLACK_TOKEN, options);

// Success, by channel ID and by #name, with text and with blocks.
const first = await client.chat.postMessage({ channel: "C0GENERAL", text: "New signup: ann@example.com" });
assert.equal(first.ok, true);
assert.equal(first.channel, "C0GENERAL");
assert.match(first.ts, /^\d+\.\d{6}$/);
const second = await client.chat.postMessage({
  channel: "#alerts",
  text: "Plan change",
  blocks: [{ type: "section", text: { type: "mrkdwn", text: "*bob* moved to pro" } }],
});
assert.equal(second.channel, "C0ALERTS");
assert.equal(second.message.blocks.length, 1);

// A second message to the same channel within the second: ratelimited, 429.
await assert.rejects(client.chat.postMessage({ channel: "C0GENERAL", text: "too soon" }), (err) => {
  assert.equal(err.code, ErrorCode.RateLimitedError);
  assert.equal(err.retryAfter, 1);
  return true;
});

// An unknown channel: HTTP 200 with ok false.
await assert.rejects(client.chat.postMessage({ channel: "#nowhere", text: "lost" }), (err) => {
  assert.equal(err.code, ErrorCode.PlatformError);
  assert.equal(err.data.error, "channel_not_found");
  return true;
});

// A wrong token.
const wrong = new WebClient("xoxb-wrong", options);
await assert.rejects(wrong.chat.postMessage({ channel: "C0GENERAL", text: "nope" }), (err) => {
  assert.equal(err.code, ErrorCode.PlatformError);
  assert.equal(err.data.error, "invalid_auth");
  return true;
});
// conversations.list: one page per call, chained by next_cursor; the
// archived channel is left out, the private one listed.
const seen = [];
let cursor;
let pages = 0;
do {
  const page = await client.conversations.list({
    types: "public_channel,private_channel", exclude_archived: true, limit: 2, cursor,
  });
  assert.equal(page.ok, true);
  pages++;
  for (const ch of page.channels) {
    assert.equal(ch.is_archived, false);
    seen.push(`${ch.id}:${ch.name}:${ch.is_private}:${ch.is_member}`);
  }
  cursor = page.response_metadata?.next_cursor;
} while (cursor);
assert.equal(pages, 2);
assert.deepEqual(seen, ["C0ALERTS:alerts:false:true", "C0GENERAL:general:false:true", "G0SECRET:secret:true:true"]);

// The client's own paginator follows the same cursors.
const paged = [];
for await (const page of client.paginate("conversations.list", { types: "public_channel,private_channel", exclude_archived: true, limit: 1 })) {
  paged.push(...page.channels.map((ch) => ch.id));
}
assert.deepEqual(paged, ["C0ALERTS", "C0GENERAL", "G0SECRET"]);

// A wrong token, and a token without the listing scopes.
await assert.rejects(wrong.conversations.list({ types: "public_channel" }), (err) => {
  assert.equal(err.code, ErrorCode.PlatformError);
  assert.equal(err.data.error, "invalid_auth");
  return true;
});
const unscoped = new WebClient(process.env.SLACK_TOKEN, { ...options, slackApiUrl: process.env.SLACK_API_URL_NO_SCOPE });
await assert.rejects(unscoped.conversations.list({ types: "public_channel,private_channel" }), (err) => {
  assert.equal(err.code, ErrorCode.PlatformError);
  assert.equal(err.data.error, "missing_scope");
  assert.equal(err.data.needed, "channels:read,groups:read");
  assert.equal(err.data.provided, "chat:write");
  return true;
});
console.log("ok");
