"""The demo corpus: every bundled real sample plus fingerspelled words, built into one store.

Why: the real samples we may ship are tiny (15 PHOENIX sentences, 5 How2Sign clips, 4 SignSuisse
signs), too little to see a model learn anything across languages. Fingerspelling fills the gap
honestly: each word is composed from real recordings of its letters (spoken-to-signed's lexicon,
20 sign languages), the joins between letters are synthetic, and every composed clip says so
(`composed=true` in the store's extra). What is real and what is composed, and the licences, are
in DEMO_CORPUS.md next to this file.

Words come from `wordlists/<spoken language>.txt` (common dictionary words, our own CC0 choice).
A word is held out for testing when SHA-256("<spoken>:<folded word>") falls in the lowest 20%:
the rule depends on the word alone, so adding words never moves another, and a word is held out
in every sign language that shares its spoken language (German for asq, gsg and sgg). Held-out
words form the test split and training never sees them; of the remaining words a seeded 10% are
dev. Words the alphabet cannot spell, or that need a broken letter recording, are left out and
reported.

    from signllm.data.demo_corpus import write_fingerspelling_corpus, build_demo_corpus
    write_fingerspelling_corpus("out/fs")              # lexicon folder + fingerspelling.csv
    build_demo_corpus("out/demo_store", workers=2)     # all demo sources -> one store
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import random
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, UsageError
from ..fileio import atomic_write
from ..pose import Pose
from .fingerspell import (
    DEFAULT_HOLD_FRAMES,
    DEFAULT_TRANSITION_FRAMES,
    INSTALL_HINT,
    FingerspellingLexicon,
    UnspellableError,
    default_lexicon,
    fold,
)

WORDLISTS_DIR = Path(__file__).resolve().parent / "wordlists"
HELDOUT_FRACTION = 0.2
DEV_FRACTION = 0.1
DEFAULT_FPS = 25.0  # most letter recordings are 25 fps; one rate keeps the corpus uniform
MANIFEST = "fingerspelling.csv"  # build_dataset source: carries composed/units into the store
SUMMARY = "fingerspelling.json"
MANIFEST_COLUMNS = (
    "path",
    "id",
    "language",
    "spoken_language",
    "split",
    "text",
    "gloss",
    "fps",
    "composed",
    "fingerspelled",
    "units",
)


# --- word lists -------------------------------------------------------------------------------
def read_wordlist(path: str | Path) -> list[str]:
    """Words of a list file: one per line, '#' starts a comment line, blank lines skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError("no such word list", path) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text: {e.reason}", path) from None
    words: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines, start=1):
        word = raw.strip()
        if not word or word.startswith("#"):
            continue
        if len(word.split()) > 1:
            raise DataError(f"one word per line, got {word!r}", path, lineno)
        if word in seen:
            raise DataError(f"{word!r} is listed twice (also line {seen[word]})", path, lineno)
        seen[word] = lineno
        words.append(word)
    return words


def is_heldout(word: str, spoken_language: str, fraction: float = HELDOUT_FRACTION) -> bool:
    """True if the word belongs to the held-out (test) words: a hash of the word alone."""
    key = f"{spoken_language}:{fold(word, spoken_language)}".encode()
    u = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64
    return u < fraction


@dataclass(frozen=True)
class WordList:
    """Words of one spoken language, split into training words and held-out test words."""

    spoken_language: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]

    @classmethod
    def from_words(
        cls, words: Sequence[str], spoken_language: str, fraction: float = HELDOUT_FRACTION
    ) -> WordList:
        held = tuple(w for w in words if is_heldout(w, spoken_language, fraction))
        return cls(spoken_language, tuple(w for w in words if w not in held), held)


def wordlist_languages(folder: str | Path = WORDLISTS_DIR) -> list[str]:
    """Spoken languages with a word list (file stems)."""
    return sorted(p.stem for p in Path(folder).glob("*.txt"))


def load_wordlist(spoken_language: str, folder: str | Path = WORDLISTS_DIR) -> WordList:
    path = Path(folder) / f"{spoken_language}.txt"
    if not path.is_file():
        raise UsageError(
            f"no word list for spoken language {spoken_language!r} ({path}); have: "
            f"{', '.join(wordlist_languages(folder))}"
        )
    return WordList.from_words(read_wordlist(path), spoken_language)


