"""Messages between the judge and a worker: a JSON header and a safetensors payload.

A frame is ``b"HW1" | len(header) (4 bytes) | header (UTF-8 JSON) | len(payload) (8 bytes) |
payload`` where the payload is a safetensors file of named tensors (possibly empty).  Nothing
is ever pickled: the judge decodes what a worker sends with :func:`decode`, which accepts only
JSON and the plain dtypes below, within limits checked before anything is allocated: the
JSON header's size (``max_header``: the judge reads at most :data:`MAX_REPLY_HEADER` from a
worker), the payload's size, and in the payload the safetensors header (its first 8 bytes are
its length) with at most :data:`MAX_TENSORS` entries of plain dtypes whose sizes add up to the
payload's — all before the tensor data is read.

Every request carries an ``id`` (a counter of the judge's) that its reply echoes: a reply that
does not is refused (:mod:`autograder.transport.client`).
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
MAX_HEADER = 4 << 20          # a request's header (the judge sends the student's cells)
MAX_REPLY_HEADER = 1 << 20    # what the judge accepts from a worker
MAX_TENSORS = 4096            # tensors in one frame
MAX_TENSOR_HEADER = 1 << 20   # the safetensors header inside a payload
DTYPES = (torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.uint8)
#: safetensors' names of :data:`DTYPES`, with their sizes in bytes
STORED = {"F32": 4, "F64": 8, "I64": 8, "I32": 4, "BOOL": 1, "U8": 1}


class ChannelError(RuntimeError):
    """The other side sent something that is not a valid frame, or went away."""


def encode(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    """One frame: ``header`` (JSON-serialisable) and ``tensors`` (saved detached, on the CPU)."""
    body = json.dumps(header).encode()
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in (tensors or {}).items()}
    payload = _save_tensors(plain) if plain else b""
    return MAGIC + struct.pack("<I", len(body)) + body + struct.pack("<Q", len(payload)) + payload


def tensor_index(index: bytes, data_size: int, max_tensors: int = MAX_TENSORS) -> int:
    """Check a payload's safetensors header (``index``, JSON) before its data is read: at most
    ``max_tensors`` entries, plain dtypes, whole shapes, and data offsets that tile exactly
    ``data_size`` bytes.  Returns the number of tensors; raises :class:`ChannelError`."""
    entries = _json_object(index, "tensor index")
    entries.pop("__metadata__", None)
    if len(entries) > max_tensors:
        raise ChannelError(f"{len(entries)} tensors in one frame: over the limit of {max_tensors}")
    spans = sorted(_span(k, v) for k, v in entries.items())
    end = 0
    for start, stop in spans:
        if start != end:
            raise ChannelError("tensor data offsets overlap or leave gaps")
        end = stop
    if end != data_size:
        raise ChannelError(f"tensor data of {data_size} bytes, the index says {end}")
    return len(entries)


def _json_object(raw: bytes, what: str) -> dict:
    """``raw`` parsed as one JSON object, or :class:`ChannelError` naming ``what``."""
    try:
        out = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ChannelError(f"{what} is not JSON: {e}") from None
    if not isinstance(out, dict):
        raise ChannelError(f"{what} is not a JSON object")
    return out


def _span(name: str, entry) -> tuple[int, int]:
    """One index entry's ``(start, stop)`` in the data, checked against its dtype and shape."""
    ok = isinstance(entry, dict) and entry.get("dtype") in STORED
    shape, offsets = (entry.get("shape"), entry.get("data_offsets")) if ok else (None, None)
    ints = lambda xs, n=None: (isinstance(xs, list) and (n is None or len(xs) == n)  # noqa: E731
                               and all(type(x) is int and 0 <= x < 1 << 40 for x in xs))
    if not (ok and ints(shape) and len(shape) <= 8 and ints(offsets, 2)):
        raise ChannelError(f"tensor {name[:80]!r}: not a plain tensor of an allowed dtype")
    size = STORED[entry["dtype"]]
    for d in shape:
        size *= d
    if offsets[1] - offsets[0] != size:
        raise ChannelError(f"tensor {name[:80]!r}: its data does not match its shape")
    return offsets[0], offsets[1]


def check_payload(payload: bytes, max_tensors: int = MAX_TENSORS) -> None:
    """A whole payload's structure (:func:`tensor_index`), before safetensors loads it."""
    if len(payload) < 8:
        raise ChannelError("payload is not a safetensors file: too short")
    (n,) = struct.unpack("<Q", payload[:8])
    if n > MAX_TENSOR_HEADER or 8 + n > len(payload):
        raise ChannelError(f"tensor index of {n} bytes is over the limit")
    tensor_index(payload[8:8 + n], len(payload) - 8 - n, max_tensors)


def decode(header: bytes, payload: bytes, max_tensors: int = MAX_TENSORS
           ) -> tuple[dict, dict[str, torch.Tensor]]:
    """Parse a frame's parts; raise :class:`ChannelError` for anything but JSON and plain tensors."""
    if payload:
        check_payload(payload, max_tensors)
    head = _json_object(header, "header")
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


def receive(fd: int, max_payload: int, deadline: float | None = None,
            max_header: int = MAX_HEADER) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read one frame from ``fd`` (sizes and the tensor index checked before the data is read)."""
    if read_exact(fd, 3, deadline) != MAGIC:
        raise ChannelError("bad frame start")
    (n,) = struct.unpack("<I", read_exact(fd, 4, deadline))
    if n > max_header:
        raise ChannelError(f"header of {n} bytes is over the limit of {max_header}")
    header = read_exact(fd, n, deadline)
    (m,) = struct.unpack("<Q", read_exact(fd, 8, deadline))
    if m > max_payload:
        raise ChannelError(f"payload of {m} bytes is over the limit of {max_payload}")
    return decode(header, _read_payload(fd, m, deadline))


def _read_payload(fd: int, m: int, deadline: float | None) -> bytes:
    """A payload of ``m`` bytes whose tensor index is checked before its data is read."""
    if m == 0:
        return b""
    if m < 8:
        raise ChannelError("payload is not a safetensors file: too short")
    start = read_exact(fd, 8, deadline)
    (n,) = struct.unpack("<Q", start)
    if n > MAX_TENSOR_HEADER or 8 + n > m:
        raise ChannelError(f"tensor index of {n} bytes is over the limit")
    index = read_exact(fd, n, deadline)
    tensor_index(index, m - 8 - n)
    return start + index + read_exact(fd, m - 8 - n, deadline)
