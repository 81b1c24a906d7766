import * as vscode from 'vscode';
import { relayList, severalRelays } from './relays';

/** Typed access to the `ensemble.*` settings (documented in package.json). */
export const SECTION = 'ensemble';

export const DEFAULT_RELAY_URL = 'ws://127.0.0.1:8765';

export const DEFAULT_IGNORE = [
  '**/.env',
  '**/.env.*',
  '**/*.pem',
  '**/*.key',
  '**/secrets.*',
  '**/*secret*',
];

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

export function relayUrl(): string {
  const value = cfg().get<string>('relayUrl', DEFAULT_RELAY_URL).trim();
  return value || DEFAULT_RELAY_URL;
}

/** `ensemble.relayUrls`: the relays of a cluster, empty when one relay (`relayUrl`) is used. */
export function relayUrls(): string[] {
  return severalRelays(cfg().get<unknown[]>('relayUrls', []));
}

/** Every relay to use, in the configured order; the first names them (stored token, invites). */
export function relays(): string[] {
  return relayList(relayUrl(), cfg().get<unknown[]>('relayUrls', []));
}

export function displayName(): string | undefined {
  const value = cfg().get<string>('displayName', '').trim();
  return value || undefined;
}

export function pythonSetting(): string | undefined {
  const value = cfg().get<string>('python', '').trim();
  return value || undefined;
}

export function ignoreGlobs(): string[] {
  return cfg().get<string[]>('ignore', DEFAULT_IGNORE).filter((g) => g.trim() !== '');
}

export function idleAfter(): number {
  return Math.max(1, cfg().get<number>('presence.idleAfter', 300));
}

export function awayAfter(): number {
  return Math.max(idleAfter(), cfg().get<number>('presence.awayAfter', 900));
}

export function cursorRate(): number {
  return Math.max(1, cfg().get<number>('cursorRate', 20));
}

export function logLevel(): string {
  return cfg().get<string>('logLevel', 'info');
}

export function showNameTags(): boolean {
  return cfg().get<boolean>('cursors.showNameTags', true);
}

export function maxRestarts(): number {
  return Math.max(0, cfg().get<number>('daemon.maxRestarts', 5));
}

/** Settings whose change needs a daemon restart. */
export const RESTART_SETTINGS = [
  'ensemble.relayUrl',
  'ensemble.relayUrls',
  'ensemble.python',
  'ensemble.displayName',
  'ensemble.presence.idleAfter',
  'ensemble.presence.awayAfter',
  'ensemble.cursorRate',
  'ensemble.logLevel',
];
