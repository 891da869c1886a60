import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { casesPathOf, parseEvaluateArgs, runEvaluate } from '../../src/cli/evaluate-command.js';
import { parseEvent, type EvaluationEvent } from '../../src/domain/events.js';
import { judge } from '../../src/domain/gate/judge.js';
import { parseGateRules } from '../../src/domain/gate/rules.js';
import { evaluationOf } from '../../src/domain/gate/verdict.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeOpenAi, lastUserText, type FakeAction } from '../helpers/fake-openai.js';
import { runMain } from '../helpers/cli.js';

const ROOT = mkdtempSync(join(tmpdir(), 'evaluate-'));
afterAll(() => {
  rmSync(ROOT, { recursive: true, force: true });
});

/** Questions and right answers of the suite the tests run. */
const ANSWERS: Record<string, string> = {
  'What is 2+2?': '4',
  'Capital of France?': 'Paris',
  'Colour of snow?': 'white',
};

function writeSuite(): string {
  const dir = join(ROOT, 'suite');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'suite.json'),
    JSON.stringify({
      name: 'tiny-qa',
      version: '4',
      tenant: 'quality',
      feature: 'regression-harness',
      models: ['qwen2.5-14b-instruct'],
      prompt: { system: 'Answer only.', template: '{{input}}' },
      generation: { temperature: 0, max_tokens: 16, stop: ['\n'] },
      scorers: { exact_match: {}, f1: {}, toxicity: { blockedWords: ['idiot'] } },
    }),
  );
  writeFileSync(
    join(dir, 'cases.jsonl'),
    Object.entries(ANSWERS)
      .map(([input, expected], i) => JSON.stringify({ id: `q${i + 1}`, input, expected }))
      .join('\n'),
  );
  return dir;
}
const SUITE = writeSuite();

/** The gate's "*" rules with completeness required, as docs/quality-gates.md recommends. */
const RULES = parseGateRules({
  models: {
    '*': {
      dataset: 'tiny-qa@4',
      maxAgeHours: 36,
      metrics: { exact_match: { min: 0.7 }, toxicity: { max: 0.01 }, completed: { min: 1 } },
    },
  },
});

let server: FakeOpenAi | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(plan: (question: string, attempt: number) => FakeAction): Promise<URL> {
  server = new FakeOpenAi((body, attempt) => plan(lastUserText(body), attempt));
  return server.start();
}
const right = (question: string): FakeAction => ({ answer: ANSWERS[question] ?? '?' });

function readEvent(out: string): EvaluationEvent {
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  const parsed = parseEvent(JSON.parse(lines[0] ?? ''));
  if (!parsed.ok) throw new Error(parsed.reason);
  if (parsed.event.type !== 'evaluation') throw new Error('not an evaluation');
  return parsed.event;
}
const gateOf = (event: EvaluationEvent) =>
  judge(event.model, [evaluationOf(event)], RULES, event.evaluatedAt + 1_000_000).verdict;

/** The command without --model-version, which then comes from the endpoint. */
const bare = (url: URL, out: string) => [
  'evaluate',
  '--endpoint',
  url.href,
  '--model',
  'qwen2.5-14b-instruct',
  '--suite',
  SUITE,
  '--out',
  out,
];

const args = (url: URL, out: string, extra: string[] = []) => [
  ...bare(url, out),
  // The version read from the endpoint is tested on its own below.
  ...(extra.includes('--model-version') ? [] : ['--model-version', '7']),
  ...extra,
];

