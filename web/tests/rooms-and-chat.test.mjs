// Closing one breakout room from the console with a countdown (the others stay open), chat
// scoped to a role (only that role reads it), and the speaking indicator on the tile of a
// peer whose (fake) microphone is sending sound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, createRoom, rest, roomId, until } from './helpers.mjs';

test('close one room with a countdown, chat to a role, speaking indicator', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('one');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'));
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'));
    const ada = await join(browser, joinLink(room, 'ada', 'guest', 'Ada'), { media: false });
    const bo = await join(browser, joinLink(room, 'bo', 'guest', 'Bo'), { media: false });

    // The host's microphone (Chromium's fake device beeps) lights its tile at the moderator.
    await mod.page.locator(`.tile.speaking[data-peer="${host.peerId}"]`).waitFor({ timeout: 30000 });

    // Chat to the role "moderator": the moderator reads it, the guests do not.
    await host.page.getByRole('tab', { name: /Chat/ }).click();
    await host.page.getByLabel('Send to').selectOption({ label: 'Role: moderator' });
    await host.page.getByRole('textbox', { name: 'Message', exact: true }).fill('moderators, a word please');
    await host.page.getByRole('button', { name: 'Send' }).click();
    await mod.page.getByRole('tab', { name: /Chat/ }).click();
    await mod.page.locator('#chat-list').getByText('moderators, a word please').waitFor();
    for (const g of [ada, bo]) {
      await g.page.getByRole('tab', { name: /Chat/ }).click();
      assert.equal(await g.page.locator('#chat-list').getByText('moderators, a word please').count(), 0);
    }

    // Two rooms, one guest in each; the moderator closes Ada's room alone with a countdown.
    const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Near', 'Far'] }, { status: 201 });
    const [near, far] = created.rooms.map((r) => r.id);
    await rest('POST', `/v1/rooms/${room}/breakouts/assign`, { assignments: { [ada.peerId]: near, [bo.peerId]: far } });
    await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});
    await until(ada.page, (id) => window.caucusApp.client.self?.location === id, near);
    await mod.page.getByRole('tab', { name: 'Breakouts' }).click();
    await mod.page.getByRole('button', { name: 'Close Near' }).click();
    // Ada sees the countdown, then is back in main; Bo stays in Far.
    await ada.page.locator('#closing-countdown').waitFor();
    await until(ada.page, () => window.caucusApp.client.self?.location === 'main', undefined, { timeout: 60000 });
    assert.equal(await bo.page.evaluate(() => window.caucusApp.client.self?.location), far);
    const view = await rest('GET', `/v1/rooms/${room}/breakouts`);
    assert.equal(view.phase, 'open', 'the other room stays open');
  } finally {
    await browser.close();
  }
});
