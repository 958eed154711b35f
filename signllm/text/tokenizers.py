"""Tokenizers for glosses and spoken-language text, saved as plain JSON beside every checkpoint.

Five kinds share one id layout and one interface (`Tokenizer`), so a model never cares which it got:

- `CharVocab` (the pose models' default input): whole words where training saw them at least
  twice, every other word spelled as its grapheme clusters between ``<w>`` and ``</w>``, unseen
  clusters as UTF-8 bytes: no word of any script is ever ``<unk>``. Fingerspelled glosses
  (``fs-REGEN``) are always spelled, after ``<fs>``, so the model learns letter -> handshape.
- `LangCharVocab`: the same for Prompt2LangGloss, whole words per language (``gsg:wetter``).
- `WordVocab`: whole words split on whitespace, case kept. Glosses are a closed, upper-case
  vocabulary (``WETTER MORGEN``), so splitting them into subwords only adds length.
- `LangWordVocab`: a `WordVocab` whose tokens carry their language (``gsg:HAUS``, ``ase:HOUSE``).
  Prompt2LangGloss trains one model on all languages; the paper's LangGloss format writes a marker
  before every token so that identical gloss strings of two languages stop being the same input.
  Making the token itself language-specific is the direct way to get that: DGS ``HAUS`` and an ASL
  gloss ``HAUS`` get distinct ids and distinct embeddings, whatever markers surround them.
- `SubwordTokenizer`: a sentencepiece unigram or BPE model for open-vocabulary spoken text.

Every tokenizer reserves the same leading ids: ``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2,
``<eos>`` = 3, then one marker per sign language (``<ase>``, ``<gsg>``, ...) in the order given.
Language markers are added by `encode` from its `language` argument:

>>> vocab = WordVocab.build(["WHEN DOES THIS"], languages=["ase"])
>>> vocab.encode("WHEN DOES", language="ase")  # [<ase>, WHEN, DOES]
[4, 7, 5]
>>> vocab.encode("WHEN DOES", language="ase", tag_every_token=True)  # LangGloss
[4, 7, 4, 5]

`save(directory)` writes ``directory/tokenizer.json`` (the sentencepiece model travels inside it,
base64-encoded), and `load_tokenizer(directory)` rebuilds any kind from that one file.

Why words with a character fallback, not characters only (`bench/tokenizers.py` on the demo
corpus, MLSF, 20 languages, test split; chars only = ``max_words=0``): both leave 0% of test
tokens ``<unk>`` (word level: 91.3%) with about the same vocabulary (5,813 vs 5,784 ids over 20
languages, mostly the 256 byte ids each) and test inputs of about the same mean length (9.5 vs
9.9 tokens: most clips are fingerspelled words, spelled either way), but a recorded sentence
stays short (longest training input 67 vs 175 tokens), and a tiny corpus can still learn a
frequent sign as one token. Words seen once stay spelled (31% of the recorded-sentence words in
training), so the model also learns from spelled words, as held-out words (74% of them) reach it.
"""

from __future__ import annotations

import abc
import base64
import binascii
import io
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import DataError, UsageError
from ..fileio import atomic_write

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "FINGERSPELL_PREFIX",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "TOKENIZER_FILE",
    "UNK_ID",
    "CharVocab",
    "LangCharVocab",
    "LangWordVocab",
    "SubwordTokenizer",
    "Tokenizer",
    "WordVocab",
    "check_vocab_size",
    "graphemes",
    "language_marker",
    "load_tokenizer",
    "normalize_text",
    "split_words",
    "tokenizer_from_dict",
]

log = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1

_CODE_RE = re.compile(r"^[a-z]{3}$")
T = TypeVar("T", bound="Tokenizer")
W = TypeVar("W", bound="_WordBase")
C = TypeVar("C", bound="CharVocab")


def language_marker(code: str) -> str:
    """The marker token of a sign language: ``ase`` -> ``<ase>``."""
    return f"<{code}>"


def _check_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """Validate ISO 639-3 codes and drop duplicates, keeping order (order fixes the marker ids)."""
    if isinstance(languages, str):
        raise UsageError(f"languages must be a list of codes, not the string {languages!r}")
    out: list[str] = []
    for code in languages:
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise UsageError(
                f"language {code!r} is not an ISO 639-3 code (three lower-case letters, e.g. ase)"
            )
        if code not in out:
            out.append(code)
    return tuple(out)


def _head(languages: Iterable[str]) -> list[str]:
    """The reserved leading tokens: the specials, then one marker per language."""
    return [*SPECIAL_TOKENS, *(language_marker(c) for c in languages)]


