// Drives Slack's official Node.js client (@slack/web-api) against the
// slacktest emulator for the call the slack destination makes
// (chat.postMessage) and the answers it handles: success, channel_not_found,
// invalid_auth and ratelimited. Run by conformance_test.go with SLACK_API_URL
// and SLACK_TOKEN set; the Go test then asserts the emulator's state.
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
console.log("ok");
