// Invite links: one link, many people, an identity each. A host makes an invite by REST; four
// students open the same link with four names, all reach the meeting and stay connected
// together; a used-up and a revoked link each show their sentence and open no meeting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, rest, createRoom, roomId, screenshot } from './helpers.mjs';

/** Opens the invite link in a fresh context and submits `name`; answers the page. */
async function openInvite(browser, url, name) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  return page;
}

/** Goes on from the invite page into the meeting and waits until its media is connected. */
async function enterMeeting(page, room) {
  await page.waitForURL(new RegExp(`/rooms/${room}`));
  await page.getByRole('button', { name: 'Join meeting' }).click();
  await page.waitForFunction(() => window.caucusApp?.client?.state === 'connected', null, { timeout: 30000 });
}

test('invite: four people through one link, each their own; used up and revoked links say so', { timeout: 180000 }, async () => {
  const room = roomId('invite');
  await createRoom(room);
  const invite = await rest('POST', `/v1/rooms/${room}/invites`, { role: 'guest', max_uses: 4 }, { status: 201 });
  assert.equal(invite.url, `${BASE}/invite/${invite.id}`);
  const browser = await launch();
  try {
    const names = ['Ana', 'Ben', 'Cai', 'Dee'];
    const pages = [];
    for (const name of names) {
      const page = await openInvite(browser, invite.url, name);
      await enterMeeting(page, room);
      pages.push(page);
    }
    const selves = await Promise.all(pages.map((p) => p.evaluate(() => ({ name: window.caucusApp.client.self.name, id: window.caucusApp.client.peerId }))));
    assert.deepEqual(selves.map((s) => s.name), names);
    assert.equal(new Set(selves.map((s) => s.id)).size, 4, 'four peers, none thrown out');
    // Each sees the other three in the People list, and is still connected.
    for (const [i, page] of pages.entries()) {
      for (const [j, other] of selves.entries()) {
        if (i !== j) await page.locator(`#people-list li[data-peer="${other.id}"]`).getByText(other.name).waitFor();
      }
    }
    for (const page of pages) {
      assert.equal(await page.evaluate(() => window.caucusApp.client.state), 'connected');
    }
    await screenshot(pages[3], 'invite-four-students');

    // The fifth visitor finds the link used up: a sentence, no form, no meeting.
    const fifth = await openInvite(browser, invite.url, 'Eve');
    await fifth.getByRole('alert').getByText('This invite link has already been used as many times as it allows.').waitFor();
    assert.equal(await fifth.locator('#invite-refusal').getAttribute('data-code'), 'invite_used_up');
    assert.match(fifth.url(), /\/invite\//);
    assert.equal(await fifth.getByLabel('Your name').count(), 0);
    await screenshot(fifth, 'invite-used-up');

    // A revoked link says so.
    const revoked = await rest('POST', `/v1/rooms/${room}/invites`, { role: 'guest' }, { status: 201 });
    await rest('DELETE', `/v1/rooms/${room}/invites/${revoked.id}`, undefined, { status: 204 });
    const late = await openInvite(browser, revoked.url, 'Fay');
    await late.getByRole('alert').getByText('This invite link was withdrawn by the organiser.').waitFor();
    assert.match(late.url(), /\/invite\//);

    // And the four are still together.
    const listed = await rest('GET', `/v1/rooms/${room}/peers`);
    assert.equal((listed.peers ?? listed).length, 4);
  } finally {
    await browser.close();
  }
});
