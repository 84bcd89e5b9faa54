import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { refinePrompt, refinePromptDetailed } from './refine-prompt.js';

// A loopback OpenAI-compatible server whose behaviour depends on the model name.
let server: Server;
let base = '';
const seen: { auth?: string; body: { model: string; messages: { role: string; content: string }[] } }[] = [];
const pending = new Set<ServerResponse>();

function handler(req: IncomingMessage, res: ServerResponse): void {
  let raw = '';
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    const body = JSON.parse(raw) as (typeof seen)[number]['body'];
    seen.push({ auth: req.headers.authorization, body });
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    };
    switch (body.model) {
      case 'ok':
        return reply(200, JSON.stringify({ choices: [{ message: { role: 'assistant', content: `  Refined: ${body.messages[1]!.content}  ` } }] }));
      case 'fail':
        return reply(500, '{"error":"boom"}');
      case 'garbage':
        return reply(200, '{"choices": [');
      case 'empty':
        return reply(200, JSON.stringify({ choices: [] }));
      case 'slow':
        pending.add(res); // never answers; closed in afterAll
        return;
      default:
        return reply(404, 'unknown model');
    }
  });
}

beforeAll(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  // bounded: the server stops by itself even if a test hangs
  setTimeout(() => server.close(), 30_000).unref();
});
afterAll(async () => {
  for (const r of pending) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('refinePrompt', () => {
  it('returns the model reply, sends system + user messages and the key', async () => {
    const out = await refinePrompt('一只猫在睡觉', { url: base, model: 'ok', apiKey: 'k-123' });
    expect(out).toBe('Refined: 一只猫在睡觉');
    const last = seen.at(-1)!;
    expect(last.auth).toBe('Bearer k-123');
    expect(last.body.messages[0]!.role).toBe('system');
    expect(last.body.messages[0]!.content).toMatch(/English/);
    expect(last.body.messages[1]).toEqual({ role: 'user', content: '一只猫在睡觉' });
  });

  it('asks for a random example when the prompt is empty', async () => {
    await refinePrompt('  ', { url: `${base}/chat/completions`, model: 'ok', apiKey: '' });
    expect(seen.at(-1)!.body.messages[1]!.content).toMatch(/Generate one example/);
    expect(seen.at(-1)!.auth).toBeUndefined();
  });

  it.each([
    ['fail', /HTTP 500/],
    ['garbage', /not JSON/],
    ['empty', /no choices/],
    ['slow', /no reply within 300 ms/],
  ])('keeps the original prompt on %s and reports it', async (model, why) => {
    const warnings: string[] = [];
    const r = await refinePromptDetailed('a red circle', { url: base, model, apiKey: 'x', timeoutMs: 300, onWarning: (m) => warnings.push(m) });
    expect(r).toMatchObject({ prompt: 'a red circle', refined: false });
    expect(r.error).toMatch(why);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/keeping the original prompt/);
  });

  it('keeps the original when nothing listens', async () => {
    const r = await refinePromptDetailed('x', { url: 'http://127.0.0.1:1/v1', model: 'ok', apiKey: '', timeoutMs: 2000 });
    expect(r.refined).toBe(false);
    expect(r.prompt).toBe('x');
  });

  it('waits 30 s by default, reports progress while waiting, and says when it gave up on time', async () => {
    const waited: number[] = [];
    const infos: { timedOut: boolean }[] = [];
    const r = await refinePromptDetailed('a red circle', {
      url: base,
      model: 'slow',
      apiKey: '',
      timeoutMs: 400,
      onWaiting: (ms, of) => (expect(of).toBe(400), waited.push(ms)),
      onWarning: (_m, info) => infos.push(info),
    });
    expect(r).toMatchObject({ refined: false, timedOut: true, error: 'no reply within 400 ms' });
    expect(infos).toEqual([{ timedOut: true }]);
    // Every quarter of a short timeout: about 100, 200, 300 ms.
    expect(waited.length).toBeGreaterThanOrEqual(2);
    expect(waited.every((ms, i) => ms >= 90 && (i === 0 || ms > waited[i - 1]!))).toBe(true);
    // A fast failure is not a timeout and reports no progress.
    const fast: number[] = [];
    const f = await refinePromptDetailed('x', { url: base, model: 'fail', apiKey: '', onWaiting: (ms) => fast.push(ms) });
    expect(f.timedOut).toBeUndefined();
    expect(fast).toEqual([]);
  });

  it('gives up after 30 s when no timeout is given', async () => {
    vi.useFakeTimers();
    try {
      let aborted = false;
      const hang = ((_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => ((aborted = true), reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))))) as unknown as typeof fetch;
      const run = refinePromptDetailed('x', { url: base, apiKey: '', fetchImpl: hang });
      await vi.advanceTimersByTimeAsync(29_999);
      expect(aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await run).toMatchObject({ timedOut: true, error: 'no reply within 30000 ms' });
    } finally {
      vi.useRealTimers();
    }
  });
});
