"""Large blocks of the C heap go back to the system when freed (glibc's malloc).

glibc serves a block of 128 KiB or more from its own mapping, unmapped when freed, but each
time such a block is freed it raises that threshold to the block's size (up to 32 MiB). The
export documents of several MiB that the publisher builds every second then come from the
heap, between small long-lived blocks, and their pages stay with the process: 16 MiB more
resident memory at 1,000 creators (16 KiB per creator), measured. Fixing the threshold at its
default keeps them mapped; the price is a few page faults per large block.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

#: `M_MMAP_THRESHOLD` in glibc's <malloc.h>, and glibc's default value of that setting.
M_MMAP_THRESHOLD = -3
DEFAULT_MMAP_THRESHOLD = 128 * 1024
#: The environment variable glibc reads for the same setting: when set, it is the operator's.
ENV_SETTING = "MALLOC_MMAP_THRESHOLD_"


def keep_large_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold at its default; whether it was set (False where the C
    library is not glibc, as on Windows and macOS, or when the environment sets it)."""
    if not sys.platform.startswith("linux") or ENV_SETTING in os.environ:
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD))
