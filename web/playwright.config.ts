import { defineConfig } from '@playwright/test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Browser tests run the real Nimbus server against the built console (web/dist), in a fresh data
// directory, on a port of their own.
//   NIMBUS_BIN        path to the nimbus binary (required), e.g. build/dev/src/app/nimbus
//   NIMBUS_E2E_PORT   port to listen on (default 18080)
//   NIMBUS_E2E_LOG_LEVEL  the server's log level (default warn: no access log lines in the output)
//   CHROMIUM_PATH     browser to drive (default Debian's /usr/bin/chromium)

const webDir = fileURLToPath(new URL('.', import.meta.url));
const consoleDir = join(webDir, 'dist');

const nimbusBin = process.env.NIMBUS_BIN;
if (nimbusBin === undefined || nimbusBin === '') {
  throw new Error(
    'NIMBUS_BIN is not set: the browser tests start the real server. Build it and run e.g.\n' +
      '  NIMBUS_BIN=$PWD/../build/dev/src/app/nimbus npm run e2e',
  );
}
const nimbusPath = resolve(nimbusBin);
if (!existsSync(nimbusPath)) {
  throw new Error(`NIMBUS_BIN=${nimbusBin}: no such file (resolved to ${nimbusPath})`);
}
if (!existsSync(join(consoleDir, 'index.html'))) {
  throw new Error(`${consoleDir}/index.html is missing: run \`npm run build\` first`);
}

const port = Number(process.env.NIMBUS_E2E_PORT ?? '18080');
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  throw new Error(`NIMBUS_E2E_PORT=${process.env.NIMBUS_E2E_PORT ?? ''} is not a port number`);
}
const baseURL = `http://127.0.0.1:${port}`;

// Playwright loads this file again in each worker; the environment carries the first load's data
// directory to them, so one run makes exactly one, and the process that made it (the runner, which
// outlives the server) removes it at exit.
let dataDir = process.env.NIMBUS_E2E_DATA_DIR;
if (dataDir === undefined) {
  const madeDir = mkdtempSync(join(tmpdir(), 'nimbus-e2e-'));
  process.env.NIMBUS_E2E_DATA_DIR = madeDir;
  process.on('exit', () => {
    rmSync(madeDir, { recursive: true, force: true });
  });
  dataDir = madeDir;
}

// The server reads NIMBUS_<SECTION>_<KEY> variables as settings and warns about any other, so the
// test's own variables are taken out of its environment.
const testOnlyVariables = Object.keys(process.env).filter(
  (name) => name === 'NIMBUS_BIN' || name.startsWith('NIMBUS_E2E_'),
);

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  // Axe over a long page (the API reference) takes seconds on a busy shared machine.
  timeout: 60_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: process.env.CI !== undefined,
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    baseURL,
    headless: true,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: [
      'env',
      ...testOnlyVariables.map((name) => `-u ${name}`),
      JSON.stringify(nimbusPath),
      'serve',
      `--listen 127.0.0.1:${port}`,
      `--data-dir ${JSON.stringify(dataDir)}`,
      `--console-dir ${JSON.stringify(consoleDir)}`,
      `--log-level ${process.env.NIMBUS_E2E_LOG_LEVEL ?? 'warn'}`,
      // The sign-up and invitation tests read their mail here, as a person reads their inbox.
      '--set mail.dev_mailbox=true',
    ].join(' '),
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    // SIGTERM lets the server finish its requests and close the database cleanly.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    timeout: 30_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
