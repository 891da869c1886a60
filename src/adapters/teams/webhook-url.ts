/**
 * The Teams webhook address. It carries a signature (`sig=`), so it is a secret: nothing here puts
 * it in an error message, and `redact` takes it out of any text that might hold it.
 */
import { ConfigurationError } from '../../domain/errors.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Parses a Workflows webhook URL, refusing Office 365 connector URLs: Microsoft retired the
 * connectors (https://devblogs.microsoft.com/microsoft365dev/retirement-of-office-365-connectors-within-microsoft-teams/),
 * so a card posted there is lost. Plain http is accepted on loopback only (tests, the local demo).
 */
export function workflowsUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError('the Teams webhook URL is not a URL');
  }
  const host = url.hostname.toLowerCase();
  if (
    host === 'webhook.office.com' ||
    host.endsWith('.webhook.office.com') ||
    (/^outlook\.office(365)?\.com$/.test(host) && url.pathname.toLowerCase().startsWith('/webhook'))
  )
    throw new ConfigurationError(
      `the Teams webhook URL (host ${host}) is an Office 365 connector URL, which Teams no longer accepts; ` +
        'create a Workflows webhook instead ("Post to a channel when a webhook request is received") and use its URL',
    );
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(host)))
    throw new ConfigurationError(`the Teams webhook URL (host ${host}) must use https`);
  return url;
}

/** `text` with every form of the URL's secret parts replaced by `[redacted]`. */
export function redact(text: string, url: URL): string {
  const secrets = new Set<string>();
  for (const form of [url.href, url.pathname + url.search, url.search.slice(1), url.pathname]) {
    if (form.length > 1) {
      secrets.add(form);
      secrets.add(safeDecode(form));
      secrets.add(encodeURIComponent(form));
    }
  }
  for (const value of url.searchParams.values()) if (value.length >= 8) secrets.add(value);
  let out = text;
  // Longest first, so the whole URL goes before its parts leave fragments of it behind.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length))
    out = out.split(secret).join('[redacted]');
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
