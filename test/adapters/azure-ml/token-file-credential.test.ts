import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenFileCredential } from '../../../src/adapters/azure-ml/token-file-credential.js';
import { ConfigurationError } from '../../../src/domain/errors.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const SECRET = 'eyJ0eXAiOiJKV1QifQ.secret-payload.signature';

let dir: string;
let file: string;
let now: number;

const credential = (): TokenFileCredential => new TokenFileCredential(file, { now: () => now });

/** What `az account get-access-token` prints (az 2.54+: expires_on in epoch seconds beside expiresOn). */
const azJson = (token: string, expiresAtMs: number): string =>
  JSON.stringify({
    accessToken: token,
    expiresOn: '2026-03-01 13:00:00.000000',
    expires_on: expiresAtMs / 1000,
    subscription: '00000000-0000-0000-0000-000000000001',
    tenant: '00000000-0000-0000-0000-000000000002',
    tokenType: 'Bearer',
  });

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'token-file-'));
  file = join(dir, 'arm-token.json');
  now = NOW;
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TokenFileCredential', () => {
  it("reads the token and expiry of az account get-access-token's JSON", async () => {
    writeFileSync(file, azJson(SECRET, NOW + HOUR));
    expect(await credential().getToken()).toEqual({ token: SECRET, expiresOnTimestamp: NOW + HOUR });
  });

  it('reads expires_on written as a numeric string', async () => {
    writeFileSync(file, JSON.stringify({ accessToken: SECRET, expires_on: String((NOW + HOUR) / 1000) }));
    expect((await credential().getToken()).expiresOnTimestamp).toBe(NOW + HOUR);
  });

  it('reads a file holding the raw token alone, trailing newline and all', async () => {
    writeFileSync(file, `${SECRET}\n`);
    expect((await credential().getToken()).token).toBe(SECRET);
  });

  it("takes a raw JWT's expiry from its exp claim", async () => {
    const payload = Buffer.from(JSON.stringify({ exp: (NOW + HOUR) / 1000 })).toString('base64url');
    writeFileSync(file, `header.${payload}.signature`);
    expect((await credential().getToken()).expiresOnTimestamp).toBe(NOW + HOUR);
  });

  it('keeps the token while it is valid, without reading the file again', async () => {
    writeFileSync(file, azJson(SECRET, NOW + HOUR));
    const reader = credential();
    await reader.getToken();
    writeFileSync(file, azJson('replaced', NOW + 2 * HOUR));
    expect((await reader.getToken()).token).toBe(SECRET);
  });

  it('reads the file again once the token is near its expiry, picking up a refreshed one', async () => {
    writeFileSync(file, azJson(SECRET, NOW + HOUR));
    const reader = credential();
    await reader.getToken();
    writeFileSync(file, azJson('refreshed', NOW + 2 * HOUR));
    now = NOW + HOUR - 60_000;
    expect((await reader.getToken()).token).toBe('refreshed');
  });

  it('refuses a file whose token has expired, saying so without the token', async () => {
    writeFileSync(file, azJson(SECRET, NOW - 1));
    const error = await failure(credential().getToken());
    expect([error instanceof ConfigurationError, error.message.includes('expired')]).toEqual([true, true]);
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses a missing file with a ConfigurationError naming the path', async () => {
    const error = await failure(credential().getToken());
    expect([error instanceof ConfigurationError, error.message]).toEqual([
      true,
      `AZURE_ARM_TOKEN_FILE ${file}: cannot be read (ENOENT)`,
    ]);
  });

  it('refuses an empty file', async () => {
    writeFileSync(file, ' \n');
    expect((await failure(credential().getToken())).message).toBe(`AZURE_ARM_TOKEN_FILE ${file}: is empty`);
  });

  it('refuses JSON without an accessToken, without printing the file', async () => {
    writeFileSync(file, JSON.stringify({ token: SECRET }));
    const error = await failure(credential().getToken());
    expect(error.message).toBe(`AZURE_ARM_TOKEN_FILE ${file}: holds JSON without an accessToken`);
  });

  it('refuses broken JSON without printing the file', async () => {
    writeFileSync(file, `{"accessToken": "${SECRET}"`);
    const error = await failure(credential().getToken());
    expect(error.message).toBe(`AZURE_ARM_TOKEN_FILE ${file}: is not valid JSON`);
  });
});
