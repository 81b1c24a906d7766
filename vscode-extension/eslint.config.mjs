// Flat config: typescript-eslint's recommended rules over the extension sources and build scripts.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// An editor-protocol method name ("ensemble/..." not preceded by "." as in the
// vscode://ensemble.ensemble/join URI). esquery's /regex/ may hold no "/": \x2F is one.
const METHOD_NAME = '(^|[^.\\w])ensemble\\x2F';
const METHOD_MESSAGE =
  'Name editor-protocol methods only through the constants of src/protocol.generated.ts (python -m daemon.gen_ts).';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'bundled/**', 'node_modules/**', 'src/protocol.generated.ts', '*.vsix'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      eqeqeq: ['error', 'always'],
      curly: 'error',
      'no-console': 'off',
    },
  },
  {
    // Requests and notifications go through the generated RequestType/NotificationType
    // constants; a method name spelled as a string anywhere else is an error.
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=/${METHOD_NAME}/]`, message: METHOD_MESSAGE },
        { selector: `TemplateElement[value.raw=/${METHOD_NAME}/]`, message: METHOD_MESSAGE },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // The chat webview runs in a browser page: DOM globals, and imports only its own modules
    // and the message types it shares with the panel (src/chat/messages.ts).
    files: ['src/chat/webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./[\\w-]+$|\\.\\./messages$)',
              message: 'The chat webview imports only ./<module> and ../messages (it is bundled for the browser).',
            },
          ],
        },
      ],
    },
  },
);
