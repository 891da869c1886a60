import { describe, expect, it } from 'vitest';
import { formatBasisPoints, judgeCost, type Traffic } from '../../../src/domain/costgate/gate.js';
import { renderJson, renderMarkdown } from '../../../src/domain/costgate/render.js';
import { dollars } from '../../../src/domain/exact.js';
import { groupKey, type RunCosts, type RunGroup } from '../../../src/domain/costgate/run-costs.js';

function run(groups: Partial<RunGroup>[]): RunCosts {
  const map = new Map<string, RunGroup>();
  for (const g of groups) {
    const group: RunGroup = {
      feature: 'chat',
      model: 'llama',
      requestClass: 'interactive',
      requests: 100,
      tokens: 100_000,
      nanos: 0,
      skus: ['Standard_NC24ads_A100_v4'],
      ...g,
    };
    map.set(groupKey(group.feature, group.model, group.requestClass), group);
  }
  return { groups: map, requests: 0, allocatedNanos: 0, idleNanos: 0 };
}

function traffic(
  days: number,
  groups: { feature: string; model?: string; requestClass?: string; requests: number }[],
): Traffic {
  return {
    days: Array.from({ length: days }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`),
    groups: new Map(
      groups.map((g) => {
        const full = { model: 'llama', requestClass: 'interactive', ...g };
        return [groupKey(full.feature, full.model, full.requestClass), full];
      }),
    ),
  };
}

const judge = (baseline: RunCosts, candidate: RunCosts, t: Traffic, maxIncreasePct = 5) =>
  judgeCost({ baseline, candidate, traffic: t, maxIncreasePct, minRequests: 20 });

/** The Markdown table parsed back: rows of cells, `\|` kept inside a cell. */
function tableOf(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|') && !line.startsWith('|---'))
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((cell) =>
          cell.replace(/\\(.)/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'),
        ),
    );
}

describe('the release cost gate', () => {
  it('projects cost per request onto the real volume of a 730-hour month, exactly', () => {
    // Baseline: $2.00 for 100 requests = $0.02 each; candidate $2.50 for 100 = $0.025.
    // Real volume: 9,000 requests in 3 days = 3,000 a day; a month = 3,000 x 730 / 24 = 91,250.
    const result = judge(
      run([{ nanos: 2_000_000_000 }]),
      run([{ nanos: 2_500_000_000 }]),
      traffic(3, [{ feature: 'chat', requests: 9000 }]),
      30,
    );
    const [line] = result.lines;
    expect(line?.baseline?.monthlyNanos).toBe(1_825_000_000_000n); // $1,825.00
    expect(line?.candidate?.monthlyNanos).toBe(2_281_250_000_000n); // $2,281.25
    expect(line?.baseline?.per1kRequestsNanos).toBe(20_000_000_000n); // $20 per 1k requests
    expect(line?.candidate?.per1kTokensNanos).toBe(25_000_000n); // $2.50 per 100k tokens = $0.025 per 1k
    expect(result.changeNanos).toBe(456_250_000_000n);
    expect(result.changeBasisPoints).toBe(2500n); // +25%
    expect(result.verdict).toBe('pass'); // within the 30% given
  });

  it('rounds each figure once, half away from zero, from exact integers', () => {
    // $1 over 3 requests, 1 real request in 7 days: 1e9 x 1 x 730 / (3 x 7 x 24) = 1,448,412,698.4 nanos.
    const result = judge(
      run([{ requests: 3, nanos: 1_000_000_000 }]),
      run([{ requests: 3, nanos: 1_000_000_000 }]),
      traffic(7, [{ feature: 'chat', requests: 1 }]),
    );
    expect(result.lines[0]?.baseline?.monthlyNanos).toBe(1_448_412_698n);
  });

  it('fails above the limit, and passes exactly at it', () => {
    const t = traffic(1, [{ feature: 'chat', requests: 100 }]);
    const at = judge(run([{ nanos: 1_000_000_000 }]), run([{ nanos: 1_050_000_000 }]), t);
    expect([at.verdict, at.changeBasisPoints]).toEqual(['pass', 500n]);
    const above = judge(run([{ nanos: 1_000_000_000 }]), run([{ nanos: 1_050_000_001 }]), t);
    expect(above.verdict).toBe('fail');
    expect(above.reasons).toEqual(['the projected monthly GPU cost rises +5.0%, above the 5% limit']);
  });

  it('passes an improvement and says so', () => {
    const result = judge(
      run([{ nanos: 1_000_000_000 }]),
      run([{ nanos: 800_000_000 }]),
      traffic(1, [{ feature: 'chat', requests: 100 }]),
    );
    expect(result.verdict).toBe('pass');
    expect(renderMarkdown(result)).toContain(
      '**PASS**: monthly GPU cost -$6 (-20.0%): the candidate costs less',
    );
  });

  it('fails closed when a group with real traffic is missing from a run, or measured too few times', () => {
    const t = traffic(2, [
      { feature: 'chat', requests: 500 },
      { feature: 'search', requests: 40 },
    ]);
    const missing = judge(run([{ nanos: 1 }, { feature: 'search', nanos: 1 }]), run([{ nanos: 1 }]), t);
    expect(missing.verdict).toBe('fail');
    expect(missing.reasons).toEqual([
      'search / llama / interactive has real traffic (40 requests in 2 day(s)) but the candidate run served none of it',
    ]);
    const few = judge(
      run([{ nanos: 1 }, { feature: 'search', requests: 5, nanos: 1 }]),
      run([{ nanos: 1 }, { feature: 'search', requests: 5, nanos: 1 }]),
      t,
    );
    expect(few.reasons).toEqual([
      'search / llama / interactive: the baseline run served 5 request(s), fewer than the 20 needed to measure',
      'search / llama / interactive: the candidate run served 5 request(s), fewer than the 20 needed to measure',
    ]);
    const none = judge(run([{ nanos: 1 }]), run([{ nanos: 1 }]), traffic(0, []));
    expect(none.reasons).toEqual([
      'no daily metrics in the traffic folder: there is no real volume to project onto',
    ]);
    expect(renderMarkdown(missing)).toContain('**FAIL**: not enough evidence to judge this release');
  });

  it('shows groups the runs served without real traffic, without projecting them', () => {
    const result = judge(
      run([{ nanos: 1 }, { feature: 'beta', nanos: 5 }]),
      run([{ nanos: 1 }]),
      traffic(1, [{ feature: 'chat', requests: 10 }]),
    );
    expect(result.unprojected).toEqual(['beta / llama / interactive']);
    expect(result.verdict).toBe('pass');
  });

  describe('judging one model', () => {
    const both = traffic(2, [
      { feature: 'chat', requests: 500 },
      { feature: 'chat', model: 'qwen', requests: 300 },
    ]);
    const llamaOnly = run([{ nanos: 1_000_000_000 }]);
    const judgeModel = (model: string, baseline = llamaOnly, candidate = llamaOnly, t = both) =>
      judgeCost({ baseline, candidate, traffic: t, maxIncreasePct: 5, minRequests: 20, model });

    it("judges only that model's groups, so a canary of one model is not failed for the others", () => {
      expect(judge(llamaOnly, llamaOnly, both).verdict).toBe('fail');
      const result = judgeModel('llama');
      expect(result.verdict).toBe('pass');
      expect(result.lines.map((l) => l.model)).toEqual(['llama']);
      expect(result.model).toBe('llama');
    });

    it("lists the runs' groups of other models as not projected, and leaves them out of the totals", () => {
      const withQwen = run([{ nanos: 1_000_000_000 }, { model: 'qwen', nanos: 9_000_000_000 }]);
      const cheaperQwen = run([{ nanos: 1_000_000_000 }, { model: 'qwen', nanos: 1 }]);
      const result = judgeModel('llama', withQwen, cheaperQwen);
      expect(result.unprojected).toEqual(['chat / qwen / interactive']);
      expect(result.changeNanos).toBe(0n);
      expect(result.baselineMonthlyNanos).toBe(result.lines[0]?.baseline?.monthlyNanos);
    });

    it('still fails closed on a group of that model the candidate did not serve', () => {
      const t = traffic(1, [
        { feature: 'chat', requests: 50 },
        { feature: 'search', requests: 50 },
      ]);
      const result = judgeModel('llama', run([{ nanos: 1 }, { feature: 'search', nanos: 1 }]), llamaOnly, t);
      expect(result.reasons).toEqual([
        'search / llama / interactive has real traffic (50 requests in 1 day(s)) but the candidate run served none of it',
      ]);
    });

    it('fails closed, naming the model, when the traffic has no volume for it', () => {
      const result = judgeModel('mistral');
      expect(result.verdict).toBe('fail');
      expect(result.reasons).toEqual([
        'model mistral has no real traffic in the 2 day(s) found: there is nothing to project its runs onto',
      ]);
      expect(result.unprojected).toEqual(['chat / llama / interactive']);
      expect(renderMarkdown(result)).toContain('**FAIL**: not enough evidence');
    });

    it('says which model was judged, in the Markdown and the JSON', () => {
      const result = judgeModel('llama');
      expect(renderMarkdown(result)).toContain('Judged: the groups of model llama only.');
      expect(JSON.parse(renderJson(result))).toMatchObject({ judgedModel: 'llama' });
      const all = judge(llamaOnly, llamaOnly, traffic(1, [{ feature: 'chat', requests: 5 }]));
      expect(renderMarkdown(all)).not.toContain('Judged:');
      expect(JSON.parse(renderJson(all))).toMatchObject({ judgedModel: null });
    });
  });

  it('writes a Markdown table that parses back, whatever the names hold', () => {
    const hostile = 'a | b </td><script>x</script> `y` *z*\n| injected |';
    const result = judge(
      run([{ feature: hostile, nanos: 2_000_000_000 }]),
      run([{ feature: hostile, nanos: 2_100_000_000, skus: ['Standard_NC48ads_A100_v4'] }]),
      traffic(3, [{ feature: hostile, requests: 9000 }]),
    );
    const markdown = renderMarkdown(result);
    const [header, ...rows] = tableOf(markdown);
    expect(header).toEqual([
      'feature',
      'model',
      'class',
      'baseline per 1k requests',
      'candidate per 1k requests',
      'baseline monthly',
      'candidate monthly',
      'change',
      'requests measured (baseline / candidate)',
      'real requests a day',
    ]);
    expect(markdown).toContain('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual([
      'a | b </td><script>x</script> `y` *z*\\u000a| injected |',
      'llama (Standard_NC24ads_A100_v4 → Standard_NC48ads_A100_v4)',
      'interactive',
      '$20.0000',
      '$21.0000',
      '$1,825.00',
      '$1,916.25',
      '+$91.25 (+5.0%)',
      '100 / 100',
      '3000',
    ]);
    expect(markdown).not.toContain('<script>');
    expect(markdown.split('\n').filter((l) => l.startsWith('|'))).toHaveLength(3);
  });

  it('writes JSON with exact decimal strings', () => {
    const result = judge(
      run([{ nanos: 2_000_000_000 }]),
      run([{ nanos: 2_500_000_000 }]),
      traffic(3, [{ feature: 'chat', requests: 9000 }]),
    );
    const json = JSON.parse(renderJson(result)) as Record<string, unknown>;
    expect(json).toMatchObject({
      verdict: 'fail',
      baselineMonthlyUsd: '1825.000000',
      candidateMonthlyUsd: '2281.250000',
      changeMonthlyUsd: '456.250000',
      changePct: 25,
    });
  });

  it('formats money and percentages for people', () => {
    expect(dollars(1_240_499_999_999n, 0, true)).toBe('+$1,240');
    expect(dollars(-500_000_000n)).toBe('-$0.50');
    expect(formatBasisPoints(789n)).toBe('+7.9%');
    expect(formatBasisPoints(-5n)).toBe('-0.1%');
  });
});
