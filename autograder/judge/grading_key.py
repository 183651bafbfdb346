"""The grading key: what makes the judge's inputs unpredictable to a worker.

A worker sees every input the judge sends it (φ, tasks, α) and can run anything on them.  If
those inputs came from a small or public seed, a worker could recover the seed from one
check's inputs and predict the others (measured: a grading seed of 31 bits was brute-forced
from α and the tasks of an earlier check in about 2 s).  So no input is drawn from a bare
seed:

* each check draws its inputs from :func:`derive` ``(seed, label)`` — an HMAC-SHA256 of the
  grading seed and the check's name under the grading key, cut to 62 bits.  Streams of
  different checks are independent, and without the key no stream reveals the seed or another
  stream;
* the fixed meta-test tasks of the accuracy tiers come from :func:`meta_test_seed`, also keyed:
  a worker, which has hwlib and Omniglot, cannot rebuild them (nor their query labels).

The key is ``$HW_GRADING_KEY`` when set (a course may pin it: e.g. to keep the meta-test tasks
across a change of the reference code), else the SHA-256 of the reference code
(``autograder/reference/`` and every assignment's ``answers.py``) — files no worker can read (the boundary hides them) and that do
not change between the shards and the re-runs of one course, so every student is tested on the
same meta-test tasks and a regrade gives the same inputs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

KEY_ENV = "HW_GRADING_KEY"
REFERENCE = Path(__file__).resolve().parents[1] / "reference"
ANSWERS = Path(__file__).resolve().parents[1] / "assignments"


@lru_cache(maxsize=4)
def _key(pinned: str | None) -> bytes:
    if pinned:
        return hashlib.sha256(pinned.encode()).digest()
    digest = hashlib.sha256(b"hw-grading-key-v1")
    for path in sorted([*REFERENCE.glob("*.py"), *ANSWERS.glob("*/answers.py")]):
        digest.update(str(path.relative_to(REFERENCE.parent)).encode() + b"\0" +
                      path.read_bytes())
    return digest.digest()


def grading_key() -> bytes:
    """The course's secret key (``$HW_GRADING_KEY``, else the reference answers' hash)."""
    return _key(os.environ.get(KEY_ENV) or None)


def derive(seed: int, label: str) -> int:
    """The seed of one independent input stream: HMAC(key, f"{seed}:{label}") → 62 bits."""
    mac = hmac.new(grading_key(), f"{int(seed)}:{label}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "little") >> 2


def meta_test_seed(assignment: str = "tiers") -> int:
    """The seed of the accuracy tiers' fixed meta-test tasks (the same for every student)."""
    return derive(0, f"meta-test:{assignment}")
