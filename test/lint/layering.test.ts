import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The repository's own eslint.config.js, with only the layering rule and without type information,
// so a fixture can be linted as if it sat at any path without existing on disk.
const eslint = new ESLint({
  overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

/** The layering messages for `code` placed at `filePath`. */
async function layeringErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath });
  return (result?.messages ?? []).map((m) => m.message);
}

describe('lint: the layering of src/', () => {
  it('the code as it stands obeys every layer', async () => {
    const results = await eslint.lintFiles(['src', 'functions', 'dev', 'bench']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(problems).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
  });

  it('the domain imports no SDK, no Node I/O, no port and no adapter, naming its rule', async () => {
    const errors = await layeringErrors(
      'src/domain/fixture.ts',
      "import { BlobClient } from '@azure/storage-blob'; void BlobClient;",
    );
    expect(errors).toEqual([expect.stringMatching(/Layering: the domain is pure rules/)]);
    for (const source of [
      'node:fs',
      'fs',
      'undici',
      '../adapters/memory/memory-ledger.js',
      '../ports/clock.js',
    ]) {
      expect(
        await layeringErrors('src/domain/report/fixture.ts', `import '${source}';`),
        source,
      ).toHaveLength(1);
    }
    expect(
      await layeringErrors('src/domain/x.ts', "import type { Ledger } from '../ports/ledger.js';"),
    ).toHaveLength(1);
  });

  it('the domain may use its own modules, zod, papaparse and date-fns', async () => {
    const code =
      "import './prices.js'; import '../chargeback.js'; import 'zod'; import 'papaparse'; import 'date-fns'; import '@date-fns/utc';";
    expect(await layeringErrors('src/domain/report/fixture.ts', code)).toEqual([]);
  });

  it('a port imports the pure domain only', async () => {
    expect(
      await layeringErrors('src/ports/x.ts', "import type { PriceCard } from '../domain/prices.js';"),
    ).toEqual([]);
    expect(await layeringErrors('src/ports/x.ts', "import { dayPath } from '../domain/days.js';")).toEqual(
      [],
    );
    expect(await layeringErrors('src/ports/x.ts', "import '@azure/data-tables';")).toEqual([
      expect.stringMatching(/Layering: a port is an interface over the domain/),
    ]);
    expect(
      await layeringErrors('src/ports/x.ts', "import '../adapters/memory/memory-ledger.js';"),
    ).toHaveLength(1);
  });

  it('a use case reaches adapters, SDKs and Node I/O only through ports', async () => {
    const at = 'src/usecases/daily/fixture.ts';
    expect(
      await layeringErrors(at, "import '../../ports/ledger.js'; import '../../domain/prices.js';"),
    ).toEqual([]);
    for (const source of [
      '../../adapters/memory/memory-ledger.js',
      '../../composition/composition.js',
      '@azure/storage-blob',
      'node:fs/promises',
      'node:http',
    ]) {
      expect(await layeringErrors(at, `import '${source}';`), source).toEqual([
        expect.stringMatching(/Layering: a use case imports the domain and ports/),
      ]);
    }
  });

  it('an adapter never imports use cases, composition or the CLI', async () => {
    const at = 'src/adapters/memory/fixture.ts';
    expect(await layeringErrors(at, "import '../../ports/ledger.js'; import '@azure/data-tables';")).toEqual(
      [],
    );
    for (const source of ['../../usecases/retry.js', '../../composition/config.js', '../../cli/main.js']) {
      expect(await layeringErrors(at, `import '${source}';`), source).toHaveLength(1);
    }
  });

  it('a Function imports composition and use cases, never an adapter or an SDK client', async () => {
    const at = 'functions/fixture.ts';
    expect(
      await layeringErrors(
        at,
        "import '@azure/functions'; import '../src/composition/composition.js'; import '../src/usecases/retry.js';",
      ),
    ).toEqual([]);
    expect(await layeringErrors(at, "import '../src/adapters/azure-storage/storage-ledger.js';")).toEqual([
      expect.stringMatching(/Layering: a Function registration delegates/),
    ]);
    expect(await layeringErrors(at, "import '@azure/storage-blob';")).toHaveLength(1);
  });

  it('the sidecar imports no ledger, use case or Functions code, but may use domain helpers', async () => {
    const at = 'src/sidecar/fixture.ts';
    expect(await layeringErrors(at, "import '../domain/errors.js'; import '@azure/event-hubs';")).toEqual([]);
    for (const source of [
      '../usecases/ingest/ingest.js',
      '../ports/ledger.js',
      '../cli/args.js',
      '@azure/data-tables',
    ]) {
      expect(await layeringErrors(at, `import '${source}';`), source).toEqual([
        expect.stringMatching(/Layering: the sidecar is its own deployable/),
      ]);
    }
  });

  it('src/ never imports dev/ or bench/; dev/ and bench/ may import anything', async () => {
    expect(await layeringErrors('src/cli/fixture.ts', "import '../../dev/free-port.js';")).toHaveLength(1);
    expect(
      await layeringErrors('src/new-layer/fixture.ts', "import '../../bench/load-generator.js';"),
    ).toEqual([expect.stringMatching(/Layering: src\/ never imports dev\//)]);
    expect(await layeringErrors('dev/fixture.ts', "import '../src/adapters/files/ndjson.js';")).toEqual([]);
    expect(await layeringErrors('bench/fixture.ts', "import '../src/usecases/retry.js';")).toEqual([]);
  });
});
