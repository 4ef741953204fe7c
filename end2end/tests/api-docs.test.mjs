// The API reference page: rendered on the server from the served OpenAPI document, one entry per
// operation, reachable from every page's footer, readable in a real browser.
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

test('the API reference lists every operation of the OpenAPI document', async () => {
  const document = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
  const operations = Object.values(document.paths).flatMap((item) =>
    ['get', 'post', 'put', 'patch', 'delete'].filter((method) => item[method]).map((method) => item[method]),
  );
  assert.ok(operations.length > 40);

  const { page, errors } = await newPage(browser);
  await page.goto(server.url);
  await page.getByRole('link', { name: 'JSON API' }).click();
  await page.waitForURL(`${server.url}/api/docs`);
  await page.locator('body[data-hydrated]').waitFor();
  await page.getByRole('heading', { level: 1, name: /BrewLink API/ }).waitFor();
  assert.equal(await page.locator('[data-operation]').count(), operations.length);
  for (const operation of operations) {
    assert.equal(await page.locator(`[data-operation="${operation.operationId}"]`).count(), 1, operation.operationId);
  }

  // One operation in full: its path, parameters, body example and problem answers.
  const register = page.locator('[data-operation="register_device"]');
  assert.match(await register.textContent(), /POST\s*\/devices/);
  await register.getByText('Example').first().click();
  assert.match(await register.textContent(), /"model": "BrewKettle 40"/);
  assert.match(await register.textContent(), /422/);
  const commands = page.locator('[data-operation="set_gpio"]');
  assert.match(await commands.textContent(), /504/);
  assert.match(await commands.textContent(), /device_timeout/);

  await page.screenshot({ path: join(outputDir, 'api-docs.png') });

  // The schemas the operations link to are on the page.
  await page.locator('[data-operation="show_device"]').getByRole('link', { name: 'Device', exact: true }).click();
  assert.ok(await page.locator('#schema-Device').isVisible());
  assert.deepEqual(errors, []);
});
