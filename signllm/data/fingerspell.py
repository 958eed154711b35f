"""Fingerspelled words composed from real recordings of single letters.

Why: fingerspelling is how every sign language writes names and words it has no sign for, and a
lexicon of letters (spoken-to-signed ships 626 of them for 20 sign languages, MediaPipe Holistic
`.pose`) turns any spellable word into a real-looking training clip. The letters are real
recordings; only the joins between them are made here, so a composed word is marked
``meta.extra["composed"] = True`` and never counts as a recording.

A word is composed in these steps:

1. spell: greedy longest match over the sign language's units, so multi-letter handshapes win
   ("SCH", "CH", "LL", "Ñ", Italian "tt", Arabic "لا"; the Arabic article "ال" only word-first).
   Matching is case-insensitive under the spoken language's own casing (Turkish I/ı and İ/i,
   Greek final ς, German ß stays ß). A letter with no unit of its own is spelled by its base
   letter (é -> E, ç -> C where there is no Ç, Greek accents dropped) or its case-fold
   (ß -> SS), as signers do; digits, spaces and punctuation are not spelled. Anything else raises
   `UnspellableError` naming the letter and the language (or is skipped, `unknown="skip"`).
2. each letter clip is read once (cached); joints more than 3 shoulder widths from the neck are
   dropped as pose-estimation failures; the raise from rest and the return to it are trimmed
   (`trim_rest`: joined untrimmed, the hand would bob down between letters),
3. resampled to one frame rate (linear, endpoints kept); a letter longer than
   `max_letter_seconds` is sped up to that length (a few recordings run 10 s),
4. each letter moved into the signing space (data/space.py: neck at the origin, unit the
   shoulder width, x to the viewer's right, y down, z towards the camera; recordings differ in
   framing), so a composed word is already in the frame the store and `translate` use,
5. joined: each letter's final frame is held `hold_frames` (default 0: a trimmed letter already
   holds its handshape), then `transition_frames` synthetic frames ease (cubic smoothstep, zero
   velocity at both ends) from the last observed position of every joint to its first observed
   position in the next letter. A joint missing on either side (the non-dominant hand of a
   one-handed alphabet) stays missing through the transition.

Frames of a composed word = sum(letter frames after trimming and resampling, in
`meta.extra["letter_frames"]`) + letters * hold_frames + (letters - 1) * transition_frames.

    lex = default_lexicon()          # the 626 letters shipped in the package (20 sign languages)
    lex.spell("Schule", "sgg")       # ['SCH', 'U', 'L', 'E']
    pose = lex.compose("water", "ase", fps=25)

The letters ship inside the package (`signllm/assets/fingerspelling/`: spoken-to-signed 0.4.0's
lexicon, MIT, packed by `pack_lexicon` into the compact store: 600 clips, 1.7 MB instead of
149 MB of `.pose` files), so a bare `pip install signllm` fingerspells all 20 languages. A
lexicon folder whose index points into a `store/` beside it reads its clips from there.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import math
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..assets import fingerspelling_dir, sample_lexicon_dir
from ..errors import DataError, UsageError
from ..pose import Pose, PoseMeta
from ..safeio import inside, read_text
from ..skeleton import LEFT_SHOULDER, LEFT_WRIST, RIGHT_SHOULDER, RIGHT_WRIST
from .formats.lexicon import csv_rows, parse_ms
from .formats.poseformat import read_pose_file

INDEX = "index.csv"
PACKAGE = "spoken_to_signed"
PACKAGE_LEXICON = Path("assets") / "fingerspelling_lexicon"
STORE = "store"  # a packed lexicon's clips: a signllm store whose clip ids are the index's paths
INSTALL_HINT = (
    "reinstall signllm (its package ships the letters in signllm/assets/fingerspelling/), "
    "or pip install --no-deps spoken-to-signed==0.4.0"
)
SAMPLE_LEXICON = sample_lexicon_dir()
DEFAULT_TRANSITION_FRAMES = 4  # 160 ms at 25 fps: a brisk change of handshape
DEFAULT_HOLD_FRAMES = 0  # trimmed letters already hold their handshape
DEFAULT_MAX_LETTER_SECONDS = 2.0  # letters run 0.3-1.5 s; a few broken recordings run 10 s
TRIM_KEEP = 0.8  # keep frames where the hand has risen >= 80% of the way to its peak
TRIM_MIN_RISE = 0.3  # shoulder widths; a smaller rise means nothing to trim
TRIM_MAX_SPEED = 5.0  # shoulder widths per second; faster at a clip's ends is not yet a letter
MAX_REACH = 3.0  # shoulder widths from the neck; farther points are estimation failures
MAX_BROKEN_FRACTION = 0.1  # a letter with more of its points beyond MAX_REACH is broken
ELBOWS = {RIGHT_WRIST: 3, LEFT_WRIST: 6}  # wrist -> elbow of the same arm

# Units that only stand for themselves at the start of a word: the Arabic definite article has its
# own handshape, but "ال" inside a word (مال, money) is two letters.
WORD_INITIAL_ONLY: dict[str, frozenset[str]] = {"ar": frozenset({"ال"})}

Unknown = Literal["error", "skip"]


class UnspellableError(UsageError):
    """A character of the word has no letter in the sign language's alphabet."""

    def __init__(self, message: str, char: str, language: str, word: str) -> None:
        super().__init__(message)
        self.char = char
        self.language = language
        self.word = word


