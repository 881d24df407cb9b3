// Which ICE servers the SDK's RTCPeerConnection gets (no browser: a stand-in peer connection
// records its configuration): the app's own first, then those of the `joined` event, and the
// app's iceTransportPolicy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaucusClient } from '../caucus.js';

/** The configuration the SDK's peer connection is made with, after a `joined` naming `servers`. */
async function configAfterJoined(options, servers) {
  let config = null;
  globalThis.RTCPeerConnection = /** @type {any} */ (class {
    constructor(c) { config = c; throw new Error('stand-in: only the configuration is looked at'); }
  });
  try {
    const client = new CaucusClient({ url: 'ws://127.0.0.1:1/v1/rtc', token: 't', ...options });
    client.onMessage(JSON.stringify({ type: 'event', event: { type: 'joined', peer: {}, peers: [], breakouts: null, ice_servers: servers } }));
    await assert.rejects(client.startMedia(), /stand-in/);
  } finally {
    delete globalThis.RTCPeerConnection;
  }
  return config;
}

const TURN = { urls: ['turn:turn.example.org:3478?transport=udp'], username: '1767225600:ana', credential: 'x' };

test('sdk: the joined event names the ICE servers', async () => {
  const config = await configAfterJoined({}, [TURN]);
  assert.deepEqual(config.iceServers, [TURN]);
  assert.equal(config.iceTransportPolicy, 'all');
});

test("sdk: the app's own servers come first, and its transport policy holds", async () => {
  const own = { urls: ['stun:stun.example.net'] };
  const config = await configAfterJoined({ iceServers: [own], iceTransportPolicy: 'relay' }, [TURN]);
  assert.deepEqual(config.iceServers, [own, TURN]);
  assert.equal(config.iceTransportPolicy, 'relay');
  assert.deepEqual((await configAfterJoined({}, undefined)).iceServers, [], 'an older server sends none');
});
