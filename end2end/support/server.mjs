// Starts the built `brewlink` binary on free ports with a fresh data folder, for one test file.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..', '..');

/**
 * Starts the server; resolves to { url, dataDir, stop } once it says where it serves. `dataDir` and
 * `httpAddr` restart a stopped server in place (`stop({ keepData: true })` keeps its folder).
 */
export async function startServer({ dataDir = mkdtempSync(join(tmpdir(), 'brewlink-e2e-')), httpAddr = '127.0.0.1:0' } = {}) {
  const binary = process.env.BREWLINK_BIN ?? join(root, 'target', 'debug', 'brewlink');
  const child = spawn(binary, ['serve'], {
    cwd: root,
    env: {
      ...process.env,
      BREWLINK_DATA_DIR: dataDir,
      BREWLINK_HTTP_ADDR: httpAddr,
      BREWLINK_HTTP_SITE_ROOT: join(root, 'target', 'site'),
      BREWLINK_MQTT_PORT: '0',
      BREWLINK_MQTT_TLS_PORT: '0',
      BREWLINK_MQTT_TLS_HOST: '127.0.0.1',
      BREWLINK_LOG_FORMAT: 'human',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = line.match(/serving (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
  });
  const stop = async ({ keepData = false } = {}) => {
    if (child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, stop };
}

/** Runs `brewlink simulate` with a bundle (simulated time `speed` times faster); resolves to { stop }. */
export function startSimulator(bundle, { speed = 10, interval = 0.5 } = {}) {
  const binary = process.env.BREWLINK_BIN ?? join(root, 'target', 'debug', 'brewlink');
  const args = ['simulate', '--bundle', bundle, '--interval', String(interval), '--speed', String(speed)];
  const child = spawn(binary, args, {
    cwd: root,
    env: { ...process.env, BREWLINK_LOG_LEVEL: 'warn', BREWLINK_LOG_FORMAT: 'human' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Creates an account with `brewlink user create` on a running server's data folder (as an operator does). */
export async function createUser(server, email, password, { staff = false } = {}) {
  const binary = process.env.BREWLINK_BIN ?? join(root, 'target', 'debug', 'brewlink');
  const args = ['user', 'create', '--email', email, ...(staff ? ['--staff'] : [])];
  const child = spawn(binary, args, {
    cwd: root,
    env: { ...process.env, BREWLINK_DATA_DIR: server.dataDir, BREWLINK_LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end(`${password}\n`);
  const code = await new Promise((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`brewlink user create exited with ${code}`);
}
