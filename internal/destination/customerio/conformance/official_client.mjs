// Drives the official customerio-node client (TrackClient) against the
// customeriotest emulator for the calls it makes: identify (PUT
// /api/v1/customers/{id}) and destroy (DELETE /api/v1/customers/{id}).
// The client has no v2 batch call, so the /api/v2/batch request the
// customerio destination sends is checked here as raw HTTPS, shaped as
// Customer.io's Track API v2 reference describes it. The client only
// speaks HTTPS and passes its defaults to https.request, so the port and
// the emulator's self-signed certificate go in as defaults. Run by
// conformance_test.go with CIO_URL, CIO_PORT, CIO_CA, CIO_SITE_ID and
// CIO_API_KEY set.
import assert from "node:assert/strict";
import { request } from "node:https";
import { TrackClient, CustomerIORequestError } from "customerio-node";

const { CIO_URL, CIO_PORT, CIO_CA, CIO_SITE_ID, CIO_API_KEY } = process.env;
const defaults = { url: `${CIO_URL}/api/v1`, port: Number(CIO_PORT), ca: CIO_CA };
const cio = new TrackClient(CIO_SITE_ID, CIO_API_KEY, defaults);

assert.deepEqual(await cio.identify("ann", { email: "ann@example.com", first_name: "Ann" }), {});
assert.deepEqual(await cio.identify("bob", { first_name: "Bob" }), {});
assert.deepEqual(await cio.identify("ann", { first_name: "Anna" }), {});

try {
  await cio.identify("cy", { bio: "x".repeat(1001) });
  assert.fail("a 1001-byte attribute value was accepted");
} catch (e) {
  assert.ok(e instanceof CustomerIORequestError);
  assert.equal(e.statusCode, 400);
  assert.match(e.message, /cannot be longer than 1000 bytes/);
}

assert.deepEqual(await cio.destroy("bob"), {});
assert.deepEqual(await cio.destroy("never-existed"), {});

const wrong = new TrackClient(CIO_SITE_ID, "wrong", defaults);
try {
  await wrong.identify("z", { first_name: "Z" });
  assert.fail("a wrong key was accepted");
} catch (e) {
  assert.equal(e.statusCode, 401);
  assert.equal(e.message, "Unauthorized request");
}

// The v2 batch call the destination makes, as raw HTTPS with the same
// Basic auth the client sends.
function batch(body, key = CIO_API_KEY) {
  const data = JSON.stringify(body);
  const url = new URL(`${CIO_URL}/api/v2/batch`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method: "POST", hostname: url.hostname, port: url.port, path: url.pathname, ca: CIO_CA,
        headers: {
          Authorization: `Basic ${Buffer.from(`${CIO_SITE_ID}:${key}`).toString("base64")}`,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode, body: text ? JSON.parse(text) : {} });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

const ok = await batch({
  batch: [
    { type: "person", identifiers: { id: "dee" }, action: "identify", attributes: { first_name: "Dee" } },
    { type: "person", identifiers: { email: "eve@example.com" }, action: "identify", attributes: { first_name: "Eve" } },
    { type: "person", identifiers: { email: "eve@example.com" }, action: "delete" },
  ],
});
assert.equal(ok.status, 200);

const partial = await batch({
  batch: [
    { type: "person", identifiers: { id: "fay" }, action: "identify", attributes: { first_name: "Fay" } },
    { type: "person", identifiers: { id: "" }, action: "identify", attributes: { first_name: "Nobody" } },
    { type: "person", identifiers: { id: "gil" }, action: "identify", attributes: { bio: "y".repeat(1001) } },
  ],
});
assert.equal(partial.status, 207);
assert.deepEqual(partial.body.errors.map((e) => e.batch_index), [1, 2]);
assert.equal(partial.body.errors[0].field, "identifiers.id");

const empty = await batch({ batch: [] });
assert.equal(empty.status, 400);
const tooBig = await batch({ batch: [{ type: "person", identifiers: { id: "h" }, action: "identify", attributes: { blob: "z".repeat(600000) } }] });
assert.equal(tooBig.status, 413);
const denied = await batch({ batch: [{ type: "person", identifiers: { id: "dee" }, action: "delete" }] }, "wrong");
assert.equal(denied.status, 401);
assert.equal(denied.body.meta.error, "Unauthorized request");

console.log("ok");