# --- planning: which word goes where ----------------------------------------------------------
@dataclass
class LanguagePlan:
    """The words of one sign language per split, and the words left out with the reason."""

    language: str
    spoken_language: str
    train: list[str] = field(default_factory=list)
    dev: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    def splits(self) -> Iterator[tuple[str, str]]:
        for split in ("train", "dev", "test"):
            for w in getattr(self, split):
                yield split, w

    def counts(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "dev": len(self.dev),
            "test": len(self.test),
            "rejected": len(self.rejected),
        }


def _filter(
    lexicon: FingerspellingLexicon,
    lang: str,
    words: Sequence[str],
    broken: set[str],
    rejected: dict[str, str],
) -> list[str]:
    ok = []
    for w in words:
        try:
            units = lexicon.spell(w, lang)
        except UnspellableError as e:
            rejected[w] = f"no letter {e.char!r}"
            continue
        if not units:
            rejected[w] = "nothing to spell"
            continue
        bad = sorted(set(units) & broken)
        if bad:
            rejected[w] = f"broken letter recording {' '.join(bad)}"
            continue
        ok.append(w)
    return ok


def plan_fingerspelling(
    lexicon: FingerspellingLexicon,
    languages: Sequence[str] | None = None,
    words: Mapping[str, Sequence[str] | WordList] | None = None,
    seed: int = 0,
    dev_fraction: float = DEV_FRACTION,
    wordlists: str | Path = WORDLISTS_DIR,
) -> dict[str, LanguagePlan]:
    """Per sign language: spellable train/dev/test words and the rejected ones.

    `languages`: sign languages (default: every one of the lexicon with a word list for its
    spoken language). `words`: sign language -> words (held out by the hash rule) or a WordList
    (taken as given), instead of the bundled lists.
    """
    if not 0 <= dev_fraction < 1:
        raise UsageError(f"dev fraction must be in [0, 1), got {dev_fraction}")
    have = set(wordlist_languages(wordlists))
    if languages is None:
        if words is not None:
            languages = list(words)
        else:
            languages = [lg for lg in lexicon.languages if lexicon.spoken_language(lg) in have]
    plans: dict[str, LanguagePlan] = {}
    for name in languages:
        lang = lexicon.language(name)
        spoken = lexicon.spoken_language(lang)
        given = None if words is None else words.get(name, words.get(lang))
        if words is not None and given is None:
            raise UsageError(f"no words given for sign language {lang}")
        if given is None:
            wl = load_wordlist(spoken, wordlists)
        elif isinstance(given, WordList):
            wl = given
        else:
            wl = WordList.from_words(list(given), spoken)
        overlap = set(wl.train) & set(wl.heldout)
        if overlap:
            raise UsageError(f"{lang}: words both in train and held out: {sorted(overlap)}")
        plan = LanguagePlan(lang, spoken)
        broken = set(lexicon.broken_letters(lang))
        train = _filter(lexicon, lang, wl.train, broken, plan.rejected)
        plan.test = _filter(lexicon, lang, wl.heldout, broken, plan.rejected)
        n_dev = round(dev_fraction * len(train))
        dev = set(random.Random(f"{seed}:{lang}").sample(train, n_dev)) if n_dev else set()
        plan.train = [w for w in train if w not in dev]
        plan.dev = [w for w in train if w in dev]
        plans[lang] = plan
    return plans


# --- writing ----------------------------------------------------------------------------------
def _composed(
    lexicon: FingerspellingLexicon, plans: Mapping[str, LanguagePlan], compose_kw: dict[str, Any]
) -> Iterator[Pose]:
    for lang, plan in plans.items():
        for split, word in plan.splits():
            pose = lexicon.compose(word, lang, **compose_kw)
            pose.meta.split = split
            yield pose


