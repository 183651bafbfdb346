"""Messages between the judge and a worker: a JSON header and a safetensors payload.

A frame is ``b"HW1" | len(header) (4 bytes) | header (UTF-8 JSON) | len(payload) (8 bytes) |
payload`` where the payload is a safetensors file of named tensors (possibly empty).  Nothing
is ever pickled: the judge decodes what a worker sends with :func:`decode`, which accepts only
JSON and the plain dtypes below, within size limits.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time

import torch
from safetensors.torch import load as _load_tensors
from safetensors.torch import save as _save_tensors

MAGIC = b"HW1"
MAX_HEADER = 4 << 20
DTYPES = (torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.uint8)


class ChannelError(RuntimeError):
    """The other side sent something that is not a valid frame, or went away."""


def encode(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    """One frame: ``header`` (JSON-serialisable) and ``tensors`` (saved detached, on the CPU)."""
    body = json.dumps(header).encode()
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in (tensors or {}).items()}
    payload = _save_tensors(plain) if plain else b""
    return MAGIC + struct.pack("<I", len(body)) + body + struct.pack("<Q", len(payload)) + payload


def decode(header: bytes, payload: bytes) -> tuple[dict, dict[str, torch.Tensor]]:
    """Parse a frame's parts; raise :class:`ChannelError` for anything but JSON and plain tensors."""
    try:
        head = json.loads(header.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ChannelError(f"header is not JSON: {e}") from None
    if not isinstance(head, dict):
        raise ChannelError("header is not a JSON object")
    try:
        tensors = _load_tensors(payload) if payload else {}
    except Exception as e:  # noqa: BLE001 - any parse failure is the sender's fault
        raise ChannelError(f"payload is not a safetensors file: {e}") from None
    for k, v in tensors.items():
        if type(v) is not torch.Tensor or v.dtype not in DTYPES:
            raise ChannelError(f"tensor {k!r} has dtype {v.dtype}: not allowed")
    return head, tensors


def _deadline_left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no answer in time")
    return left


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    """``n`` bytes from ``fd``, waiting at most until ``deadline`` (``time.monotonic()``)."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], _deadline_left(deadline))
            if not ready:
                raise TimeoutError("no answer in time")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise ChannelError("the other side closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write ``data`` to ``fd``; with a deadline, never block past it."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            _, ready, _ = select.select([], [fd], [], _deadline_left(deadline))
            if not ready:
                raise TimeoutError("the other side stopped reading")
        try:
            n = os.write(fd, view[: 1 << 16] if deadline is not None else view)
        except BrokenPipeError:
            raise ChannelError("the other side closed the channel") from None
        view = view[n:]


def receive(fd: int, max_payload: int, deadline: float | None = None
            ) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read one frame from ``fd`` (sizes checked before anything is allocated)."""
    if read_exact(fd, 3, deadline) != MAGIC:
        raise ChannelError("bad frame start")
    (n,) = struct.unpack("<I", read_exact(fd, 4, deadline))
    if n > MAX_HEADER:
        raise ChannelError(f"header of {n} bytes is over the limit")
    header = read_exact(fd, n, deadline)
    (m,) = struct.unpack("<Q", read_exact(fd, 8, deadline))
    if m > max_payload:
        raise ChannelError(f"payload of {m} bytes is over the limit of {max_payload}")
    return decode(header, read_exact(fd, m, deadline))
