"""A user's recorded signs: words and glosses signed from their recordings (`--lexicon DIR`).

Why: people who use spoken-to-signed already keep lexicons of recorded signs in its `index.csv`
layout (path, spoken_language, signed_language, start, end, words, glosses, priority; one or many
sign languages per folder). A word with a recording is best signed from it: `translate` looks
every word (and every gloss the prompt stage writes) up here first, the model signs the rest,
fingerspelling what the model lacks.

Matching is by spelling alone: case, punctuation at the ends and the German umlaut spelling
(ä = ae, ß = ss) are ignored; an entry's `words` may be several words ("guten morgen"), matched
as a whole (longest first); its `glosses` match glosses. Of entries with the same key the one with
the highest `priority` wins, the first row on a tie.

A clip is read the first time it is used (and kept): cut to its start/end, joints far from the
body dropped as estimation failures, frames at either end where no hand is seen cut (the signer
at rest: joined from there, the hands would appear out of nowhere), and resampled to the frame
rate asked for. `translate` brings it into the signing space and joins it to its neighbours.

    signs = SignLexicon("my_lexicon")               # or a list of folders
    signs.match(["kleine", "kinder"], 0, "sgg")     # (1, entry of "kleine")
    pose = signs.clip(entry, fps=25)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import DataError
from ..pose import Pose
from .fingerspell import drop_outliers, resample
from .formats.lexicon import INDEX, LexiconEntry, iter_lexicon_entries
from .formats.poseformat import read_pose_file

_PUNCT = ".,;:!?\"'()[]{}«»„“”‘’"
_SPELLING = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))


def key(word: str) -> str:
    """A word or gloss as spelling alone: lower case, NFC, outer punctuation and umlauts folded."""
    w = unicodedata.normalize("NFC", word.strip().strip(_PUNCT)).lower()
    for a, b in _SPELLING:
        w = w.replace(a, b)
    return w


def phrase_key(text: str) -> tuple[str, ...]:
    """The keys of a (multi-)word entry, word by word; empty words left out."""
    return tuple(k for k in (key(w) for w in text.split()) if k)


def _priority(entry: LexiconEntry) -> float:
    try:
        return float(entry.priority or 0)
    except ValueError:
        raise DataError(
            f"{entry.priority!r} is not a number", entry.index, entry.line, "priority"
        ) from None


class SignLexicon:
    """Recorded signs per sign language from one or more lexicon folders."""

    def __init__(self, folders: str | Path | Iterable[str | Path]) -> None:
        if isinstance(folders, (str, Path)):
            folders = [folders]
        self.folders = [Path(f) for f in folders]
        if not self.folders:
            raise DataError("no lexicon folder given", Path("."))
        # language -> "w"/"g" (words/glosses) -> key -> (priority, entry)
        self._index: dict[str, dict[str, dict[tuple[str, ...], tuple[float, LexiconEntry]]]] = {}
        self._cache: dict[tuple[Path, float, float, float], Pose] = {}
        for folder in self.folders:
            if not (folder / INDEX).is_file():
                raise DataError(
                    f"no {INDEX}: not a lexicon folder (spoken-to-signed layout)", folder
                )
            n = 0
            for e in iter_lexicon_entries(folder):
                lang = self._code(e.language)
                if not lang:
                    raise DataError("empty sign language", e.index, e.line, "signed_language")
                prio = _priority(e)
                for kind, text in (("w", e.text), ("g", e.gloss)):
                    k = phrase_key(text)
                    if not k:
                        continue
                    table = self._index.setdefault(lang, {"w": {}, "g": {}})[kind]
                    if k not in table or prio > table[k][0]:
                        table[k] = (prio, e)
                n += 1
            if n == 0:
                raise DataError("the index lists no signs", folder / INDEX)
        self._longest = {
            lang: max((len(k) for t in kinds.values() for k in t), default=1)
            for lang, kinds in self._index.items()
        }

    @staticmethod
    def _code(name: str) -> str:
        """The registry's ISO 639-3 code for the index's sign language (DSGS -> sgg), else as is."""
        from ..languages import default_registry

        lang = default_registry().find(name.strip())
        return lang.code if lang is not None else name.strip()

    @property
    def languages(self) -> list[str]:
        return sorted(self._index)

    def __len__(self) -> int:
        return len(
            {id(e) for kinds in self._index.values() for t in kinds.values() for _, e in t.values()}
        )

    def words(self, language: str) -> list[str]:
        """The words (as keys) with a recording in `language`."""
        table = self._index.get(self._code(language), {}).get("w", {})
        return sorted(" ".join(k) for k in table)

    def lookup(self, text: str, language: str, gloss: bool = False) -> LexiconEntry | None:
        """The entry whose words (or glosses, `gloss=True`) are `text`, if any."""
        table = self._index.get(self._code(language), {}).get("g" if gloss else "w", {})
        hit = table.get(phrase_key(text))
        return hit[1] if hit else None

    def match(self, words: Sequence[str], i: int, language: str) -> tuple[int, LexiconEntry] | None:
        """The longest entry whose words are words[i:i+n]: (n, entry), or None."""
        lang = self._code(language)
        table = self._index.get(lang, {}).get("w", {})
        for n in range(min(self._longest.get(lang, 1), len(words) - i), 0, -1):
            hit = table.get(tuple(key(w) for w in words[i : i + n]))
            if hit is not None:
                return n, hit[1]
        return None

    def clip(self, entry: LexiconEntry, fps: float | None = None) -> Pose:
        """The recording of `entry`, ready to join (see the module docstring); cached."""
        ck = (entry.path, entry.start_ms, entry.end_ms, float(fps or 0))
        pose = self._cache.get(ck)
        if pose is not None:
            return pose
        pose = read_pose_file(entry.path)
        if entry.start_ms or entry.end_ms:
            a = min(round(entry.start_ms / 1000 * pose.fps), pose.num_frames - 1)
            b = round(entry.end_ms / 1000 * pose.fps) if entry.end_ms else pose.num_frames
            pose = pose.select_frames(slice(a, max(a + 1, min(b, pose.num_frames))))
        if pose.num_frames == 0:
            raise DataError("the recording has no frames", entry.index, entry.line, "path")
        pose = trim_handless(drop_outliers(pose))
        if fps:
            pose = resample(pose, fps)
        pose.meta.id = entry.id
        pose.meta.language = self._code(entry.language)
        pose.meta.text, pose.meta.gloss = entry.text, entry.gloss
        pose.meta.source = f"{entry.index}:{entry.line}"
        self._cache[ck] = pose
        return pose

    def __repr__(self) -> str:
        return f"SignLexicon({[str(f) for f in self.folders]}, languages={self.languages})"


def trim_handless(pose: Pose) -> Pose:
    """Cut frames at either end where neither hand is seen (a clip with no hand seen is kept)."""
    hands = [j for g in ("left_hand", "right_hand") for j in pose.skel.groups.get(g, ())]
    if not hands:
        return pose
    seen = pose.mask[:, hands].any(axis=1)
    if not seen.any() or seen.all():
        return pose
    idx = seen.nonzero()[0]
    return pose.select_frames(slice(int(idx[0]), int(idx[-1]) + 1))


def load_signs(folders: str | Path | Iterable[str | Path] | None) -> SignLexicon | None:
    """`SignLexicon(folders)`, or None for none; a missing folder is a DataError naming it."""
    if folders is None:
        return None
    if isinstance(folders, (str, Path)):
        folders = [folders]
    folders = [Path(f) for f in folders]
    if not folders:
        return None
    for f in folders:
        if not f.exists():
            raise DataError("no such lexicon folder", f)
    return SignLexicon(folders)


__all__ = ["SignLexicon", "key", "load_signs", "phrase_key", "trim_handless"]
