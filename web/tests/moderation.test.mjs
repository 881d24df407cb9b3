// Moderation from the People panel: mute, ask to unmute (the target accepts and its audio
// flows again), a role change as a request (declined, then accepted) and forced, removal.
// Media is asserted through getStats on the receiving page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, expectAudio, screenshot, createRoom, roomId, until } from './helpers.mjs';

/** Opens the People panel's actions for a peer. */
async function actionsFor(page, name) {
  await page.getByRole('tab', { name: /People/ }).click();
  const summary = page.getByLabel(`Actions for ${name}`, { exact: true });
  const details = page.locator('details.actions', { has: summary });
  if (!(await details.evaluate((d) => d.open))) await summary.click();
  return details;
}

test('moderation: mute, ask to unmute, role change requested and forced, removal', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('mod');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'));
    const mo = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 1000, height: 700 });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { width: 1000, height: 700 });
    await expectAudio(host.page, mo.peerId, true, { label: 'the moderator is heard' });

    // Mute: the moderator is told, its button says so, and its audio stops at the host.
    let actions = await actionsFor(host.page, 'Mo Moderator');
    await actions.getByRole('button', { name: 'Mute Mo Moderator' }).click();
    await mo.page.getByText('Hana Host muted you.').waitFor();
    await until(mo.page, () => document.querySelector('#mic-button').getAttribute('aria-pressed') === 'false');
    assert.equal(await mo.page.locator('#mic-button').innerText(), '🔇 Unmute');
    await expectAudio(host.page, mo.peerId, false, { label: 'muted' });

    // Ask to unmute: a dialog on the moderator's side; accepting turns the microphone on again.
    actions = await actionsFor(host.page, 'Mo Moderator');
    await actions.getByRole('button', { name: 'Ask Mo Moderator to unmute' }).click();
    const ask = mo.page.getByRole('dialog', { name: 'Request' });
    await ask.getByText('Hana Host asks you to turn on your microphone.').waitFor();
    await screenshot(mo.page, 'request-unmute');
    await ask.getByRole('button', { name: 'Accept' }).click();
    await until(mo.page, () => document.querySelector('#mic-button').getAttribute('aria-pressed') === 'true');
    await expectAudio(host.page, mo.peerId, true, { label: 'unmuted after the request' });

    // A role change as a request: Gus declines, stays a guest; then accepts and may share video.
    actions = await actionsFor(host.page, 'Gus');
    await actions.getByLabel('New role for Gus').selectOption('breakout');
    await actions.getByRole('button', { name: 'Ask Gus to take this role' }).click();
    const req = gus.page.getByRole('dialog', { name: 'Request' });
    await req.getByText('Hana Host asks you to take the role “breakout”.').waitFor();
    await screenshot(gus.page, 'request-role');
    await req.getByRole('button', { name: 'Decline' }).click();
    await until(gus.page, () => !document.querySelector('#request-dialog').open);
    assert.equal(await gus.page.evaluate(() => window.caucusApp.client.self.role), 'guest');
    assert.equal(await gus.page.locator('#cam-button').isDisabled(), true);

    actions = await actionsFor(host.page, 'Gus');
    await actions.getByLabel('New role for Gus').selectOption('breakout');
    await actions.getByRole('button', { name: 'Ask Gus to take this role' }).click();
    await req.getByRole('button', { name: 'Accept' }).click();
    await until(gus.page, () => window.caucusApp.client.self.role === 'breakout' && !document.querySelector('#cam-button').disabled);
    // The new role shares the camera switched off: Gus starts it.
    await until(gus.page, () => window.caucusApp.client.published.get('video')?.muted === true);
    await gus.page.getByRole('button', { name: /Start video/ }).click();
    await expectDecoding(host.page, [mo.peerId, gus.peerId], { label: 'the host sees Gus as breakout' });

    // Forced back to guest: no dialog, Gus's camera stops and its button says why.
    actions = await actionsFor(host.page, 'Gus');
    await actions.getByLabel('New role for Gus').selectOption('guest');
    await actions.getByRole('button', { name: 'Give Gus this role now' }).click();
    await until(gus.page, () => window.caucusApp.client.self.role === 'guest' && document.querySelector('#cam-button').disabled);
    assert.equal(await req.isVisible(), false);
    assert.match(await gus.page.locator('#publish-note').innerText(), /your role \(guest\) does not share/);
    await expectDecoding(host.page, [mo.peerId], { label: 'Gus watches again' });

    // Remove: Gus is told and is out; the others see him leave.
    actions = await actionsFor(host.page, 'Gus');
    await actions.getByRole('button', { name: 'Remove Gus from the meeting' }).click();
    await gus.page.getByText('You were removed from the meeting').waitFor();
    await until(mo.page, (id) => !window.caucusApp.client.peers.has(id), gus.peerId);
    await screenshot(gus.page, 'removed');
  } finally {
    await browser.close();
  }
});
