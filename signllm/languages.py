"""Sign language registry: which languages exist and what users may call them.

Languages are data, not code: every fact lives in ``signllm/data/languages.json`` (ISO 639-3 code,
English and native names, names in other spoken languages, aliases, spoken languages, script,
Prompt2Sign corpus, fingerspelling). Adding a sign language is adding an entry there; a registry
can also be loaded from any other JSON file of the same shape with :func:`load_registry`.

Names resolve case-insensitively, and spaces, hyphens and underscores count as the same
separator, so ``"lsf ch"``, ``"LSF-CH"`` and ``"Swiss French Sign Language"`` all find ``ssr``::

    >>> get_language("DGS").code
    'gsg'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import DataError, UsageError
from .fileio import read_json

DEFAULT_REGISTRY_PATH = Path(__file__).parent / "data" / "languages.json"

_CODE_RE = re.compile(r"^[a-z]{3}$")
_SPOKEN_RE = re.compile(r"^[a-z]{2}$")
_SCRIPT_RE = re.compile(r"^[A-Z][a-z]{3}$")
_SEPARATORS_RE = re.compile(r"[\s\-_]+")

_REQUIRED = {"code": str, "name": str, "spoken_languages": list, "script": str}
_OPTIONAL = {
    "native_name": (str, type(None)),
    "names": dict,
    "aliases": list,
    "prompt2sign": bool,
    "corpus": (str, type(None)),
    "fingerspelling": bool,
    "notes": (str, type(None)),
}


def normalize_name(name: str) -> str:
    """Lookup key of a name: NFKC, case-folded, separators collapsed, so users need not match
    the registry's exact spelling of case, hyphens or spaces."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return _SEPARATORS_RE.sub(" ", folded).strip()


@dataclass(frozen=True)
class Language:
    """One sign language; immutable so it can be shared and used as a dict key."""

    code: str
    name: str
    spoken_languages: tuple[str, ...]
    script: str
    native_name: str | None = None
    names: Mapping[str, str] = field(default_factory=dict, hash=False)
    aliases: tuple[str, ...] = ()
    prompt2sign: bool = False
    corpus: str | None = None
    fingerspelling: bool = False
    notes: str | None = None

    def __post_init__(self) -> None:
        # A read-only view keeps the frozen promise for the one mutable field.
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))

    @property
    def spoken_language(self) -> str:
        """The spoken language that prompts, text and fingerspelling use (the first listed)."""
        return self.spoken_languages[0]

    @property
    def label(self) -> str:
        """Short label for messages, e.g. ``ase (ASL, American Sign Language)``: the code, the
        abbreviations (aliases without spaces) and the English name."""
        short = [a for a in self.aliases if " " not in a]
        return f"{self.code} ({', '.join([*short, self.name])})"

    def name_in(self, spoken_language: str) -> str:
        """Name of this sign language written in a spoken language; the English name when the
        registry has none, so a template in any language can always be filled."""
        return self.names.get(spoken_language, self.name)

    def surface_names(self) -> tuple[str, ...]:
        """Every string that resolves to this language (code, names, aliases), first seen first."""
        seen: dict[str, None] = {}
        for s in (self.code, self.name, self.native_name, *self.names.values(), *self.aliases):
            if s:
                seen.setdefault(s, None)
        return tuple(seen)


class LanguageRegistry:
    """A validated set of languages with case-insensitive lookup by code, name or alias."""

    def __init__(self, languages: Iterable[Language], source: str | Path | None = None) -> None:
        self.source = str(source) if source is not None else None
        self._languages: dict[str, Language] = {}
        self._index: dict[str, Language] = {}
        for lang in languages:
            if lang.code in self._languages:
                raise DataError(f"duplicate language code '{lang.code}'", path=source, field="code")
            self._languages[lang.code] = lang
            for surface in lang.surface_names():
                key = normalize_name(surface)
                other = self._index.get(key)
                if other is not None and other is not lang:
                    raise DataError(
                        f"entry '{lang.code}': name or alias '{surface}' is already used by "
                        f"'{other.code}' ({other.name}); names must be unique across languages",
                        path=source,
                        field="aliases",
                    )
                self._index[key] = lang

    @classmethod
    def from_json(cls, path: str | Path) -> LanguageRegistry:
        """Load and validate a registry file; every fault is a DataError naming the entry."""
        path = Path(path)
        raw = read_json(path, "language registry file")
        if not isinstance(raw, dict) or not isinstance(raw.get("languages"), list):
            raise DataError("expected an object with a 'languages' list", path=path)
        entries = [_parse_entry(entry, i, path) for i, entry in enumerate(raw["languages"])]
        return cls(entries, source=path)

    def find(self, name_or_code: str) -> Language | None:
        """The language a string names, or None; for callers that try several interpretations."""
        return self._index.get(normalize_name(name_or_code))

    def get(self, name_or_code: str | Language) -> Language:
        """Resolve a code, name or alias; UsageError listing the choices if nothing matches."""
        if isinstance(name_or_code, Language):
            return name_or_code
        if not isinstance(name_or_code, str):
            raise UsageError(f"sign language must be a string, not {type(name_or_code).__name__}")
        lang = self.find(name_or_code)
        if lang is None:
            raise UsageError(
                f"unknown sign language '{name_or_code}'; choose one of: {self.choices()}"
            )
        return lang

    def choices(self) -> str:
        """All languages as ``code (aliases, name)``, for error messages and help texts."""
        return ", ".join(lang.label for lang in self)

    def surface_index(self) -> dict[str, Language]:
        """Every surface string (code, name, native name, names, alias) -> its language."""
        return {s: lang for lang in self for s in lang.surface_names()}

    def all(self) -> list[Language]:
        """All languages sorted by code."""
        return sorted(self._languages.values(), key=lambda lang: lang.code)

    def prompt2sign(self) -> list[Language]:
        """The Prompt2Sign languages sorted by code."""
        return [lang for lang in self.all() if lang.prompt2sign]

    def __iter__(self) -> Iterator[Language]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._languages)

    def __contains__(self, name_or_code: object) -> bool:
        return isinstance(name_or_code, str) and self.find(name_or_code) is not None