def _with_seen(languages: tuple[str, ...], seen: set[str]) -> tuple[str, ...]:
    """`languages`, then the languages first seen in the data, sorted (a build's marker order)."""
    return _check_languages([*languages, *sorted(seen - set(languages))])


def _most_frequent(
    counts: Counter[str], min_freq: int, max_size: int | None, names: tuple[str, str]
) -> list[str]:
    """Most frequent first, ties alphabetical, so the same corpus always gives the same ids.
    `names` are the caller's argument names for `min_freq` and `max_size` (for the errors)."""
    if min_freq < 1:
        raise UsageError(f"{names[0]} must be >= 1, got {min_freq}")
    if max_size is not None and max_size < 0:
        raise UsageError(f"{names[1]} must be >= 0, got {max_size}")
    keep = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return keep if max_size is None else keep[:max_size]


class Tokenizer(abc.ABC):
    """What models, data loaders and checkpoints rely on, and what every tokenizer here derives
    from: the id layout, language markers, the encode framing and the one-file JSON format."""

    type_name: ClassVar[str] = ""
    pad_id = PAD_ID
    unk_id = UNK_ID
    bos_id = BOS_ID
    eos_id = EOS_ID

    def __init__(self, languages: Sequence[str], lowercase: bool) -> None:
        self._languages = _check_languages(languages)
        self.lowercase = bool(lowercase)

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int: ...

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    @property
    def num_special(self) -> int:
        """Ids below this are specials or language markers."""
        return len(SPECIAL_TOKENS) + len(self._languages)

    def marker_id(self, language: str) -> int:
        """Id of a language's marker; a clear error names the languages this tokenizer knows."""
        try:
            return len(SPECIAL_TOKENS) + self._languages.index(language)
        except ValueError:
            known = ", ".join(self._languages) or "none"
            raise UsageError(
                f"this tokenizer has no marker for language {language!r} (it knows: {known}); "
                "rebuild it with that code in `languages`"
            ) from None

    # -- encoding ----------------------------------------------------------------------------

    @abc.abstractmethod
    def word_ids(self, text: str, language: str | None = None) -> list[list[int]]:
        """One id group per unit of `text` (a word; a piece for `SubwordTokenizer`; a spelled
        word keeps its characters together): the unit `tag_every_token` marks."""

    def encode(
        self,
        text: str,
        language: str | None = None,
        tag_every_token: bool = False,
        add_bos: bool = False,
        add_eos: bool = False,
    ) -> list[int]:
        """Ids of `text`; `language` puts its marker first, or with `tag_every_token` before
        every unit of `word_ids` (the paper's LangGloss)."""
        if language is not None:
            self.marker_id(language)  # unknown language: a clear error before the lookups
        groups = self.word_ids(text, language)
        ids = [x for g in groups for x in g]
        if language is not None:
            marker = self.marker_id(language)
            if tag_every_token and groups:
                ids = [x for g in groups for x in (marker, *g)]
            else:  # an empty text still says which language it is
                ids = [marker, *ids]
        elif tag_every_token:
            raise UsageError("tag_every_token=True needs a language")
        return ([BOS_ID] if add_bos else []) + ids + ([EOS_ID] if add_eos else [])

    @abc.abstractmethod
    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Text of `ids`; `skip_special` drops pad/bos/eos and markers, keeps ``<unk>``."""

    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        out = [int(i) for i in ids]
        n = self.vocab_size
        bad = [i for i in out if not 0 <= i < n]
        if bad:
            raise UsageError(f"token id {bad[0]} is out of range for a vocabulary of {n}")
        return out

    # -- files -------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/tokenizer.json``; return its path."""
        path = Path(directory) / TOKENIZER_FILE
        self.to_json(path)
        return path

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the tokenizer; `_header` first."""

    def _header(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "format_version": FORMAT_VERSION,
            "lowercase": self.lowercase,
            "languages": list(self._languages),
        }

    @classmethod
    @abc.abstractmethod
    def from_dict(cls: type[T], d: dict[str, Any], path: str | Path | None = None) -> T:
        """Rebuild from `to_dict()`; errors name `path` and the field."""

    @classmethod
    def _read_header(
        cls, d: dict[str, Any], path: str | Path | None
    ) -> tuple[tuple[str, ...], bool]:
        """Check type and format version; return the languages and the lowercase flag."""
        if d.get("type") != cls.type_name:
            raise DataError(
                f"expected type {cls.type_name!r}, got {d.get('type')!r}", path, field="type"
            )
        version = d.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise DataError(
                f"unsupported format_version {version!r} (this signllm reads <= {FORMAT_VERSION})",
                path,
                field="format_version",
            )
        try:
            languages = _check_languages(_field(d, "languages", list, path))
        except UsageError as e:
            raise DataError(str(e), path, field="languages") from None
        return languages, _field(d, "lowercase", bool, path)

    def to_json(self, path: str | Path) -> None:
        """Write the tokenizer as one self-contained JSON file, atomically."""
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @classmethod
    def from_json(cls: type[T], path: str | Path) -> T:
        return cls.from_dict(_read_json(path), path)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class _TokenList(Tokenizer):
    """A tokenizer whose ids index a list of token strings (`_itos`): the word and character
    vocabularies. Subclasses may tag whole-word tokens with their language (`_PerLanguage`)."""

    _itos: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    def __len__(self) -> int:
        return len(self._itos)

    def id_to_token(self, i: int) -> str:
        return self._itos[self._check_ids([i])[0]]

    @classmethod
    def _word_key(cls, word: str, language: str | None) -> str:
        """The token of a whole word (language-tagged subclasses prefix the language)."""
        return word

    @classmethod
    def _word_of(cls, token: str) -> str:
        """The word a whole-word token stands for: `_word_key` undone."""
        return token

    def _check_word_tokens(self, tokens: Iterable[str]) -> None:
        """Hook: language-tagged subclasses check their whole-word tokens."""

    @classmethod
    def _pairs(cls, texts: Iterable[Any], seen: set[str]) -> Iterator[tuple[str | None, str]]:
        """(language, text) pairs of `build`'s input: plain texts have no language."""
        for text in texts:
            yield None, text


