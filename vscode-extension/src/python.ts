import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { pythonSetting } from './config';

/** The interpreter the daemon runs on, resolved and checked. */
export interface PythonInfo {
  command: string;
  version: [number, number, number];
  source: 'setting' | 'python-extension' | 'default';
}

export const MIN_VERSION: [number, number] = [3, 10];

/** How long to wait for the Python extension to activate before falling back to python3. */
const PYTHON_EXTENSION_TIMEOUT_MS = 10000;

export class PythonError extends Error {
  constructor(message: string, readonly command: string, readonly source: PythonInfo['source']) {
    super(message);
    this.name = 'PythonError';
  }
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The active interpreter of the Python extension (ms-python.python), if installed. */
async function fromPythonExtension(): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) {
    return undefined;
  }
  try {
    const api = ext.isActive
      ? ext.exports
      : await Promise.race([
          ext.activate(),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), PYTHON_EXTENSION_TIMEOUT_MS)),
        ]);
    const envs = api?.environments;
    if (!envs) {
      return undefined;
    }
    const active = envs.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    if (!active) {
      return undefined;
    }
    const resolved = await envs.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}

function probe(command: string): Promise<[number, number, number]> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
      { timeout: 15000, windowsHide: true },
      (err, stdout) => {
        if (err) {
          reject(err);
          return;
        }
        const parts = stdout.trim().split('.').map((n) => parseInt(n, 10));
        if (parts.length !== 3 || parts.some((n) => Number.isNaN(n))) {
          reject(new Error(`unexpected version output: ${stdout.trim()}`));
          return;
        }
        resolve([parts[0], parts[1], parts[2]]);
      },
    );
  });
}

function tooOld(v: [number, number, number]): boolean {
  return v[0] < MIN_VERSION[0] || (v[0] === MIN_VERSION[0] && v[1] < MIN_VERSION[1]);
}

/** Finds the interpreter: `ensemble.python`, else the Python extension's, else python3. */
export async function resolvePython(): Promise<PythonInfo> {
  let command = pythonSetting();
  let source: PythonInfo['source'] = 'setting';
  if (!command) {
    command = await fromPythonExtension();
    source = 'python-extension';
  }
  if (!command) {
    command = process.platform === 'win32' ? 'python' : 'python3';
    source = 'default';
  }
  let version: [number, number, number];
  try {
    version = await probe(command);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'was not found' : 'could not be run';
    throw new PythonError(`Python "${command}" ${reason}`, command, source);
  }
  if (tooOld(version)) {
    throw new PythonError(`Python "${command}" is ${version.join('.')}, older than ${MIN_VERSION.join('.')}`, command, source);
  }
  return { command, version, source };
}

/** Shows the single "what to do" message for a missing or too old Python. */
export async function reportPythonError(err: PythonError): Promise<void> {
  const openSettings = 'Set ensemble.python';
  const download = 'Get Python';
  const choice = await vscode.window.showErrorMessage(
    `Ensemble needs Python ${MIN_VERSION.join('.')} or newer to run its background service: ${err.message}. ` +
      'Install Python 3.10+ or set "ensemble.python" to the path of a Python 3.10+ interpreter.',
    openSettings,
    download,
  );
  if (choice === openSettings) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'ensemble.python');
  } else if (choice === download) {
    await vscode.env.openExternal(vscode.Uri.parse('https://www.python.org/downloads/'));
  }
}
