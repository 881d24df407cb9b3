// The moderator's console, flow by flow, as a user sees it: rename and capacity, a
// pre-assignment by user id, options, auto-assign that leaves managers in main, opening with a
// timer and extending it, listen-in (decoded while staying in main), broadcast, moving someone
// between rooms, self-select, the help queue (claim moves the moderator there, dismiss
// removes), lock, end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, screenshot, createRoom, roomId, until, rest } from './helpers.mjs';

/** Seconds in an `m:ss left` text. */
function seconds(text) {
  const m = /(\d+):(\d\d) left/.exec(text);
  assert.ok(m, `no time in ${JSON.stringify(text)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

test('console: rooms, pre-assignment, auto-assign, timer, listen-in, broadcast, help, move, lock, end', { timeout: 240000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('console');
    await createRoom(room);
    const host = await join(browser, joinLink(room, 'hana', 'host', 'Hana Host'), { width: 1000, height: 700 });
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 1400, height: 1000 });
    const guests = [];
    for (const [i, name] of ['Gus', 'Gia', 'Gil'].entries()) {
      guests.push(await join(browser, joinLink(room, `g${i + 1}`, 'guest', name), { width: 1000, height: 700 }));
    }
    const m = mod.page;
    await m.getByRole('tab', { name: 'Breakouts' }).click();

    // Two rooms; rename the first "Red" and the second "Blue" with a capacity of 5.
    await m.getByLabel('Number of rooms').fill('2');
    await m.getByRole('button', { name: 'Create rooms' }).click();
    await m.getByLabel('Name of Room 2').waitFor();
    await m.getByLabel('Name of Room 1').fill('Red');
    await m.getByLabel('Name of Room 1').press('Enter');
    await m.getByLabel('Name of Red').waitFor();
    await m.getByLabel('Name of Room 2').fill('Blue');
    await m.getByLabel('Name of Room 2').press('Enter');
    await m.getByLabel('Capacity of Blue').fill('5');
    await m.getByLabel('Capacity of Blue').press('Enter');
    await m.getByRole('group', { name: 'Blue' }).getByText('0 of 5 inside').waitFor();
    const [red, blue] = await m.evaluate(() => window.caucusApp.client.breakouts.rooms.map((r) => r.id));

    // Pre-assign a user who has not joined yet.
    await m.getByRole('textbox', { name: 'User id' }).fill('lou');
    await m.getByLabel('Room', { exact: true }).selectOption({ label: 'Blue' });
    await m.getByRole('button', { name: 'Pre-assign' }).click();
    await m.getByRole('list', { name: 'Pre-assignments' }).getByText('→ Blue').waitFor();
    await m.getByRole('group', { name: 'Blue' }).getByText('pre-assigned, not here yet').waitFor();

    // Options: no return to main; move people on opening.
    await m.getByLabel('May return to main').uncheck();
    await until(m, () => window.caucusApp.client.breakouts.options.allow_return_to_main === false);
    assert.equal(await m.getByLabel('Move people when opening').isChecked(), true);

    // Auto-assign leaves host, co-host and moderator in main.
    await m.getByRole('button', { name: 'Auto-assign evenly' }).click();
    await until(m, () => window.caucusApp.client.breakouts.rooms.reduce((n, r) => n + r.assigned.length, 0) === 3);
    const mainChips = await m.locator('.main-card .chip').evaluateAll((els) => els.map((e) => e.getAttribute('data-peer')).sort());
    assert.deepEqual(mainChips, [host.peerId, mod.peerId].sort());
    await screenshot(m, 'console-auto-assigned');

    // Open with a 10-minute timer: everyone moves; the timer runs and grows when extended.
    await m.getByLabel('Duration in minutes').fill('10');
    await m.getByRole('button', { name: 'Open rooms' }).click();
    const plan = await m.evaluate(() => Object.fromEntries(window.caucusApp.client.breakouts.rooms.flatMap((r) => r.assigned.map((p) => [p, r.id]))));
    for (const g of guests) await until(g.page, (to) => window.caucusApp.client.self.location === to, plan[g.peerId]);
    // A move shares the camera switched off: each guest starts its video.
    for (const g of guests) {
      await until(g.page, () => window.caucusApp.client.published.has('video'));
      await g.page.getByRole('button', { name: /Start video/ }).click();
      await until(g.page, () => window.caucusApp.client.published.get('video')?.muted === false);
    }
    const inRed = guests.filter((g) => plan[g.peerId] === red);
    const inBlue = guests.filter((g) => plan[g.peerId] === blue);
    assert.ok(inRed.length >= 1 && inBlue.length >= 1, 'both rooms have guests');
    const g0 = guests[0].page;
    await g0.locator('#time-left').waitFor();
    const before = seconds(await g0.locator('#time-left').innerText());
    assert.ok(before > 500 && before <= 600, `time left ${before}`);
    assert.equal(await g0.getByRole('button', { name: 'Return to main room' }).count(), 0, 'returning is not allowed');
    await m.getByLabel('Extend by minutes').fill('5');
    await m.getByRole('button', { name: 'Extend' }).click();
    await until(g0, (min) => {
      const t = /(\d+):(\d\d) left/.exec(document.getElementById('time-left')?.textContent ?? '');
      return t && Number(t[1]) * 60 + Number(t[2]) > min;
    }, before + 240);
    assert.ok(seconds(await m.locator('#console-timer').innerText()) > before + 240, 'the console shows the longer time too');

    // Listen-in: the moderator decodes Red while staying in main; stopping ends it.
    await m.getByRole('button', { name: 'Listen in to Red' }).click();
    await expectDecoding(m, [host.peerId, ...inRed.map((g) => g.peerId)], { label: 'moderator listening to Red' });
    assert.equal(await m.evaluate(() => window.caucusApp.client.self.location), 'main');
    await m.locator('#mainstage').getByText('Listening: Red').waitFor();
    await screenshot(m, 'console-listen-in');
    await m.getByRole('button', { name: 'Stop listening to Red' }).click();
    await expectDecoding(m, [host.peerId], { label: 'moderator after listening' });

    // Broadcast: every room reads it.
    await m.getByLabel('Message to all rooms').fill('Five minutes left, wrap up');
    await m.getByRole('button', { name: 'Broadcast' }).click();
    for (const g of guests) await g.page.locator('#toasts').getByText('Five minutes left, wrap up').waitFor();

    // Move someone from Red to Blue.
    const mover = inRed[0];
    await m.getByLabel(`Room for ${await mover.page.evaluate(() => window.caucusApp.client.self.name)}`).selectOption(blue);
    await until(mover.page, (b) => window.caucusApp.client.self.location === b, blue);
    await mover.page.locator('#banner-room', { hasText: 'Blue' }).waitFor();

    // Self-select on: a guest is offered the other room (its own says "you are here").
    await m.getByLabel('People may choose a room').check();
    await until(g0, () => window.caucusApp.client.breakouts.options.allow_self_select);
    const here = await g0.evaluate(() => window.caucusApp.client.self.location);
    await g0.getByRole('tab', { name: 'Rooms' }).click();
    await g0.getByRole('heading', { name: 'Choose a room' }).waitFor();
    await g0.getByRole('button', { name: here === red ? 'Join Blue' : 'Join Red' }).waitFor();
    await g0.locator(`#room-list li[data-room="${here}"]`).getByText('you are here').waitFor();

    // The help queue: a guest asks; claiming takes the moderator to that room. Another is dismissed.
    const asker = guests.find((g) => g !== mover && plan[g.peerId] === blue) ?? mover;
    const askerName = await asker.page.evaluate(() => window.caucusApp.client.self.name);
    await asker.page.getByRole('button', { name: /Ask for help/ }).click();
    const help = m.locator('#console-help');
    await help.getByText(`${askerName} in Blue`).waitFor();
    await screenshot(m, 'console-help');
    await help.getByRole('button', { name: `Claim: help ${askerName} in Blue` }).click();
    await until(m, (b) => window.caucusApp.client.self.location === b, blue);
    await help.getByText('claimed by Mo Moderator').waitFor();
    assert.match(await m.locator('#where').innerText(), /Blue/);
    const blueNow = await m.evaluate((b) => window.caucusApp.client.breakouts.rooms.find((r) => r.id === b).peers, blue);
    await expectDecoding(m, blueNow.filter((p) => p !== mod.peerId), { label: 'moderator standing in Blue' });
    await help.getByRole('button', { name: `Dismiss: help ${askerName}` }).click();
    await help.getByText('Nobody is asking for help.').waitFor();

    // The pre-assigned user arrives straight in Blue.
    const lou = await join(browser, joinLink(room, 'lou', 'guest', 'Lou'), { width: 800, height: 600, media: false });
    assert.equal(await lou.page.evaluate(() => window.caucusApp.client.self.location), blue);
    assert.equal(await lou.page.locator('#banner-room').innerText(), 'Blue');
    await lou.context.close();

    // Lock: a newcomer is refused with a clear sentence; the header says locked.
    await m.getByRole('button', { name: /Lock room/ }).click();
    await host.page.locator('#where').getByText(/locked/).waitFor();
    const late = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const latePage = await late.newPage();
    await latePage.goto(joinLink(room, 'zed', 'guest', 'Zed'));
    await latePage.getByRole('button', { name: 'Join meeting' }).click();
    // Whatever the page says, say it on failure.
    const refusal = latePage.getByRole('alert').filter({ hasText: /\S/ });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /The room is locked\./);
    await late.close();

    // End (the host's right): everyone sees that the meeting has ended.
    await host.page.getByRole('tab', { name: 'Breakouts' }).click();
    await host.page.getByRole('button', { name: 'End meeting for all' }).click();
    for (const p of [m, ...guests.map((g) => g.page)]) await p.getByText('The meeting has ended: the host ended the meeting.').waitFor();
    await screenshot(guests[0].page, 'meeting-ended');
  } finally {
    await browser.close();
  }
});

