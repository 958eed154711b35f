"""The encoder-decoder core that the pose, back-translation and text models compose.

Everything here is config-agnostic (plain sizes in, no model config): sinusoidal positions,
attention written with `F.scaled_dot_product_attention` so the decoder can keep a KV cache,
pre-norm encoder/decoder layers and their stacks, the shared weight init, token padding, and the
greedy / beam-search loops of the token decoders. What a model adds on top (its embeddings, input
normalisation, output heads, losses, stopping rules) stays in its own file.

Decoding with a cache. Self-attention keys/values are cached per decoder layer in buffers
preallocated to the maximum length (`KVCache`: no concatenation, so a step costs the same at
position 5 and position 500 up to the attention itself); the cross-attention keys/values of the
encoder memory are computed once per sequence (`Decoder.memory_kv`). For inference,
`FusedDecoderStep` runs the same cached arithmetic with far fewer ops per step (cross-attention
folded into the memory, weights read in place): at batch 1 a step is bound by streaming every
weight once (PT-base: ~26 MB of float32 per frame, ~1.2 ms on one core of the 2-core VM at its
~21 GB/s), so what is left to remove is per-op overhead (bench/decode.py measures both).

State-dict keys. `Encoder` and `Decoder` are `nn.ModuleList`s of layers, so a model that stores
them as `enc_layers` / `dec_layers` keeps the keys ``enc_layers.0.attn.qkv.weight``,
``dec_layers.1.cross_attn.kv.bias``, ...; the final LayerNorms stay in the model (`enc_ln`,
`dec_ln`). Module creation order is part of the numerics (weights are drawn in that order), so
nothing here may be reordered without re-deriving the golden numbers of the tests.

Shapes: b batch, s source length, t target length, d d_model, h heads, dh = d / h head size,
T a cache's maximum length, V vocabulary.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UsageError

# memory K/V of one decoder layer: keys and values, each (b, h, s, dh)
MemoryKV = tuple[Tensor, Tensor]
# one decoding step of a token decoder: (history (n, step + 1) ids, step) -> scores (n, V)
StepFn = Callable[[Tensor, int], Tensor]
C = TypeVar("C", bound="ConfigDict")


class ConfigDict:
    """`to_dict` / `from_dict` for the model configs (dataclasses), so every checkpoint's
    `config.json` is written and validated the same way."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, written as `config.json` next to the weights."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        """Inverse of `to_dict`; unknown keys are an error, not silently dropped."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise UsageError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class Dims:
    """The sizes of one layer: all that the blocks below read from a model's config."""

    d_model: int
    n_heads: int
    d_ff: int
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        check_shape(self.d_model, self.n_heads, self.dropout)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


def check_shape(d_model: int, n_heads: int, dropout: float) -> None:
    """The size rules every transformer here shares (even head size for the sinusoids)."""
    if d_model % n_heads or (d_model // n_heads) % 2:
        raise UsageError(
            f"d_model ({d_model}) must split into n_heads ({n_heads}) even-sized heads"
        )
    if not 0.0 <= dropout < 1.0:
        raise UsageError(f"dropout must be in [0, 1), got {dropout}")


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Run a block in eval mode (no dropout, no input noise), then restore the previous mode."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


# ----------------------------------------------------------------------------------------------
# Positions, padding, init


def sinusoidal(positions: Tensor, d: int) -> Tensor:
    """Fixed sin/cos position code (Vaswani et al.): (t,) -> (t, d), any length."""
    half = d // 2
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half
    )
    ang = positions.float()[:, None] * freq[None]  # (t, half)
    return torch.cat([ang.sin(), ang.cos()], -1)


def sinusoidal_range(start: int, t: int, d: int, device: torch.device) -> Tensor:
    """Positions start..start+t-1 as a sinusoidal code (t, d) (start > 0: cached decoding)."""
    return sinusoidal(torch.arange(start, start + t, device=device), d)


