"""Prompt2LangGloss: one shared model for all sign languages, prompt -> LangGloss -> poses.

The paper's second mode (SignLLM, Fang et al. 2024). Two stages, each one model for every language:

1. `TextSeq2Seq` (wrapped by `PromptToLangGloss`): prompt subword ids -> language-tagged target
   ids. "How would you sign 'guten morgen' in DGS?" -> ``<gsg> GUTEN <gsg> MORGEN``.
2. `SharedPoseModel`: one `ProgressiveTransformer` whose vocabulary is a `LangWordVocab`, so
   ``gsg:MORGEN`` and ``sgg:MORGEN`` are different ids and embeddings -> pose frames.

LangGloss. Training pairs (`build_prompt_pairs`) write targets in the paper's format, the marker
before every word: ``<gsg> WETTER <gsg> MORGEN``. Inside the models the words are `LangWordVocab`
tokens (``gsg:WETTER``) that already carry their language, so by default the marker is written
once, first (``<gsg> gsg:WETTER gsg:MORGEN <eos>``): the same information at half the decoding
length, and the language is decided at step one where it is easy to read off and to force.
``tag_every_token=True`` gives the paper's exact sequence. A language without glosses (How2Sign's
ASL) uses its spoken text as the "gloss": lower-cased words without punctuation (`text_words`).

Why a deterministic path too. A tiny model trained on a tiny corpus reproduces what it saw, but it
cannot be trusted with a language name, alias or template wording it never saw, and it will
silently answer in some language anyway. `parse_prompt` extracts (text, language) from a templated
prompt exactly, so `PromptToLangGloss.translate` has three modes:

- ``"learned"``: the paper's way, the model reads the raw prompt.
- ``"parse"``: the parser gives text and language; the language is then certain. A language without
  glosses needs no model (its tokens are `text_words(text)`); for a gloss language the model only
  translates the canonical input ``<gsg> text`` (trained alongside the prompts), with its first
  output token forced to that language's marker. A prompt naming no language needs `language=`.
- ``"auto"`` (default): ``"parse"`` when the prompt matches a template and the language is known
  (from the prompt or `language=`), ``"learned"`` otherwise (free-form requests).

A language the target vocabulary has no tokens for is a `UsageError` in every mode, never a
silent answer in another language.

Use (model code does no I/O; the trainer and the CLI load and save):

    records = [LangRecord("tiefer luftdruck bestimmt ...", "DRUCK TIEF KOMMEN", "gsg"), ...]
    pairs = build_prompt_pairs(records, seed=0, n_templates_per_record=2)
    text = PromptToLangGloss.from_pairs(pairs, gloss_languages=gloss_languages(records))
    text.fit(pairs, steps=300)
    text.translate(["Wie gebärdet man „tiefer luftdruck ...“ in DGS?"])  # [("gsg", [...])]
    pose = SharedPoseModel.from_vocab(text.target_vocab, "tiny", pose_dim=150)
    language, tokens, frames = prompt_to_pose("...", text, pose)  # frames (T, 50, 3)
"""

from __future__ import annotations

