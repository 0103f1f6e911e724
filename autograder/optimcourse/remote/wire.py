"""The channel between the grader and a student's kernel: plain data only, both ways.

A message is a JSON header followed by binary blobs, each framed by its length. Arrays travel as
``.npy`` bytes, read back with ``allow_pickle=False``, so nothing that crosses the channel is ever
executed or unpickled: an object array, or any object that is not plain data, cannot be sent.

This module is imported on both sides (the kernel has NumPy and the standard library only).
"""

from __future__ import annotations

import io
import json
import re
import socket
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_MESSAGE",
    "ChannelClosed",
    "GraderError",
    "ProtocolError",
    "array_bytes",
    "array_from",
    "receive",
    "send",
]

MAX_MESSAGE = 64 << 20  # a larger message is refused: nothing the checks exchange comes near it
_LENGTH = struct.Struct(">Q")


class ChannelClosed(ConnectionError):
    """The other side hung up (a kernel that died, or a grader that gave up)."""


class GraderError(RuntimeError):
    """The grader asked for something it cannot send (its own bug, never the student's doing)."""


class ProtocolError(ValueError):
    """A message that is not one: wrong framing, bad JSON, an array NumPy refuses to read safely."""


def array_bytes(array: np.ndarray) -> bytes:
    """``array`` as .npy bytes (numbers and booleans only: an object array cannot cross)."""
    if array.dtype.hasobject:
        raise ProtocolError(f"an array of dtype {array.dtype} cannot be sent (objects only travel as references)")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# the header NumPy writes for a plain array (format 1.0): read without a parser; anything else goes to np.load
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|][biufc?][0-9]{0,2})', 'fortran_order': (False|True), "
    rb"'shape': \(((?:[0-9]+, ?)*(?:[0-9]+)?)\), \} *\n"
)


def array_from(data: bytes) -> np.ndarray:
    if data[:8] == b"\x93NUMPY\x01\x00":
        size = int.from_bytes(data[8:10], "little")
        found = _NPY_HEADER.fullmatch(data[10 : 10 + size])
        if found:
            dtype = np.dtype(found.group(1).decode())
            shape = tuple(int(n) for n in found.group(3).decode().replace(" ", "").split(",") if n)
            body = data[10 + size :]
            if len(body) == dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                array = np.frombuffer(body, dtype=dtype).reshape(shape, order="F" if found.group(2) == b"True" else "C")
                return array.copy()
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # ValueError for an object array, others for a torn file
        raise ProtocolError(f"an array that cannot be read safely: {type(exc).__name__}: {exc}") from None


def _read(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(sock: socket.socket, header: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
    text = json.dumps(header, allow_nan=True, separators=(",", ":")).encode()
    parts = [_LENGTH.pack(len(blobs)), _LENGTH.pack(len(text)), text]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    sock.sendall(b"".join(parts))


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    count = _LENGTH.unpack(_read(sock, 8))[0]
    size = _LENGTH.unpack(_read(sock, 8))[0]
    if count > 1 << 20 or size > MAX_MESSAGE:
        raise ProtocolError(f"a message of {count} blobs and a {size}-byte header is not one the grader sends or takes")
    try:
        header = json.loads(_read(sock, size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"a header that is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a header that is not a JSON object")
    blobs, total = [], size
    for _ in range(count):
        n = _LENGTH.unpack(_read(sock, 8))[0]
        total += n
        if total > MAX_MESSAGE:
            raise ProtocolError(f"a message larger than {MAX_MESSAGE >> 20} MB")
        blobs.append(_read(sock, n))
    return header, blobs
