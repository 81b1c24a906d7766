/**
 * Safe markdown for chat messages.
 *
 * Everything the user wrote is HTML-escaped first; only a small markdown
 * subset is then turned into tags that this module writes itself (code,
 * emphasis, links to http(s), lists, quotes, @mentions, file:line
 * references). No attribute ever receives unescaped user text, so a
 * `<script>` or `<img onerror=...>` in a message stays inert text.
 *
 * Pure module (no vscode import): the unit tests run it under `node --test`.
 */

export interface RenderOptions {
  /** user ids that may be highlighted as mentions (lowercase) */
  readonly mentionable?: Iterable<string>;
  /** the local user's id: mentions of it get the extra class "me" */
  readonly me?: string;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

/** `@name` at the end of `prefix` (the text before the caret), for completion. */
export function mentionQuery(prefix: string): { start: number; query: string } | undefined {
  const m = /(^|[^\w@`])@([\w.-]*)$/.exec(prefix);
  if (!m) {
    return undefined;
  }
  const query = m[2] ?? "";
  return { start: prefix.length - query.length - 1, query };
}

/** The user ids written as `@id` in a text (lowercase, deduplicated, in order). */
export function parseMentions(text: string): string[] {
  const out: string[] = [];
  const re = /(^|[^\w@`])@([A-Za-z0-9][\w-]*(?:\.[\w-]+)*)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const id = (m[2] ?? "").toLowerCase();
    if (!out.includes(id)) {
      out.push(id);
    }
  }
  return out;
}

export interface CodeRef {
  readonly path: string;
  /** one-based */
  readonly line: number;
  readonly endLine?: number;
}

/** `path:line` or `path:start-end`, as written by "Share Cursor Position". */
export function formatCodeRef(ref: CodeRef): string {
  const lines = ref.endLine && ref.endLine !== ref.line ? `${ref.line}-${ref.endLine}` : `${ref.line}`;
  return `${ref.path}:${lines}`;
}

// One pass over escaped text finds the "atoms" that become elements. Order of
// the alternatives matters: a URL wins over a file reference inside it.
const ATOM = new RegExp(
  [
    String.raw`\[([^\]\n]+)\]\((https?:\/\/(?:&amp;|[^\s()&])+)\)`, // 1,2: [text](url)
    String.raw`(https?:\/\/(?:&amp;|[^\s()\[\]&])*(?:&amp;|[^\s()\[\]&.,;:!?]))`, // 3: bare url
    String.raw`(^|[^\w@\/.-])@([A-Za-z0-9][\w-]*(?:\.[\w-]+)*)`, // 4,5: @mention
    String.raw`(^|[\s(])((?:[\w-]+\/)*[\w.-]*\w\.[A-Za-z0-9]+):(\d+)(?:-(\d+))?(?![\w:])`, // 6..9: path:line
  ].join("|"),
  "g",
);

const HOLE = "\u0000";

