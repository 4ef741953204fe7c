// Starts the built `brewlink` binary on free ports with a fresh data folder, for one test file.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..', '..');

/** The store the servers run on: BREWLINK_TEST_STORE is `sqlite` (the default) or `postgres`. */
export const store = process.env.BREWLINK_TEST_STORE || 'sqlite';
if (!['sqlite', 'postgres'].includes(store)) throw new Error(`BREWLINK_TEST_STORE=${store}: expected sqlite or postgres`);
const postgresServer = process.env.BREWLINK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';

/** Runs one statement on the PostgreSQL server's maintenance database with psql. */
function postgres(sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, `${postgresServer}/postgres`], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A fresh database for one server: a new PostgreSQL database, or (on SQLite) none: brewlink.db in its data folder. */
function createDatabase() {
  if (store !== 'postgres') return undefined;
  const name = `brewlink_e2e_${randomBytes(8).toString('hex')}`;
  postgres(`CREATE DATABASE "${name}"`);
  return { name, url: `${postgresServer}/${name}` };
}

/**
 * Starts the server on this run's store; resolves to { url, dataDir, database, stop } once it says where
 * it serves. `dataDir`, `database` and `httpAddr` restart a stopped server in place
 * (`stop({ keepData: true })` keeps its folder and database).
 */
export async function startServer({ dataDir = mkdtempSync(join(tmpdir(), 'brewlink-e2e-')), database = createDatabase(), httpAddr = '127.0.0.1:0' } = {}) {
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
      ...databaseEnv(database),
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
    if (!keepData) {
      rmSync(dataDir, { recursive: true, force: true });
      if (database) postgres(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
    }
  };
  return { url, dataDir, database, stop };
}

/** The variables that point a `brewlink` command at a server's database (none on SQLite). */
function databaseEnv(database) {
  return database ? { BREWLINK_DATABASE_URL: database.url } : {};
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
    env: { ...process.env, BREWLINK_DATA_DIR: server.dataDir, BREWLINK_LOG_LEVEL: 'warn', ...databaseEnv(server.database) },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end(`${password}\n`);
  const code = await new Promise((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`brewlink user create exited with ${code}`);
}