class _PerLanguage(_TokenList):
    """Whole-word tokens written ``language:word``, so equal words of two languages stay apart
    (DGS ``HAUS`` and an ASL gloss ``HAUS`` get distinct ids and embeddings). Building takes
    (language, text) pairs, and encoding always needs the language."""

    SEPARATOR: ClassVar[str] = ":"

    @classmethod
    def _word_key(cls, word: str, language: str | None) -> str:
        return f"{language}{cls.SEPARATOR}{word}"

    @classmethod
    def _word_of(cls, token: str) -> str:
        return token.partition(cls.SEPARATOR)[2]

    def _check_word_tokens(self, tokens: Iterable[str]) -> None:
        for t in tokens:
            code, sep, word = t.partition(self.SEPARATOR)
            if not sep or code not in self._languages or not word:
                raise DataError(f"word token {t!r} is not 'language:word' with a known language")

    @classmethod
    def _pairs(cls, texts: Iterable[Any], seen: set[str]) -> Iterator[tuple[str | None, str]]:
        for item in texts:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise UsageError(f"{cls.__name__}.build takes (language, text) pairs, got {item!r}")
            seen.add(item[0])
            yield item[0], item[1]

    def word_ids(self, text: str, language: str | None = None) -> list[list[int]]:
        if language is None:
            raise UsageError(
                f"{type(self).__name__}.encode needs a language: its words are per language"
            )
        self.marker_id(language)
        return super().word_ids(text, language)


class _WordBase(_TokenList):
    """A fixed token list with a lookup table: the common core of the two word vocabularies."""

    def __init__(
        self, tokens: Sequence[str], languages: Sequence[str] = (), lowercase: bool = False
    ) -> None:
        super().__init__(languages, lowercase)
        head = _head(self._languages)
        tokens = list(tokens)
        if tokens[: len(head)] != head:
            raise DataError(f"vocabulary must start with {head}, got {tokens[: len(head)]}")
        self._itos = tokens
        self._stoi = {t: i for i, t in enumerate(tokens)}
        if len(self._stoi) != len(tokens):
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise DataError(f"vocabulary lists token {dup!r} twice")
        self._check_word_tokens(tokens[len(head) :])

    def token_to_id(self, token: str) -> int:
        return self._stoi.get(token, UNK_ID)

    def _words(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()

    @classmethod
    def build(
        cls: type[W],
        texts: Iterable[Any],
        languages: Sequence[str] = (),
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
    ) -> W:
        """Count words over `texts` (`LangWordVocab`: (language, text) pairs; languages first
        seen there are appended to `languages` in sorted order); keep those seen `min_freq`
        times, at most `max_size` words (specials and language markers come on top)."""
        langs = _check_languages(languages)
        seen: set[str] = set()
        counts: Counter[str] = Counter()
        for code, text in cls._pairs(texts, seen):
            words = (text.lower() if lowercase else text).split()
            counts.update(cls._word_key(w, code) for w in words)
        langs = _with_seen(langs, seen)
        head = _head(langs)
        for t in head:
            counts.pop(t, None)
        keep = _most_frequent(counts, min_freq, max_size, ("min_freq", "max_size"))
        return cls(head + keep, langs, lowercase)

    def word_ids(self, text: str, language: str | None = None) -> list[list[int]]:
        """One id per whitespace word; unknown words become ``<unk>``."""
        return [[self._stoi.get(self._word_key(w, language), UNK_ID)] for w in self._words(text)]

    def to_dict(self) -> dict[str, Any]:
        return {**self._header(), "tokens": self._itos}

    @classmethod
    def from_dict(cls: type[W], d: dict[str, Any], path: str | Path | None = None) -> W:
        languages, lowercase = cls._read_header(d, path)
        tokens = _strings(d, "tokens", path)
        with _blame(path, "tokens"):
            return cls(tokens, languages=languages, lowercase=lowercase)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, languages={self._languages})"


