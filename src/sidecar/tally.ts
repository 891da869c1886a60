import type { Protocol } from './routes.js';

/** vLLM's per-request timings (`--enable-per-request-metrics`), on a plain answer or the last chunk. */
export interface EngineMetrics {
  readonly queue_time_ms?: number | null;
  /** From the request's scheduling to its first token (not from its arrival). */
  readonly time_to_first_token_ms?: number | null;
  /** From the first token to the last. */
  readonly generation_time_ms?: number | null;
  readonly mean_itl_ms?: number | null;
}

/** What a request cost in tokens, as far as the answer tells. */
export interface Counted {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens served from the prefix cache; undefined when the answer never said (a cut stream). */
  readonly cachedPromptTokens: number | undefined;
  /**
   * Where the counts come from: `reported` (the engine's own totals), `streamed` (counted from what
   * was relayed, because the totals never came: a lower bound), `none` (nothing to count from).
   */
  readonly source: 'reported' | 'streamed' | 'none';
  /** False when the prompt tokens were never reported (a Responses stream cut before it completed). */
  readonly promptKnown: boolean;
  readonly metrics: EngineMetrics | undefined;
  /** Audio seconds, where vLLM reports an audio answer's usage in seconds instead of tokens. */
  readonly audioSeconds: number | undefined;
  /** Stream events too large to read, relayed unread (their usage, if any, was not seen). */
  readonly unreadEvents: number;
}

type Json = Record<string, unknown>;

/** Top-level fields of a plain answer that the tally reads (the JsonFieldScanner keeps only these). */
export const PLAIN_FIELDS: ReadonlySet<string> = new Set(['usage', 'metrics', 'meta']);

/**
 * Counts one request's tokens from its answer, whatever the route: a plain answer's usage, or a
 * stream's events. A stream is counted as it goes, per choice and per prompt, so that a stream cut
 * before its final usage is charged at least what was streamed:
 * - chat, completions, generate and audio streams: vLLM's continuous usage on a chunk counts that
 *   chunk's choice only (and, for completions, that choice's prompt: choice index = prompt index x
 *   n + choice). The tally keeps the largest count per choice and per prompt, and a chunk that
 *   carried output counts at least one token for its choice; the final usage chunk has the sums.
 * - Responses streams: usage only in `response.completed`; every `*.delta` event is at least one
 *   token. Anthropic streams: input tokens in `message_start`, totals in `message_delta`.
 * The result never says less than what was streamed.
 */
export class UsageTally {
  private final: { prompt: number; completion: number; cached: number | undefined } | undefined;
  /** Per choice index: the largest continuous count seen, and the chunks that carried output. */
  private readonly choiceTokens = new Map<number, number>();
  private readonly choiceChunks = new Map<number, number>();
  /** Per prompt index: its prompt tokens, as continuous usage (or message_start) said. */
  private readonly promptTokens = new Map<number, number>();
  /** Per prompt index: its cached tokens, where a chunk's usage said (vLLM's final usage usually alone does). */
  private readonly promptCached = new Map<number, number>();
  private metrics: EngineMetrics | undefined;
  private audioSeconds: number | undefined;
  private unread = 0;
  /** True once an event said the request failed (an error event, a failed response). */
  failed = false;
  /** True once the stream's end marker came (`[DONE]`, `response.completed`, `message_stop`). */
  ended = false;

  constructor(
    readonly protocol: Protocol,
    /** Choices per prompt (`n`), to find a completions choice's prompt. */
    private readonly choicesPerPrompt = 1,
  ) {}

  /** A stream event that could not be read (over the size bound): relayed, not counted. */
  unreadEvent(): void {
    this.unread += 1;
  }

  /**
   * One stream event's data (parsed JSON, or '[DONE]') and its `event:` name, if any. Returns true
   * when it carried generated output (the first such event is the first token).
   */
  observe(data: unknown, name: string | undefined): boolean {
    if (data === '[DONE]') {
      this.ended = true;
      return false;
    }
    if (!isObject(data)) return false;
    switch (this.protocol) {
      case 'responses':
        return this.observeResponses(data);
      case 'messages':
        return this.observeMessages(data, name);
      default:
        return this.observeChoices(data);
    }
  }

