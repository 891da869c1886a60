import type { z } from 'zod';

/** The first problem zod found, as `field.path: what is wrong` (a suite error names its field). */
export function issueText(issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (issue === undefined) return 'invalid';
  const path = issue.path.map(String).join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
      : issue.message;
  return path === '' ? message : `${path}: ${message}`;
}
