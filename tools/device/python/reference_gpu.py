"""The reference side of tools/device/gpu-check.sh: the same model checks on Open-Sora v1.3's own
PyTorch code (OPENSORA_REFERENCE), built through the bench's opensora_reference.py stand-ins.

usage: reference_gpu.py SPEC.json OUT.json DEVICE

SPEC.json is written by the Node side (`gpu-check.mjs models`): the STDiT3 and VAE configs as
opensora-ts parses them, the latent shape, the sample's steps. Weights are random with the
reference's own initialisation (the timings do not depend on the values; parity on the fixtures
checks the values). fp32 means fp32: TF32 is switched off for cuBLAS and cuDNN, as on our side.
  (a) stdit_fwd  fp32 and bf16 (the model cast to bfloat16, as the reference's inference does)
  (c) sample     RFLOW.sample, Open-Sora 1.3's t2v settings (guidance 7.5, oscillation, flaw fix), bf16
  (b) vae_decode fp32
"""
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "python"))

import torch  # noqa: E402

import opensora_reference as R  # noqa: E402

spec = json.load(open(sys.argv[1]))
out_path = sys.argv[2]
dev = torch.device(sys.argv[3])
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)
R.install()


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def best_ms(fn, reps):
    best = math.inf
    for i in range(reps + 1):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        ms = (time.perf_counter() - t0) * 1000
        if i > 0:
            best = min(best, ms)
    return best


rows = []


def row(case, precision, fn, reps, note=None):
    try:
        ms = fn() if reps is None else best_ms(fn, reps)
        rows.append({"case": case, "side": "reference", "precision": precision, "ms": ms, **({"note": note} if note else {})})
        print(f"  reference {case} {precision}: {ms:.0f} ms", flush=True)
    except Exception as e:  # one failing case must not hide the others
        rows.append({"case": case, "side": "reference", "precision": precision, "ms": None, "note": f"failed: {str(e).splitlines()[0][:200]}"})
        print(f"  reference {case} {precision} failed: {e}", flush=True)


latent = spec["latent"]
cfg = spec["stdit"]
L, C = cfg["model_max_length"], cfg["caption_channels"]
H, W, F = spec["height"], spec["width"], spec["frames"]

t0 = time.perf_counter()
model = R.build_stdit3(cfg).to(dev)
print(f"  reference STDiT3 built in {time.perf_counter() - t0:.1f} s", flush=True)
x = torch.randn(latent, device=dev)
y = torch.randn(1, 1, L, C, device=dev)
mask = torch.zeros(1, L, dtype=torch.long, device=dev)
mask[:, : spec["validTokens"]] = 1
scalar = lambda v: torch.tensor([float(v)], device=dev)  # noqa: E731

# (a) forward, fp32 then bf16
for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
    model.to(dtype)

    def fwd():
        with torch.no_grad():
            model(x.to(dtype), scalar(500), y.to(dtype), mask=mask, fps=scalar(24), height=scalar(H), width=scalar(W))

    row("stdit_fwd", precision, fwd, 2)


# (c) the sample, bf16 (model already bf16)
class _NullCaptions:
    """The text encoder's interface RFLOW.sample uses: tokenize_fn, encode, null."""

    def tokenize_fn(self, prompts):
        return {"n": len(prompts)}

    def encode(self, n):
        return {"y": y.to(torch.bfloat16).repeat(n, 1, 1, 1), "mask": mask.repeat(n, 1)}

    def null(self, n):
        return model.y_embedder.y_embedding[None, None].repeat(n, 1, 1, 1).to(torch.bfloat16)


def sample():
    for name in ("opensora.schedulers", "opensora.schedulers.iddpm"):
        if name not in sys.modules:
            m = R._module(name)
            m.__path__ = [os.path.join(R.reference_root(), "opensora", *name.split(".")[1:])]
    try:
        import tqdm  # noqa: F401
    except ImportError:
        R._module("tqdm", tqdm=lambda it, **_: it)
    # time_sampler imports pyplot for a plotting helper sampling never calls.
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        R._module("matplotlib")
        R._module("matplotlib.pyplot")
    from opensora.schedulers.rf import RFLOW

    rf = RFLOW(num_sampling_steps=spec["steps"], num_timesteps=1000, cfg_scale=7.5, use_timestep_transform=True,
               use_oscillation_guidance=True, use_flaw_fix=True)
    z = torch.randn(latent, device=dev, dtype=torch.bfloat16)
    extra = {"height": scalar(H), "width": scalar(W), "num_frames": scalar(F), "fps": scalar(24), "ar": scalar(H / W)}
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        rf.sample(model, _NullCaptions(), z=z, prompts=[""], device=dev, additional_args=extra, progress=False)
    sync()
    return (time.perf_counter() - t0) * 1000


row("sample", "bf16", sample, None, f"{spec['steps']} steps, CFG 7.5")
del model
if dev.type == "cuda":
    torch.cuda.empty_cache()

# (b) VAE decode, fp32
try:
    vae = R.build_vae(spec["vae"]).to(dev)
    zl = torch.randn(latent, device=dev)

    def decode():
        with torch.no_grad():
            vae.decode(zl, num_frames=F)

    row("vae_decode", "fp32", decode, 1, f"{F} frames {H}x{W}")
except Exception as e:
    rows.append({"case": "vae_decode", "side": "reference", "precision": "fp32", "ms": None, "note": f"failed: {e}"})
    print(f"  reference vae_decode failed: {e}", flush=True)

info = {"torch": torch.__version__, "device": str(dev), "rows": rows}
if dev.type == "cuda":
    info["gpu"] = torch.cuda.get_device_name(dev)
    info["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(dev)
json.dump(info, open(out_path, "w"), indent=2)
sys.exit(0 if all(r["ms"] is not None for r in rows) else 1)
