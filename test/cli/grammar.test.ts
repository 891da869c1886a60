import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deprecationNotice, instantOf } from '../../src/cli/args.js';
import { parseCalibrateArgs } from '../../src/cli/calibrate-command.js';
import { parseCostGateArgs } from '../../src/cli/cost-gate-command.js';
import { parseDriftArgs } from '../../src/cli/drift-command.js';
import { parseFixedCostArgs } from '../../src/cli/fixed-cost-command.js';
import { parseGateArgs } from '../../src/cli/gate-command.js';
import { HELP } from '../../src/cli/main.js';
import { DEFAULT_PRICES_PATH } from '../../src/cli/prices-option.js';
import { parseReplayArgs } from '../../src/cli/replay-command.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';
import { runMain } from '../helpers/cli.js';

const DAY = '2026-11-24';

/** Parses with a notice sink: what it returned, and the notices it gave. */
function parsed<T>(parse: (args: string[], notice: (m: string) => void) => T, args: string[]) {
  const notices: string[] = [];
  const value = parse(args, (m) => notices.push(m));
  return { value, notices };
}

describe('chargeback --version', () => {
  it('prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await runMain(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('is named in the main help', () => {
    expect(HELP).toContain('chargeback --version');
  });
});

describe('old spellings: still read for one release, each with one deprecation line', () => {
  it('replay-deadletters --day is --date', () => {
    const old = parsed(parseReplayArgs, ['--day', DAY]);
    const now = parsed(parseReplayArgs, ['--date', DAY]);
    expect(old.value).toEqual(now.value);
    expect(now.value).toMatchObject({ from: DAY, to: DAY });
    expect(old.notices).toEqual([deprecationNotice('day', 'date')]);
    expect(now.notices).toEqual([]);
  });

  it('prints the deprecation line on stderr through the command line', async () => {
    // A range backwards is refused before storage is touched: the notice comes first.
    const result = await runMain(['replay-deadletters', '--day', DAY, '--to', '2026-11-01']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'chargeback: warning: --day is deprecated and will be removed in the next release; use --date\n' +
        `chargeback: --from ${DAY} is after --to 2026-11-01\n`,
    );
  });

  it('--day=VALUE is read the same, and --day with --date is refused', () => {
    expect(parsed(parseReplayArgs, [`--day=${DAY}`]).value).toMatchObject({ from: DAY, to: DAY });
    expect(() => parseReplayArgs(['--day', DAY, '--date', DAY])).toThrow('give --date or --day, not both');
  });

  it('calibrate --interval is --scrape-interval', () => {
    const old = parsed(parseCalibrateArgs, ['--url', 'http://127.0.0.1:1/metrics', '--interval', '5']);
    const now = parsed(parseCalibrateArgs, ['--url', 'http://127.0.0.1:1/metrics', '--scrape-interval', '5']);
    expect(old.value).toEqual(now.value);
    expect(now.value).toMatchObject({ intervalSeconds: 5 });
    expect(old.notices).toEqual([deprecationNotice('interval', 'scrape-interval')]);
    expect(now.notices).toEqual([]);
  });
});

describe('new spellings beside the names the contracts fix (no notice: both are current)', () => {
  const gate = ['--baseline', 'b', '--candidate', 'c', '--out', 'o'];

  it('cost-gate --reports is --traffic (contracts.md §11)', () => {
    const spec = parsed(parseCostGateArgs, [...gate, '--traffic', 'r']);
    const shared = parsed(parseCostGateArgs, [...gate, '--reports', 'r']);
    expect(shared.value).toEqual(spec.value);
    expect(spec.value).toMatchObject({ traffic: 'r' });
    expect([...spec.notices, ...shared.notices]).toEqual([]);
    expect(() => parseCostGateArgs([...gate, '--reports', 'r', '--traffic', 'r'])).toThrow(
      'give --traffic or --reports, not both',
    );
  });

  it('drift --days is --baseline-days (contracts.md §9)', () => {
    const base = ['--reports', 'r', '--date', DAY, '--out', 'o'];
    const spec = parsed(parseDriftArgs, [...base, '--baseline-days', '7']);
    const shared = parsed(parseDriftArgs, [...base, '--days', '7']);
    expect(shared.value).toEqual(spec.value);
    expect(spec.value).toMatchObject({ baselineDays: 7 });
    expect([...spec.notices, ...shared.notices]).toEqual([]);
  });

  it('--at is a TIMESTAMP in gate and fixed-cost alike; gate refuses a bare day, as contracts.md §10 states', () => {
    const noon = parseTimestamp(`${DAY}T12:00:00Z`);
    const gate = (at: string) =>
      parseGateArgs(['--evaluations', 'e', '--rules', 'r', '--model', 'm', '--at', at]);
    expect(gate(`${DAY}T12:00:00Z`)).toMatchObject({ atUs: noon });
    expect(() => gate(DAY)).toThrow('--at must be an ISO-8601 timestamp with Z or an offset');
    expect(instantOf(DAY)).toBeUndefined();
    const now = parsed(
      (args, notice) => parseFixedCostArgs(args, new Date(), notice),
      ['--snapshot', 's', '--at', `${DAY}T12:00:00Z`],
    );
    expect(now).toEqual({ value: expect.objectContaining({ at: noon }) as unknown, notices: [] });
  });

  it('fixed-cost --at YYYY-MM-DD, its old form, is still read as the day’s 00:00 UTC, with a notice', async () => {
    const old = parsed(
      (args, notice) => parseFixedCostArgs(args, new Date(), notice),
      ['--snapshot', 's', '--at', DAY],
    );
    expect(old.value).toMatchObject({ at: parseTimestamp(`${DAY}T00:00:00Z`) });
    expect(old.notices).toEqual([
      `warning: --at YYYY-MM-DD is deprecated and will be removed in the next release; use --at ${DAY}T00:00:00Z`,
    ]);
    const result = await runMain(['fixed-cost', '--snapshot', 'bicep/dev.snapshot.json', '--at', DAY]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`chargeback: ${old.notices[0] ?? ''}\n`);
  });

  it('an optional --prices defaults to the package’s card, wherever the command runs from', () => {
    expect(isAbsolute(DEFAULT_PRICES_PATH)).toBe(true);
    expect(DEFAULT_PRICES_PATH.endsWith('prices/azure-a100.json')).toBe(true);
    expect(parseCostGateArgs([...gate, '--traffic', 'r'])).toMatchObject({ pricesPath: DEFAULT_PRICES_PATH });
    expect(parseFixedCostArgs(['--snapshot', 's'])).toMatchObject({ pricesPath: DEFAULT_PRICES_PATH });
  });

  it('an unreadable --prices is refused in the same words by every command', async () => {
    const missing = '/nonexistent/card.json';
    const fixed = await runMain(['fixed-cost', '--snapshot', 'bicep/dev.snapshot.json', '--prices', missing]);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/^chargeback: cannot read --prices \/nonexistent\/card\.json: /);
    expect(fixed.stderr).not.toContain('PRICE_CARD_PATH');
  });
});
