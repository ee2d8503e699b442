// Drives Segment's official Node.js client (@segment/analytics-node) against
// the segmenttest emulator for every call the segment destination makes
// (identify and track through POST /v1/batch) and fails when the client
// reports a delivery error. Run by conformance_test.go with SEGMENT_HOST
// and SEGMENT_WRITE_KEY set; the Go test then asserts the emulator's state.
import assert from "node:assert/strict";
import { Analytics } from "@segment/analytics-node";

const host = process.env.SEGMENT_HOST;
const analytics = new Analytics({ writeKey: process.env.SEGMENT_WRITE_KEY, host, flushAt: 10, maxRetries: 0 });

// sent resolves when the client has delivered the call, rejects when it failed.
const sent = (call, msg) =>
  new Promise((resolve, reject) => analytics[call](msg, (err, ctx) => (err ? reject(err) : resolve(ctx))));

const calls = [
  sent("identify", { userId: "u1", traits: { email: "ann@example.com", plan: "pro", logins: 5 }, messageId: "m-1" }),
  sent("identify", { userId: "u2", traits: { email: "bob@example.com", deleted: true }, timestamp: new Date("2026-03-01T12:00:00Z") }),
  sent("track", { userId: "u1", event: "Order Completed", properties: { total: 42.5, currency: "EUR" } }),
  // A retry of m-1: Segment deduplicates by messageId.
  sent("identify", { userId: "u1", traits: { plan: "enterprise" }, messageId: "m-1" }),
];
await analytics.closeAndFlush();
const ctxs = await Promise.all(calls);
assert.ok(ctxs.every((c) => c.event.messageId), "every call carries a messageId");

// A wrong write key: the emulator refuses the batch, the client reports it.
const wrong = new Analytics({ writeKey: "wrong", host, maxRetries: 0 });
const refused = new Promise((resolve) => wrong.on("error", resolve));
wrong.identify({ userId: "u3", traits: { email: "cy@example.com" } });
await wrong.closeAndFlush();
const err = await refused;
assert.match(String(err.reason ?? err), /401/);
console.log("ok");
