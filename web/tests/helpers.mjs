// Shared helpers of the browser tests: the browser, join links, and "who is actually decoding".
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.CAUCUS_URL ?? 'http://127.0.0.1:7880';
const BIN = process.env.CAUCUS_BIN;
const DATA = process.env.CAUCUS_DATA;
export const SCREENSHOTS = process.env.SCREENSHOTS ?? 'test-artifacts/screenshots';

/** Headless Debian Chromium with fake devices; never a downloaded browser. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking',
    ],
  });
}

/** A join link minted by `caucus token` with the server's data dir. */
export function joinLink(room, user, role, name) {
  if (!BIN || !DATA) throw new Error('CAUCUS_BIN and CAUCUS_DATA must be set (run scripts/test-web)');
  const token = execFileSync(BIN, ['token', '--data', DATA, '--room', room, '--user', user, '--role', role, '--name', name, '--ttl', '3600'], { encoding: 'utf8' }).trim();
  return `${BASE}/rooms/${room}?token=${token}`;
}

/** Creates a durable room through the REST API with a management token (`caucus token --management`). */
export async function createRoom(id) {
  if (!BIN || !DATA) throw new Error('CAUCUS_BIN and CAUCUS_DATA must be set (run scripts/test-web)');
  const token = execFileSync(BIN, ['token', '--management', '--data', DATA, '--ttl', '600'], { encoding: 'utf8' }).trim();
  const response = await fetch(`${BASE}/v1/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: id, template: 'breakout' }),
  });
  if (response.status !== 201) throw new Error(`creating room ${id}: ${response.status} ${await response.text()}`);
}

/** Opens a join link in a fresh context, passes the device preview, and waits for the join. */
export async function join(browser, link, { width = 1280, height = 800 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') console.error(`page ${m.type()}: ${m.text()}`); });
  await page.goto(link);
  await page.getByRole('button', { name: 'Join meeting' }).click();
  await page.waitForFunction(() => window.caucusApp?.client?.self && window.caucusApp.client.state === 'connected', null, { timeout: 15000 });
  const peerId = await page.evaluate(() => window.caucusApp.client.peerId);
  return { context, page, peerId };
}

/**
 * Waits until the set of peers whose *video* this page decodes (framesDecoded growing on a
 * slot, mapped to a peer by the SDK's slot labels) equals `expected`. Polls getStats with a
 * deadline; on timeout fails with what it saw.
 */
export async function expectDecoding(page, expected, { label = '', timeout = 20000 } = {}) {
  const want = [...expected].sort();
  const deadline = Date.now() + timeout;
  let seen = [];
  while (Date.now() < deadline) {
    seen = await page.evaluate(async () => {
      const client = window.caucusApp.client;
      const video = async () => (await client.receiveStats()).filter((s) => s.kind === 'video');
      const before = await video();
      await new Promise((r) => setTimeout(r, 700));
      const after = await video();
      const out = new Set();
      for (const a of after) {
        const b = before.find((x) => x.mid === a.mid);
        if (a.peerId && b && b.peerId === a.peerId && a.framesDecoded > b.framesDecoded) out.add(a.peerId);
      }
      return [...out].sort();
    });
    if (JSON.stringify(seen) === JSON.stringify(want)) return;
  }
  throw new Error(`${label}: decoding ${JSON.stringify(seen)}, expected ${JSON.stringify(want)}`);
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
