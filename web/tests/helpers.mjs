// Shared helpers of the browser tests: the browser, join links, and "who is actually decoding".
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.CAUCUS_URL ?? 'http://127.0.0.1:7880';
const BIN = process.env.CAUCUS_BIN;
const DATA = process.env.CAUCUS_DATA;
export const SCREENSHOTS = process.env.SCREENSHOTS ?? 'test-artifacts/screenshots';

/** Headless Debian Chromium with fake devices; never a downloaded browser. `args`: more flags. */
export async function launch({ args = [] } = {}) {
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
      ...args,
    ],
  });
}

/** A join link minted by `caucus token` with the server's data dir. */
export function joinLink(room, user, role, name) {
  if (!BIN || !DATA) throw new Error('CAUCUS_BIN and CAUCUS_DATA must be set (run scripts/test-web)');
  const token = execFileSync(BIN, ['token', '--data', DATA, '--room', room, '--user', user, '--role', role, '--name', name, '--ttl', '3600'], { encoding: 'utf8' }).trim();
  return `${BASE}/rooms/${room}?token=${token}`;
}

let managementToken = null;

/** A management token (`caucus token --management`), minted once per test process. */
function management() {
  if (!BIN || !DATA) throw new Error('CAUCUS_BIN and CAUCUS_DATA must be set (run scripts/test-web)');
  managementToken ??= execFileSync(BIN, ['token', '--management', '--data', DATA, '--ttl', '900'], { encoding: 'utf8' }).trim();
  return managementToken;
}

/** One REST call with the management token; answers the parsed body (fails on an unexpected status). */
export async function rest(method, path, body, { status } = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${management()}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const ok = status ? response.status === status : response.ok;
  if (!ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a durable room through the REST API with a management token (`caucus token --management`). */
export async function createRoom(id) {
  await rest('POST', '/v1/rooms', { id, name: id, template: 'breakout' }, { status: 201 });
}

/** A room id no other test (or earlier run against the same data dir) uses. */
export function roomId(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/**
 * Opens a join link in a fresh context, passes the device preview, and waits for the join and
 * (unless `media: false`) the media connection.
 */
export async function join(browser, link, { width = 1280, height = 800, media = true } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'warning' || m.type() === 'error') console.error(`page ${m.type()}: ${m.text()}`); });
  page.on('dialog', (d) => d.accept()); // "Remove …?", "End the meeting for everyone?"
  await page.goto(link);
  await page.getByRole('button', { name: 'Join meeting' }).click();
  await page.waitForFunction((m) => window.caucusApp?.client?.self && (!m || window.caucusApp.client.state === 'connected'), media, { timeout: 30000 });
  const peerId = await page.evaluate(() => window.caucusApp.client.peerId);
  return { context, page, peerId };
}

/**
 * The videos this page decodes now (framesDecoded growing over 0.7 s on a slot, mapped to a
 * peer by the SDK's slot labels): peer ids, or `peerId:source` when `bySource`.
 */
async function decodingNow(page, bySource) {
  return page.evaluate(async (bySource) => {
    const client = window.caucusApp.client;
    const video = async () => (await client.receiveStats()).filter((s) => s.kind === 'video');
    const before = await video();
    await new Promise((r) => setTimeout(r, 700));
    const after = await video();
    const out = new Set();
    for (const a of after) {
      const b = before.find((x) => x.mid === a.mid);
      if (a.peerId && b && b.peerId === a.peerId && b.source === a.source && a.framesDecoded > b.framesDecoded) {
        out.add(bySource ? `${a.peerId}:${a.source}` : a.peerId);
      }
    }
    return [...out].sort();
  }, bySource);
}

async function waitDecoding(page, expected, bySource, { label = '', timeout = 20000 } = {}) {
  const want = [...expected].sort();
  const deadline = Date.now() + timeout;
  let seen = [];
  while (Date.now() < deadline) {
    seen = await decodingNow(page, bySource);
    if (JSON.stringify(seen) === JSON.stringify(want)) return;
  }
  throw new Error(`${label}: decoding ${JSON.stringify(seen)}, expected ${JSON.stringify(want)}`);
}

/**
 * Waits until the set of peers whose *video* this page decodes equals `expected`. Polls
 * getStats with a deadline; on timeout fails with what it saw.
 */
export async function expectDecoding(page, expected, options = {}) {
  return waitDecoding(page, expected, false, options);
}

/**
 * Like {@link expectDecoding}, by `peerId:source` (so a screen share and a camera of the same
 * peer are told apart).
 */
export async function expectDecodingSources(page, expected, options = {}) {
  return waitDecoding(page, expected, true, options);
}

/**
 * Waits until `peerId`'s audio reaches this page (`flowing: true`: packets arriving on its slot)
 * or stops reaching it (`flowing: false`: no slot, or no new packets for 1.5 s).
 */
export async function expectAudio(page, peerId, flowing, { label = '', timeout = 20000 } = {}) {
  const deadline = Date.now() + timeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await page.evaluate(async (peer) => {
      const client = window.caucusApp.client;
      const audio = async () => (await client.receiveStats()).find((s) => s.kind === 'audio' && s.peerId === peer && s.source === 'audio');
      const before = await audio();
      await new Promise((r) => setTimeout(r, 1500));
      const after = await audio();
      return { packets: after ? after.packetsReceived - (before?.packetsReceived ?? 0) : 0, slot: !!after };
    }, peerId);
    if ((last.packets > 0) === flowing) return;
  }
  throw new Error(`${label}: audio of ${peerId} ${flowing ? 'does not flow' : 'still flows'} (${JSON.stringify(last)})`);
}

/** Waits until `fn(arg)` is truthy in the page (the app is `window.caucusApp`). */
export function until(page, fn, arg, { timeout = 20000 } = {}) {
  return page.waitForFunction(fn, arg, { timeout });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
