/**
 * A TokenCredential that reads an ARM bearer token from a file (contracts.md §10, AZURE_ARM_TOKEN_FILE): the
 * JSON `az account get-access-token` prints (`accessToken`, and `expires_on` in epoch seconds or
 * `expiresOn` in local time), or the raw token alone. The token is kept until it expires and the
 * file read again after, so a token refreshed in place by a sidecar or a cron job is picked up.
 *
 * The token never appears in an error: messages name the file and what is wrong with it.
 */
import { readFile } from 'node:fs/promises';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ConfigurationError } from '../../domain/errors.js';

export interface TokenFileCredentialOptions {
  readonly now?: () => number;
  readonly readText?: (path: string) => Promise<string>;
}

/** The file is read again this long before the kept token expires, to pick up a refreshed one early. */
const REFRESH_MARGIN_MS = 120_000;
/** A token whose expiry the file does not tell is said to last this long: the file is read again a minute later. */
const UNKNOWN_EXPIRY_MS = REFRESH_MARGIN_MS + 60_000;

export class TokenFileCredential implements TokenCredential {
  private cached: AccessToken | undefined;
  private readonly now: () => number;
  private readonly readText: (path: string) => Promise<string>;

  constructor(
    private readonly path: string,
    options: TokenFileCredentialOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.readText = options.readText ?? ((file) => readFile(file, 'utf8'));
  }

  /** The token of the file, whatever the scopes: the file is expected to hold an ARM token. */
  async getToken(): Promise<AccessToken> {
    const cached = this.cached;
    if (cached !== undefined && cached.expiresOnTimestamp - REFRESH_MARGIN_MS > this.now()) return cached;
    const token = this.parse(await this.read());
    if (token.expiresOnTimestamp <= this.now()) {
      throw new ConfigurationError(
        `AZURE_ARM_TOKEN_FILE ${this.path}: the token expired at ${new Date(token.expiresOnTimestamp).toISOString()}; write a fresh one (az account get-access-token)`,
      );
    }
    this.cached = token;
    return token;
  }

  private async read(): Promise<string> {
    try {
      return await this.readText(this.path);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ConfigurationError(
        `AZURE_ARM_TOKEN_FILE ${this.path}: cannot be read${typeof code === 'string' ? ` (${code})` : ''}`,
      );
    }
  }

  private parse(text: string): AccessToken {
    const content = text.trim();
    if (content === '') throw this.invalid('is empty');
    if (!content.startsWith('{')) {
      if (/\s/.test(content)) throw this.invalid('holds more than one word and is not JSON');
      return { token: content, expiresOnTimestamp: jwtExpiry(content) ?? this.now() + UNKNOWN_EXPIRY_MS };
    }
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch {
      throw this.invalid('is not valid JSON');
    }
    const { accessToken, expires_on: epoch, expiresOn } = json as Record<string, unknown>;
    if (typeof accessToken !== 'string' || accessToken.trim() === '') {
      throw this.invalid('holds JSON without an accessToken');
    }
    return { token: accessToken.trim(), expiresOnTimestamp: this.expiryOf(epoch, expiresOn, accessToken) };
  }

  private expiryOf(epoch: unknown, expiresOn: unknown, token: string): number {
    // expires_on (epoch seconds, a number or a numeric string) is exact; expiresOn is the machine's
    // local time without a zone ("2026-03-01 12:00:00.000000"), read here as local time too.
    const seconds = typeof epoch === 'string' && /^\d+$/.test(epoch) ? Number(epoch) : epoch;
    if (typeof seconds === 'number' && Number.isFinite(seconds)) return seconds * 1000;
    if (typeof expiresOn === 'string') {
      const local = Date.parse(expiresOn.replace(' ', 'T').replace(/(\.\d{3})\d+$/, '$1'));
      if (Number.isFinite(local)) return local;
    }
    return jwtExpiry(token) ?? this.now() + UNKNOWN_EXPIRY_MS;
  }

  private invalid(what: string): ConfigurationError {
    return new ConfigurationError(`AZURE_ARM_TOKEN_FILE ${this.path}: ${what}`);
  }
}

/** The `exp` claim (ms) of a JWT, or undefined when the token is not one. */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
