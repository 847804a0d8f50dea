"""Turning off llama.cpp's repacked CPU weight layouts, which llama-cpp-python does not expose.

llama.cpp copies weights into CPU-specific layouts ("extra buffer types": AMX, AArch64 repacks)
when the CPU advertises the instructions. On a VM that advertises AMX without letting processes use
it (seen on Firecracker guests), every multi-token decode then segfaults. `Llama.__init__` fills
its model parameters from `llama_model_default_params()` and offers no `use_extra_bufts` argument,
so this swaps that one function while a model loads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_lock = threading.Lock()


@contextlib.contextmanager
def without_weight_repacking() -> Iterator[None]:
    """Models loaded inside this block keep the GGUF's own weight layout."""
    import llama_cpp.llama_cpp as bindings

    with _lock:
        default_params = bindings.llama_model_default_params

        def params_without_repacking():
            params = default_params()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = params_without_repacking
        try:
            yield
        finally:
            bindings.llama_model_default_params = default_params
