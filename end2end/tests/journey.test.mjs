// The brewer's journey in a real browser: sign up, register a device, download its bundle, run the
// simulator with it, watch it come online and chart live, use the remote controls, rotate the
// certificate — at desktop and at phone size.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, outputDir } from '../support/browser.mjs';
import { startServer, startSimulator } from '../support/server.mjs';

let server;
let browser;
const simulators = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const simulator of simulators) await simulator.stop();
  await browser?.close();
  await server?.stop();
});

async function journey(name, viewport) {
  const { page, errors } = await newPage(browser, { acceptDownloads: true, viewport });
  const email = `${name}@example.com`;
  await page.goto(`${server.url}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: email }).waitFor();

  await page.goto(`${server.url}/devices`);
  await page.getByLabel('Name').fill(`${name} kettle`);
  await page.getByLabel('Model').fill('BrewMaster 3000');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: `${name} kettle` }).waitFor();
  const deviceUrl = page.url();

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-bundle').click()]);
  const bundle = join(mkdtempSync(join(tmpdir(), 'brewlink-journey-')), 'bundle.zip');
  await download.saveAs(bundle);
  simulators.push(startSimulator(bundle));

  // The dashboard shows it online, with its latest readings.
  await page.goto(`${server.url}/devices`);
  const card = page.getByRole('link', { name: new RegExp(`${name} kettle`) });
  await card.getByText('Online').waitFor({ timeout: 20_000 });
  await card.getByText(/Last seen \d+ s ago/).waitFor();
  await page.screenshot({ path: join(outputDir, `${name}-dashboard.png`), fullPage: true });

  // The device page charts live points.
  await page.goto(deviceUrl);
  await page.locator('body[data-hydrated]').waitFor();
  await page.getByText('● Live').waitFor({ timeout: 20_000 });
  const mash = page.locator('figure', { hasText: 'Temperatures' }).locator('path[stroke="#d97706"]');
  await mash.waitFor({ state: 'attached', timeout: 20_000 });
  const before = (await mash.getAttribute('d')).length;
  await page.waitForFunction(
    ([selector, length]) => (document.querySelector(selector)?.getAttribute('d') ?? '').length > length,
    ['figure path[stroke="#d97706"]', before],
    { timeout: 20_000 },
  );

  // A GPIO pin: the button shows what the device answered.
  await page.getByRole('button', { name: 'Pin 3: unknown' }).click();
  await page.getByRole('button', { name: 'Pin 3: on' }).waitFor();
  await page.locator('#gpio').getByText(/Done in \d+ ms\./).waitFor();

  // The UART echoes.
  await page.locator('#uart-input').fill('hello brew');
  await page.locator('#uart').getByRole('button', { name: 'Send' }).click();
  await page.locator('#uart-log').getByText('← hello brew').waitFor();

  // Network info and the command history.
  await page.locator('#network').getByRole('button', { name: 'Read network info' }).click();
  await page.locator('#network').getByText('127.0.0.1').first().waitFor();
  await page.locator('#commands').getByText('uart_write').waitFor();
  await page.screenshot({ path: join(outputDir, `${name}-device.png`), fullPage: true });

  // Rotating the certificate cuts the simulator off (its files are now revoked).
  await page.getByRole('button', { name: 'Rotate certificate' }).click();
  await page.getByText('New certificate issued.').waitFor();
  await page.getByText('Offline', { exact: true }).first().waitFor({ timeout: 20_000 });

  // A cut connection is announced, and the live stream resumes by itself: restart the server in place.
  if (name === 'laptop') {
    const { port } = new URL(server.url);
    await server.stop({ keepData: true });
    await page.getByText('Connection lost — reconnecting').waitFor({ timeout: 20_000 });
    server = await startServer({ dataDir: server.dataDir, database: server.database, httpAddr: `127.0.0.1:${port}` });
    await page.getByText('● Live').waitFor({ timeout: 30_000 });
  }
  // The browser reports the failed reconnection attempts while the server was down; nothing else.
  assert.deepEqual(errors.filter((error) => !/net::ERR_CONNECTION_REFUSED|net::ERR_INCOMPLETE_CHUNKED_ENCODING|EventSource|text\/event-stream/.test(error)), []);
}

test('the brewer journey on a laptop', async () => {
  await journey('laptop', { width: 1280, height: 900 });
});

test('the brewer journey on a phone', async () => {
  await journey('phone', { width: 360, height: 740 });
});
