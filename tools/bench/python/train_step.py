"""One DiT training step on the reference STDiT3 (PyTorch CPU), for `pnpm bench train`.

The step is the one the bench times on our side: the rectified-flow training loss with logit-normal
timesteps and the resolution/length shift, backward, clip_grad_norm_, torch.optim.AdamW and an EMA
update on a copy of the model. The loss and the EMA update are the reference's own functions
(RFlowScheduler.training_losses, update_ema), imported with stand-ins for what their modules import
at load time and do not use here (matplotlib, colossalai, the acceleration plugin, the logger). If
that import fails, the same formulas written out below are used instead; the row's note says which.
Nothing here is copied from the reference.
"""

import copy
import importlib.util
import logging
import math
import os
import sys

import torch

import opensora_reference as R


class _Unavailable:
    def __init__(self, *_, **__):
        raise RuntimeError("not available in the bench's reference stand-ins")


def _stub_missing(name, **attrs):
    """A stand-in module, only where the real one is not installed."""
    if name in sys.modules:
        return
    top = name.split(".")[0]
    if top in sys.modules and not getattr(sys.modules[top], "__bench_stub__", False):
        return
    if top not in sys.modules and importlib.util.find_spec(top) is not None:
        return
    R._module(name, __bench_stub__=True, **attrs)


def _skeleton(*names):
    """Package modules without their __init__ (which import every scheduler or util)."""
    pkg = os.path.join(R.reference_root(), "opensora")
    for name in names:
        if name not in sys.modules:
            m = R._module(name)
            m.__path__ = [os.path.join(pkg, *name.split(".")[1:])]


def _reference_losses(num_timesteps):
    R.install()
    _skeleton("opensora.schedulers", "opensora.schedulers.rf", "opensora.schedulers.iddpm")
    # time_sampler imports pyplot for a plotting helper the loss never calls.
    _stub_missing("matplotlib")
    _stub_missing("matplotlib.pyplot")
    from opensora.schedulers.rf.rectified_flow import RFlowScheduler

    # The 1.3 training configs' scheduler: logit-normal with the shift (transform scale 1 in training).
    sch = RFlowScheduler(num_timesteps=num_timesteps, sample_method="logit-normal", use_timestep_transform=True, transform_scale=1.0)

    def losses(model, x, model_kwargs, noise=None, t=None):
        # mask_index=[]: what the reference's train script passes for t2v batches, so the model adds
        # the (zero-input) condition embeddings, as our train app's step does.
        return sch.training_losses(model, x, model_kwargs=dict(model_kwargs), noise=noise, t=t, mask_index=[])["loss"]

    return losses


def _reference_update_ema():
    R.install()
    _stub_missing("colossalai")
    _stub_missing("colossalai.booster")
    _stub_missing("colossalai.booster.plugin", LowLevelZeroPlugin=_Unavailable)
    import opensora.acceleration  # noqa: F401  (the real package; only its plugin module needs colossalai)

    if "opensora.acceleration.plugin" not in sys.modules:
        R._module("opensora.acceleration.plugin", ZeroSeqParallelPlugin=_Unavailable)
    if "opensora.utils.misc" not in sys.modules:
        R._module("opensora.utils.misc", get_logger=lambda: logging.getLogger("opensora"))
    from opensora.utils.train_utils import update_ema

    def ema_update(ema, model, decay):
        update_ema(ema, model, optimizer=None, decay=decay, sharded=False)

    return ema_update


# ---- the same formulas, written out (used only when the reference's modules cannot be imported) ----


def _written_losses(num_timesteps):
    def shift(t, kw):
        # Resolution/length shift of the timesteps (base 512x512, 1 frame; latent frames (F-1)//4).
        t = t / num_timesteps
        res = kw["height"] * kw["width"]
        frames = torch.ones_like(kw["num_frames"]) if kw["num_frames"][0] == 1 else (kw["num_frames"] - 1) // 4
        ratio = (res / (512 * 512)).sqrt() * frames.sqrt()
        return ratio * t / (1 + (ratio - 1) * t) * num_timesteps

    def losses(model, x, model_kwargs, noise=None, t=None):
        if t is None:
            t = shift(torch.sigmoid(torch.randn(x.shape[0])) * num_timesteps, model_kwargs)
        if noise is None:
            noise = torch.randn_like(x)
        s = (1 - t.float() / num_timesteps).view(-1, 1, 1, 1, 1)
        x_t = s * x + (1 - s) * noise
        zeros = torch.zeros_like(x)
        v = model(x_t, t, cond=zeros, cond_mask=zeros, mask_index=[], **model_kwargs).chunk(2, dim=1)[0]
        return (v - (x - noise)).pow(2).mean(dim=list(range(1, x.dim())))

    return losses


