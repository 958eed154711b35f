"""The Python API: text (or a prompt) + a sign language in, a signing skeleton out.

    >>> import signllm
    >>> pose = signllm.translate("guten morgen", "DGS")          # doctest: +SKIP
    >>> t = signllm.Translator().translate("How would you sign 'water' in ASL?")  # doctest: +SKIP
    >>> t.pose, t.fingerspelled                                   # doctest: +SKIP

The CLI (`signllm translate`) and the HTTP server wrap exactly this. A `Translator` loads its
models once. Words with a recording in the user's sign lexicon (`lexicon=DIR`, spoken-to-signed's
index.csv layout) are signed from it; the model signs the rest. A model with a character-aware
tokenizer (`CharVocab`, the training default) signs every other word itself: a word it has no
token for goes in as a fingerspelled gloss (``fs-REGEN``: its letters), which it learned from
fingerspelled clips. With a word-level tokenizer (older models, such as the shipped default)
words the model never saw are fingerspelled from real letter recordings (20 sign languages ship
in the package). The result says per word which of these signed it. All pieces are brought into
the one signing space and joined by eased transitions long enough that no joint jumps.

A model folder is either one checkpoint (`signllm train` output: config.json + model.safetensors
+ tokenizers) or a bundle with up to three of them: `mlsf/` (one group per language), `prompt/`
(the shared Prompt2LangGloss pose model) and `prompt_text/` (its prompt -> gloss text model).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .assets import default_model_dir
from .errors import DataError, UsageError
from .languages import all_languages, get_language
from .models.core import pad_sequences
from .pose import Pose, PoseMeta
from .skeleton import NUM_JOINTS

_PUNCT = ".,;:!?\"'()[]{}«»„“”‘’"
MODES = ("auto", "mlsf", "prompt", "fingerspelling")
DEFAULT_FPS = 25.0
TRANSITION_FRAMES = 6  # at least; longer where the poses to join lie far apart:
# no joint moves faster than this (shoulder widths per second) through a join between pieces;
# the bundled DSGS recordings move up to 10-25 sw/s frame to frame (tracking jitter included)
JOIN_MAX_SPEED = 4.0
# Longest run of model words decoded at once: the length head plans each run's length, so this
# only stops a runaway; the output cap (`max_frames`) is applied to the joined whole, reported.
RUN_MAX_FRAMES = 1000


@dataclass(frozen=True)
class Word:
    """How one input word was signed: `source` "model" | "lexicon" (a recording of the user's
    sign lexicon) | "fingerspelled" | "dropped".

    `gloss` is what the model signed for it where that is not the word itself (prompt mode's
    text stage maps words to glosses); `reason` says why a word was fingerspelled or dropped.
    An entry with `word` "" is a gloss the text stage produced that matches no input word.
    """

    word: str
    source: str
    reason: str = ""
    gloss: str = ""

    def to_dict(self) -> dict[str, str]:
        d = {"word": self.word, "source": self.source}
        return d | {k: v for k, v in (("gloss", self.gloss), ("reason", self.reason)) if v}


@dataclass
class Translation:
    pose: Pose
    language: str  # ISO 639-3
    mode: str  # "mlsf" | "prompt"; "lexicon" | "fingerspelling": no word signed by a model
    words: list[Word] = field(default_factory=list)  # every input word, in order
    text: str = ""  # the text that was signed (the quoted part of a prompt)
    prompt_stage: str | None = None  # prompt mode's text stage: "learned" | "template"
    frames_needed: int = 0  # frames of the whole text; more than pose.num_frames if cut
    max_frames: int | None = None  # the cap it was cut at (None: no cap)
    # the pieces in the pose: (first frame, end frame, "model" | "lexicon" | "fingerspelled");
    # the frames between two pieces are the eased transition joining them
    pieces: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.frames_needed > self.pose.num_frames

    @property
    def fingerspelled(self) -> list[str]:
        return [w.word for w in self.words if w.source == "fingerspelled"]

    @property
    def from_lexicon(self) -> list[str]:
        return [w.word for w in self.words if w.source == "lexicon"]

    @property
    def dropped(self) -> list[str]:
        return [w.word for w in self.words if w.source == "dropped"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "mode": self.mode,
            "prompt_stage": self.prompt_stage,
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
            "fingerspelled": self.fingerspelled,
            "lexicon": self.from_lexicon,
            "dropped": self.dropped,
            "frames": self.pose.num_frames,
            "frames_needed": self.frames_needed,
            "truncated": self.truncated,
            "fps": self.pose.fps,
            "pieces": [{"start": a, "end": b, "source": k} for a, b, k in self.pieces],
        }


class Translator:
    """Loads the models once; `translate` is thread-safe (one generation at a time)."""

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        lexicon: str | Path | list[str | Path] | None = None,
        fingerspelling: str | Path | None = None,
        device: str = "cpu",
        max_frames: int | None = None,
        fps: float = DEFAULT_FPS,
        threads: int | None = 1,
        model_spells: bool = False,
    ) -> None:
        from .train.checkpoint import load_checkpoint

        if threads is not None and device == "cpu":
            # batch-1 decoding of small models is per-step overhead, not arithmetic: one thread
            # is fastest, and more threads on a busy machine spin (measured 0.05 s vs 5.6 s at
            # load 5 on 2 cores). None leaves torch's own setting alone.
            torch.set_num_threads(threads)

        root = Path(checkpoint) if checkpoint is not None else default_model_dir()
        if not root.exists():
            raise UsageError(
                f"no model at {root}"
                + ("" if checkpoint else ": train one with `signllm train`, or pass --model DIR")
            )
        self.root = root
        self.device = device
        self.max_frames = max_frames
        self.fps = fps
        # A character-aware model can spell any word, but real letter recordings are read
        # better (the shipped model's spelling of held-out words: 0.60 character accuracy, the
        # letters': 0.94; MODEL_CARD.md). So words the model was not trained on are spelled from
        # the letters where the language has them; `model_spells=True` lets the model spell.
        self.model_spells = model_spells
        self._lock = threading.Lock()
        self.mlsf = self.prompt = self.prompt_text = None
        if (root / "config.json").exists() or not root.is_dir():
            ckpt = load_checkpoint(root, device=device)
            setattr(self, "mlsf" if ckpt.config["mode"] == "mlsf" else "prompt", ckpt)
        else:
            # a part that is there must load: a broken one is an error naming it, never skipped
            if (root / "mlsf").exists():
                self.mlsf = load_checkpoint(root / "mlsf", device=device)
            if (root / "prompt").exists():
                self.prompt = load_checkpoint(root / "prompt", device=device)
        if (root / "prompt_text").exists():
            from .train.prompt_text import load_prompt_text

            self.prompt_text = load_prompt_text(root / "prompt_text", device=device)
        if self.mlsf is None and self.prompt is None:
            raise UsageError(
                f"{root} holds no SignLLM checkpoint (config.json + model.safetensors)"
            )
        from .data.signs import load_signs

        self.lexicon = load_signs(lexicon)  # the user's recorded signs (None: none)
        self._letters_path = fingerspelling
        self._letters: Any = None
        self._rest: tuple[np.ndarray | None] | None = None  # `_rest_pose`, found on first use
        self.card = self._read_card()

    # -- what it can do ----------------------------------------------------------------------

    def _read_card(self) -> dict[str, Any]:
        from .safeio import read_json

        p = self.root / "model_card.json"
        if not p.exists():
            return {}
        card = read_json(p, "model card")
        if not isinstance(card, dict):
            raise DataError("a model card must be a JSON object", p)
        return card

    @property
    def letters(self) -> Any:
        """The fingerspelling lexicon (`fingerspelling=DIR`, else the letters in the package)."""
        if self._letters is None:
            from .data.fingerspell import default_lexicon, load_lexicon

            self._letters = (
                load_lexicon(self._letters_path) if self._letters_path else default_lexicon()
            )
        return self._letters

    def _letters_for(self, code: str) -> Any:
        """word -> True when real letter recordings should spell it (None: the model spells)."""
        if self.model_spells:
            return None
        letters = self.letters
        if code not in letters.languages:
            return None
        return lambda word: letters.can_spell(word, code)

    def model_languages(self, mode: str) -> list[str]:
        ckpt = self.mlsf if mode == "mlsf" else self.prompt
        return list(ckpt.config["languages"]) if ckpt is not None else []

    def languages(self) -> list[dict[str, Any]]:
        """Every registry language, with what this translator can do for it."""
        fs = set(self.letters.languages)
        signs = set(self.lexicon.languages) if self.lexicon is not None else set()
        models = set(self.model_languages("mlsf")) | set(self.model_languages("prompt"))
        return [
            {
                "code": lang.code,
                "name": lang.name,
                "aliases": list(lang.aliases),
                "spoken_languages": list(lang.spoken_languages),
                "model": lang.code in models,
                "modes": [m for m in ("mlsf", "prompt") if lang.code in self.model_languages(m)],
                "fingerspelling": lang.code in fs,
                "lexicon": lang.code in signs,
            }
            for lang in all_languages()
        ]

    # -- translating -------------------------------------------------------------------------

    def translate(
        self,
        text: str,
        language: str | None = None,
        mode: str = "auto",
        max_frames: int | None = None,
    ) -> Translation:
        """Sign `text` (a sentence, or a prompt naming the text and the language).

        The whole text is signed; with a cap (`max_frames`, else the translator's) the pose is
        cut there and the result says so (`truncated`, `frames_needed`).
        """
        from .data.prompts import parse_prompt

        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if not isinstance(text, str) or not text.strip():
            raise UsageError("empty text: give a sentence or a prompt to sign")
        parsed, named = parse_prompt(text.strip())
        code = get_language(language).code if language else named
        if code is None:
            raise UsageError(
                "which sign language? pass a language (e.g. --lang ase) or name one in the prompt"
            )
        text = parsed.strip() or text.strip()
        limit = self.max_frames if max_frames is None else max_frames
        if limit is not None and limit < 1:
            raise UsageError(f"max_frames must be >= 1 (or None: no cap), got {limit}")
        asked, mode = mode, self._pick_mode(code, mode)
        stage = None
        with self._lock, torch.inference_mode():
            if mode == "mlsf":
                plan = self._plan_mlsf(text, code)
            elif mode == "prompt":
                plan, stage = self._plan_prompt(text, code)
            else:
                plan = [("fingerspell", w) for w in _words(text)]
            if self.lexicon is not None and asked != "fingerspelling":
                plan = self._plan_signs(plan, code)
            segments, kinds, words = self._realise(plan, code, mode)
        if not segments:
            raise UsageError(
                f"nothing to sign: none of the words of {text!r} is known to the model or "
                f"spellable in {code}" + self._letters_hint(code)
            )
        if not any(w.source == "model" for w in words):  # say what happened, not what was asked
            lexicon = any(w.source == "lexicon" for w in words)
            mode = "lexicon" if lexicon else "fingerspelling"
        spans: list[tuple[int, int]] = []
        pose = self._join(segments, spans)
        needed = pose.num_frames
        pieces = [(a, b, k) for (a, b), k in zip(spans, kinds, strict=True)]
        if limit is not None and needed > limit:
            pose = pose.select_frames(slice(0, limit))
            pieces = [(a, min(b, limit), k) for a, b, k in pieces if a < limit]
        pose.meta = PoseMeta(id="translation", language=code, text=text, source=str(self.root))
        pose.meta.extra.update({"generated": True, "mode": mode, "prompt_stage": stage,
                                "words": [w.to_dict() for w in words],
                                "frames_needed": needed})  # fmt: skip
        return Translation(pose=pose, language=code, mode=mode, words=words, text=text,
                           prompt_stage=stage, frames_needed=needed, max_frames=limit,
                           pieces=pieces)  # fmt: skip

    def _pick_mode(self, code: str, mode: str) -> str:
        available = [m for m in ("mlsf", "prompt") if code in self.model_languages(m)]
        if mode == "auto":
            return available[0] if available else "fingerspelling"
        if mode == "fingerspelling" or mode in available:
            return mode
        have = ", ".join(self.model_languages(mode)) or "none"
        raise UsageError(
            f"the {mode} model has no {code}; its languages: {have} (or use mode fingerspelling)"
        )

    def _plan_mlsf(self, text: str, code: str) -> list[tuple[str, ...]]:
        from .text.tokenizers import UNK_ID, CharVocab, split_words

        tok = self.mlsf.tokenizers[code]
        if isinstance(tok, CharVocab):
            spell = self._letters_for(code)
            return [_char_step(tok, w, code, spell=spell) for w in split_words(text)]
        kind = self.mlsf.config.get("inputs", {}).get(code, "text")
        # gloss inputs keep their case (glosses are upper-case words), not their punctuation
        words = [w.strip(_PUNCT) for w in text.split()] if kind == "gloss" else _words(text)
        words = [w for w in words if w]
        return [("model" if _token_id(tok, w) != UNK_ID else "fingerspell", w) for w in words]

    def _plan_prompt(self, text: str, code: str) -> tuple[list[tuple[str, ...]], str]:
        """Words -> glosses of the pose model, by the learned text stage where the model has
        one for `code`, else by spelling (the template stage: the prompt was split by templates
        and each word is its own gloss). Returns the plan and the stage that ran.

        The learned stage writes glosses, not words: each gloss is matched to the input word it
        spells (in order); a word with no gloss is fingerspelled when the stage has no gloss for
        it (its vocabulary is closed), and dropped, with that reason, when it has one but left it
        out. Glosses that match no word are signed and reported with word "". A character-aware
        pose model signs every gloss and word itself (spelling the ones it has no sign for).
        """
        from .text.tokenizers import UNK_ID, CharVocab, split_words

        vocab = self.prompt.tokenizers[code]
        chars = isinstance(vocab, CharVocab)
        spell = self._letters_for(code)
        words = split_words(text) if chars else _words(text)
        known = _gloss_index(vocab, code)  # spelling key -> the pose model's gloss
        tm = self.prompt_text
        if tm is None or code not in tm.gloss_languages:
            plan: list[tuple[str, ...]] = []
            for w in words:
                g = known.get(_key(w))
                if chars:
                    step = _char_step(vocab, g or w, code, w, spell)
                    plan.append((*step[:4], g) if g and len(step) == 4 else step)
                else:
                    plan.append(("model", g, w, "") if g else
                                ("fingerspell", w, w, "no gloss for it in the model"))  # fmt: skip
            return plan, "template"
        # learned mode with `language` gives the model `<gsg> text`, as in training (the
        # prompt itself was split already; a second marker in front made it another input)
        lang, glosses = tm.translate([text], language=code, mode="learned")[0]
        glosses = list(glosses) if lang == code else []
        stage_vocab = _gloss_index(tm.target_vocab, code)
        matched: dict[int, int] = {}  # gloss index -> word index, monotone
        nxt = 0
        for gi, g in enumerate(glosses):
            k = next((i for i in range(nxt, len(words)) if _key(words[i]) == _key(g)), None)
            if k is not None:
                matched[gi], nxt = k, k + 1
        events: list[tuple[int, int, int, tuple[str, ...]]] = []  # (word pos, order, gi, step)
        last = -1
        for gi, g in enumerate(glosses):
            w = words[matched[gi]] if gi in matched else ""  # "": a gloss of no input word
            last = matched.get(gi, last)
            why = "" if w else "the learned prompt stage wrote it for no input word"
            step: tuple[str, ...]
            if chars:
                step = (*_char_step(vocab, g, code, w, spell)[:3], why, g)
            elif _token_id(vocab, f"{code}:{g}") not in (None, UNK_ID):
                step = ("model", g, w, why, g)
            elif w or g.startswith("fs-"):  # a gloss the pose model lacks: spell its word
                why = f"the pose model has no sign for the gloss {g}"
                step = ("fingerspell", w or g[3:].lower(), w, why, g)
            else:
                step = ("drop", "", w, "the pose model has no sign for this gloss", g)
            events.append((last, 1 if gi in matched else 2, gi, step))
        covered = set(matched.values())
        for i, w in enumerate(words):
            if i in covered:
                continue
            if _key(w) in stage_vocab:
                step = ("drop", "", w, "the learned prompt stage left it out")
            elif chars:
                step = (
                    *_char_step(vocab, w, code, w, spell)[:3],
                    "the learned prompt stage has no gloss for it",
                )
            else:
                step = ("fingerspell", w, w, "the learned prompt stage has no gloss for it")
            events.append((i, 0, 0, step))
        return [e[3] for e in sorted(events)], "learned"

    def _plan_signs(self, plan: list[tuple[Any, ...]], code: str) -> list[tuple[Any, ...]]:
        """Steps whose words (longest run first), else whose gloss or word, the sign lexicon has
        a recording of become ("lexicon", entry, word, reason, gloss); the other words of a
        multi-word entry ("guten morgen") become ("covered", text, word, reason, ""). A word
        the prompt stage left out is signed too when the user has a recording of it."""
        steps = [(how, token, *info, "", "", "")[:5] if info else (how, token, token, "", "")
                 for how, token, *info in plan]  # fmt: skip
        words = [w for _h, _t, w, _r, _g in steps]
        out: list[tuple[Any, ...]] = []
        i = 0
        while i < len(steps):
            how, token, word, _reason, gloss = steps[i]
            hit = self.lexicon.match(words, i, code) if word else None
            if hit is not None:
                n, entry = hit
                out.append(("lexicon", entry, word, "", gloss))
                for _h, _t, w, _r, _g in steps[i + 1 : i + n]:
                    out.append(("covered", entry.text, w, f"signed with {entry.text!r}", ""))
                i += n
                continue
            entry = None
            if how != "drop" or word:
                for g in dict.fromkeys(x for x in (gloss, token if how == "model" else "", word)
                                       if x and isinstance(x, str)):  # fmt: skip
                    entry = self.lexicon.lookup(g, code, gloss=True)
                    if entry is not None:
                        break
            out.append(("lexicon", entry, word, "", gloss) if entry else steps[i])
            i += 1
        return out

    def _realise(
        self, plan: list[tuple[Any, ...]], code: str, mode: str
    ) -> tuple[list[Pose], list[str], list[Word]]:
        """Group consecutive model words into runs; generate all runs in one batch. Returns the
        pieces to join, what made each ("model" | "lexicon" | "fingerspelled") and the words.

        A plan step is (how, token) or (how, token, word, reason[, gloss]): how is "model"
        (token: what the model is given, e.g. ``fs-REGEN`` for an unknown word of a
        character-aware model), "fingerspell" (token: the letters), "lexicon" (token: the sign
        lexicon's entry), "covered" (a word signed by the lexicon entry before it) or "drop";
        word is the input word it reports (default: token).
        """
        from .data.signs import key

        runs: list[list[str]] = []
        order: list[tuple[str, Any]] = []
        words: list[Word] = []
        letters = self.letters if any(step[0] == "fingerspell" for step in plan) else None
        for how, token, *info in plan:
            word, reason, gloss = (*info, "", "")[:3] if info else (token, "", "")
            if how == "model":
                if order and order[-1][0] == "run":
                    runs[order[-1][1]].append(token)
                else:
                    order.append(("run", len(runs)))
                    runs.append([token])
                words.append(Word(word, "model", reason, gloss or (token if token != word else "")))
            elif how == "lexicon":
                order.append(("sign", token))
                g = gloss or (token.gloss if key(token.gloss) != key(word) else "")
                words.append(Word(word, "lexicon", reason, g))
            elif how == "covered":
                words.append(Word(word, "lexicon", reason, gloss))
            elif how == "drop":
                words.append(Word(word, "dropped", reason, gloss))
            elif code in letters.languages and letters.can_spell(token, code):
                order.append(("fs", token))
                words.append(Word(word, "fingerspelled", reason or "not in the model", gloss))
            else:
                why = (f"no fingerspelling alphabet for {code}"
                       if code not in letters.languages
                       else f"letters not in the {code} fingerspelling alphabet")  # fmt: skip
                why += self._letters_hint(code)
                words.append(Word(word, "dropped", f"{reason or 'not in the model'}; {why}", gloss))
        generated = self._generate(runs, code, mode) if runs else []
        segments = []
        for kind, item in order:
            if kind == "run":
                segments.append(generated[item])
            elif kind == "sign":
                segments.append(self.lexicon.clip(item, fps=self.fps))
            else:
                segments.append(letters.compose(item, code, fps=self.fps))
        kinds = [{"run": "model", "sign": "lexicon", "fs": "fingerspelled"}[k] for k, _ in order]
        return segments, kinds, words

    def _letters_hint(self, code: str) -> str:
        """One line on how to get the letters, where the missing ones are the reason."""
        from .data.fingerspell import INSTALL_HINT

        letters = self.letters
        if code in letters.languages or not letters.is_sample:
            return ""
        return f" (only a sample of fingerspelling letters is installed: {INSTALL_HINT})"

    def _generate(self, runs: list[list[str]], code: str, mode: str) -> list[Pose]:
        ckpt = self.mlsf if mode == "mlsf" else self.prompt
        if mode == "mlsf":
            tok = ckpt.tokenizers[code]
            seqs = [tok.encode(" ".join(r), language=code) for r in runs]
            ids = pad_sequences(seqs, tok.pad_id, self.device)
            mask = ids != tok.pad_id
            cap = min(RUN_MAX_FRAMES, ckpt.model.group(code).config.max_positions)
            out = ckpt.model.generate(code, ids, mask, max_frames=cap)
        else:
            cap = min(RUN_MAX_FRAMES, ckpt.model.config.max_positions)
            out = ckpt.model.generate([(code, r) for r in runs], max_frames=cap)
        poses = []
        for i, n in enumerate(out["lengths"].tolist()):
            n = max(1, int(n))
            frames = out["pose"][i, :n].reshape(n, -1, 3)  # (t, j, 3) standardised
            data = ckpt.stats.denormalize(frames).astype(np.float32)
            poses.append(Pose(data, np.ones(data.shape[:2], np.float32), fps=self.fps))
        return poses

    def _rest_pose(self) -> np.ndarray | None:
        """The loaded pose model's rest pose (J, 3) in the signing space: the body its kinematic
        head was fitted with, one consistent skeleton. (Per-joint mean positions are not: a
        hand's joints are tracked in different frames, so their means make no hand.)"""
        if self._rest is None:  # once per Translator: the models do not change
            from .models.kinematic import KinematicHead

            heads = (
                m
                for ckpt in (self.mlsf, self.prompt)
                if ckpt is not None
                for m in ckpt.model.modules()
                if isinstance(m, KinematicHead)
            )
            rests = (m.rest.detach().cpu().numpy().astype(np.float32) for m in heads)
            found = (r for r in rests if r.shape == (NUM_JOINTS, 3) and np.abs(r).max() > 0)
            self._rest = (next(found, None),)
        return self._rest[0]

    def _join(self, segments: list[Pose], spans: list[tuple[int, int]]) -> Pose:
        from .data.fingerspell import in_signing_space, join
        from .data.space import keep_body, rest_hand
        from .skeleton import median_bone_lengths

        segments = in_signing_space(segments)  # one place: neck at 0, unit shoulder width
        rest = self._rest_pose()
        if rest is not None:  # letters track the active hand only: the other one rests
            segments = [rest_hand(s, rest) for s in segments]
        # one signer: every piece on the same bones (pieces come from different recordings),
        # before the joins so that transitions ease between two poses of one body
        lengths = median_bone_lengths(
            np.concatenate([s.data for s in segments]),
            np.concatenate([s.mask for s in segments]),
            segments[0].skel,
        )
        segments = [keep_body(s, lengths) for s in segments]
        if len(segments) == 1:
            spans.append((0, segments[0].num_frames))
            return segments[0]
        max_step = JOIN_MAX_SPEED / self.fps
        data, conf = join(
            segments, TRANSITION_FRAMES, 0, max_step=max_step, spans=spans, lengths=lengths
        )
        return Pose(data, conf, fps=self.fps)


def _words(text: str) -> list[str]:
    from .models.prompt2langgloss import text_words

    return text_words(text)


def _key(word: str) -> str:
    """A word or gloss as spelling alone: "fs-" prefix, case and umlaut spelling ignored."""
    w = word[3:] if word.startswith("fs-") else word
    w = w.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        w = w.replace(a, b)
    return w


def _gloss_index(vocab: Any, code: str) -> dict[str, str]:
    """key -> gloss for `code`'s glosses in a language-tagged vocabulary; a sign's own gloss
    (REGEN) wins over its fingerspelled one (fs-REGEN)."""
    prefix = f"{code}:"
    out: dict[str, str] = {}
    for t in getattr(vocab, "tokens", ()):
        if t.startswith(prefix):
            g = t[len(prefix) :]
            if _key(g) not in out or out[_key(g)].startswith("fs-"):
                out[_key(g)] = g
    return out


def _char_step(
    tok: Any, word: str, code: str, reported: str | None = None, spell: Any = None
) -> tuple[str, ...]:
    """A character-aware model signs the words it was trained on; any other word (or
    fingerspelled gloss) is spelled from real letter recordings when `spell(word)` says the
    alphabet has its letters, else by the model itself, letter by letter, as it learned from
    fingerspelled clips."""
    from .text.tokenizers import FINGERSPELL_PREFIX, UNK

    shown = word if reported is None else reported
    if word == UNK:  # a text stage that produced <unk> gives nothing to spell
        return ("drop", "", shown, "the text stage gave <unk>")
    if word.startswith(FINGERSPELL_PREFIX):
        letters_of = word[len(FINGERSPELL_PREFIX) :].lower()
        shown = letters_of if reported is None else reported
        if spell is not None and spell(letters_of):
            return ("fingerspell", letters_of, shown, "")
        return ("model", word, shown, "")
    if tok.knows_word(word, code):
        return ("model", word, shown, "")
    if spell is not None and spell(word):
        return ("fingerspell", word, shown, "not a word the model was trained on")
    unseen = tok.unseen_characters(word)
    if unseen and spell is not None:  # the model would spell it with untrained byte tokens
        why = f"neither the model nor the {code} alphabet has {''.join(unseen[:3])!r}"
        return ("drop", "", shown, why)
    # glosses write letters in upper case, unless that changes them (ß would become SS)
    letters = (
        word if tok.lowercase else "".join(c.upper() if len(c.upper()) == 1 else c for c in word)
    )
    return ("model", FINGERSPELL_PREFIX + letters, shown, "")


def _token_id(tok: Any, token: str) -> int | None:
    f = getattr(tok, "token_to_id", None)
    return f(token) if f else None


_DEFAULT: Translator | None = None


def translate(
    text: str,
    language: str | None = None,
    mode: str = "auto",
    *,
    model: str | Path | None = None,
    max_frames: int | None = None,
) -> Pose:
    """Sign `text` in `language` with the default model (or `model`); returns the `Pose`.

    `pose.meta.extra["words"]` says which words came from the model and which were
    fingerspelled. Use `Translator` directly to keep a model loaded across calls.
    """
    global _DEFAULT
    if model is not None:
        return Translator(model).translate(text, language, mode, max_frames).pose
    if _DEFAULT is None:
        _DEFAULT = Translator()
    return _DEFAULT.translate(text, language, mode, max_frames).pose
