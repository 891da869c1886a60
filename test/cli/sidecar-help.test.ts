import { describe, expect, it } from 'vitest';
import { SIDECAR_HELP } from '../../src/cli/sidecar-command.js';
import { SIDECAR_ENV } from '../../src/sidecar/settings.js';

describe('chargeback sidecar --help', () => {
  it.each(Object.values(SIDECAR_ENV))('names the setting %s', (name) => {
    // A setting the help does not name is one an operator cannot find from the pod's shell.
    expect(SIDECAR_HELP).toMatch(new RegExp(`\\b${name}\\b`));
  });
});
