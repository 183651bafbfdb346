"""The judge's in-process client: trusted functions (the instructor's solution, unit tests of
the checks) asked exactly as a worker is asked — the same harness, the same encoding, the same
call-backs of lent functions through the worker's proxies — without a process or a boundary.
"""

from __future__ import annotations

from typing import Callable

import torch

from autograder.worker.channel import decode, encode

from autograder.transport.client import Reply, WorkerLost
from autograder.transport.lending import LEND_OPS, Lending, LendViolation


class LocalClient:
    """Trusted, in-process functions (the instructor's solution, unit tests of the checks):
    the same harness, the same encoding and the same call-backs of lent functions (through
    the worker's proxies), without a process or a boundary."""

    def __init__(self, namespace: dict) -> None:
        from autograder.worker.harness import Harness

        self.harness = Harness(namespace)
        self.harness.link = self._call_back
        self.notes: list[str] = []
        self.cell_errors: dict[str, str] = {}
        self._last_id, self._lending, self._violation = 0, None, None

    def request(self, head: dict, tensors: dict | None = None, seconds: float | None = None,
                lend: dict[str, Callable] | None = None) -> Reply:
        ops: dict[str, Callable] = {"values": self.harness.values, "call": self.harness.call,
                                    "outer_step": self.harness.outer_step}
        self._last_id += 1
        head = {**head, "id": self._last_id}
        self._lending = Lending(lend, head, tensors or {}) if lend else None
        self._violation = None
        torch.manual_seed(int(head.get("seed", 0)))
        try:
            reply, out = ops[head["op"]](head, {k: v.detach().clone()
                                                for k, v in (tensors or {}).items()})
        finally:
            if self._lending is not None:
                self._lending.close()
            self._lending = None
        if self._violation:
            raise WorkerLost(f"the grading process sent something that is not an answer "
                             f"({self._violation})")
        return Reply(*_through_frame({**reply, "id": head["id"]}, out))

    def _call_back(self, head: dict, tensors: dict) -> tuple[dict, dict]:
        """A lent function's call-back, answered as :class:`WorkerClient` answers it."""
        head, tensors = _through_frame(head, tensors)
        try:
            if self._lending is None or head.get("op") not in LEND_OPS:
                raise LendViolation("a call-back while nothing is lent")
            return _through_frame(*self._lending.answer(self._last_id, head, tensors))
        except LendViolation as e:
            self._violation = self._violation or str(e)
            raise RuntimeError(f"refused by the grader: {e}") from None


def _through_frame(head: dict, tensors: dict) -> tuple[dict, dict]:
    """What the other side of a channel would decode (the same encoding, in-process)."""
    frame = encode(head, tensors)
    n = int.from_bytes(frame[3:7], "little")
    return decode(frame[7:7 + n], frame[15 + n:])
