"""A fingerspelling reader: pose frames -> the letters they spell (CTC over characters).

Why its own model, next to the sentence back-translation (BT) model: BT reads ground-truth
fingerspelling at ~16% character accuracy, too weak to rank pose generators on spelled words. A
letter is a handshape held for a few hundred milliseconds, so the reader looks at hands closely:

- **Input normalisation of its own** (`pose_features`), so it reads any generator's output in any
  units: each hand relative to its own wrist and divided by that hand's size (wrist -> middle
  knuckle), the body and both wrists relative to the neck in shoulder widths, and a flag per
  joint group saying whether it was seen. Handshape is then independent of where the hand is and
  how big the signer is drawn.
- **Local first**: two 1D temporal convolutions (the first halves the frame rate), then a small
  transformer encoder without absolute positions (the convolutions give relative order), so a
  letter is recognised from its own frames, not from the word it usually appears in.
- **A language embedding**: the same handshape is a different letter in different sign languages.
- **A CTC head** over a character vocabulary (index 0 is the blank); multi-letter units ("SCH",
  "Ch", "لا") are emitted as their letters.

Greedy CTC decoding (collapse repeats, drop blanks) is enough here: a letter is 5-40 frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UsageError
from ..skeleton import Skeleton, get_skeleton
from .core import ConfigDict, Dims, Encoder


@dataclass
class RecognizerConfig(ConfigDict):
    """Shapes of the reader; `vocab` and `languages` travel with the checkpoint."""

    vocab: list[str] = field(default_factory=list)  # characters; CTC blank is index 0, not listed
    languages: list[str] = field(default_factory=list)  # sign language codes (ISO 639-3)
    skeleton: str = "prompt2sign50"
    d_model: int = 96
    kernel: int = 5  # temporal convolution width (frames)
    downsample: int = 2  # stride of the first convolution (a letter spans >= 5 frames at 25 fps)
    layers: int = 2
    heads: int = 4
    ff: int = 192
    dropout: float = 0.1
    # Per sign language, the joints it reads (names; a language not listed reads all). Training
    # keeps the joints each language's ground truth shows (`observed_joints`): the letter
    # recordings of ase, fsl, gsg and sgg never track the left hand, so a reader that took every
    # joint had never seen that hand present in those languages and misread any pose that has
    # one (a generator's output always does: it read 7% of a model's training words that it
    # reads at 94% with that hand hidden). The same holds for a hand tracked in a few frames
    # only (swl's letter recordings show the resting left hand in 7% of frames: read, it cost
    # a model's swl training words 0.26 against ground truth's 0.99). Ground truth and generated
    # poses go through the same joints.
    read_joints: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise UsageError(f"d_model {self.d_model} is not divisible by heads {self.heads}")
        if len(set(self.vocab)) != len(self.vocab) or any(len(c) != 1 for c in self.vocab):
            raise UsageError("vocab must be distinct single characters")
        if len(set(self.languages)) != len(self.languages):
            raise UsageError("languages must be distinct")
        if self.kernel < 1 or self.downsample < 1 or self.layers < 0:
            raise UsageError("kernel and downsample must be >= 1, layers >= 0")
        sk = get_skeleton(self.skeleton)
        for code, names in self.read_joints.items():
            unknown = sorted(set(names) - set(sk.joints))
            if unknown or code not in self.languages:
                raise UsageError(
                    f"read_joints[{code!r}]: "
                    + (f"not in skeleton {self.skeleton}: {', '.join(unknown)}" if unknown
                       else "not one of the reader's languages")
                )  # fmt: skip

    def joint_filter(self) -> np.ndarray:
        """(languages, J) bool: the joints the reader reads in each language."""
        sk = get_skeleton(self.skeleton)
        out = np.ones((max(1, len(self.languages)), sk.num_joints), bool)
        for i, code in enumerate(self.languages):
            if code in self.read_joints:
                out[i] = np.isin(np.asarray(sk.joints), self.read_joints[code])
        return out

    @property
    def num_classes(self) -> int:
        return len(self.vocab) + 1  # + blank

    @property
    def input_dim(self) -> int:
        return feature_dim(get_skeleton(self.skeleton))


# ----------------------------------------------------------------------------------------------
# Input normalisation: any source's joints -> scale-free features


@dataclass(frozen=True)
class _Layout:
    neck: int
    shoulders: tuple[int, int]  # (left, right)
    body: tuple[int, ...]
    body_wrists: tuple[int, int]  # (left, right) wrist in the body
    hands: tuple[tuple[int, ...], tuple[int, ...]]  # (left, right) 21 points, wrist first
    middle_mcp: int  # index inside a hand


def _layout(sk: Skeleton) -> _Layout:
    g = sk.groups
    return _Layout(
        neck=sk.index("neck"),
        shoulders=(sk.index("left_shoulder"), sk.index("right_shoulder")),
        body=tuple(g["body"]),
        body_wrists=(sk.index("left_wrist"), sk.index("right_wrist")),
        hands=(tuple(g["left_hand"]), tuple(g["right_hand"])),
        middle_mcp=9,
    )


def feature_dim(sk: Skeleton) -> int:
    lay = _layout(sk)
    # body xyz + hands xyz + hand wrists xyz (neck space) + seen flags (body joints, 2 hands)
    return len(lay.body) * 3 + sum(len(h) for h in lay.hands) * 3 + 2 * 3 + len(lay.body) + 2


def _masked_mean(v: Tensor, m: Tensor, dims: tuple[int, ...]) -> Tensor:
    m = m.to(v.dtype)
    return (v * m).sum(dims) / m.sum(dims).clamp_min(1.0)


def pose_features(x: Tensor, mask: Tensor, frame_mask: Tensor, skeleton: str) -> Tensor:
    """Scale-free features of a padded batch of clips.

    x (b, t, J, 3) joints in any units; mask (b, t, J) bool, True = observed; frame_mask (b, t)
    bool, True = a real frame. Returns (b, t, F) float32 with F = `feature_dim`: unseen joints and
    padding are 0. Body and wrists: minus the neck, divided by the clip's mean shoulder width.
    Hands: minus the hand's wrist, divided by the clip's mean hand size (wrist -> middle knuckle).
    A clip with no shoulders seen uses width 1; a hand never seen has size 1 (its features are 0).
    """
    lay = _layout(get_skeleton(skeleton))
    x = x.float()
    mask = mask & frame_mask[..., None]
    b, t = x.shape[:2]
    eps = 1e-6
    # neck per frame; frames without a neck use the clip's mean observed neck
    neck_seen = mask[:, :, lay.neck]  # (b, t)
    neck_x = x[:, :, lay.neck]  # (b, t, 3)
    neck_mean = _masked_mean(neck_x, neck_seen[..., None], (1,))  # (b, 3)
    neck = torch.where(neck_seen[..., None], neck_x, neck_mean[:, None])  # (b, t, 3)
    ls, rs = lay.shoulders
    sh_seen = mask[:, :, ls] & mask[:, :, rs]  # (b, t)
    sh = (x[:, :, ls] - x[:, :, rs]).norm(dim=-1)  # (b, t)
    width = _masked_mean(sh, sh_seen, (1,))  # (b,)
    width = torch.where(sh_seen.any(1) & (width > eps), width, torch.ones_like(width))
    body_idx = list(lay.body)
    body = (x[:, :, body_idx] - neck[:, :, None]) / width[:, None, None, None]  # (b, t, 8, 3)
    body_m = mask[:, :, body_idx]  # (b, t, 8)
    body = body * body_m[..., None]
    feats = [body.reshape(b, t, -1)]
    wrists, flags = [], []
    for side in (0, 1):
        idx = list(lay.hands[side])
        hx, hm = x[:, :, idx], mask[:, :, idx]  # (b, t, 21, 3), (b, t, 21)
        w_seen = hm[:, :, 0]  # (b, t)
        wrist = hx[:, :, 0]  # (b, t, 3)
        k_seen = w_seen & hm[:, :, lay.middle_mcp]
        size = _masked_mean((hx[:, :, lay.middle_mcp] - wrist).norm(dim=-1), k_seen, (1,))  # (b,)
        size = torch.where(k_seen.any(1) & (size > eps), size, torch.ones_like(size))
        rel = (hx - wrist[:, :, None]) / size[:, None, None, None]  # (b, t, 21, 3)
        rel = rel * (hm & w_seen[..., None])[..., None]
        feats.append(rel.reshape(b, t, -1))
        # the wrist in the body: the hand's own wrist, else the body's wrist joint
        bw = lay.body_wrists[side]
        bw_seen = mask[:, :, bw]
        wpos = torch.where(w_seen[..., None], wrist, x[:, :, bw])  # (b, t, 3)
        wseen = w_seen | bw_seen
        wrists.append(((wpos - neck) / width[:, None, None]) * wseen[..., None])
        flags.append(w_seen.float()[..., None])
    feats += [*wrists, body_m.float(), *flags]
    out = torch.cat(feats, dim=-1)  # (b, t, F)
    return out * frame_mask[..., None]


# ----------------------------------------------------------------------------------------------
# The network


class Recognizer(nn.Module):
    """Pose frames + sign language -> per-frame character log-probabilities (CTC)."""

    def __init__(self, config: RecognizerConfig) -> None:
        super().__init__()
        c = self.config = config
        d = c.d_model
        self.inp = nn.Sequential(nn.Linear(c.input_dim, d), nn.LayerNorm(d))
        self.lang = nn.Embedding(max(1, len(c.languages)), d)
        self.conv1 = nn.Conv1d(d, d, c.kernel, stride=c.downsample, padding=c.kernel // 2)
        self.conv2 = nn.Conv1d(d, d, c.kernel, padding=c.kernel // 2)
        self.norm_c = nn.LayerNorm(d)
        dims = Dims(d_model=d, n_heads=c.heads, d_ff=c.ff, dropout=c.dropout)
        self.layers = Encoder(c.layers, dims)  # the shared core's pre-norm blocks
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c.num_classes)
        self.drop = nn.Dropout(c.dropout)
        self._lang_index = {code: i for i, code in enumerate(c.languages)}
        # not in the state dict: it comes from the config
        self.register_buffer("joint_filter", torch.from_numpy(c.joint_filter()), persistent=False)

    def count_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def language_ids(self, languages: Sequence[str]) -> Tensor:
        unknown = sorted({code for code in languages if code not in self._lang_index})
        if unknown:
            raise UsageError(
                f"the reader was not trained on sign language(s) {', '.join(unknown)}; "
                f"it knows {', '.join(self.config.languages)}"
            )
        return torch.tensor([self._lang_index[code] for code in languages], dtype=torch.long)

    def out_lengths(self, lengths: Tensor) -> Tensor:
        """Frames after the strided convolution, for input lengths (b,)."""
        k, s = self.config.kernel, self.config.downsample
        return torch.div(lengths + 2 * (k // 2) - k, s, rounding_mode="floor") + 1

    def forward(
        self, x: Tensor, mask: Tensor, frame_mask: Tensor, lang: Tensor
    ) -> tuple[Tensor, Tensor]:
        """x (b, t, J, 3), mask (b, t, J), frame_mask (b, t), lang (b,) long.

        Returns log-probs (b, t', V+1) and output lengths (b,), t' = ceil(t / downsample).
        """
        lang = lang.to(x.device)
        mask = mask & self.joint_filter[lang][:, None]  # joints outside read_joints: unseen
        f = pose_features(x, mask, frame_mask, self.config.skeleton)  # (b, t, F)
        h = self.inp(f) + self.lang(lang)[:, None]  # (b, t, d)
        h = h * frame_mask[..., None]
        h = F.gelu(self.conv1(h.transpose(1, 2)))  # (b, d, t')
        lengths = self.out_lengths(frame_mask.sum(1))  # (b,)
        keep = torch.arange(h.shape[2], device=h.device)[None] < lengths[:, None]  # (b, t')
        h = F.gelu(self.conv2(h * keep[:, None])).transpose(1, 2)  # (b, t', d)
        h = self.drop(self.norm_c(h)) * keep[..., None]
        for layer in self.layers:
            h = layer(h, keep)
        logits = self.head(self.norm(h))  # (b, t', V+1)
        return logits.log_softmax(-1), lengths

    def ctc_loss(self, logp: Tensor, lengths: Tensor, targets: Sequence[Sequence[int]]) -> Tensor:
        """Mean CTC loss per target character; targets are vocabulary ids (1-based, 0 = blank)."""
        flat = torch.tensor([i for tgt in targets for i in tgt], dtype=torch.long)
        tl = torch.tensor([len(tgt) for tgt in targets], dtype=torch.long)
        return F.ctc_loss(
            logp.transpose(0, 1),  # (t', b, V+1)
            flat.to(logp.device),
            lengths.cpu(),
            tl,
            blank=0,
            reduction="mean",
            zero_infinity=True,
        )


def ctc_greedy(logp: Tensor, lengths: Tensor) -> list[list[int]]:
    """Best class per frame, repeats collapsed, blanks (0) dropped: logp (b, t, V+1) -> ids."""
    best = logp.argmax(-1).cpu().numpy()  # (b, t)
    out = []
    for row, n in zip(best, lengths.cpu().tolist(), strict=True):
        r = row[:n]
        keep = np.ones(len(r), dtype=bool)
        keep[1:] = r[1:] != r[:-1]
        out.append([int(i) for i in r[keep] if i != 0])
    return out


def encode_letters(letters: str, vocab: Sequence[str]) -> list[int]:
    """Characters -> CTC ids (1-based); raises UsageError on a character not in the vocabulary."""
    index = {c: i + 1 for i, c in enumerate(vocab)}
    missing = sorted({c for c in letters if c not in index})
    if missing:
        raise UsageError(f"character(s) {' '.join(missing)} not in the reader's vocabulary")
    return [index[c] for c in letters]


def decode_ids(ids: Sequence[int], vocab: Sequence[str]) -> str:
    return "".join(vocab[i - 1] for i in ids if 0 < i <= len(vocab))
