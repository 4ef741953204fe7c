// Brew day in a real browser: import a BeerJSON recipe, see its numbers, change it in the editor with
// the numbers following live, preview it on a simulated device, start it, watch the steps advance on
// the session page, pin a note, enter the gravities, export the session.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, outputDir } from '../support/browser.mjs';
import { startServer, startSimulator } from '../support/server.mjs';

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

const q = (unit, value) => ({ unit, value });
const recipe = {
  beerjson: {
    version: 1.0,
    recipes: [{
      name: 'Quick Kölsch', type: 'all grain', author: 'e2e',
      batch_size: q('l', 20), efficiency: { brewhouse: q('%', 75) },
      style: { name: 'Kölsch', category: 'Pale Ale', style_guide: 'BJCP', type: 'beer' },
      boil: { pre_boil_size: q('l', 24), boil_time: q('min', 2) },
      ingredients: {
        fermentable_additions: [{ name: 'Pilsner malt', type: 'grain', yield: { fine_grind: q('%', 81) }, color: q('Lovi', 2), amount: q('kg', 4.2) }],
        hop_additions: [{ name: 'Hallertau', alpha_acid: q('%', 4.5), amount: q('g', 30), timing: { use: 'add_to_boil', time: q('min', 2) } }],
        culture_additions: [{ name: 'K-97', type: 'ale', form: 'dry', attenuation: q('%', 80) }],
      },
      mash: { name: 'Single', mash_steps: [{ name: 'Sacch rest', type: 'infusion', step_temperature: q('C', 65), step_time: q('min', 1) }] },
      fermentation: { name: 'Cool', fermentation_steps: [{ name: 'Primary', start_temperature: q('C', 18), step_time: q('day', 0.001) }] },
    }],
  },
};

test('import a recipe, brew it on a simulated device, follow and export the session', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brewlink-recipes-'));
  const file = join(dir, 'koelsch.json');
  writeFileSync(file, JSON.stringify(recipe));

  const { page, errors } = await newPage(browser, { acceptDownloads: true });
  await page.goto(`${server.url}/signup`);
  await page.getByLabel('Email').fill('brewday@example.com');
  await page.getByLabel('Password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'brewday@example.com' }).waitFor();
  await page.goto(`${server.url}/devices`);
  await page.getByLabel('Name').fill('Brew kettle');
  await page.getByLabel('Model').fill('BrewMaster 3000');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Brew kettle' }).waitFor();
  const [bundleDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#download-bundle').click()]);
  const bundle = join(dir, 'bundle.zip');
  await bundleDownload.saveAs(bundle);
  simulator = startSimulator(bundle, { speed: 30, interval: 0.2 });

  // Import: the recipe page shows the numbers.
  await page.getByRole('link', { name: 'Recipes' }).click();
  await page.getByLabel(/BeerJSON or BeerXML file/).setInputFiles(file);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByRole('heading', { name: 'Quick Kölsch' }).waitFor();
  await page.getByText('Recipe imported.').waitFor();
  const og = await page.locator('[data-number="OG"]').textContent();
  assert.match(og, /^1\.0[45]\d$/);
  await page.screenshot({ path: join(outputDir, 'recipe.png'), fullPage: true });

  // The editor: a second hop raises the IBU as it is typed; saving returns to the recipe.
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.locator('body[data-hydrated]').waitFor();
  const ibu = page.locator('[data-number="IBU (Tinseth)"]');
  const before = Number(await ibu.textContent());
  await page.getByRole('button', { name: 'Add hop' }).click();
  await page.getByRole('group', { name: 'Hop 2' }).getByLabel('Amount (g)').fill('40');
  await page.getByRole('group', { name: 'Hop 2' }).getByLabel('Amount (g)').press('Tab');
  await page.getByRole('group', { name: 'Hop 2' }).getByLabel('Time (min)').fill('2');
  await page.getByRole('group', { name: 'Hop 2' }).getByLabel('Time (min)').press('Tab');
  await page.waitForFunction((old) => Number(document.querySelector('[data-number="IBU (Tinseth)"]').textContent) > old, before);
  await page.screenshot({ path: join(outputDir, 'recipe-editor.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save recipe' }).click();
  await page.getByRole('heading', { name: 'Quick Kölsch' }).waitFor();
  await page.locator('#hops').getByText('40 g').waitFor();

  // Preview on the device (once it is online), then start.
  for (let tries = 0; ; tries += 1) {
    await page.getByRole('button', { name: 'Preview timeline' }).click();
    await page.locator('[aria-label="Dry run"], [role="alert"]').first().waitFor();
    if (await page.locator('[aria-label="Dry run"]').count()) break;
    assert.ok(tries < 30, 'the device came online and reported what it can do');
    await new Promise((done) => setTimeout(done, 500));
  }
  await page.locator('[data-step="Boil"]').waitFor();
  await page.screenshot({ path: join(outputDir, 'recipe-dry-run.png'), fullPage: true });
  await page.getByRole('button', { name: 'Start brewing' }).click();
  await page.getByRole('heading', { name: 'Brewing Quick Kölsch' }).waitFor();
  await page.locator('body[data-hydrated]').waitFor();

  // The steps advance live: the mash holds with a timer, then finishes.
  await page.locator('li[data-step-status="holding"] [data-timer]').first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(outputDir, 'session-running.png'), fullPage: true });
  await page.locator('li[data-step-status="done"]').first().waitFor({ timeout: 60_000 });
  await page.getByLabel('A note, pinned to the current step').fill('Hot break looks good');
  await page.getByRole('button', { name: 'Pin note' }).click();
  await page.getByText('Note pinned.').waitFor();
  await page.locator('li', { hasText: 'Hot break looks good' }).first().waitFor();
  await page.locator('[data-session-state="completed"]').waitFor({ timeout: 90_000 });

  await page.getByLabel('OG').fill('1.048');
  await page.getByLabel('FG').fill('1.009');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Actual ABV: 5.1 %').waitFor();
  await page.screenshot({ path: join(outputDir, 'session-completed.png'), fullPage: true });
  const [exportDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Export session (zip)' }).click(),
  ]);
  assert.match(exportDownload.suggestedFilename(), /^session-quick-k-lsch-\d{8}\.zip$/);
  assert.deepEqual(errors, []);
});