class WordVocab(_WordBase):
    """Word-level vocabulary for glosses: whitespace split, case kept unless `lowercase`."""

    type_name = "word"

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Words joined by spaces; `skip_special` drops pad/bos/eos and markers, keeps ``<unk>``."""
        out = []
        for i in self._check_ids(ids):
            if skip_special and i != UNK_ID and i < self.num_special:
                continue
            out.append(self._itos[i])
        return " ".join(out)


class LangWordVocab(_PerLanguage, _WordBase):
    """Word vocabulary whose tokens are ``language:WORD``, so equal glosses of two languages differ.

    Encoding therefore always needs the language. Markers are still added as in `WordVocab`
    (first, or before every token with `tag_every_token`), so the input keeps the paper's LangGloss
    shape; the language-specific token is what actually keeps DGS ``HAUS`` apart from ASL ``HAUS``.
    """

    type_name = "lang_word"

    def decode(
        self, ids: Iterable[int], skip_special: bool = True, keep_language: bool = False
    ) -> str:
        """Words joined by spaces, without their ``language:`` prefix unless `keep_language`."""
        out = []
        for i in self._check_ids(ids):
            if i < self.num_special:
                if skip_special and i != UNK_ID:
                    continue
                out.append(self._itos[i])
            else:
                t = self._itos[i]
                out.append(t if keep_language else self._word_of(t))
        return " ".join(out)


class SubwordTokenizer(Tokenizer):
    """A sentencepiece unigram/BPE model over spoken-language text, trained in memory.

    `lowercase` folds case in Python before training and encoding (sentencepiece then still applies
    its NFKC normalisation). Language markers are sentencepiece user-defined symbols, so they keep
    the shared ids 4, 5, ... and are never split.
    """

    type_name = "subword"
    MODEL_TYPES: ClassVar[tuple[str, ...]] = ("unigram", "bpe")

    def __init__(
        self,
        model_proto: bytes,
        languages: Sequence[str] = (),
        lowercase: bool = False,
        model_type: str = "unigram",
    ) -> None:
        import sentencepiece as spm

        super().__init__(languages, lowercase)
        self.model_type = model_type
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.load_from_serialized_proto(self._proto)
        except (RuntimeError, OSError) as e:
            raise DataError(f"not a sentencepiece model: {e}") from None
        expected = _head(self._languages)
        got = [
            self._sp.id_to_piece(i) for i in range(min(len(expected), self._sp.get_piece_size()))
        ]
        if got != expected:
            raise DataError(f"sentencepiece model must start with {expected}, got {got}")

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        vocab_size: int = 8000,
        model_type: str = "unigram",
        languages: Sequence[str] = (),
        lowercase: bool = False,
        character_coverage: float = 1.0,
    ) -> SubwordTokenizer:
        """Train on `sentences` (held in memory, no temporary files).

        `vocab_size` is a maximum: a corpus too small to fill it yields a smaller vocabulary and a
        logged warning, instead of sentencepiece's hard error. `character_coverage` defaults to 1.0
        because sign-language corpora are small and every character in them matters.
        """
        import sentencepiece as spm

        if model_type not in cls.MODEL_TYPES:
            raise UsageError(f"model_type must be one of {cls.MODEL_TYPES}, got {model_type!r}")
        langs = _check_languages(languages)
        data = [s.lower() if lowercase else s for s in sentences]
        data = [s for s in data if s.strip()]
        if not data:
            raise UsageError("cannot train a subword tokenizer on an empty corpus")
        minimum = len(SPECIAL_TOKENS) + len(langs) + 1
        if vocab_size < minimum:
            raise UsageError(f"vocab_size {vocab_size} is too small: need at least {minimum}")
        buf = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(data),
                model_writer=buf,
                vocab_size=vocab_size,
                model_type=model_type,
                hard_vocab_limit=False,  # vocab_size is an upper bound on tiny corpora
                character_coverage=character_coverage,
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                pad_piece=PAD,
                unk_piece=UNK,
                bos_piece=BOS,
                eos_piece=EOS,
                unk_surface=UNK,
                user_defined_symbols=[language_marker(c) for c in langs],
                num_threads=1,  # deterministic, and the corpora that fit in memory train fast
                minloglevel=2,
            )
        except RuntimeError as e:
            msg = str(e).split("]", 1)[-1].strip() or str(e)
            raise UsageError(f"sentencepiece training failed: {msg}") from None
        tok = cls(buf.getvalue(), langs, lowercase, model_type)
        if tok.vocab_size < vocab_size:
            log.warning(
                "corpus too small for a %s vocabulary of %d: trained %d pieces instead",
                model_type,
                vocab_size,
                tok.vocab_size,
            )
        return tok

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size())

    @property
    def model_proto(self) -> bytes:
        """The serialized sentencepiece model (what `sentencepiece` itself would write)."""
        return self._proto

    def pieces(self, text: str) -> list[str]:
        """The subword pieces of `text` (for inspection; markers are not added)."""
        return list(self._sp.encode(text.lower() if self.lowercase else text, out_type=str))

    def id_to_token(self, i: int) -> str:
        return str(self._sp.id_to_piece(self._check_ids([i])[0]))

    def word_ids(self, text: str, language: str | None = None) -> list[list[int]]:
        """One group per piece: with `tag_every_token` the marker precedes every piece (the
        tokenizer's unit), as LangGloss does with words."""
        return [
            [i] for i in self._sp.encode(text.lower() if self.lowercase else text, out_type=int)
        ]

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Text; `skip_special` drops pad/bos/eos and markers (``<unk>`` stays visible)."""
        parts: list[str] = []
        run: list[int] = []
        for i in self._check_ids(ids):
            if i == UNK_ID or i >= self.num_special:
                run.append(i)
                continue
            if skip_special:
                continue
            if run:
                parts.append(self._sp.decode(run))
                run = []
            parts.append(self._sp.id_to_piece(i))
        if run:
            parts.append(self._sp.decode(run))
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {  # the key order of the shipped files (the default model's prompt tokenizer)
            "type": self.type_name,
            "format_version": FORMAT_VERSION,
            "model_type": self.model_type,
            "lowercase": self.lowercase,
            "languages": list(self._languages),
            "vocab_size": self.vocab_size,
            "sentencepiece_model_base64": base64.b64encode(self._proto).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str | Path | None = None) -> SubwordTokenizer:
        languages, lowercase = cls._read_header(d, path)
        field = "sentencepiece_model_base64"
        try:
            proto = base64.b64decode(_field(d, field, str, path), validate=True)
        except (binascii.Error, ValueError):
            raise DataError("not valid base64", path, field=field) from None
        model_type = _field(d, "model_type", str, path)
        if model_type not in cls.MODEL_TYPES:
            raise DataError(f"unknown model_type {model_type!r}", path, field="model_type")
        with _blame(path, field):
            tok = cls(proto, languages=languages, lowercase=lowercase, model_type=model_type)
        if tok.vocab_size != _field(d, "vocab_size", int, path):
            raise DataError(
                f"vocab_size says {d['vocab_size']} but the model has {tok.vocab_size} pieces",
                path,
                field="vocab_size",
            )
        return tok

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the proto, not the C++ processor (DataLoader workers started with spawn)."""
        return type(self), (self._proto, self._languages, self.lowercase, self.model_type)

    def __repr__(self) -> str:
        return (
            f"SubwordTokenizer({self.model_type}, vocab_size={self.vocab_size}, "
            f"languages={self._languages}, lowercase={self.lowercase})"
        )


# ----------------------------------------------------------------------------------------------
# Characters: words with a character fallback, so that no input is ever <unk>

WORD_START, WORD_END, FINGERSPELL_START = "<w>", "</w>", "<fs>"
FINGERSPELL_PREFIX = "fs-"  # a fingerspelled gloss: fs-REGEN (signllm/data/demo_corpus.py)
BYTE_TOKENS: tuple[str, ...] = tuple(f"<0x{b:02X}>" for b in range(256))
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)  # skin tones: Sk, but they belong to the emoji
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # two of them make a flag
_TAGS = range(0xE0020, 0xE0080)  # subdivision flags (England, Scotland)
_ZWJ = "\u200d"


