// Drives Meta's official Node.js Business SDK against the Custom Audiences
// emulator: every call the meta_audiences destination makes (add users,
// remove users), the catalog's listing of the ad account's custom audiences
// (AdAccount.getCustomAudiences, paged with the SDK's Cursor) and the
// invalid-token answer. The SDK has no host setting:
// its graph URL is a static getter, redefined here to reach the emulator.
import crypto from 'node:crypto';
import bizSdk from 'facebook-nodejs-business-sdk';

const { FacebookAdsApi, AdAccount, CustomAudience } = bizSdk;
const url = process.env.META_BASE_URL;
const token = process.env.META_TOKEN;
const audience = process.env.META_AUDIENCE;
const account = process.env.META_AD_ACCOUNT;
Object.defineProperty(FacebookAdsApi, 'GRAPH', { get: () => url, configurable: true });

const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const fail = (msg) => { console.error(msg); process.exit(1); };

FacebookAdsApi.init(token);
const aud = new CustomAudience(audience);

// Add two members (hashed emails) and one entry the API refuses.
const added = await aud.createUser([], {
  payload: { schema: ['EMAIL'], data: [[sha('ann@example.com')], [sha('bob@example.com')], ['not-a-hash']] },
});
const a = added._data ?? added;
if (a.num_received !== 3 || a.num_invalid_entries !== 1 || !a.session_id) {
  fail('add users: unexpected response ' + JSON.stringify(a));
}

// Remove one member.
const removed = await aud.deleteUsers({ payload: { schema: ['EMAIL'], data: [[sha('bob@example.com')]] } });
const r = removed._data ?? removed;
if (r.num_received !== 1) fail('remove users: unexpected response ' + JSON.stringify(r));

// List the ad account's custom audiences two at a time; the SDK's cursor
// follows paging.next.
const cursor = await new AdAccount('act_' + account).getCustomAudiences(['id', 'name', 'subtype'], { limit: 2 });
const listed = [];
let pages = 1;
for (;;) {
  for (const a of cursor) listed.push(`${a.id}:${a.name}:${a.subtype}`);
  if (!cursor.hasNext()) break;
  await cursor.next();
  pages++;
}
const wantListed = process.env.META_WANT_AUDIENCES;
if (listed.join(',') !== wantListed || pages !== 2) {
  fail(`custom audiences: got ${pages} pages ${listed.join(',')}, want 2 pages ${wantListed}`);
}
try {
  await new AdAccount('act_999').getCustomAudiences(['id']);
  fail('an unknown ad account was listed');
} catch (e) {
  const code = e?.response?.code ?? e?.response?.error?.code;
  if (code !== 100) fail('unknown ad account: want error code 100, got ' + JSON.stringify(e?.response ?? e?.message));
}

// An invalid token is Graph error 190.
FacebookAdsApi.init('EAAwrong');
try {
  await new AdAccount('act_' + account).getCustomAudiences(['id']);
  fail('a wrong token listed audiences');
} catch (e) {
  const code = e?.response?.code ?? e?.response?.error?.code;
  if (code !== 190) fail('list with a wrong token: want error code 190, got ' + JSON.stringify(e?.response ?? e?.message));
}
try {
  await new CustomAudience(audience).createUser([], { payload: { schema: ['EMAIL'], data: [[sha('x@example.com')]] } });
  fail('a wrong token was accepted');
} catch (e) {
  const code = e?.response?.code ?? e?.response?.error?.code;
  if (code !== 190) fail('wrong token: want error code 190, got ' + JSON.stringify(e?.response ?? e?.message));
}
console.log('ok');
