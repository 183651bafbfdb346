"""The judge's own Python environment — its interpreter, package versions and files — which
every worker must match before any student code runs (:mod:`autograder.worker.hello` says
what a worker sees; :class:`~autograder.transport.client.WorkerClient` compares the two)."""

from __future__ import annotations

import threading
from functools import lru_cache

from autograder.worker import hello

_ENVIRONMENT_LOCK = threading.Lock()


def judge_environment() -> dict:
    """The judge's own interpreter and packages (what every worker must match); computed once,
    by one thread (another one would see a package that thread is still importing)."""
    with _ENVIRONMENT_LOCK:
        return _judge_environment()


@lru_cache(maxsize=1)
def _judge_environment() -> dict:
    return hello.fingerprint()
