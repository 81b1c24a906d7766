import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { escapeHtml, formatCodeRef, mentionQuery, parseMentions, renderMarkdown } from "../../src/chat/markdown";

/** Every tag name the renderer produced, lowercase. */
function tags(html: string): string[] {
  return [...html.matchAll(/<\s*([a-zA-Z][\w-]*)/g)].map((m) => (m[1] ?? "").toLowerCase());
}

/** Every attribute name the renderer produced. */
function attributes(html: string): string[] {
  const out: string[] = [];
  for (const tag of html.matchAll(/<[a-zA-Z][^>]*>/g)) {
    for (const attr of tag[0].matchAll(/\s([a-zA-Z-]+)=/g)) {
      out.push((attr[1] ?? "").toLowerCase());
    }
  }
  return out;
}

const ALLOWED_TAGS = new Set(["p", "br", "strong", "em", "del", "code", "pre", "a", "span", "ul", "ol", "li", "blockquote"]);
const ALLOWED_ATTRS = new Set(["class", "href", "title", "data-user", "data-path", "data-line", "data-end-line"]);

describe("renderMarkdown sanitizing", () => {
  const payloads = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "[click](javascript:alert(1))",
    '[x](https://example.com/" onmouseover="alert(1))',
    "https://example.com/\"><script>alert(1)</script>",
    "`<script>` **<b>bold</b>** _<i>it</i>_",
    "```\n<script>alert(1)</script>\n```",
    "> <iframe src=https://evil.example></iframe>",
    "- <style>body{display:none}</style>",
    "@bob<script>x</script> src/a.ts:3<img onerror=1>",
    "\u0000<script>\u00000\u0000",
  ];
  for (const payload of payloads) {
    it(`renders ${JSON.stringify(payload)} with only allowed tags and attributes`, () => {
      const html = renderMarkdown(payload, { mentionable: ["bob"], me: "alice" });
      for (const tag of tags(html)) {
        assert.ok(ALLOWED_TAGS.has(tag), `unexpected tag <${tag}> in ${html}`);
      }
      for (const attr of attributes(html)) {
        assert.ok(ALLOWED_ATTRS.has(attr), `unexpected attribute ${attr} in ${html}`);
      }
      assert.doesNotMatch(html, /<(script|img|svg|iframe|style)/i);
      for (const href of html.matchAll(/href="([^"]*)"/g)) {
        assert.match(href[1] ?? "", /^(#|https?:\/\/)/, `unexpected link target in ${html}`);
      }
    });
  }

  it("keeps a script payload visible as text", () => {
    const html = renderMarkdown("hi <script>alert('x')</script>");
    assert.equal(html, "<p>hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>");
  });

  it("keeps an img onerror payload visible as text", () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)">');
    assert.equal(html, "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>");
  });

  it("does not let a link url break out of its attribute", () => {
    const html = renderMarkdown('[x](https://e.com/"onclick="alert(1))');
    assert.doesNotMatch(html, /"onclick/);
  });

  it("escapes the five html-special characters", () => {
    assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
  });
});

describe("renderMarkdown subset", () => {
  it("renders emphasis, strike and inline code", () => {
    assert.equal(
      renderMarkdown("**b** *i* _j_ ~~s~~ `c*d*`"),
      "<p><strong>b</strong> <em>i</em> <em>j</em> <del>s</del> <code>c*d*</code></p>",
    );
  });

  it("leaves snake_case identifiers and lone stars alone", () => {
    assert.equal(renderMarkdown("call my_func_name and 2 * 3 * 4"), "<p>call my_func_name and 2 * 3 * 4</p>");
  });

  it("renders fenced code blocks verbatim", () => {
    assert.equal(renderMarkdown("```ts\nconst a = 1 < 2;\n```"), "<pre><code>const a = 1 &lt; 2;</code></pre>");
  });

  it("renders lists, quotes and line breaks", () => {
    assert.equal(renderMarkdown("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
    assert.equal(renderMarkdown("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
    assert.equal(renderMarkdown("> q1\n> q2"), "<blockquote>q1<br>q2</blockquote>");
    assert.equal(renderMarkdown("l1\nl2\n\nl3"), "<p>l1<br>l2</p><p>l3</p>");
  });

  it("links only http and https urls", () => {
    assert.equal(
      renderMarkdown("[docs](https://example.com/a?b=1&c=2)"),
      '<p><a class="link" href="https://example.com/a?b=1&amp;c=2" title="https://example.com/a?b=1&amp;c=2">docs</a></p>',
    );
    assert.equal(
      renderMarkdown("see https://example.com/x."),
      '<p>see <a class="link" href="https://example.com/x">https://example.com/x</a>.</p>',
    );
    assert.equal(renderMarkdown("[x](file:///etc/passwd)"), "<p>[x](file:///etc/passwd)</p>");
  });

  it("highlights mentions of participants only", () => {
    const html = renderMarkdown("hey @Bob and @alice, not @carol or a@b.c", { mentionable: ["bob", "alice"], me: "alice" });
    assert.equal(
      html,
      '<p>hey <span class="mention" data-user="bob">@Bob</span> and ' +
        '<span class="mention me" data-user="alice">@alice</span>, not @carol or a@b.c</p>',
    );
  });

  it("turns path:line into a code reference", () => {
    assert.equal(
      renderMarkdown("look at src/app.py:12 and (lib/x.ts:3-5)"),
      '<p>look at <a class="coderef" href="#" data-path="src/app.py" data-line="12" title="Open src/app.py:12">src/app.py:12</a> and ' +
        '(<a class="coderef" href="#" data-path="lib/x.ts" data-line="3" data-end-line="5" title="Open lib/x.ts:3-5">lib/x.ts:3-5</a>)</p>',
    );
  });

  it("does not take times or urls for code references", () => {
    assert.equal(renderMarkdown("at 10:30"), "<p>at 10:30</p>");
    assert.doesNotMatch(renderMarkdown("https://host/a.py:3"), /coderef/);
  });
});

describe("mentions", () => {
  it("finds the @query before the caret", () => {
    assert.deepEqual(mentionQuery("hello @bo"), { start: 6, query: "bo" });
    assert.deepEqual(mentionQuery("@"), { start: 0, query: "" });
    assert.equal(mentionQuery("mail a@bo"), undefined);
    assert.equal(mentionQuery("hello @bob "), undefined);
  });

  it("parses mentioned ids in order, lowercase, once each", () => {
    assert.deepEqual(parseMentions("@Bob hi @alice and @bob. `@code` x@y"), ["bob", "alice"]);
  });

  it("formats code references", () => {
    assert.equal(formatCodeRef({ path: "a/b.ts", line: 4 }), "a/b.ts:4");
    assert.equal(formatCodeRef({ path: "a/b.ts", line: 4, endLine: 9 }), "a/b.ts:4-9");
  });
});