def write_fingerspelling_corpus(
    out_dir: str | Path,
    lexicon: FingerspellingLexicon | None = None,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    *,
    words: Mapping[str, Sequence[str] | WordList] | None = None,
    fps: float = DEFAULT_FPS,
    dev_fraction: float = DEV_FRACTION,
    transition_frames: int = DEFAULT_TRANSITION_FRAMES,
    hold_frames: int = DEFAULT_HOLD_FRAMES,
    wordlists: str | Path = WORDLISTS_DIR,
) -> Path:
    """Compose every planned word into a lexicon folder at `out_dir` (a new or empty folder).

    Writes index.csv + one `.pose` per word (ids `<lang>/fs/<word>`, split column), MANIFEST (the
    same clips as a build manifest whose extra columns mark them composed) and SUMMARY (counts
    and rejected words per language, settings). The folder appears whole or not at all.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} already exists and is not an empty folder; pick a new one")
    lexicon = lexicon if lexicon is not None else default_lexicon()
    plans = plan_fingerspelling(lexicon, languages, words, seed, dev_fraction, wordlists)
    if not any(p.train or p.dev or p.test for p in plans.values()):
        raise UsageError("no spellable word for any language: nothing to write")
    compose_kw = {"fps": fps, "transition_frames": transition_frames, "hold_frames": hold_frames}
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        from .formats.lexicon import write_lexicon

        folder = work / "corpus"
        write_lexicon(_composed(lexicon, plans, compose_kw), folder)
        _write_manifest(folder, plans, lexicon, fps)
        summary = {
            "lexicon": str(lexicon.folder),
            "lexicon_is_sample": lexicon.is_sample,
            "seed": seed,
            "fps": fps,
            "heldout_fraction": HELDOUT_FRACTION,
            "dev_fraction": dev_fraction,
            "transition_frames": transition_frames,
            "hold_frames": hold_frames,
            "languages": {
                lang: {
                    **p.counts(),
                    "spoken_language": p.spoken_language,
                    "rejected_words": p.rejected,
                }
                for lang, p in plans.items()
            },
        }
        with atomic_write(folder / SUMMARY, encoding="utf-8") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
            f.write("\n")
        if out.exists():
            out.rmdir()  # empty (checked above)
        folder.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _write_manifest(
    folder: Path, plans: Mapping[str, LanguagePlan], lexicon: FingerspellingLexicon, fps: float
) -> None:
    """index.csv again as a build manifest, with composed/fingerspelled/units columns."""
    with (folder / "index.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    for row in rows:
        lang = row["signed_language"]
        units = lexicon.spell(row["words"], lang)
        w.writerow(
            [
                row["path"],
                row["id"],
                lang,
                row["spoken_language"],
                row["split"],
                row["words"],
                row["glosses"],
                f"{fps:g}",
                "true",
                "true",
                " ".join(units),
            ]
        )
    with atomic_write(folder / MANIFEST, encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


# --- the whole demo ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoPart:
    """One part of the demo corpus: what it is, whether it is recorded, its licence."""

    name: str
    language: str
    what: str
    recorded: str  # "real" | "composed (real letters, synthetic transitions)"
    licence: str


DEMO_PARTS = (
    DemoPart(
        "phoenix14t",
        "gsg",
        "15 RWTH-PHOENIX-Weather-2014T sentences, 3D .skels",
        "real",
        "CC BY-NC-SA 4.0; PHOENIX non-commercial research",
    ),
    DemoPart(
        "how2sign",
        "ase",
        "5 How2Sign clips, OpenPose 2D JSON (lifted to 3D by the build)",
        "real",
        "CC BY-NC-SA 4.0 (Prompt2Sign repo); How2Sign CC BY-NC 4.0",
    ),
    DemoPart(
        "signsuisse",
        "sgg",
        "4 Swiss-German SL signs (SignSuisse), MediaPipe .pose",
        "real",
        "MIT (spoken-to-signed repo); SignSuisse video terms not verified",
    ),
    DemoPart(
        "fingerspelling",
        "20 languages",
        "common words fingerspelled from spoken-to-signed's letter recordings",
        "composed (real letters, synthetic transitions)",
        "letters MIT (spoken-to-signed); word lists CC0; underlying videos not verified",
    ),
)


def _how2sign_manifest(samples: Path, out: Path, seed: int) -> Path:
    """clips.tsv (clip, frames, sentence) -> a build manifest; a sentence's recordings share
    one split (two recordings of one sentence must not sit in train and test)."""
    from .build import DEFAULT_SPLIT_RATIOS, split_for

    tsv = samples / "how2sign" / "clips.tsv"
    clips = samples / "how2sign" / "openpose_json"
    with tsv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "id", "language", "spoken_language", "split", "text", "fps"])
    for lineno, row in enumerate(rows, start=2):
        clip, text = (row.get("clip") or "").strip(), (row.get("text") or "").strip()
        if not clip or not (clips / clip).is_dir():
            raise DataError(f"no OpenPose folder for clip {clip!r}", tsv, lineno, "clip")
        split = split_for(text, seed, DEFAULT_SPLIT_RATIOS)
        w.writerow([str((clips / clip).resolve()), clip, "ase", "en", split, text, "24"])
    path = out / "how2sign.csv"
    with atomic_write(path, encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    return path


def demo_sources(
    samples_dir: str | Path | None = None,
    lexicon: FingerspellingLexicon | None = None,
    *,
    out_tmp: str | Path,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    words: Mapping[str, Sequence[str] | WordList] | None = None,
    fingerspelling: bool = True,
) -> list[Any]:
    """The demo's `build_dataset` sources (`build.Source`); writes the How2Sign manifest and the
    fingerspelling corpus into `out_tmp` (the caller owns that folder and deletes it after the
    build). With a lexicon that spells none of the words (the bundled A-C sample) the
    fingerspelling part is left out with a warning."""
    from ..assets import samples_dir as bundled
    from .build import Source

    samples = Path(samples_dir) if samples_dir is not None else bundled()
    tmp = Path(out_tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    phoenix = samples / "phoenix14t"
    for p in [phoenix / f"{s}.skels" for s in ("train", "dev", "test")] + [
        samples / "how2sign" / "clips.tsv",
        samples / "mediapipe_lexicon" / "index.csv",
    ]:
        if not p.exists():
            raise DataError("demo sample missing", p)
    sources = [Source(phoenix / f"{s}.skels", lang="gsg") for s in ("train", "dev", "test")]
    sources.append(Source(_how2sign_manifest(samples, tmp, seed), lang="ase"))
    sources.append(Source(samples / "mediapipe_lexicon"))
    if fingerspelling:
        lexicon = lexicon if lexicon is not None else default_lexicon()
        plans = plan_fingerspelling(lexicon, languages, words, seed)
        if any(p.train or p.dev or p.test for p in plans.values()):
            fs = write_fingerspelling_corpus(
                tmp / "fingerspelling", lexicon, languages, seed, words=words
            )
            sources.append(Source(fs / MANIFEST))
        else:
            warnings.warn(
                f"the fingerspelling lexicon {lexicon.folder} spells none of the words: the demo "
                f"corpus has no fingerspelling (full lexicon: {INSTALL_HINT})",
                stacklevel=2,
            )
    return sources


def build_demo_corpus(
    out_dir: str | Path,
    workers: int = 1,
    *,
    lexicon: FingerspellingLexicon | None = None,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    words: Mapping[str, Sequence[str] | WordList] | None = None,
    samples_dir: str | Path | None = None,
    **build_kw: Any,
) -> dict[str, Any]:
    """Build the whole demo corpus into a store at `out_dir`; returns build_dataset's summary
    with "demo_parts" (what is real, what composed, licences) and "fingerspelling" (word counts,
    rejected words), also written to `out_dir/demo.json`. `build_kw` goes to build_dataset
    (e.g. lift_steps, progress). Rerunning resumes: the composed words come out identical."""
    from .build import build_dataset

    with tempfile.TemporaryDirectory(prefix="signllm-demo-") as tmp:
        sources = demo_sources(
            samples_dir, lexicon, out_tmp=tmp, languages=languages, seed=seed, words=words
        )
        fs_json = Path(tmp) / "fingerspelling" / SUMMARY
        fs_summary = json.loads(fs_json.read_text("utf-8")) if fs_json.is_file() else None
        build_kw.setdefault("progress", False)
        summary = build_dataset(sources, out_dir, workers=workers, seed=seed, **build_kw)
    summary["demo_parts"] = [dataclasses.asdict(p) for p in DEMO_PARTS]
    summary["fingerspelling"] = fs_summary
    with atomic_write(Path(out_dir) / "demo.json", encoding="utf-8") as f:
        json.dump(
            {"demo_parts": summary["demo_parts"], "fingerspelling": fs_summary},
            f,
            indent=1,
            ensure_ascii=False,
        )
        f.write("\n")
    return summary


__all__ = [
    "DEMO_PARTS",
    "HELDOUT_FRACTION",
    "MANIFEST",
    "WORDLISTS_DIR",
    "DemoPart",
    "LanguagePlan",
    "WordList",
    "build_demo_corpus",
    "demo_sources",
    "is_heldout",
    "load_wordlist",
    "plan_fingerspelling",
    "read_wordlist",
    "wordlist_languages",
    "write_fingerspelling_corpus",
]
