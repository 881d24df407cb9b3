// Firefox for the browser tests: Debian's firefox-esr, headless, driven over WebDriver BiDi by
// puppeteer-core (never a downloaded browser). Its pages answer `evaluate(fn, arg)` like
// Playwright's, so the "who is decoding" helpers of helpers.mjs work on them unchanged.
import puppeteer from 'puppeteer-core';

/**
 * Preferences of a test profile: fake camera and microphone without a permission prompt
 * (`permission.fake` also lets Firefox gather its 127.0.0.1 candidate, which the server on
 * loopback needs, together with `ice.loopback`). Autoplay keeps Firefox's default: a page that
 * captures the camera, joined by a click, plays sound.
 */
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.navigator.permission.fake': true,
  'media.peerconnection.ice.loopback': true,
};

/** Headless firefox-esr (`FIREFOX` overrides the path) with the test preferences. */
export async function launchFirefox() {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
  });
}

/**
 * Opens a join link in a fresh browser context of Firefox, passes the device preview, and
 * waits for the join and the media connection — what `join` of helpers.mjs does in Chromium.
 * @param {import('puppeteer-core').Browser} browser
 * @param {string} link
 */
export async function joinFirefox(browser, link, { width = 1280, height = 800 } = {}) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('firefox page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'warn' || m.type() === 'error') console.error(`firefox page ${m.type()}: ${m.text()}`); });
  page.on('dialog', (d) => d.accept());
  await page.setViewport({ width, height });
  await page.goto(link);
  await page.locator('#join-button').click();
  await page.waitForFunction(() => window.caucusApp?.client?.self && window.caucusApp.client.state === 'connected', { timeout: 30000 });
  const peerId = await page.evaluate(() => window.caucusApp.client.peerId);
  return { context, page, peerId };
}

/** Waits until `fn(arg)` is truthy in a Firefox page. */
export function untilFirefox(page, fn, arg, { timeout = 20000 } = {}) {
  return page.waitForFunction(fn, { timeout }, arg);
}
