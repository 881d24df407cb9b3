// What the TURN browser test and the join-time benchmark share: a Caucus per TURN setup and
// Chromium pages joined through the web SDK.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import dgram from 'node:dgram';

export const BIN = process.env.CAUCUS_BIN;
export const WAIT_MS = 20000;

/** A port free on 127.0.0.1 for `kind` ('tcp' or 'udp'). */
export function freePort(kind) {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp') {
      const server = net.createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = /** @type {net.AddressInfo} */ (server.address());
        server.close(() => resolve(port));
      });
    } else {
      const socket = dgram.createSocket('udp4');
      socket.on('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    }
  });
}

/** A Caucus on free ports telling joins `turnUrls` with credentials under `secret` (none: no TURN). */
export async function startCaucus(turnUrls, secret) {
  const http = await freePort('tcp');
  const media = await freePort('udp');
  const data = mkdtempSync(path.join(tmpdir(), 'caucus-turn-'));
  const child = spawn(BIN, ['serve', '--http', `127.0.0.1:${http}`, '--media', `127.0.0.1:${media}`, '--data', data], {
    env: {
      ...process.env,
      // No TURN at all when no URL is given (a secret without URLs is refused).
      ...(turnUrls.length ? { CAUCUS_TURN_URLS: JSON.stringify(turnUrls), CAUCUS_TURN_SECRET: secret } : {}),
      CAUCUS_AUTO_CREATE_ROOMS: 'true',
      CAUCUS_LOG: process.env.CAUCUS_LOG ?? 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (child.exitCode != null) throw new Error(`caucus exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('caucus did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = (user) => execFileSync(BIN, ['token', '--data', data, '--room', 'turn', '--user', user, '--role', 'host', '--ttl', '600'], { encoding: 'utf8' }).trim();
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(data, { recursive: true, force: true });
  };
  return { base, token, stop };
}

/**
 * A page of `base` with the SDK connected as `user`, relay only. TURN errors the browser reports
 * (`icecandidateerror`) are kept in `window.iceErrors`.
 */
export async function peer(browser, caucus, user, { relay = true } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`${user} page error:`, e.message));
  await page.addInitScript(() => {
    const w = /** @type {any} */ (window);
    w.iceErrors = [];
    const Native = window.RTCPeerConnection;
    w.RTCPeerConnection = class extends Native {
      constructor(config) {
        super(config);
        w.pcConfig = config;
        this.addEventListener('icecandidateerror', (e) => w.iceErrors.push({ code: e.errorCode, url: e.url, text: e.errorText }));
      }
    };
  });
  await page.goto(`${caucus.base}/`);
  await page.evaluate(async ({ token, relay }) => {
    const w = /** @type {any} */ (window);
    const { CaucusClient } = await import('/assets/caucus.js');
    const client = new CaucusClient({ token, iceTransportPolicy: relay ? 'relay' : 'all' });
    w.client = client;
    client.addEventListener('slot', (e) => {
      const slot = /** @type {CustomEvent} */ (e).detail;
      if (slot.kind !== 'video' || !slot.mediaTrack) return;
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.srcObject = new MediaStream([slot.mediaTrack]);
      document.body.append(video);
    });
    await client.connect();
  }, { token: caucus.token(user), relay });
  return { context, page };
}

