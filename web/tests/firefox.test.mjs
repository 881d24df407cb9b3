// The web app in Firefox (Debian's firefox-esr over WebDriver BiDi) next to Chromium: a
// Chromium host and a Firefox guest see and hear each other, the guest is moved into a
// breakout and back, and the simulcast layers of a Firefox camera are forwarded by tile size.
// The room is on a template whose guests talk in main (in the built-in one they only watch),
// so that media flows both ways from the first minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, joinLink, join, expectDecoding, expectAudio, rest, roomId, until } from './helpers.mjs';
import { launchFirefox, joinFirefox, untilFirefox } from './firefox.mjs';

const HD = { max_width: 1280, max_height: 720, max_fps: 30, max_bitrate: 1_500_000 };

/** A room on a template where host and guest both publish (simulcast cameras) and hear each other. */
async function meetingRoom(prefix) {
  const template = roomId(`${prefix}-tpl`);
  const talk = { allowed: ['audio', 'video'], video: HD, simulcast: true };
  await rest('POST', '/v1/templates', {
    id: template, name: template,
    roles: {
      host: { priority: 100, publish: talk, subscribe: { roles: ['host', 'guest', 'breakout'] }, permissions: { manage_breakouts: true, move_peers: true, see_peer_list: true, send_chat: true } },
      guest: { priority: 10, publish: talk, subscribe: { roles: ['host', 'guest'] }, permissions: { see_peer_list: true, send_chat: true }, breakout_role: 'breakout' },
      breakout: { priority: 10, publish: { allowed: ['audio', 'video'] }, subscribe: { roles: ['host', 'breakout'] }, permissions: { send_chat: true } },
    },
  }, { status: 201 });
  const room = roomId(prefix);
  await rest('POST', '/v1/rooms', { id: room, name: room, template }, { status: 201 });
  return room;
}

/** Both ways: `a` decodes `b`'s video and hears its audio, and the other way round. */
async function seeAndHear(a, b, label) {
  await Promise.all([
    expectDecoding(a.page, [b.peerId], { label: `${label}: ${a.name} sees ${b.name}` }),
    expectDecoding(b.page, [a.peerId], { label: `${label}: ${b.name} sees ${a.name}` }),
    expectAudio(a.page, b.peerId, true, { label: `${label}: ${a.name} hears ${b.name}` }),
    expectAudio(b.page, a.peerId, true, { label: `${label}: ${b.name} hears ${a.name}` }),
  ]);
}

/**
 * Whether a page plays `peerId`'s camera in its tile (the picture advancing) and its sound
 * in an audio element (not paused: no autoplay block after the click on "Join meeting").
 */
async function playing(page, peerId) {
  return page.evaluate(async (peerId) => {
    const video = /** @type {HTMLVideoElement|null} */ (document.querySelector(`.tile[data-peer="${peerId}"] video`));
    const slot = window.caucusApp.client.slotFor(peerId, 'audio');
    const audio = [...document.querySelectorAll('audio')].find((a) => a.srcObject?.getAudioTracks()[0] === slot?.mediaTrack);
    const before = video?.currentTime ?? 0;
    await new Promise((r) => setTimeout(r, 700));
    return {
      video: !!video && !video.paused && video.videoWidth > 0 && video.currentTime > before,
      audio: !!audio && !audio.paused,
    };
  }, peerId);
}

