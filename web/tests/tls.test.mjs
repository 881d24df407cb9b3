// HTTPS served by Caucus itself: a second server, started here with a self-signed certificate
// (made with openssl) in `tls_cert` and `tls_key`, prints https:// join links; Chromium (told to
// ignore the unknown issuer) opens the room page over https, its SDK signals over wss:// on the
// same port, and two people joined that way decode each other's video.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { launch, join, expectDecoding, screenshot } from './helpers.mjs';

const BIN = process.env.CAUCUS_BIN;

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, in `dir`. */
function selfSigned(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=caucus-web-test',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { cert, key };
}

/**
 * `caucus serve` with TLS on free ports and the demo room; resolves with the process, the base
 * URL and the printed join links by role once it says it is running.
 */
function serveTls(dir, { cert, key }) {
  const server = spawn(BIN, ['serve', '--http', '127.0.0.1:0', '--media', '127.0.0.1:0', '--data', path.join(dir, 'data'),
    '--tls-cert', cert, '--tls-key', key], { env: { ...process.env, CAUCUS_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    let base = null;
    const links = {};
    server.on('exit', (code) => reject(new Error(`caucus exited with ${code} before it ran`)));
    lines.on('line', (line) => {
      const running = line.match(/^Caucus is running: (\S+)$/);
      if (running) base = running[1];
      const link = line.match(/^\s+(\S+)\s+(https?:\/\/\S+\/rooms\/\S+)$/);
      if (link) links[link[1]] = link[2];
      if (line.startsWith('Press Ctrl-C')) resolve({ server, base, links });
    });
  });
}

test('tls: the room page over https signals over wss and decodes video', { timeout: 120000 }, async () => {
  if (!BIN) throw new Error('CAUCUS_BIN must be set (run scripts/test-web)');
  const dir = mkdtempSync(path.join(tmpdir(), 'caucus-web-tls-'));
  const { server, base, links } = await serveTls(dir, selfSigned(dir));
  const browser = await launch({ args: ['--ignore-certificate-errors'] });
  try {
    assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(links.host?.startsWith(`${base}/rooms/demo?token=`), JSON.stringify(links));
    assert.ok(links.moderator?.startsWith(`${base}/rooms/demo?token=`), JSON.stringify(links));

    const host = await join(browser, links.host);
    const other = await join(browser, links.moderator);
    for (const p of [host, other]) {
      assert.equal(await p.page.evaluate(() => location.protocol), 'https:');
      assert.equal(await p.page.evaluate(() => window.isSecureContext), true);
      // The SDK chose the scheme itself from the page's (the app gives it no URL).
      assert.equal(await p.page.evaluate(() => window.caucusApp.client.ws.url), `${base.replace(/^https:/, 'wss:')}/v1/rtc?room=demo`);
    }
    await expectDecoding(host.page, [other.peerId], { label: 'the host decodes the moderator' });
    await expectDecoding(other.page, [host.peerId], { label: 'the moderator decodes the host' });
    await screenshot(host.page, 'meeting-over-https');
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => { if (server.exitCode !== null) resolve(); else server.on('exit', resolve); });
    rmSync(dir, { recursive: true, force: true });
  }
});
