// Drives the official @iterable/api client (IterableClient) against the
// iterabletest emulator for every call the iterable destination makes:
// bulkUpdateUsers (POST /api/users/bulkUpdate), deleteUserByEmail and
// deleteUserByUserId (DELETE /api/users/{email}, /api/users/byUserId/{id}),
// subscribeUserToList and unsubscribeUserFromList (POST
// /api/lists/subscribe, /api/lists/unsubscribe), and the catalog's
// getLists (GET /api/lists) and getUserFields (GET /api/users/getFields).
// The client validates each
// answer against its response schemas, so a wrongly shaped answer fails
// here. Run by conformance_test.go with ITERABLE_URL, ITERABLE_KEY and
// LIST_ID set.
import assert from "node:assert/strict";
import { IterableClient } from "@iterable/api";

const { ITERABLE_URL, ITERABLE_KEY, LIST_ID } = process.env;
const listId = Number(LIST_ID);
const client = new IterableClient({ apiKey: ITERABLE_KEY, baseUrl: ITERABLE_URL });

const ok = await client.bulkUpdateUsers({
  users: [
    { email: "ann@example.com", dataFields: { firstName: "Ann" } },
    { email: "bob@example.com", dataFields: { firstName: "Bob" } },
    { userId: "u-1", preferUserId: true, dataFields: { firstName: "Uno" } },
  ],
});
assert.equal(ok.successCount, 3);

// The catalog lists the project's lists (id, name, listType, createdAt)
// and reads its user fields.
const { lists } = await client.getLists();
assert.deepEqual(lists.map((l) => [l.id, l.name, l.listType]), [[listId, "Newsletter", "Standard"], [7, "Engaged", "Dynamic"]]);
assert.ok(Number.isInteger(lists[0].createdAt));
const { fields } = await client.getUserFields();
assert.equal(fields.email, "string");
assert.equal(fields.firstName, "string");
assert.equal(ok.failCount, 0);

const partial = await client.bulkUpdateUsers({
  users: [
    { email: "ann@example.com", dataFields: { firstName: "Anna" } },
    { email: "not-an-email", dataFields: { firstName: "No" } },
  ],
});
assert.equal(partial.successCount, 1);
assert.equal(partial.failCount, 1);
assert.deepEqual(partial.failedUpdates.invalidEmails, ["not-an-email"]);

const sub = await client.subscribeUserToList({
  listId,
  subscribers: [{ email: "ann@example.com" }, { email: "bob@example.com" }, { email: "cy@example.com" }],
});
assert.equal(sub.successCount, 3);
const unsub = await client.unsubscribeUserFromList({
  listId,
  subscribers: [{ email: "cy@example.com" }, { email: "nobody@example.com" }],
});
assert.equal(unsub.successCount, 1);
// The client's response schema keeps only invalid*/failed* lists of
// failedUpdates and strips notFoundEmails, so the count is what it shows.
assert.equal(unsub.failCount, 1);

assert.equal((await client.deleteUserByEmail({ email: "bob@example.com" })).code, "Success");
assert.equal((await client.deleteUserByUserId({ userId: "u-1" })).code, "Success");
await assert.rejects(client.deleteUserByEmail({ email: "bob@example.com" }), (e) => e.statusCode === 404);

await assert.rejects(
  client.subscribeUserToList({ listId: 999999, subscribers: [{ email: "ann@example.com" }] }),
  (e) => e.statusCode === 400 && e.code === "BadParams",
);

await assert.rejects(
  client.subscribeUserToList({ listId: 7, subscribers: [{ email: "ann@example.com" }] }),
  (e) => e.statusCode === 400 && e.code === "BadParams",
);

const wrong = new IterableClient({ apiKey: "wrong", baseUrl: ITERABLE_URL });
await assert.rejects(wrong.getLists(), (e) => e.statusCode === 401);
await assert.rejects(wrong.bulkUpdateUsers({ users: [{ email: "z@example.com" }] }), (e) => e.statusCode === 401);

client.destroy();
wrong.destroy();
console.log("ok");
