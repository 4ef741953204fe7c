// A brewer's account in a real browser: sign up, see the account, make an API token, log out, log in.
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

test('sign up, create a token, log out and log in again', async () => {
  const { page, errors } = await newPage(browser);
  await page.goto(server.url);
  await page.locator('body[data-hydrated]').waitFor();
  await page.getByRole('link', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();

  // A field error is shown next to its field, and what was typed stays.
  await page.getByLabel('Name (optional)').fill('Hop Head');
  await page.getByLabel('Email').fill('hop@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Use at least 10 characters.').waitFor();
  assert.equal(await page.getByLabel('Email').inputValue(), 'hop@example.com');
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: join(outputDir, 'signup-error.png'), fullPage: true });

  await page.getByLabel('Password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Hop Head' }).waitFor();
  await page.getByText('Welcome to BrewLink!').waitFor();

  await page.getByLabel('Token name').fill('Phone');
  await page.getByLabel('What it may do').selectOption('read');
  await page.getByLabel('Expires after (days)').fill('30');
  await page.getByLabel('Your password').first().fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = await page.locator('#new-token').inputValue();
  assert.match(token, /^blk_[A-Za-z0-9_-]{43}$/);
  await page.getByRole('button', { name: 'Revoke token Phone' }).waitFor();
  await page.getByText(/Read only · created .* · expires \d{4}-\d{2}-\d{2}/).waitFor();
  await page.screenshot({ path: join(outputDir, 'account.png'), fullPage: true });

  // The token works for the API, within its scope.
  const auth = { Authorization: `Bearer ${token}` };
  const me = await page.request.get(`${server.url}/api/v1/me`, { headers: auth });
  assert.equal(me.status(), 200);
  assert.equal((await me.json()).email, 'hop@example.com');
  const change = await page.request.patch(`${server.url}/api/v1/me`, { headers: auth, data: { name: 'Nope' } });
  assert.equal(change.status(), 403);
  assert.equal((await change.json()).code, 'insufficient_scope');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('Email').fill('hop@example.com');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
  await page.screenshot({ path: join(outputDir, 'login-error.png'), fullPage: true });
  await page.getByLabel('Password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Hop Head' }).waitFor();
  assert.deepEqual(errors, []);
});

test('the account page sends visitors who are not signed in to the login page', async () => {
  const { page } = await newPage(browser);
  await page.goto(`${server.url}/account`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  assert.match(page.url(), /\/login$/);
});
