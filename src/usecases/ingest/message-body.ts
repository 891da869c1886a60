import { inspect } from 'node:util';
import type { DeadLetter } from '../../ports/ledger.js';

/**
 * The body of one Event Hubs message, whatever the host made of it: the raw bytes, a string, or a
 * value the host already parsed as JSON (a number, null, an array, an object). Nothing here throws:
 * a body that cannot be read becomes a reason, and every body, however hostile, can be kept in a
 * dead letter.
 */

/**
 * The most of a message body a dead letter keeps, in UTF-8 bytes. Event Hubs caps an event at 1 MB
 * (https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas), so a real message is cut only
 * when it is enormous; this bounds what one hostile message can cost the dead-letter write.
 */
export const DEAD_LETTER_BODY_BYTES = 256 * 1024;

/** The most of a reason kept: a schema reason quotes field paths, and a hostile key can be huge. */
const REASON_CHARS = 2000;

/** The message as JSON text, and whether that text is already canonical (JSON.stringify's own output). */
export type MessageText = { ok: true; text: string; canonical: boolean } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON text of a message body, or why it has none. */
export function messageText(body: unknown): MessageText {
  if (typeof body === 'string') return { ok: true, text: body, canonical: false };
  const bytes = bytesOf(body);
  if (bytes !== undefined) {
    try {
      return { ok: true, text: utf8.decode(bytes), canonical: false };
    } catch {
      return { ok: false, reason: 'not valid UTF-8' }; // contracts.md §2: UTF-8 JSON; never guess an encoding
    }
  }
  // The host parsed the body as JSON itself: its JSON again, validated as if it had arrived as text,
  // so the ledger holds exactly what was validated (no getter, toJSON or proxy can change it after).
  try {
    const text: unknown = JSON.stringify(body);
    if (typeof text !== 'string') return { ok: false, reason: `not a JSON value (${typeof body})` };
    return { ok: true, text, canonical: true };
  } catch (error) {
    return { ok: false, reason: `cannot be serialised as JSON: ${errorText(error)}` };
  }
}

/** The dead letter of a message: its body kept as faithfully as it can be, within the size bound. */
export function deadLetterOf(
  message: {
    readonly body: unknown;
    readonly partition: string;
    readonly sequenceNumber: number;
    readonly enqueuedTime: string;
  },
  reason: string,
): DeadLetter {
  const { partition, sequenceNumber, enqueuedTime } = message;
  return { partition, sequenceNumber, enqueuedTime, reason: bounded(reason), ...keptBody(message.body) };
}

type KeptBody = Pick<DeadLetter, 'body' | 'bodyForm' | 'bodyBytes' | 'truncated'>;

function keptBody(body: unknown): KeptBody {
  if (typeof body === 'string') return cut(Buffer.from(body, 'utf8'), 'text');
  const bytes = bytesOf(body);
  if (bytes !== undefined) {
    try {
      utf8.decode(bytes);
      return cut(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'text');
    } catch {
      return base64(bytes);
    }
  }
  try {
    const text: unknown = JSON.stringify(body);
    if (typeof text === 'string') return cut(Buffer.from(text, 'utf8'), 'json');
  } catch {
    // Cyclic, BigInt, too deep, a getter or toJSON that throws: described below instead.
  }
  return cut(Buffer.from(describe(body), 'utf8'), 'description');
}

function bytesOf(body: unknown): Uint8Array | undefined {
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return undefined;
}

/** What a value that has no JSON looks like, without calling its getters; never throws. */
function describe(body: unknown): string {
  try {
    return inspect(body, {
      depth: 8,
      breakLength: Infinity,
      maxArrayLength: 100,
      maxStringLength: DEAD_LETTER_BODY_BYTES,
      getters: false,
      showProxy: true,
      customInspect: false,
    });
  } catch (error) {
    return `<a ${typeof body} that cannot be described: ${errorText(error)}>`;
  }
}

/** The first DEAD_LETTER_BODY_BYTES of UTF-8 text, cut at a character boundary. */
function cut(bytes: Buffer, bodyForm: 'text' | 'json' | 'description'): KeptBody {
  if (bytes.length <= DEAD_LETTER_BODY_BYTES)
    return { body: bytes.toString('utf8'), bodyForm, bodyBytes: bytes.length, truncated: false };
  let end = DEAD_LETTER_BODY_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1; // not inside a UTF-8 sequence
  return {
    body: bytes.subarray(0, end).toString('utf8'),
    bodyForm,
    bodyBytes: bytes.length,
    truncated: true,
  };
}

function base64(bytes: Uint8Array): KeptBody {
  const kept = Buffer.from(
    bytes.buffer,
    bytes.byteOffset,
    Math.min(bytes.byteLength, DEAD_LETTER_BODY_BYTES),
  );
  return {
    body: kept.toString('base64'),
    bodyForm: 'base64',
    bodyBytes: bytes.byteLength,
    truncated: kept.length < bytes.byteLength,
  };
}

export function bounded(reason: string): string {
  return reason.length <= REASON_CHARS ? reason : `${reason.slice(0, REASON_CHARS)}... (reason cut)`;
}

/** An error's message, whatever was thrown; never throws. */
export function errorText(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an error that cannot be printed';
  }
}
