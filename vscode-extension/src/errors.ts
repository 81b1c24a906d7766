import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import { humanMessage } from './human';

/** An error the user was already told about (e.g. Python missing); callers stay quiet. */
export class ReportedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportedError';
  }
}

/** The Ensemble error code carried in a daemon error's data, if any. */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof ResponseError) {
    const data = err.data as { code?: unknown } | undefined;
    if (data && typeof data.code === 'string') {
      return data.code;
    }
  }
  return undefined;
}

/** A one-line description of an error (for the log). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

/** A request constant of the protocol, as far as error texts need it. */
export interface Named {
  readonly method: string;
}

/** What to tell people about an error of `request` (human.ts maps codes to text). */
export function humanError(err: unknown, request?: Named): string {
  return humanMessage(errorCode(err), request?.method, describeError(err));
}

/** Shows "Ensemble: <what>: <reason>", unless the user was already told. */
export function showError(what: string, err: unknown, request?: Named): void {
  if (err instanceof ReportedError) {
    return;
  }
  const code = errorCode(err);
  const text = code ? humanError(err, request) : describeError(err);
  void vscode.window.showErrorMessage(code ? `Ensemble: ${text}` : `Ensemble: ${what}: ${text}`);
}
