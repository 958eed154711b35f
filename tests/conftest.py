from __future__ import annotations

from pathlib import Path

import pytest

from signllm.assets import samples_dir

SAMPLES = samples_dir()


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
