// Prompt refinement through any OpenAI-compatible chat-completions endpoint (the hosted API or a
// local server): a short prompt becomes a detailed one-scene English video description, and a
// prompt in another language is translated. Any failure keeps the original prompt and reports why.

export const REFINE_SYSTEM_PROMPT = [
  "You rewrite a user's prompt for a text-to-video model.",
  'Write one refined prompt in English (translate the prompt if it is in another language).',
  'Describe a single continuous scene with no cuts or transitions, mention every object in it, its look and how it moves, and the camera.',
  'Use at most six sentences. Reply with the refined prompt only, without quotes or preamble.',
  'Example: "a cat on a sofa" -> "A fluffy orange cat lies curled on a grey linen sofa in a sunlit living room. Its tail flicks slowly while its ears twitch at distant sounds. Soft afternoon light falls through a window behind it. The camera holds still at sofa height."',
].join('\n');

export const RANDOM_PROMPT_REQUEST = 'Generate one example prompt for a text-to-video model: one scene, at most six sentences, in English.';

export interface RefineOptions {
  /** Base URL ("https://api.openai.com/v1", "http://127.0.0.1:8080/v1") or a full .../chat/completions URL. */
  url?: string;
  model?: string;
  /** Default: the OPENAI_API_KEY environment variable; none is sent when empty (local servers). */
  apiKey?: string;
  /** How long to wait for the reply; default 30 s. */
  timeoutMs?: number;
  /** Called with a description of any failure (the original prompt is kept); `timedOut` when no reply came in time. */
  onWarning?: (message: string, info: { timedOut: boolean }) => void;
  /** Called while waiting for the reply, every `progressEveryMs`, with the time waited so far. */
  onWaiting?: (elapsedMs: number, timeoutMs: number) => void;
  /** Interval of onWaiting; default 5 s, or a quarter of the timeout when that is shorter. */
  progressEveryMs?: number;
  fetchImpl?: typeof fetch;
}

export interface RefineResult {
  prompt: string;
  refined: boolean;
  error?: string;
  /** True when the endpoint gave no reply within the timeout. */
  timedOut?: boolean;
}

function endpoint(url: string): string {
  const u = url.replace(/\/+$/, '');
  return u.endsWith('/chat/completions') ? u : `${u}/chat/completions`;
}

/** Refines one prompt; an empty prompt asks for a random example instead. Never throws. */
export async function refinePromptDetailed(prompt: string, opts: RefineOptions = {}): Promise<RefineResult> {
  const url = endpoint(opts.url ?? 'https://api.openai.com/v1');
  const apiKey = opts.apiKey ?? process.env.OPENAI_API_KEY ?? '';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const fail = (error: string, timedOut = false): RefineResult => {
    const msg = `prompt refinement via ${url} failed (${error}); keeping the original prompt.`;
    opts.onWarning?.(msg, { timedOut });
    return { prompt, refined: false, error, ...(timedOut ? { timedOut } : {}) };
  };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const started = Date.now();
  const every = opts.progressEveryMs ?? Math.min(5000, timeoutMs / 4);
  const ticker = opts.onWaiting ? setInterval(() => opts.onWaiting!(Date.now() - started, timeoutMs), every) : undefined;
  try {
    const res = await (opts.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({
        model: opts.model ?? 'gpt-4o',
        messages: [
          { role: 'system', content: REFINE_SYSTEM_PROMPT },
          { role: 'user', content: prompt.trim() === '' ? RANDOM_PROMPT_REQUEST : prompt },
        ],
      }),
      signal: controller.signal,
    });
    const text = await res.text();
    if (!res.ok) return fail(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return fail(`the reply is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
    const content = (body as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    if (typeof content !== 'string' || content.trim() === '') return fail('the reply has no choices[0].message.content');
    return { prompt: content.trim(), refined: true };
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    if (e.name === 'AbortError') return fail(`no reply within ${timeoutMs} ms`, true);
    return fail(e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message);
  } finally {
    clearTimeout(timer);
    if (ticker) clearInterval(ticker);
  }
}

/** Refines one prompt and returns the text to use (the original on any error). */
export async function refinePrompt(prompt: string, opts: RefineOptions = {}): Promise<string> {
  return (await refinePromptDetailed(prompt, opts)).prompt;
}
