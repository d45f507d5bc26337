// ESLint flat config (issue #13): typescript-eslint with type information for the bug-catching rules
// (promises, exhaustive switches, needless assertions) and the size limits (files ≤ 400 lines,
// functions ≤ 60 in cli/). No stylistic rule is enabled: formatting belongs to Prettier (.prettierrc.json).
import eslint from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.demo-state/', '.manage-secrets/', 'coverage/'] },

  eslint.configs.recommended,
  tseslint.configs.recommended,

  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // tsconfig.json covers cli/, test/ and vitest.config.ts; the other root config file has no tsconfig.
        projectService: { allowDefaultProject: ['vitest.bench.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },

  {
    files: ['**/*.{ts,js,mjs}'],
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Escaping and stripping control characters (terminal output, ANSI codes) is deliberate here.
      'no-control-regex': 'off',
      'no-var': 'error',
      'prefer-const': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },

  // Size limits. Every line counts (blank lines and comments too) so the number matches `wc -l`.
  {
    files: ['cli/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false, IIFEs: true }],
    },
  },
  {
    // Tests: the file limit holds, but describe()/it() callbacks are functions and are long by nature.
    files: ['test/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },

  {
    // Plain JS (bin/, scripts/*.mjs, this file): no tsconfig covers them, so no type-aware rules.
    files: ['**/*.{js,mjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', performance: 'readonly', URL: 'readonly' },
    },
  },
)
