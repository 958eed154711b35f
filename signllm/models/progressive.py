"""Progressive Transformer: text or gloss tokens in, continuous pose frames out.

The core network of SignLLM (Saunders et al., "Progressive Transformers for End-to-End Sign
Language Production", ECCV 2020): a transformer encoder over tokens and an autoregressive
transformer decoder over pose frames. A frame is `pose_dim` values (50 joints x xyz = 150) plus a
*counter* in [0, 1]: frame i of a T-frame clip has counter i/T (i = 1..T). The decoder predicts the
next frame and its counter; a length head predicts the clip's length from the text.

Honest decoding. The public PT code feeds the ground-truth counter and length at inference; here
`generate` starts from a learned start frame (counter 0), feeds back its own predictions, and
stops each sequence at the first of: the length *its length head* plans from the text
(`decode_counter="length"`, the default; the decoder's input counter is then step / that length),
*its predicted* counter >= threshold, or `max_frames`. The default threshold is
`1 - 1/(2 * max_frames)`: the last frame of a clip has counter 1 and the one before it
(T-1)/T <= 1 - 1/max_frames for every clip that fits, so the midpoint separates them.

Counter loss: binary cross-entropy on the counter logit with soft targets i/T, minus the targets'
own entropy so that it reads 0 at a perfect fit (default), or MSE on the sigmoid
(`counter_loss="mse"`). BCE is the default because its gradient (sigmoid - target) does not
vanish as the sigmoid saturates, so the model can actually reach counter 1 at the end; with MSE
on a sigmoid it creeps towards 1 ever more slowly and may never cross the threshold.

The encoder and decoder stacks are those of `core.py` (attention with
`F.scaled_dot_product_attention`, not `nn.Transformer`, so that the decoder keeps a KV cache
preallocated to `max_frames`; the encoder memory's cross-attention keys/values are computed once
per `generate` call). What is this model's own: the frame input and learned start frame, the pose
output head (`make_pose_head`, where another head plugs in), the counter and length heads, future
prediction, input noise, the losses and the honest decoding loop.

Sizes (`PRESETS`, parameters with a 10k-token vocabulary, pose_dim 150, future_k 1):

    preset    enc+dec layers  d_model  heads  d_ff    parameters
    tiny      2+2             64       2      128     ~0.83M (0.64M of them the 10k embedding)
    small     2+2             128      2      256     ~1.98M (1.28M of them the embedding)
    pt-base   2+2             512      4      2048    ~20.0M (Progressive Transformers' base)
    40m       5+5             512      8      2048    ~42.1M
    120m      7+7             768      12     3072    ~123.7M
    1b        15+15           1536     12     6144    ~1.007B

Use (model code does no I/O; the trainer and the CLI wrap it):

    cfg = preset_config("tiny", vocab_size=32)
    model = ProgressiveTransformer(cfg)
    out = model(tokens, token_mask, frames)          # teacher forcing, frames (b, t, pose_dim + 1)
    losses = model.loss(tokens, token_mask, frames, frame_mask, joint_mask)
    gen = model.generate(tokens, token_mask, max_frames=300)   # gen["pose"], gen["lengths"]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UsageError
from ..skeleton import PROMPT2SIGN50
from .core import (
    ConfigDict,
    Decoder,
    Dims,
    Encoder,
    FusedDecoderStep,
    KVCache,
    MemoryKV,
    base_init,
    check_shape,
    count_parameters,
    eval_mode,
    scale_residual_init,
    sinusoidal_range,
)
from .kinematic import KinematicHead


@dataclass
class ProgressiveConfig(ConfigDict):
    vocab_size: int = 10000
    pad_id: int = 0
    pose_dim: int = 150  # joints * 3 (Prompt2Sign's 50 joints); the counter comes on top
    d_model: int = 512
    n_heads: int = 4
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    d_ff: int = 2048
    dropout: float = 0.0
    bias: bool = True
    pos_encoding: str = "sinusoidal"  # "sinusoidal" (no length limit) or "learned"
    max_positions: int = 1024  # only limits "learned" positions (tokens and frames each)
    future_k: int = 1  # future prediction: predict frames i..i+k-1 at step i (1 = off)
    noise_std: float = 0.0  # Gaussian noise on decoder input poses while training (0 = off)
    counter_loss: str = "bce"  # "bce" on the logit (default, see module doc) or "mse"
    counter_weight: float = 1.0  # total loss = pose MSE + counter_weight * counter loss
    length_weight: float = 0.1  # + length_weight * (log predicted length - log true length)^2
    # Decoder input counter at inference: "length" = step / the length the model predicts from
    # the text (its own plan; stops there or when the predicted counter reaches 1), "predicted" =
    # Progressive Transformers' feedback of the predicted counter (drifts on small data).
    decode_counter: str = "length"
    # Pose output: "linear" (free coordinates, Progressive Transformers) or "kinematic" (bone
    # directions + forward kinematics on a body fitted to the training data: fixed bone lengths,
    # a rigid shoulder line; signllm/models/kinematic.py). The trainer fits the body.
    output_head: str = "linear"
    # What the decoder reads of the frame before: "previous" = its pose and counter (Progressive
    # Transformers: autoregressive), "counter" = the counter only (the pose is zeroed), so each
    # frame comes from the text and the progress through the clip. Teacher forcing lets a decoder
    # that reads the true previous pose learn "copy it, nudge it"; free-running, it then freezes
    # on its own output (exposure bias). Reading the counter alone removes that failure.
    pose_input: str = "previous"
    # + hand_weight * hand-shape loss: each hand's joints relative to its wrist, in hand sizes
    # (kinematic head only, which knows the data's units). Finger shapes are a few hundredths of
    # a shoulder width, so a plain coordinate MSE all but ignores them; fingerspelling is in them.
    hand_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.pose_dim <= 0 or self.pose_dim % 3:
            raise UsageError(f"pose_dim must be a positive multiple of 3, got {self.pose_dim}")
        check_shape(self.d_model, self.n_heads, self.dropout)
        if self.future_k < 1:
            raise UsageError(f"future_k must be >= 1, got {self.future_k}")
        if self.pos_encoding not in ("sinusoidal", "learned"):
            raise UsageError(
                f"pos_encoding must be sinusoidal or learned, got {self.pos_encoding!r}"
            )
        if self.decode_counter not in ("length", "predicted"):
            raise UsageError(
                f"decode_counter must be length or predicted, got {self.decode_counter!r}"
            )
        if self.output_head not in ("linear", "kinematic"):
            raise UsageError(f"output_head must be linear or kinematic, got {self.output_head!r}")
        if self.pose_input not in ("previous", "counter"):
            raise UsageError(f"pose_input must be previous or counter, got {self.pose_input!r}")
        if self.hand_weight < 0:
            raise UsageError(f"hand_weight must be >= 0, got {self.hand_weight}")
        if self.counter_loss not in ("bce", "mse"):
            raise UsageError(f"counter_loss must be bce or mse, got {self.counter_loss!r}")
        if self.noise_std < 0:
            raise UsageError(f"noise_std must be >= 0, got {self.noise_std}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise UsageError(f"pad_id {self.pad_id} outside vocab of {self.vocab_size}")

    @property
    def n_joints(self) -> int:
        return self.pose_dim // 3


# Size presets: only the shape fields; vocab, pose_dim and options come from the caller.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(d_model=64, n_heads=2, n_enc_layers=2, n_dec_layers=2, d_ff=128),
    "small": dict(d_model=128, n_heads=2, n_enc_layers=2, n_dec_layers=2, d_ff=256),
    "pt-base": dict(d_model=512, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=2048),
    "40m": dict(d_model=512, n_heads=8, n_enc_layers=5, n_dec_layers=5, d_ff=2048),
    "120m": dict(d_model=768, n_heads=12, n_enc_layers=7, n_dec_layers=7, d_ff=3072),
    "1b": dict(d_model=1536, n_heads=12, n_enc_layers=15, n_dec_layers=15, d_ff=6144),
}


def preset_config(name: str, **overrides: Any) -> ProgressiveConfig:
    """A config from a size preset, with any field overridden (e.g. `vocab_size=...`)."""
    if name not in PRESETS:
        raise UsageError(f"unknown model preset {name!r}; choose from {', '.join(PRESETS)}")
    return ProgressiveConfig(**{**PRESETS[name], **overrides})


def add_counter(pose: Tensor, frame_mask: Tensor) -> Tensor:
    """Append the counter i/T to right-padded poses: (b, t, pose_dim) -> (b, t, pose_dim + 1).

    For data that carries no counter column; padded frames get counter 0.
    """
    t = pose.shape[1]
    lengths = frame_mask.sum(1, keepdim=True).clamp(min=1).to(pose.dtype)  # (b, 1)
    steps = torch.arange(1, t + 1, device=pose.device, dtype=pose.dtype)[None]  # (1, t)
    counter = torch.where(frame_mask, steps / lengths, torch.zeros_like(steps))  # (b, t)
    return torch.cat([pose, counter[..., None]], -1)


# ----------------------------------------------------------------------------------------------
# The model


def make_pose_head(cfg: ProgressiveConfig) -> nn.Module:
    """The pose output head: decoder states (b, t, d_model) -> (b, t, future_k * pose_dim).

    The one place a different head plugs in (e.g. a kinematic head: bone directions + forward
    kinematics), chosen from `cfg`; it keeps this input/output shape and is stored as `pose_head`
    (state-dict keys ``pose_head.*``), read only through `ProgressiveTransformer.pose_output`.
    `reset_parameters` gives its linears `base_init`; a head that needs another init sets it
    there, after `base_init` (the default head must keep drawing exactly what it draws now).
    """
    if cfg.output_head == "kinematic":
        if cfg.n_joints != PROMPT2SIGN50.num_joints:
            raise UsageError(
                f"output_head kinematic needs the {PROMPT2SIGN50.num_joints}-joint skeleton, "
                f"got pose_dim {cfg.pose_dim}"
            )
        return KinematicHead(cfg.d_model, cfg.future_k)
    return nn.Linear(cfg.d_model, cfg.future_k * cfg.pose_dim)


class ProgressiveTransformer(nn.Module):
    """Encoder over tokens, autoregressive decoder over (pose + counter) frames."""

    def __init__(self, config: ProgressiveConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d, fd = cfg.d_model, cfg.pose_dim + 1
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.frame_in = nn.Linear(fd, d)  # (pose + counter) -> d_model
        self.start = nn.Parameter(torch.zeros(cfg.pose_dim))  # learned start pose, counter 0
        if cfg.pos_encoding == "learned":
            self.enc_pos = nn.Embedding(cfg.max_positions, d)
            self.dec_pos = nn.Embedding(cfg.max_positions, d)
        dims = Dims(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.bias)
        self.enc_layers = Encoder(cfg.n_enc_layers, dims)
        self.dec_layers = Decoder(cfg.n_dec_layers, dims)
        self.enc_ln, self.dec_ln = nn.LayerNorm(d), nn.LayerNorm(d)
        self.pose_head = make_pose_head(cfg)
        self.counter_head = nn.Linear(d, 1)  # a logit; the counter is its sigmoid
        self.drop = nn.Dropout(cfg.dropout)
        with torch.random.fork_rng(devices=[]):  # its init draws no shared RNG (zeros below)
            self.length_head = nn.Linear(d, 1)  # log number of frames, from the pooled encoder
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nanoGPT-style init: N(0, 0.02), residual projections scaled down by depth."""
        cfg = self.config
        # unit-scale tokens sit next to unit-scale sinusoids; learned positions start small
        base_init(self, skip=("length_head",), small_embeddings=("enc_pos", "dec_pos"))
        # the frame input keeps unit scale so poses are not drowned by the position code
        nn.init.normal_(self.frame_in.weight, std=(cfg.pose_dim + 1) ** -0.5)
        scale_residual_init(self.enc_layers, self.dec_layers)
        nn.init.zeros_(self.start)
        # no RNG draw (keeps every other initial weight as before): starts at ~100 frames
        nn.init.zeros_(self.length_head.weight)
        nn.init.constant_(self.length_head.bias, math.log(100.0))
        if isinstance(self.pose_head, KinematicHead):
            self.pose_head.reset_parameters()  # zero: starts at the rest (mean) pose

    def predict_log_length(self, memory: Tensor, mask: Tensor) -> Tensor:
        """Masked mean of the encoder memory -> log number of frames (b,)."""
        m = mask[..., None].to(memory.dtype)  # (b, s, 1)
        pooled = (memory * m).sum(1) / m.sum(1).clamp(min=1)  # (b, d)
        return self.length_head(pooled).squeeze(-1)

    def count_parameters(self, trainable_only: bool = False) -> int:
        return count_parameters(self, trainable_only)

    # -- pieces ------------------------------------------------------------------------------

    def _pos(self, which: str, start: int, t: int, device: torch.device) -> Tensor:
        if self.config.pos_encoding == "learned":
            positions = torch.arange(start, start + t, device=device)
            if start + t > self.config.max_positions:
                raise UsageError(
                    f"{which} length {start + t} exceeds max_positions {self.config.max_positions}"
                )
            return (self.enc_pos if which == "token" else self.dec_pos)(positions)
        return sinusoidal_range(start, t, self.config.d_model, device)

    def _token_mask(self, tokens: Tensor, token_mask: Tensor | None) -> Tensor:
        if tokens.dim() != 2:
            raise UsageError(f"tokens must be (batch, seq), got {tuple(tokens.shape)}")
        mask = tokens != self.config.pad_id if token_mask is None else token_mask.bool()
        if mask.shape != tokens.shape:
            raise UsageError(f"token_mask {tuple(mask.shape)} != tokens {tuple(tokens.shape)}")
        if not bool(mask.any(1).all()):
            raise UsageError("every sequence needs at least one unmasked token")
        return mask

    def encode(self, tokens: Tensor, token_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Tokens (b, s) -> memory (b, s, d) and its mask (b, s), True = real token."""
        mask = self._token_mask(tokens, token_mask)
        x = self.tok_emb(tokens) + self._pos("token", 0, tokens.shape[1], tokens.device)
        x = self.drop(x)  # (b, s, d)
        return self.enc_ln(self.enc_layers(x, mask)), mask

    def memory_kv(self, memory: Tensor) -> list[MemoryKV]:
        """Cross-attention keys/values of every decoder layer, computed once per sequence."""
        return self.dec_layers.memory_kv(memory)

    def decode(
        self,
        frames_in: Tensor,
        memory_kv: list[MemoryKV],
        memory_mask: Tensor,
        start: int = 0,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        """Decoder inputs (b, t, pose_dim + 1) -> hidden states (b, t, d).

        `start` is the position of the first input frame (nonzero only with caches).
        """
        t = frames_in.shape[1]
        if self.config.pose_input == "counter":  # the decoder reads progress, not poses
            frames_in = torch.cat([torch.zeros_like(frames_in[..., :-1]), frames_in[..., -1:]], -1)
        x = self.frame_in(frames_in) + self._pos("frame", start, t, frames_in.device)
        x = self.drop(x)  # (b, t, d)
        return self.dec_ln(self.dec_layers(x, memory_kv, memory_mask, caches))

    def pose_output(self, h: Tensor) -> Tensor:
        """Decoder states (b, t, d) -> pose (b, t, pose_dim), or (b, t, k, pose_dim) with future
        prediction: the pose output head (`make_pose_head`) and nothing else."""
        cfg = self.config
        pose = self.pose_head(h)  # (b, t, k * pose_dim)
        if cfg.future_k > 1:
            pose = pose.unflatten(-1, (cfg.future_k, cfg.pose_dim))  # (b, t, k, pose_dim)
        return pose

    def _heads(self, h: Tensor) -> dict[str, Tensor]:
        """Decoder states (b, t, d) -> pose, counter (b, t) and its logits (b, t)."""
        pose = self.pose_output(h)
        logits = self.counter_head(h).squeeze(-1)  # (b, t)
        return {"pose": pose, "counter": torch.sigmoid(logits), "counter_logits": logits}

    def _start_frame(self, b: int) -> Tensor:
        zero = self.start.new_zeros(1)
        return torch.cat([self.start, zero]).expand(b, 1, -1)  # (b, 1, pose_dim + 1)

    # -- teacher forcing ---------------------------------------------------------------------

    def forward(
        self, tokens: Tensor, token_mask: Tensor | None, frames: Tensor
    ) -> dict[str, Tensor]:
        """Teacher forcing: output step i predicts frame i of `frames`.

        `frames` (b, t, pose_dim + 1) are the right-padded ground-truth frames, counter last; the
        decoder sees them shifted right behind the start frame. Returns pose (b, t, pose_dim) or
        (b, t, k, pose_dim) with future prediction (offset j predicts frame i + j), counter (b, t)
        in [0, 1] and counter_logits (b, t). Inputs must be finite (`loss` zeroes masked values).
        """
        cfg = self.config
        if frames.dim() != 3 or frames.shape[-1] != cfg.pose_dim + 1:
            raise UsageError(
                f"frames must be (batch, time, {cfg.pose_dim + 1}) with the counter last, "
                f"got {tuple(frames.shape)}"
            )
        memory, mask = self.encode(tokens, token_mask)
        frames = frames.to(memory.dtype)
        if self.training and cfg.noise_std > 0:
            # noise on poses only: the model learns to recover from its own drift at inference
            noise = torch.randn_like(frames[..., :-1]) * cfg.noise_std
            frames = torch.cat([frames[..., :-1] + noise, frames[..., -1:]], -1)
        dec_in = torch.cat([self._start_frame(frames.shape[0]), frames[:, :-1]], 1)  # (b, t, f)
        h = self.decode(dec_in, self.memory_kv(memory), mask)
        return {**self._heads(h), "log_length": self.predict_log_length(memory, mask)}

    def loss(
        self,
        tokens: Tensor,
        token_mask: Tensor | None,
        frames: Tensor,
        frame_mask: Tensor | None = None,
        joint_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Teacher-forced forward + `compute_loss`; masked values in `frames` may be NaN."""
        cfg = self.config
        b, t, _ = frames.shape
        fmask = _frame_mask(frame_mask, b, t, frames.device)
        w = _value_weights(fmask, joint_mask, cfg.pose_dim, frames)  # (b, t, pose_dim)
        pose = torch.where(w > 0, frames[..., :-1], 0.0)
        counter = torch.where(fmask, frames[..., -1], 0.0)
        clean = torch.cat([pose, counter[..., None]], -1)
        out = self(tokens, token_mask, clean)
        return self.compute_loss(out, clean, fmask, joint_mask)

    def compute_loss(
        self,
        out: dict[str, Tensor],
        frames: Tensor,
        frame_mask: Tensor | None = None,
        joint_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Masked pose MSE (on all k future frames) + counter loss.

        frame_mask (b, t) True for real frames; joint_mask (b, t, J) bool, or float weights such
        as confidences (0 = missing). Pose MSE averages over every valid value of the batch;
        `per_sample` (b,) is each sample's own pose MSE, the paper's RL reward is its negative.
        `pose_count`/`counter_count` let callers merge losses of several sub-batches exactly.
        """
        cfg = self.config
        b, t, _ = frames.shape
        fmask = _frame_mask(frame_mask, b, t, frames.device)
        w = _value_weights(fmask, joint_mask, cfg.pose_dim, frames)  # (b, t, pose_dim)
        target = torch.where(w > 0, frames[..., :-1], 0.0)
        pred = out["pose"]
        if cfg.future_k > 1:
            k = cfg.future_k
            # offset j at step i targets frame i + j; frames past the end get weight 0
            target = F.pad(target, (0, 0, 0, k - 1)).unfold(1, k, 1).transpose(-1, -2)
            w = F.pad(w, (0, 0, 0, k - 1)).unfold(1, k, 1).transpose(-1, -2)  # (b, t, k, p)
        sq = torch.where(w > 0, (pred - target) ** 2, 0.0) * w
        dims = tuple(range(1, sq.dim()))
        pose_sum, pose_count = sq.sum(dims), w.sum(dims)  # (b,)
        per_sample = pose_sum / pose_count.clamp(min=1e-8)
        pose_loss = pose_sum.sum() / pose_count.sum().clamp(min=1e-8)

        c_target = torch.where(fmask, frames[..., -1], 0.0).to(pred.dtype)
        if cfg.counter_loss == "bce":
            # BCE minus the target's own entropy (= KL): same gradient, 0 at a perfect fit
            c_err = F.binary_cross_entropy_with_logits(
                out["counter_logits"], c_target, reduction="none"
            )
            c_err = (
                c_err + torch.xlogy(c_target, c_target) + torch.xlogy(1 - c_target, 1 - c_target)
            )
        else:
            c_err = (out["counter"] - c_target) ** 2
        c_err = torch.where(fmask, c_err, 0.0)  # (b, t)
        counter_count = fmask.sum(1).to(pred.dtype)
        per_sample_counter = c_err.sum(1) / counter_count.clamp(min=1)
        counter_loss = c_err.sum() / counter_count.sum().clamp(min=1)
        # the full length T from the counter: frame n (1-based) carries n / T
        n = counter_count.clamp(min=1)
        last = c_target.gather(1, (n.long() - 1).clamp(min=0)[:, None]).squeeze(1)
        true_log_len = torch.log(n / last.clamp(min=1e-3))
        if "log_length" in out:
            per_sample_length = (out["log_length"].to(pred.dtype) - true_log_len) ** 2
        else:
            per_sample_length = torch.zeros_like(per_sample_counter)
        length_loss = per_sample_length.mean()
        per_sample_hand = torch.zeros_like(per_sample)
        if cfg.hand_weight > 0 and isinstance(self.pose_head, KinematicHead):
            per_sample_hand = self.pose_head.hand_shape_loss(pred, target, w)
        hand_loss = per_sample_hand.mean()
        return {
            "loss": pose_loss
            + cfg.counter_weight * counter_loss
            + cfg.length_weight * length_loss
            + cfg.hand_weight * hand_loss,
            "hand_loss": hand_loss,
            "per_sample_hand": per_sample_hand,
            "length_loss": length_loss,
            "per_sample_length": per_sample_length,
            "pose_loss": pose_loss,
            "counter_loss": counter_loss,
            "per_sample": per_sample,
            "per_sample_counter": per_sample_counter,
            "pose_count": pose_count,
            "counter_count": counter_count,
        }

    # -- honest decoding ---------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        tokens: Tensor,
        token_mask: Tensor | None = None,
        max_frames: int = 300,
        threshold: float | None = None,
        use_cache: bool = True,
        fused: bool = True,
        stop: bool = True,
    ) -> dict[str, Tensor]:
        """Decode from the start frame on the model's own predictions only.

        Each sequence stops at the first of: the length the model's length head plans from the
        text (with `decode_counter="length"`, the default, which also feeds the decoder step /
        that length as its input counter, the counter it was trained on, not its own drifting
        prediction), a predicted counter >= `threshold` (that frame is kept), or `max_frames`.
        `stop=False` runs every sequence to `max_frames` (benchmarks: a fixed amount of work).
        With the cache, `fused` (default) runs `FusedDecoderStep`, the fast form of the same
        arithmetic; `fused=False` runs the layers module by module (the reference it is tested
        against). Runs in eval mode (restored afterwards). Returns pose (b, T, pose_dim), counter
        (b, T), lengths (b,) long and mask (b, T), T = max length; frames after a sequence's end
        are 0.
        """
        if max_frames < 1:
            raise UsageError(f"max_frames must be >= 1, got {max_frames}")
        if threshold is None:
            threshold = 1.0 - 1.0 / (2 * max_frames)
        if not stop:
            threshold = math.inf
        with eval_mode(self):
            if use_cache and fused:
                return self._generate_fused(tokens, token_mask, max_frames, threshold, stop)
            return self._generate(tokens, token_mask, max_frames, threshold, use_cache, stop)

    def _generate(
        self,
        tokens: Tensor,
        token_mask: Tensor | None,
        max_frames: int,
        threshold: float,
        use_cache: bool,
        stop: bool = True,
    ) -> dict[str, Tensor]:
        cfg = self.config
        memory, mask = self.encode(tokens, token_mask)
        kv = self.memory_kv(memory)
        b, dev = tokens.shape[0], tokens.device
        # the model's own length plan (never the ground truth): (b,) frames in [1, max_frames]
        planned = self.predict_log_length(memory, mask).exp().clamp(1, max_frames)
        caches = self.dec_layers.new_caches(b, max_frames, memory) if use_cache else None
        poses = memory.new_zeros(b, max_frames, cfg.pose_dim)
        counters = memory.new_zeros(b, max_frames)
        lengths = torch.full((b,), max_frames, dtype=torch.long, device=dev)
        finished = torch.zeros(b, dtype=torch.bool, device=dev)
        x = self._start_frame(b)  # (b, 1, pose_dim + 1): the next decoder input
        history = x  # only without cache: every input so far
        for step in range(max_frames):
            if caches is not None:
                h = self.decode(x, kv, mask, start=step, caches=caches)  # (b, 1, d)
            else:
                h = self.decode(history, kv, mask)[:, -1:]  # recompute all, keep the last
            out = self._heads(h)
            pose = out["pose"][:, 0, 0] if cfg.future_k > 1 else out["pose"][:, 0]  # (b, p)
            counter = out["counter"][:, 0]  # (b,)
            poses[:, step] = torch.where(finished[:, None], 0.0, pose)
            counters[:, step] = torch.where(finished, 0.0, counter)
            ends = ~finished & (counter >= threshold)
            if cfg.decode_counter == "length":
                if stop:
                    ends = ends | (~finished & (step + 1 >= planned.round()))
                counter = ((step + 1) / planned).clamp(max=1.0).to(counter.dtype)
            lengths = torch.where(ends, step + 1, lengths)
            finished = finished | ends
            if bool(finished.all()):
                break
            x = torch.cat([pose, counter[:, None]], -1)[:, None]  # (b, 1, pose_dim + 1)
            if caches is None:
                history = torch.cat([history, x], 1)
        t = int(lengths.max())
        frame_mask = torch.arange(t, device=dev)[None] < lengths[:, None]  # (b, t)
        return {
            "pose": poses[:, :t],
            "counter": counters[:, :t],
            "lengths": lengths,
            "mask": frame_mask,
        }

    def _generate_fused(
        self,
        tokens: Tensor,
        token_mask: Tensor | None,
        max_frames: int,
        threshold: float,
        stop: bool,
    ) -> dict[str, Tensor]:
        """`_generate` with the cache, as few ops per step as it takes (batch-1 speed).

        Same outputs: the pose and counter heads are one product (the first future frame's
        rows only), the length plan's ends and input counters are known before the loop, and
        frames after a sequence's end are zeroed once at the end (rows are independent).
        """
        cfg = self.config
        memory, mask = self.encode(tokens, token_mask)
        b, dev, p = tokens.shape[0], tokens.device, cfg.pose_dim
        planned = self.predict_log_length(memory, mask).exp().clamp(1, max_frames)  # (b,)
        stepper = FusedDecoderStep(self.dec_layers, self.memory_kv(memory), mask, max_frames)
        n_pos = max_frames
        if cfg.pos_encoding == "learned":
            n_pos = min(max_frames, cfg.max_positions)
        pos = self._pos("frame", 0, n_pos, dev)  # (T, d)
        head = self.pose_head
        kin = isinstance(head, KinematicHead)
        normalise = head.normaliser() if kin else (lambda y: y)  # FK parameters -> pose
        rows = head.per_frame if kin else p  # the first future frame's outputs
        pw, pb = (head.proj.weight, head.proj.bias) if kin else (head.weight, head.bias)
        w_out = torch.cat([pw[:rows], self.counter_head.weight]).t()  # (d, rows + 1)
        b_out = torch.cat([pb[:rows], self.counter_head.bias])
        ln = self.dec_ln
        poses = memory.new_zeros(b, max_frames, p)
        counters = memory.new_zeros(b, max_frames)
        # the ends the length plan sets, and the input counters it implies, for every step
        end_at = torch.full((b,), max_frames, dtype=torch.long, device=dev)
        if cfg.decode_counter == "length":
            if stop:
                end_at = planned.round().long().clamp(max=max_frames)
            steps = torch.arange(1, max_frames + 1, device=dev, dtype=memory.dtype)
            plan_counter = (steps[:, None] / planned[None]).clamp(max=1.0)  # (T, b)
        reads_pose = cfg.pose_input == "previous"  # else the decoder reads the counter only
        start = self.start if reads_pose else torch.zeros_like(self.start)
        frame = torch.cat([start, start.new_zeros(1)]).expand(b, -1).contiguous()
        last = max_frames
        for step in range(max_frames):
            if step >= n_pos:
                self._pos("frame", step, 1, dev)  # raises: past the learned positions
            x = self.frame_in(frame[:, None])[:, 0].add_(pos[step])  # (b, d); hooks see (b, 1, f)
            y = F.layer_norm(stepper(x), ln.normalized_shape, ln.weight, ln.bias, ln.eps)
            out = torch.addmm(b_out, y, w_out)  # (b, rows + 1): pose (or FK parameters), logit
            pose = normalise(out[:, :rows])  # (b, p)
            counter = torch.sigmoid(out[:, rows])  # (b,)
            poses[:, step] = pose
            counters[:, step] = counter
            if stop:
                end_at = torch.where(counter >= threshold, end_at.clamp(max=step + 1), end_at)
                if step + 1 >= int(end_at.max()):
                    last = step + 1
                    break
            frame = torch.cat(
                [
                    pose if reads_pose else torch.zeros_like(pose),
                    (plan_counter[step] if cfg.decode_counter == "length" else counter)[:, None],
                ],
                -1,
            )  # (b, p + 1): the next input
        lengths = end_at.clamp(max=last)
        t = int(lengths.max())
        frame_mask = torch.arange(t, device=dev)[None] < lengths[:, None]  # (b, t)
        return {
            "pose": poses[:, :t].masked_fill(~frame_mask[..., None], 0.0),
            "counter": counters[:, :t].masked_fill(~frame_mask, 0.0),
            "lengths": lengths,
            "mask": frame_mask,
        }


def _frame_mask(frame_mask: Tensor | None, b: int, t: int, device: torch.device) -> Tensor:
    if frame_mask is None:
        return torch.ones(b, t, dtype=torch.bool, device=device)
    if frame_mask.shape != (b, t):
        raise UsageError(f"frame_mask {tuple(frame_mask.shape)} != frames {(b, t)}")
    return frame_mask.bool()


def _value_weights(fmask: Tensor, joint_mask: Tensor | None, pose_dim: int, like: Tensor) -> Tensor:
    """Per-value loss weight (b, t, pose_dim): frame mask x joint mask, repeated over xyz."""
    w = fmask[..., None].to(like.dtype)  # (b, t, 1)
    if joint_mask is not None:
        if joint_mask.shape != (*fmask.shape, pose_dim // 3):
            raise UsageError(
                f"joint_mask must be (batch, time, {pose_dim // 3}), got {tuple(joint_mask.shape)}"
            )
        w = w * joint_mask.to(like.dtype).repeat_interleave(3, -1)  # (b, t, j*3)
    return w.expand(*fmask.shape, pose_dim)