def pad_sequences(
    seqs: Sequence[Sequence[int] | np.ndarray],
    pad_id: int,
    device: str | torch.device | None = None,
) -> Tensor:
    """Right-pad id lists into (b, s) long, s = the longest (at least 1)."""
    s = max(1, max((len(x) for x in seqs), default=0))
    out = torch.full((len(seqs), s), pad_id, dtype=torch.long)
    for i, x in enumerate(seqs):
        out[i, : len(x)] = torch.as_tensor(np.asarray(x), dtype=torch.long)
    return out if device is None else out.to(device)


def base_init(
    module: nn.Module, *, skip: Collection[str] = (), small_embeddings: Collection[str] = ()
) -> None:
    """N(0, 0.02) linears with zero bias, unit-scale embeddings (beside unit sinusoids), unit
    LayerNorms: the init every transformer here starts from.

    `skip`: names of submodules left alone (they draw nothing from the RNG); `small_embeddings`:
    embeddings that start at N(0, 0.02) instead (learned positions start small).
    """
    for name, m in module.named_modules():
        if name in skip:
            continue
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02 if name in small_embeddings else 1.0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def scale_residual_init(enc_layers: nn.ModuleList, dec_layers: nn.ModuleList) -> None:
    """nanoGPT: residual projections N(0, 0.02 / sqrt(branches * depth)), so deep stacks start
    near the identity (2 residual branches per encoder layer, 3 per decoder layer)."""
    for layers, branches in ((enc_layers, 2), (dec_layers, 3)):
        std = 0.02 / math.sqrt(branches * max(len(layers), 1))
        for name, p in layers.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=std)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (works on the meta device, where nothing is allocated)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# ----------------------------------------------------------------------------------------------
# Attention and layers


class KVCache:
    """Self-attention keys/values of one decoder layer, preallocated to `max_len` positions."""

    def __init__(self, b: int, h: int, max_len: int, dh: int, like: Tensor) -> None:
        self.k = like.new_zeros(b, h, max_len, dh)  # (b, h, T, dh)
        self.v = like.new_zeros(b, h, max_len, dh)
        self.len = 0

    def reorder(self, index: Tensor) -> None:
        """Keep rows `index` (n,) of the batch, e.g. the surviving hypotheses of a beam."""
        self.k, self.v = self.k[index], self.v[index]


class SelfAttention(nn.Module):
    """Multi-head self-attention, causal or not; with a cache it takes one new position per call."""

    def __init__(self, dims: Dims, causal: bool) -> None:
        super().__init__()
        self.n_heads, self.causal, self.dropout = dims.n_heads, causal, dims.dropout
        self.qkv = nn.Linear(dims.d_model, 3 * dims.d_model, bias=dims.bias)
        self.proj = nn.Linear(dims.d_model, dims.d_model, bias=dims.bias)

    def forward(
        self, x: Tensor, key_mask: Tensor | None = None, cache: KVCache | None = None
    ) -> Tensor:
        """x (b, t, d), key_mask (b, t) True = real (non-causal only) -> (b, t, d)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (b, h, t, dh)
        p = self.dropout if self.training else 0.0
        if cache is not None:
            if t != 1:
                raise UsageError("the KV cache takes one position per step")
            n = cache.len
            cache.k[:, :, n] = k[:, :, 0]
            cache.v[:, :, n] = v[:, :, 0]
            cache.len = n + 1
            # one query sees every cached position: causal by construction, no mask needed
            y = F.scaled_dot_product_attention(
                q, cache.k[:, :, : n + 1], cache.v[:, :, : n + 1], dropout_p=p
            )
        elif self.causal:
            # sequences are right-padded, so the causal mask alone keeps real positions clean
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:
            mask = None if key_mask is None else key_mask[:, None, None, :]  # (b, 1, 1, t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class CrossAttention(nn.Module):
    """Decoder positions attend to the encoder memory; `memory_kv` is computed once per sequence."""

    def __init__(self, dims: Dims) -> None:
        super().__init__()
        d, bias = dims.d_model, dims.bias
        self.n_heads, self.dropout = dims.n_heads, dims.dropout
        self.q = nn.Linear(d, d, bias=bias)
        self.kv = nn.Linear(d, 2 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)

    def memory_kv(self, memory: Tensor) -> MemoryKV:
        """memory (b, s, d) -> keys, values (b, h, s, dh) each."""
        b, s, d = memory.shape
        k, v = self.kv(memory).view(b, s, 2, self.n_heads, d // self.n_heads).unbind(2)
        return k.transpose(1, 2), v.transpose(1, 2)

    def forward(self, x: Tensor, kv: MemoryKV, key_mask: Tensor) -> Tensor:
        """x (b, t, d), memory K/V, key_mask (b, s) True = real -> (b, t, d)."""
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)  # (b, h, t, dh)
        y = F.scaled_dot_product_attention(
            q,
            *kv,
            attn_mask=key_mask[:, None, None, :],  # (b, 1, 1, s)
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, dims: Dims) -> None:
        super().__init__()
        self.fc = nn.Linear(dims.d_model, dims.d_ff, bias=dims.bias)
        self.proj = nn.Linear(dims.d_ff, dims.d_model, bias=dims.bias)
        self.drop = nn.Dropout(dims.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))  # (..., d)


class EncoderLayer(nn.Module):
    """Pre-norm: self-attention over the unmasked positions, then the MLP."""

    def __init__(self, dims: Dims) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dims.d_model), nn.LayerNorm(dims.d_model)
        self.attn = SelfAttention(dims, causal=False)
        self.mlp = MLP(dims)
        self.drop = nn.Dropout(dims.dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (b, s, d), mask (b, s) True = real -> (b, s, d)."""
        x = x + self.drop(self.attn(self.ln1(x), key_mask=mask))
        return x + self.mlp(self.ln2(x))


