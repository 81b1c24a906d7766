/** How people and code are written into hovers, labels and Markdown. */

/**
 * "Alice (@mallory)": the username beside the display name when they differ (case
 * aside), so two people showing the same name are told apart. A name shown alone is
 * always its owner's username, which the relay keeps unique. (Same rule as the daemon's
 * `lsp_features.display_name`.)
 */
export function displayName(user: { id: string; name: string }): string {
  const name = user.name ?? '';
  if (!user.id || user.id.toLowerCase() === name.toLowerCase()) {
    return name || user.id;
  }
  return name ? `${name} (@${user.id})` : `@${user.id}`;
}

/** Text shown literally inside Markdown: every character Markdown could act on is escaped. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+\-.!|~]/g, (c) => `\\${c}`);
}

/** Inline code that holds `text` whatever backticks it contains (CommonMark code spans). */
export function inlineCode(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) {
    longest = Math.max(longest, m[0].length);
  }
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text.startsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}
