// Drives HubSpot's official Node.js client against the hubspottest
// emulator for every call the hubspot destination makes, and fails when a
// response does not parse into the client's models. Run by
// conformance_test.go with HUBSPOT_BASE_URL and HUBSPOT_TOKEN set.
import assert from "node:assert/strict";
import hubspot from "@hubspot/api-client";

const client = new hubspot.Client({
  accessToken: process.env.HUBSPOT_TOKEN,
  basePath: process.env.HUBSPOT_BASE_URL,
});
const batch = client.crm.contacts.batchApi;

const up = await batch.upsert({
  inputs: [
    { id: "ann@example.com", idProperty: "email", properties: { firstname: "Ann" } },
    { id: "bob@example.com", idProperty: "email", properties: { firstname: "Bob" } },
  ],
});
assert.equal(up.results.length, 2);
assert.ok(up.results.every((r) => r._new === true && r.id && r.createdAt instanceof Date));

const partial = await batch.upsert({
  inputs: [
    { id: "ann@example.com", idProperty: "email", properties: { firstname: "Anna" } },
    { id: "not-an-email", idProperty: "email", properties: { firstname: "X" } },
  ],
});
assert.equal(partial.numErrors, 1);
assert.equal(partial.errors[0].category, "VALIDATION_ERROR");
assert.deepEqual(partial.errors[0].context.ids, ["not-an-email"]);
assert.equal(partial.results[0]._new, false);

const upd = await batch.update({
  inputs: [{ id: "bob@example.com", idProperty: "email", properties: { lastname: "Builder" } }],
});
assert.equal(upd.results[0].properties.lastname, "Builder");

const created = await batch.create({ inputs: [{ properties: { email: "cy@example.com", firstname: "Cy" }, associations: [] }] });
assert.equal(created.results[0].properties.email, "cy@example.com");

const read = await batch.read({ idProperty: "email", properties: ["email"], propertiesWithHistory: [], inputs: [{ id: "cy@example.com" }] });
assert.equal(read.results.length, 1);
await batch.archive({ inputs: [{ id: read.results[0].id }] });

try {
  await batch.upsert({ inputs: [{ id: "x@example.com", idProperty: "firstname", properties: {} }] });
  assert.fail("a non-unique idProperty was accepted");
} catch (e) {
  assert.equal(e.code, 400);
  assert.equal(e.body.category, "VALIDATION_ERROR");
}

const revoked = new hubspot.Client({ accessToken: "wrong", basePath: process.env.HUBSPOT_BASE_URL });
try {
  await revoked.crm.contacts.batchApi.create({ inputs: [{ properties: { email: "z@example.com" }, associations: [] }] });
  assert.fail("a wrong token was accepted");
} catch (e) {
  assert.equal(e.code, 401);
  assert.equal(e.body.category, "INVALID_AUTHENTICATION");
}
console.log("ok");
