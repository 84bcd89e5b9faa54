"""Imports the reference Open-Sora 1.3 models (a local checkout named by OPENSORA_REFERENCE) on CPU
with Debian's python3-torch 1.13, and loads weights that opensora-ts wrote, so the bench times the
same model with the same weights on both sides.

The reference imports GPU and training libraries at import time (xformers, colossalai, mmengine,
timm, transformers, einops, beartype...). None of them is needed for a CPU forward, and most are not
installable here, so this module registers small stand-ins in sys.modules first (spec section 10.3):
plain-PyTorch maths with the same semantics where a function is called (einops rearrange/repeat,
xformers memory_efficient_attention with a block-diagonal mask, timm Mlp, scaled_dot_product_attention
for torch < 2.0), empty modules elsewhere. Nothing here is copied from the reference.
"""

import json
import math
import os
import sys
import types
import typing

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def reference_root():
    root = os.environ.get("OPENSORA_REFERENCE")
    if not root:
        raise RuntimeError("reference not available (set OPENSORA_REFERENCE to a checkout of hpcaitech/Open-Sora v1.3)")
    probe = os.path.join(root, "opensora", "models", "stdit", "stdit3.py")
    if not os.path.isfile(probe):
        raise RuntimeError(f"OPENSORA_REFERENCE={root}: {probe} not found; point it at a checkout of hpcaitech/Open-Sora tag v1.3")
    return root


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, m)
    return m


# ---- einops: rearrange / repeat over the patterns the reference uses ------------------------------

def _groups(side):
    out, cur = [], None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            out.append(cur)
            cur = None
        elif cur is not None:
            cur.append(tok)
        else:
            out.append([tok])
    return out


def _einops(x, pattern, sizes, allow_new):
    left, right = (_groups(s) for s in pattern.split("->"))
    sizes = dict(sizes)
    n_ell = x.dim() - sum(1 for g in left if g != ["..."])
    elems = []
    dims = list(x.shape)
    i = 0
    for g in left:
        if g == ["..."]:
            for j in range(n_ell):
                elems.append((f"...{j}", dims[i + j]))
            i += n_ell
            continue
        unknown = [a for a in g if a != "1" and a not in sizes]
        known = math.prod(sizes[a] for a in g if a != "1" and a in sizes)
        if len(unknown) > 1:
            raise ValueError(f"einops stand-in: cannot infer {unknown} in '{pattern}'")
        if unknown:
            sizes[unknown[0]] = dims[i] // known
        elems.extend((a, sizes[a]) for a in g if a != "1")
        i += 1
    x = x.reshape([s for _, s in elems])
    sizes.update(elems)
    rgroups = []
    for g in right:
        if g == ["..."]:
            rgroups.extend([[f"...{j}"] for j in range(n_ell)])
        else:
            rgroups.append(g)
    names = [n for n, _ in elems]
    rnames = [a for g in rgroups for a in g if a != "1"]
    kept = [a for a in rnames if a in names]
    x = x.permute([names.index(a) for a in kept])
    new = [a for a in rnames if a not in names]
    if new:
        if not allow_new:
            raise ValueError(f"einops stand-in: rearrange cannot create axes {new} ('{pattern}')")
        for pos, a in enumerate(rnames):
            if a in new:
                x = x.unsqueeze(pos)
        x = x.expand([sizes[a] for a in rnames])
    final = [math.prod(sizes[a] for a in g if a != "1") for g in rgroups]
    return x.reshape(final)


def rearrange(x, pattern, **sizes):
    return _einops(x, pattern, sizes, False)


def repeat(x, pattern, **sizes):
    return _einops(x, pattern, sizes, True)


# ---- xformers: memory_efficient_attention with BlockDiagonalMask ---------------------------------

class BlockDiagonalMask:
    def __init__(self, q_seqlen, kv_seqlen):
        self.q_seqlen = [int(v) for v in q_seqlen]
        self.kv_seqlen = [int(v) for v in (kv_seqlen if kv_seqlen is not None else q_seqlen)]

    @classmethod
    def from_seqlens(cls, q_seqlen, kv_seqlen=None):
        return cls(q_seqlen, kv_seqlen)


def _attend(q, k, v, bias=None):
    # q [B, M, H, D] -> [B, H, M, D]: softmax(q k^T / sqrt(D) + bias) v
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    s = torch.matmul(q * (q.shape[-1] ** -0.5), k.transpose(-2, -1))
    if bias is not None:
        s = s + bias
    return torch.matmul(s.softmax(-1), v).transpose(1, 2)


def memory_efficient_attention(q, k, v, p=0.0, attn_bias=None, **_):
    if isinstance(attn_bias, BlockDiagonalMask):
        outs, qs, ks = [], 0, 0
        for nq, nk in zip(attn_bias.q_seqlen, attn_bias.kv_seqlen):
            outs.append(_attend(q[:, qs : qs + nq], k[:, ks : ks + nk], v[:, ks : ks + nk]))
            qs, ks = qs + nq, ks + nk
        return torch.cat(outs, 1).contiguous()
    if attn_bias is not None:
        b, m, h, _ = q.shape
        attn_bias = attn_bias.reshape(b, h, m, -1)
    return _attend(q, k, v, attn_bias).contiguous()


def _sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = torch.matmul(q * scale, k.transpose(-2, -1))
    if is_causal:
        n, m = s.shape[-2], s.shape[-1]
        s = s.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask
    return torch.matmul(s.softmax(-1), v)


