"""Where the documents' encrypted bytes live: a folder by default, any fsspec store by setting.

A document is stored under a random key, never the name it was sent under. The store knows
nothing of referrals: the database says which key belongs to which referral
(`service.documents.models`), and what is not in the database is nobody's document.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from typing import Protocol

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from service.config import Settings
from service.config import settings


class DocumentStore(Protocol):
    """What the documents need of a store: put, get and delete bytes by key."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`; `FileNotFoundError` when there are none."""
        ...

    def delete(self, key: str) -> None:
        """Delete what is under `key`, if anything (deleting twice is no error)."""
        ...

    def keys(self) -> list[str]: ...


class FileSystemStore:
    """A store on an fsspec file system: a local folder, S3 (s3fs), or memory (tests)."""

    def __init__(self, fs: AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    def _path(self, key: str) -> str:
        # Keys are made by `service.documents.operations` (hex); anything else is a bug, not a path.
        if not key.isalnum():
            raise ValueError("a document key holds letters and digits only")
        return f"{self.root}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.makedirs(self.root, exist_ok=True)
        self.fs.pipe_file(self._path(key), data)

    def get(self, key: str) -> bytes:
        return self.fs.cat_file(self._path(key))

    def delete(self, key: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def keys(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        return sorted(path.rsplit("/", 1)[-1] for path in self.fs.find(self.root))


def store_for(url: str, options: dict[str, Any] | None = None) -> FileSystemStore:
    """The store at `url`: a folder's path, or an fsspec URL (`s3://bucket/prefix`, `memory://x`)."""
    fs, root = url_to_fs(url, **(options or {}))
    return FileSystemStore(fs, root)


def configured_store(config: Settings | None = None) -> FileSystemStore:
    """The store the settings name: `MAILLAGE_DOCUMENTS_URL`, else the data folder's `documents`."""
    config = config or settings()
    if config.documents_url:
        return store_for(config.documents_url, config.documents_storage_options)
    folder = config.documents_folder()
    # Only the account Maillage runs as reads the folder (what is in it is encrypted all the same).
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return store_for(str(folder))
