// The main browser scenario: a host, a moderator and four guests join by link; the moderator
// splits the guests into two breakout rooms from the console (clicks), one room watching the
// main stage; then closes them with a countdown. At every step each page asserts, through
// getStats, whose video it actually decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, screenshot, createRoom } from './helpers.mjs';

test('breakouts from the console: isolation, main stage, closing countdown', { timeout: 150000 }, async () => {
  const browser = await launch();
  try {
    const room = `split-${Date.now().toString(36)}`;
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'ana', 'host', 'Ana Host'));
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 1400, height: 1000 });
    const guests = [];
    for (const [i, name] of ['Gus', 'Gia', 'Gil', 'Gwen'].entries()) {
      guests.push(await join(browser, joinLink(room, `g${i + 1}`, 'guest', name), { width: 1000, height: 700 }));
    }
    const [g1, g2, g3, g4] = guests;

    // Main room: guests only watch the host; host and moderator see each other.
    await Promise.all([
      expectDecoding(host.page, [mod.peerId], { label: 'host in main' }),
      expectDecoding(mod.page, [host.peerId], { label: 'moderator in main' }),
      ...guests.map((g, i) => expectDecoding(g.page, [host.peerId], { label: `guest ${i + 1} in main` })),
    ]);
    // A guest may not publish in main, and is told so.
    await g1.page.getByText(/your role \(guest\) does not share/).waitFor();
    await screenshot(host.page, 'meeting-main-host');
    await screenshot(g1.page, 'meeting-main-guest');

    // The moderator's console: create two rooms, assign by select, room 1 sees the main stage, open.
    const m = mod.page;
    await m.getByRole('tab', { name: 'Breakouts' }).click();
    await m.locator('#bo-count').fill('2');
    await m.locator('#bo-create').click();
    await m.locator('.room-card[data-room]').nth(1).waitFor();
    const roomIds = await m.locator('.room-card[data-room]').evaluateAll((els) => els.map((e) => e.getAttribute('data-room')));
    assert.equal(roomIds.length, 2);
    const plan = [[g1, roomIds[0]], [g2, roomIds[0]], [g3, roomIds[1]], [g4, roomIds[1]]];
    for (const [g, to] of plan) {
      await m.locator(`#console-rooms select.assign-select[data-peer="${g.peerId}"]`).selectOption(to);
      await m.waitForFunction(([p, r]) => window.caucusApp.client.breakouts.rooms.find((x) => x.id === r)?.assigned.includes(p), [g.peerId, to]);
    }
    await m.locator(`.room-card[data-room="${roomIds[0]}"]`).getByLabel('Sees the main stage').check();
    await m.waitForFunction((r) => typeof window.caucusApp.client.breakouts.rooms.find((x) => x.id === r)?.visibility === 'object', roomIds[0]);
    await screenshot(m, 'console-assigned');
    await m.locator('#bo-open').click();

    for (const [g, to] of plan) {
      await g.page.waitForFunction((r) => window.caucusApp.client.self.location === r, to, { timeout: 10000 });
    }
    // A move shares the camera switched off: each guest starts its video.
    for (const [g] of plan) {
      await g.page.waitForFunction(() => window.caucusApp.client.published.has('video'), null, { timeout: 10000 });
      await g.page.getByRole('button', { name: /Start video/ }).click();
      await g.page.waitForFunction(() => window.caucusApp.client.published.get('video')?.muted === false, null, { timeout: 10000 });
    }
    // Room 1 (main stage): each other and the host. Room 2 (isolated): each other only.
    // Main: the host and the moderator still see each other, no guest.
    await Promise.all([
      expectDecoding(g1.page, [g2.peerId, host.peerId], { label: 'guest 1 in room 1' }),
      expectDecoding(g2.page, [g1.peerId, host.peerId], { label: 'guest 2 in room 1' }),
      expectDecoding(g3.page, [g4.peerId], { label: 'guest 3 in room 2' }),
      expectDecoding(g4.page, [g3.peerId], { label: 'guest 4 in room 2' }),
      expectDecoding(host.page, [mod.peerId], { label: 'host in main during breakouts' }),
      expectDecoding(mod.page, [host.peerId], { label: 'moderator in main during breakouts' }),
    ]);
    await g1.page.locator('#banner-room').waitFor();
    assert.match(await g1.page.locator('#banner').innerText(), /You are in/);
    await g1.page.locator('#mainstage').waitFor();
    await screenshot(g1.page, 'breakout-main-stage');
    await screenshot(g3.page, 'breakout-isolated');
    await screenshot(m, 'console-open');

    // Close all with an 8 s countdown: everybody sees it, then the guests are back in main.
    await m.locator('#bo-countdown').fill('8');
    await m.locator('#bo-close-all').click();
    await g3.page.locator('#closing-countdown').waitFor({ timeout: 7000 });
    assert.match(await g3.page.locator('#closing-countdown').innerText(), /Closing in \d+:\d\d/);
    await screenshot(g3.page, 'breakout-closing');
    for (const g of guests) {
      await g.page.waitForFunction(() => window.caucusApp.client.self.location === 'main', null, { timeout: 20000 });
    }
    await Promise.all([
      ...guests.map((g, i) => expectDecoding(g.page, [host.peerId], { label: `guest ${i + 1} back in main` })),
      expectDecoding(host.page, [mod.peerId], { label: 'host after closing' }),
    ]);
    assert.equal(await g1.page.locator('#banner').isHidden(), true);
    await screenshot(g1.page, 'meeting-back-in-main');
  } finally {
    await browser.close();
  }
});
