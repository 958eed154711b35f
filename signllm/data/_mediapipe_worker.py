"""Video -> raw MediaPipe Holistic landmarks (.npz). Runs INSIDE the mediapipe environment.

Why a separate script: mediapipe==0.10.21 (the last release that ships the Holistic models, so it
works offline) needs numpy<2, and signllm needs numpy 2. `signllm.data.extract` runs this file with
the mediapipe environment's Python (see scripts/setup_mediapipe.sh) and turns the .npz into a
`.pose` file on its side. So this file imports only the stdlib, numpy, cv2 and mediapipe: never
signllm, whose dependencies that environment does not have.

    python _mediapipe_worker.py VIDEO OUT.npz [--model-complexity 1] [--refine-face]

Output (.npz, float32 landmarks as MediaPipe returns them, normalised to the frame):
    pose (T, 33, 4) x, y, z, visibility    pose_world (T, 33, 4) metres, hip-centred
    face (T, 468|478, 3)   left_hand, right_hand (T, 21, 3)
    <part>_found (T,) bool; missing parts are zeros
    fps, width, height, frames; pose_limbs, face_limbs, hand_limbs (n, 2); mediapipe_version,
    model_complexity, refine_face_landmarks
stderr: "@@signllm progress DONE TOTAL" lines, "@@signllm warning TEXT", and, on a failure the
user can fix, one "@@signllm error MESSAGE" line. Exit codes: 0 ok, 3 bad video, 4 broken environment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

PREFIX = "@@signllm"
EXIT_BAD_VIDEO = 3
EXIT_BAD_ENV = 4


def _say(kind: str, text: str) -> None:
    sys.stderr.write(f"{PREFIX} {kind} {text}\n")
    sys.stderr.flush()


def _fail(code: int, message: str) -> None:
    _say("error", " ".join(message.split()))
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("output", help="where to write the .npz")
    ap.add_argument("--model-complexity", type=int, default=1, choices=[0, 1, 2])
    ap.add_argument("--refine-face", action="store_true", help="478 face points (irises)")
    ap.add_argument("--progress-every", type=float, default=0.25, help="seconds between reports")
    args = ap.parse_args(argv)

    try:
        import cv2
        import numpy as np
    except Exception as e:
        _fail(EXIT_BAD_ENV, f"cannot import cv2/numpy in {sys.executable}: {e!r}")

    # Open the video before importing mediapipe: a bad file fails fast (and testably without it).
    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        _fail(EXIT_BAD_VIDEO, "OpenCV cannot open this file as a video")
    ok, first = cap.read()
    if not ok or first is None:
        _fail(EXIT_BAD_VIDEO, "no frame could be decoded (not a video, or an unsupported codec)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    total = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)

    try:
        import mediapipe as mp
        from mediapipe.python.solutions import holistic as mp_holistic
        from mediapipe.python.solutions.face_mesh_connections import FACEMESH_IRISES
    except Exception as e:  # ImportError, or a numpy 2 ABI error inside mediapipe
        _fail(EXIT_BAD_ENV, f"cannot import mediapipe in {sys.executable}: {e!r}")

    n_face = 478 if args.refine_face else 468
    parts = {"pose": (33, 4), "face": (n_face, 3), "left_hand": (21, 3), "right_hand": (21, 3),
             "pose_world": (33, 4)}  # fmt: skip
    rows: dict[str, list] = {k: [] for k in parts}
    found: dict[str, list] = {k: [] for k in parts}

    def landmarks(result, name: str) -> None:
        shape = parts[name]
        if result is None:
            rows[name].append(np.zeros(shape, np.float32))
            found[name].append(False)
            return
        lm = result.landmark
        if shape[1] == 4:
            arr = [(p.x, p.y, p.z, p.visibility) for p in lm]
        else:
            arr = [(p.x, p.y, p.z) for p in lm]
        a = np.asarray(arr, np.float32)
        if a.shape != shape:
            _fail(EXIT_BAD_ENV, f"mediapipe returned {a.shape} {name} landmarks, expected {shape}")
        rows[name].append(a)
        found[name].append(True)

    width = height = 0
    done = 0
    last = 0.0
    try:
        holistic = mp_holistic.Holistic(
            static_image_mode=False,
            model_complexity=args.model_complexity,
            refine_face_landmarks=args.refine_face,
        )
    except Exception as e:  # complexity 0 and 2 download their model on first use
        _fail(
            EXIT_BAD_ENV,
            f"cannot create Holistic(model_complexity={args.model_complexity}): {e!r}"
            + ("" if args.model_complexity == 1 else "; only complexity 1 ships in the wheel, "
               "0 and 2 download their model on first use (needs network)"),
        )  # fmt: skip
    frame = first
    try:
        while frame is not None:
            if frame.ndim != 3 or frame.shape[2] != 3:
                _fail(EXIT_BAD_VIDEO, f"frame {done} is not a colour image")
            if done == 0:
                height, width = frame.shape[:2]
            elif frame.shape[:2] != (height, width):
                _fail(EXIT_BAD_VIDEO, f"frame {done} changes size from {width}x{height}")
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            rgb.flags.writeable = False  # lets mediapipe skip a copy
            res = holistic.process(rgb)
            landmarks(res.pose_landmarks, "pose")
            landmarks(res.face_landmarks, "face")
            landmarks(res.left_hand_landmarks, "left_hand")
            landmarks(res.right_hand_landmarks, "right_hand")
            landmarks(res.pose_world_landmarks, "pose_world")
            done += 1
            now = time.monotonic()
            if now - last >= args.progress_every:
                _say("progress", f"{done} {max(total, done)}")
                last = now
            ok, frame = cap.read()
            if not ok:
                frame = None
    finally:
        holistic.close()
        cap.release()
    _say("progress", f"{done} {done}")
    if total > 0 and done < 0.95 * total - 1:  # container counts are estimates: allow 5%
        _say("warning", f"decoded {done} of the {total} frames the file announces (cut short?)")

    out = {k: np.stack(v) for k, v in rows.items()}
    out.update({f"{k}_found": np.asarray(v, bool) for k, v in found.items()})
    face_limbs = set(mp_holistic.FACEMESH_TESSELATION)
    if args.refine_face:
        face_limbs |= set(FACEMESH_IRISES)
    np.savez(
        args.output,
        **out,
        fps=np.float64(fps),
        width=np.int64(width),
        height=np.int64(height),
        frames=np.int64(done),
        pose_limbs=np.asarray(sorted(mp_holistic.POSE_CONNECTIONS), np.int64),
        face_limbs=np.asarray(sorted(face_limbs), np.int64),
        hand_limbs=np.asarray(sorted(mp_holistic.HAND_CONNECTIONS), np.int64),
        mediapipe_version=np.str_(mp.__version__),
        model_complexity=np.int64(args.model_complexity),
        refine_face_landmarks=np.bool_(args.refine_face),
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ INFO/WARNING chatter
    sys.exit(main())
