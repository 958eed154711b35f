"""Prompt templates: turn (text, sign language) into a natural prompt and back.

Prompt2Sign pairs every training sentence with a randomly chosen prompt template so that the model
learns to read requests like "How would you sign 'guten morgen' in German Sign Language?". The
templates are data (``signllm/data/prompts.json``): ``{text}`` is the sentence, ``{language}`` the
sign language's name in the template's own language. A sign language gets the templates written in
its first spoken language (German for gsg, sgg, asq), else the English ones.

* :func:`render_prompt` fills one template (random, or chosen by id).
* :func:`pair_with_templates` pairs clips with templates reproducibly: the choice for a clip depends
  only on the seed and the clip id (SHA-256), never on order, on the other clips, or on Python's
  per-process ``hash()`` salt, so rebuilding a subset of a corpus keeps every clip's prompt.
* :func:`parse_prompt` is the inverse, used to turn a user's prompt into (text, language): exact
  template matches first (any quote style, quotes optional), then a free-form fallback that takes a
  quoted span as the text and looks for a sign language name or alias elsewhere in the prompt.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, UsageError
from ..fileio import read_json
from ..languages import Language, LanguageRegistry, default_registry

if TYPE_CHECKING:
    import numpy as np

DEFAULT_TEMPLATES_PATH = Path(__file__).parent / "prompts.json"

TEXT_SLOT = "{text}"
LANGUAGE_SLOT = "{language}"
FALLBACK_PROMPT_LANGUAGE = "en"

# Quote marks users type around the text: ASCII, typographic English/German, guillemets, CJK.
QUOTE_CHARS = "'\"‘’‚‛“”„‟«»‹›「」『』"
_QUOTE_PAIRS = [
    ("“", "”"),
    ("„", "“”"),
    ("‚", "‘’"),
    ("‘", "’"),
    ("«", "»"),
    ("»", "«"),
    ("‹", "›"),
    ("「", "」"),
    ("『", "』"),
    ('"', '"'),
]
_TRAILING_PUNCT = ".?!…。？！"
_SLOT_RE = re.compile(r"\{[^{}]*\}")
_SPOKEN_RE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class Template:
    """One prompt template; ``id`` is stable across releases so pairings stay reproducible."""

    id: str
    lang: str
    template: str

    @property
    def has_language(self) -> bool:
        """Whether the prompt names the sign language (else the caller supplies it)."""
        return LANGUAGE_SLOT in self.template

    def fill(self, text: str, language_name: str | None = None) -> str:
        """Substitute the slots; str.replace, not str.format, so braces in the text are safe."""
        out = self.template
        if self.has_language:
            if language_name is None:
                raise UsageError(f"template '{self.id}' needs a sign language name")
            out = out.replace(LANGUAGE_SLOT, language_name)
        return out.replace(TEXT_SLOT, text)


# ---------------------------------------------------------------------------------------------
# Loading


def load_templates(path: str | Path | None = None) -> tuple[Template, ...]:
    """Load and validate a template file; the bundled one (cached) when ``path`` is None."""
    if path is None:
        return default_templates()
    return _load_templates(Path(path))


@functools.lru_cache(maxsize=1)
def default_templates() -> tuple[Template, ...]:
    """The bundled templates, parsed once per process."""
    return _load_templates(DEFAULT_TEMPLATES_PATH)


def _load_templates(path: Path) -> tuple[Template, ...]:
    raw = read_json(path, "prompt template file")
    if not isinstance(raw, dict) or not isinstance(raw.get("templates"), list):
        raise DataError("expected an object with a 'templates' list", path=path)
    out: list[Template] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["templates"]):
        where = f"templates[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "lang", "template"}:
            raise DataError(
                "each template needs exactly the fields 'id', 'lang', 'template'",
                path=path,
                field=where,
            )
        tid, lang, text = entry["id"], entry["lang"], entry["template"]
        if not all(isinstance(v, str) for v in (tid, lang, text)) or not tid:
            raise DataError("'id', 'lang' and 'template' must be strings", path=path, field=where)
        if tid in seen:
            raise DataError(f"duplicate template id '{tid}'", path=path, field=f"{where}.id")
        seen.add(tid)
        if not _SPOKEN_RE.match(lang):
            raise DataError(
                f"template '{tid}': lang must be an ISO 639-1 code, got '{lang}'",
                path=path,
                field=f"{where}.lang",
            )
        _check_slots(tid, text, path, f"{where}.template")
        out.append(Template(id=tid, lang=lang, template=text))
    if not out:
        raise DataError("no templates", path=path, field="templates")
    return tuple(out)


def _check_slots(tid: str, text: str, path: Path, where: str) -> None:
    """A template must be parseable back: one {text}, at most one {language}, nothing else, and
    the two slots not touching."""
    slots = _SLOT_RE.findall(text)
    bad = [s for s in slots if s not in (TEXT_SLOT, LANGUAGE_SLOT)]
    problem = None
    if bad:
        problem = f"unknown slot(s) {bad}; allowed: {TEXT_SLOT}, {LANGUAGE_SLOT}"
    elif slots.count(TEXT_SLOT) != 1:
        problem = f"needs exactly one {TEXT_SLOT}"
    elif slots.count(LANGUAGE_SLOT) > 1:
        problem = f"has more than one {LANGUAGE_SLOT}"
    elif TEXT_SLOT + LANGUAGE_SLOT in text or LANGUAGE_SLOT + TEXT_SLOT in text:
        problem = "needs a space or quote between {text} and {language}, or parsing is ambiguous"
    if problem:
        raise DataError(f"template '{tid}' {problem}: {text!r}", path=path, field=where)


def get_template(template_id: str, templates: Sequence[Template] | None = None) -> Template:
    """Look a template up by id; UsageError listing the ids if it does not exist."""
    templates = default_templates() if templates is None else templates
    for t in templates:
        if t.id == template_id:
            return t
    raise UsageError(
        f"unknown prompt template '{template_id}'; choose one of: "
        + ", ".join(t.id for t in templates)
    )


def templates_for(
    language: str | Language,
    *,
    prompt_language: str | None = None,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> list[Template]:
    """The templates a sign language draws from, sorted by id: those written in ``prompt_language``
    (default: the sign language's first spoken language, else English)."""
    lang = _resolve(language, registry)
    templates = default_templates() if templates is None else templates
    available = sorted({t.lang for t in templates})
    if prompt_language is not None:
        pool = [t for t in templates if t.lang == prompt_language]
        if not pool:
            raise UsageError(
                f"no prompt templates in '{prompt_language}'; choose one of: {', '.join(available)}"
            )
    else:
        pool = [t for t in templates if t.lang == lang.spoken_language]
        if not pool:
            pool = [t for t in templates if t.lang == FALLBACK_PROMPT_LANGUAGE]
        if not pool:
            raise UsageError(
                f"no prompt templates for {lang.label} (spoken '{lang.spoken_language}') and none "
                f"in '{FALLBACK_PROMPT_LANGUAGE}'; available: {', '.join(available)}"
            )
    return sorted(pool, key=lambda t: t.id)


def _resolve(language: str | Language, registry: LanguageRegistry | None) -> Language:
    return (registry if registry is not None else default_registry()).get(language)


# ---------------------------------------------------------------------------------------------
# Rendering and pairing


def render_prompt(
    text: str,
    language: str | Language,
    template_id: str | None = None,
    rng: random.Random | np.random.Generator | None = None,
    *,
    prompt_language: str | None = None,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> tuple[str, str]:
    """Fill a template with ``text`` and the sign language's name; returns (prompt, template_id).

    Without ``template_id`` a template is drawn from :func:`templates_for` with ``rng`` (a
    ``random.Random`` or numpy ``Generator``; the global ``random`` module when None). The name is
    the one written in the template's language, so German templates say "Deutsche Gebärdensprache".
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError("text to sign must be a non-empty string")
    lang = _resolve(language, registry)
    if template_id is not None:
        template = get_template(template_id, templates)
    else:
        pool = templates_for(
            lang, prompt_language=prompt_language, registry=registry, templates=templates
        )
        template = pool[_randbelow(len(pool), rng)]
    return template.fill(text.strip(), lang.name_in(template.lang)), template.id


def _randbelow(n: int, rng: Any) -> int:
    if rng is None:
        return random.randrange(n)
    if hasattr(rng, "integers"):  # numpy Generator
        return int(rng.integers(n))
    return rng.randrange(n)


def pair_with_templates(
    ids: Iterable[str],
    language: str | Language,
    seed: int | str,
    *,
    prompt_language: str | None = None,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> dict[str, str]:
    """Map each clip id to a template id, as Prompt2Sign pairs sentences with random templates.

    The template of a clip is SHA-256(seed, clip id) modulo the pool size (pool sorted by id): the
    same for a clip whatever the order or the other clips, in every process. Adding templates to
    the pool changes pairings, which is why template ids are never renumbered.
    """
    pool = templates_for(
        language, prompt_language=prompt_language, registry=registry, templates=templates
    )
    out: dict[str, str] = {}
    for clip_id in ids:
        if not isinstance(clip_id, str):
            raise UsageError(f"clip ids must be strings, got {type(clip_id).__name__}")
        digest = hashlib.sha256(f"{seed}\x00{clip_id}".encode()).digest()
        out[clip_id] = pool[int.from_bytes(digest[:8], "big") % len(pool)].id
    return out


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_prompt(
    prompt: str,
    *,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> tuple[str, str | None]:
    """Split a prompt into (text, sign language code or None).

    1. A prompt that follows a template (any case, any quote style, quotes optional, trailing
       punctuation optional) gives its text and, if the template names one, its language.
    2. Otherwise a quoted span is the text, and the first sign language name or alias found outside
       it is the language (bare ISO codes count only when no name or alias is found).
    3. A prompt with neither is plain text to sign: (prompt, None).
    """
    return _parser_for(prompt, registry, templates).parse(prompt.strip())


def match_template(
    prompt: str,
    *,
    registry: LanguageRegistry | None = None,
    templates: Sequence[Template] | None = None,
) -> tuple[Template, str, str | None] | None:
    """The template a prompt follows, with its (text, language code or None); None if it follows
    none. Lets callers tell a recognised request from free-form input."""
    return _parser_for(prompt, registry, templates).match(prompt.strip())


def _parser_for(
    prompt: str, registry: LanguageRegistry | None, templates: Sequence[Template] | None
) -> _PromptParser:
    if not isinstance(prompt, str) or not prompt.strip():
        raise UsageError("prompt must be a non-empty string")
    reg = registry if registry is not None else default_registry()
    tpls = tuple(default_templates() if templates is None else templates)
    return _parser(tpls, reg)


@functools.lru_cache(maxsize=8)
def _parser(templates: tuple[Template, ...], registry: LanguageRegistry) -> _PromptParser:
    return _PromptParser(templates, registry)


def _flexible(surface: str) -> str:
    """Regex for a name where spaces, hyphens and underscores are interchangeable."""
    return r"[\s\-_]+".join(re.escape(p) for p in re.split(r"[\s\-_]+", surface.strip()) if p)


class _PromptParser:
    """Regexes compiled once per (templates, registry) pair."""

    def __init__(self, templates: tuple[Template, ...], registry: LanguageRegistry) -> None:
        self.registry = registry
        codes = {lang.code for lang in registry}
        surfaces = registry.surface_index()
        names = sorted((s for s in surfaces if s not in codes), key=len, reverse=True)
        # Longest first: "Swiss-German Sign Language" must win over "German Sign Language".
        self.language_alt = "|".join(_flexible(s) for s in [*names, *sorted(codes)])
        flags = re.IGNORECASE | re.DOTALL
        names_alt = "|".join(_flexible(s) for s in names)
        self.names_re = re.compile(rf"(?<!\w)(?:{names_alt})(?!\w)", flags)
        self.codes_re = re.compile(rf"(?<!\w)(?:{'|'.join(sorted(codes))})(?!\w)", flags)
        # Templates that name the language first: a text-only template would otherwise swallow
        # "hello in ASL" as the text when the quotes are left out.
        ordered = sorted(templates, key=lambda t: (not t.has_language, t.id))
        self.template_res = [(t, re.compile(self._template_regex(t), flags)) for t in ordered]

    def _template_regex(self, template: Template) -> str:
        q = "[" + re.escape(QUOTE_CHARS) + "]"
        parts = re.split(r"(\{text\}|\{language\})", template.template)
        # Trailing punctuation is optional: users often drop or double the question mark.
        parts[-1] = parts[-1].rstrip(_TRAILING_PUNCT + " ")
        out = [r"^\s*"]
        for i, part in enumerate(parts):
            if part == TEXT_SLOT:
                # Quoted (any quote marks, closing one required) or bare text.
                out.append(rf"(?:{q}(?P<tq>.+?){q}|(?!{q})(?P<tu>.+?))")
            elif part == LANGUAGE_SLOT:
                out.append(rf"(?P<lang>{self.language_alt})")
            else:
                if i + 1 < len(parts) and parts[i + 1] == TEXT_SLOT:
                    part = part.rstrip(QUOTE_CHARS)  # the slot pattern handles the quotes
                if i > 0 and parts[i - 1] == TEXT_SLOT:
                    part = part.lstrip(QUOTE_CHARS)
                out.append(_literal(part))
        out.append(r"[\s" + re.escape(_TRAILING_PUNCT) + r"]*$")
        return "".join(out)

    def match(self, prompt: str) -> tuple[Template, str, str | None] | None:
        for template, regex in self.template_res:
            m = regex.match(prompt)
            if m is None:
                continue
            text = (m.group("tq") if m.group("tq") is not None else m.group("tu")).strip()
            if not text:
                continue
            code = None
            if template.has_language:
                lang = self.registry.find(m.group("lang"))
                if lang is None:  # cannot happen: the group only matches registry names
                    continue
                code = lang.code
            return template, text, code
        return None

    def parse(self, prompt: str) -> tuple[str, str | None]:
        found = self.match(prompt)
        if found is not None:
            return found[1], found[2]
        return self._free_form(prompt)

    def _free_form(self, prompt: str) -> tuple[str, str | None]:
        span = _quoted_span(prompt)
        if span is None:
            return prompt, None
        start, end, text = span
        rest = prompt[:start] + " " + prompt[end:]
        m = self.names_re.search(rest) or self.codes_re.search(rest)
        lang = self.registry.find(m.group(0)) if m else None
        return text, lang.code if lang else None


def _literal(part: str) -> str:
    """Regex for literal template text: flexible whitespace, either apostrophe."""
    out = []
    for chunk in re.split(r"(\s+)", part):
        if not chunk:
            continue
        if chunk.isspace():
            out.append(r"\s+")
        else:
            out.append("".join("['’]" if c in "'’" else re.escape(c) for c in chunk))
    return "".join(out)


def _quoted_span(prompt: str) -> tuple[int, int, str] | None:
    """The first quoted span (start, end, inner text stripped), trying every quote style; ASCII
    single quotes count only at word edges so apostrophes ("it's") do not open or close a span."""
    best: tuple[int, int, str] | None = None
    patterns = [re.escape(o) + r"(.+?)[" + re.escape(c) + "]" for o, c in _QUOTE_PAIRS]
    patterns.append(r"(?<!\w)'(.+?)'(?!\w)")
    patterns.append(r"(?<!\w)’(.+?)’(?!\w)")
    for pattern in patterns:
        m = re.search(pattern, prompt, re.DOTALL)
        if m and m.group(1).strip() and (best is None or m.start() < best[0]):
            best = (m.start(), m.end(), m.group(1).strip())
    return best


__all__ = [
    "DEFAULT_TEMPLATES_PATH",
    "QUOTE_CHARS",
    "Template",
    "default_templates",
    "get_template",
    "load_templates",
    "match_template",
    "pair_with_templates",
    "parse_prompt",
    "render_prompt",
    "templates_for",
]
