"""The networks a request may name, built in the worker from the request's spec (plain JSON):
``{"kind": "mlp" | "conv4" | "hwlib.<module>.<Class>", …, "dtype": …, "device": …}``."""

from __future__ import annotations

import importlib

import torch


def build_model(spec: dict) -> torch.nn.Module:
    """The model of ``spec``: hwlib's MLP or Conv4 with their sizes, or any other network of
    hwlib by its dotted name with ``kwargs`` — nothing outside hwlib is ever imported."""
    from hwlib.models import MLP, Conv4

    kind = spec["kind"]
    if kind == "mlp":
        m = MLP(hidden=spec["hidden"])
    elif kind == "conv4":
        m = Conv4(spec["n_way"], hidden=spec.get("hidden", 64),
                  image_size=spec.get("image_size", 28))
    else:
        module, _, cls = str(kind).rpartition(".")
        if not module.startswith("hwlib.") or not cls.isidentifier():
            raise ValueError(f"unknown model kind {kind!r}")
        m = getattr(importlib.import_module(module), cls)(**spec.get("kwargs", {}))
    return m.to(getattr(torch, spec["dtype"])).to(spec.get("device", "cpu"))
