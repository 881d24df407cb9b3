// A participant's side: what the role may share is known before trying (disabled buttons that
// say why), a screen share that another peer decodes, choosing a breakout room when
// self-select is on (a full room and a wrong password are refused with the server's reason,
// a protected room asks for its password), and returning to main.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecodingSources, screenshot, createRoom, rest, roomId, until } from './helpers.mjs';

test('participant: may-publish, screen share, choosing a room, refusals, return to main', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('pick');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'));
    const g1 = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { width: 1000, height: 700 });
    const g2 = await join(browser, joinLink(room, 'gia', 'guest', 'Gia'), { width: 1000, height: 700 });

    // A guest only watches in main: the joined event says so, the buttons are disabled and say why.
    for (const g of [g1, g2]) {
      assert.deepEqual(await g.page.evaluate(() => window.caucusApp.client.mayPublish), []);
      const cam = g.page.getByRole('button', { name: /Start video/ });
      assert.equal(await cam.isDisabled(), true);
      assert.match(await cam.getAttribute('title'), /Your role \(guest\) may not share video here/);
      assert.equal(await g.page.getByRole('button', { name: /Share screen/ }).isDisabled(), true);
      assert.match(await g.page.locator('#publish-note').innerText(), /your role \(guest\) does not share audio, video or the screen here/);
    }
    // The host may publish everything and shares its screen: the guests decode camera and screen.
    assert.deepEqual(await host.page.evaluate(() => window.caucusApp.client.mayPublish), ['audio', 'video', 'screen', 'screen_audio']);
    await host.page.getByRole('button', { name: /Share screen/ }).click();
    await host.page.getByRole('button', { name: /Stop sharing/ }).waitFor();
    await Promise.all([g1, g2].map((g, i) => expectDecodingSources(g.page, [`${host.peerId}:video`, `${host.peerId}:screen`], { label: `guest ${i + 1} sees the host's screen` })));
    await g1.page.locator(`.tile.screen[data-peer="${host.peerId}"]`).waitFor();
    await screenshot(g1.page, 'meeting-screen-share');
    await host.page.getByRole('button', { name: /Stop sharing/ }).click();
    await Promise.all([g1, g2].map((g, i) => expectDecodingSources(g.page, [`${host.peerId}:video`], { label: `guest ${i + 1} after the share` })));

    // Breakouts by REST: Alpha holds one person, Beta needs a password; people choose, may return.
    const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Alpha', 'Beta'] }, { status: 201 });
    const [alpha, beta] = created.rooms.map((r) => r.id);
    await rest('PATCH', `/v1/rooms/${room}/breakouts/${alpha}`, { capacity: 1 });
    await rest('PATCH', `/v1/rooms/${room}/breakouts/${beta}`, { password: 'tulip' });
    await rest('PUT', `/v1/rooms/${room}/breakouts/options`, { allow_self_select: true, allow_return_to_main: true, auto_move_on_open: false });
    await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});

    // Gus chooses Alpha from the banner's "Choose a room".
    await g1.page.getByRole('button', { name: 'Choose a room' }).click();
    await g1.page.getByRole('heading', { name: 'Choose a room' }).waitFor();
    await g1.page.getByRole('button', { name: 'Join Alpha' }).click();
    await until(g1.page, (b) => window.caucusApp.client.self.location === b, alpha);
    assert.equal(await g1.page.locator('#banner-room').innerText(), 'Alpha');
    // In a breakout a guest acts as `breakout`: camera on, screen still not.
    await until(g1.page, () => !document.querySelector('#cam-button').disabled);
    assert.equal(await g1.page.getByRole('button', { name: /Share screen/ }).isDisabled(), true);

    // Gia: Alpha is full — the server's refusal is shown; Beta asks for its password.
    await g2.page.getByRole('button', { name: 'Choose a room' }).click();
    await g2.page.locator('#room-list li', { hasText: 'Alpha' }).getByText('full').waitFor();
    await g2.page.getByRole('button', { name: 'Join Alpha' }).click();
    const refusal = g2.page.locator('#rooms-error');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /That room is full\. \(.*at most 1.*\)/);
    await screenshot(g2.page, 'rooms-full-refused');
    await g2.page.getByRole('button', { name: 'Join Beta' }).click();
    const dialog = g2.page.getByRole('dialog', { name: 'Beta is protected' });
    await dialog.getByLabel('Password for Beta').fill('rose');
    await dialog.getByRole('button', { name: 'Join room' }).click();
    await dialog.getByRole('alert').getByText(/Wrong password/).waitFor();
    await screenshot(g2.page, 'rooms-password');
    await dialog.getByLabel('Password for Beta').fill('tulip');
    await dialog.getByRole('button', { name: 'Join room' }).click();
    await until(g2.page, (b) => window.caucusApp.client.self.location === b, beta);
    assert.equal(await dialog.isVisible(), false);
    assert.equal(await g2.page.locator('#banner-room').innerText(), 'Beta');
    await expectDecodingSources(g2.page, [], { label: 'Gia alone in Beta (no main stage)' });

    // Return to main is allowed: Gia goes back and watches the host again.
    await g2.page.getByRole('button', { name: 'Return to main room' }).first().click();
    await until(g2.page, () => window.caucusApp.client.self.location === 'main');
    await expectDecodingSources(g2.page, [`${host.peerId}:video`], { label: 'Gia back in main' });
    assert.equal(await g2.page.locator('#where').innerText(), 'Main room');
  } finally {
    await browser.close();
  }
});
