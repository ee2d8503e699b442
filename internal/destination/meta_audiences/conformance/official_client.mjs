// Drives Meta's official Node.js Business SDK against the Custom Audiences
// emulator: every call the meta_audiences destination makes (add users,
// remove users) and the invalid-token answer. The SDK has no host setting:
// its graph URL is a static getter, redefined here to reach the emulator.
import crypto from 'node:crypto';
import bizSdk from 'facebook-nodejs-business-sdk';

const { FacebookAdsApi, CustomAudience } = bizSdk;
const url = process.env.META_BASE_URL;
const token = process.env.META_TOKEN;
const audience = process.env.META_AUDIENCE;
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

// An invalid token is Graph error 190.
FacebookAdsApi.init('EAAwrong');
try {
  await new CustomAudience(audience).createUser([], { payload: { schema: ['EMAIL'], data: [[sha('x@example.com')]] } });
  fail('a wrong token was accepted');
} catch (e) {
  const code = e?.response?.code ?? e?.response?.error?.code;
  if (code !== 190) fail('wrong token: want error code 190, got ' + JSON.stringify(e?.response ?? e?.message));
}
console.log('ok');