@torch.no_grad()
def _written_update_ema(ema, model, decay):
    shadow = dict(ema.named_parameters())
    for name, p in model.named_parameters():
        if name == "pos_embed" or not p.requires_grad:
            continue
        shadow[name].mul_(decay).add_(p.data, alpha=1 - decay)


def training_pieces(num_timesteps=1000):
    """(losses(model, x, model_kwargs, noise=None, t=None) -> [B], update_ema(ema, model, decay), what was used)."""
    used = []
    try:
        losses = _reference_losses(num_timesteps)
        used.append("loss: reference RFlowScheduler.training_losses")
    except Exception as err:  # noqa: BLE001  (any import failure: fall back, and say so)
        losses = _written_losses(num_timesteps)
        used.append(f"loss: written out in torch (reference import failed: {type(err).__name__}: {str(err)[:80]})")
    try:
        ema_update = _reference_update_ema()
        used.append("ema: reference update_ema")
    except Exception as err:  # noqa: BLE001
        ema_update = _written_update_ema
        used.append(f"ema: written out in torch (reference import failed: {type(err).__name__}: {str(err)[:80]})")
    return losses, ema_update, ", ".join(used)


def cpu_caption_dropout(model):
    """The reference's caption dropout draws its per-sample coin with `.cuda()`; on CPU, draw it here
    and hand it to the reference's own token_drop as force_drop_ids (the same Bernoulli(p) per sample)."""
    emb = model.y_embedder
    original = emb.token_drop

    def token_drop(caption, force_drop_ids=None, uncond_prob=None):
        if force_drop_ids is None:
            p = emb.uncond_prob if uncond_prob is None else uncond_prob
            force_drop_ids = (torch.rand(caption.shape[0]) < p).long()
        return original(caption, force_drop_ids=force_drop_ids, uncond_prob=uncond_prob)

    emb.token_drop = token_drop
    return model


def reference_step(config, weights, inputs, meta, ours=None, lr=1e-4, betas=(0.9, 0.999), eps=1e-15, weight_decay=0.0, grad_clip=1.0, ema_decay=0.99, num_timesteps=1000):
    """Builds the reference STDiT3 with our weights and returns (step, check) for the bench driver.

    inputs: safetensors with x [B,C,T,H,W], y [B,1,L,C], mask [B,L], check_t [B], check_noise (x's shape).
    meta: {height, width, numFrames, fps} of the video the latent stands for.
    ours: safetensors with our per-sample loss at check_t / check_noise ("out"), or None.
    """
    model = R.build_stdit3(config, weights)  # eval mode
    inp = R.read_safetensors(inputs)
    x = inp["x"]
    b = x.shape[0]
    full = lambda v: torch.full((b,), float(v), dtype=torch.float32)  # noqa: E731
    kwargs = dict(y=inp["y"], mask=inp["mask"], fps=full(meta["fps"]), height=full(meta["height"]), width=full(meta["width"]), num_frames=full(meta["numFrames"]))
    losses, ema_update, used = training_pieces(num_timesteps)

    # The check: the per-sample loss at fixed timesteps and noise on the initial weights, no caption dropout.
    with torch.no_grad():
        check_loss = losses(model, x, kwargs, noise=inp["check_noise"], t=inp["check_t"]).detach().clone()
    expected = R.read_safetensors(ours)["out"] if ours else None

    ema = copy.deepcopy(model).to(torch.float32)
    ema.requires_grad_(False)
    ema.eval()
    cpu_caption_dropout(model).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    last = {}

    def step():
        opt.zero_grad(set_to_none=True)
        loss = losses(model, x, kwargs).mean()
        loss.backward()
        last["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
        opt.step()
        ema_update(ema, model, ema_decay)
        last.setdefault("first_loss", float(loss))  # ours reads the loss back every step too

    def check():
        out = {"label": "fixed-t loss", "note": f"{used}; loss {last.get('first_loss', math.nan):.4f}; fixed-t loss {float(check_loss.mean()):.5f}"}
        if expected is not None:
            out["rel_l2"] = R.rel_l2(check_loss, expected)
        return out

    return step, check
