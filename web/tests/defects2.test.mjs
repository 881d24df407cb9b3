// More of what a teacher ran into in a class, each as a person in the browser meets it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, createRoom, roomId, rest, until } from './helpers.mjs';

test('defects2: a move into a breakout room keeps the microphone and camera off', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('keepmute');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 1000, media: false });
    // A guest shares nothing in the main room: its controls show microphone and camera off.
    const stu = await join(browser, joinLink(room, 'stu', 'guest', 'Stu'));
    const s = stu.page;
    assert.equal(await s.locator('#mic-button').getAttribute('aria-pressed'), 'false');
    const b = await host.page.evaluate(async (stuId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1 })).breakouts_created.rooms;
      await client.assign({ [stuId]: id });
      await client.openBreakouts();
      return id;
    }, stu.peerId);
    await until(s, (id) => window.caucusApp.client.self.location === id, b);

    // In the room Stu may share: the microphone and camera are offered, and stay off.
    await until(s, () => window.caucusApp.client.published.has('audio') && window.caucusApp.client.published.has('video'));
    const state = await s.evaluate(() => {
      const p = window.caucusApp.client.published;
      return { audio: p.get('audio').muted, video: p.get('video').muted, sending: p.get('audio').track.enabled };
    });
    assert.deepEqual(state, { audio: true, video: true, sending: false }, 'the move turned the microphone or camera on');
    assert.equal(await s.locator('#mic-button').getAttribute('aria-pressed'), 'false');
    assert.equal(await s.locator('#cam-button').getAttribute('aria-pressed'), 'false');
    // The host sees Stu muted too.
    await until(host.page, (id) => window.caucusApp.client.peers.get(id)?.tracks.length === 2, stu.peerId);
    assert.ok(await host.page.evaluate((id) => window.caucusApp.client.peers.get(id).tracks.every((t) => t.muted), stu.peerId));

    // Stu turns the microphone on; back in main it is off (a guest shares nothing there), and
    // in the next room it starts off again.
    await s.locator('#mic-button').click();
    await until(s, () => window.caucusApp.client.published.get('audio')?.muted === false);
    await host.page.evaluate(() => window.caucusApp.client.closeBreakouts({ countdown_s: 0 }));
    await until(s, () => window.caucusApp.client.self.location === 'main' && window.caucusApp.client.published.size === 0);
    assert.equal(await s.locator('#mic-button').getAttribute('aria-pressed'), 'false');
    await host.page.evaluate(() => window.caucusApp.client.openBreakouts());
    await until(s, (id) => window.caucusApp.client.self.location === id, b);
    await until(s, () => window.caucusApp.client.published.has('audio') && window.caucusApp.client.published.has('video'));
    assert.deepEqual(await s.evaluate(() => [...window.caucusApp.client.published.values()].map((p) => p.muted)), [true, true]);
  } finally {
    await browser.close();
  }
});

test('defects2: a private message shows once to its sender, saying to whom', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('private');
    await createRoom(room);
    const ana = await join(browser, joinLink(room, 'ana', 'moderator', 'Ana'), { media: false });
    const ben = await join(browser, joinLink(room, 'ben', 'moderator', 'Ben'), { media: false });
    const a = ana.page;
    await until(a, (id) => window.caucusApp.client.peers.has(id), ben.peerId);
    await a.getByRole('tab', { name: /Chat/ }).click();
    await a.locator('.chat-form select').selectOption({ label: 'Private: Ben' });
    await a.locator('.chat-form input').fill('just for you');
    await a.locator('.chat-form').getByRole('button', { name: 'Send' }).click();

    await ben.page.getByRole('tab', { name: /Chat/ }).click();
    await ben.page.locator('.msg').filter({ hasText: 'just for you' }).waitFor();
    // A later message to the room arrives after the private one: by then every copy is in.
    await a.locator('.chat-form select').selectOption({ label: 'Main room' });
    await a.locator('.chat-form input').fill('to all');
    await a.locator('.chat-form').getByRole('button', { name: 'Send' }).click();
    await a.locator('.msg').filter({ hasText: 'to all' }).waitFor();
    const mine = a.locator('.msg').filter({ hasText: 'just for you' });
    assert.equal(await mine.count(), 1, 'the private message shows more than once to its sender');
    assert.match(await mine.innerText(), /to Ben/);
  } finally {
    await browser.close();
  }
});

test('defects2: toasts stay off the side panel and can be dismissed', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('toasts');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 900, media: false });
    const h = host.page;
    await h.getByRole('tab', { name: 'Breakouts' }).click();
    await h.getByRole('button', { name: /Lock room/ }).click();
    const t = h.locator('.toast').filter({ hasText: 'The room is now locked' });
    await t.waitFor();
    const box = await t.boundingBox();
    const side = await h.locator('aside.side').boundingBox();
    const controls = await h.locator('footer.controls').boundingBox();
    assert.ok(box && side && controls);
    const overlaps = (p, q) => p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height;
    assert.ok(!overlaps(box, side), `a toast covers the side panel: ${JSON.stringify({ box, side })}`);
    assert.ok(!overlaps(box, controls), `a toast covers the controls: ${JSON.stringify({ box, controls })}`);
    await t.getByRole('button', { name: 'Dismiss' }).click();
    await t.waitFor({ state: 'detached' });
  } finally {
    await browser.close();
  }
});

