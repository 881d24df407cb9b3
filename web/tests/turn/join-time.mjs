// Join time in a real browser by media path: from `connect()` to the first decoded frame of a
// camera already being published, for N joins each over the server's UDP host candidate and
// relay-only over TURN/UDP, TURN/TCP and TURN/TLS (coturn started by `scripts/test-turn
// --bench`). A benchmark, not a test: it prints the median and range per path and one JSON
// line, and asserts nothing about time.
import { launch } from '../helpers.mjs';
import { WAIT_MS, peer, startCaucus } from './harness.mjs';

const { TURN_PORT, TURN_TLS_PORT, TURN_SECRET } = process.env;
const JOINS = Number(process.env.JOINS ?? 10);
const browser = await launch({ args: ['--ignore-certificate-errors'] });

const paths = [
  ['UDP (host candidate)', [], false],
  ['TURN/UDP', [`turn:127.0.0.1:${TURN_PORT}?transport=udp`], true],
  ['TURN/TCP', [`turn:127.0.0.1:${TURN_PORT}?transport=tcp`], true],
  ['TURN/TLS', [`turns:127.0.0.1:${TURN_TLS_PORT}?transport=tcp`], true],
];
const results = [];
for (const [name, urls, relay] of paths) {
  const caucus = await startCaucus(urls, TURN_SECRET);
  try {
    const ana = await peer(browser, caucus, 'ana', { relay });
    const anaId = await ana.page.evaluate(async () => {
      const w = /** @type {any} */ (window);
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      await w.client.publish('video', stream.getVideoTracks()[0]);
      return w.client.peerId;
    });
    const times = [];
    for (let i = 0; i < JOINS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${caucus.base}/`);
      const ms = await page.evaluate(async ({ token, relay, anaId, wait }) => {
        const { CaucusClient } = await import('/assets/caucus.js');
        const client = new CaucusClient({ token, iceTransportPolicy: relay ? 'relay' : 'all' });
        client.addEventListener('slot', (e) => {
          const slot = /** @type {CustomEvent} */ (e).detail;
          if (slot.kind !== 'video' || !slot.mediaTrack) return;
          const video = document.createElement('video');
          video.muted = true;
          video.autoplay = true;
          video.srcObject = new MediaStream([slot.mediaTrack]);
          document.body.append(video);
        });
        const t0 = performance.now();
        await client.connect();
        for (;;) {
          const stats = await client.receiveStats();
          if (stats.some((s) => s.kind === 'video' && s.peerId === anaId && s.framesDecoded > 0)) break;
          if (performance.now() - t0 > wait) throw new Error('no frame decoded');
          await new Promise((r) => setTimeout(r, 5));
        }
        const elapsed = performance.now() - t0;
        await client.leave();
        return elapsed;
      }, { token: caucus.token(`joiner-${i}`), relay, anaId, wait: WAIT_MS });
      times.push(ms);
      await context.close();
    }
    await ana.context.close();
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    results.push({ path: name, joins: times.length, median_ms: Math.round(median), min_ms: Math.round(times[0]), max_ms: Math.round(times[times.length - 1]) });
    console.log(`${name.padEnd(22)} join → first decoded frame: median ${median.toFixed(0)} ms (${times[0].toFixed(0)}–${times[times.length - 1].toFixed(0)} ms, n = ${times.length})`);
  } finally {
    await caucus.stop();
  }
}
console.log(JSON.stringify({ benchmark: 'browser-join-time', results }));
await browser.close();
