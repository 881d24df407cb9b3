// One publisher and one receiver in headless Chromium, run by scripts/test-netns inside the
// client's network namespace: both join the same room over the test network, and the receiver
// must decode the publisher's video (framesDecoded growing on its inbound-rtp). Prints one line
// `RESULT {json}` with the evidence — frames decoded, the selected ICE candidate pair, the links
// used — and exits non-zero when media does not arrive or the pair is not the expected one.
//
// Environment (set by scripts/test-netns):
//   CAUCUS_URL            the server as the client reaches it (REST calls, minted links)
//   CAUCUS_BIN/CAUCUS_DATA  `caucus token` with the server's data dir (see ../helpers.mjs)
//   NETNS_ROOM            the room to join
//   NETNS_PUBLISHER_LINK  a join link to use for the publisher instead of minting one
//   NETNS_PUBLISHER_ROLE  the publisher's role when its link is minted (default host)
//   NETNS_LINKS_VIA_REST  "1": mint the receiver's link with POST /v1/tokens (its `url`)
//   NETNS_LINK_PREFIX     every link used must start with this (e.g. "https://10.231.1.2/")
//   NETNS_REMOTE_IP       the server address the selected pair must reach
//   NETNS_REMOTE_PORT     and its port, when set
//   NETNS_PROTOCOL        the selected pair's protocol: "udp" (default) or "tcp"
//   NETNS_BREAKOUT        "1": then move the receiver into a breakout that watches the main
//                         stage (REST) and check it still decodes the publisher there
//   NETNS_CHANGE_FILE     then print `CHANGE`, wait until this file exists (the script has
//                         changed the network meanwhile, e.g. UDP now dropped) and check that
//                         the pages recover by themselves (ICE switching paths, or the app
//                         rejoining) — the same peers, the receiver still in its breakout —
//                         and decode again over NETNS_CHANGE_PROTOCOL
//   NETNS_CHANGE_PROTOCOL the selected pair's protocol after the change (default "tcp")
//   NETNS_INSECURE_ORIGIN an http origin Chromium treats as secure (camera allowed)
//   NETNS_TIMEOUT_MS      how long media may take to arrive (default 30000)
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { join, joinLink, expectDecoding, rest, until } from '../helpers.mjs';

const env = process.env;
const room = env.NETNS_ROOM ?? 'netns';
const protocol = env.NETNS_PROTOCOL ?? 'udp';
const timeout = Number(env.NETNS_TIMEOUT_MS ?? 30000);
const evidence = { room, links: {} };

function check(ok, message) {
  if (!ok) throw new Error(message);
}

/** Headless Debian Chromium with fake devices, on the namespace's own addresses. */
async function launch() {
  const args = [
    '--no-sandbox',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking',
    // The test certificate is self-signed (scenario "nginx with TLS").
    '--ignore-certificate-errors',
  ];
  if (env.NETNS_INSECURE_ORIGIN) args.push(`--unsafely-treat-insecure-origin-as-secure=${env.NETNS_INSECURE_ORIGIN}`);
  return chromium.launch({ executablePath: env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args });
}

/** A link for `user`: minted by POST /v1/tokens (the server's own link) or by `caucus token`. */
async function link(user, role) {
  if (env.NETNS_LINKS_VIA_REST === '1') {
    const answer = await rest('POST', '/v1/tokens', { room, user_id: user, role, ttl_s: 900 });
    return answer.url;
  }
  return joinLink(room, user, role, user);
}

/**
 * A join (../helpers.mjs: the page, then the media connection), its failure named. A page that
 * never even opened its signaling connection (no `self`: nothing reached the server) is given
 * one more try in a fresh context, and the retry is kept as evidence: a freshly built
 * namespace's interfaces can still be settling when Chromium starts, and Chromium drops what
 * is in flight on a network change. A page that joined but got no media is never retried.
 */
