// Drives the official @mailchimp/mailchimp_marketing client against the
// mailchimptest emulator for every call the mailchimp destination makes:
// batch subscribe (lists.batchListMembers, POST /3.0/lists/{list_id}) and
// archive (lists.deleteListMember, DELETE
// /3.0/lists/{list_id}/members/{subscriber_hash}), the catalog's audience
// listing (lists.getAllLists, GET /3.0/lists) and merge fields
// (lists.getListMergeFields, GET /3.0/lists/{list_id}/merge-fields), plus getListMember and
// ping to read the end state back. The client builds its URLs from
// basePath (https://server.api.mailchimp.com/3.0, with "server" replaced by
// setConfig's server), so the emulator is reached by setting the exported
// ApiClient instance's basePath to the emulator's root plus /3.0; setConfig
// still supplies the API key, which the client sends as Basic auth. Run by
// conformance_test.go with MC_URL, MC_API_KEY and MC_LIST set.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import mailchimp from "@mailchimp/mailchimp_marketing";

const { MC_URL, MC_API_KEY, MC_LIST } = process.env;
const hash = (email) => createHash("md5").update(email.toLowerCase()).digest("hex");

mailchimp.setConfig({ apiKey: MC_API_KEY, server: MC_API_KEY.split("-").pop() });
mailchimp.basePath = `${MC_URL}/3.0`;

assert.deepEqual(await mailchimp.ping.get(), { health_status: "Everything's Chimpy!" });

let res = await mailchimp.lists.batchListMembers(MC_LIST, {
  members: [
    { email_address: "ann@example.com", status_if_new: "subscribed", merge_fields: { FNAME: "Ann" }, tags: ["vip"] },
    { email_address: "bob@example.com", status_if_new: "subscribed", merge_fields: { FNAME: "Bob" } },
    { email_address: "not-an-email", status_if_new: "subscribed", merge_fields: { FNAME: "X" } },
  ],
  update_existing: true,
});
assert.equal(res.total_created, 2);
assert.equal(res.total_updated, 0);
assert.equal(res.error_count, 1);
assert.equal(res.errors[0].email_address, "not-an-email");
assert.match(res.errors[0].error, /looks fake or invalid/);
assert.deepEqual(res.new_members.map((m) => m.id), [hash("ann@example.com"), hash("bob@example.com")]);

res = await mailchimp.lists.batchListMembers(MC_LIST, {
  members: [{ email_address: "ANN@example.com", status: "unsubscribed", merge_fields: { FNAME: "Anna" } }],
  update_existing: true,
});
assert.equal(res.total_updated, 1);
assert.equal(res.updated_members[0].status, "unsubscribed");

// Without update_existing an existing member is refused, by email.
res = await mailchimp.lists.batchListMembers(MC_LIST, {
  members: [{ email_address: "bob@example.com", status_if_new: "subscribed" }],
});
assert.equal(res.errors[0].error_code, "ERROR_CONTACT_EXISTS");

// Archive: 204 with no body, then the member reads back archived; a second
// archive is a 404.
await mailchimp.lists.deleteListMember(MC_LIST, hash("bob@example.com"));
const bob = await mailchimp.lists.getListMember(MC_LIST, hash("bob@example.com"));
assert.equal(bob.status, "archived");
await assert.rejects(mailchimp.lists.deleteListMember(MC_LIST, hash("bob@example.com")), (e) => e.status === 404);

const ann = await mailchimp.lists.getListMember(MC_LIST, hash("ann@example.com"));
assert.equal(ann.merge_fields.FNAME, "Anna");
assert.deepEqual(ann.tags.map((t) => t.name), ["vip"]);

// More than 500 members: the whole call is refused with a 400.
const many = Array.from({ length: 501 }, (_, i) => ({ email_address: `u${i}@example.com`, status_if_new: "subscribed" }));
await assert.rejects(mailchimp.lists.batchListMembers(MC_LIST, { members: many, update_existing: true }), (e) => e.status === 400);

// The catalog: audiences by id and name, and merge fields paged by count
// and offset.
const lists = await mailchimp.lists.getAllLists({ count: 1000, offset: 0 });
assert.equal(lists.total_items, 1);
assert.deepEqual(lists.lists.map((l) => [l.id, l.name]), [[MC_LIST, "Riptide Newsletter"]]);
let fields = await mailchimp.lists.getListMergeFields(MC_LIST, { count: 4, offset: 0 });
assert.equal(fields.total_items, 6);
assert.deepEqual(fields.merge_fields.map((f) => f.tag), ["FNAME", "LNAME", "ADDRESS", "PHONE"]);
fields = await mailchimp.lists.getListMergeFields(MC_LIST, { count: 4, offset: 4 });
assert.deepEqual(fields.merge_fields.map((f) => [f.tag, f.type]), [["BIRTHDAY", "birthday"], ["PLAN", "text"]]);
await assert.rejects(mailchimp.lists.getListMergeFields("nosuchlist"), (e) => e.status === 404);

// An unknown list is a 404; a wrong key is a 401.
await assert.rejects(mailchimp.lists.batchListMembers("nosuchlist", { members: [] }), (e) => e.status === 404);
mailchimp.setConfig({ apiKey: "wrong-emul1", server: "emul1" });
await assert.rejects(mailchimp.ping.get(), (e) => e.status === 401 && /API Key Invalid/.test(e.response.text));
await assert.rejects(mailchimp.lists.getAllLists(), (e) => e.status === 401);

console.log("ok");
