// The landing page's one-click demo join, a refused link, chat and raised hands, and the
// meeting on a narrow window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, join, screenshot } from './helpers.mjs';

async function demoLink(role, name) {
  const res = await fetch(`${BASE}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role, name }) });
  assert.equal(res.status, 200);
  return `${BASE}${(await res.json()).url}`;
}

test('landing: join the demo room in one click; chat, hands, a refused link, a narrow window', { timeout: 60000 }, async () => {
  const browser = await launch();
  try {
    // An unknown role is refused by the demo endpoint.
    const bad = await fetch(`${BASE}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin' }) });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).code, 'unknown_role');

    const host = await join(browser, await demoLink('host', 'Hana Host'));

    // A guest on a narrow window joins through the landing page.
    const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${BASE}/`);
    await page.getByLabel('Your name').fill('Lena');
    await page.getByRole('radio', { name: /guest/ }).check();
    await screenshot(page, 'landing-narrow');
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.waitForURL(/\/rooms\/demo$/);
    await page.getByRole('button', { name: 'Join meeting' }).click();
    await page.waitForFunction(() => window.caucusApp?.client?.state === 'connected');
    assert.equal(await page.evaluate(() => window.caucusApp.client.self.name), 'Lena');
    assert.equal(await page.evaluate(() => window.caucusApp.client.self.role), 'guest');

    // The host raises a hand and writes to the main room; the guest sees both.
    await host.page.getByRole('button', { name: /Raise hand/ }).click();
    await page.locator(`.tile[data-peer="${host.peerId}"] [aria-label="Hand raised"]`).waitFor();
    await host.page.getByRole('tab', { name: /Chat/ }).click();
    await host.page.getByLabel('Message', { exact: true }).fill('Welcome, everyone');
    await host.page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('tab', { name: /Chat \(1\)/ }).click();
    await page.locator('#chat-list').getByText('Welcome, everyone').waitFor();
    await screenshot(page, 'meeting-narrow-chat');
    await screenshot(host.page, 'meeting-host-chat');

    // A guest may not share its camera in main: trying says so.
    await page.getByRole('tab', { name: /People/ }).click();
    await page.locator('#publish-note').getByText(/does not share/).waitFor();

    // A broken link is refused with a clear sentence.
    const broken = await context.newPage();
    await broken.goto(`${BASE}/rooms/demo?token=not-a-token`);
    await broken.getByRole('button', { name: 'Join meeting' }).click();
    await broken.getByRole('alert').getByText('This join link is not valid.').waitFor();
    await screenshot(broken, 'refused-link');
  } finally {
    await browser.close();
  }
});
