"""Back-translation (BT): a pose -> text transformer that scores produced signing.

Sign Language Transformers style (Camgoz et al., CVPR 2020): continuous pose frames are embedded
by a linear layer (+ LayerNorm, GELU), optionally shortened by stride-2 temporal convolutions,
encoded by a transformer encoder and read by an autoregressive transformer decoder over text
tokens (words or subwords, any `signllm.text` tokenizer). An optional CTC head on the encoder
recognises glosses (SLT's joint recognition + translation). Greedy and beam search decode with a
KV cache; the attention blocks and decoding loops are those of `core.py`.

Honest evaluation rests on two rules, enforced here:

1. **Ground truth only.** The BT model is trained on ground-truth poses; a BT model that has seen
   generated output learns the generator's artefacts and inflates its scores (the field's known
   pitfall). `train_backtranslation` refuses every pose whose ``meta.extra["generated"]`` is true.
   Report the BT score of the ground-truth test poses (the ceiling) beside that of produced ones.
2. **One normalisation for both.** `pose_to_input` turns any `Pose` into model input: every frame
   is centred on its neck and the clip is divided by its median shoulder width, so the input does
   not depend on the source's units (pixels, `.skels` units, metres) or position in the image.
   Apply it, unchanged, to ground-truth *and* generated poses (`back_translate` does).

Missing joints: `pose_to_input` zero-fills them and returns a per-joint mask; with
`joint_mask_channel` (default) the model reads that mask as 50 extra input channels, so "joint
not seen" is distinguishable from "joint at the neck". Padded frames are masked out of attention.
A `translate`/`loss` call without `joint_mask` treats every joint of every real frame as seen.

Tokens passed to `loss` are the sentence ids as `tokenizer.encode(text)` gives them (no <bos> or
<eos>), right-padded with pad_id; the model adds <bos> to the decoder input and <eos> to the target.

Use (model code does no I/O; the trainer and the CLI wrap it):

    vocab = WordVocab.build(p.meta.text for p in train)
    model, history = train_backtranslation(train, dev, vocab, bt_config("base", vocab_size=len(vocab)),
                                           steps=20000, device="cuda")
    hyps = back_translate(model, generated_poses, vocab, beam=5)   # list[str]
    text_scores(hyps, [p.meta.text for p in generated_poses])      # signllm.metrics.text
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DataError, UsageError
from ..pose import Pose
from ..text.tokenizers import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from .core import (
    ConfigDict,
    Decoder,
    Dims,
    Encoder,
    KVCache,
    MemoryKV,
    StepFn,
    base_init,
    beam_search,
    check_shape,
    count_parameters,
    eval_mode,
    greedy_decode,
    pad_sequences,
    scale_residual_init,
    sinusoidal_range,
    token_step,
    warmup_cosine,
)


@dataclass
class BackTranslationConfig(ConfigDict):
    vocab_size: int = 1000  # text tokenizer's vocabulary
    pad_id: int = PAD_ID
    bos_id: int = BOS_ID
    eos_id: int = EOS_ID
    n_joints: int = 50  # input frames are (n_joints * 3) values
    joint_mask_channel: bool = True  # append the per-joint "seen" mask to every input frame
    d_model: int = 256
    n_heads: int = 8
    n_enc_layers: int = 3
    n_dec_layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    bias: bool = True
    downsample: int = 0  # stride-2 temporal convs before the encoder: t -> ceil(t / 2**downsample)
    label_smoothing: float = 0.1
    gloss_vocab_size: int = 0  # > 0 adds a CTC gloss head on the encoder (blank = id 0, <pad>)
    ctc_weight: float = 1.0  # total loss = translation CE + ctc_weight * CTC

    def __post_init__(self) -> None:
        check_shape(self.d_model, self.n_heads, self.dropout)
        if self.n_joints < 1 or self.downsample < 0 or self.gloss_vocab_size < 0:
            raise UsageError("n_joints must be >= 1, downsample and gloss_vocab_size >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        ids = (self.pad_id, self.bos_id, self.eos_id)
        if len(set(ids)) != 3 or not all(0 <= i < self.vocab_size for i in ids):
            raise UsageError(
                f"pad/bos/eos ids {ids} must be distinct and < vocab {self.vocab_size}"
            )

    @property
    def input_dim(self) -> int:
        return self.n_joints * 3 + (self.n_joints if self.joint_mask_channel else 0)


# Size presets (shape and regularisation only; vocab and options come from the caller).
# "base" is SLT's PHOENIX-2014T translation setting (3+3 layers, 512 there; 256 suffices for BT).
BT_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(d_model=64, n_heads=2, n_enc_layers=1, n_dec_layers=1, d_ff=128, dropout=0.0),
    "base": dict(d_model=256, n_heads=8, n_enc_layers=3, n_dec_layers=3, d_ff=1024, dropout=0.1),
}


def bt_config(name: str, **overrides: Any) -> BackTranslationConfig:
    """A config from a size preset with any field overridden (e.g. `vocab_size=len(vocab)`)."""
    if name not in BT_PRESETS:
        raise UsageError(f"unknown BT preset {name!r}; choose from {', '.join(BT_PRESETS)}")
    return BackTranslationConfig(**{**BT_PRESETS[name], **overrides})


# ----------------------------------------------------------------------------------------------
# Input normalisation (the same for ground truth and generated poses)


def pose_to_input(pose: Pose) -> tuple[Tensor, Tensor]:
    """A clip as model input: frames (t, j*3) float32 and joint mask (t, j) bool.

    Each frame is centred on its neck (frames without a neck use the clip's mean neck) and the
    clip is divided by its median shoulder width, so pixels and `.skels` units give the same
    input; missing joints become 0 with mask False. Raises DataError if no frame sees the neck
    and both shoulders (there is then no unit to measure in).
    """
    sk = pose.skel
    neck = sk.index("neck")
    x, m = pose.data.astype(np.float64), pose.mask  # (t, j, 3), (t, j)
    width = pose.shoulder_width(dims=3)
    if not m[:, neck].any() or not np.isfinite(width):
        raise DataError(
            f"clip {pose.meta.id!r}: cannot normalise, no frame observes the neck and both "
            "shoulders"
        )
    centre = np.where(m[:, neck, None], x[:, neck], x[m[:, neck], neck].mean(0))  # (t, 3)
    y = (x - centre[:, None]) / width
    y = np.where(m[..., None], y, 0.0).astype(np.float32)
    return torch.from_numpy(y.reshape(len(y), -1)), torch.from_numpy(m.copy())


def collate_inputs(
    items: Sequence[tuple[Tensor, Tensor]],
) -> tuple[Tensor, Tensor, Tensor]:
    """Right-pad `pose_to_input` outputs: frames (b, T, j*3), frame_mask (b, T), joint_mask (b, T, j)."""
    if not items:
        raise UsageError("nothing to collate")
    b, t = len(items), max(f.shape[0] for f, _ in items)
    fdim, j = items[0][0].shape[1], items[0][1].shape[1]
    frames = torch.zeros(b, t, fdim)
    frame_mask = torch.zeros(b, t, dtype=torch.bool)
    joint_mask = torch.zeros(b, t, j, dtype=torch.bool)
    for i, (f, m) in enumerate(items):
        n = f.shape[0]
        frames[i, :n], frame_mask[i, :n], joint_mask[i, :n] = f, True, m
    return frames, frame_mask, joint_mask


# ----------------------------------------------------------------------------------------------
# The model


class BackTranslationModel(nn.Module):
    """Pose encoder (+ optional CTC gloss head) and autoregressive text decoder."""

    def __init__(self, config: BackTranslationConfig) -> None:
        super().__init__()
        self.config = cfg = config
        d = cfg.d_model
        self.frame_in = nn.Linear(cfg.input_dim, d)
        self.frame_norm = nn.LayerNorm(d)
        self.downsample = nn.ModuleList(
            nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1) for _ in range(cfg.downsample)
        )
        dims = Dims(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.bias)
        self.enc_layers = Encoder(cfg.n_enc_layers, dims)
        self.dec_layers = Decoder(cfg.n_dec_layers, dims)
        self.enc_ln, self.dec_ln = nn.LayerNorm(d), nn.LayerNorm(d)
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.head = nn.Linear(d, cfg.vocab_size)
        self.gloss_head = nn.Linear(d, cfg.gloss_vocab_size) if cfg.gloss_vocab_size else None
        self.drop = nn.Dropout(cfg.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nanoGPT-style init: N(0, 0.02), residual projections scaled down by depth."""
        base_init(self)
        nn.init.normal_(self.frame_in.weight, std=self.config.input_dim**-0.5)
        scale_residual_init(self.enc_layers, self.dec_layers)

    def count_parameters(self, trainable_only: bool = False) -> int:
        return count_parameters(self, trainable_only)

    # -- encoder -----------------------------------------------------------------------------

    def _inputs(
        self, frames: Tensor, frame_mask: Tensor | None, joint_mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        cfg = self.config
        if frames.dim() != 3 or frames.shape[-1] != cfg.n_joints * 3:
            raise UsageError(
                f"frames must be (batch, time, {cfg.n_joints * 3}), got {tuple(frames.shape)}"
            )
        b, t, _ = frames.shape
        fmask = (
            torch.ones(b, t, dtype=torch.bool, device=frames.device)
            if frame_mask is None
            else frame_mask.bool()
        )
        if fmask.shape != (b, t):
            raise UsageError(f"frame_mask {tuple(fmask.shape)} != frames {(b, t)}")
        if not bool(fmask.any(1).all()):
            raise UsageError("every sequence needs at least one unmasked frame")
        if joint_mask is None:
            jmask = fmask[..., None].expand(b, t, cfg.n_joints)
        else:
            if joint_mask.shape != (b, t, cfg.n_joints):
                raise UsageError(
                    f"joint_mask must be (batch, time, {cfg.n_joints}), got {tuple(joint_mask.shape)}"
                )
            jmask = joint_mask.bool() & fmask[..., None]
        x = torch.where(jmask.repeat_interleave(3, -1), frames, 0.0)  # (b, t, j*3); masked NaN -> 0
        if cfg.joint_mask_channel:
            x = torch.cat([x, jmask.to(x.dtype)], -1)  # (b, t, j*4)
        return x, fmask

    def encode(
        self, frames: Tensor, frame_mask: Tensor | None = None, joint_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Frames (b, t, j*3) -> memory (b, t', d) and its mask (b, t'), t' = t / 2**downsample."""
        x, mask = self._inputs(frames, frame_mask, joint_mask)
        x = F.gelu(self.frame_norm(self.frame_in(x)))  # (b, t, d)
        for conv in self.downsample:
            x = x * mask[..., None]  # padding must not leak into real frames
            x = F.gelu(conv(x.transpose(1, 2)).transpose(1, 2))  # (b, ceil(t/2), d)
            mask = mask[:, ::2]  # output i covers inputs 2i-1..2i+1: real iff 2i < length
        x = self.drop(x + sinusoidal_range(0, x.shape[1], x.shape[-1], x.device))
        return self.enc_ln(self.enc_layers(x, mask)), mask

    def memory_kv(self, memory: Tensor) -> list[MemoryKV]:
        """Cross-attention keys/values of every decoder layer, computed once per sequence."""
        return self.dec_layers.memory_kv(memory)

    # -- decoder -----------------------------------------------------------------------------

    def decode(
        self,
        tokens_in: Tensor,
        memory_kv: list[MemoryKV],
        memory_mask: Tensor,
        start: int = 0,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        """Decoder input ids (b, s) -> logits (b, s, vocab); `start` = position of the first id."""
        pos = sinusoidal_range(start, tokens_in.shape[1], self.config.d_model, tokens_in.device)
        x = self.drop(self.tok_emb(tokens_in) + pos)  # (b, s, d)
        return self.head(self.dec_ln(self.dec_layers(x, memory_kv, memory_mask, caches)))

    def _targets(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Sentence ids (b, s) -> decoder input [bos, y] and target [y, eos], both (b, s+1)."""
        cfg = self.config
        if tokens.dim() != 2:
            raise UsageError(f"tokens must be (batch, seq), got {tuple(tokens.shape)}")
        tokens = tokens.long()
        real = tokens != cfg.pad_id
        lengths = real.sum(1)  # (b,)
        if not torch.equal(
            real, torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]
        ):
            raise UsageError("tokens must be right-padded with pad_id (no pad inside a sentence)")
        if bool(((tokens == cfg.bos_id) | (tokens == cfg.eos_id)).any()):
            raise UsageError("pass tokens without <bos>/<eos>: the model adds them")
        b = tokens.shape[0]
        pad = tokens.new_full((b, 1), cfg.pad_id)
        dec_in = torch.cat([tokens.new_full((b, 1), cfg.bos_id), tokens], 1)
        target = torch.cat([tokens, pad], 1).scatter(1, lengths[:, None], cfg.eos_id)
        return dec_in, target

    def forward(
        self,
        frames: Tensor,
        frame_mask: Tensor | None,
        tokens: Tensor,
        joint_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Teacher forcing: logits (b, s+1, vocab) over [y, eos]; also the encoder's outputs."""
        memory, mmask = self.encode(frames, frame_mask, joint_mask)
        dec_in, target = self._targets(tokens)
        logits = self.decode(dec_in, self.memory_kv(memory), mmask)
        out = {"logits": logits, "target": target, "memory": memory, "memory_mask": mmask}
        if self.gloss_head is not None:
            out["gloss_logits"] = self.gloss_head(memory)  # (b, t', gloss_vocab)
        return out

    def loss(
        self,
        frames: Tensor,
        frame_mask: Tensor | None,
        tokens: Tensor,
        joint_mask: Tensor | None = None,
        glosses: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Label-smoothed cross-entropy per target token (+ ctc_weight x CTC with `glosses`).

        glosses (b, g) right-padded with 0 (the CTC blank), needed iff the config has a gloss head.
        Returns loss, ce_loss, n_tokens, accuracy (teacher-forced argmax), and ctc_loss.
        """
        cfg = self.config
        out = self(frames, frame_mask, tokens, joint_mask)
        logits, target = out["logits"], out["target"]
        valid = target != cfg.pad_id
        n_tokens = valid.sum()
        ce = F.cross_entropy(
            logits.flatten(0, 1),
            target.flatten(),
            ignore_index=cfg.pad_id,
            label_smoothing=cfg.label_smoothing,
            reduction="sum",
        ) / n_tokens.clamp(min=1)
        acc = ((logits.argmax(-1) == target) & valid).sum() / n_tokens.clamp(min=1)
        res = {"loss": ce, "ce_loss": ce, "n_tokens": n_tokens, "accuracy": acc}
        if self.gloss_head is not None:
            if glosses is None:
                raise UsageError("this model has a CTC gloss head: pass glosses to loss()")
            ctc = self.ctc_loss(out["gloss_logits"], out["memory_mask"], glosses)
            res["ctc_loss"] = ctc
            res["loss"] = ce + cfg.ctc_weight * ctc
        elif glosses is not None:
            raise UsageError("glosses given, but the config has no gloss head (gloss_vocab_size=0)")
        return res

    def ctc_loss(self, gloss_logits: Tensor, memory_mask: Tensor, glosses: Tensor) -> Tensor:
        """CTC over the encoder frames (blank = 0); mean over the batch of per-gloss losses."""
        logp = gloss_logits.float().log_softmax(-1).transpose(0, 1)  # (t', b, C)
        glosses = glosses.long()
        return F.ctc_loss(
            logp,
            glosses,
            memory_mask.sum(1),
            (glosses != 0).sum(1),
            blank=0,
            reduction="mean",
            zero_infinity=True,
        )

    # -- decoding ----------------------------------------------------------------------------

    @torch.no_grad()
    def translate(
        self,
        frames: Tensor,
        frame_mask: Tensor | None = None,
        max_len: int = 60,
        beam: int = 1,
        length_penalty: float = 1.0,
        joint_mask: Tensor | None = None,
        use_cache: bool = True,
    ) -> list[list[int]]:
        """Token ids of each clip (no bos/eos/pad): greedy for beam=1, else beam search."""
        if beam == 1:
            return self.greedy(frames, frame_mask, max_len, joint_mask, use_cache)
        return self.beam_search(
            frames, frame_mask, beam, max_len, length_penalty, joint_mask, use_cache
        )

    def _step(
        self,
        frames: Tensor,
        frame_mask: Tensor | None,
        joint_mask: Tensor | None,
        max_len: int,
        beam: int,
        use_cache: bool,
    ) -> tuple[StepFn, list[KVCache] | None, int]:
        """Encode once; return the decoding step over b * beam rows, its caches, and b."""
        if max_len < 1:
            raise UsageError(f"max_len must be >= 1, got {max_len}")
        memory, mask = self.encode(frames, frame_mask, joint_mask)
        b = memory.shape[0]
        kv = self.memory_kv(memory)
        if beam > 1:  # row i * beam + j: beam j of clip i
            kv = [(k.repeat_interleave(beam, 0), v.repeat_interleave(beam, 0)) for k, v in kv]
            mask = mask.repeat_interleave(beam, 0)  # (b*beam, t')
        caches = self.dec_layers.new_caches(b * beam, max_len, memory) if use_cache else None
        logits = token_step(self.decode, kv, mask, caches)
        return (lambda history, i: self.next_token_logprobs(logits(history, i))), caches, b

    def next_token_logprobs(self, logits: Tensor) -> Tensor:
        """Decoding distribution from logits (..., vocab): <pad> and <bos> excluded (they are
        never targets, so they are never generated either)."""
        cfg = self.config
        logits = logits.float().index_fill(
            -1, logits.new_tensor([cfg.pad_id, cfg.bos_id]).long(), -math.inf
        )
        return logits.log_softmax(-1)

    @torch.no_grad()
    def greedy(
        self,
        frames: Tensor,
        frame_mask: Tensor | None = None,
        max_len: int = 60,
        joint_mask: Tensor | None = None,
        use_cache: bool = True,
    ) -> list[list[int]]:
        """Greedy decoding; each sequence stops at its <eos> (dropped) or after max_len tokens."""
        cfg = self.config
        with eval_mode(self):
            step, _, b = self._step(frames, frame_mask, joint_mask, max_len, 1, use_cache)
            ids, lengths = greedy_decode(
                step, b, max_len, cfg.bos_id, cfg.eos_id, cfg.pad_id, frames.device
            )
            return [
                self._strip(row[:n]) for row, n in zip(ids.tolist(), lengths.tolist(), strict=True)
            ]

    def _strip(self, ids: list[int]) -> list[int]:
        cfg = self.config
        if cfg.eos_id in ids:
            ids = ids[: ids.index(cfg.eos_id)]
        return [i for i in ids if i not in (cfg.pad_id, cfg.bos_id)]

    @torch.no_grad()
    def beam_search(
        self,
        frames: Tensor,
        frame_mask: Tensor | None = None,
        beam: int = 5,
        max_len: int = 60,
        length_penalty: float = 1.0,
        joint_mask: Tensor | None = None,
        use_cache: bool = True,
    ) -> list[list[int]]:
        """Beam search (`core.beam_search`): GNMT length normalisation log p / ((5 + L) / 6) **
        length_penalty, L = tokens including <eos>; beam=1 reproduces greedy decoding exactly."""
        if beam < 1:
            raise UsageError(f"beam must be >= 1, got {beam}")
        cfg = self.config
        with eval_mode(self):
            step, caches, b = self._step(frames, frame_mask, joint_mask, max_len, beam, use_cache)
            best = beam_search(
                step,
                b,
                beam,
                max_len,
                cfg.bos_id,
                cfg.eos_id,
                frames.device,
                length_penalty,
                caches,
            )
            return [self._strip(ids) for ids in best]

    @torch.no_grad()
    def recognize_glosses(
        self, frames: Tensor, frame_mask: Tensor | None = None, joint_mask: Tensor | None = None
    ) -> list[list[int]]:
        """Greedy CTC decoding of the gloss head: best path, repeats merged, blanks dropped."""
        if self.gloss_head is None:
            raise UsageError("this model has no CTC gloss head (gloss_vocab_size=0)")
        with eval_mode(self):
            memory, mask = self.encode(frames, frame_mask, joint_mask)
            best = self.gloss_head(memory).argmax(-1)  # (b, t')
            out = []
            for row, m in zip(best.tolist(), mask.sum(1).tolist(), strict=True):
                ids = [g for i, g in enumerate(row[:m]) if g != 0 and (i == 0 or g != row[i - 1])]
                out.append(ids)
            return out


# ----------------------------------------------------------------------------------------------
# Wrappers: back-translate poses, train on ground truth


def is_generated(pose: Pose) -> bool:
    """True if the pose says it was produced by a model (``meta.extra["generated"]``)."""
    return bool(pose.meta.extra.get("generated", False))


def back_translate(
    model: BackTranslationModel,
    poses: Sequence[Pose],
    tokenizer: Tokenizer,
    beam: int = 1,
    max_len: int = 60,
    length_penalty: float = 1.0,
    batch_size: int = 32,
) -> list[str]:
    """Text that `model` reads from each pose (ground truth or generated: same `pose_to_input`)."""
    dev = next(model.parameters()).device
    out: list[str] = []
    for i in range(0, len(poses), batch_size):
        frames, fmask, jmask = collate_inputs([pose_to_input(p) for p in poses[i : i + batch_size]])
        ids = model.translate(
            frames.to(dev), fmask.to(dev), max_len, beam, length_penalty, jmask.to(dev)
        )
        out.extend(tokenizer.decode(x) for x in ids)
    return out


def _check_ground_truth(poses: Sequence[Pose], which: str) -> None:
    for p in poses:
        if is_generated(p):
            raise DataError(
                "is marked generated (meta.extra['generated']); a back-translation model must be "
                "trained and selected on ground-truth poses only, or it learns the generator's "
                "artefacts and inflates every score",
                field=f"{which} pose {p.meta.id!r}",
            )


def _check_training_setup(
    train_poses: Sequence[Pose],
    dev_poses: Sequence[Pose],
    tokenizer: Tokenizer,
    gloss_tokenizer: Tokenizer | None,
    config: BackTranslationConfig,
    target: str,
) -> None:
    """Refuse what would train a wrong or dishonest BT model: generated poses, a target other
    than text or gloss, tokenizers whose sizes the config does not match."""
    if target not in ("text", "gloss"):
        raise UsageError(f"target must be 'text' or 'gloss', got {target!r}")
    if not train_poses:
        raise UsageError("no training poses")
    _check_ground_truth(train_poses, "train")
    _check_ground_truth(dev_poses, "dev")
    if tokenizer.vocab_size != config.vocab_size:
        raise UsageError(
            f"config.vocab_size is {config.vocab_size} but the tokenizer has {tokenizer.vocab_size}"
        )
    if (gloss_tokenizer is not None) != bool(config.gloss_vocab_size) or (
        gloss_tokenizer is not None and gloss_tokenizer.vocab_size != config.gloss_vocab_size
    ):
        raise UsageError(
            "config.gloss_vocab_size must equal gloss_tokenizer.vocab_size (0 if none)"
        )


def _encode_dataset(
    poses: Sequence[Pose],
    tokenizer: Tokenizer,
    target: str,
    gloss_tokenizer: Tokenizer | None,
    which: str,
) -> list[tuple[Tensor, Tensor, list[int], list[int]]]:
    items = []
    for p in poses:
        text = getattr(p.meta, target)
        if not text.strip():
            raise DataError(f"has no {target} to learn", field=f"{which} pose {p.meta.id!r}")
        ids = tokenizer.encode(text)
        glosses = gloss_tokenizer.encode(p.meta.gloss) if gloss_tokenizer is not None else []
        if gloss_tokenizer is not None and not glosses:
            raise DataError("has no gloss for the CTC head", field=f"{which} pose {p.meta.id!r}")
        frames, jmask = pose_to_input(p)
        items.append((frames, jmask, ids, glosses))
    return items


def _batch(
    items: Sequence[tuple[Tensor, Tensor, list[int], list[int]]], device: torch.device
) -> dict[str, Tensor]:
    frames, fmask, jmask = collate_inputs([(f, m) for f, m, _, _ in items])
    out = {
        "frames": frames.to(device),
        "frame_mask": fmask.to(device),
        "joint_mask": jmask.to(device),
        "tokens": pad_sequences([t for _, _, t, _ in items], PAD_ID, device),
    }
    if items[0][3]:
        out["glosses"] = pad_sequences([g for _, _, _, g in items], 0, device)
    return out


def train_backtranslation(
    train_poses: Sequence[Pose],
    dev_poses: Sequence[Pose] | None,
    tokenizer: Tokenizer,
    config: BackTranslationConfig,
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    warmup: int | None = None,
    seed: int = 0,
    target: str = "text",
    gloss_tokenizer: Tokenizer | None = None,
    eval_every: int = 0,
    beam: int = 1,
    max_len: int = 60,
    dev_metric: Callable[[list[str], list[str]], dict[str, float]] | None = None,
    keep_best: bool = False,
    log_every: int = 50,
    device: str | torch.device | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[BackTranslationModel, list[dict[str, Any]]]:
    """Train a BT model on ground-truth poses; return (model in eval mode, history).

    Refuses (DataError) any train or dev pose marked ``meta.extra["generated"]``. `target` is the
    meta field to learn ("text", or "gloss" for gloss-level BT); `gloss_tokenizer` enables the
    CTC gloss head (config.gloss_vocab_size must match it). AdamW with linear warmup (default
    5% of steps) then cosine decay to 10% of `lr`, gradient norm clipped at 1.

    History: ``{"step", "loss", "lr"}`` every `log_every` steps, and at every dev evaluation
    (each `eval_every` steps and at the end, when `dev_poses` is given) ``{"step", "dev_loss",
    "dev_accuracy", ...}`` plus ``dev_metric(hypotheses, references)`` (e.g.
    `signllm.metrics.text.text_scores`) and a few example hypotheses. `keep_best` restores the
    weights of the evaluation with the lowest dev loss. No file I/O: checkpoints are the caller's.
    """
    if steps < 1 or batch_size < 1:
        raise UsageError("steps and batch_size must be >= 1")
    dev_poses = list(dev_poses or [])
    _check_training_setup(train_poses, dev_poses, tokenizer, gloss_tokenizer, config, target)
    dev = torch.device(device) if device is not None else _default_device()
    train_items = _encode_dataset(train_poses, tokenizer, target, gloss_tokenizer, "train")
    dev_items = _encode_dataset(dev_poses, tokenizer, target, gloss_tokenizer, "dev")

    torch.manual_seed(seed)
    model = BackTranslationModel(config).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay)
    warm = max(1, steps // 20) if warmup is None else max(1, warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warm, steps))
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Tensor]] | None = None
    order: list[int] = []
    running, count = 0.0, 0

    def record(entry: dict[str, Any]) -> None:
        history.append(entry)
        if callback is not None:
            callback(entry)

    model.train()
    for step in range(1, steps + 1):
        if len(order) < batch_size:  # epochs of shuffled clips, batches never straddle two
            order = torch.randperm(len(train_items), generator=gen).tolist()
        idx, order = order[:batch_size], order[batch_size:]
        batch = _batch([train_items[i] for i in idx], dev)
        losses = model.loss(**batch)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running, count = running + losses["loss"].item(), count + 1
        if step % log_every == 0 or step == steps:
            record({"step": step, "loss": running / count, "lr": opt.param_groups[0]["lr"]})
            running, count = 0.0, 0
        if dev_items and ((eval_every and step % eval_every == 0) or step == steps):
            entry = _evaluate(
                model,
                dev_items,
                dev_poses,
                target,
                tokenizer,
                batch_size,
                beam,
                max_len,
                dev_metric,
            )
            entry["step"] = step
            record(entry)
            model.train()
            if keep_best and (best is None or entry["dev_loss"] < best[0]):
                best = (entry["dev_loss"], copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[1])
    return model.eval(), history


@torch.no_grad()
def _evaluate(
    model: BackTranslationModel,
    items: list[tuple[Tensor, Tensor, list[int], list[int]]],
    poses: Sequence[Pose],
    target: str,
    tokenizer: Tokenizer,
    batch_size: int,
    beam: int,
    max_len: int,
    metric: Callable[[list[str], list[str]], dict[str, float]] | None,
) -> dict[str, Any]:
    """Dev loss / token accuracy (teacher forced) and decoded hypotheses scored by `metric`."""
    model.eval()
    dev = next(model.parameters()).device
    loss_sum = acc_sum = n_sum = 0.0
    hyps: list[str] = []
    for i in range(0, len(items), batch_size):
        batch = _batch(items[i : i + batch_size], dev)
        res = model.loss(**batch)
        n = float(res["n_tokens"])
        loss_sum, acc_sum, n_sum = (
            loss_sum + float(res["ce_loss"]) * n,
            acc_sum + float(res["accuracy"]) * n,
            n_sum + n,
        )
        ids = model.translate(
            batch["frames"], batch["frame_mask"], max_len, beam, joint_mask=batch["joint_mask"]
        )
        hyps.extend(tokenizer.decode(x) for x in ids)
    entry: dict[str, Any] = {"dev_loss": loss_sum / n_sum, "dev_accuracy": acc_sum / n_sum}
    refs = [getattr(p.meta, target) for p in poses]
    if metric is not None:
        entry.update({f"dev_{k}": v for k, v in metric(hyps, refs).items()})
    entry["dev_examples"] = list(zip(hyps[:3], refs[:3], strict=True))
    return entry


def _default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
