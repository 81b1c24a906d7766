// Integration tests that run inside a real VS Code (code-server) extension host.
// VS Code loads this bundle as `extensionTestsPath` and calls `run()`: it resolves when every
// test passed (exit code 0) and throws otherwise (exit code 1). No test framework: a small runner
// with one timeout per test and a log line per result, so the driver can show what failed.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import * as lsp from '../protocol';

const EXTENSION_ID = 'ensemble.ensemble';
const TEST_TIMEOUT_MS = 60_000;

interface Test {
  name: string;
  fn: () => Promise<void>;
}

/** What the extension's activate() returns (its test/automation surface). */
type EnsembleApi = Pick<Ctx, 'request'>;

interface CommandContribution {
  command: string;
  title: string;
  category?: string;
}

const tests: Test[] = [];

function test(name: string, fn: () => Promise<void>): void {
  tests.push({ name, fn });
}

class AssertionError extends Error {}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}

const reportPath = process.env.ENSEMBLE_TEST_REPORT;

function log(line: string): void {
  console.log(`[ensemble-test] ${line}`);
  if (reportPath) {
    fs.appendFileSync(reportPath, `${line}\n`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function extension(): vscode.Extension<EnsembleApi | undefined> {
  const ext = vscode.extensions.getExtension<EnsembleApi | undefined>(EXTENSION_ID);
  assert(ext, `extension ${EXTENSION_ID} is not installed`);
  return ext;
}

async function api(): Promise<EnsembleApi> {
  const exports = await extension().activate();
  assert(
    exports && typeof exports.request === 'function',
    'activate() must return an API with request(type, params)',
  );
  return exports;
}

function contributedCommands(): CommandContribution[] {
  const pkg = extension().packageJSON as { contributes?: { commands?: CommandContribution[] } };
  return pkg.contributes?.commands ?? [];
}

// ---- tests ------------------------------------------------------------------------------

test('the extension activates in a real VS Code', async () => {
  const ext = extension();
  await ext.activate();
  assert(ext.isActive, 'extension did not become active');
});

test('every contributed command is registered and in the Ensemble category', async () => {
  await extension().activate();
  const contributed = contributedCommands();
  assert(contributed.length > 0, 'package.json contributes no commands');
  const registered = new Set(await vscode.commands.getCommands(true));
  const missing = contributed.filter((c) => !registered.has(c.command)).map((c) => c.command);
  assert(missing.length === 0, `contributed but not registered: ${missing.join(', ')}`);
  const uncategorized = contributed.filter((c) => c.category !== 'Ensemble').map((c) => c.command);
  assert(uncategorized.length === 0, `commands outside the Ensemble category: ${uncategorized.join(', ')}`);
});

test('the daemon starts and answers the state request', async () => {
  const ensemble = await api();
  const state = await ensemble.request(lsp.state, {});
  assert(state && typeof state === 'object', `${lsp.state.method} returned nothing`);
  assert(
    ['signed_out', 'connecting', 'online', 'offline'].includes(state.connection.state),
    `unexpected connection state ${JSON.stringify(state.connection)}`,
  );
  assert(Array.isArray(state.peers), 'state.peers is not a list');
  assert(typeof state.outbox === 'number', 'state.outbox is not a number');
});

test('sign up against the relay returns a token and the user', async () => {
  const ensemble = await api();
  const relayUrl = vscode.workspace.getConfiguration('ensemble').get<string>('relayUrl');
  assert(relayUrl, 'setting ensemble.relayUrl is empty');
  const username = `it-${crypto.randomBytes(4).toString('hex')}`;
  const result = await ensemble.request(lsp.signUp, {
    username,
    password: 'correct horse battery staple',
    display_name: 'Integration Tester',
    relay_url: relayUrl,
  });
  assert(typeof result.token === 'string' && result.token.length > 20, 'no token in the sign-up result');
  assert(result.user.name === 'Integration Tester', `unexpected user ${JSON.stringify(result.user)}`);
  assert(result.expires_at * 1000 > Date.now(), 'token already expired');

  const again = await ensemble.request(lsp.signIn, {
    username,
    password: 'correct horse battery staple',
    relay_url: relayUrl,
  });
  assert(again.user.id === result.user.id, 'sign-in returned another user than sign-up');

  let wrong: unknown;
  try {
    await ensemble.request(lsp.signIn, { username, password: 'wrong', relay_url: relayUrl });
  } catch (err) {
    wrong = err;
  }
  assert(wrong, 'sign-in with a wrong password succeeded');
});

// ---- runner -----------------------------------------------------------------------------

export async function run(): Promise<void> {
  const failures: string[] = [];
  log(`running ${tests.length} tests in VS Code ${vscode.version}`);
  for (const t of tests) {
    const started = Date.now();
    try {
      await withTimeout(t.fn(), TEST_TIMEOUT_MS, t.name);
      log(`ok   ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`FAIL ${t.name} (${Date.now() - started} ms)\n${detail}`);
      failures.push(t.name);
    }
  }
  log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  if (tests.length === 0) {
    throw new Error('no integration tests ran');
  }
  if (failures.length) {
    throw new Error(`${failures.length} of ${tests.length} integration tests failed: ${failures.join('; ')}`);
  }
}