  /** A plain answer's top-level fields (usage, metrics; Cohere-style meta) and its response headers. */
  observePlain(field: (name: string) => unknown, headerUsage?: unknown): void {
    const metrics = field('metrics');
    if (isObject(metrics)) this.metrics = metrics;
    let usage = field('usage');
    if (!isObject(usage) && isObject(headerUsage)) usage = headerUsage;
    const meta = field('meta');
    if (!isObject(usage) && isObject(meta) && isObject(meta.billed_units)) {
      usage = {
        prompt_tokens: meta.billed_units.input_tokens,
        completion_tokens: meta.billed_units.output_tokens,
      };
    }
    if (!isObject(usage)) return;
    if (usage.type === 'duration') {
      // Audio transcription: vLLM reports seconds of audio, not tokens.
      this.audioSeconds = nonNegative(usage.seconds);
      return;
    }
    this.setFinal(usage);
  }

  /** The counts, from the final usage where it came, never below what was streamed. */
  result(): Counted {
    let streamedCompletion = 0;
    for (const [index, chunks] of this.choiceChunks)
      streamedCompletion += Math.max(chunks, this.choiceTokens.get(index) ?? 0);
    for (const [index, tokens] of this.choiceTokens)
      if (!this.choiceChunks.has(index)) streamedCompletion += tokens;
    let streamedPrompt = 0;
    for (const tokens of this.promptTokens.values()) streamedPrompt += tokens;
    const final = this.final;
    const promptTokens = Math.max(final?.prompt ?? 0, streamedPrompt);
    const completionTokens = Math.max(final?.completion ?? 0, streamedCompletion);
    const streamed = this.choiceChunks.size > 0 || this.choiceTokens.size > 0 || this.promptTokens.size > 0;
    // Cached tokens are known from the final usage, or from chunks that gave them for every prompt seen.
    let cached = final?.cached;
    if (
      cached === undefined &&
      this.promptCached.size > 0 &&
      this.promptCached.size === this.promptTokens.size
    )
      cached = [...this.promptCached.values()].reduce((a, b) => a + b, 0);
    const promptKnown = final !== undefined || this.promptTokens.size > 0;
    return {
      promptTokens,
      completionTokens,
      cachedPromptTokens:
        cached !== undefined
          ? Math.min(cached, promptTokens)
          : promptTokens === 0 && promptKnown
            ? 0
            : undefined,
      source: final !== undefined ? 'reported' : streamed ? 'streamed' : 'none',
      promptKnown,
      metrics: this.metrics,
      audioSeconds: this.audioSeconds,
      unreadEvents: this.unread,
    };
  }