describe('chargeback evaluate against an OpenAI-compatible server on loopback', () => {
  it('a complete run: exit 0, an event the parser and the gate accept, each case beside it', async () => {
    const url = await serve(right);
    const out = join(ROOT, 'complete', 'evaluation.ndjson');
    const result = await runMain(args(url, out, ['--model-version', 'v7', '--commit', 'abc123']));
    expect(result.code, result.stderr).toBe(0);
    const event = readEvent(out);
    expect(event).toMatchObject({
      dataset: 'tiny-qa@4',
      model: 'qwen2.5-14b-instruct',
      modelVersion: 'v7',
      commit: 'abc123',
    });
    expect(event.metrics).toMatchObject({ exact_match: 1, f1: 1, toxicity: 0, completed: 1, cases: 3 });
    expect(gateOf(event)).toMatchObject({ verdict: 'pass' });
    const cases = readFileSync(casesPathOf(out), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; answer: string });
    expect(cases.map((c) => [c.id, c.answer])).toEqual([
      ['q1', '4'],
      ['q2', 'Paris'],
      ['q3', 'white'],
    ]);
    expect(result.stdout).toContain(`wrote ${out}`);
  });

  it('with neither --out nor --send, prints the event as the first line of stdout', async () => {
    const url = await serve(right);
    const result = await runMain([
      'evaluate',
      '--endpoint',
      url.href,
      '--model',
      'qwen2.5-14b-instruct',
      '--suite',
      SUITE,
      '--model-version',
      '7',
    ]);
    expect(result.code).toBe(0);
    const parsed = parseEvent(JSON.parse(result.stdout.split('\n')[0] ?? ''));
    expect(parsed.ok && parsed.event.type === 'evaluation' && parsed.event.dataset).toBe('tiny-qa@4');
  });

  it('bills the suite: tenant, feature and class headers, the generation settings in the body', async () => {
    const url = await serve(right);
    await runMain(args(url, join(ROOT, 'headers', 'e.ndjson')));
    const call = server?.calls[0];
    expect(call?.path).toBe('/v1/chat/completions');
    expect(call?.headers).toMatchObject({
      'x-tenant': 'quality',
      'x-feature': 'regression-harness',
      'x-request-class': 'batch',
    });
    expect(call?.headers['x-request-id']).toMatch(/^eval-[0-9a-f]{8}-q\d-1$/);
    expect(call?.body).toMatchObject({
      model: 'qwen2.5-14b-instruct',
      temperature: 0,
      max_tokens: 16,
      stop: ['\n'],
      stream: false,
    });
  });

  it('wrong answers still exit 0: judging the scores is the gate’s job', async () => {
    const url = await serve(() => ({ answer: 'no idea, idiot' }));
    const out = join(ROOT, 'wrong', 'e.ndjson');
    expect((await runMain(args(url, out))).code).toBe(0);
    const event = readEvent(out);
    expect(event.metrics).toMatchObject({ exact_match: 0, toxicity: 1, completed: 1 });
    expect(gateOf(event)).toMatchObject({ verdict: 'fail' });
  });

  it('a slow answer is cut off: a partial run, exit 1, and the gate fails it on completeness', async () => {
    const url = await serve((q) => (q === 'Capital of France?' ? { hang: true } : right(q)));
    const out = join(ROOT, 'slow', 'e.ndjson');
    const result = await runMain(args(url, out, ['--timeout', '0.2', '--attempts', '1']));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'partial run, 1 of 3 case(s) not completed: q2 (not completed: timed out after 200 ms',
    );
    const event = readEvent(out);
    expect(event.metrics).toMatchObject({ completed: 2 / 3, exact_match: 2 / 3 });
    expect(event).toMatchObject({ run: { complete: false, notCompletedIds: ['q2'] } });
    const verdict = gateOf(event);
    expect(verdict.verdict).toBe('fail');
    expect(verdict.reasons.join('\n')).toContain('completed');
  });

  it('500s are retried and a later success completes the case', async () => {
    const url = await serve((q, attempt) =>
      q === 'What is 2+2?' && attempt < 3 ? { status: 500 } : right(q),
    );
    const out = join(ROOT, 'retried', 'e.ndjson');
    const result = await runMain(args(url, out, ['--attempts', '3']));
    expect(result.code, result.stderr).toBe(0);
    const first = JSON.parse(readFileSync(casesPathOf(out), 'utf8').split('\n')[0] ?? '') as {
      attempts: number;
    };
    expect(first.attempts).toBe(3);
  });

  it('500s that never stop: the case fails after its attempts, and the run is partial', async () => {
    const url = await serve((q) => (q === 'Colour of snow?' ? { status: 503 } : right(q)));
    const out = join(ROOT, 'failing', 'e.ndjson');
    const result = await runMain(args(url, out, ['--attempts', '2']));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('HTTP 503: fake 503 (after 2 attempts)');
    expect(server?.calls.filter((c) => lastUserText(c.body) === 'Colour of snow?')).toHaveLength(2);
    expect(readEvent(out).metrics.completed).toBeCloseTo(2 / 3, 12);
  });

  it('a 400 is not retried', async () => {
    const url = await serve((q) => (q === 'What is 2+2?' ? { status: 400 } : right(q)));
    const result = await runMain(args(url, join(ROOT, 'bad-request', 'e.ndjson')));
    expect(result.code).toBe(1);
    expect(server?.calls.filter((c) => lastUserText(c.body) === 'What is 2+2?')).toHaveLength(1);
  });

  it('a truncated JSON body and a connection dropped mid-body are retried', async () => {
    const url = await serve((q, attempt) => {
      if (q === 'What is 2+2?' && attempt === 1) return { truncatedJson: true };
      if (q === 'Capital of France?' && attempt === 1) return { dropMidBody: true };
      return right(q);
    });
    const out = join(ROOT, 'truncated', 'e.ndjson');
    const result = await runMain(args(url, out));
    expect(result.code, result.stderr).toBe(0);
    expect(readEvent(out).metrics).toMatchObject({ completed: 1, exact_match: 1 });
  });

  it('a truncated body every time ends the case with the reason', async () => {
    const url = await serve((q) => (q === 'What is 2+2?' ? { truncatedJson: true } : right(q)));
    const out = join(ROOT, 'always-truncated', 'e.ndjson');
    const result = await runMain(args(url, out, ['--attempts', '2']));
    expect(result.code).toBe(1);
    const first = JSON.parse(readFileSync(casesPathOf(out), 'utf8').split('\n')[0] ?? '') as {
      failures: string[];
    };
    expect(first.failures[0]).toMatch(/^not completed: .*the answer is not JSON .*\(after 2 attempts\)$/);
  });
});

