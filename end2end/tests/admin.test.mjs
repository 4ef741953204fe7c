// The admin site in a real browser: a staff member (made with `brewlink user create --staff`) finds a
// brewer and their simulated device, watches the broker and the device's decoded traffic live,
// disables the brewer, and reads it in the audit log; the brewer can reach none of it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, outputDir } from '../support/browser.mjs';
import { createUser, startServer, startSimulator } from '../support/server.mjs';

let server;
let browser;
let simulator;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await simulator?.stop();
  await browser?.close();
  await server?.stop();
});

async function login(page, email, password) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
}

test('staff run the fleet from /admin; a brewer cannot', async () => {
  await createUser(server, 'ops@example.com', 'staff-password-1', { staff: true });

  // A brewer with a simulated device.
  const brewer = await newPage(browser, { acceptDownloads: true });
  await brewer.page.goto(`${server.url}/signup`);
  await brewer.page.getByLabel('Email').fill('brewer@example.com');
  await brewer.page.getByLabel('Password').fill('a-long-enough-password');
  await brewer.page.getByRole('button', { name: 'Create account' }).click();
  await brewer.page.getByRole('heading', { name: 'brewer@example.com' }).waitFor();
  await brewer.page.goto(`${server.url}/devices`);
  await brewer.page.getByLabel('Name').fill('Inspected kettle');
  await brewer.page.getByLabel('Model').fill('BrewMaster 3000');
  await brewer.page.getByRole('button', { name: 'Register' }).click();
  await brewer.page.getByRole('heading', { name: 'Inspected kettle' }).waitFor();
  const [download] = await Promise.all([brewer.page.waitForEvent('download'), brewer.page.locator('#download-bundle').click()]);
  const bundle = join(mkdtempSync(join(tmpdir(), 'brewlink-admin-')), 'bundle.zip');
  await download.saveAs(bundle);
  simulator = startSimulator(bundle);

  // The brewer gets "Staff only".
  await brewer.page.goto(`${server.url}/admin`);
  await brewer.page.getByRole('heading', { name: 'Staff only' }).waitFor();

  const { page, errors } = await newPage(browser);
  await login(page, 'ops@example.com', 'staff-password-1');
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.locator('body[data-hydrated]').waitFor();
  await page.getByRole('heading', { name: 'Broker and bridge' }).waitFor();
  await page.locator('[data-figure="bridge"]', { hasText: 'connected' }).waitFor();
  await page.locator('[data-figure="ingest"]', { hasText: 'writing' }).waitFor();
  // The simulator and the bridge: two clients, counted live.
  await page.locator('[data-figure="clients"]', { hasText: '2' }).waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(outputDir, 'admin-overview.png'), fullPage: true });

  // The fleet: the device online with its owner; then its decoded traffic.
  await page.goto(`${server.url}/admin/devices?query=inspected`);
  const row = page.locator('tr', { hasText: 'Inspected kettle' });
  await row.getByText('brewer@example.com').waitFor();
  for (let tries = 0; !(await row.locator('[data-field="online"]', { hasText: /^online$/ }).count()); tries += 1) {
    assert.ok(tries < 40, 'the device shows online');
    await new Promise((done) => setTimeout(done, 500));
    await page.reload();
  }
  await page.screenshot({ path: join(outputDir, 'admin-devices.png'), fullPage: true });
  await row.getByRole('link', { name: 'Inspect' }).click();
  await page.locator('body[data-hydrated]').waitFor();
  await page.locator('[data-inspector-state="live"]').waitFor({ timeout: 20_000 });
  const telemetry = page.locator('li[data-direction="from_device"]', { hasText: '/telemetry' }).first();
  await telemetry.waitFor({ timeout: 20_000 });
  await telemetry.getByText(/mash_temp_c/).waitFor();
  await telemetry.getByText(/\d+ bytes/).waitFor();
  await page.screenshot({ path: join(outputDir, 'admin-inspector.png'), fullPage: true });

  // The user: found by search, disabled with one button; the brewer is signed out at once.
  await page.goto(`${server.url}/admin/users`);
  await page.getByRole('searchbox').fill('brewer@');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: 'brewer@example.com' }).click();
  await page.getByText('Inspected kettle').waitFor();
  await page.getByRole('button', { name: 'Disable account' }).click();
  await page.getByText('Account disabled').waitFor();
  await page.locator('[data-field="state"]', { hasText: 'disabled' }).waitFor();
  await brewer.page.goto(`${server.url}/devices`);
  await brewer.page.waitForURL(/\/login$/);

  // The audit log tells who did it.
  await page.goto(`${server.url}/admin/audit?kind=admin`);
  await page.locator('tr[data-action="admin.user_disabled"]').waitFor();
  await page.screenshot({ path: join(outputDir, 'admin-audit.png'), fullPage: true });
  await page.goto(`${server.url}/admin/errors`);
  await page.getByRole('heading', { name: 'Errors' }).waitFor();
  assert.deepEqual(errors, []);
});
