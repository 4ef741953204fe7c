// The README's API guide runs as written: its shell block between the api-guide markers is executed
// with bash against a fresh server (only the address changes), and prints what the README says.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startServer } from '../support/server.mjs';

const root = resolve(import.meta.dirname, '..', '..');
let server;
let workDir;

before(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'brewlink-guide-'));
});

after(async () => {
  await server?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** The device id the simulator announced. */
function deviceId(output) {
  return output.match(/simulating device (\S+)/)?.[1];
}

/** The guide's shell commands, from the README. */
function guide() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.match(/<!-- api-guide:start -->\n```sh\n([\s\S]*?)```\n<!-- api-guide:end -->/);
  assert.ok(block, 'the README has the API guide block');
  return block[1];
}

test("the README's API guide works as written", async () => {
  const script = guide().replaceAll('http://127.0.0.1:3000', server.url);
  assert.notEqual(script, guide(), 'the guide names the default address');
  const binDir = join(root, 'target', 'debug');
  const child = spawn('bash', ['-eu', '-c', script], {
    cwd: workDir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, BREWLINK_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (errors += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise((done) => child.once('exit', done));
  clearTimeout(timer);
  assert.equal(code, 0, `the guide failed:\n${output}\n${errors}`);
  assert.deepEqual(output.trim().split('\n'), [
    '"ada@example.com"',
    '{"names":["Garage kettle"],"next_cursor":null}',
    `simulating device ${deviceId(output)}`,
    'event: telemetry',
    '{"mode":"output","pin":4,"value":true}',
    'ok',
    'not_found',
  ]);
});
