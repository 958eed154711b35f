"""MLSF, the Multi-Language Switching Framework of SignLLM: one model group per sign language.

Each sign language (ISO 639-3 code: "ase", "gsg", ...) owns a full `ProgressiveTransformer`
(its own vocabulary, encoder and decoder); the language of a batch picks the group. Groups share
no weights, so a language is added by adding a group, and training one group can never move
another: a group that takes no part in a loss gets no gradient, and optimizers skip parameters
whose gradient is None (frozen groups are skipped even if their own batch is in the loss).

State-dict keys are `groups.<code>.<parameter>` (e.g. `groups.ase.tok_emb.weight`), so a
checkpoint can hold all groups or any subset: `language_state_dict(code)` gives one group's keys
without the prefix, `split_language_state_dict(sd)` splits a full state dict by language and
`load_language_state_dict(code, sd, config)` (re)creates one group from them.

Under DDP, a batch of one language leaves the other groups unused: wrap with
`find_unused_parameters=True`, or freeze the groups you are not training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UsageError
from .progressive import ProgressiveConfig, ProgressiveTransformer

PREFIX = "groups."
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")  # ModuleDict keys cannot hold "." (nor "-" here)

Lang = str | Sequence[str]


def split_language_state_dict(state: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """A full MLSF state dict -> {code: that group's state dict, keys without the prefix}."""
    out: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        if not key.startswith(PREFIX):
            raise UsageError(f"not an MLSF state-dict key (no {PREFIX!r} prefix): {key}")
        code, _, rest = key[len(PREFIX) :].partition(".")
        out.setdefault(code, {})[rest] = value
    return out


class MLSF(nn.Module):
    """A `ProgressiveTransformer` per language in `groups` (an `nn.ModuleDict` keyed by code)."""

    def __init__(
        self,
        config: ProgressiveConfig,
        languages: Iterable[str] = (),
        configs: Mapping[str, ProgressiveConfig] | None = None,
    ) -> None:
        """`config` is the default for every language; `configs` overrides it per language."""
        super().__init__()
        self.default_config = config
        self.groups = nn.ModuleDict()
        configs = dict(configs or {})
        languages = list(languages)
        for code in [*languages, *(c for c in configs if c not in languages)]:
            self.add_language(code, configs.get(code))

    # -- groups ----------------------------------------------------------------------------

    @property
    def languages(self) -> list[str]:
        return list(self.groups.keys())

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """{code: config dict}, the JSON that goes next to the weights."""
        return {code: g.config.to_dict() for code, g in self.groups.items()}

    def group(self, code: str) -> ProgressiveTransformer:
        if code not in self.groups:
            known = ", ".join(self.groups) or "none"
            raise UsageError(f"no model group for sign language {code!r} (have: {known})")
        return self.groups[code]  # type: ignore[return-value]

    def add_language(
        self, code: str, config: ProgressiveConfig | None = None
    ) -> ProgressiveTransformer:
        """Add a freshly initialised, trainable group; existing groups are not touched."""
        if not _CODE.match(code):
            raise UsageError(f"language code must look like 'ase' (lowercase, no dots): {code!r}")
        if code in self.groups:
            raise UsageError(f"sign language {code!r} already has a model group")
        model = ProgressiveTransformer(config or self.default_config)
        first = next(self.parameters(), None)
        if first is not None:  # follow the device and dtype of the existing groups
            model = model.to(device=first.device, dtype=first.dtype)
        self.groups[code] = model
        return model

    def remove_language(self, code: str) -> None:
        self.group(code)
        del self.groups[code]

    def freeze(self, except_: Iterable[str] = ()) -> None:
        """Freeze every group except those listed (`freeze()` freezes all)."""
        keep = set(except_)
        for code in keep:
            self.group(code)
        for code, g in self.groups.items():
            g.requires_grad_(code in keep)

    def unfreeze(self, languages: Iterable[str] | None = None) -> None:
        """Make the listed groups (default: all) trainable again."""
        for code in self.languages if languages is None else languages:
            self.group(code).requires_grad_(True)

    @property
    def trainable_languages(self) -> list[str]:
        return [c for c, g in self.groups.items() if any(p.requires_grad for p in g.parameters())]

    # -- per-language state dicts ----------------------------------------------------------

    def language_state_dict(self, code: str) -> dict[str, Tensor]:
        """One group's weights, keys without the `groups.<code>.` prefix."""
        return self.group(code).state_dict()

    def load_language_state_dict(
        self,
        code: str,
        state: Mapping[str, Tensor],
        config: ProgressiveConfig | None = None,
        strict: bool = True,
    ) -> None:
        """Load one group's weights, creating the group (with `config`) if it is new."""
        if code not in self.groups:
            self.add_language(code, config)
        self.group(code).load_state_dict(state, strict=strict)

    def start_from_shared(
        self,
        shared: ProgressiveTransformer,
        shared_tokens: Sequence[str],
        group_tokens: Mapping[str, Sequence[str]],
    ) -> dict[str, tuple[int, int]]:
        """Copy a shared all-language model (Prompt2LangGloss's pose model) into the listed groups.

        A group alone learns from its language's clips only; starting it from a model that saw
        every language gives it what the languages share (timing, arm paths, common handshapes)
        before it specialises. Every weight is copied but the token embedding, whose rows are
        matched by token: a character or marker by itself, a group's word ``w`` by the shared
        vocabulary's ``<code>:w``; rows with no match keep their fresh initialisation.
        Returns {code: (embedding rows copied, rows)}.
        """
        sd = shared.state_dict()
        where = {t: i for i, t in enumerate(shared_tokens)}
        if len(shared_tokens) != shared.config.vocab_size:
            raise UsageError(
                f"the shared model has {shared.config.vocab_size} token embeddings but "
                f"{len(shared_tokens)} tokens were given"
            )

        def body(config: ProgressiveConfig) -> dict[str, Any]:  # all but the vocabulary's
            return {k: v for k, v in config.to_dict().items() if k not in ("vocab_size", "pad_id")}

        mine = body(shared.config)
        out: dict[str, tuple[int, int]] = {}
        for code, tokens in group_tokens.items():
            group = self.group(code)
            theirs = body(group.config)
            if theirs != mine:
                diff = sorted(
                    k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k)
                )
                raise UsageError(
                    f"group {code!r} cannot start from the shared model: their configs differ in "
                    + ", ".join(diff)
                )
            if len(tokens) != group.config.vocab_size:
                raise UsageError(f"group {code!r}: {len(tokens)} tokens for its embedding table")
            own = group.state_dict()
            table = own["tok_emb.weight"].clone()
            rows = [(i, where.get(t, where.get(f"{code}:{t}"))) for i, t in enumerate(tokens)]
            hits = [(i, j) for i, j in rows if j is not None]
            if hits:
                dst, src = zip(*hits, strict=True)
                table[list(dst)] = sd["tok_emb.weight"][list(src)].to(table)
            own.update({k: v.to(own[k]) for k, v in sd.items() if k != "tok_emb.weight"})
            own["tok_emb.weight"] = table
            group.load_state_dict(own)
            out[code] = (len(hits), len(tokens))
        return out

    # -- language-dispatched model API -----------------------------------------------------

    def _split(self, lang: Lang, b: int) -> list[tuple[str, Tensor | None]]:
        """Language(s) of a batch -> [(code, sample indices or None for the whole batch)]."""
        if isinstance(lang, str):
            self.group(lang)
            return [(lang, None)]
        if len(lang) != b:
            raise UsageError(f"got {len(lang)} languages for a batch of {b}")
        where: dict[str, list[int]] = {}
        for i, code in enumerate(lang):
            where.setdefault(code, []).append(i)
        if len(where) == 1:
            return self._split(next(iter(where)), b)
        for code in where:
            self.group(code)
        return [(c, torch.tensor(ix)) for c, ix in where.items()]

    def forward(
        self, lang: Lang, tokens: Tensor, token_mask: Tensor | None, frames: Tensor
    ) -> dict[str, Tensor]:
        """Teacher forcing with the group of `lang` (one code, or one code per sample)."""
        parts = []
        for code, ix in self._split(lang, tokens.shape[0]):
            args = _take((tokens, token_mask, frames), ix)
            parts.append((ix, self.group(code)(*args)))
        return _merge(parts, tokens.shape[0])

    def loss(self, lang: Lang, tokens: Tensor, *rest: Tensor | None) -> dict[str, Tensor]:
        """Each group's `loss`; `rest` are the arguments of `ProgressiveTransformer.loss` after
        `tokens` (token_mask, frames, frame_mask, joint_mask), passed on as they come. A mixed
        batch weighs groups by their number of valid values."""
        b = tokens.shape[0]
        parts = []
        for code, ix in self._split(lang, b):
            args = _take((tokens, *rest), ix)
            out = self.group(code).loss(*args)
            out["counter_weighted"] = out["counter_loss"] * self.group(code).config.counter_weight
            parts.append((ix, out))
        if len(parts) == 1:
            out = parts[0][1]
            del out["counter_weighted"]
            return out
        p_total = sum(o["pose_count"].sum() for _, o in parts)
        c_total = sum(o["counter_count"].sum() for _, o in parts)
        pose = sum(o["pose_loss"] * o["pose_count"].sum() for _, o in parts) / p_total
        counter = sum(o["counter_loss"] * o["counter_count"].sum() for _, o in parts) / c_total
        weighted = sum(o["counter_weighted"] * o["counter_count"].sum() for _, o in parts)
        per = _merge([(ix, {k: v for k, v in o.items() if v.dim() == 1}) for ix, o in parts], b)
        lengths = sum(
            o["length_loss"] * len(ix) * self.group(code).config.length_weight
            for (code, _), (ix, o) in zip(self._split(lang, b), parts, strict=True)
        )
        hands = sum(
            o["hand_loss"] * len(ix) * self.group(code).config.hand_weight
            for (code, _), (ix, o) in zip(self._split(lang, b), parts, strict=True)
            if "hand_loss" in o
        )
        return {
            "loss": pose + weighted / c_total + (lengths + hands) / b,
            "pose_loss": pose,
            "counter_loss": counter,
            **per,
        }

    def generate(
        self, lang: Lang, tokens: Tensor, token_mask: Tensor | None = None, **kwargs: Any
    ) -> dict[str, Tensor]:
        """Honest decoding with the group of `lang`; see `ProgressiveTransformer.generate`."""
        parts = []
        for code, ix in self._split(lang, tokens.shape[0]):
            args = _take((tokens, token_mask), ix)
            parts.append((ix, self.group(code).generate(*args, **kwargs)))
        return _merge(parts, tokens.shape[0])


def _take(tensors: tuple[Tensor | None, ...], ix: Tensor | None) -> list[Tensor | None]:
    if ix is None:
        return list(tensors)
    return [None if t is None else t[ix.to(t.device)] for t in tensors]


def _merge(parts: list[tuple[Tensor | None, dict[str, Tensor]]], b: int) -> dict[str, Tensor]:
    """Scatter per-group outputs back to batch order, padding time (dim 1) to the longest."""
    if len(parts) == 1 and parts[0][0] is None:
        return parts[0][1]
    out: dict[str, Tensor] = {}
    for key, first in parts[0][1].items():
        t = max(o[key].shape[1] for _, o in parts) if first.dim() > 1 else 0
        full = first.new_zeros(b, *((t,) if first.dim() > 1 else ()), *first.shape[2:])
        for ix, o in parts:
            assert ix is not None
            v = o[key]
            idx = ix.to(v.device)
            if v.dim() > 1:
                full[idx, : v.shape[1]] = v  # autograd tracks the in-place copy
            else:
                full[idx] = v
        out[key] = full
    return out