async function joined(browser, who, link) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await join(browser, link);
    } catch (e) {
      const signaled = await signaledPages(browser);
      if (attempt === 1 && !signaled) {
        evidence.retried = [...(evidence.retried ?? []), who];
        // The failed join's context is the newest one.
        await browser.contexts().at(-1)?.close();
        continue;
      }
      evidence.ice = await iceState(browser);
      throw new Error(`${who} did not join with media connected: ${String(e?.message ?? e).split('\n')[0]}`);
    }
  }
}

/** Whether the newest page joined signaling (its client has `self`). */
async function signaledPages(browser) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  const last = pages[pages.length - 1];
  return last ? last.evaluate(() => Boolean(window.caucusApp?.client?.self)).catch(() => false) : false;
}

/** Every candidate pair of every page's peer connection, for the failure's evidence. */
async function iceState(browser) {
  const out = [];
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      out.push(await page.evaluate(async () => {
        const pc = window.caucusApp?.client?.pc;
        if (!pc) return { pc: null };
        const report = await pc.getStats();
        const c = (id) => { const x = report.get(id); return x ? `${x.protocol} ${x.candidateType} ${x.address}:${x.port}${x.tcpType ? ` ${x.tcpType}` : ''}` : null; };
        const pairs = [...report.values()].filter((s) => s.type === 'candidate-pair').map((s) => `${c(s.localCandidateId)} -> ${c(s.remoteCandidateId)}: ${s.state}`);
        const remote = [...report.values()].filter((s) => s.type === 'remote-candidate').map((x) => `${x.protocol} ${x.address}:${x.port}`);
        return { ice: pc.iceConnectionState, remote, pairs };
      }).catch((e) => ({ error: String(e?.message ?? e) })));
    }
  }
  return out;
}

/** Keeps `url` (its token left out) as evidence; it must start with NETNS_LINK_PREFIX. */
function checkLink(url, who) {
  evidence.links[who] = url.replace(/token=.*/, 'token=…');
  if (env.NETNS_LINK_PREFIX) check(url.startsWith(env.NETNS_LINK_PREFIX), `${who} link ${evidence.links[who]} does not start with ${env.NETNS_LINK_PREFIX}`);
}

/** The receiver's selected ICE pair and its video frames decoded so far. */
async function transport(page) {
  return page.evaluate(async () => {
    const pc = window.caucusApp.client.pc;
    const report = await pc.getStats();
    const all = [...report.values()];
    const t = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = t ? report.get(t.selectedCandidatePairId)
      : all.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
    const cand = (id) => {
      const c = id && report.get(id);
      return c ? { address: c.address ?? c.ip, port: c.port, protocol: c.protocol, type: c.candidateType, tcpType: c.tcpType } : null;
    };
    const frames = all.filter((s) => s.type === 'inbound-rtp' && s.kind === 'video').reduce((n, s) => n + (s.framesDecoded ?? 0), 0);
    return { local: cand(pair?.localCandidateId), remote: cand(pair?.remoteCandidateId), bytesReceived: pair?.bytesReceived ?? 0, framesDecoded: frames };
  });
}

function checkPair(pair, where, expected = protocol) {
  check(pair.remote, `${where}: no selected candidate pair`);
  check(pair.remote.protocol === expected, `${where}: selected pair is ${pair.remote.protocol}, expected ${expected}`);
  if (env.NETNS_REMOTE_IP) {
    check(pair.remote.address === env.NETNS_REMOTE_IP, `${where}: remote candidate ${pair.remote.address}, expected ${env.NETNS_REMOTE_IP}`);
  }
  if (env.NETNS_REMOTE_PORT && expected === protocol) {
    check(String(pair.remote.port) === env.NETNS_REMOTE_PORT, `${where}: remote candidate port ${pair.remote.port}, expected ${env.NETNS_REMOTE_PORT}`);
  }
}

/** Frames of video the receiver must decode from here on to count as media arriving. */
const FRAMES = 10;