def normalize_text(text: str, lowercase: bool) -> str:
    """NFC, then (optionally) lower case, then NFC again (lower-casing can decompose: İ -> i̇)."""
    text = unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", text.lower()) if lowercase else text


def graphemes(text: str) -> list[str]:
    """Split `text` into user-perceived characters (a pragmatic subset of Unicode UAX #29).

    A cluster is a base code point plus whatever attaches to it: combining marks (Mn, Mc, Me:
    accents, Indic vowel signs, variation selectors), emoji skin-tone modifiers and tags, anything
    joined by a zero-width joiner (family emoji), and regional indicators in pairs (flags). Text
    is expected in NFC (`normalize_text`), so é and Hangul syllables are already one code point.
    """
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if out:
            prev = out[-1]
            attach = (
                unicodedata.category(ch) in ("Mn", "Mc", "Me")
                or ch == _ZWJ
                or prev.endswith(_ZWJ)
                or cp in _EMOJI_MODIFIERS
                or cp in _TAGS
                or (
                    cp in _REGIONAL_INDICATORS
                    and len(prev) == 1
                    and ord(prev) in _REGIONAL_INDICATORS
                )
            )
            if attach and not prev.isspace():
                out[-1] = prev + ch
                continue
        out.append(ch)
    return out


def split_words(text: str) -> list[str]:
    """Words of spoken text for the character tokenizers: NFC, split on whitespace, punctuation
    stripped from both ends. Unlike a ``\\w+`` regex it keeps combining marks (Indic vowel signs,
    a decomposed accent), emoji and every script's letters with their word."""
    out = []
    for w in unicodedata.normalize("NFC", text).split():
        i, j = 0, len(w)
        while i < j and unicodedata.category(w[i]).startswith("P"):
            i += 1
        while j > i and unicodedata.category(w[j - 1]).startswith("P"):
            j -= 1
        if i < j:
            out.append(w[i:j])
    return out


