// Drives the jsforce client against the salesforcetest emulator, making
// every call the salesforce destination makes: the token endpoint with
// both grants (refresh_token after an invalid session, client_credentials),
// sObject Collections upsert by external ID, create and delete, and the
// SOQL lookup of record Ids by external ID, Bulk API 2.0 ingest jobs,
// Describe Global and sObject Describe, and the limits resource and
// Sforce-Limit-Info header.
import assert from 'node:assert/strict';
import jsforce from 'jsforce';

const url = process.env.SF_URL;
const oauth2 = { loginUrl: url, clientId: process.env.SF_CLIENT_ID, clientSecret: process.env.SF_CLIENT_SECRET };

// An access token the emulator does not know: the first call answers 401
// INVALID_SESSION_ID and jsforce refreshes with the refresh token.
const conn = new jsforce.Connection({
  oauth2, instanceUrl: url, version: '62.0',
  accessToken: 'expired', refreshToken: process.env.SF_REFRESH_TOKEN,
});

const upserted = await conn.sobject('Contact').upsert([
  { Ext__c: 'ann', LastName: 'Lee', Email: 'ann@example.com' },
  { Ext__c: 'bob', LastName: 'Ray', Email: 'bob@example.com' },
  { Ext__c: 'bad', LastName: 'Bad', Email: 'not-an-email' },
], 'Ext__c');
assert.equal(upserted.length, 3);
assert.ok(upserted[0].success && upserted[0].created && upserted[1].success);
assert.equal(upserted[2].success, false);
assert.equal(upserted[2].errors[0].statusCode, 'INVALID_EMAIL_ADDRESS');
assert.notEqual(conn.accessToken, 'expired', 'jsforce did not refresh the session');

// A second upsert of ann updates (created false).
const again = await conn.sobject('Contact').upsert([{ Ext__c: 'ann', LastName: 'Lee-Smith' }], 'Ext__c');
assert.equal(again[0].created, false);

const created = await conn.sobject('Contact').create([{ LastName: 'Inserted', Ext__c: 'ins' }]);
assert.ok(created[0].success && created[0].id);

const found = await conn.query("SELECT Id, Ext__c FROM Contact WHERE Ext__c IN ('bob','ins','nobody')");
assert.equal(found.totalSize, 2);
const deleted = await conn.sobject('Contact').destroy(found.records.map((r) => r.Id));
assert.ok(deleted.every((r) => r.success));

// The client credentials grant.
const cc = new jsforce.OAuth2(oauth2);
const tok = await cc.requestToken({ grant_type: 'client_credentials' });
assert.ok(tok.access_token && tok.instance_url === url);
const ccConn = new jsforce.Connection({ instanceUrl: tok.instance_url, accessToken: tok.access_token, version: '62.0' });
const rows = await ccConn.query("SELECT Id, LastName FROM Contact WHERE Ext__c = 'ann'");
assert.equal(rows.records[0].LastName, 'Lee-Smith');

// Bulk API 2.0: an upsert job through jsforce's bulk2 client.
conn.bulk2.pollInterval = 10;
const bulk = await conn.bulk2.loadAndWaitForResults({
  object: 'Contact', operation: 'upsert', externalIdFieldName: 'Ext__c', lineEnding: 'LF',
  input: 'Ext__c,LastName,Email\nb1,One,b1@example.com\nb2,Two,not-an-email\n',
});
assert.equal(bulk.successfulResults.length, 1);
assert.equal(bulk.failedResults.length, 1);
assert.equal(bulk.failedResults[0].Ext__c, 'b2');
assert.match(bulk.failedResults[0].sf__Error, /INVALID_EMAIL_ADDRESS/);

// The catalog: Describe Global lists the sObjects, with the createable
// and updateable flags riptide filters on; sObject Describe their fields.
const global = await conn.describeGlobal();
const contact = global.sobjects.find((o) => o.name === 'Contact');
assert.ok(contact && contact.createable && contact.updateable && contact.custom === false && contact.label === 'Contact');
const history = global.sobjects.find((o) => o.name === 'ContactHistory');
assert.ok(history && !history.createable && !history.updateable);
const described = await conn.sobject('Contact').describe();
assert.ok(described.fields.some((f) => f.name === 'Ext__c' && f.externalId));

// The daily allocations: jsforce reads Sforce-Limit-Info into
// conn.limitInfo, and /limits lists DailyApiRequests and
// DailyBulkApiBatches.
const limits = await conn.limits();
assert.ok(limits.DailyApiRequests.Max > 0 && limits.DailyApiRequests.Remaining < limits.DailyApiRequests.Max);
assert.ok(limits.DailyBulkApiBatches.Remaining < limits.DailyBulkApiBatches.Max, 'the bulk job spent no batch');
assert.equal(conn.limitInfo.apiUsage.limit, limits.DailyApiRequests.Max);
assert.equal(conn.limitInfo.apiUsage.used, limits.DailyApiRequests.Max - limits.DailyApiRequests.Remaining);

console.log('ok');
