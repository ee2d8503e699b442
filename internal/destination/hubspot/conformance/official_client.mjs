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

// The catalog: the schemas API lists the custom objects, the properties
// API an object's properties (by name, object type id or fully
// qualified name).
const schemas = await client.crm.schemas.coreApi.getAll();
assert.equal(schemas.results.length, 1);
const inv = schemas.results[0];
assert.equal(inv.objectTypeId, "2-424242");
assert.equal(inv.fullyQualifiedName, "p7878787_invoices");
assert.equal(inv.labels.plural, "Invoices");
assert.ok(inv.properties.some((p) => p.name === "invoice_number" && p.hasUniqueValue));
for (const objectType of ["contacts", "0-1"]) {
  const props = await client.crm.properties.coreApi.getAll(objectType);
  const email = props.results.find((p) => p.name === "email");
  assert.ok(email && email.hasUniqueValue && email.modificationMetadata.readOnlyValue === false);
}
const invProps = await client.crm.properties.coreApi.getAll(inv.fullyQualifiedName);
assert.ok(invProps.results.some((p) => p.name === "amount" && p.type === "number"));

const revoked = new hubspot.Client({ accessToken: "wrong", basePath: process.env.HUBSPOT_BASE_URL });
try {
  await revoked.crm.contacts.batchApi.create({ inputs: [{ properties: { email: "z@example.com" }, associations: [] }] });
  assert.fail("a wrong token was accepted");
} catch (e) {
  assert.equal(e.code, 401);
  assert.equal(e.body.category, "INVALID_AUTHENTICATION");
}
console.log("ok");