class CharVocab(_TokenList):
    """Whole words where the training data saw them often enough, characters for every other word.

    A word in the vocabulary is one token (``WETTER``); any other word is spelled, one token per
    grapheme cluster between word-boundary markers (``<w> x y z </w>``), and a cluster never seen
    in training falls back to its UTF-8 bytes (``<0xE2> <0x82> <0xAC>``), so no input of any
    script is ever ``<unk>``. A fingerspelled gloss ``fs-REGEN`` is always spelled, whether or not
    REGEN is a known word, and opens with ``<fs>`` instead of ``<w>``: the model sees the letters
    it has to sign, which is what lets it fingerspell a word it never saw.

    Case. With `lowercase` (the default) text is lower-cased before anything else: sign
    languages do not sign case (a fingerspelled A is the same handshape as a), glosses are written
    in upper case and sentences in lower case, and folding them halves the character set and lets
    ``fs-REGEN`` share its letters with the sentence word ``regen``. Decoding then gives the
    lower-case text. `str.lower`, not `casefold`, so ß stays one letter (casefold spells it ss).

    Id layout: the shared specials and language markers, ``<w>``, ``</w>``, ``<fs>``, the 256
    byte tokens, the characters, then the words (`tokens` lists them all in id order).
    """

    type_name: ClassVar[str] = "char"

    def __init__(
        self,
        chars: Sequence[str],
        words: Sequence[str] = (),
        languages: Sequence[str] = (),
        lowercase: bool = True,
    ) -> None:
        super().__init__(languages, lowercase)
        chars, words = list(chars), list(words)
        for c in chars:
            if not isinstance(c, str) or len(graphemes(c)) != 1 or c.isspace():
                raise DataError(f"character token {c!r} is not one grapheme cluster")
        for w in words:
            if not isinstance(w, str) or not w or len(w.split()) != 1 or w != w.strip():
                raise DataError(f"word token {w!r} is empty or contains whitespace")
            if w.startswith(FINGERSPELL_PREFIX) or self._word_of(w).startswith(FINGERSPELL_PREFIX):
                raise DataError(f"word token {w!r} is a fingerspelled gloss (always spelled)")
        for name, items in (("character", chars), ("word", words)):
            if len(set(items)) != len(items):
                dup = next(t for t, c in Counter(items).items() if c > 1)
                raise DataError(f"{name} token {dup!r} is listed twice")
        self._chars, self._words = chars, words
        head = _head(self._languages)
        self.word_start_id = len(head)
        self.word_end_id = len(head) + 1
        self.fingerspell_id = len(head) + 2
        self.byte_offset = len(head) + 3
        self.char_offset = self.byte_offset + len(BYTE_TOKENS)
        self.word_offset = self.char_offset + len(chars)
        self._char_id = {c: self.char_offset + i for i, c in enumerate(chars)}
        self._word_id = {w: self.word_offset + i for i, w in enumerate(words)}
        self._itos = [*head, WORD_START, WORD_END, FINGERSPELL_START, *BYTE_TOKENS, *chars, *words]
        self._check_word_tokens(words)

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def _count(
        cls, items: Iterable[tuple[str | None, str]], lowercase: bool
    ) -> tuple[Counter[str], Counter[str]]:
        """Grapheme counts of every word (fingerspelled ones without their prefix) and counts of
        the word tokens (`_word_key`) that may become whole tokens (never a fingerspelled gloss)."""
        chars: Counter[str] = Counter()
        words: Counter[str] = Counter()
        for code, text in items:
            for w in normalize_text(text, lowercase).split():
                fs = w.startswith(FINGERSPELL_PREFIX) and len(w) > len(FINGERSPELL_PREFIX)
                chars.update(graphemes(w[len(FINGERSPELL_PREFIX) :] if fs else w))
                if not fs:
                    words[cls._word_key(w, code)] += 1
        return chars, words

    @classmethod
    def build(
        cls: type[C],
        texts: Iterable[Any],
        languages: Sequence[str] = (),
        min_word_freq: int = 2,
        max_words: int | None = None,
        lowercase: bool = True,
    ) -> C:
        """Characters of every word in `texts`, plus the words seen at least `min_word_freq`
        times as whole tokens (at most `max_words`; 0 = characters only). Words seen once stay
        spelled, so training also shows the model spelled words, as unseen words will be.
        `LangCharVocab` counts (language, text) pairs, per language:word; languages first seen
        there are appended to `languages` in sorted order."""
        langs = _check_languages(languages)
        seen: set[str] = set()
        chars, words = cls._count(cls._pairs(texts, seen), lowercase)
        keep = _most_frequent(words, min_word_freq, max_words, ("min_word_freq", "max_words"))
        return cls(sorted(chars), keep, _with_seen(langs, seen), lowercase)

    # -- the vocabulary ----------------------------------------------------------------------

    @property
    def chars(self) -> list[str]:
        return list(self._chars)

    @property
    def words(self) -> list[str]:
        return list(self._words)

    def knows_word(self, word: str, language: str | None = None) -> bool:
        """Whether `word` is one whole token (else it is spelled; either way never <unk>)."""
        return self._word_key(normalize_text(word, self.lowercase), language) in self._word_id

    def unseen_characters(self, word: str) -> list[str]:
        """The characters (grapheme clusters) of `word` that training never showed: the model
        could only spell them with byte tokens it never learned from."""
        return [
            g for g in graphemes(normalize_text(word, self.lowercase)) if g not in self._char_id
        ]

    # -- encoding ----------------------------------------------------------------------------

    def spell(self, word: str) -> list[int]:
        """Ids of the characters of `word` (already normalised), bytes for unseen clusters."""
        out: list[int] = []
        for g in graphemes(word):
            i = self._char_id.get(g)
            if i is None:
                out.extend(self.byte_offset + b for b in g.encode("utf-8"))
            else:
                out.append(i)
        return out

    def word_ids(self, text: str, language: str | None = None) -> list[list[int]]:
        """One id group per whitespace word of `text`: a word token or a spelled word."""
        groups = []
        p = len(FINGERSPELL_PREFIX)
        for w in normalize_text(text, self.lowercase).split():
            if w.startswith(FINGERSPELL_PREFIX) and len(w) > p:
                groups.append([self.fingerspell_id, *self.spell(w[p:]), self.word_end_id])
                continue
            i = self._word_id.get(self._word_key(w, language))
            if i is not None:
                groups.append([i])
            else:
                groups.append([self.word_start_id, *self.spell(w), self.word_end_id])
        return groups

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Words joined by spaces (fingerspelled ones as ``fs-word``); `skip_special` drops
        pad/bos/eos and markers, ``<unk>`` (never produced by `encode`) stays visible."""
        words: list[str] = []
        spelled: bytearray | None = None
        prefix = ""

        def flush() -> None:
            nonlocal spelled
            if spelled is not None:
                words.append(prefix + spelled.decode("utf-8", errors="replace"))
                spelled = None

        for i in self._check_ids(ids):
            if i in (self.word_start_id, self.fingerspell_id):
                flush()
                spelled = bytearray()
                prefix = FINGERSPELL_PREFIX if i == self.fingerspell_id else ""
            elif i == self.word_end_id:
                flush()
            elif self.byte_offset <= i < self.word_offset:
                if spelled is None:  # characters without a word start: still a word
                    spelled, prefix = bytearray(), ""
                piece = self._itos[i]
                spelled += (
                    bytes([i - self.byte_offset]) if i < self.char_offset else piece.encode("utf-8")
                )
            else:
                flush()
                if i >= self.word_offset:
                    words.append(self._word_of(self._itos[i]))
                elif not skip_special or i == UNK_ID:
                    words.append(self._itos[i])
        flush()
        return " ".join(words)

    # -- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {**self._header(), "chars": self._chars, "words": self._words}

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any], path: str | Path | None = None) -> C:
        languages, lowercase = cls._read_header(d, path)
        chars, words = _strings(d, "chars", path), _strings(d, "words", path)
        with _blame(path, "chars"):
            cls(chars, [], languages, lowercase)
        with _blame(path, "words"):
            return cls(chars, words, languages, lowercase)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vocab_size={self.vocab_size}, chars={len(self._chars)}, "
            f"words={len(self._words)}, languages={self._languages})"
        )


class LangCharVocab(_PerLanguage, CharVocab):
    """`CharVocab` for Prompt2LangGloss: whole words are per language (``gsg:WETTER``), as in
    `LangWordVocab`, so equal words of two languages stay apart; characters are shared, and the
    language marker (first, or before every word with `tag_every_token`: the paper's LangGloss)
    says whose letters they are. Encoding therefore always needs the language.
    """

    type_name: ClassVar[str] = "lang_char"


TOKENIZER_TYPES: dict[str, Any] = {
    WordVocab.type_name: WordVocab,
    LangWordVocab.type_name: LangWordVocab,
    SubwordTokenizer.type_name: SubwordTokenizer,
    CharVocab.type_name: CharVocab,
    LangCharVocab.type_name: LangCharVocab,
}


def learn_tokenizer(
    type_name: str, texts: Iterable[Any], languages: Sequence[str] = (), vocab_size: int = 8000
) -> Tokenizer:
    """A tokenizer of a `TOKENIZER_TYPES` type learned from `texts` with that type's defaults:
    sentencepiece ("subword", `vocab_size` pieces) or a counted vocabulary (the others; the
    lang_* types count (language, text) pairs). The one place a type name becomes a tokenizer."""
    cls = TOKENIZER_TYPES.get(type_name)
    if cls is None:
        raise UsageError(
            f"tokenizer type must be one of {', '.join(TOKENIZER_TYPES)}, got {type_name!r}"
        )
    if cls is SubwordTokenizer:
        return SubwordTokenizer.train(texts, vocab_size, languages=languages)
    return cls.build(texts, languages=languages)


def _read_json(path: str | Path) -> dict[str, Any]:
    from ..safeio import read_json  # depth, UTF-8 and NaN checks, each a DataError

    path = Path(path)
    d = read_json(path, "tokenizer file")
    if not isinstance(d, dict):
        raise DataError("a tokenizer file must hold a JSON object", path)
    return d


def _field(d: dict[str, Any], name: str, kind: type, path: str | Path | None) -> Any:
    if name not in d:
        raise DataError("missing", path, field=name)
    value = d[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"expected {kind.__name__}, got {type(value).__name__}", path, field=name)
    return value


def _strings(d: dict[str, Any], name: str, path: str | Path | None) -> list[str]:
    """A field holding a list of token strings."""
    items: list[Any] = _field(d, name, list, path)
    if not all(isinstance(t, str) for t in items):
        raise DataError("every token must be a string", path, field=name)
    return items


@contextmanager
def _blame(path: str | Path | None, field: str) -> Iterator[None]:
    """Re-raise a constructor's `DataError` as one about `field` of the file at `path`."""
    try:
        yield
    except DataError as e:
        raise DataError(e.message, path, field=field) from None


def tokenizer_from_dict(d: dict[str, Any], path: str | Path | None = None) -> Tokenizer:
    """Rebuild a tokenizer from its `to_dict()`, dispatching on the ``type`` field."""
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in TOKENIZER_TYPES:
        known = ", ".join(sorted(TOKENIZER_TYPES))
        raise DataError(f"unknown tokenizer type {kind!r} (known: {known})", path, field="type")
    return TOKENIZER_TYPES[kind].from_dict(d, path)  # type: ignore[no-any-return]


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer saved by `save`: `path` is its directory or the ``tokenizer.json`` itself."""
    path = Path(path)
    if path.is_dir():
        path = path / TOKENIZER_FILE
    return tokenizer_from_dict(_read_json(path), path)


def check_vocab_size(
    tokenizer: Tokenizer, model_vocab_size: int, path: str | Path | None = None
) -> None:
    """Refuse a tokenizer whose vocabulary differs from the model's embedding table.

    A mismatch means the checkpoint was saved with another tokenizer: ids would silently point at
    the wrong embeddings, so loading stops here with both numbers.
    """
    if tokenizer.vocab_size != model_vocab_size:
        raise DataError(
            f"tokenizer has {tokenizer.vocab_size} tokens but the model was built for "
            f"{model_vocab_size}; the checkpoint's tokenizer.json does not belong to its weights",
            path,
            field="vocab_size",
        )
