"""The training log: one row per logged meta-step and per validation, kept in memory and
optionally appended to a JSON-lines file (one JSON object per line, readable while training)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class History:
    """``train`` rows: step, tasks, time_s, loss, accuracy.  ``val`` rows: step, tasks, time_s,
    val_accuracy, val_ci95."""

    train: list[dict] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    log_path: Path | None = None

    def log(self, kind: str, row: dict) -> None:
        """Record ``row`` under ``kind`` ('train' or 'val') and append it to the log file."""
        getattr(self, kind).append(row)
        if self.log_path is not None:
            with open(self.log_path, "a") as f:
                f.write(json.dumps({"kind": kind, **row}) + "\n")

    def state_dict(self) -> dict:
        return {"train": list(self.train), "val": list(self.val)}

    @classmethod
    def from_state(cls, state: dict, log_path: str | os.PathLike | None = None) -> "History":
        return cls(list(state["train"]), list(state["val"]),
                   Path(log_path) if log_path is not None else None)
