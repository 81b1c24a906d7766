// Bundles the extension (src/main.ts -> dist/main.js), the chat webview (src/chat/webview/main.ts
// -> dist/webview/chat.js, a browser script) and, when present, the in-editor integration test
// suite (src/test/suite.ts -> dist/test/suite.js). `--watch` rebuilds on change.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const entries = [{ in: join(root, 'src/main.ts'), out: 'main' }];
const suite = join(root, 'src/test/suite.ts');
if (existsSync(suite)) {
  entries.push({ in: suite, out: 'test/suite' });
}

const common = {
  bundle: true,
  sourcemap: true,
  minify: production,
  logLevel: 'info',
};

const extension = {
  ...common,
  entryPoints: entries,
  outdir: join(root, 'dist'),
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
};

// One classic script for the webview page; its CSP admits it by nonce (src/chat/html.ts).
const webview = {
  ...common,
  entryPoints: [{ in: join(root, 'src/chat/webview/main.ts'), out: 'chat' }],
  outdir: join(root, 'dist/webview'),
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
};

if (watch) {
  for (const options of [extension, webview]) {
    const context = await esbuild.context(options);
    await context.watch();
  }
} else {
  await Promise.all([esbuild.build(extension), esbuild.build(webview)]);
}
