// Media through a real TURN server (coturn, started by scripts/test-turn): for each transport a
// Caucus whose turn_urls name only that one, and two Chromium peers joined with
// iceTransportPolicy 'relay' — so the host candidate of the server is out of reach and the
// relay is the only way. The receiver must decode the publisher's camera, and both ends' selected
// candidate pair must be a relay candidate of that protocol. A Caucus holding another secret
// than coturn's hands out credentials coturn refuses: 401, no relay, no media.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../helpers.mjs';
import { BIN, WAIT_MS, peer as joinPage, startCaucus } from './harness.mjs';

const TURN_PORT = process.env.TURN_PORT;
const TLS_PORT = process.env.TURN_TLS_PORT;
const SECRET = process.env.TURN_SECRET;
if (!BIN || !TURN_PORT || !TLS_PORT || !SECRET) {
  throw new Error('CAUCUS_BIN, TURN_PORT, TURN_TLS_PORT and TURN_SECRET must be set (run scripts/test-turn)');
}

let browser;
before(async () => {
  // The TURN server's certificate is self-signed.
  browser = await launch({ args: ['--ignore-certificate-errors'] });
});
after(async () => { await browser?.close(); });

/** The local candidate of the selected pair: its type and relay protocol. */
function selectedLocal(page) {
  return page.evaluate(async () => {
    const report = await /** @type {any} */ (window).client.pc.getStats();
    let pairId = null;
    report.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    const pair = pairId && report.get(pairId);
    const local = pair && report.get(pair.localCandidateId);
    return local ? { candidateType: local.candidateType, relayProtocol: local.relayProtocol } : null;
  });
}

/** Waits until `page` has decoded more than 10 frames of `publisher`'s camera. */
async function expectDecodes(page, publisher) {
  const deadline = Date.now() + WAIT_MS;
  let seen = [];
  while (Date.now() < deadline) {
    seen = await page.evaluate(() => /** @type {any} */ (window).client.receiveStats());
    if (seen.some((s) => s.kind === 'video' && s.peerId === publisher && s.framesDecoded > 10)) return;
    await page.waitForTimeout(200);
  }
  throw new Error(`no frames of ${publisher} decoded: ${JSON.stringify(seen)}`);
}

for (const [name, url, protocol] of [
  ['TURN/UDP', `turn:127.0.0.1:${TURN_PORT}?transport=udp`, 'udp'],
  ['TURN/TCP', `turn:127.0.0.1:${TURN_PORT}?transport=tcp`, 'tcp'],
  ['TURN/TLS', `turns:127.0.0.1:${TLS_PORT}?transport=tcp`, 'tls'],
]) {
  test(`turn: two peers exchange video over ${name} only`, async () => {
    const caucus = await startCaucus([url], SECRET);
    try {
      const ana = await joinPage(browser, caucus, 'ana');
      const bob = await joinPage(browser, caucus, 'bob');
      const config = await bob.page.evaluate(() => /** @type {any} */ (window).pcConfig);
      assert.equal(config.iceTransportPolicy, 'relay');
      assert.deepEqual(config.iceServers.map((s) => s.urls), [[url]], 'the servers of the joined event');
      assert.match(config.iceServers[0].username, /^\d+:bob$/);
      const anaId = await ana.page.evaluate(async () => {
        const w = /** @type {any} */ (window);
        const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
        await w.client.publish('video', stream.getVideoTracks()[0]);
        return w.client.peerId;
      });
      await expectDecodes(bob.page, anaId);
      for (const [who, p] of [['ana', ana], ['bob', bob]]) {
        assert.deepEqual(await selectedLocal(p.page), { candidateType: 'relay', relayProtocol: protocol }, `${who}'s selected pair`);
        assert.deepEqual(await p.page.evaluate(() => /** @type {any} */ (window).iceErrors.filter((e) => e.code === 401)), [], `${who}: no 401`);
      }
      await ana.context.close();
      await bob.context.close();
    } finally {
      await caucus.stop();
    }
  });
}

test('turn: credentials under another secret are refused (401) and nothing is relayed', async () => {
  const caucus = await startCaucus([`turn:127.0.0.1:${TURN_PORT}?transport=udp`], `not-${SECRET}`);
  try {
    const ana = await joinPage(browser, caucus, 'ana');
    await ana.page.waitForFunction(() => /** @type {any} */ (window).iceErrors.some((e) => e.code === 401), null, { timeout: WAIT_MS });
    const state = await ana.page.evaluate(async () => {
      const pc = /** @type {any} */ (window).client.pc;
      const report = await pc.getStats();
      let relays = 0;
      report.forEach((s) => { if (s.type === 'local-candidate' && s.candidateType === 'relay') relays++; });
      return { relays, ice: pc.iceConnectionState };
    });
    assert.equal(state.relays, 0, 'no relay candidate');
    assert.notEqual(state.ice, 'connected');
    await ana.context.close();
  } finally {
    await caucus.stop();
  }
});