def fold(text: str, spoken_language: str) -> str:
    """Case-fold the way the spoken language writes, keeping letters that are letters there.

    `str.casefold` would turn German ß into "ss" and Greek ς into σ for every language; here only
    the case changes: Turkish/Azerbaijani dotted and dotless i stay apart (I -> ı, İ -> i), Greek
    final sigma meets Σ, and everything is NFC so "й" typed as и + breve still matches Й.
    """
    text = unicodedata.normalize("NFC", text)
    if spoken_language.split("-")[0] in ("tr", "az"):
        text = text.replace("I", "ı").replace("İ", "i")
    text = text.lower()
    if spoken_language.split("-")[0] == "el":
        text = text.replace("ς", "σ")
    return unicodedata.normalize("NFC", text)


def _base_letter(ch: str) -> str:
    """é -> e, ů -> u, ά -> α: the letter without its combining marks ("" if nothing is left)."""
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class LetterEntry:
    """One row of the index: a unit (as written there) and where its clip lies."""

    unit: str
    path: Path
    start_ms: float
    end_ms: float
    spoken_language: str
    row: int


class FingerspellingLexicon:
    """Letters per sign language from an index.csv lexicon folder (spoken-to-signed layout).

    Only the index is read up front; a letter's `.pose` is read the first time it is used and kept
    (a whole 20-language alphabet set is ~12 MB in memory).
    """

    def __init__(self, folder: str | Path, allow_outside: bool = False) -> None:
        """`allow_outside`: let index rows name files outside the folder (refused by default)."""
        self.folder = Path(folder)
        index = self.folder / INDEX
        if not index.is_file():
            raise DataError(f"no {INDEX}: not a fingerspelling lexicon folder", self.folder)
        self._entries: dict[str, dict[str, LetterEntry]] = {}  # language -> folded unit -> entry
        self._order: dict[str, list[str]] = {}  # language -> units in index order
        self._spoken: dict[str, str] = {}
        self._cache: dict[tuple[Path, float, float], Pose] = {}
        # a packed lexicon (pack_lexicon): clip id -> clip, read one language at a time
        self._packed: dict[str, Pose] | None = None
        if (self.folder / STORE / "store.json").is_file():
            self._packed = {}
        with io.StringIO(read_text(index, INDEX), newline="") as f:
            reader = csv.DictReader(f)
            missing = [
                c
                for c in ("path", "signed_language", "words")
                if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise DataError(f"missing column(s) {', '.join(missing)}", index, 1)
            best: dict[tuple[str, str], float] = {}
            for row_no, row in enumerate(csv_rows(reader, index), start=2):
                if None in row or any(v is None for v in row.values()):
                    raise DataError(
                        f"expected {len(reader.fieldnames or [])} columns", index, row_no
                    )
                lang = row["signed_language"].strip()
                unit = unicodedata.normalize("NFC", row["words"].strip())
                rel = row["path"].strip()
                if not lang:
                    raise DataError("empty sign language", index, row_no, "signed_language")
                if not unit:
                    raise DataError("empty letter", index, row_no, "words")
                if not rel:
                    raise DataError("empty path", index, row_no, "path")
                spoken = row.get("spoken_language", "").strip()
                self._spoken.setdefault(lang, spoken)
                start = parse_ms(row.get("start"), index, row_no, "start")
                end = parse_ms(row.get("end"), index, row_no, "end")
                if end and end <= start:
                    raise DataError(f"end {end:g} <= start {start:g}", index, row_no, "end")
                try:
                    priority = float(row.get("priority") or 0)
                    if not math.isfinite(priority):
                        raise ValueError
                except ValueError:
                    raise DataError(
                        f"{row['priority']!r} is not a number", index, row_no, "priority"
                    ) from None
                key = fold(unit, self._spoken[lang])
                units = self._entries.setdefault(lang, {})
                if key not in units:
                    self._order.setdefault(lang, []).append(unit)
                elif priority <= best[(lang, key)]:
                    continue  # the first row of the highest priority wins
                best[(lang, key)] = priority
                path = inside(self.folder, rel, index, row_no, "path", allow_outside)
                units[key] = LetterEntry(unit, path, start, end, spoken, row_no)
        if not self._entries:
            raise DataError("the index lists no letters", index)
        self._max_len = {lang: max(len(k) for k in units) for lang, units in self._entries.items()}

    # --- what is there ------------------------------------------------------------------------
    @property
    def languages(self) -> list[str]:
        """Sign languages (ISO 639-3 codes as the index writes them), sorted."""
        return sorted(self._entries)

    @property
    def num_letters(self) -> int:
        return sum(len(units) for units in self._entries.values())

    @property
    def is_sample(self) -> bool:
        """True for the bundled 6-letter sample (A-C of ASL and DGS), not a full alphabet set."""
        return self.folder.resolve() == SAMPLE_LEXICON

    def language(self, name: str) -> str:
        """The lexicon's code for a sign language given by code, name or alias ("DGS" -> gsg)."""
        if name in self._entries:
            return name
        from ..languages import default_registry

        lang = default_registry().find(name)
        if lang is not None and lang.code in self._entries:
            return lang.code
        raise UsageError(
            f"no fingerspelling alphabet for sign language {name!r} in {self.folder / INDEX}; "
            f"it has: {', '.join(self.languages)}"
            + ("" if not self.is_sample else f" (bundled sample; full lexicon: {INSTALL_HINT})")
        )

    def spoken_language(self, language: str) -> str:
        """The spoken language whose script the alphabet spells (index column spoken_language)."""
        return self._spoken[self.language(language)]

    def alphabet(self, language: str) -> list[str]:
        """Units in index order as written there: letters and multi-letter units ("SCH", "Ñ")."""
        return list(self._order[self.language(language)])

    # --- spelling -----------------------------------------------------------------------------
    def _match(self, text: str, i: int, lang: str) -> str | None:
        """Longest unit (folded) that starts at text[i]."""
        units = self._entries[lang]
        initial_only = WORD_INITIAL_ONLY.get(self._spoken[lang].split("-")[0], frozenset())
        for n in range(min(self._max_len[lang], len(text) - i), 0, -1):
            key = text[i : i + n]
            if key in units and (i == 0 or key not in initial_only):
                return key
        return None

    def _spell_plain(self, text: str, lang: str) -> list[str] | None:
        """Spell `text` with units only (no fallback); None if any character is left over."""
        out: list[str] = []
        i = 0
        while i < len(text):
            key = self._match(text, i, lang)
            if key is None:
                return None
            out.append(self._entries[lang][key].unit)
            i += len(key)
        return out

    def spell(self, word: str, language: str, unknown: Unknown = "error") -> list[str]:
        """The units that fingerspell `word`, as the index writes them (greedy longest match).

        `unknown="skip"` leaves out letters the alphabet cannot spell instead of raising
        `UnspellableError` (which names the letter and the language).
        """
        if unknown not in ("error", "skip"):
            raise UsageError(f"unknown must be 'error' or 'skip', not {unknown!r}")
        lang = self.language(language)
        spoken = self._spoken[lang]
        out: list[str] = []
        for token in fold(word, spoken).split():
            i = 0
            while i < len(token):
                key = self._match(token, i, lang)
                if key is not None:
                    out.append(self._entries[lang][key].unit)
                    i += len(key)
                    continue
                ch = token[i]
                i += 1
                if not ch.isalpha():
                    continue  # digits, punctuation, apostrophes, stray combining marks
                fallback = None
                for alt in (_base_letter(ch), fold(ch.casefold(), spoken)):
                    if alt and alt != ch:
                        fallback = self._spell_plain(alt, lang)
                        if fallback:
                            break
                if fallback:
                    out.extend(fallback)
                elif unknown == "error":
                    raise UnspellableError(
                        f"cannot fingerspell {word!r} in {lang}: the letter {ch!r} "
                        f"(U+{ord(ch):04X}) has no handshape in the {lang} alphabet of "
                        f"{self.folder / INDEX} ({' '.join(self._order[lang])})",
                        char=ch,
                        language=lang,
                        word=word,
                    )
        return out

    def can_spell(self, word: str, language: str) -> bool:
        """True if every letter of `word` has a unit and there is at least one."""
        try:
            return bool(self.spell(word, language))
        except UnspellableError:
            return False

    # --- clips --------------------------------------------------------------------------------
    def entry(self, unit: str, language: str) -> LetterEntry:
        lang = self.language(language)
        key = fold(unit, self._spoken[lang])
        try:
            return self._entries[lang][key]
        except KeyError:
            raise UsageError(f"no letter {unit!r} in the {lang} alphabet") from None

    def letter_pose(self, unit: str, language: str) -> Pose:
        """The recorded clip of one unit on our skeleton (shared cache: do not modify it)."""
        e = self.entry(unit, language)
        key = (e.path, e.start_ms, e.end_ms)
        pose = self._cache.get(key)
        if pose is None:
            pose = self._read_clip(e, self.language(language))
            if e.start_ms or e.end_ms:
                # spoken-to-signed's index keeps the end times of the untrimmed videos: clamp.
                a = min(round(e.start_ms / 1000 * pose.fps), pose.num_frames - 1)
                b = round(e.end_ms / 1000 * pose.fps) if e.end_ms else pose.num_frames
                pose = pose.select_frames(slice(a, max(a + 1, min(b, pose.num_frames))))
            if pose.num_frames == 0:
                raise DataError("letter clip has no frames", e.path)
            self._cache[key] = pose
        return pose

    def _read_clip(self, e: LetterEntry, language: str) -> Pose:
        if self._packed is not None:
            from .store import Store

            clip_id = e.path.relative_to(self.folder).as_posix()
            if clip_id not in self._packed:
                with Store(self.folder / STORE) as store:  # closed at once: no open files kept
                    for cid in store.ids(language=language) or [clip_id]:
                        if cid in store:
                            self._packed[cid] = store[cid]
            pose = self._packed.pop(clip_id, None)  # letter_pose's cache keeps it from here
            if pose is None:
                raise DataError(
                    f"clip {clip_id!r} is not in {self.folder / STORE}",
                    self.folder / INDEX,
                    e.row,
                    "path",
                )
            return pose
        if not e.path.is_file():
            raise DataError(
                f"letter file {e.path} does not exist", self.folder / INDEX, e.row, "path"
            )
        return read_pose_file(e.path)

    def broken_letters(self, language: str, max_dropped: float = MAX_BROKEN_FRACTION) -> list[str]:
        """Units whose recording is largely pose-estimation failure: more than `max_dropped` of
        its observed points lie beyond `MAX_REACH` shoulder widths from the neck. (In
        spoken-to-signed 0.4.0: Greek Ο and Φ.) Reads every letter of the language once."""
        lang = self.language(language)
        out = []
        for unit in self._order[lang]:
            raw = self.letter_pose(unit, lang)
            seen = int(raw.mask.sum())
            kept = int(drop_outliers(raw).mask.sum())
            if seen == 0 or (seen - kept) / seen > max_dropped:
                out.append(unit)
        return out

    def compose(
        self,
        word: str,
        language: str,
        fps: float | None = None,
        transition_frames: int = DEFAULT_TRANSITION_FRAMES,
        hold_frames: int = DEFAULT_HOLD_FRAMES,
        trim: bool = True,
        max_letter_seconds: float | None = DEFAULT_MAX_LETTER_SECONDS,
        unknown: Unknown = "error",
    ) -> Pose:
        """One clip fingerspelling `word`: real letter recordings joined by synthetic transitions.

        fps defaults to the first letter's. `trim` cuts each letter's raise from and return to
        rest (`trim_rest`); a letter longer than `max_letter_seconds` is sped up to that length.
        Joints more than 3 shoulder widths from the neck are dropped as estimation failures. See
        the module docstring for the steps and the frame count (`meta.extra["letter_frames"]`
        holds each letter's frames after trimming and resampling).
        """
        if transition_frames < 0 or hold_frames < 0:
            raise UsageError("transition_frames and hold_frames must be >= 0")
        if fps is not None and not fps > 0:
            raise UsageError(f"fps must be positive, got {fps}")
        if max_letter_seconds is not None and not max_letter_seconds > 0:
            raise UsageError(f"max_letter_seconds must be positive, got {max_letter_seconds}")
        lang = self.language(language)
        units = self.spell(word, lang, unknown=unknown)
        if not units:
            raise UsageError(f"nothing to fingerspell in {word!r} ({lang})")
        clips = [drop_outliers(self.letter_pose(u, lang)) for u in units]
        if trim:
            clips = [trim_rest(c) for c in clips]
        fps = float(fps or clips[0].fps)
        clips = [resample(c, fps) for c in clips]
        if max_letter_seconds is not None:
            cap = max(1, round(max_letter_seconds * fps))
            clips = [retime(c, cap) if c.num_frames > cap else c for c in clips]
        clips = in_signing_space(clips)
        data, conf = join(clips, transition_frames, hold_frames)
        meta = PoseMeta(
            id=f"{lang}/fs/{word}",
            language=lang,
            spoken_language=self._spoken[lang],
            text=word,
            gloss="fs-" + "".join(_display(u) for u in units),
            source=str(self.folder / INDEX),
        )
        meta.extra.update(
            fingerspelled=True,
            composed=True,  # real letter recordings, synthetic transitions
            units=list(units),
            letter_frames=[c.num_frames for c in clips],
            transition_frames=transition_frames,
            hold_frames=hold_frames,
        )
        if "frame_size" in clips[0].meta.extra:
            meta.extra["frame_size"] = list(clips[0].meta.extra["frame_size"])
        return Pose(
            data=data,
            confidence=conf,
            fps=fps,
            skeleton=clips[0].skeleton,
            meta=meta,
            ndim=min(c.ndim for c in clips),
        )

    def __repr__(self) -> str:
        return (
            f"FingerspellingLexicon({str(self.folder)!r}, languages={len(self._entries)}, "
            f"letters={self.num_letters})"
        )


def _display(unit: str) -> str:
    """Upper case for the gloss, unless that changes the letter (ß would become SS)."""
    up = unit.upper()
    return up if len(up) == len(unit) else unit


# --- clip operations --------------------------------------------------------------------------
def _raise_height(pose: Pose, wrist: int) -> np.ndarray | None:
    """Height of a wrist above its elbow per frame, in shoulder widths (NaN where unseen)."""
    ref = _frame_of_reference(pose)
    elbow = ELBOWS[wrist]
    seen = (pose.confidence[:, wrist] > 0) & (pose.confidence[:, elbow] > 0)
    if ref is None or seen.sum() < 2:
        return None
    h = (pose.data[:, elbow, 1] - pose.data[:, wrist, 1]) / ref[1]  # image y grows downwards
    return np.where(seen, h, np.nan)


def _hand_speed(pose: Pose, sw: float) -> np.ndarray:
    """(t,) shoulder widths per second of the faster hand (mean over its seen points); frame i
    is the move from frame i to i + 1 (the last frame repeats the one before)."""
    speed = np.zeros(pose.num_frames)
    if pose.num_frames < 2:
        return speed
    d = 2  # image plane: the letter heuristics were tuned there; MediaPipe depth is the noisiest
    for group in ("left_hand", "right_hand"):
        idx = list(pose.skel.groups[group])
        both = pose.mask[1:, idx] & pose.mask[:-1, idx]  # (t-1, 21)
        step = np.linalg.norm(pose.data[1:, idx, :d] - pose.data[:-1, idx, :d], axis=-1)
        n = both.sum(axis=1)
        mean = np.where(n > 0, (step * both).sum(axis=1) / np.maximum(n, 1), 0.0)
        speed[:-1] = np.maximum(speed[:-1], mean * pose.fps / sw)
    speed[-1] = speed[-2]
    return speed


def trim_rest(
    pose: Pose,
    keep: float = TRIM_KEEP,
    min_rise: float = TRIM_MIN_RISE,
    max_speed: float = TRIM_MAX_SPEED,
) -> Pose:
    """Cut the raise from rest at the start of a letter clip and the lowering at its end.

    A letter recording raises the hand, holds the handshape and lowers it; joined letter after
    letter that would bob the hand up and down. Per hand, the rise is its height above the elbow
    (shoulder widths) from the lower end of the clip to its peak (90th percentile); frames
    before the first and after the last frame that reaches `keep` of that rise are cut (a hand
    that rises less than `min_rise`, resting or already trimmed, cuts nothing). Then frames at
    either end where a hand still moves faster than `max_speed` shoulder widths per second (the
    handshape forming, the hand tracker locking on) are cut, keeping at least half the clip.
    """
    a, b = 0, pose.num_frames
    keep_mask = np.zeros(pose.num_frames, bool)
    for wrist in ELBOWS:
        h = _raise_height(pose, wrist)
        if h is None:
            continue
        seen = np.flatnonzero(~np.isnan(h))
        rest = min(h[seen[0]], h[seen[-1]])
        peak = float(np.nanpercentile(h, 90))
        if peak - rest >= min_rise:
            keep_mask |= np.nan_to_num(h, nan=-np.inf) >= rest + keep * (peak - rest)
    if keep_mask.any():
        idx = np.flatnonzero(keep_mask)
        a, b = int(idx[0]), int(idx[-1]) + 1
    ref = _frame_of_reference(pose)
    if ref is not None and b - a > 2:
        speed = _hand_speed(pose, ref[1])
        still = np.flatnonzero(speed[a:b] <= max_speed)
        if still.size:
            a2, b2 = a + int(still[0]), a + int(still[-1]) + 1
            if b2 - a2 >= (b - a) / 2:
                a, b = a2, b2
    return pose if (a, b) == (0, pose.num_frames) else pose.select_frames(slice(a, b))


def drop_outliers(pose: Pose, max_reach: float = MAX_REACH) -> Pose:
    """Mark joints farther than `max_reach` shoulder widths from the neck as missing.

    Arms reach about 1.5-2 shoulder widths from the neck; points beyond are pose-estimation
    failures (a few letter recordings have the wrist 9 shoulder widths away).
    """
    ref = _frame_of_reference(pose)
    if ref is None:
        return pose
    d = 2  # image plane: the letter heuristics were tuned there; MediaPipe depth is the noisiest
    dist = np.linalg.norm(pose.data[..., :d] - ref[0][:d], axis=-1) / ref[1]
    bad = pose.mask & (dist > max_reach)
    if not bad.any():
        return pose
    conf = np.where(bad, 0.0, pose.confidence)
    data = np.where(bad[..., None], 0.0, pose.data)
    return dataclasses.replace(pose, data=data, confidence=conf)


def retime(pose: Pose, frames: int, fps: float | None = None) -> Pose:
    """Linear resampling in time to `frames` frames, keeping the first and last frame exactly.

    A joint is present in a new frame only if the frames it is interpolated from saw it.
    """
    n_in = pose.num_frames
    fps = pose.fps if fps is None else fps
    if frames == n_in:
        return pose if fps == pose.fps else dataclasses.replace(pose, fps=fps)
    u = np.linspace(0.0, n_in - 1, frames) if frames > 1 else np.zeros(1)
    i0 = np.floor(u).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = (u - i0).astype(np.float32)
    w[np.abs(w) < 1e-6] = 0.0
    c0, c1 = pose.confidence[i0], pose.confidence[i1]
    seen = (c0 > 0) & ((w[:, None] == 0) | (c1 > 0))
    data = pose.data[i0] * (1 - w)[:, None, None] + pose.data[i1] * w[:, None, None]
    conf = c0 * (1 - w)[:, None] + c1 * w[:, None]
    data = np.where(seen[..., None], data, 0.0)
    conf = np.where(seen, conf, 0.0)
    return Pose(
        data=data, confidence=conf, fps=fps, skeleton=pose.skeleton, meta=pose.meta, ndim=pose.ndim
    )


def resample(pose: Pose, fps: float) -> Pose:
    """The clip at another frame rate: max(1, round(frames * fps / pose.fps)) frames."""
    if abs(pose.fps - fps) < 1e-6:
        return pose
    return retime(pose, max(1, round(pose.num_frames * fps / pose.fps)), fps)


def _frame_of_reference(pose: Pose) -> tuple[np.ndarray, float] | None:
    """(median neck position, median shoulder width) over frames with both shoulders."""
    c = pose.confidence
    both = (c[:, LEFT_SHOULDER] > 0) & (c[:, RIGHT_SHOULDER] > 0)
    if not both.any():
        return None
    d = 2  # image plane: the letter heuristics were tuned there; MediaPipe depth is the noisiest
    width = np.linalg.norm(
        pose.data[both, LEFT_SHOULDER, :d] - pose.data[both, RIGHT_SHOULDER, :d], axis=-1
    )
    sw = float(np.median(width))
    neck = np.median((pose.data[both, LEFT_SHOULDER] + pose.data[both, RIGHT_SHOULDER]) / 2, axis=0)
    return (neck, sw) if sw > 0 else None


def align_to(clips: list[Pose]) -> list[Pose]:
    """Move every clip into the first one's space: neck onto its neck, scaled by shoulder width.

    A clip without both shoulders (or when the first has none) is left as it is.
    """
    ref = _frame_of_reference(clips[0])
    if ref is None:
        return clips
    out = [clips[0]]
    for clip in clips[1:]:
        own = _frame_of_reference(clip)
        if own is None:
            out.append(clip)
            continue
        scale = ref[1] / own[1]
        data = (clip.data - own[0]) * scale + ref[0]
        data = np.where(clip.mask[..., None], data, 0.0)
        out.append(dataclasses.replace(clip, data=data))
    return out


def in_signing_space(clips: list[Pose]) -> list[Pose]:
    """Every clip in the signing space (data/space.py: neck at 0, unit the shoulder width), so
    clips of different recordings, letters or a model's output join into one body. Sides are
    taken as labelled (no mirroring). A clip without both shoulders is aligned to the others
    with `align_to`, as before."""
    from .space import to_signing_space

    out: list[Pose | None] = []
    for clip in clips:
        try:
            out.append(to_signing_space(clip, mirror=False))
        except DataError:
            out.append(None)
    if all(c is None for c in out):
        return align_to(clips)
    ref = next(c for c in out if c is not None)
    return [
        c if c is not None else align_to([ref, clip])[1] for c, clip in zip(out, clips, strict=True)
    ]


def _edge(pose: Pose, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, the last (or first) observed position and confidence in the clip (0 if never)."""
    seen = pose.mask  # (t, j)
    t = pose.num_frames
    order = np.arange(t)[::-1] if last else np.arange(t)
    first_seen = np.argmax(seen[order], axis=0)  # index into `order`
    frame = order[first_seen]  # (j,)
    joints = np.arange(pose.num_joints)
    any_seen = seen.any(axis=0)
    pos = np.where(any_seen[:, None], pose.data[frame, joints], 0.0)
    conf = np.where(any_seen, pose.confidence[frame, joints], 0.0)
    return pos, conf


def smoothstep(n: int) -> np.ndarray:
    """n easing weights strictly between 0 and 1: s = 3x^2 - 2x^3 at x = k / (n + 1)."""
    x = np.arange(1, n + 1, dtype=np.float32) / (n + 1)
    return x * x * (3 - 2 * x)


def transition_length(a: np.ndarray, b: np.ndarray, both: np.ndarray, frames: int,
                      max_step: float | None) -> int:  # fmt: skip
    """Frames of an eased transition from `a` to `b` (joints `both`): at least `frames`, more
    until no joint moves farther than `max_step` between two frames (None: `frames`)."""
    if max_step is None or not both.any():
        return frames
    d = float(np.linalg.norm(a[both] - b[both], axis=-1).max())
    k = frames
    while k < 1000:
        s = np.concatenate([[0.0], smoothstep(k), [1.0]])
        if d * float(np.diff(s).max()) <= max_step:
            break
        k += 1
    return k


def join(
    clips: Iterable[Pose],
    transition_frames: int,
    hold_frames: int,
    max_step: float | None = None,
    spans: list[tuple[int, int]] | None = None,
    lengths: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate clips with holds and eased transitions; returns (data, confidence).

    `lengths` (J,): the clips share one body (`space.keep_body`); transitions then turn its bones
    (`space.body_blend`) instead of blending joint positions, so they keep that body too.

    `max_step` (data units per frame): a transition between far-apart poses is lengthened until
    no joint moves farther than this between frames, so a join is never a jump. `spans`, if
    given, receives each clip's (first frame, end frame) in the result.
    """
    clips = list(clips)
    parts_d: list[np.ndarray] = []
    parts_c: list[np.ndarray] = []
    at = 0
    for i, clip in enumerate(clips):
        if spans is not None:
            at = sum(len(p) for p in parts_d)
            spans.append((at, at + clip.num_frames))
        parts_d.append(clip.data)
        parts_c.append(clip.confidence)
        if hold_frames:
            parts_d.append(np.repeat(clip.data[-1:], hold_frames, axis=0))
            parts_c.append(np.repeat(clip.confidence[-1:], hold_frames, axis=0))
        if i + 1 < len(clips) and (transition_frames or max_step is not None):
            a, ca = _edge(clip, last=True)
            b, cb = _edge(clips[i + 1], last=False)
            both = (ca > 0) & (cb > 0)  # (j,)
            k = transition_length(a, b, both, transition_frames, max_step)
            if not k:
                continue
            s = smoothstep(k)[:, None, None]  # (k, 1, 1)
            if lengths is None:
                data = a[None] * (1 - s) + b[None] * s  # (k, j, 3)
            else:  # turning bones sweep arcs, longer than the straight line the length assumed
                from .space import body_blend

                longest = 4 * k  # an arc is at most ~1.6x its chord: this bound is never hit
                data = body_blend(a, b, s[:, 0, 0], lengths, clip.skeleton)
                while max_step is not None and k < longest:
                    path = np.concatenate([a[None], data, b[None]])[:, both]
                    fastest = float(np.linalg.norm(np.diff(path, axis=0), axis=-1).max())
                    if fastest <= max_step:
                        break
                    k = min(longest, int(np.ceil(k * min(2.0, max(1.1, fastest / max_step)))))
                    s = smoothstep(k)[:, None, None]
                    data = body_blend(a, b, s[:, 0, 0], lengths, clip.skeleton)
            conf = ca[None] * (1 - s[..., 0]) + cb[None] * s[..., 0]  # (k, j)
            parts_d.append(np.where(both[None, :, None], data, 0.0))
            parts_c.append(np.where(both[None], conf, 0.0))
    return (np.concatenate(parts_d).astype(np.float32), np.concatenate(parts_c).astype(np.float32))


# --- where the lexicon is ---------------------------------------------------------------------
def package_lexicon_path() -> Path | None:
    """spoken-to-signed's lexicon folder if the package is installed (found without importing it:
    its __init__ imports dependencies we do not need)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / PACKAGE_LEXICON
        if (folder / INDEX).is_file():
            return folder
    return None


def bundled_lexicon_path() -> Path | None:
    """The letters shipped in the package (`signllm/assets/fingerspelling/`), if present."""
    folder = fingerspelling_dir()
    return folder if (folder / INDEX).is_file() and (folder / STORE).is_dir() else None


def default_lexicon() -> FingerspellingLexicon:
    """The 20-language lexicon shipped in the package; else spoken-to-signed's, if installed;
    else the bundled A-C sample.

    The sample (A, B, C of ASL and DGS) only proves the code runs; a warning says how to get the
    full lexicon.
    """
    for folder in (bundled_lexicon_path(), package_lexicon_path()):
        if folder is not None:
            return FingerspellingLexicon(folder)
    warnings.warn(
        "no fingerspelling letters found: using the bundled sample (letters A, B, C of ase and "
        f"gsg only). For 626 letters of 20 sign languages: {INSTALL_HINT}",
        stacklevel=2,
    )
    return FingerspellingLexicon(SAMPLE_LEXICON)


def pack_lexicon(source: str | Path, out: str | Path, source_note: str = "") -> Path:
    """Pack a letter lexicon folder (index.csv + `.pose` files) into `out`: index.csv + store/.

    Why: spoken-to-signed's 600 letter clips are 149 MB of `.pose` files (586 MediaPipe points,
    raw frames); on our skeleton, cut to the index's start/end and in the compact store
    (data/store.py, <= 9e-4 shoulder widths of error) they are 1.7 MB, small enough to ship in
    the package. The new index keeps every row (units, languages, priorities); its paths name
    clips in the store and its start/end are 0 (the clips are cut already). `source_note` is
    written to SOURCE.txt beside them.
    """
    from .store import StoreWriter

    src = FingerspellingLexicon(source)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty: pack into a new folder")
    index = src.folder / INDEX
    with index.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    out.mkdir(parents=True, exist_ok=True)
    clips: dict[tuple[str, float, float], str] = {}  # (path, start, end) -> clip id
    with StoreWriter(out / STORE) as w:
        for row_no, row in enumerate(rows, start=2):
            rel = row["path"].strip()
            start = parse_ms(row.get("start"), index, row_no, "start")
            end = parse_ms(row.get("end"), index, row_no, "end")
            key = (rel, start, end)
            if key not in clips:
                clip_id = rel if rel not in clips.values() else f"{rel}#{start:g}-{end:g}"
                entry = LetterEntry(row["words"], src.folder / rel, start, end, "", row_no)
                pose = src._read_clip(entry, src.language(row["signed_language"].strip()))
                if start or end:  # as letter_pose cuts it
                    a = min(round(start / 1000 * pose.fps), pose.num_frames - 1)
                    b = round(end / 1000 * pose.fps) if end else pose.num_frames
                    pose = pose.select_frames(slice(a, max(a + 1, min(b, pose.num_frames))))
                pose.meta.id = clip_id
                pose.meta.language = row["signed_language"].strip()
                pose.meta.source = rel
                w.add(pose)
                clips[key] = clip_id
            row["path"] = clips[key]
            if "start" in row:
                row["start"] = "0"
            if "end" in row:
                row["end"] = "0"
    with (out / INDEX).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if source_note:
        (out / "SOURCE.txt").write_text(source_note, encoding="utf-8")
    return out


def load_lexicon(
    path: str | Path | None = None, allow_outside: bool = False
) -> FingerspellingLexicon:
    """An explicit lexicon folder (`--lexicon DIR`), or `default_lexicon()` when None."""
    if path is None:
        return default_lexicon()
    p = Path(path)
    if not p.exists():
        raise DataError("no such lexicon folder", p)
    return FingerspellingLexicon(p, allow_outside)


__all__ = [
    "DEFAULT_HOLD_FRAMES",
    "DEFAULT_TRANSITION_FRAMES",
    "INSTALL_HINT",
    "SAMPLE_LEXICON",
    "FingerspellingLexicon",
    "LetterEntry",
    "UnspellableError",
    "align_to",
    "bundled_lexicon_path",
    "default_lexicon",
    "drop_outliers",
    "fold",
    "join",
    "load_lexicon",
    "pack_lexicon",
    "package_lexicon_path",
    "resample",
    "retime",
    "smoothstep",
    "transition_length",
    "trim_rest",
]