describe('chargeback evaluate: bad arguments exit 2 and name what is wrong', () => {
  it('a missing --endpoint', async () => {
    expect(await runMain(['evaluate', '--model', 'm', '--suite', SUITE])).toMatchObject({
      code: 2,
      stderr: 'chargeback: evaluate needs --endpoint URL\n',
    });
  });

  it('a model the suite is not for', async () => {
    const result = await runMain([
      'evaluate',
      '--endpoint',
      'http://127.0.0.1:1',
      '--model',
      'llama-3.1-8b-instruct',
      '--suite',
      SUITE,
    ]);
    expect(result).toMatchObject({ code: 2 });
    expect(result.stderr).toBe(
      'chargeback: --model llama-3.1-8b-instruct: suite tiny-qa@4 is for qwen2.5-14b-instruct, not this model\n',
    );
  });

  it('a suite with a bad line names the file and the line', async () => {
    const dir = join(ROOT, 'bad-suite');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'suite.json'), readFileSync(join(SUITE, 'suite.json')));
    writeFileSync(
      join(dir, 'cases.jsonl'),
      '{"id":"a","input":"x","expected":"y"}\n{"id":"b","input":"x","expected":""}\n',
    );
    const result = await runMain([
      'evaluate',
      '--endpoint',
      'http://127.0.0.1:1',
      '--model',
      'qwen2.5-14b-instruct',
      '--suite',
      dir,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${join(dir, 'cases.jsonl')}:2: expected:`);
  });

  it('a suite folder that does not exist', async () => {
    const result = await runMain([
      'evaluate',
      '--endpoint',
      'http://127.0.0.1:1',
      '--model',
      'm',
      '--suite',
      join(ROOT, 'none'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot read');
  });

  it('bad numbers', () => {
    const base = ['--endpoint', 'http://x', '--model', 'm', '--suite', 's'];
    expect(() => parseEvaluateArgs([...base, '--concurrency', '0'])).toThrow(
      '--concurrency must be a whole number > 0, got "0"',
    );
    expect(() => parseEvaluateArgs([...base, '--timeout', 'soon'])).toThrow('--timeout must be a number > 0');
    expect(() => parseEvaluateArgs(['--endpoint', 'ftp://x', '--model', 'm', '--suite', 's'])).toThrow(
      '--endpoint must be an http(s) URL',
    );
  });

  it('--send without an Event Hubs setting is refused before any case runs', async () => {
    const url = await serve(right);
    const result = await runMain(args(url, join(ROOT, 'nosend', 'e.ndjson'), ['--send']));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--send needs EVENTHUB_FULLY_QUALIFIED_NAMESPACE');
    expect(server?.calls).toHaveLength(0);
  });

  it('is listed in the main help, and has its own', async () => {
    expect((await runMain(['--help'])).stdout).toMatch(/^ {2}evaluate {3}/m);
    const help = await runMain(['evaluate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: chargeback evaluate --endpoint URL --model NAME --suite DIR');
  });
});

describe('--send, up to the Event Hubs boundary', () => {
  const options = (url: URL) => {
    const parsed = parseEvaluateArgs([
      '--endpoint',
      url.href,
      '--model',
      'qwen2.5-14b-instruct',
      '--suite',
      SUITE,
      '--send',
      '--model-version',
      '7',
    ]);
    if (parsed === 'help') throw new Error('help');
    return parsed;
  };
  const env = { EVENTHUB_FULLY_QUALIFIED_NAMESPACE: 'ns.servicebus.windows.net' };

  it('sends the one event to the evaluations hub named by the environment', async () => {
    const url = await serve(right);
    const sent: Record<string, unknown>[] = [];
    let hubName = '';
    const outcome = await runEvaluate(options(url), {
      env: { ...env, EVALUATIONS_EVENTHUB_NAME: 'evaluations-dev' },
      sinkFor: (hub) => {
        hubName = `${hub.kind}:${hub.name}`;
        return { send: (e) => (sent.push(e), Promise.resolve()), close: () => Promise.resolve() };
      },
    });
    expect(outcome.code).toBe(0);
    expect(hubName).toBe('identity:evaluations-dev');
    expect(sent).toEqual([outcome.event]);
  });

  it('a failed send is exit 1 with the reason', async () => {
    const url = await serve(right);
    const outcome = await runEvaluate(options(url), {
      env,
      sinkFor: () => ({
        send: () => Promise.reject(new Error('unauthorized')),
        close: () => Promise.resolve(),
      }),
    });
    expect(outcome).toMatchObject({ code: 1, sendError: 'unauthorized', sent: false });
  });
});

describe('the modelVersion of the event, without --model-version', () => {
  let server: Server | undefined;
  let posts = 0;
  afterEach(async () => {
    server?.closeAllConnections();
    const open = server;
    if (open !== undefined)
      await new Promise<void>((resolve) => {
        open.close(() => {
          resolve();
        });
      });
    server = undefined;
  });

  /** A loopback server whose GET /v1/models answers `models` (status 200) or `status`. */
  async function models(answer: { models?: unknown; status?: number }): Promise<URL> {
    posts = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/v1/models') {
          if (answer.status !== undefined) return void res.writeHead(answer.status).end('down');
          res.writeHead(200, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ object: 'list', data: answer.models }));
        }
        posts += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '4' } }] }));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  it('is read from the root vLLM serves the model from: /models/registry/<model>/<version>', async () => {
    const url = await models({
      models: [
        { id: 'other', object: 'model', root: '/models/registry/other/2' },
        { id: 'qwen2.5-14b-instruct', object: 'model', root: '/models/registry/qwen2.5-14b-instruct/12/' },
      ],
    });
    const out = join(ROOT, 'version-read', 'evaluation.ndjson');
    const result = await runMain(bare(url, out));
    expect(result.code, result.stderr).toBe(0);
    expect(readEvent(out).modelVersion).toBe('12');
  });

  for (const [name, answer, why] of [
    [
      'a root that is not a registry path',
      { models: [{ id: 'qwen2.5-14b-instruct', root: 'Qwen/Qwen2.5-14B' }] },
      /root Qwen\/Qwen2\.5-14B is not \/models\/registry\/qwen2\.5-14b-instruct\/<version>/,
    ],
    ['no root', { models: [{ id: 'qwen2.5-14b-instruct' }] }, /gives no root for qwen2\.5-14b-instruct/],
    [
      'the model not listed',
      { models: [{ id: 'other', root: '/models/registry/other/2' }] },
      /does not list qwen2\.5-14b-instruct/,
    ],
    ['a list that cannot be read', { status: 503 }, /answered 503/],
  ] as const) {
    it(`${name}: a usage error naming --model-version, before any case runs`, async () => {
      const url = await models(answer);
      const result = await runMain(bare(url, join(ROOT, 'version-none', 'evaluation.ndjson')));
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /--model-version is needed: the version of qwen2\.5-14b-instruct served at /,
      );
      expect(result.stderr).toMatch(why);
      expect(posts).toBe(0);
    });
  }
});
