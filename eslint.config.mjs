// ESLint with typescript-eslint's type-aware recommended rules. Every rule turned off or relaxed
// here says why; a line-level disable says why on its own line.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Build output, dependencies, and the client fixture, which compiles only against types that a
    // test generates from openapi.yaml at run time.
    ignores: ['dist/', 'build/', 'node_modules/', 'coverage/', 'bench-results/', 'data/', 'test/fixtures/'],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Fastify's async plugin signature and async route handlers (whose return value is the reply)
      // are the framework's own style, and the engines implement one async interface whether or not
      // a given implementation awaits: an async function without await is intended here.
      '@typescript-eslint/require-await': 'off',
      // `{ path: _path, ...rest }` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Response bodies in tests and benchmarks are parsed JSON, typed `any` by light-my-request
      // (`res.json()`), supertest (`res.body`) and fetch (`res.json()`); the tests check their shape
      // with expect() at run time instead, and a benchmark fails loudly on an unexpected answer.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript configuration files (CommonJS): no type information for them.
    files: ['**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, sourceType: 'commonjs' },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
