import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '../../src/composition/config.js';
import { withSettingsTable } from '../../src/composition/settings-doc.js';
import { CONNECTIONS, declaredSettings } from '../../src/composition/settings.js';

// Every registration the function files make, as the host would index them.
const registrations = vi.hoisted(
  () => [] as { kind: string; name: string; options: Record<string, unknown> }[],
);
vi.mock('@azure/functions', async (original) => {
  const actual = await original<typeof import('@azure/functions')>();
  const record =
    (kind: string) =>
    (name: string, options: Record<string, unknown>): void => {
      registrations.push({ kind, name, options });
    };
  return {
    ...actual,
    app: {
      ...actual.app,
      eventHub: record('eventHub'),
      timer: record('timer'),
      http: record('http'),
      storageQueue: record('storageQueue'),
    },
  };
});

const declared = new Set(declaredSettings().map((s) => s.name as string));
const appSecrets = declaredSettings().filter((s) => s.secret && s.schema !== undefined);

/** Every object in the config, the config itself first. */
function objectsIn(value: object): object[] {
  return [
    value,
    ...Object.values(value).flatMap((v: unknown) =>
      typeof v === 'object' && v !== null ? objectsIn(v) : [],
    ),
  ];
}

describe('the settings declaration', () => {
  it('has at least one secret the app reads, so the redaction test below tests something', () => {
    expect(appSecrets.length).toBeGreaterThan(0);
  });

  for (const secret of appSecrets) {
    it(`never prints ${secret.name}: JSON, util.inspect and toString of the config and of every object in it`, () => {
      const probe = `probe-${secret.name}-c2VjcmV0LWtleQ==`;
      const config: Config = loadConfig({
        LEDGER_STORAGE_ACCOUNT_NAME: 'chargeback01',
        [secret.name]: probe,
      });
      // The value is there to use...
      expect(JSON.stringify(objectsIn(config).map((o) => ({ ...o })))).toContain(probe);
      // ...and never shows when printed.
      for (const o of objectsIn(config)) {
        expect(JSON.stringify(o)).not.toContain(probe);
        expect(JSON.stringify({ wrapped: o })).not.toContain(probe);
        expect(inspect(o, { depth: 10 })).not.toContain(probe);
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the config defines its own toString
        const text = String(o);
        expect(text).not.toContain(probe);
        expect(text).not.toContain('[object Object]');
      }
    });
  }

  it('declares every %NAME% and every connection the function registrations use', async () => {
    for (const file of readdirSync('functions').filter((f) => f.endsWith('.ts'))) {
      await import(/* @vite-ignore */ pathToFileURL(resolve('functions', file)).href);
    }
    expect(registrations.map((r) => r.name).sort()).toEqual([
      'costGate',
      'dailyChargeback',
      'evaluateQuality',
      'getGate',
      'getPromotion',
      'getReport',
      'getReportPage',
      'getRequest',
      'ingestUsage',
      'monthlyChargeback',
      'publishBudgets',
      'qualityTimer',
      'replayDeadLetters',
      'reportDay',
      'reportDayUnit',
      'restate',
    ]);
    for (const { name, options } of registrations) {
      for (const [key, value] of Object.entries(options)) {
        if (typeof value !== 'string') continue;
        for (const match of value.matchAll(/%([^%]+)%/g)) {
          expect(declared, `${name}.${key} reads %${match[1] ?? ''}%`).toContain(match[1]);
        }
        if (key === 'connection') {
          expect(
            [...declared].some((s) => s === value || s.startsWith(`${value}__`)),
            `${name} connects with ${value}`,
          ).toBe(true);
        }
      }
    }
    for (const connection of Object.values(CONNECTIONS)) {
      expect(registrations.some((r) => r.options.connection === connection)).toBe(true);
    }
  });

  it('declares every name in local.settings.example.json, and the example sets every required setting', () => {
    const example = JSON.parse(readFileSync('local.settings.example.json', 'utf8')) as {
      Values: Record<string, string>;
    };
    const names = Object.keys(example.Values);
    for (const name of names) expect(declared, name).toContain(name);
    for (const s of declaredSettings().filter((x) => x.required.startsWith('yes'))) {
      expect(names, s.name).toContain(s.name);
    }
    expect(() => loadConfig(example.Values)).not.toThrow();
  });

  it('is what docs/configuration.md shows (run `npx tsx dev/settings-doc.ts` after changing it)', () => {
    const document = readFileSync('docs/configuration.md', 'utf8');
    expect(withSettingsTable(document)).toBe(document);
  });
});
