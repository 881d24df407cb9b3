// Simulcast from a real browser: the host's role publishes its camera as simulcast layers;
// each viewer's page tells the server how large it shows the host's tile (a ResizeObserver on
// the tile sends `video_size`), and the server forwards the layer that fits — a viewer in a
// narrow window decodes a smaller picture than one in a wide window, read from getStats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, createRoom, roomId } from './helpers.mjs';

/** The width of the host's camera as this page decodes it now (0 while nothing decodes). */
async function decodedWidth(page, peerId) {
  return page.evaluate(async (peerId) => {
    const client = window.caucusApp.client;
    const slots = await client.receiveStats();
    const slot = slots.find((s) => s.kind === 'video' && s.peerId === peerId && s.source === 'video');
    if (!slot) return 0;
    const stats = await client.pc.getStats();
    for (const r of stats.values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && r.mid === slot.mid) return r.frameWidth ?? 0;
    }
    return 0;
  }, peerId);
}

/** The rids the host's camera sender is sending (outbound-rtp with frames going out). */
async function sentLayers(page) {
  return page.evaluate(async () => {
    const stats = await window.caucusApp.client.pc.getStats();
    const out = [];
    for (const r of stats.values()) {
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid && (r.framesEncoded ?? 0) > 0) out.push(`${r.rid}:${r.frameWidth}`);
    }
    return out.sort();
  });
}

test('simulcast: each viewer decodes the layer its tile needs', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('simulcast');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'));
    const wide = await join(browser, joinLink(room, 'wes', 'guest', 'Wes Wide'), { width: 1600, height: 1000 });
    const narrow = await join(browser, joinLink(room, 'nia', 'guest', 'Nia Narrow'), { width: 420, height: 700 });
    for (const g of [wide, narrow]) await expectDecoding(g.page, [host.peerId], { label: 'guests watch the host' });

    // The browser sends more than one layer (it ramps up as its bandwidth estimate grows).
    let layers = [];
    for (const until = Date.now() + 30000; Date.now() < until && layers.length < 2;) {
      layers = await sentLayers(host.page);
      if (layers.length < 2) await host.page.waitForTimeout(250);
    }
    assert.ok(layers.length >= 2, `the host sends simulcast layers: ${layers}`);

    // The wide page shows the host large (a spotlight-sized tile); the narrow page keeps the
    // small grid tile. Each page reports its tile, and each gets the layer that fits it.
    // A rule added through the CSSOM: the page's Content-Security-Policy refuses inline styles.
    await wide.page.evaluate((rule) => document.styleSheets[0].insertRule(rule, document.styleSheets[0].cssRules.length),
      `.tile[data-peer="${host.peerId}"] video { width: 800px !important; height: 450px !important; }`);
    let last = [0, 0];
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      last = [await decodedWidth(wide.page, host.peerId), await decodedWidth(narrow.page, host.peerId)];
      if (last[0] > 0 && last[1] > 0 && last[1] < last[0]) break;
      await host.page.waitForTimeout(250);
    }
    const [wideWidth, narrowWidth] = last;
    assert.ok(narrowWidth > 0 && wideWidth > narrowWidth,
      `the narrow viewer decodes a smaller layer (${narrowWidth} px) than the wide one (${wideWidth} px); host sends ${layers}`);
    const tile = await narrow.page.locator(`.tile[data-peer="${host.peerId}"] video`).evaluate((v) => v.dataset.sentSize);
    assert.ok(tile, 'the narrow page told the server its tile size');
  } finally {
    await browser.close();
  }
});