def _parse_entry(entry: Any, index: int, path: Path) -> Language:
    """Check one JSON entry field by field, so a typo is reported where it is."""
    where = f"languages[{index}]"
    if not isinstance(entry, dict):
        raise DataError("entry must be an object", path=path, field=where)
    code = entry.get("code")
    who = f"entry '{code}'" if isinstance(code, str) else f"entry {index}"
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise DataError(
            f"{who}: unknown field(s) {sorted(unknown)}; allowed: "
            f"{sorted([*_REQUIRED, *_OPTIONAL])}",
            path=path,
            field=where,
        )
    for key in _REQUIRED:
        if key not in entry:
            raise DataError(f"{who}: missing field '{key}'", path=path, field=f"{where}.{key}")
    for key, typ in {**_REQUIRED, **_OPTIONAL}.items():
        if key in entry and not isinstance(entry[key], typ):
            raise DataError(f"{who}: wrong type for '{key}'", path=path, field=f"{where}.{key}")

    def check(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise DataError(f"{who}: {message}", path=path, field=f"{where}.{key}")

    check(bool(_CODE_RE.match(code)), "code", f"code must be 3 lowercase letters, got '{code}'")
    check(bool(entry["name"].strip()), "name", "name must not be empty")
    spoken = entry["spoken_languages"]
    check(
        bool(spoken) and all(isinstance(s, str) and _SPOKEN_RE.match(s) for s in spoken),
        "spoken_languages",
        "spoken_languages must be a non-empty list of ISO 639-1 codes",
    )
    check(
        bool(_SCRIPT_RE.match(entry["script"])),
        "script",
        f"script must be an ISO 15924 code like 'Latn', got '{entry['script']}'",
    )
    names = entry.get("names", {})
    check(
        all(_SPOKEN_RE.match(k) and isinstance(v, str) and v.strip() for k, v in names.items()),
        "names",
        "names must map ISO 639-1 codes to non-empty strings",
    )
    aliases = entry.get("aliases", [])
    check(
        all(isinstance(a, str) and a.strip() for a in aliases),
        "aliases",
        "aliases must be non-empty strings",
    )
    return Language(
        code=code,
        name=entry["name"],
        spoken_languages=tuple(spoken),
        script=entry["script"],
        native_name=entry.get("native_name"),
        names=names,
        aliases=tuple(aliases),
        prompt2sign=entry.get("prompt2sign", False),
        corpus=entry.get("corpus"),
        fingerspelling=entry.get("fingerspelling", False),
        notes=entry.get("notes"),
    )


def load_registry(path: str | Path | None = None) -> LanguageRegistry:
    """Load a registry from ``path``, or the bundled one (cached) when ``path`` is None."""
    if path is None:
        return default_registry()
    return LanguageRegistry.from_json(path)


@functools.lru_cache(maxsize=1)
def default_registry() -> LanguageRegistry:
    """The bundled registry, parsed once per process."""
    return LanguageRegistry.from_json(DEFAULT_REGISTRY_PATH)


def _registry(registry: LanguageRegistry | None) -> LanguageRegistry:
    # "is None", not "or": an empty registry is falsy but still the one the caller chose.
    return registry if registry is not None else default_registry()


def get_language(
    name_or_code: str | Language, registry: LanguageRegistry | None = None
) -> Language:
    """Resolve a code, English or native name, or alias (any case) to a Language."""
    return _registry(registry).get(name_or_code)


def all_languages(registry: LanguageRegistry | None = None) -> list[Language]:
    """All registered sign languages, sorted by code."""
    return _registry(registry).all()


def prompt2sign_languages(registry: LanguageRegistry | None = None) -> list[Language]:
    """The eight Prompt2Sign languages (those with a Prompt2Sign corpus), sorted by code."""
    return _registry(registry).prompt2sign()


__all__ = [
    "DEFAULT_REGISTRY_PATH",
    "Language",
    "LanguageRegistry",
    "all_languages",
    "default_registry",
    "get_language",
    "load_registry",
    "normalize_name",
    "prompt2sign_languages",
]
