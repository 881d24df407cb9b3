// What a teacher ran into in a class, each as a person in the browser meets it: a lock that
// outlived "End meeting for all", a manager kept out of a full breakout room by its capacity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, createRoom, roomId, rest, until } from './helpers.mjs';

/**
 * Opens a join link and clicks "Join meeting": answers `null` once joined, or the sentence of
 * the refusal the page shows.
 */
async function tryJoin(browser, link) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  await page.goto(link);
  await page.getByRole('button', { name: 'Join meeting' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: /\S/ });
  const outcome = await Promise.race([
    page.waitForFunction(() => window.caucusApp?.client?.self, null, { timeout: 30000 }).then(() => null),
    refusal.waitFor({ timeout: 30000 }).then(() => refusal.innerText()),
  ]);
  return { context, page, refusal: outcome };
}

test('defects: a room locked during a meeting opens again after "End meeting for all"', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('lockend');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 1000, media: false });
    const h = host.page;
    await h.getByRole('tab', { name: 'Breakouts' }).click();
    await h.getByRole('button', { name: /Lock room/ }).click();
    await h.locator('#where').getByText(/locked/).waitFor();

    await h.getByRole('button', { name: 'End meeting for all' }).click();
    await h.getByText('The meeting has ended: the host ended the meeting.').waitFor();
    await host.context.close();

    // The ended session's lock is written away: the room itself says it is open.
    const deadline = Date.now() + 10000;
    let record = await rest('GET', `/v1/rooms/${room}`);
    while (record.locked && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      record = await rest('GET', `/v1/rooms/${room}`);
    }
    assert.equal(record.locked, false, 'the room is still locked after the meeting ended');

    // Next class: the host comes back, and so does a student.
    const again = await tryJoin(browser, joinLink(room, 'hana', 'host', 'Hana Host'));
    assert.equal(again.refusal, null, `the host is refused: ${again.refusal}`);
    assert.equal(await again.page.evaluate(() => window.caucusApp.client.locked), false);
    await again.page.getByRole('tab', { name: 'Breakouts' }).click();
    await again.page.getByRole('button', { name: /Lock room/ }).waitFor();
    const student = await tryJoin(browser, joinLink(room, 'stu', 'guest', 'Stu'));
    assert.equal(student.refusal, null, `the student is refused: ${student.refusal}`);
  } finally {
    await browser.close();
  }
});

test('defects: "Claim and go there" takes the moderator into a full room, claimed', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('helpfull');
    await createRoom(room);
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 1400, height: 1000, media: false });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { media: false });
    const m = mod.page;
    // One room for one student, Gus in it.
    const b = await m.evaluate(async (gusId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1, capacity: 1 })).breakouts_created.rooms;
      await client.assign({ [gusId]: id });
      await client.openBreakouts();
      return id;
    }, gus.peerId);
    await until(gus.page, (id) => window.caucusApp.client.self.location === id, b);

    await gus.page.getByRole('button', { name: /Ask for help/ }).click();
    await m.getByRole('tab', { name: 'Breakouts' }).click();
    await m.getByRole('button', { name: /^Claim: help Gus/ }).click();

    // The moderator stands in the full room, and the request is its own.
    await until(m, (id) => window.caucusApp.client.self.location === id, b);
    await m.getByText('claimed by Mo Moderator').waitFor();
    const toasts = await m.getByRole('alert').allInnerTexts();
    assert.ok(!toasts.some((t) => /full/i.test(t)), `a refusal shown: ${toasts.join(' | ')}`);
  } finally {
    await browser.close();
  }
});

test('defects: pre-assigning into a full room is refused with a sentence', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('prefull');
    await createRoom(room);
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 1400, height: 1000, media: false });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { media: false });
    const m = mod.page;
    // One room for one student, Gus planned into it.
    await m.evaluate(async (gusId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1, capacity: 1 })).breakouts_created.rooms;
      await client.assign({ [gusId]: id });
    }, gus.peerId);
    await m.getByRole('tab', { name: 'Breakouts' }).click();
    await m.locator('#pre-user').fill('lou');
    await m.locator('#pre-room').selectOption({ label: 'Room 1' });
    await m.getByRole('button', { name: 'Pre-assign', exact: true }).click();

    const alert = m.getByRole('alert').filter({ hasText: /\S/ });
    await alert.waitFor();
    assert.match(await alert.innerText(), /That room is full\. \(Room 1 takes 1 at most, pre-assignments included\)/);
    assert.deepEqual(await m.evaluate(() => window.caucusApp.client.breakouts.preassignments ?? {}), {});
    assert.equal(await m.locator('#pre-list').getByText('lou').count(), 0);
  } finally {
    await browser.close();
  }
});

test('defects: back from a breakout, the People list shows who joined meanwhile', { timeout: 120000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('people');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1400, height: 1000, media: false });
    const ana = await join(browser, joinLink(room, 'ana', 'guest', 'Ana'), { media: false });
    const b = await host.page.evaluate(async (anaId) => {
      const client = window.caucusApp.client;
      const [id] = (await client.createBreakouts({ count: 1 })).breakouts_created.rooms;
      await client.assign({ [anaId]: id });
      await client.openBreakouts();
      return id;
    }, ana.peerId);
    await until(ana.page, (id) => window.caucusApp.client.self.location === id, b);

    // Ben joins main while Ana is away; then the rooms close.
    await join(browser, joinLink(room, 'ben', 'guest', 'Ben'), { media: false });
    await host.page.evaluate(() => window.caucusApp.client.closeBreakouts({ countdown_s: 0 }));
    await until(ana.page, () => window.caucusApp.client.self.location === 'main');

    await ana.page.getByRole('tab', { name: /People/ }).click();
    await ana.page.locator('#people-list').getByText('Ben', { exact: true }).waitFor({ timeout: 10000 });
  } finally {
    await browser.close();
  }
});
