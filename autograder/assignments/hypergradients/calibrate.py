"""No accuracy tiers: nothing to calibrate (an assignment with tiers trains the reference and
its controls here; see ``autograder/assignments/metalearning/calibrate.py``)."""

from __future__ import annotations

from typing import Sequence


def calibrate(profile_name: str, seeds: Sequence[int], margin: float = 0.01,
              curve: Sequence[int] = ()) -> dict:
    return {"profile": profile_name, "tiers": [], "runs": []}


def passed(report: dict) -> bool:
    return True
