// Bundles the extension (src/main.ts -> dist/main.js) and, when present, the in-editor
// integration test suite (src/test/suite.ts -> dist/test/suite.js). `--watch` rebuilds on change.
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

const options = {
  entryPoints: entries,
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: true,
  minify: production,
  logLevel: 'info',
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
