// Registering a device in the browser, downloading its bundle, and connecting with Mosquitto's own
// command-line clients using the three PEM files: its own topic works, everything else is refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { launchBrowser, newPage, outputDir } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';

const run = promisify(execFile);
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

/** Runs a Mosquitto client; resolves to its exit code and everything it printed. */
async function mosquitto(tool, args, cwd) {
  try {
    const { stdout, stderr } = await run(tool, args, { cwd, timeout: 15_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    return { code: error.code, output: `${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

test('register a device, download its bundle, publish with mosquitto_pub', async () => {
  const { page, errors } = await newPage(browser, { acceptDownloads: true });
  await page.goto(`${server.url}/signup`);
  await page.getByLabel('Email').fill('kettle@example.com');
  await page.getByLabel('Password').fill('a-long-enough-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();

  await page.getByLabel('Name').fill('Garage kettle');
  await page.getByLabel('Model').fill('BrewMaster 3000');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Garage kettle' }).waitFor();
  await page.getByText('Device registered.').waitFor();
  await page.screenshot({ path: join(outputDir, 'device-registered.png'), fullPage: true });

  const dir = mkdtempSync(join(tmpdir(), 'brewlink-bundle-'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-bundle').click()]);
  const zip = join(dir, download.suggestedFilename());
  await download.saveAs(zip);
  await run('unzip', ['-q', zip, '-d', dir]);
  const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
  const id = settings.client_id;
  const tls = ['-h', 'localhost', '-p', String(settings.tls_port), '--cafile', 'ca.pem', '--cert', 'device.pem', '--key', 'device.key'];

  const own = await mosquitto('mosquitto_pub', [...tls, '-i', id, '-t', settings.topics.telemetry, '-q', '1', '-m', 'hello'], dir);
  assert.equal(own.code, 0, own.output);
  assert.doesNotMatch(own.output, /fail|refused|not author/i);

  const foreign = await mosquitto('mosquitto_pub', [...tls, '-V', 'mqttv5', '-i', id, '-t', 'devices/another/telemetry', '-q', '1', '-m', 'x'], dir);
  assert.match(foreign.output, /not authori[sz]ed/i, 'publishing to another device is refused');
  const wildcard = await mosquitto('mosquitto_sub', [...tls, '-V', 'mqttv5', '-i', id, '-t', 'devices/+/telemetry', '-C', '1', '-W', '3'], dir);
  assert.match(wildcard.output, /denied/i, 'subscribing across devices is refused');
  const impostor = await mosquitto('mosquitto_pub', [...tls, '-i', 'not-the-device', '-t', settings.topics.telemetry, '-q', '1', '-m', 'x'], dir);
  assert.notEqual(impostor.code, 0, 'a client id other than the certificate CN is refused');

  // Rotation: the old files stop working.
  await page.getByRole('button', { name: 'Rotate certificate' }).click();
  await page.getByText('New certificate issued.').waitFor();
  const old = await mosquitto('mosquitto_pub', [...tls, '-i', id, '-t', settings.topics.telemetry, '-q', '1', '-m', 'x'], dir);
  assert.notEqual(old.code, 0, 'the rotated-out certificate is refused');
  assert.deepEqual(errors, []);
});
