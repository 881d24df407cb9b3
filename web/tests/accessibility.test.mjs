// Accessibility: the console's main flow by keyboard only (arrow keys between tabs, Tab and
// Enter, a select changed with the arrow keys) on a narrow window; every control of the
// meeting and the console has an accessible name (Chromium's own accessibility tree); nothing
// overflows the narrow window sideways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, screenshot, createRoom, roomId, until } from './helpers.mjs';

/** Interactive nodes of Chromium's accessibility tree that have no name (there must be some controls at all). */
async function unnamedControls(page) {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  await cdp.detach();
  const interactive = new Set(['button', 'textbox', 'combobox', 'checkbox', 'spinbutton', 'radio', 'tab', 'link', 'slider', 'switch', 'menuitem', 'searchbox', 'DisclosureTriangle', 'listbox']);
  const controls = nodes.filter((n) => !n.ignored && interactive.has(n.role?.value));
  assert.ok(controls.length >= 10, `only ${controls.length} controls in the accessibility tree`);
  return controls.filter((n) => !(n.name?.value ?? '').trim()).map((n) => `${n.role.value}#${n.backendDOMNodeId}`);
}

/** The id of the focused element. */
function focusedId(page) {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

test('accessibility: the console by keyboard on a narrow window, names on every control', { timeout: 90000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('a11y');
    await createRoom(room);
    const mod = await join(browser, joinLink(room, 'mo', 'moderator', 'Mo Moderator'), { width: 420, height: 900 });
    const gus = await join(browser, joinLink(room, 'gus', 'guest', 'Gus'), { width: 420, height: 900 });
    const m = mod.page;

    // Tabs: arrow keys move between them; Enter/Space are not needed (selection follows focus).
    await m.getByRole('tab', { name: /People/ }).focus();
    await m.keyboard.press('ArrowRight');
    await m.keyboard.press('ArrowRight');
    assert.equal(await focusedId(m), 'tab-console');
    await m.getByRole('tabpanel', { name: 'Breakouts' }).waitFor();

    // Tab into the console: number of rooms, capacity, then "Create rooms" with Enter.
    await m.keyboard.press('Tab');
    assert.equal(await focusedId(m), 'bo-count');
    await m.keyboard.press('Control+A');
    await m.keyboard.type('2');
    await m.keyboard.press('Tab');
    assert.equal(await focusedId(m), 'bo-capacity');
    await m.keyboard.press('Tab');
    assert.equal(await focusedId(m), 'bo-create');
    await m.keyboard.press('Enter');
    await m.getByLabel('Name of Room 2').waitFor();

    // Assign Gus with the arrow keys on his select; the choice holds and focus stays there.
    await m.getByLabel('Room for Gus').focus();
    await m.keyboard.press('ArrowDown');
    await until(m, (p) => window.caucusApp.client.breakouts.rooms[0].assigned.includes(p), gus.peerId);
    assert.equal(await focusedId(m), `assign-${gus.peerId}`);

    // Open the rooms with Enter on the focused button: Gus moves.
    await m.getByRole('button', { name: 'Open rooms' }).focus();
    await m.keyboard.press('Enter');
    await until(gus.page, () => window.caucusApp.client.self.location !== 'main');
    await gus.page.locator('#banner-room', { hasText: 'Room 1' }).waitFor();

    // Gus asks for help with the keyboard; the moderator's help queue gets it.
    await gus.page.getByRole('button', { name: /Ask for help/ }).focus();
    await gus.page.keyboard.press('Enter');
    await m.locator('#console-help').getByText('Gus in Room 1').waitFor();
    await m.getByRole('button', { name: 'Dismiss: help Gus' }).focus();
    await m.keyboard.press('Enter');
    await m.locator('#console-help').getByText('Nobody is asking for help.').waitFor();

    // Labels: Chromium's accessibility tree names every control, console included.
    assert.deepEqual(await unnamedControls(m), [], 'unnamed controls on the moderator page');
    assert.deepEqual(await unnamedControls(gus.page), [], 'unnamed controls on the guest page');
    for (const label of ['Number of rooms', 'Capacity per room', 'Duration in minutes', 'Closing countdown in seconds', 'Message to all rooms', 'Name of Room 1', 'Capacity of Room 1', 'Password of Room 1', 'Room for Gus']) {
      assert.equal(await m.getByLabel(label).count() >= 1, true, `a control labelled ${label}`);
    }

    // Narrow: nothing wider than the window.
    for (const p of [m, gus.page]) {
      const { scroll, width } = await p.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      assert.ok(scroll <= width, `page is ${scroll}px wide in a ${width}px window`);
    }
    await screenshot(m, 'console-narrow');
    await screenshot(gus.page, 'breakout-narrow');
  } finally {
    await browser.close();
  }
});
