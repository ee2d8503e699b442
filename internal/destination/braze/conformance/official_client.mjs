// Drives the braze-api Node.js client against the brazetest emulator for
// every call the braze destination makes (/users/track and /users/delete),
// and fails when a response does not match what the client and Braze's
// reference promise. braze-api has no method for the catalog's "Export
// custom attributes" (GET /custom_attributes), so that call is made with
// fetch, as Braze's reference describes it: 50 attributes a page, the
// next page's cursor in the Link header. Run by conformance_test.go with BRAZE_BASE_URL and
// BRAZE_API_KEY set.
import assert from "node:assert/strict";
import { Braze } from "braze-api";

const braze = new Braze(process.env.BRAZE_BASE_URL, process.env.BRAZE_API_KEY);

const created = await braze.users.track({
  attributes: [
    { external_id: "ann", first_name: "Ann", email: "ann@example.com" },
    { external_id: "bob", first_name: "Bob" },
  ],
});
assert.equal(created.message, "success");
assert.equal(created.attributes_processed, 2);
assert.equal(created.errors, undefined);

const partial = await braze.users.track({
  attributes: [
    { external_id: "ann", first_name: "Anna" },
    { external_id: "bad", dob: "31/12/1990" },
    { email: "cy@example.com", first_name: "Cy" },
    { user_alias: { alias_name: "c-9", alias_label: "crm_id" }, _update_existing_only: false, first_name: "Dee" },
  ],
});
assert.equal(partial.message, "success");
assert.equal(partial.attributes_processed, 3);
assert.equal(partial.errors.length, 1);
assert.equal(partial.errors[0].input_array, "attributes");
assert.equal(partial.errors[0].index, 1);
assert.equal(typeof partial.errors[0].type, "string");

const updateOnly = await braze.users.track({
  attributes: [{ external_id: "nobody", first_name: "No", _update_existing_only: true }],
});
assert.equal(updateOnly.message, "success");

try {
  await braze.users.track({ attributes: [{ external_id: "x", gender: "X" }] });
  assert.fail("an object with an invalid gender was accepted");
} catch (e) {
  assert.equal(e.status, 400);
  assert.match(e.message, /Valid data must be provided/);
  assert.equal(e.errors[0].index, 0);
}

try {
  await braze.users.track({ attributes: Array.from({ length: 76 }, (_, i) => ({ external_id: `u${i}` })) });
  assert.fail("76 attributes objects were accepted");
} catch (e) {
  assert.equal(e.status, 400);
}

const deleted = await braze.users.delete({ external_ids: ["bob", "never"] });
assert.equal(deleted.message, "success");
assert.equal(deleted.deleted, 1);
const byEmail = await braze.users.delete({ email_addresses: ["cy@example.com"] });
assert.equal(byEmail.deleted, 1);
const byAlias = await braze.users.delete({ user_aliases: [{ alias_name: "c-9", alias_label: "crm_id" }] });
assert.equal(byAlias.deleted, 1);

const revoked = new Braze(process.env.BRAZE_BASE_URL, "wrong");
try {
  await revoked.users.track({ attributes: [{ external_id: "z" }] });
  assert.fail("a wrong key was accepted");
} catch (e) {
  assert.equal(e.status, 401);
  assert.match(e.message, /Invalid API key/);
}
// Export custom attributes, raw HTTP: the client has no method for it.
const auth = { Authorization: `Bearer ${process.env.BRAZE_API_KEY}` };
let res = await fetch(`${process.env.BRAZE_BASE_URL}/custom_attributes`, { headers: auth });
assert.equal(res.status, 200);
let page = await res.json();
assert.equal(page.message, "success");
assert.equal(page.attributes.length, 50);
assert.deepEqual(Object.keys(page.attributes[0]).sort(), ["array_length", "data_type", "description", "name", "status", "tag_names"]);
assert.deepEqual(page.attributes[0], { name: "attr_00", data_type: "Number", status: "Active", description: "seeded", array_length: null, tag_names: [] });
const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link"));
assert.ok(next, `no rel="next" link in ${res.headers.get("link")}`);
res = await fetch(new URL(next[1], process.env.BRAZE_BASE_URL), { headers: auth });
page = await res.json();
assert.equal(page.attributes.length, 10);
assert.equal(page.attributes[9].name, "attr_59");
assert.match(res.headers.get("link"), /rel="prev"/);
assert.doesNotMatch(res.headers.get("link"), /rel="next"/);
res = await fetch(`${process.env.BRAZE_BASE_URL}/custom_attributes`, { headers: { Authorization: "Bearer wrong" } });
assert.equal(res.status, 401);

console.log("ok");
