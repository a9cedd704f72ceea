"""Large buffers leave the process when freed (glibc's mmap threshold fixed), each case in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_comagic.utils import memory

GLIBC = memory._glibc()

# A page in miniature: a 24 MiB block freed first (glibc then raises its mmap threshold to its size, as after a
# report's first page), a 12 MiB "page buffer", a smaller block made after it (which keeps the heap from being
# trimmed below it), the page dropped; prints the MiB still resident.
SCRIPT = textwrap.dedent(
    """
    import sys

    def rss_mib():
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    if sys.argv[1] == "fixed":
        from airflow_provider_comagic.utils.memory import return_large_buffers_to_os
        assert return_large_buffers_to_os()
    first = b"x" * (24 << 20)
    del first
    baseline = rss_mib()
    page = b"y" * (12 << 20)
    after = b"z" * (200 << 10)
    del page
    print(rss_mib() - baseline)
    """
)


def resident_after_pages(mode: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    return float(done.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="the threshold is glibc's; other C libraries are left alone")
def test_page_buffers_are_returned_to_the_os_when_freed():
    assert resident_after_pages("fixed") < 4
    # the same without the fixed threshold: glibc keeps the freed page in its heap
    assert resident_after_pages("dynamic") > 10


def test_only_glibc_is_tuned(monkeypatch):
    monkeypatch.setattr(memory, "_done", False)
    monkeypatch.setattr(memory, "_glibc", lambda: False)
    assert memory.return_large_buffers_to_os() is False
