"""Malformed input: a one-line error naming the file and line or field, exit code 2, no
traceback, and no output file (not even a partial or temporary one)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from signllm.cli import main

PHOENIX = ("dev.skels", "dev.text", "dev.gloss", "dev.files")


def _phoenix_copy(samples: Path, tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for f in PHOENIX:
        shutil.copy(samples / "phoenix14t" / f, d / f)
    return d / "dev.skels"


def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").split("\n")


def _run(capsys, tmp_path: Path, src: Path, out_name: str = "out.skels") -> str:
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    code = main(["convert", str(src), str(out_dir / out_name)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("signllm: error: ")
    assert len(err.strip().splitlines()) == 1
    assert list(out_dir.iterdir()) == [], "no partial or temporary output may remain"
    return err


def _value(i: int, new: str) -> Callable[[str], str]:
    """An edit of a .skels line: its `i`-th number replaced by `new`."""

    def edit(line: str) -> str:
        vals = line.split(" ")
        vals[i] = new
        return " ".join(vals)

    return edit


@pytest.mark.parametrize(
    ("row", "edit", "expect"),
    [
        (2, lambda line: line[: len(line) // 2], ["dev.skels:3", "truncated"]),  # mid-number
        (0, lambda line: line + " 0.1 0.2", ["dev.skels:1", "151"]),
        (1, _value(151 * 3 + 7, "abc"), ["dev.skels:2", "'abc'", "frame 3 joint 2 y"]),
        (4, _value(10, "nan"), ["dev.skels:5", "frame 0 joint 3 y", "finite"]),
    ],
    ids=["truncated_line", "wrong_value_count", "text_in_number_field", "nan"],
)
def test_skels_broken_line(samples, tmp_path, capsys, row, edit, expect):
    src = _phoenix_copy(samples, tmp_path)
    lines = _lines(src)
    lines[row] = edit(lines[row])
    src.write_text("\n".join(lines), encoding="utf-8")
    err = _run(capsys, tmp_path, src)
    assert all(e in err for e in expect), err


def test_skels_missing_text_line(samples, tmp_path, capsys):
    src = _phoenix_copy(samples, tmp_path)
    text = src.with_suffix(".text")
    text.write_text("\n".join(_lines(text)[:3]) + "\n", encoding="utf-8")
    err = _run(capsys, tmp_path, src)
    assert "dev.text" in err and "4 is missing" in err


def test_skels_missing_text_file(samples, tmp_path, capsys):
    src = _phoenix_copy(samples, tmp_path)
    src.with_suffix(".text").unlink()
    err = _run(capsys, tmp_path, src)
    assert "dev.text" in err and "missing" in err


def _how2sign_copy(samples: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    src = tmp_path / "clip"
    shutil.copytree(samples / "how2sign" / "openpose_json" / "_2FBDaOPYig_4-3-rgb_front", src)
    return src, sorted(src.iterdir())


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("", "empty file"),
        ('{"version":1.3,"people":[{"pose_keypoints_2d":[1,2', "broken JSON"),
        ('{"version": 1.3}', "field people"),
    ],
)
def test_openpose_empty_or_broken_json(samples, tmp_path, capsys, content, expect):
    src, files = _how2sign_copy(samples, tmp_path)
    files[7].write_text(content)
    err = _run(capsys, tmp_path, src, "out.pose")
    assert files[7].name in err and expect in err


def test_openpose_nan_and_text_values(samples, tmp_path, capsys):
    src, files = _how2sign_copy(samples, tmp_path)
    doc = json.loads(files[3].read_text())
    doc["people"][0]["hand_left_keypoints_2d"][4] = float("nan")
    files[3].write_text(json.dumps(doc))  # Python writes the NaN literal, as some tools do
    err = _run(capsys, tmp_path, src, "out.pose")
    assert files[3].name in err and "hand_left_keypoints_2d" in err and "not finite" in err
    doc["people"][0]["hand_left_keypoints_2d"][4] = "x"
    files[3].write_text(json.dumps(doc))
    err = _run(capsys, tmp_path, src, "out.pose")
    assert "hand_left_keypoints_2d" in err and "not a number" in err


def test_openpose_wrong_count(samples, tmp_path, capsys):
    src, files = _how2sign_copy(samples, tmp_path)
    doc = json.loads(files[0].read_text())
    doc["people"][0]["pose_keypoints_2d"] = doc["people"][0]["pose_keypoints_2d"][:-3]
    files[0].write_text(json.dumps(doc))
    err = _run(capsys, tmp_path, src, "out.pose")
    assert "pose_keypoints_2d" in err and "expected 75 numbers" in err


@pytest.mark.parametrize(
    "rel",
    [
        "mediapipe_lexicon/sgg/essen.pose",  # pose-format v0.1: frames inferred from the size
        "pose_format/6fb01565da31c5500d1ef2cd2906b06b.pose",  # v0.2
        "pose_format/openpose.pose",  # v0.0
    ],
)
def test_pose_with_cut_body(samples, tmp_path, capsys, rel):
    data = (samples / rel).read_bytes()
    bad = tmp_path / "cut.pose"
    bad.write_bytes(data[: len(data) - 1000])
    err = _run(capsys, tmp_path, bad, "out.skels")
    assert "cut.pose" in err and ("cut short" in err or "truncated" in err)


def test_pose_garbage_and_empty(tmp_path, capsys):
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"")
    assert "empty file" in _run(capsys, tmp_path, bad)
    bad.write_bytes(b"hello world, not a pose file at all" * 3)
    assert "bad.pose" in _run(capsys, tmp_path, bad)


def test_lexicon_bad_row(samples, tmp_path, capsys):
    shutil.copytree(samples / "mediapipe_lexicon", tmp_path / "lex")
    index = tmp_path / "lex" / "index.csv"
    lines = index.read_text().splitlines()
    lines[2] = lines[2].replace("sgg/kinder.pose", "sgg/nope.pose")
    index.write_text("\n".join(lines) + "\n")
    err = _run(capsys, tmp_path, tmp_path / "lex")
    assert "index.csv:3" in err and "field path" in err and "nope.pose" in err
    lines[2] = lines[2].replace("sgg/nope.pose", "sgg/kinder.pose").replace(",0,0,", ",abc,0,")
    index.write_text("\n".join(lines) + "\n")
    err = _run(capsys, tmp_path, tmp_path / "lex")
    assert "index.csv:3" in err and "field start" in err


def test_unknown_output_extension_and_missing_input(samples, tmp_path, capsys):
    code = main(
        ["convert", str(samples / "pose_format" / "openpose.pose"), str(tmp_path / "x.mp3")]
    )
    assert code == 2 and ".mp3" in capsys.readouterr().err
    code = main(["info", str(tmp_path / "nothing.skels")])
    assert code == 2 and "nothing.skels" in capsys.readouterr().err


def test_pose_output_needs_one_clip(samples, tmp_path, capsys):
    code = main(["convert", str(samples / "phoenix14t" / "dev.skels"), str(tmp_path / "o.pose")])
    assert code == 2 and "--id" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    code = main(["convert", str(samples / "phoenix14t" / "dev.skels"), str(tmp_path / "o.pose"),
                 "--id", "2"])  # fmt: skip
    assert code == 0 and (tmp_path / "o.pose").exists()


def test_real_entry_point_exit_code_and_no_traceback(samples, tmp_path):
    bad = tmp_path / "t.skels"
    bad.write_text("0.1 0.2 abc\n")
    (tmp_path / "t.text").write_text("x\n")
    r = subprocess.run([sys.executable, "-m", "signllm", "info", str(bad)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "t.skels:1" in r.stderr


def test_info_and_convert_happy_path(samples, tmp_path, capsys):
    assert main(["info", str(samples / "phoenix14t" / "test.skels"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frames"] for r in rows] == [181, 150, 198, 130, 111]
    assert main(["convert", str(samples / "how2sign" / "openpose_json"), str(tmp_path / "h")]) == 0
    assert len(list((tmp_path / "h").rglob("*.pose"))) == 5


def test_every_command_has_help(capsys):
    from signllm.cli import build_parser

    parser = build_parser()
    commands = [a for a in parser._subparsers._group_actions[0].choices]
    for cmd in [[], *[[c] for c in commands], ["data", "build"], ["data", "extract"]]:
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        assert e.value.code == 0, cmd
    assert "translate" in capsys.readouterr().out