class DecoderLayer(nn.Module):
    """Pre-norm: causal self-attention (cacheable), cross-attention to the memory, then the MLP."""

    def __init__(self, dims: Dims) -> None:
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(dims.d_model) for _ in range(3))
        self.self_attn = SelfAttention(dims, causal=True)
        self.cross_attn = CrossAttention(dims)
        self.mlp = MLP(dims)
        self.drop = nn.Dropout(dims.dropout)

    def forward(
        self,
        x: Tensor,
        memory_kv: MemoryKV,
        memory_mask: Tensor,
        cache: KVCache | None = None,
    ) -> Tensor:
        """x (b, t, d) (t = 1 with a cache), memory_mask (b, s) -> (b, t, d)."""
        x = x + self.drop(self.self_attn(self.ln1(x), cache=cache))
        x = x + self.drop(self.cross_attn(self.ln2(x), memory_kv, memory_mask))
        return x + self.mlp(self.ln3(x))


# ----------------------------------------------------------------------------------------------
# Stacks (lists of layers, so their state-dict keys are those of a plain ModuleList)


class Encoder(nn.ModuleList):
    """`n_layers` encoder layers; the final LayerNorm belongs to the model."""

    def __init__(self, n_layers: int, dims: Dims) -> None:
        super().__init__(EncoderLayer(dims) for _ in range(n_layers))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Embedded source (b, s, d), mask (b, s) True = real -> (b, s, d)."""
        for layer in self:
            x = layer(x, mask)
        return x


class Decoder(nn.ModuleList):
    """`n_layers` decoder layers; the final LayerNorm belongs to the model."""

    def __init__(self, n_layers: int, dims: Dims) -> None:
        super().__init__(DecoderLayer(dims) for _ in range(n_layers))
        self.dims = dims

    def memory_kv(self, memory: Tensor) -> list[MemoryKV]:
        """Cross-attention keys/values of every layer, computed once per sequence."""
        return [layer.cross_attn.memory_kv(memory) for layer in self]

    def new_caches(self, b: int, max_len: int, like: Tensor) -> list[KVCache]:
        """Empty self-attention caches for `b` sequences of up to `max_len` positions."""
        h, dh = self.dims.n_heads, self.dims.head_dim
        return [KVCache(b, h, max_len, dh, like) for _ in self]

    def forward(
        self,
        x: Tensor,
        memory_kv: list[MemoryKV],
        memory_mask: Tensor,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        """Embedded target (b, t, d), memory K/V per layer, memory_mask (b, s) -> (b, t, d)."""
        for i, layer in enumerate(self):
            x = layer(x, memory_kv[i], memory_mask, None if caches is None else caches[i])
        return x


class FusedDecoderStep:
    """The cached decoder stack for inference: one position per call, few ops, no autograd.

    The arithmetic of running `Decoder` with `KVCache`s (equal within float rounding), organised
    for batch-1 speed, where a step is bound by streaming the weights once and by per-op overhead:

    - cross-attention folded into the memory once per sequence (exact in real arithmetic): head
      h's scores are ``scale * K_h (Wq_h y + bq_h)`` = ``Mq_h y + m_h`` and its output through
      the projection is ``Wo_h V_h^T a_h`` = ``P_h a_h``, so a step multiplies by Mq (h*s, d)
      and P (d, h*s) instead of Wq and Wo (d, d) each; used while b * h * s < d (small batches
      of short sources: the folded matrices are per sequence, Wq and Wo are shared), else the
      plain query projection and attention;
    - self-attention keys/values written into caches preallocated to `max_len` positions;
    - weights read in place through transposed views, biases and residuals fused into `addmm`.

    Only for `torch.no_grad()` inference in eval mode (no dropout): it captures the weights
    when built, so build it per decoding call. `step(x)` takes the embedded input (b, d) of
    position `self.pos` and returns the stack's output (b, d) before the model's final norm.
    """

    def __init__(
        self, layers: Decoder, memory_kv: list[MemoryKV], memory_mask: Tensor, max_len: int
    ) -> None:
        d, h, dh = layers.dims.d_model, layers.dims.n_heads, layers.dims.head_dim
        k0 = memory_kv[0][0]  # (b, h, s, dh)
        b, s = k0.shape[0], k0.shape[2]
        self.b, self.d, self.h, self.dh, self.pos, self.max_len = b, d, h, dh, 0, max_len
        self.fold = b * h * s < d  # folded matrices are per sequence: fewer bytes only then
        neg = torch.zeros(b, s, dtype=k0.dtype, device=k0.device).masked_fill(
            ~memory_mask.bool(), -math.inf
        )  # (b, s): 0 = real key, -inf = padding
        self.scale = scale = dh**-0.5
        self.layers = []
        for layer, (mk, mv) in zip(layers, memory_kv, strict=True):
            sa, ca = layer.self_attn, layer.cross_attn
            p = {
                "ln": [(ln.weight, ln.bias, ln.eps) for ln in (layer.ln1, layer.ln2, layer.ln3)],
                "qkv": (sa.qkv.weight.t(), sa.qkv.bias),
                "sproj": (sa.proj.weight.t(), sa.proj.bias),
                "fc": (layer.mlp.fc.weight.t(), layer.mlp.fc.bias),
                "mproj": (layer.mlp.proj.weight.t(), layer.mlp.proj.bias),
                "k": mk.new_zeros(b, h, max_len, dh),  # the self-attention cache (b, h, T, dh)
                "v": mk.new_zeros(b, h, max_len, dh),
                "zero": mk.new_zeros(b * h, 1, max_len),  # baddbmm's (unused) addend
            }
            if self.fold:
                wq = ca.q.weight.view(h, dh, d)
                mq = torch.einsum("bhsk,hkd->bhsd", mk, wq) * scale  # (b, h, s, d)
                p["mq"] = mq.reshape(b, h * s, d)
                mb = neg[:, None, :].expand(b, h, s)
                if ca.q.bias is not None:
                    mb = mb + torch.einsum("bhsk,hk->bhs", mk, ca.q.bias.view(h, dh)) * scale
                p["mb"] = mb.reshape(b, h * s, 1).contiguous()
                wo = ca.proj.weight.view(d, h, dh)
                p["pv"] = torch.einsum("dhk,bhsk->bdhs", wo, mv).reshape(b, d, h * s)
                p["pb"] = ca.proj.bias  # (d,) or None
            else:
                p["q"], p["cproj"] = (
                    (ca.q.weight.t(), ca.q.bias),
                    (ca.proj.weight.t(), ca.proj.bias),
                )
                p["mkv"], p["mask"] = (mk, mv), memory_mask.bool()[:, None, None, :]
            self.layers.append(p)
        self.h_s = h * s

    def __call__(self, x: Tensor) -> Tensor:
        """x (b, d): the embedded input at position `self.pos` -> (b, d); advances the cache."""
        n = self.pos
        if n >= self.max_len:
            raise UsageError(f"the fused decoder step holds {self.max_len} positions")
        b, d, h, dh = self.b, self.d, self.h, self.dh
        for p in self.layers:
            (w1, b1, e1), (w2, b2, e2), (w3, b3, e3) = p["ln"]
            # causal self-attention over the cached positions 0..n
            qkv = _addmm(F.layer_norm(x, (d,), w1, b1, e1), *p["qkv"]).view(b, 3, h, dh)
            p["k"][:, :, n] = qkv[:, 1]
            p["v"][:, :, n] = qkv[:, 2]
            q = qkv[:, 0].reshape(b * h, 1, dh)
            keys = p["k"].view(b * h, -1, dh)[:, : n + 1]  # (b*h, n+1, dh)
            a = torch.baddbmm(p["zero"][:, :, : n + 1], q, keys.transpose(1, 2), alpha=self.scale)
            y = torch.bmm(a.softmax(-1), p["v"].view(b * h, -1, dh)[:, : n + 1])  # (b*h, 1, dh)
            x = _addmm(y.view(b, d), *p["sproj"]).add_(x)
            # cross-attention to the memory
            y = F.layer_norm(x, (d,), w2, b2, e2)
            if self.fold:
                a = torch.baddbmm(p["mb"], p["mq"], y[:, :, None])  # (b, h*s, 1) scores
                a = a.view(b, h, -1).softmax(-1).view(b, self.h_s, 1)
                base = x if p["pb"] is None else x + p["pb"]
                x = torch.baddbmm(base[:, :, None], p["pv"], a).view(b, d)
            else:
                q = _addmm(y, *p["q"]).view(b, h, 1, dh)
                y = F.scaled_dot_product_attention(q, *p["mkv"], attn_mask=p["mask"])
                x = _addmm(y.reshape(b, d), *p["cproj"]).add_(x)
            # MLP
            y = F.gelu(_addmm(F.layer_norm(x, (d,), w3, b3, e3), *p["fc"]))
            x = _addmm(y, *p["mproj"]).add_(x)
        self.pos = n + 1
        return x


def _addmm(x: Tensor, weight_t: Tensor, bias: Tensor | None) -> Tensor:
    """x (b, i) @ weight_t (i, o) + bias (o,): a linear layer on a transposed weight view."""
    return x @ weight_t if bias is None else torch.addmm(bias, x, weight_t)


def warmup_cosine(warmup: int, steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier of the text-side training loops (BT, prompt -> LangGloss) at
    optimizer step `step` (0-based): linear warmup over `warmup` steps, then cosine decay to 10%
    at `steps` (a `LambdaLR` factor)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    return factor


# ----------------------------------------------------------------------------------------------
# Token decoding loops (the text decoders: back-translation and prompt -> LangGloss)


def token_step(
    decode: Callable[..., Tensor],
    memory_kv: list[MemoryKV],
    memory_mask: Tensor,
    caches: list[KVCache] | None,
) -> StepFn:
    """A `StepFn` over a model's `decode(ids, memory_kv, memory_mask, start=, caches=)` -> logits
    (n, t, V): with caches it feeds only the newest id, else it recomputes the whole history."""

    def step(history: Tensor, i: int) -> Tensor:
        if caches is not None:
            logits = decode(history[:, -1:], memory_kv, memory_mask, start=i, caches=caches)
        else:
            logits = decode(history, memory_kv, memory_mask)
        return logits[:, -1]  # (n, V)

    return step


def greedy_decode(
    step: StepFn,
    batch: int,
    max_len: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    device: torch.device,
    forced_first: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Argmax decoding until <eos> (not returned) or `max_len` tokens per sequence.

    `forced_first` (b,) long: the first output id of each sequence, -1 = free. Returns ids
    (b, T) right-padded with `pad_id` (T = the longest) and lengths (b,) long.
    """
    if max_len < 1:
        raise UsageError(f"max_len must be >= 1, got {max_len}")
    out = torch.full((batch, max_len), pad_id, dtype=torch.long, device=device)
    lengths = torch.full((batch,), max_len, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    history = torch.full((batch, 1), bos_id, dtype=torch.long, device=device)  # (b, i + 1)
    for i in range(max_len):
        nxt = step(history, i).argmax(-1)  # (b,)
        if i == 0 and forced_first is not None:
            nxt = torch.where(forced_first >= 0, forced_first.to(device), nxt)
        ends = ~done & (nxt == eos_id)
        lengths = torch.where(ends, i, lengths)
        done = done | ends
        out[:, i] = torch.where(done, pad_id, nxt)
        if bool(done.all()):
            break
        # rows are independent, so what a finished row feeds back changes no other row
        history = torch.cat([history, nxt[:, None]], 1)
    return out[:, : int(lengths.max())], lengths


def beam_search(
    step: StepFn,
    batch: int,
    beam: int,
    max_len: int,
    bos_id: int,
    eos_id: int,
    device: torch.device,
    length_penalty: float = 1.0,
    caches: list[KVCache] | None = None,
) -> list[list[int]]:
    """Beam search; hypotheses are ranked by log p / ((5 + L) / 6) ** length_penalty.

    That is GNMT's length normalisation (Wu et al. 2016), L = tokens including <eos>;
    length_penalty=0 ranks by raw log-probability. `step` gets the histories of all b * k beams
    (row i * k + j = beam j of sequence i) and returns log-probabilities (b * k, V); `caches`
    (those `step` uses) are reordered with the surviving beams. A sequence is done once `beam`
    hypotheses have ended; an <eos> counts only if it ranks within the top `beam` candidates of
    its step, so beam=1 reproduces greedy decoding exactly. Returns the best ids per sequence,
    without <bos> and <eos>.
    """
    if beam < 1:
        raise UsageError(f"beam must be >= 1, got {beam}")
    if max_len < 1:
        raise UsageError(f"max_len must be >= 1, got {max_len}")
    b, k = batch, beam
    history = torch.full((b * k, 1), bos_id, dtype=torch.long, device=device)
    scores = torch.full((b, k), -math.inf, device=device)
    scores[:, 0] = 0.0  # one live hypothesis at the start, not k copies of it
    done: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]

    def lp(length: int) -> float:
        return ((5.0 + length) / 6.0) ** length_penalty

    for i in range(max_len):
        logp = step(history, i)  # (b*k, V)
        vocab = logp.shape[-1]
        cand = (scores.reshape(-1, 1) + logp).view(b, k * vocab)
        top_s, top_i = cand.topk(min(2 * k, k * vocab), dim=1)  # (b, 2k)
        src, tok = top_i // vocab, top_i % vocab
        is_eos = tok == eos_id
        # an <eos> ranked among the top k ends a hypothesis (history excludes bos)
        for bi, ci in (is_eos[:, :k] & torch.isfinite(top_s[:, :k])).nonzero().tolist():
            if len(done[bi]) < k:
                seq = history[bi * k + src[bi, ci], 1:].tolist()
                done[bi].append((float(top_s[bi, ci]) / lp(i + 1), seq))
        # the k best non-<eos> candidates live on (each beam offers at most one <eos>)
        alive_s = top_s.masked_fill(is_eos, -math.inf)
        alive_s, order = alive_s.topk(k, dim=1)  # (b, k)
        src, tok = src.gather(1, order), tok.gather(1, order)
        flat = (torch.arange(b, device=device)[:, None] * k + src).reshape(-1)  # (b*k,)
        history = torch.cat([history[flat], tok.reshape(-1, 1)], 1)
        for c in caches or ():
            c.reorder(flat)
        scores = alive_s
        if all(len(d) >= k for d in done):
            break
    out = []
    for bi in range(b):
        hyps = done[bi]
        if not hyps:  # nothing ended within max_len: rank the live ones
            n = history.shape[1] - 1
            hyps = [
                (float(scores[bi, j]) / lp(n), history[bi * k + j, 1:].tolist()) for j in range(k)
            ]
        out.append(max(hyps, key=lambda h: h[0])[1])
    return out
