// Drives the official intercom-client package (the Fern-generated SDK,
// pinned in package-lock.json) against the intercomtest emulator for every
// call the intercom destination makes: contacts.search on external_id and
// email, contacts.create (user and lead), contacts.update by id,
// contacts.archive, the catalog's dataAttributes.list (GET
// /data_attributes?model=contact), and the errors the destination maps (409 conflict,
// 400 invalid value, 404 unknown contact, 401 wrong token). Run by
// conformance_test.go with INTERCOM_URL and INTERCOM_TOKEN set.
import assert from "node:assert/strict";
import pkg from "intercom-client";

const { IntercomClient, Intercom, IntercomError } = pkg;
const { INTERCOM_URL, INTERCOM_TOKEN } = process.env;
const opts = { token: INTERCOM_TOKEN, baseUrl: INTERCOM_URL, version: "2.11", maxRetries: 0 };
const client = new IntercomClient(opts);

async function find(field, value) {
  const page = await client.contacts.search({
    query: { field, operator: "=", value },
    pagination: { per_page: 1 },
  });
  return page.data;
}

assert.deepEqual(await find("external_id", "ann"), []);
const ann = await client.contacts.create({
  role: "user", external_id: "ann", email: "ann@example.com", name: "Ann",
  custom_attributes: { plan: "pro", seats: 3 },
});
assert.equal(ann.type, "contact");
assert.equal(ann.role, "user");
assert.equal(ann.external_id, "ann");

const found = await find("external_id", "ann");
assert.equal(found.length, 1);
assert.equal(found[0].id, ann.id);
assert.equal((await find("email", "ann@example.com"))[0].id, ann.id);

const updated = await client.contacts.update({ contact_id: ann.id, name: "Anna", custom_attributes: { seats: 4 } });
assert.equal(updated.name, "Anna");
assert.deepEqual(updated.custom_attributes, { plan: "pro", seats: 4 });

const lead = await client.contacts.create({ role: "lead", external_id: "lee", name: "Lee" });
assert.equal(lead.role, "lead");
const bob = await client.contacts.create({ role: "user", external_id: "bob", name: "Bob" });
const archived = await client.contacts.archive({ contact_id: bob.id });
assert.equal(archived.archived, true);
assert.deepEqual(await find("external_id", "bob"), []);

async function refused(call, status, pattern) {
  try {
    await call();
    assert.fail(`expected ${status}`);
  } catch (e) {
    assert.ok(e instanceof IntercomError, `${e}`);
    assert.equal(e.statusCode, status);
    assert.equal(e.body.type, "error.list");
    assert.match(e.body.errors[0].message, pattern);
    return e;
  }
}

await refused(() => client.contacts.create({ role: "user", external_id: "ann", name: "Twin" }), 409, /already exists/);
await refused(() => client.contacts.update({ contact_id: ann.id, custom_attributes: { bio: "x".repeat(256) } }), 400, /longer than 255/);
await refused(() => client.contacts.update({ contact_id: "nope", name: "N" }), 404, /Not Found/);

// The catalog reads the contact data attributes: standard ones by name,
// custom ones under custom_attributes., archived ones only when asked.
const attrs = await client.dataAttributes.list({ model: "contact" });
assert.equal(attrs.type, "list");
const byName = Object.fromEntries(attrs.data.map((a) => [a.full_name, a]));
assert.equal(byName.email.data_type, "string");
assert.equal(byName.email.api_writable, true);
assert.equal(byName.created_at.api_writable, false);
assert.equal(byName["custom_attributes.plan"].custom, true);
assert.equal(byName["location_data.city_name"].name, "city_name");
assert.equal(byName["custom_attributes.legacy_score"], undefined);
const all = await client.dataAttributes.list({ model: "contact", include_archived: true });
assert.equal(all.data.find((a) => a.name === "legacy_score").archived, true);
assert.deepEqual((await client.dataAttributes.list({ model: "company" })).data, []);

const wrong = new IntercomClient({ ...opts, token: "wrong" });
await refused(() => wrong.dataAttributes.list({ model: "contact" }), 401, /Access Token Invalid/);
const denied = await refused(() => wrong.contacts.create({ role: "user", external_id: "z" }), 401, /Access Token Invalid/);
assert.ok(denied instanceof Intercom.UnauthorizedError);

console.log("ok");
