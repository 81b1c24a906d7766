/** Drawing peers one by one: one peer's bad data never stops the others'. (No vscode import:
 * unit-tested under node --test.) */

/** A peer's position as numbers a `vscode.Position` accepts, or undefined when it is none
 * (negative, fractional, not finite, not a number): `new vscode.Position` throws on those. */
export function validPoint(p: unknown): { line: number; character: number } | undefined {
  const q = p as { line?: unknown; character?: unknown } | null | undefined;
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (!q || !ok(q.line) || !ok(q.character)) {
    return undefined;
  }
  return { line: q.line, character: q.character };
}

/**
 * Runs `draw` for every entry; an entry that throws is cleaned up with `recover` and
 * reported through `log` once (its key is kept in `failed`), and the others still run.
 */
export function drawEach<T>(
  entries: Iterable<[string, T]>,
  draw: (key: string, value: T) => void,
  recover: (key: string, value: T) => void,
  failed: Set<string>,
  log: (message: string) => void,
): void {
  for (const [key, value] of entries) {
    try {
      draw(key, value);
    } catch (err) {
      if (!failed.has(key)) {
        failed.add(key);
        log(`cannot draw ${key}: ${err instanceof Error ? err.message : String(err)}`);
      }
      try {
        recover(key, value);
      } catch {
        // nothing more to do for this one
      }
    }
  }
}
