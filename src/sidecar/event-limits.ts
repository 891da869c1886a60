/**
 * The largest event the pipe passes on, in bytes of JSON. Event Hubs takes at most 1 MB per message
 * on the Standard, Premium and Dedicated tiers, envelope included
 * (https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas); 1,000,000 bytes of body leave
 * room for the partition key, content type and AMQP framing. The sender's own check (an empty batch
 * that cannot take the event) is the exact one; this one holds for every sink, the file sink too.
 */
export const MAX_EVENT_BYTES = 1_000_000;

/** An event that can never be sent, and why. */
export interface Unsendable {
  readonly event: Record<string, unknown>;
  readonly reason: string;
}

/**
 * Why the event can never be sent, or undefined when it can. An ordinary event costs a walk over
 * its fields, not a serialisation: only an event whose size cannot be bounded that way (long
 * strings, `toJSON`, deep nesting) is serialised to be measured.
 */
export function unsendable(event: Record<string, unknown>, maxBytes: number): string | undefined {
  if (jsonBound(event, 0) <= maxBytes) return undefined;
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(event));
  } catch (error) {
    return `cannot be written as JSON (${(error as Error).message})`;
  }
  return bytes > maxBytes ? `${bytes} bytes of JSON, over the ${maxBytes} an event may have` : undefined;
}

/**
 * An upper bound of the value's JSON size in bytes: a UTF-16 unit takes at most 6 (`\uXXXX`), a
 * number at most 25 characters. Infinity for what it cannot bound.
 */
function jsonBound(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2;
    case 'number':
      return 25;
    case 'boolean':
    case 'undefined':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth > 4 || typeof (value as { toJSON?: unknown }).toJSON === 'function') return Infinity;
      let bound = 2;
      if (Array.isArray(value)) {
        for (const item of value as unknown[]) bound += jsonBound(item, depth + 1) + 1;
        return bound;
      }
      for (const [key, item] of Object.entries(value))
        bound += 6 * key.length + 4 + jsonBound(item, depth + 1);
      return bound;
    }
    default:
      return Infinity; // bigint, symbol, function
  }
}
