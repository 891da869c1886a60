// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ---------------------------------------------------------------------------------------------
// Layering (docs/architecture.md). Each folder of src/ is a layer that may import only the layers
// beneath it, so the accounting rules stay testable without Azure and each deployable ships only
// what it runs. In a flat config the last matching `no-restricted-imports` wins whole, so every
// layer states its complete list, and the catch-all for src/ comes first.

/** A relative specifier that reaches into one of these folders (`../../adapters/x.js`). */
const into = (/** @type {string[]} */ ...dirs) => `^\\.{1,2}/(.*/)?(${dirs.join('|')})/`;
/** Node modules that do I/O: a layer without them can only reach the world through a port. */
const NODE_IO = '^(node:)?(fs|http|https|http2|net|tls|dgram|dns|child_process|cluster|worker_threads)(/|$)';
const SDKS = '^(@azure/|undici$|prom-client$)';
// src/ is what ships; development harnesses, benchmarks and the Function registrations sit on top.
const NEVER_FROM_SRC = ['dev', 'bench', 'functions'];

/**
 * @param {string[]} files
 * @param {string} rule the layer's rule, quoted in every error
 * @param {{ regex: string, allowTypeImports?: boolean }[]} patterns
 */
const layer = (files, rule, patterns) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: patterns.map((p) => ({ ...p, message: `Layering: ${rule} (docs/architecture.md)` })) },
    ],
  },
});

const layering = [
  layer(['src/**/*.ts'], 'src/ never imports dev/, bench/ or functions/', [
    { regex: into(...NEVER_FROM_SRC) },
  ]),
  layer(
    ['src/domain/**/*.ts'],
    'the domain is pure rules over plain data: it imports only its own modules, zod, papaparse and date-fns',
    [
      {
        regex: into(
          'ports',
          'adapters',
          'usecases',
          'composition',
          'cli',
          'sidecar',
          'simulator',
          ...NEVER_FROM_SRC,
        ),
      },
      // Any package or Node module but the pure libraries: no SDK, no I/O, no clock.
      { regex: '^(?!\\.|(zod|papaparse|date-fns|@date-fns/utc)(/|$))' },
    ],
  ),
  layer(
    ['src/ports/**/*.ts'],
    // A port may name its storage layout (blob and row names) with the domain's pure day helpers.
    'a port is an interface over the domain: it imports the pure domain and nothing else',
    [
      {
        regex: into('adapters', 'usecases', 'composition', 'cli', 'sidecar', 'simulator', ...NEVER_FROM_SRC),
      },
      { regex: '^(?!\\.)' },
    ],
  ),
  layer(
    ['src/usecases/**/*.ts'],
    'a use case imports the domain and ports; adapters, composition, SDKs and Node I/O come in through ports',
    [
      { regex: into('adapters', 'composition', 'cli', 'sidecar', 'simulator', ...NEVER_FROM_SRC) },
      { regex: SDKS },
      { regex: NODE_IO },
    ],
  ),
  layer(
    ['src/adapters/**/*.ts'],
    'an adapter implements a port with an SDK or Node I/O; it never imports use cases, composition, the CLI or the sidecar',
    [{ regex: into('usecases', 'composition', 'cli', 'sidecar', 'simulator', ...NEVER_FROM_SRC) }],
  ),
  layer(
    ['src/composition/**/*.ts'],
    'composition wires use cases to adapters; it never imports the CLI or the sidecar',
    [{ regex: into('cli', 'sidecar', 'simulator', ...NEVER_FROM_SRC) }],
  ),
  layer(
    ['src/sidecar/**/*.ts'],
    'the sidecar is its own deployable: no ledger, use case, adapter, composition, CLI or Functions code (domain helpers are fine)',
    [
      { regex: into('ports', 'adapters', 'usecases', 'composition', 'cli', 'simulator', ...NEVER_FROM_SRC) },
      { regex: '^@azure/(functions|data-tables|storage-blob)(/|$)' },
    ],
  ),
  layer(['src/simulator/**/*.ts'], 'the simulator generates events from the domain alone', [
    { regex: into('ports', 'adapters', 'usecases', 'composition', 'cli', 'sidecar', ...NEVER_FROM_SRC) },
  ]),
  layer(
    ['functions/**/*.ts'],
    'a Function registration delegates to composition and use cases; adapters and SDK clients are built in composition',
    [
      { regex: into('adapters', 'cli', 'sidecar', 'simulator', 'dev', 'bench') },
      { regex: '^(@azure/(?!functions$)|undici$|prom-client$)' },
    ],
  ),
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'out/', 'coverage/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layering,
  {
    // expect.any() and expect.stringContaining() are typed `any` by vitest.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