test('firefox: a Firefox guest and a Chromium host see and hear each other, also across a breakout move', { timeout: 150000 }, async () => {
  const chromium = await launch();
  const firefox = await launchFirefox();
  try {
    const room = await meetingRoom('ff-meet');
    const host = { ...await join(chromium, joinLink(room, 'hal', 'host', 'Hal Host')), name: 'the Chromium host' };
    const guest = { ...await joinFirefox(firefox, joinLink(room, 'fay', 'guest', 'Fay Firefox')), name: 'the Firefox guest' };
    await seeAndHear(host, guest, 'in main');
    assert.deepEqual(await playing(guest.page, host.peerId), { video: true, audio: true }, 'the Firefox page plays the host');

    // The Firefox guest stops its camera and mutes its microphone from the toolbar: the host
    // no longer receives either; turned on again, both flow again.
    for (const id of ['#cam-button', '#mic-button']) {
      await guest.page.locator(id).click();
      await untilFirefox(guest.page, (b) => document.querySelector(b).getAttribute('aria-pressed') === 'false', id);
    }
    await Promise.all([
      expectDecoding(host.page, [], { label: 'the Firefox guest stopped its camera' }),
      expectAudio(host.page, guest.peerId, false, { label: 'the Firefox guest muted' }),
    ]);
    for (const id of ['#cam-button', '#mic-button']) {
      await guest.page.locator(id).click();
      await untilFirefox(guest.page, (b) => document.querySelector(b).getAttribute('aria-pressed') === 'true', id);
    }
    await seeAndHear(host, guest, 'camera and microphone on again');

    // The guest alone in an isolated breakout: nothing of main reaches it, nor it main.
    const created = await rest('POST', `/v1/rooms/${room}/breakouts`, { names: ['Side'] }, { status: 201 });
    const side = created.rooms[0].id;
    await rest('POST', `/v1/rooms/${room}/breakouts/open`, {});
    await rest('PATCH', `/v1/rooms/${room}/peers/${guest.peerId}`, { location: side });
    await untilFirefox(guest.page, (b) => window.caucusApp.client.self.location === b, side);
    await Promise.all([
      expectDecoding(guest.page, [], { label: 'the Firefox guest alone in the breakout' }),
      expectDecoding(host.page, [], { label: 'the host in main, the guest away' }),
      expectAudio(guest.page, host.peerId, false, { label: 'the Firefox guest in the breakout' }),
      expectAudio(host.page, guest.peerId, false, { label: 'the host in main' }),
    ]);

    // The host comes into the breakout: there they meet again (the guest now publishing as `breakout`).
    await rest('PATCH', `/v1/rooms/${room}/peers/${host.peerId}`, { location: side });
    await until(host.page, (b) => window.caucusApp.client.self.location === b, side);
    await seeAndHear(host, guest, 'both in the breakout');

    // Both back in main.
    for (const p of [guest, host]) await rest('PATCH', `/v1/rooms/${room}/peers/${p.peerId}`, { location: 'main' });
    await untilFirefox(guest.page, () => window.caucusApp.client.self.location === 'main');
    await until(host.page, () => window.caucusApp.client.self.location === 'main');
    await seeAndHear(host, guest, 'back in main');
  } finally {
    await Promise.allSettled([chromium.close(), firefox.close()]);
  }
});

/** The rids a page's camera sender is sending (outbound-rtp with frames going out). */
async function sentLayers(page) {
  return page.evaluate(async () => {
    const stats = await window.caucusApp.client.pc.getStats();
    const out = [];
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid && (r.framesEncoded ?? 0) > 0) out.push(`${r.rid}:${r.frameWidth}`);
    });
    return out.sort();
  });
}

/** The width of `peerId`'s camera as a Chromium page decodes it now (0 while nothing decodes). */
async function decodedWidth(page, peerId) {
  return page.evaluate(async (peerId) => {
    const client = window.caucusApp.client;
    const slot = (await client.receiveStats()).find((s) => s.kind === 'video' && s.peerId === peerId && s.source === 'video');
    if (!slot) return 0;
    const stats = await client.pc.getStats();
    for (const r of stats.values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && r.mid === slot.mid) return r.frameWidth ?? 0;
    }
    return 0;
  }, peerId);
}

test('firefox: a Firefox camera goes out as simulcast layers, and each viewer gets the one its tile needs', { timeout: 120000 }, async () => {
  const chromium = await launch();
  const firefox = await launchFirefox();
  try {
    const room = await meetingRoom('ff-simulcast');
    const publisher = await joinFirefox(firefox, joinLink(room, 'fred', 'guest', 'Fred Firefox'));
    const wide = await join(chromium, joinLink(room, 'wes', 'host', 'Wes Wide'), { width: 1600, height: 1000 });
    const narrow = await join(chromium, joinLink(room, 'nia', 'guest', 'Nia Narrow'), { width: 420, height: 700 });
    for (const v of [wide, narrow]) await expectDecoding(v.page, [publisher.peerId, ...(v === wide ? [narrow.peerId] : [wide.peerId])], { label: 'viewers watch' });

    // Firefox sends more than one layer (it ramps up as its bandwidth estimate grows).
    let layers = [];
    for (const deadline = Date.now() + 30000; Date.now() < deadline && layers.length < 2;) {
      layers = await sentLayers(publisher.page);
      if (layers.length < 2) await wide.page.waitForTimeout(250);
    }
    assert.ok(layers.length >= 2, `Firefox sends simulcast layers: ${layers}`);

    // The wide page shows the Firefox camera large; the narrow page keeps a small grid tile.
    await wide.page.evaluate((rule) => document.styleSheets[0].insertRule(rule, document.styleSheets[0].cssRules.length),
      `.tile[data-peer="${publisher.peerId}"] video { width: 800px !important; height: 450px !important; }`);
    let last = [0, 0];
    for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
      last = [await decodedWidth(wide.page, publisher.peerId), await decodedWidth(narrow.page, publisher.peerId)];
      if (last[0] > 0 && last[1] > 0 && last[1] < last[0]) break;
      await wide.page.waitForTimeout(250);
    }
    const [wideWidth, narrowWidth] = last;
    assert.ok(narrowWidth > 0 && wideWidth > narrowWidth,
      `the narrow viewer decodes a smaller layer (${narrowWidth} px) than the wide one (${wideWidth} px); Firefox sends ${layers}`);
  } finally {
    await Promise.allSettled([chromium.close(), firefox.close()]);
  }
});
