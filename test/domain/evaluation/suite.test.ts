import { describe, expect, it } from 'vitest';
import { parseCases } from '../../../src/domain/evaluation/cases.js';
import { caseRequest } from '../../../src/domain/evaluation/prompt.js';
import { datasetOf, parseManifest, type SuiteManifest } from '../../../src/domain/evaluation/suite.js';

const MANIFEST = {
  name: 'support-qa',
  version: '3',
  tenant: 'quality',
  feature: 'regression-harness',
  models: ['llama-3.1-8b-instruct'],
  prompt: { system: 'Be brief.', template: 'Q: {{input}}' },
  generation: { temperature: 0, max_tokens: 32 },
  scorers: { exact_match: {}, f1: {}, regex: {} },
};

function manifest(overrides: Record<string, unknown> = {}): SuiteManifest {
  return parseManifest(JSON.stringify({ ...MANIFEST, ...overrides }), 'suites/x/suite.json');
}

const manifestError = (overrides: Record<string, unknown>) => () => manifest(overrides);

describe('suite.json', () => {
  it('gives the dataset name@version and the defaults', () => {
    const m = manifest();
    expect(datasetOf(m)).toBe('support-qa@3');
    expect(m).toMatchObject({ api: 'chat', requestClass: 'batch' });
  });

  it('names the file and the field of a wrong value', () => {
    expect(manifestError({ generation: { temperature: 5, max_tokens: 32 } })).toThrow(
      'suites/x/suite.json: generation.temperature: must be a number from 0 to 2',
    );
  });

  it('refuses a misspelt scorer', () => {
    expect(manifestError({ scorers: { exact_mtch: {} } })).toThrow(
      'suites/x/suite.json: scorers: unknown field "exact_mtch"',
    );
  });

  it('refuses a version with an @ (the dataset would not be name@version)', () => {
    expect(manifestError({ version: '3@beta' })).toThrow('version: version must be letters, digits');
  });

  it('refuses a template placeholder other than {{input}}', () => {
    expect(manifestError({ prompt: { template: 'Q: {{question}}' } })).toThrow(
      'prompt.template: unknown placeholder {{question}}',
    );
  });

  it('refuses a tenant with a control character', () => {
    expect(manifestError({ tenant: 'qa\u0007' })).toThrow('suites/x/suite.json: tenant:');
  });

  it('says when the file is not JSON', () => {
    expect(() => parseManifest('{"name": ', 'suites/x/suite.json')).toThrow(
      'suites/x/suite.json: not valid JSON',
    );
  });
});

describe('cases.jsonl', () => {
  const parse = (text: string, m = manifest()) => parseCases(text, 'suites/x/cases.jsonl', m);

  it('reads cases, skipping blank lines, keeping their line numbers', () => {
    const cases = parse(
      '{"id":"a","input":"1+1?","expected":"2"}\n\n{"id":"b","input":"x","expected":["y","z"]}\n',
      manifest({ scorers: { exact_match: {} } }),
    );
    expect(cases.map((c) => [c.id, c.line, c.expected])).toEqual([
      ['a', 1, ['2']],
      ['b', 3, ['y', 'z']],
    ]);
  });

  it('names the line and the field', () => {
    expect(() => parse('{"id":"a","input":"q","expected":"2"}\n{"id":"b","input":7}')).toThrow(
      'suites/x/cases.jsonl:2: input: must be a string',
    );
  });

  it('names a line that is not JSON', () => {
    expect(() => parse('{"id":"a","input":"q","expected":"2"}\n{"id":"b",')).toThrow(
      'suites/x/cases.jsonl:2: not valid JSON',
    );
  });

  it('refuses a duplicate id, naming the first line', () => {
    expect(() =>
      parse('{"id":"a","input":"q","expected":"2"}\n{"id":"a","input":"r","expected":"3"}'),
    ).toThrow('suites/x/cases.jsonl:2: id: "a" is already the id of line 1');
  });

  it('refuses a case with both input and messages', () => {
    expect(() =>
      parse('{"id":"a","input":"q","messages":[{"role":"user","content":"q"}],"expected":"2"}'),
    ).toThrow('cases.jsonl:1: needs exactly one of input and messages');
  });

  it('refuses a bad regular expression with its field', () => {
    expect(() => parse('{"id":"a","input":"q","expected":"x","checks":{"mustMatch":["(unclosed"]}}')).toThrow(
      /cases\.jsonl:1: checks\.mustMatch\.0: not a regular expression/,
    );
  });

  it('refuses a check whose scorer the manifest lacks', () => {
    expect(() => parse('{"id":"a","input":"q","expected":"x","checks":{"refuse":true}}')).toThrow(
      'cases.jsonl:1: checks.refuse: needs the refusal scorer in the manifest',
    );
  });

  it('refuses a scorer no case feeds', () => {
    expect(() => parse('{"id":"a","input":"q","expected":"x"}')).toThrow(
      'suites/x/cases.jsonl: the regex scorer needs at least one case with checks.mustMatch or checks.mustNotMatch',
    );
  });

  it('refuses an empty file', () => {
    expect(() => parse('\n\n')).toThrow('suites/x/cases.jsonl: holds no cases');
  });

  it('refuses an unknown field in a case', () => {
    expect(() => parse('{"id":"a","input":"q","expectd":"x"}')).toThrow(
      'cases.jsonl:1: unknown field "expectd"',
    );
  });
});

describe('what a case sends', () => {
  it('fills the template literally, $ patterns included', () => {
    const m = manifest();
    const [c] = parseCases(
      '{"id":"a","input":"cost $& $1?","expected":"x","checks":{"mustMatch":["x"]}}',
      'f',
      m,
    );
    if (c === undefined) throw new Error('no case');
    expect(caseRequest(m, c, 'llama-3.1-8b-instruct').prompt).toEqual({
      api: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Q: cost $& $1?' },
      ],
    });
  });

  it('puts the system message before a completions prompt', () => {
    const m = manifest({ api: 'completions' });
    const [c] = parseCases('{"id":"a","input":"2+2","expected":"4","checks":{"mustMatch":["4"]}}', 'f', m);
    if (c === undefined) throw new Error('no case');
    expect(caseRequest(m, c, 'm').prompt).toEqual({ api: 'completions', prompt: 'Be brief.\n\nQ: 2+2' });
  });
});
