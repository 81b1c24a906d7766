/** The relay URLs the settings name: `ensemble.relayUrls` when not empty, else `ensemble.relayUrl`. */

const WS_URL = /^wss?:\/\/[^/?#\s]+[^?#\s]*$/;

/** A relay URL without surrounding blanks and trailing slashes. */
export function normalizeRelay(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** The ws:// or wss:// entries of `ensemble.relayUrls`, normalized, without repeats. */
export function severalRelays(urls: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const raw of urls) {
    if (typeof raw !== 'string') {
      continue;
    }
    const url = normalizeRelay(raw);
    if (WS_URL.test(url) && !out.includes(url)) {
      out.push(url);
    }
  }
  return out;
}

/** Every relay to use, in the configured order: the list when not empty, else the one URL
 * (as written: the stored token of one relay is keyed by it). */
export function relayList(single: string, several: readonly unknown[]): string[] {
  const list = severalRelays(several);
  return list.length > 0 ? list : [single];
}

/** Whether `url` (from an invite link) is one of the configured relays. */
export function isConfiguredRelay(url: string, relays: readonly string[]): boolean {
  const wanted = normalizeRelay(url);
  return relays.some((r) => normalizeRelay(r) === wanted);
}
