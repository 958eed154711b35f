"""The Python API: text (or a prompt) + a sign language in, a signing skeleton out.

    >>> import signllm
    >>> pose = signllm.translate("guten morgen", "DGS")          # doctest: +SKIP
    >>> t = signllm.Translator().translate("How would you sign 'water' in ASL?")  # doctest: +SKIP
    >>> t.pose, t.fingerspelled                                   # doctest: +SKIP

The CLI (`signllm translate`) and the HTTP server wrap exactly this. A `Translator` loads its
models once. Words the model never saw are fingerspelled from real letter recordings where the
language has an alphabet in the fingerspelling lexicon, and the result says which words were.

A model folder is either one checkpoint (`signllm train` output: config.json + model.safetensors
+ tokenizers) or a bundle with up to three of them: `mlsf/` (one group per language), `prompt/`
(the shared Prompt2LangGloss pose model) and `prompt_text/` (its prompt -> gloss text model).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .assets import default_model_dir
from .errors import UsageError
from .languages import all_languages, get_language
from .models.core import pad_sequences
from .pose import Pose, PoseMeta

_PUNCT = ".,;:!?\"'()[]{}«»„“”‘’"
MODES = ("auto", "mlsf", "prompt", "fingerspelling")
DEFAULT_FPS = 25.0
TRANSITION_FRAMES = 6


@dataclass
class Translation:
    pose: Pose
    language: str  # ISO 639-3
    mode: str  # "mlsf" | "prompt" | "fingerspelling"
    words: list[tuple[str, str]] = field(
        default_factory=list
    )  # (word, "model"|"fingerspelled"|"skipped")
    text: str = ""  # the text that was signed (the quoted part of a prompt)

    @property
    def fingerspelled(self) -> list[str]:
        return [w for w, how in self.words if how == "fingerspelled"]

    @property
    def skipped(self) -> list[str]:
        return [w for w, how in self.words if how == "skipped"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "mode": self.mode,
            "text": self.text,
            "words": [{"word": w, "source": how} for w, how in self.words],
            "fingerspelled": self.fingerspelled,
            "frames": self.pose.num_frames,
            "fps": self.pose.fps,
        }


def _is_checkpoint(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("format") == "signllm-checkpoint"
    except (OSError, json.JSONDecodeError):
        return False


class Translator:
    """Loads the models once; `translate` is thread-safe (one generation at a time)."""

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        lexicon: str | Path | None = None,
        device: str = "cpu",
        max_frames: int = 600,
        fps: float = DEFAULT_FPS,
        threads: int | None = 1,
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
        self._lock = threading.Lock()
        self.mlsf = self.prompt = self.prompt_text = None
        if _is_checkpoint(root):
            ckpt = load_checkpoint(root, device=device)
            setattr(self, "mlsf" if ckpt.config["mode"] == "mlsf" else "prompt", ckpt)
        else:
            if _is_checkpoint(root / "mlsf"):
                self.mlsf = load_checkpoint(root / "mlsf", device=device)
            if _is_checkpoint(root / "prompt"):
                self.prompt = load_checkpoint(root / "prompt", device=device)
        if (root / "prompt_text" / "config.json").is_file():
            from .train.prompt_text import load_prompt_text

            self.prompt_text = load_prompt_text(root / "prompt_text", device=device)
        if self.mlsf is None and self.prompt is None:
            raise UsageError(
                f"{root} holds no SignLLM checkpoint (config.json + model.safetensors)"
            )
        self._lexicon_path = lexicon
        self._lexicon: Any = None
        self.card = self._read_card()

    # -- what it can do ----------------------------------------------------------------------

    def _read_card(self) -> dict[str, Any]:
        p = self.root / "model_card.json"
        if p.is_file():
            try:
                return json.loads(p.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                return {}
        return {}

    @property
    def lexicon(self) -> Any:
        if self._lexicon is None:
            from .data.fingerspell import default_lexicon, load_lexicon

            self._lexicon = (
                load_lexicon(self._lexicon_path) if self._lexicon_path else default_lexicon()
            )
        return self._lexicon

    def model_languages(self, mode: str) -> list[str]:
        ckpt = self.mlsf if mode == "mlsf" else self.prompt
        return list(ckpt.config["languages"]) if ckpt is not None else []

    def languages(self) -> list[dict[str, Any]]:
        """Every registry language, with what this translator can do for it."""
        fs = set(self.lexicon.languages)
        models = set(self.model_languages("mlsf")) | set(self.model_languages("prompt"))
        return [
            {
                "code": lang.code,
                "name": lang.name,
                "aliases": list(lang.aliases),
                "model": lang.code in models,
                "modes": [m for m in ("mlsf", "prompt") if lang.code in self.model_languages(m)],
                "fingerspelling": lang.code in fs,
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
        """Sign `text` (a sentence, or a prompt naming the text and the language)."""
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
        limit = min(max_frames or self.max_frames, self.max_frames)
        mode = self._pick_mode(code, mode)
        with self._lock, torch.inference_mode():
            if mode == "mlsf":
                plan = self._plan_mlsf(text, code)
            elif mode == "prompt":
                plan = self._plan_prompt(text, code)
            else:
                plan = [("fingerspell", w) for w in _words(text)]
            segments, words = self._realise(plan, code, mode, limit)
        if not segments:
            raise UsageError(
                f"nothing to sign: none of the words of {text!r} is known to the model or "
                f"spellable in {code}"
            )
        pose = self._join(segments, limit)
        pose.meta = PoseMeta(id="translation", language=code, text=text, source=str(self.root))
        pose.meta.extra.update({"generated": True, "mode": mode, "words": words})
        return Translation(pose=pose, language=code, mode=mode, words=words, text=text)

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

    def _plan_mlsf(self, text: str, code: str) -> list[tuple[str, str]]:
        from .text.tokenizers import UNK_ID

        tok = self.mlsf.tokenizers[code]
        kind = self.mlsf.config.get("inputs", {}).get(code, "text")
        # gloss inputs keep their case (glosses are upper-case words), not their punctuation
        words = [w.strip(_PUNCT) for w in text.split()] if kind == "gloss" else _words(text)
        words = [w for w in words if w]
        return [("model" if _token_id(tok, w) != UNK_ID else "fingerspell", w) for w in words]

    def _plan_prompt(self, text: str, code: str) -> list[tuple[str, str]]:
        from .models.prompt2langgloss import canonical_prompt
        from .text.tokenizers import UNK_ID

        tm = self.prompt_text
        if tm is not None and code in tm.gloss_languages:
            # the text stage: `<gsg> text` -> glosses (the prompt itself was parsed already)
            lang, words = tm.translate([canonical_prompt(text, code)], language=code,
                                       mode="learned")[0]  # fmt: skip
            words = list(words) if lang == code else _words(text)
        else:  # languages without glosses sign their own words
            words = _words(text)
        vocab = self.prompt.tokenizers[code]
        plan = []
        for w in words:
            if _token_id(vocab, f"{code}:{w}") not in (None, UNK_ID):
                plan.append(("model", w))
            else:  # "fs-WATER" glosses name a fingerspelled word
                plan.append(("fingerspell", w[3:].lower() if w.startswith("fs-") else w))
        return plan

    def _realise(
        self, plan: list[tuple[str, str]], code: str, mode: str, limit: int
    ) -> tuple[list[Pose], list[tuple[str, str]]]:
        """Group consecutive model words into runs; generate all runs in one batch."""
        runs: list[list[str]] = []
        order: list[tuple[str, Any]] = []
        words: list[tuple[str, str]] = []
        for how, w in plan:
            if how == "model":
                if order and order[-1][0] == "run":
                    runs[order[-1][1]].append(w)
                else:
                    order.append(("run", len(runs)))
                    runs.append([w])
                words.append((w, "model"))
            elif code in self.lexicon.languages and self.lexicon.can_spell(w, code):
                order.append(("fs", w))
                words.append((w, "fingerspelled"))
            else:
                words.append((w, "skipped"))
        generated = self._generate(runs, code, mode, limit) if runs else []
        segments = []
        for kind, item in order:
            if kind == "run":
                segments.append(generated[item])
            else:
                segments.append(self.lexicon.compose(item, code, fps=self.fps))
        return segments, words

    def _generate(self, runs: list[list[str]], code: str, mode: str, limit: int) -> list[Pose]:
        ckpt = self.mlsf if mode == "mlsf" else self.prompt
        if mode == "mlsf":
            tok = ckpt.tokenizers[code]
            seqs = [tok.encode(" ".join(r), language=code) for r in runs]
            ids = pad_sequences(seqs, tok.pad_id, self.device)
            mask = ids != tok.pad_id
            out = ckpt.model.generate(code, ids, mask, max_frames=limit)
        else:
            out = ckpt.model.generate([(code, r) for r in runs], max_frames=limit)
        poses = []
        for i, n in enumerate(out["lengths"].tolist()):
            n = max(1, int(n))
            frames = out["pose"][i, :n].reshape(n, -1, 3)  # (t, j, 3) standardised
            data = ckpt.stats.denormalize(frames).astype(np.float32)
            poses.append(Pose(data, np.ones(data.shape[:2], np.float32), fps=self.fps))
        return poses

    def _join(self, segments: list[Pose], limit: int) -> Pose:
        from .data.fingerspell import align_to, join

        if len(segments) == 1:
            pose = segments[0]
        else:
            data, conf = join(align_to(segments), TRANSITION_FRAMES, 0)
            pose = Pose(data, conf, fps=self.fps)
        return pose if pose.num_frames <= limit else pose.select_frames(slice(0, limit))


def _words(text: str) -> list[str]:
    from .models.prompt2langgloss import text_words

    return text_words(text)


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
