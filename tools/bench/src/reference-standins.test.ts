// The Python stand-ins the reference is imported with (python/opensora_reference.py): their
// maths must equal plain torch, or the reference side would time (and check) something else.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BENCH_PYTHON_DIR, findReference, findTorchPython } from './torch.js';

const found = findTorchPython();

const CHECKS = String.raw`
import sys, json, torch
sys.path.insert(0, sys.argv[1])
import opensora_reference as R
torch.manual_seed(0)
out = {}
x = torch.randn(2, 6, 5)
out["group"] = torch.equal(R.rearrange(x, "b (t s) c -> b t s c", t=3), x.reshape(2, 3, 2, 5))
out["perm"] = torch.equal(R.rearrange(x, "b n c -> b c n"), x.permute(0, 2, 1))
out["merge"] = torch.equal(R.rearrange(x, "b n c -> (b n) c"), x.reshape(12, 5))
y = torch.randn(2, 3, 4, 5)
out["split_perm"] = torch.equal(R.rearrange(y.reshape(2, 12, 5), "B (T H) C -> B H T C", T=3, H=4), y.permute(0, 2, 1, 3))
out["ellipsis"] = torch.equal(R.rearrange(torch.arange(8.).reshape(2, 4), "... (d r) -> ... d r", r=2), torch.arange(8.).reshape(2, 2, 2))
out["unit"] = list(R.rearrange(torch.randn(3, 4), "n d -> n 1 d").shape) == [3, 1, 4]
out["repeat"] = torch.equal(R.repeat(torch.tensor([1., 2.]), "... n -> ... (n r)", r=2), torch.tensor([1., 1., 2., 2.]))
# Block-diagonal attention equals dense attention with a block mask.
q = torch.randn(1, 7, 2, 4); k = torch.randn(1, 5, 2, 4); v = torch.randn(1, 5, 2, 4)
got = R.memory_efficient_attention(q, k, v, attn_bias=R.BlockDiagonalMask.from_seqlens([3, 4], [2, 3]))
s = torch.einsum("bqhd,bkhd->bhqk", q, k) / 2.0
m = torch.full((7, 5), float("-inf")); m[:3, :2] = 0; m[3:, 2:] = 0
want = torch.einsum("bhqk,bkhd->bqhd", (s + m).softmax(-1), v)
out["block_diag"] = float((got - want).abs().max()) < 1e-5 and got.is_contiguous()
# Causal SDPA polyfill.
q = torch.randn(1, 1, 6, 4); k = torch.randn(1, 1, 6, 4); v = torch.randn(1, 1, 6, 4)
s = q @ k.transpose(-1, -2) / 2.0
s = s.masked_fill(torch.triu(torch.ones(6, 6, dtype=torch.bool), 1), float("-inf"))
out["causal"] = float((R._sdpa(q, k, v, is_causal=True) - s.softmax(-1) @ v).abs().max()) < 1e-5
print(json.dumps(out))
`;

describe('reference stand-ins (python)', () => {
  it.skipIf(found.python === null)(`einops, block-diagonal attention and causal SDPA equal plain torch${found.python === null ? ` (skipped: ${found.reason})` : ''}`, () => {
    const r = spawnSync(found.python!, ['-c', CHECKS, BENCH_PYTHON_DIR], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(r.stderr).not.toMatch(/Traceback/);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, boolean>;
    expect(out).toEqual({ group: true, perm: true, merge: true, split_perm: true, ellipsis: true, unit: true, repeat: true, block_diag: true, causal: true });
  });

  it('without OPENSORA_REFERENCE the reference is reported unavailable, with the fix', () => {
    const saved = process.env.OPENSORA_REFERENCE;
    try {
      delete process.env.OPENSORA_REFERENCE;
      const r = findReference();
      expect(r.root).toBeNull();
      expect(r.root === null && r.reason).toMatch(/reference not available \(set OPENSORA_REFERENCE/);
      process.env.OPENSORA_REFERENCE = '/nonexistent/open-sora';
      const bad = findReference();
      expect(bad.root === null && bad.reason).toMatch(/\/nonexistent\/open-sora holds no opensora\/models\/stdit\/stdit3\.py/);
    } finally {
      if (saved === undefined) delete process.env.OPENSORA_REFERENCE;
      else process.env.OPENSORA_REFERENCE = saved;
    }
  });
});