# ---- timm, transformers, mmengine ---------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, norm_layer=None, bias=True, drop=0.0, **_):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.norm = norm_layer(hidden_features) if norm_layer else nn.Identity()
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class DropPath(nn.Identity):
    def __init__(self, *_, **__):
        super().__init__()


class PretrainedConfig:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class PreTrainedModel(nn.Module):
    def __init__(self, config, *_, **__):
        super().__init__()
        self.config = config


class Registry:
    def __init__(self, name, **_):
        self.name = name
        self.modules = {}

    def register_module(self, name=None, module=None, force=False):
        def add(obj):
            self.modules[name or obj.__name__] = obj
            return obj

        return add(module) if module is not None else add

    def build(self, cfg):
        cfg = dict(cfg)
        return self.modules[cfg.pop("type")](**cfg)

    def get(self, name):
        return self.modules.get(name)


def _unavailable(*_, **__):
    raise RuntimeError("not available in the bench's reference stand-ins (load weights with load_state_dict)")


_installed = False


def install():
    """Registers the stand-ins and the reference's package skeleton; idempotent."""
    global _installed
    if _installed:
        return
    root = reference_root()
    if root not in sys.path:
        sys.path.insert(0, root)
    _module("einops", rearrange=rearrange, repeat=repeat)
    _module("beartype", beartype=lambda f: f)
    _module("beartype.typing", **{k: getattr(typing, k) for k in ("Literal", "Optional", "Union", "List", "Tuple")})
    _module("xformers")
    _module("xformers.ops", memory_efficient_attention=memory_efficient_attention)
    _module("xformers.ops.fmha", BlockDiagonalMask=BlockDiagonalMask)
    _module("timm")
    _module("timm.models")
    _module("timm.models.layers", DropPath=DropPath)
    _module("timm.models.vision_transformer", Mlp=Mlp)
    _module("transformers", PretrainedConfig=PretrainedConfig, PreTrainedModel=PreTrainedModel)
    _module("mmengine")
    _module("mmengine.registry", Registry=Registry)
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = _sdpa
    # Package skeleton: the reference's __init__ files import every model family; skip them.
    pkg = os.path.join(root, "opensora")
    for name in ("opensora", "opensora.models", "opensora.models.stdit", "opensora.models.vae_v1_3", "opensora.models.vae", "opensora.utils"):
        m = _module(name)
        m.__path__ = [os.path.join(pkg, *name.split(".")[1:])]
    _module("opensora.utils.ckpt_utils", load_checkpoint=_unavailable)
    _installed = True


# ---- weights -------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "BOOL": np.bool_, "F16": np.float16}


def read_safetensors(path):
    """name -> torch tensor (no safetensors package needed)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for k, e in header.items():
        if k == "__metadata__":
            continue
        b, end = e["data_offsets"]
        if e["dtype"] == "BF16":
            raw = np.frombuffer(blob[b:end], dtype=np.uint16).astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            arr = np.frombuffer(blob[b:end], dtype=_DTYPES[e["dtype"]])
        out[k] = torch.from_numpy(arr.copy().reshape(e["shape"]))
    return out


def load_weights(model, path):
    sd = read_safetensors(path)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"{path}: missing {missing[:5]}..., unexpected {unexpected[:5]}...")
    return model


def build_stdit3(config, weights=None):
    install()
    from opensora.models.stdit.stdit3 import STDiT3, STDiT3Config

    cfg = dict(config)
    cfg.update(enable_flash_attn=False, enable_layernorm_kernel=False)
    for k in ("patch_size", "kernel_size", "input_size"):
        if cfg.get(k) is not None:
            cfg[k] = tuple(cfg[k])
    model = STDiT3(STDiT3Config(**cfg))
    if weights:
        load_weights(model, weights)
    return model.eval()


def build_vae(config, weights=None):
    """config: opensora-ts's parsed VAE config (the reference's keys, encoder/decoder dicts included)."""
    install()
    import opensora.models.vae_v1_3.encoder  # noqa: F401  (registers VideoEncoder)
    import opensora.models.vae_v1_3.decoder  # noqa: F401  (registers VideoDecoder)
    from opensora.models.vae_v1_3.vae import OpenSoraVAE_V1_3_Pipline, OpenSoraVAE_V1_3_PiplineConfig

    enc = dict(config["encoder"], type="VideoEncoder")
    dec = dict(config["decoder"], type="VideoDecoder")
    dec.setdefault("in_channels", 3)
    model = OpenSoraVAE_V1_3_Pipline(
        OpenSoraVAE_V1_3_PiplineConfig(encoder=enc, decoder=dec),
        micro_batch_size=config.get("micro_batch_size"),
        micro_frame_size=config.get("micro_frame_size"),
        use_tiled_conv3d=config.get("use_tiled_conv3d", False),
        tile_size=config.get("tile_size", 16),
        tiled_dim=config.get("tiled_dim"),
        num_tiles=config.get("num_tiles"),
        temporal_overlap=config.get("temporal_overlap", False),
        normalization=config.get("normalization"),
    )
    if weights:
        load_weights(model, weights)
    return model.eval()


def rel_l2(got, expected):
    got, expected = got.double(), expected.double()
    return float((got - expected).norm() / expected.norm().clamp_min(1e-30))


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None
