// The join token leaves the address bar once the meeting page has read it (and a reload of the
// tab still joins); the page runs under the server's Content-Security-Policy without a
// violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, createRoom, roomId } from './helpers.mjs';

test('websec: the token is gone from the address bar after load; the policy blocks nothing of the app', { timeout: 60000 }, async () => {
  const browser = await launch();
  try {
    const room = roomId('websec');
    await createRoom(room);
    const link = joinLink(room, 'tess', 'host', 'Tess');
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    const response = await page.goto(`${link}&lang=en#top`);
    assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);

    await page.getByRole('button', { name: 'Join meeting' }).waitFor();
    const url = new URL(page.url());
    assert.equal(url.pathname, `/rooms/${room}`);
    assert.equal(url.searchParams.get('token'), null, `the token is still in ${page.url()}`);
    assert.equal(url.searchParams.get('lang'), 'en', 'other parameters stay');
    assert.equal(url.hash, '#top');
    assert.ok(!(await page.evaluate(() => location.href)).includes('token='));

    // The tab still joins after a reload (the Rejoin button reloads), with the token gone.
    await page.reload();
    await page.getByRole('button', { name: 'Join meeting' }).click();
    await page.waitForFunction(() => window.caucusApp?.client?.state === 'connected', null, { timeout: 30000 });
    assert.equal(await page.evaluate(() => window.caucusApp.client.self.name), 'Tess');
    assert.ok(!page.url().includes('token='), page.url());
    assert.deepEqual(violations, []);
  } finally {
    await browser.close();
  }
});
