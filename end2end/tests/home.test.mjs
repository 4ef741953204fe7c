// The home page renders on the server, then hydrates: its interactive parts work in a real browser.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, outputDir } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the home page is server-rendered and hydrates', async () => {
  const { page, errors } = await newPage(browser);
  // Without JavaScript the page is complete: it was rendered on the server.
  const response = await page.request.get(server.url);
  assert.equal(response.status(), 200);
  assert.match(await response.text(), /Your brewery, connected\./);

  await page.goto(server.url);
  await page.locator('body[data-hydrated]').waitFor();
  // The ABV calculator only reacts once the wasm app has hydrated the page.
  const result = page.locator('#abv-result');
  assert.equal(await result.textContent(), '5.3 % ABV');
  await page.getByLabel('Original gravity').fill('1.060');
  await page.getByLabel('Final gravity').fill('1.010');
  await page.waitForFunction(() => document.querySelector('#abv-result')?.textContent === '6.6 % ABV');
  await page.getByLabel('Final gravity').fill('1.080');
  await page.waitForFunction(() => /must not be above/.test(document.querySelector('#abv-result')?.textContent));
  await page.screenshot({ path: join(outputDir, 'home-desktop.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('the navigation menu opens on a phone-sized screen', async () => {
  const { page, errors } = await newPage(browser, { viewport: { width: 360, height: 740 } });
  await page.goto(server.url);
  const toggle = page.getByRole('button', { name: 'Menu' });
  const nav = page.getByRole('navigation', { name: 'Main' });
  await page.locator('body[data-hydrated]').waitFor();
  assert.equal(await nav.isVisible(), false);
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('[aria-controls="main-nav"]')?.ariaExpanded === 'true');
  assert.equal(await nav.isVisible(), true);
  await nav.getByRole('link', { name: 'Home' }).waitFor();
  await page.screenshot({ path: join(outputDir, 'home-phone-menu.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('an unknown page says so with status 404', async () => {
  const { page } = await newPage(browser);
  const response = await page.goto(`${server.url}/no-such-page`);
  assert.equal(response.status(), 404);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
});