import inspect
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.prompts import Template, default_templates, match_template, parse_prompt
from ..errors import DataError, UsageError
from ..languages import LanguageRegistry, default_registry
from ..text.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    LangCharVocab,
    LangWordVocab,
    SubwordTokenizer,
    language_marker,
)
from .core import (
    ConfigDict,
    Decoder,
    Dims,
    Encoder,
    KVCache,
    MemoryKV,
    base_init,
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
from .progressive import ProgressiveConfig, ProgressiveTransformer, preset_config

MODES = ("learned", "parse", "auto")
_MARKER_RE = re.compile(r"^<([a-z]{3})>$")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # letters/digits, inner apostrophes kept


# ----------------------------------------------------------------------------------------------
# The text model


@dataclass
class TextSeq2SeqConfig(ConfigDict):
    src_vocab_size: int
    tgt_vocab_size: int
    pad_id: int = PAD_ID
    bos_id: int = BOS_ID
    eos_id: int = EOS_ID
    d_model: int = 256
    n_heads: int = 4
    n_enc_layers: int = 3
    n_dec_layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    bias: bool = True
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size"):
            if getattr(self, name) <= max(self.pad_id, self.bos_id, self.eos_id):
                raise UsageError(f"{name} {getattr(self, name)} is too small for the special ids")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        check_shape(self.d_model, self.n_heads, self.dropout)


class TextSeq2Seq(nn.Module):
    """Transformer encoder-decoder over token ids: source and target embeddings and a vocabulary
    head around the `core.py` stacks."""

    def __init__(self, config: TextSeq2SeqConfig) -> None:
        super().__init__()
        self.config = cfg = config
        self.src_emb = nn.Embedding(cfg.src_vocab_size, cfg.d_model)
        self.tgt_emb = nn.Embedding(cfg.tgt_vocab_size, cfg.d_model)
        dims = Dims(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.bias)
        self.enc_layers = Encoder(cfg.n_enc_layers, dims)
        self.dec_layers = Decoder(cfg.n_dec_layers, dims)
        self.enc_ln, self.dec_ln = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.tgt_vocab_size, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Same init as the pose model: N(0, 0.02), unit-scale embeddings, scaled residuals."""
        base_init(self)
        scale_residual_init(self.enc_layers, self.dec_layers)

    def count_parameters(self, trainable_only: bool = False) -> int:
        return count_parameters(self, trainable_only)

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Source ids (b, s) -> memory (b, s, d) and mask (b, s), True = real token."""
        if src.dim() != 2:
            raise UsageError(f"src must be (batch, seq), got {tuple(src.shape)}")
        mask = src != self.config.pad_id if src_mask is None else src_mask.bool()
        if not bool(mask.any(1).all()):
            raise UsageError("every source sequence needs at least one token")
        pos = sinusoidal_range(0, src.shape[1], self.config.d_model, src.device)
        x = self.drop(self.src_emb(src) + pos)  # (b, s, d)
        return self.enc_ln(self.enc_layers(x, mask)), mask

    def decode(
        self,
        tgt_in: Tensor,
        memory_kv: list[MemoryKV],
        memory_mask: Tensor,
        start: int = 0,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        """Decoder input ids (b, t) -> logits (b, t, tgt_vocab); `start` = position of tgt_in[0]."""
        pos = sinusoidal_range(start, tgt_in.shape[1], self.config.d_model, tgt_in.device)
        x = self.drop(self.tgt_emb(tgt_in) + pos)  # (b, t, d)
        return self.head(self.dec_ln(self.dec_layers(x, memory_kv, memory_mask, caches)))

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """Teacher forcing: `tgt` (b, t) right-padded targets ending in <eos>; output step i
        predicts tgt[:, i] from <bos> + tgt[:, :i]. Returns logits (b, t, tgt_vocab)."""
        memory, mask = self.encode(src, src_mask)
        bos = torch.full_like(tgt[:, :1], self.config.bos_id)
        tgt_in = torch.cat([bos, tgt[:, :-1]], 1)  # (b, t)
        return self.decode(tgt_in, self.dec_layers.memory_kv(memory), mask)

    def loss(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None) -> dict[str, Tensor]:
        """Token cross-entropy over non-pad targets, plus exact-sequence accuracy (teacher forced)."""
        cfg = self.config
        logits = self(src, tgt, src_mask)
        loss = F.cross_entropy(
            logits.flatten(0, 1),
            tgt.flatten(),
            ignore_index=cfg.pad_id,
            label_smoothing=cfg.label_smoothing,
        )
        valid = tgt != cfg.pad_id
        hit = logits.argmax(-1) == tgt  # (b, t)
        return {
            "loss": loss,
            "token_accuracy": (hit & valid).sum() / valid.sum().clamp(min=1),
            "sequence_accuracy": (hit | ~valid).all(1).float().mean(),
        }

    @torch.no_grad()
    def generate(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        max_len: int = 128,
        forced_first: Tensor | None = None,
        use_cache: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """Greedy decoding until <eos> (not returned) or `max_len` tokens per sequence.

        `forced_first` (b,) long: the first output token of each sequence, -1 = free (used to
        pin the language marker). Returns ids (b, T) right-padded with pad_id and lengths (b,).
        Runs in eval mode (restored afterwards).
        """
        if max_len < 1:
            raise UsageError(f"max_len must be >= 1, got {max_len}")
        cfg = self.config
        with eval_mode(self):
            memory, mask = self.encode(src, src_mask)
            b = src.shape[0]
            caches = self.dec_layers.new_caches(b, max_len, memory) if use_cache else None
            step = token_step(self.decode, self.dec_layers.memory_kv(memory), mask, caches)
            return greedy_decode(
                step, b, max_len, cfg.bos_id, cfg.eos_id, cfg.pad_id, src.device, forced_first
            )


# ----------------------------------------------------------------------------------------------
# Training data: prompts and LangGloss targets


class LangRecord(NamedTuple):
    """One sentence of a corpus: spoken text, its gloss (None/"" where the corpus has none), and
    the sign language (code, name or alias)."""

    text: str
    gloss: str | None
    language: str


class PromptPair(NamedTuple):
    """A training pair: the prompt, and the LangGloss target ``<gsg> WETTER <gsg> MORGEN``."""

    prompt: str
    target: str


def text_words(text: str) -> list[str]:
    """Spoken text as "gloss" words for languages without glosses: lower case, no punctuation."""
    return _WORD_RE.findall(text.lower())


def record_words(record: LangRecord | Sequence[Any]) -> list[str]:
    """The target words of a record: its gloss when it has one, else `text_words` of its text."""
    text, gloss, _ = record
    return gloss.split() if gloss and gloss.strip() else text_words(text)


def format_langgloss(language: str, words: Sequence[str]) -> str:
    """The paper's LangGloss string: the marker before every word (just the marker if none)."""
    marker = language_marker(language)
    return " ".join(f"{marker} {w}" for w in words) if words else marker


def parse_langgloss(target: str) -> tuple[str, list[str]]:
    """Inverse of `format_langgloss` (markers may also appear only once, first)."""
    parts = target.split()
    langs = {m.group(1) for p in parts if (m := _MARKER_RE.match(p))}
    if not parts or not _MARKER_RE.match(parts[0]) or len(langs) != 1:
        raise DataError(f"not a one-language LangGloss string (<code> WORD ...): {target!r}")
    return langs.pop(), [p for p in parts if not _MARKER_RE.match(p)]


def canonical_prompt(text: str, language: str) -> str:
    """The parser's view of a request, ``<gsg> text``: what the model translates in parse mode."""
    return f"{language_marker(language)} {text.strip()}"


def gloss_languages(records: Iterable[LangRecord | Sequence[Any]]) -> tuple[str, ...]:
    """Codes of the languages that have glosses in `records`, sorted."""
    reg = default_registry()
    return tuple(sorted({reg.get(r[2]).code for r in records if r[1] and r[1].strip()}))


def build_prompt_pairs(
    records: Iterable[LangRecord | Sequence[Any]],
    seed: int | str,
    n_templates_per_record: int = 2,
    *,
    name_variants: bool = True,
    canonical: bool = True,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> list[PromptPair]:
    """Training pairs (prompt, LangGloss target) from (text, gloss, language) records.

    Per record, drawn with a `random.Random` seeded by (seed, language, text), so a record's pairs
    do not depend on the order or on the other records:

    - `n_templates_per_record` distinct templates of the language's own prompt language (German
      for gsg), the language named as the template's language names it; a template that names
      no language gets the marker in front (``<gsg> Gebärde „…“.``), the caller's way of saying
      which language it means, as `PromptToLangGloss.translate(language=...)` does.
    - `name_variants`: one more prompt per way of naming the language (code, English, native and
      German names, aliases: gsg, DGS, GSL, German Sign Language, ...) in a template of any
      prompt language, so the model meets every name the parser accepts.
    - `canonical`: the parser's view ``<gsg> text`` (see `canonical_prompt`), used in parse mode.

    The target is the record's gloss, or for languages without glosses its spoken text
    (`text_words`): there the "gloss" is the sentence itself. Duplicate pairs are dropped.
    """
    if n_templates_per_record < 0:
        raise UsageError(f"n_templates_per_record must be >= 0, got {n_templates_per_record}")
    reg = registry if registry is not None else default_registry()
    tpls = tuple(default_templates() if templates is None else templates)
    named = sorted((t for t in tpls if t.has_language), key=lambda t: t.id)
    if name_variants and not named:
        raise UsageError("name_variants needs at least one template with a {language} slot")
    out: dict[PromptPair, None] = {}
    for record in records:
        if not (isinstance(record, Sequence) and len(record) == 3):
            raise UsageError(f"records are (text, gloss, language) triples, got {record!r}")
        text, _, language = record
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"record text must be a non-empty string, got {text!r}")
        lang = reg.get(language)
        text = text.strip()
        words = record_words(record)
        if not words:
            raise UsageError(f"record {text!r} has no words to sign")
        target = format_langgloss(lang.code, words)
        rng = random.Random(f"{seed}\x00{lang.code}\x00{text}")
        own = [t for t in tpls if t.lang == lang.spoken_language] or [
            t for t in tpls if t.lang == "en"
        ]
        own = sorted(own, key=lambda t: t.id)
        for t in rng.sample(own, min(n_templates_per_record, len(own))):
            if t.has_language:
                prompt = t.fill(text, lang.name_in(t.lang))
            else:
                prompt = canonical_prompt(t.fill(text), lang.code)
            out[PromptPair(prompt, target)] = None
        if name_variants:
            for name in lang.surface_names():
                out[PromptPair(rng.choice(named).fill(text, name), target)] = None
        if canonical:
            out[PromptPair(canonical_prompt(text, lang.code), target)] = None
    return list(out)


# ----------------------------------------------------------------------------------------------
# Prompt -> (language, LangGloss tokens)


class PromptToLangGloss(nn.Module):
    """Tokenizers + `TextSeq2Seq`: prompts in, (language code, target words) out.

    `prompt_tokenizer` must have a marker for every target language (canonical inputs and
    language-less templates use them); `gloss_languages` are the languages whose targets are
    glosses (the others use `text_words` of the text, so parse mode needs no model for them).
    """

    def __init__(
        self,
        prompt_tokenizer: SubwordTokenizer,
        target_vocab: LangWordVocab,
        config: TextSeq2SeqConfig | None = None,
        *,
        gloss_languages: Iterable[str] = (),
        tag_every_token: bool = False,
        mode: str = "auto",
        max_len: int = 128,
        registry: LanguageRegistry | None = None,
        templates: Sequence[Template] | None = None,
    ) -> None:
        super().__init__()
        _check_mode(mode)
        missing = [c for c in target_vocab.languages if c not in prompt_tokenizer.languages]
        if missing:
            raise UsageError(f"prompt tokenizer has no marker for {', '.join(missing)}")
        config = config or TextSeq2SeqConfig(prompt_tokenizer.vocab_size, target_vocab.vocab_size)
        _check_config(
            config,
            "tokenizers",
            src_vocab_size=prompt_tokenizer.vocab_size,
            tgt_vocab_size=target_vocab.vocab_size,
        )
        self.prompt_tokenizer = prompt_tokenizer
        self.target_vocab = target_vocab
        self.model = TextSeq2Seq(config)
        self.gloss_languages = tuple(sorted(set(gloss_languages)))
        self.tag_every_token = tag_every_token
        self.mode = mode
        self.max_len = max_len
        self.registry = registry
        self.templates = None if templates is None else tuple(templates)
        # language of every target id (-1: special), to split a decoded sequence by language
        langs = target_vocab.languages
        table = [-1] * target_vocab.num_special
        for t in target_vocab.tokens[target_vocab.num_special :]:
            table.append(langs.index(t.partition(LangWordVocab.SEPARATOR)[0]))
        self._token_lang = table
        self._marker_lang = {target_vocab.marker_id(c): k for k, c in enumerate(langs)}

    @classmethod
    def from_pairs(
        cls,
        pairs: Sequence[tuple[str, str]],
        *,
        prompt_vocab_size: int = 1000,
        lowercase: bool = True,
        **options: Any,
    ) -> PromptToLangGloss:
        """Train the prompt tokenizer and build the target vocabulary from `pairs`. `options`:
        the keyword options of `__init__` (gloss_languages, mode, max_len, ...); every other key
        is a `TextSeq2SeqConfig` field (d_model, n_heads, ...)."""
        if not pairs:
            raise UsageError("no training pairs")
        targets = [parse_langgloss(t) for _, t in pairs]
        vocab = LangWordVocab.build((code, " ".join(w)) for code, w in targets)
        tok = SubwordTokenizer.train(
            [p for p, _ in pairs],
            vocab_size=prompt_vocab_size,
            languages=vocab.languages,
            lowercase=lowercase,
        )
        keyword_only = [
            name
            for name, param in inspect.signature(cls.__init__).parameters.items()
            if param.kind is param.KEYWORD_ONLY
        ]
        init = {name: options.pop(name) for name in keyword_only if name in options}
        config = TextSeq2SeqConfig(tok.vocab_size, vocab.vocab_size, **options)
        return cls(tok, vocab, config, **init)

    def settings(self) -> dict[str, Any]:
        """JSON-able settings besides weights and tokenizers (for the checkpoint's config.json)."""
        return {
            "model": self.model.config.to_dict(),
            "gloss_languages": list(self.gloss_languages),
            "tag_every_token": self.tag_every_token,
            "mode": self.mode,
            "max_len": self.max_len,
        }

    # -- encoding ----------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_prompts(self, prompts: Sequence[str]) -> Tensor:
        """Prompt strings -> source ids (b, s), right-padded."""
        seqs = [self.prompt_tokenizer.encode(p) or [UNK_ID] for p in prompts]
        return pad_sequences(seqs, PAD_ID, self.device)

    def encode_targets(self, targets: Sequence[str]) -> Tensor:
        """LangGloss strings -> target ids (b, t) ending in <eos>, right-padded."""
        seqs = []
        for target in targets:
            code, words = parse_langgloss(target)
            seqs.append(
                self.target_vocab.encode(
                    " ".join(words),
                    language=code,
                    tag_every_token=self.tag_every_token,
                    add_eos=True,
                )
            )
        return pad_sequences(seqs, PAD_ID, self.device)

    def encode_pairs(self, pairs: Sequence[tuple[str, str]]) -> tuple[Tensor, Tensor]:
        return self.encode_prompts([p for p, _ in pairs]), self.encode_targets(
            [t for _, t in pairs]
        )

    # -- training ----------------------------------------------------------------------------

    def train_step(
        self,
        batch: Sequence[tuple[str, str]] | tuple[Tensor, Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> dict[str, float]:
        """One optimizer step on (prompt, target) pairs or pre-encoded (src, tgt) tensors."""
        if isinstance(batch, tuple) and isinstance(batch[0], Tensor):
            src, tgt = batch
        else:
            src, tgt = self.encode_pairs(batch)  # type: ignore[arg-type]
        self.train()
        out = self.model.loss(src, tgt)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
        optimizer.step()
        return {k: float(v.detach()) for k, v in out.items()}

    def fit(
        self,
        pairs: Sequence[tuple[str, str]],
        steps: int = 300,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        warmup: int = 20,
        seed: int = 0,
        callback: Callable[[int, float], None] | None = None,
    ) -> list[float]:
        """A small seeded training loop (AdamW, linear warmup, cosine decay to lr/10).

        Enough to fit this text model on a corpus that fits in memory; returns the step losses.
        `callback(step, loss)` after each step (progress reporting).
        """
        if not pairs or steps < 1:
            raise UsageError("fit needs training pairs and steps >= 1")
        src, tgt = self.encode_pairs(pairs)
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(
            self.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay
        )
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, steps))
        losses = []
        n = src.shape[0]
        for _ in range(steps):
            idx = torch.randperm(n, generator=g)[: min(batch_size, n)].to(src.device)
            s, t = src[idx], tgt[idx]
            # trim columns that are padding in the whole batch
            s = s[:, : int((s != PAD_ID).sum(1).max())]
            t = t[:, : int((t != PAD_ID).sum(1).max())]
            losses.append(self.train_step((s, t), opt)["loss"])
            sched.step()
            if callback is not None:
                callback(len(losses), losses[-1])
        return losses

    # -- inference ---------------------------------------------------------------------------

    def _check_language(self, code: str) -> None:
        if code not in self.target_vocab.languages:
            raise UsageError(
                f"no training data for sign language {code!r}: this model knows "
                f"{', '.join(self.target_vocab.languages)}"
            )

    def route(
        self, prompt: str, language: str | None = None, mode: str | None = None
    ) -> tuple[str, str | None, str | None]:
        """How a prompt will be handled: (path "learned" | "parse", text, language code).

        text and language come from the parser on the parse path; language is the resolved
        `language` argument (or None) on the learned path.
        """
        mode = _check_mode(mode or self.mode)
        reg = self.registry if self.registry is not None else default_registry()
        default = reg.get(language).code if language is not None else None
        if mode == "learned":
            return "learned", None, default
        if mode == "parse":
            text, code = parse_prompt(prompt, registry=self.registry, templates=self.templates)
        else:
            found = match_template(prompt, registry=self.registry, templates=self.templates)
            if found is None or (found[2] or default) is None:
                return "learned", None, default
            _, text, code = found
        code = code or default
        if code is None:
            raise UsageError(
                f"the prompt names no sign language; pass language= or name it: {prompt!r}"
            )
        return "parse", text, code

    def translate(
        self, prompts: Sequence[str], language: str | None = None, mode: str | None = None
    ) -> list[tuple[str | None, list[str]]]:
        """Prompts -> [(language code, target words)] (words without their ``code:`` prefix).

        `language` (code, name or alias) is the sign language for prompts that name none; on the
        learned path it is given to the model as the leading marker and pins the first output.
        The language is None only when a learned decoding emitted no token of any language.
        """
        if isinstance(prompts, str):
            raise UsageError("translate takes a list of prompts")
        results: list[tuple[str | None, list[str]] | None] = [None] * len(prompts)
        model_in: list[tuple[int, str, str | None]] = []  # (index, model input, forced language)
        for i, prompt in enumerate(prompts):
            path, text, code = self.route(prompt, language, mode)
            if code is not None:
                self._check_language(code)
            if path == "learned":
                src = prompt if code is None else canonical_prompt(prompt, code)
                model_in.append((i, src, code))
            elif code in self.gloss_languages:
                model_in.append((i, canonical_prompt(text or "", code), code))
            else:  # no glosses in this language: the text's words are its tokens
                results[i] = (code, text_words(text or ""))
        if model_in:
            src = self.encode_prompts([s for _, s, _ in model_in])
            forced = torch.tensor(
                [-1 if c is None else self.target_vocab.marker_id(c) for _, _, c in model_in]
            )
            ids, lengths = self.model.generate(src, max_len=self.max_len, forced_first=forced)
            for (i, _, _), row, n in zip(model_in, ids.tolist(), lengths.tolist(), strict=True):
                results[i] = self.decode_target(row[:n])
        return results  # type: ignore[return-value]

    def decode_target(self, ids: Sequence[int]) -> tuple[str | None, list[str]]:
        """Target ids -> (language, words): the first marker's language (else the first word's);
        words of another language are dropped, since they cannot be signed in this one."""
        langs = self.target_vocab.languages
        li = next((self._marker_lang[i] for i in ids if i in self._marker_lang), None)
        if li is None:  # no marker: the language of the first word
            li = next((self._token_lang[i] for i in ids if self._token_lang[i] >= 0), None)
        if li is None:
            return None, []
        words = []
        for i in ids:
            if i == UNK_ID:
                words.append(self.target_vocab.id_to_token(i))
            elif self._token_lang[i] == li:
                token = self.target_vocab.id_to_token(i)
                words.append(token.partition(LangWordVocab.SEPARATOR)[2])
        return langs[li], words


def _check_config(config: Any, of: str, **expected: int) -> None:
    """Refuse a model config built for other tokenizers: its ids would silently mean other
    tokens. `expected`: config field -> the value the tokenizers give it."""
    have, want = tuple(getattr(config, k) for k in expected), tuple(expected.values())
    if have != want:
        raise UsageError(f"config {'/'.join(expected)} {have} != {of} {want}")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


# ----------------------------------------------------------------------------------------------
# LangGloss -> poses: one shared pose model


class SharedPoseModel(nn.Module):
    """One `ProgressiveTransformer` for every language; its vocabulary is language-tagged:
    a `LangCharVocab` (words with a character fallback) or a `LangWordVocab`."""

    def __init__(
        self,
        vocab: LangCharVocab | LangWordVocab,
        config: ProgressiveConfig,
        tag_every_token: bool = False,
    ) -> None:
        super().__init__()
        _check_config(config, "vocabulary", vocab_size=vocab.vocab_size, pad_id=vocab.pad_id)
        self.vocab = vocab
        self.tag_every_token = tag_every_token
        self.model = ProgressiveTransformer(config)

    @classmethod
    def from_vocab(
        cls,
        vocab: LangCharVocab | LangWordVocab,
        preset: str = "tiny",
        tag_every_token: bool = False,
        **overrides: Any,
    ) -> SharedPoseModel:
        cfg = preset_config(
            preset, **{"vocab_size": vocab.vocab_size, "pad_id": vocab.pad_id, **overrides}
        )
        return cls(vocab, cfg, tag_every_token)

    @property
    def config(self) -> ProgressiveConfig:
        return self.model.config

    def encode(self, items: Sequence[tuple[str, Sequence[str]]]) -> tuple[Tensor, Tensor]:
        """[(language, words)] -> token ids (b, s) and mask (b, s); the marker is always there."""
        seqs = [
            self.vocab.encode(" ".join(words), language=code, tag_every_token=self.tag_every_token)
            for code, words in items
        ]
        if not seqs:
            raise UsageError("no sequences to encode")
        ids = pad_sequences(seqs, self.vocab.pad_id, next(self.parameters()).device)
        return ids, ids != self.vocab.pad_id

    def loss(
        self,
        items: Sequence[tuple[str, Sequence[str]]],
        frames: Tensor,
        frame_mask: Tensor | None = None,
        joint_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """`ProgressiveTransformer.loss` on LangGloss inputs; frames (b, t, pose_dim + 1)."""
        tokens, mask = self.encode(items)
        return self.model.loss(tokens, mask, frames, frame_mask, joint_mask)

    def generate(
        self, items: Sequence[tuple[str, Sequence[str]]], max_frames: int = 300, **kw: Any
    ) -> dict[str, Tensor]:
        """Honest decoding (`ProgressiveTransformer.generate`) from LangGloss inputs."""
        tokens, mask = self.encode(items)
        return self.model.generate(tokens, mask, max_frames=max_frames, **kw)


def prompts_to_poses(
    prompts: Sequence[str],
    text_model: PromptToLangGloss,
    pose_model: SharedPoseModel,
    *,
    language: str | None = None,
    mode: str | None = None,
    max_frames: int = 300,
) -> list[tuple[str, list[str], Tensor]]:
    """Prompts -> [(language, words, frames (T_i, joints, 3))], both stages batched."""
    translated = text_model.translate(prompts, language=language, mode=mode)
    for prompt, (code, _) in zip(prompts, translated, strict=True):
        if code is None:
            raise UsageError(f"could not tell which sign language is meant: {prompt!r}")
    items = [(code, words) for code, words in translated]
    gen = pose_model.generate(items, max_frames=max_frames)  # type: ignore[arg-type]
    j = pose_model.config.n_joints
    return [
        (code, words, gen["pose"][i, : int(n)].reshape(int(n), j, 3))  # type: ignore[misc]
        for i, ((code, words), n) in enumerate(zip(items, gen["lengths"].tolist(), strict=True))
    ]


def prompt_to_pose(
    prompt: str, text_model: PromptToLangGloss, pose_model: SharedPoseModel, **options: Any
) -> tuple[str, list[str], Tensor]:
    """One prompt -> (language code, LangGloss words, frames (T, joints, 3)); `options` are those
    of `prompts_to_poses` (language, mode, max_frames)."""
    return prompts_to_poses([prompt], text_model, pose_model, **options)[0]


__all__ = [
    "MODES",
    "LangRecord",
    "PromptPair",
    "PromptToLangGloss",
    "SharedPoseModel",
    "TextSeq2Seq",
    "TextSeq2SeqConfig",
    "build_prompt_pairs",
    "canonical_prompt",
    "format_langgloss",
    "gloss_languages",
    "parse_langgloss",
    "prompt_to_pose",
    "prompts_to_poses",
    "record_words",
    "text_words",
]