/** Decoding `peerId` now (the SDK's slot of that peer), and FRAMES more frames decoded. */
async function decodes(page, peerId, label) {
  const before = (await transport(page)).framesDecoded;
  await expectDecoding(page, [peerId], { label, timeout });
  const deadline = Date.now() + timeout;
  let after = await transport(page);
  while (after.framesDecoded - before < FRAMES && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    after = await transport(page);
  }
  check(after.framesDecoded - before >= FRAMES, `${label}: ${after.framesDecoded - before} frames decoded, expected ${FRAMES}`);
  return { ...after, grewFrom: before };
}

async function main() {
  const browser = await launch();
  try {
    const publisherLink = env.NETNS_PUBLISHER_LINK || await link('pub', env.NETNS_PUBLISHER_ROLE ?? 'host');
    checkLink(publisherLink, 'publisher');
    const publisher = await joined(browser, 'publisher', publisherLink);
    // Minted once the publisher's join has made the room (the demo room starts that way).
    const receiverLink = await link('rcv', 'guest');
    checkLink(receiverLink, 'receiver');
    const receiver = await joined(browser, 'receiver', receiverLink);
    evidence.main = await decodes(receiver.page, publisher.peerId, 'receiver in main');
    checkPair(evidence.main, 'receiver in main');
    checkPair(await transport(publisher.page), 'publisher');

    if (env.NETNS_BREAKOUT === '1') {
      const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Over the router'] }, { status: 201 });
      const [bo] = created.rooms.map((r) => r.id);
      await rest('PATCH', `/v1/rooms/${room}/breakouts/${bo}`, { visibility: { main_stage: { roles: ['host'] } } });
      await rest('PUT', `/v1/rooms/${room}/breakouts/options`, { auto_move_on_open: true });
      await rest('POST', `/v1/rooms/${room}/breakouts/assign`, { assignments: { [receiver.peerId]: bo } });
      await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});
      await until(receiver.page, (id) => window.caucusApp.client.self?.location === id, bo, { timeout });
      evidence.breakout = { id: bo, ...(await decodes(receiver.page, publisher.peerId, 'receiver in the breakout')) };
      checkPair(evidence.breakout, 'receiver in the breakout');

      if (env.NETNS_CHANGE_FILE) {
        const after = env.NETNS_CHANGE_PROTOCOL ?? 'tcp';
        console.log('CHANGE');
        const waitUntil = Date.now() + timeout;
        while (!existsSync(env.NETNS_CHANGE_FILE)) {
          check(Date.now() < waitUntil, 'the network was never changed');
          await new Promise((r) => setTimeout(r, 100));
        }
        // Nobody touches the pages. Either ICE moves the live connection onto a path that
        // still works (Chromium keeps a TCP pair in reserve) or the app notices its media is
        // gone (`media_lost`) and rejoins; either way the same peers come back to media, over
        // the new path.
        const recoverBy = Date.now() + timeout * 2;
        for (;;) {
          const pair = await transport(receiver.page).catch(() => null);
          if (pair?.remote?.protocol === after) break;
          check(Date.now() < recoverBy, `the receiver's media never moved to ${after}: ${JSON.stringify(pair)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        for (const [who, p] of [['receiver', receiver], ['publisher', publisher]]) {
          const peerId = await p.page.evaluate(() => window.caucusApp.client.peerId);
          check(peerId === (who === 'receiver' ? receiver.peerId : publisher.peerId), `${who} came back as ${peerId}`);
        }
        const rejoined = await receiver.page.evaluate(() => window.caucusApp.client.resumed === true);
        const location = await receiver.page.evaluate(() => window.caucusApp.client.self?.location);
        check(location === bo, `the receiver came back in ${location}, not in ${bo}`);
        evidence.changed = { location, rejoined, ...(await decodes(receiver.page, publisher.peerId, 'receiver after the network changed')) };
        checkPair(evidence.changed, 'receiver after the network changed', after);
      }
    }
    console.log(`RESULT ${JSON.stringify({ ok: true, ...evidence })}`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: String(e?.message ?? e).split('\n')[0], ...evidence })}`);
  process.exit(1);
});
