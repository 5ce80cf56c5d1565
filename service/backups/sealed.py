"""The backup file: a stream sealed with Fernet (AES-128-CBC and HMAC-SHA256), chunk by chunk.

Fernet seals a message held in memory; a backup may be larger than the memory a small server
spares, so the stream is cut into chunks of `CHUNK` bytes, each its own Fernet token. Each chunk
carries its number and whether it is the last, inside the seal: a file cut short, chunks
swapped or dropped, or anything written after the end, is refused rather than restored in part.

The layout: `MAGIC`, then a key check (a token of `KEY_CHECK`: a wrong key is told apart from a
damaged file), then the chunks; each token is preceded by its length (4 bytes, big-endian).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet

from service.backups.errors import BackupCorrupt
from service.backups.errors import WrongKey

MAGIC = b"MAILLAGE-BACKUP 1\n"
KEY_CHECK = b"maillage backup key check"
CHUNK = 1024 * 1024
_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">Q?")  # the chunk's number, and whether it is the last
# A token is about 4/3 of its chunk; anything far larger is not a chunk of ours.
_LARGEST_TOKEN = 2 * CHUNK


class SealedWriter:
    """Writes a sealed stream into `out`; `close()` seals the last chunk (and must be called)."""

    def __init__(self, out: BinaryIO, cipher: MultiFernet) -> None:
        self._out = out
        self._cipher = cipher
        self._pending = bytearray()
        self._number = 0
        out.write(MAGIC)
        self._put(cipher.encrypt(KEY_CHECK))

    def write(self, data: bytes) -> int:
        self._pending += data
        while len(self._pending) > CHUNK:
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()

    def _seal(self, data: bytes, *, last: bool) -> None:
        self._put(self._cipher.encrypt(_HEADER.pack(self._number, last) + data))
        self._number += 1

    def _put(self, token: bytes) -> None:
        self._out.write(_LENGTH.pack(len(token)) + token)


class SealedReader:
    """Reads back what `SealedWriter` sealed: `WrongKey` if no key opens it, `BackupCorrupt` if
    it is not whole and untouched."""

    def __init__(self, source: BinaryIO, cipher: MultiFernet) -> None:
        self._source = source
        self._cipher = cipher
        self._buffer = b""
        self._number = 0
        self._ended = False
        if source.read(len(MAGIC)) != MAGIC:
            raise BackupCorrupt("not a Maillage backup")
        try:
            check = cipher.decrypt(self._token())
        except InvalidToken:
            raise WrongKey() from None
        if check != KEY_CHECK:
            raise BackupCorrupt("key check")

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            self._buffer += self._open_next()
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _open_next(self) -> bytes:
        try:
            plain = self._cipher.decrypt(self._token())
        except InvalidToken:
            raise BackupCorrupt(f"chunk {self._number} altered") from None
        if len(plain) < _HEADER.size:
            raise BackupCorrupt(f"chunk {self._number} too short")
        number, last = _HEADER.unpack_from(plain)
        if number != self._number:
            raise BackupCorrupt(f"chunk {number} where {self._number} was expected")
        self._number += 1
        if last:
            self._ended = True
            if self._source.read(1):
                raise BackupCorrupt("data after the last chunk")
        return plain[_HEADER.size :]

    def _token(self) -> bytes:
        length = self._source.read(_LENGTH.size)
        if len(length) != _LENGTH.size:
            raise BackupCorrupt("cut short")
        (size,) = _LENGTH.unpack(length)
        if size > _LARGEST_TOKEN:
            raise BackupCorrupt("chunk too large")
        token = self._source.read(size)
        if len(token) != size:
            raise BackupCorrupt("cut short")
        return token
