/**
 * Marks editor changes that the extension itself causes (revealing a followed
 * peer's viewport) so they are neither sent to peers nor taken as the user's own
 * moves. This is what keeps two users following each other from looping.
 */
export class RevealGuard {
  private until = 0;
  private depth = 0;

  /** Runs `task` with the guard up, and keeps it up `settleMs` after it finished. */
  async run<T>(task: () => Thenable<T> | Promise<T>, settleMs = 400): Promise<T> {
    this.depth++;
    try {
      return await task();
    } finally {
      this.depth--;
      this.until = Date.now() + settleMs;
    }
  }

  get active(): boolean {
    return this.depth > 0 || Date.now() < this.until;
  }
}
