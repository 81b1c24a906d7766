/**
 * Per-hop timing of cursor updates, for the editor-to-editor latency breakdown.
 *
 * With ENSEMBLE_TRACE_CURSOR=1 in the extension host's environment, each hop a cursor update
 * passes through here writes one line to the Ensemble output channel:
 * `trace cursor <stage> line=<0-based caret line> t=<wall clock, ms>`, the format of the
 * daemon's lines (daemon/trace.py). The wall clock is the one clock every process on a
 * machine shares. Off by default: each hop then costs one test of a constant.
 */

export const tracing = process.env.ENSEMBLE_TRACE_CURSOR === '1';

/** The wall clock in ms, to the microsecond (Date.now() has whole ms only). */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Records that a cursor update on `line` passed `stage` now. */
export function traceCursor(log: (message: string) => void, stage: string, line: number): void {
  log(`trace cursor ${stage} line=${line} t=${now().toFixed(3)}`);
}