  /** Chat, completions, generate and audio chunks: `choices` with one choice each, and usage. */
  private observeChoices(chunk: Json): boolean {
    if (chunk.error !== undefined) this.failed = true;
    if (isObject(chunk.metrics)) this.metrics = chunk.metrics;
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
    const usage = isObject(chunk.usage) ? chunk.usage : undefined;
    if (choices.length === 0) {
      if (usage !== undefined) this.setFinal(usage);
      return false;
    }
    let produced = false;
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      const index = nonNegative(choice.index) ?? 0;
      const tokens = producedTokens(choice);
      if (tokens > 0) {
        produced = true;
        this.choiceChunks.set(index, (this.choiceChunks.get(index) ?? 0) + tokens);
      }
      // Continuous usage counts the chunk's own choice (one per chunk in vLLM's streams).
      if (usage !== undefined && choices.length === 1) this.continuous(index, usage);
    }
    return produced || (nonNegative(usage?.completion_tokens) ?? 0) > 0;
  }

  /** A chat-style chunk's continuous usage, for choice `index` (also the relay's quick path). */
  continuous(index: number, usage: Json): void {
    const completion = nonNegative(usage.completion_tokens);
    if (completion !== undefined)
      this.choiceTokens.set(index, Math.max(completion, this.choiceTokens.get(index) ?? 0));
    const prompt = nonNegative(usage.prompt_tokens);
    if (prompt === undefined) return;
    // Chat choices share one prompt; a completions choice's prompt is its index over n.
    const promptIndex =
      this.protocol === 'completions' ? Math.floor(index / Math.max(1, this.choicesPerPrompt)) : 0;
    this.promptTokens.set(promptIndex, Math.max(prompt, this.promptTokens.get(promptIndex) ?? 0));
    const details = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : undefined;
    const cached = nonNegative(details?.cached_tokens);
    if (cached !== undefined) this.promptCached.set(promptIndex, cached);
  }

  /** Responses API events: `{"type": "response.output_text.delta", ...}`, usage in `response.completed`. */
  private observeResponses(event: Json): boolean {
    const type = typeof event.type === 'string' ? event.type : '';
    if (type === 'error' || type === 'response.failed') this.failed = true;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      this.ended = true;
      const response = isObject(event.response) ? event.response : {};
      if (isObject(response.usage)) this.setFinal(response.usage);
      if (isObject(response.metrics)) this.metrics = response.metrics;
      return false;
    }
    if (type.endsWith('.delta')) {
      this.choiceChunks.set(0, (this.choiceChunks.get(0) ?? 0) + 1);
      return true;
    }
    return false;
  }

  /** Anthropic Messages events: input tokens at message_start, totals at message_delta. */
  private observeMessages(event: Json, name: string | undefined): boolean {
    const type = typeof event.type === 'string' ? event.type : (name ?? '');
    if (type === 'error') this.failed = true;
    if (type === 'message_stop') this.ended = true;
    if (type === 'message_start' && isObject(event.message) && isObject(event.message.usage)) {
      const input = nonNegative(event.message.usage.input_tokens);
      if (input !== undefined) this.promptTokens.set(0, input);
    }
    if (type === 'message_delta' && isObject(event.usage)) {
      const prior = this.promptTokens.get(0);
      this.setFinal({ ...event.usage, input_tokens: event.usage.input_tokens ?? prior });
    }
    if (type === 'content_block_delta') {
      this.choiceChunks.set(0, (this.choiceChunks.get(0) ?? 0) + 1);
      return true;
    }
    return false;
  }

  /** A usage object in any of vLLM's spellings (OpenAI, Responses, Anthropic, rerank's total only). */
  private setFinal(usage: Json): void {
    const details = isObject(usage.prompt_tokens_details)
      ? usage.prompt_tokens_details
      : isObject(usage.input_tokens_details)
        ? usage.input_tokens_details
        : undefined;
    const prompt =
      nonNegative(usage.prompt_tokens) ??
      nonNegative(usage.input_tokens) ??
      (usage.completion_tokens === undefined && usage.output_tokens === undefined
        ? nonNegative(usage.total_tokens)
        : undefined);
    const completion = nonNegative(usage.completion_tokens) ?? nonNegative(usage.output_tokens) ?? 0;
    if (prompt === undefined && completion === 0) return; // not a usage object we can read
    this.final = {
      prompt: prompt ?? 0,
      completion,
      // Anthropic's own field, where a version fills it; vLLM's prompt count includes cached tokens.
      cached: nonNegative(details?.cached_tokens) ?? nonNegative(usage.cache_read_input_tokens),
    };
  }
}

/** Tokens a choice of a chunk carried, at least: generate's token ids exactly, any text or tool call one. */
function producedTokens(choice: Json): number {
  if (Array.isArray(choice.token_ids) && choice.token_ids.length > 0) return choice.token_ids.length;
  const delta = isObject(choice.delta) ? choice.delta : undefined;
  const text = (value: unknown): boolean => typeof value === 'string' && value !== '';
  if (text(choice.text) || text(delta?.content) || text(delta?.reasoning_content) || text(delta?.reasoning))
    return 1;
  if (Array.isArray(delta?.tool_calls) && delta.tool_calls.length > 0) return 1;
  return 0;
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.trunc(value) : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
