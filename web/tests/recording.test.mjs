// Recording seen from the browser, and drag and drop in the console: when a manager (here the
// REST API) records the main room, everyone standing there is told and sees "● Recording";
// people in a breakout room that is not recorded do not; stopping clears it. A moderator
// moves a guest by dragging its chip onto a room card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, createRoom, rest, roomId, until } from './helpers.mjs';

test('recording indicator and drag-and-drop moves', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('rec');
    await createRoom(room);
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { media: false });
    const guest = await join(browser, joinLink(room, 'gil', 'guest', 'Gil'), { media: false });
    const other = await join(browser, joinLink(room, 'oda', 'guest', 'Oda'), { media: false });

    // Two rooms, open, nobody moved yet; the moderator drags Oda's chip onto the second room.
    const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Left', 'Right'] }, { status: 201 });
    const right = created.rooms[1].id;
    await rest('PUT', `/v1/rooms/${room}/breakouts/options`, { auto_move_on_open: false });
    await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});
    await mod.page.getByRole('tab', { name: 'Breakouts' }).click();
    const chip = mod.page.locator(`.chip[data-peer="${other.peerId}"]`);
    await chip.waitFor();
    await chip.locator('.name').dragTo(mod.page.locator(`.room-card[data-room="${right}"] .pill`));
    await until(other.page, (id) => window.caucusApp.client.self?.location === id, right);

    // Recording main: the two in main see the indicator, the one in Right does not.
    const recording = await rest('POST', `/v1/rooms/${room}/recordings`, { location: 'main' }, { status: 201 });
    for (const p of [mod, guest]) await p.page.getByRole('status', { name: 'This room is being recorded' }).waitFor();
    assert.equal(await other.page.getByRole('status', { name: 'This room is being recorded' }).count(), 0);
    assert.equal(await other.page.evaluate(() => window.caucusApp.client.recordings.length), 1, 'everyone is told');
    await rest('POST', `/v1/recordings/${recording.id}/stop`, {});
    await until(guest.page, () => !window.caucusApp.client.isRecordedHere());
    assert.equal(await guest.page.getByRole('status', { name: 'This room is being recorded' }).count(), 0);
  } finally {
    await browser.close();
  }
});