// A room on another template: the console, the People panel and the chat offer that
// template's roles — learned from the `joined` event — not the built-in ones.
test('console: a room on another template offers its roles', { timeout: 120000 }, async () => {
  const template = roomId('class');
  await rest('POST', '/v1/templates', {
    id: template, name: 'Class',
    roles: {
      teacher: { priority: 50, publish: { allowed: ['audio', 'video', 'screen'] }, subscribe: { roles: ['teacher', 'speaker'] }, permissions: { manage_breakouts: true, change_role: true, move_peers: true, send_chat: true, see_peer_list: true } },
      pupil: { priority: 5, subscribe: { roles: ['teacher'] }, permissions: { send_chat: true }, breakout_role: 'speaker' },
      speaker: { priority: 5, publish: { allowed: ['audio'] }, subscribe: { roles: ['teacher', 'speaker'] }, permissions: { send_chat: true } },
    },
  }, { status: 201 });
  const room = roomId('classroom');
  await rest('POST', '/v1/rooms', { id: room, name: room, template }, { status: 201 });
  const browser = await launch();
  try {
    const teacher = await join(browser, joinLink(room, 'tina', 'teacher', 'Tina Teacher'), { width: 1400, height: 1000, media: false });
    const pupil = await join(browser, joinLink(room, 'pia', 'pupil', 'Pia Pupil'), { width: 800, height: 600, media: false });
    const m = teacher.page;
    const names = await m.evaluate(() => window.caucusApp.client.roles.map((r) => r.name));
    assert.deepEqual(names, ['teacher', 'pupil', 'speaker'], 'highest priority first, then by name');

    await m.getByRole('tab', { name: 'Breakouts' }).click();
    const exclude = m.getByRole('group', { name: 'Auto-assign leaves these roles in main' });
    const boxes = await exclude.getByRole('checkbox').evaluateAll((els) => els.map((e) => [e.getAttribute('value'), e.checked]));
    assert.deepEqual(boxes, [['teacher', true], ['pupil', false], ['speaker', false]], 'the managing role stays in main by default');
    const options = (label) => m.getByLabel(label).evaluate((s) => [...s.options].map((o) => `${o.value}${o.selected ? '*' : ''}`));
    assert.deepEqual(await options('Change everyone with role'), ['teacher', 'pupil*', 'speaker']);
    assert.deepEqual(await options('to the role'), ['teacher', 'pupil', 'speaker*']);

    // The main stage of a room is the role that presents (shares a screen) here.
    await m.getByLabel('Number of rooms').fill('1');
    await m.getByRole('button', { name: 'Create rooms' }).click();
    await m.getByLabel('Name of Room 1').waitFor();
    await m.getByRole('group', { name: 'Room 1' }).getByLabel('Sees the main stage').check();
    await until(m, () => JSON.stringify(window.caucusApp.client.breakouts.rooms[0].visibility) === JSON.stringify({ main_stage: { roles: ['teacher'] } }));

    // A role change and chat to a role offer the same roles.
    await m.getByRole('tab', { name: /People/ }).click();
    await m.getByLabel('Actions for Pia Pupil', { exact: true }).click();
    assert.deepEqual(await options('New role for Pia Pupil'), ['teacher', 'pupil*', 'speaker']);
    const scopes = await m.locator('#chat-scope option').evaluateAll((els) => els.map((o) => o.textContent).filter((l) => l.startsWith('Role: ')));
    assert.deepEqual(scopes, ['Role: teacher', 'Role: pupil', 'Role: speaker']);
    await pupil.context.close();
  } finally {
    await browser.close();
  }
});