test('defects2: a raised hand reaches the host as a toast and a count', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('hands');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 900, media: false });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { media: false });
    const stu = await join(browser, joinLink(room, 'stu', 'guest', 'Stu'), { media: false });
    await until(host.page, (ids) => ids.every((id) => window.caucusApp.client.peers.has(id)), [gus.peerId, stu.peerId]);
    await stu.page.getByRole('button', { name: 'Raise hand' }).click();

    await host.page.locator('.toast').filter({ hasText: 'Stu raised a hand.' }).waitFor();
    await host.page.getByRole('tab', { name: /People \(3\) · ✋ 1/ }).waitFor();
    // Gus may not lower hands: he sees the hand in the grid, and no toast about it.
    await gus.page.locator('.tile').filter({ hasText: 'Stu' }).getByLabel('Hand raised').waitFor();
    assert.equal(await gus.page.locator('.toast').filter({ hasText: 'raised a hand' }).count(), 0);

    // Lowered, the count goes; raised again, a new toast.
    await host.page.getByRole('tab', { name: /People/ }).click();
    await host.page.getByLabel('Actions for Stu').click();
    await host.page.getByRole('button', { name: 'Lower the hand of Stu' }).click();
    await host.page.getByRole('tab', { name: 'People (3)', exact: true }).waitFor();
  } finally {
    await browser.close();
  }
});

test('defects2: the web app speaks in room and role names, not ids and internals', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('words');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 1000, media: false });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { media: false });
    const ann = await join(browser, joinLink(room, 'ann', 'guest', 'Ann'), { media: false });
    const m = host.page;
    await m.getByRole('tab', { name: 'Breakouts' }).click();
    await rest('PUT', `/v1/rooms/${room}/breakouts/options`, { allow_self_select: true, allow_return_to_main: true, auto_move_on_open: true });
    await m.evaluate(async (gusId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1, capacity: 1 })).breakouts_created.rooms;
      await client.assign({ [gusId]: id });
      await client.openBreakouts();
    }, gus.peerId);
    await m.getByLabel('Name of Room 1').waitFor();

    // Gus is not told how he acts there (the page shows the news as it handles the event).
    await until(gus.page, () => window.caucusApp.client.self.acting_role === 'breakout');
    const toasts = await gus.page.locator('.toast').allInnerTexts();
    assert.ok(!toasts.some((t) => /act as|breakout\b/.test(t)), `jargon in a toast: ${toasts.join(' | ')}`);

    // The console says what the phase means.
    await m.getByText('Breakout rooms are open.').waitFor();
    assert.equal(await m.getByText(/Phase:|version \d/).count(), 0);

    // Role lists start with the roles people join with; `breakout` (only acted as) comes last.
    const options = (label) => m.getByLabel(label).evaluate((s) => [...s.options].map((o) => o.value));
    const bulk = await options('Change everyone with role');
    assert.equal(bulk[0], 'host');
    assert.equal(bulk[bulk.length - 1], 'breakout');
    await m.getByRole('tab', { name: /People/ }).click();
    await m.getByLabel('Actions for Gus', { exact: true }).click();
    const picker = await options('New role for Gus');
    assert.equal(picker[0], 'host');
    assert.equal(picker[picker.length - 1], 'breakout');

    // Ann may not go into the full room: the refusal names the room, not its id.
    await ann.page.getByRole('button', { name: 'Choose a room' }).click();
    await ann.page.getByRole('button', { name: 'Join Room 1' }).click();
    const refusal = ann.page.locator('#rooms-error');
    await refusal.waitFor();
    const said = await refusal.innerText();
    assert.match(said, /That room is full\. \(Room 1 holds at most 1/);
    assert.doesNotMatch(said, /\bb\d+\b/);
  } finally {
    await browser.close();
  }
});

test('defects2: a room sees who listens in to it, until they stop', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('listen');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 1000, media: false });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { media: false });
    const m = host.page;
    const b = await m.evaluate(async (gusId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1 })).breakouts_created.rooms;
      await client.assign({ [gusId]: id });
      await client.openBreakouts();
      return id;
    }, gus.peerId);
    await until(gus.page, (id) => window.caucusApp.client.self.location === id, b);

    await m.getByRole('tab', { name: 'Breakouts' }).click();
    await m.getByRole('button', { name: 'Listen in to Room 1' }).click();
    await gus.page.locator('#where').getByText('Hana Host is listening in').waitFor();
    await m.getByRole('button', { name: 'Stop listening to Room 1' }).click();
    await gus.page.locator('#listeners').waitFor({ state: 'detached' });
  } finally {
    await browser.close();
  }
});