function inline(raw: string, opts: RenderOptions, mentionable: Set<string>): string {
  const atoms: string[] = [];
  const hole = (html: string): string => {
    atoms.push(html);
    return `${HOLE}${atoms.length - 1}${HOLE}`;
  };
  // Code spans are taken from the raw text: their content is escaped and nothing else.
  let text = raw.replace(/`([^`\n]+)`/g, (_m, code: string) => hole(`<code>${escapeHtml(code)}</code>`));
  // Escape everything else; holes survive (NUL is not escaped and was stripped from input).
  text = text
    .split(HOLE)
    .map((part, i) => (i % 2 === 1 ? `${HOLE}${part}${HOLE}` : escapeHtml(part)))
    .join("");
  text = text.replace(
    ATOM,
    (
      m: string,
      linkText?: string,
      linkUrl?: string,
      url?: string,
      mPre?: string,
      mId?: string,
      rPre?: string,
      rPath?: string,
      rLine?: string,
      rEnd?: string,
    ) => {
      if (linkUrl !== undefined) {
        return hole(`<a class="link" href="${linkUrl}" title="${linkUrl}">${linkText ?? ""}</a>`);
      }
      if (url !== undefined) {
        return hole(`<a class="link" href="${url}">${url}</a>`);
      }
      if (mId !== undefined) {
        const id = mId.toLowerCase();
        if (!mentionable.has(id)) {
          return m;
        }
        const cls = id === opts.me ? "mention me" : "mention";
        return `${mPre ?? ""}${hole(`<span class="${cls}" data-user="${escapeHtml(id)}">@${mId}</span>`)}`;
      }
      if (rPath !== undefined && rLine !== undefined) {
        const label = `${rPath}:${rLine}${rEnd !== undefined ? `-${rEnd}` : ""}`;
        const end = rEnd !== undefined ? ` data-end-line="${rEnd}"` : "";
        return `${rPre ?? ""}${hole(
          `<a class="coderef" href="#" data-path="${rPath}" data-line="${rLine}"${end} title="Open ${label}">${label}</a>`,
        )}`;
      }
      return m;
    },
  );
  text = text
    .replace(/\*\*(?!\s)(.+?)(?<!\s)\*\*/g, "<strong>$1</strong>")
    .replace(/__(?!\s)(.+?)(?<!\s)__(?!\w)/g, "<strong>$1</strong>")
    .replace(/~~(?!\s)(.+?)(?<!\s)~~/g, "<del>$1</del>")
    .replace(/(^|[^\w*])\*(?![\s*])([^*\n]+?)(?<!\s)\*(?![\w*])/g, "$1<em>$2</em>")
    .replace(/(^|[^\w])_(?![\s_])([^_\n]+?)(?<!\s)_(?!\w)/g, "$1<em>$2</em>");
  // Fill the holes; atoms never contain holes themselves except link text, so loop once more.
  const fill = (s: string): string =>
    s.replace(new RegExp(`${HOLE}(\\d+)${HOLE}`, "g"), (_m, n: string) => atoms[Number(n)] ?? "");
  return fill(fill(text));
}

type Block =
  | { kind: "p"; lines: string[] }
  | { kind: "quote"; lines: string[] }
  | { kind: "ul"; items: string[] }
  | { kind: "ol"; items: string[] }
  | { kind: "code"; text: string }
  | { kind: "heading"; text: string };

function blocks(text: string): Block[] {
  const out: Block[] = [];
  const lines = text.split("\n");
  let i = 0;
  const last = (): Block | undefined => out[out.length - 1];
  while (i < lines.length) {
    const line = lines[i] ?? "";
    const fence = /^\s*```/.exec(line);
    if (fence) {
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? "")) {
        body.push(lines[i] ?? "");
        i += 1;
      }
      i += 1; // closing fence (or end of text)
      out.push({ kind: "code", text: body.join("\n") });
      continue;
    }
    i += 1;
    if (/^\s*$/.test(line)) {
      out.push({ kind: "p", lines: [] }); // paragraph break
      continue;
    }
    const quote = /^\s*>\s?(.*)$/.exec(line);
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
    const prev = last();
    if (quote) {
      if (prev?.kind === "quote") {prev.lines.push(quote[1] ?? "");}
      else {out.push({ kind: "quote", lines: [quote[1] ?? ""] });}
    } else if (bullet) {
      if (prev?.kind === "ul") {prev.items.push(bullet[1] ?? "");}
      else {out.push({ kind: "ul", items: [bullet[1] ?? ""] });}
    } else if (numbered) {
      if (prev?.kind === "ol") {prev.items.push(numbered[1] ?? "");}
      else {out.push({ kind: "ol", items: [numbered[1] ?? ""] });}
    } else if (heading) {
      out.push({ kind: "heading", text: heading[1] ?? "" });
    } else if (prev?.kind === "p" && prev.lines.length > 0) {
      prev.lines.push(line);
    } else {
      out.push({ kind: "p", lines: [line] });
    }
  }
  return out.filter((b) => b.kind !== "p" || b.lines.length > 0);
}

/** Markdown subset -> HTML that is safe to assign to innerHTML. */
export function renderMarkdown(source: string, opts: RenderOptions = {}): string {
  const mentionable = new Set([...(opts.mentionable ?? [])].map((id) => id.toLowerCase()));
  const text = source.replace(/\r\n?/g, "\n").split(HOLE).join("");
  const inl = (s: string): string => inline(s, opts, mentionable);
  return blocks(text)
    .map((b) => {
      switch (b.kind) {
        case "code":
          return `<pre><code>${escapeHtml(b.text)}</code></pre>`;
        case "quote":
          return `<blockquote>${b.lines.map(inl).join("<br>")}</blockquote>`;
        case "ul":
          return `<ul>${b.items.map((it) => `<li>${inl(it)}</li>`).join("")}</ul>`;
        case "ol":
          return `<ol>${b.items.map((it) => `<li>${inl(it)}</li>`).join("")}</ol>`;
        case "heading":
          return `<p><strong>${inl(b.text)}</strong></p>`;
        case "p":
          return `<p>${b.lines.map(inl).join("<br>")}</p>`;
      }
      return "";
    })
    .join("");
}
