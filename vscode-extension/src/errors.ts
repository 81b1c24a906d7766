import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';

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

/** A one-line, user-readable description of an error. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

/** Shows "Ensemble: <what>: <reason>", unless the user was already told. */
export function showError(what: string, err: unknown): void {
  if (err instanceof ReportedError) {
    return;
  }
  void vscode.window.showErrorMessage(`Ensemble: ${what}: ${describeError(err)}`);
}
