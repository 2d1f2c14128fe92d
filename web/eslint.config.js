// ESLint for the web client: JS recommended + typescript-eslint (recommended,
// type-aware) + the React hooks rules.
//
// typescript-eslint needs the TypeScript 5 compiler API, which TypeScript 7 (the
// native `tsc` the app is checked with) does not have, so it is installed on its
// own under tools/eslint-config (the `postinstall` script does that).
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from './tools/eslint-config/index.js';

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'tools', 'test-results', 'playwright-report', 'src/core/protocol/generated'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: {
      ecmaVersion: 2023,
      globals: { ...globals.browser },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Message content must never become HTML (docs/protocol.md §2).
      'react/no-danger': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']",
          message: 'Never render HTML: message content is plain text.',
        },
        {
          selector: 'AssignmentExpression[left.property.name=/^(innerHTML|outerHTML)$/]',
          message: 'Never render HTML: message content is plain text.',
        },
      ],
    },
  },
  {
    // src/core is the framework-free model: React (and the router) stay in hooks/, components/ and pages/.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['react', 'react/*', 'react-dom', 'react-dom/*', 'react-router', 'react-router/*'],
              message: 'src/core has no React: bind it in src/hooks instead.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['e2e/**/*.ts', 'test/**/*.{ts,tsx}', '*.config.ts', 'scripts/**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['public/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
);
