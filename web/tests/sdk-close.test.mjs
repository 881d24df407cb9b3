// The SDK's verdict on a closed socket (no browser, no server: the module's own logic, fed the
// frames a server sends): a connection lost on its own is resumable; one closed after the
// server said the session ended — as it does when it stops, closing with 1001 — or removed
// the peer is not, so an app does not try to rejoin a meeting that is over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaucusClient } from '../caucus.js';

/** The `closed` detail after these events and a close with `code`. */
function closedAfter(events, code) {
  const client = new CaucusClient({ url: 'ws://127.0.0.1:1/v1/rtc', token: 't' });
  let detail = null;
  client.addEventListener('closed', (e) => { detail = /** @type {CustomEvent} */ (e).detail; });
  for (const ev of events) client.onMessage(JSON.stringify({ type: 'event', event: ev }));
  client.onClose(code, '');
  return detail;
}

test('sdk: a lost connection may be resumed', () => {
  assert.equal(closedAfter([], 1006).resumable, true);
  assert.equal(closedAfter([], 1001).resumable, true, 'a proxy going away: rejoin');
});

test('sdk: after the session ended or a removal, the close is final', () => {
  assert.equal(closedAfter([{ type: 'session_ended', reason: 'the server is shutting down' }], 1001).resumable, false);
  assert.equal(closedAfter([{ type: 'removed', reason: 'bye' }], 1001).resumable, false);
  assert.equal(closedAfter([], 1000).resumable, false);
});
