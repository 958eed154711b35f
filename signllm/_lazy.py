"""Lazy package exports: a package names what it offers, and each name is imported from its
submodule on first use, so that importing the package (or `signllm --help`) pulls in no torch."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, exports: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`; `exports` maps submodule -> exported names."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
