"""Re-create signllm/assets/fingerspelling/ from an installed spoken-to-signed 0.4.0.

    pip install --no-deps spoken-to-signed==0.4.0
    python scripts/pack_fingerspelling.py            # writes signllm/assets/fingerspelling/

The package's letters (600 MediaPipe `.pose` files, 149 MB) are read on our skeleton, cut to the
index's start/end and packed into the compact store (1.7 MB): see fingerspell.pack_lexicon.
"""

from __future__ import annotations

import shutil
import sys

from signllm.assets import fingerspelling_dir
from signllm.data.fingerspell import pack_lexicon, package_lexicon_path

SOURCE = """\
Source: PyPI package spoken-to-signed 0.4.0 (wheel spoken_to_signed-0.4.0-py3-none-any.whl),
  path spoken_to_signed/assets/fingerspelling_lexicon/ (index.csv + 600 .pose files, 149 MB).
Licence: MIT (c) 2026 ZurichNLP; the licence text is in LICENSE beside this file. The poses come
  from sign.mt's "sign-mt-poses" store (download.py in the GitHub repo
  sign-language-processing/spoken-to-signed-translation); file names "fs-sts<hash>" suggest
  SpreadTheSign videos - rights of the underlying videos NOT verified.
Packed by scripts/pack_fingerspelling.py (signllm.data.fingerspell.pack_lexicon): each clip read
  onto the prompt2sign50 skeleton (50 joints: 8 body + 2 x 21 hand points, XYZ + confidence), cut
  to the index's start/end, stored in store/ (signllm compact store, joint error <= 9e-4
  shoulder widths). index.csv keeps all 626 rows (20 sign languages); its paths are the clip ids
  in store/ (the original file names), start/end are 0 (the clips are cut already).
"""


def main() -> int:
    src = package_lexicon_path()
    if src is None:
        print("spoken-to-signed is not installed: pip install --no-deps spoken-to-signed==0.4.0")
        return 1
    out = fingerspelling_dir()
    if out.exists():
        shutil.rmtree(out)
    pack_lexicon(src, out, SOURCE)
    license_file = next(src.parents[2].glob("spoken_to_signed-*.dist-info/licenses/LICENSE"), None)
    if license_file is not None:
        shutil.copy(license_file, out / "LICENSE")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
