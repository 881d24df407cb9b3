// Automatic reconnect: a guest's signaling socket drops while it stands in a breakout room;
// the page says "reconnecting…", rejoins within the grace period as the same peer in the same
// room, and media flows both ways again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, screenshot, createRoom, rest, roomId, until } from './helpers.mjs';

test('reconnect: a dropped socket resumes the same peer in the same breakout, media again', { timeout: 90000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('resume');
    await createRoom(room);
    // A plan made before anyone joins: both guests are pre-assigned to Harbor, rooms open on arrival.
    const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Harbor'] }, { status: 201 });
    const harbor = created.rooms[0].id;
    await rest('PUT', `/v1/rooms/${room}/breakouts/preassignments`, { by_user_id: { gus: harbor, gia: harbor } });
    await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { width: 1000, height: 700 });
    const gia = await join(browser, joinLink(room, 'gia', 'guest', 'Gia'), { width: 1000, height: 700 });
    for (const g of [gus, gia]) assert.equal(await g.page.evaluate(() => window.caucusApp.client.self.location), harbor);
    await Promise.all([
      expectDecoding(gus.page, [gia.peerId], { label: 'Gus before the drop' }),
      expectDecoding(gia.page, [gus.peerId], { label: 'Gia before the drop' }),
    ]);

    // The socket drops (not a leave): the banner appears, then goes once the page is back.
    await gus.page.evaluate(() => {
      window.reconnectSeen = false;
      const banner = document.getElementById('reconnect-banner');
      new MutationObserver(() => { if (!banner.hidden) window.reconnectSeen = true; }).observe(banner, { attributes: true });
      window.caucusApp.client.ws.close();
    });
    await until(gus.page, () => window.reconnectSeen);
    assert.match(await gus.page.locator('#reconnect-banner').textContent(), /reconnecting…/);
    await until(gus.page, () => document.getElementById('reconnect-banner').hidden && window.caucusApp.client.state === 'connected', null, { timeout: 30000 });

    const after = await gus.page.evaluate(() => ({ id: window.caucusApp.client.peerId, resumed: window.caucusApp.client.resumed, where: window.caucusApp.client.self.location }));
    assert.deepEqual(after, { id: gus.peerId, resumed: true, where: harbor });
    assert.equal(await gus.page.locator('#banner-room').innerText(), 'Harbor');
    await Promise.all([
      expectDecoding(gus.page, [gia.peerId], { label: 'Gus after the reconnect' }),
      expectDecoding(gia.page, [gus.peerId], { label: 'Gia sees Gus again' }),
    ]);
    await screenshot(gus.page, 'reconnected');
  } finally {
    await browser.close();
  }
});
