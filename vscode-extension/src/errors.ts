import { ResponseError } from 'vscode-languageclient/node';

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
