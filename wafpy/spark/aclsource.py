"""The web ACL as it travels to Spark executors: its documents' text, compiled once per process.

A compiled `WebACL` holds closures and generated code; shipping it to every task would cost more
than evaluating. What travels instead is `AclSource`: the text of the web ACL document and of its
resource documents (IP sets, regex pattern sets, rule groups, managed rule group files), with the
loading options. Each executor process compiles it the first time a task needs it and keeps it
in a cache keyed by the hash of that content (`compiled`); a process that lost its cache (a new
Python worker, `forget`) compiles it again from the same text, so every task sees the same rules.

The documents are written to a private folder under the content hash and loaded from there with
`load_web_acl`, so file-based behaviour (formats told by extension, CloudFormation templates,
managed rule group files matched by name) is the same as on the command line.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from wafpy.load.managed import KEYWORDS
from wafpy.load.reading import expand_resource_paths
from wafpy.replay.evaluator import Evaluator
from wafpy.replay.outcome import ReplayOptions
from wafpy.webacl import WebACL, load_web_acl

__all__ = ["AclSource", "compiled", "compiled_count", "forget"]

Document = tuple[str, bytes]  # (file name, content)


@dataclass(frozen=True, slots=True)
class AclSource:
    """A web ACL as documents: what `load_web_acl` reads, in memory and picklable.

    `managed` is "log", "none", "bundled", None, or managed rule group files (`managed_files`).
    """

    document: Document
    resources: tuple[Document, ...] = ()
    managed: str | None = None
    managed_files: tuple[Document, ...] = ()
    account: str | None = None
    search_string: Literal["auto", "base64", "text"] = "auto"

    @classmethod
    def from_files(
        cls,
        path: str,
        *,
        resources: Sequence[str] = (),
        managed: str | Sequence[str] | None = None,
        account: str | None = None,
        search_string: Literal["auto", "base64", "text"] = "auto",
    ) -> AclSource:
        """Read the web ACL at `path` and its resource files and folders (as `--resources`)."""
        files: tuple[Document, ...] = ()
        keyword: str | None = None
        names = [managed] if isinstance(managed, str) else list(managed or ())
        if len(names) == 1 and names[0] in KEYWORDS:
            keyword = names[0]
        elif names:
            files = tuple(_read(p) for p in expand_resource_paths(names))
        return cls(
            _read(path),
            tuple(_read(p) for p in expand_resource_paths(list(resources))),
            keyword,
            files,
            account,
            search_string,
        )

    @property
    def digest(self) -> str:
        """SHA-256 of everything that decides the compiled web ACL."""
        h = hashlib.sha256()
        for name, content in (self.document, *self.resources, *self.managed_files):
            h.update(f"{len(name)}:{name}:{len(content)}:".encode())
            h.update(content)
        h.update(repr((self.managed, len(self.resources), self.account, self.search_string)).encode())
        return h.hexdigest()

    def load(self) -> WebACL:
        """Write the documents to a private folder named by the digest, and load from there."""
        folder = os.path.join(tempfile.gettempdir(), f"wafpy-acl-{os.getuid()}-{self.digest[:24]}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        acl_path = _write(folder, "acl", 0, self.document)
        resources = [_write(folder, "resources", i, doc) for i, doc in enumerate(self.resources)]
        managed: str | list[str] | None = self.managed
        if self.managed_files:
            managed = [_write(folder, "managed", i, doc) for i, doc in enumerate(self.managed_files)]
        return load_web_acl(
            acl_path,
            resources=resources or None,
            managed=managed,
            account=self.account,
            search_string=self.search_string,
        )


def _read(path: str) -> Document:
    with open(path, "rb") as f:
        return os.path.basename(path), f.read()


def _write(folder: str, kind: str, index: int, document: Document) -> str:
    name, content = document
    where = os.path.join(folder, kind, str(index))
    os.makedirs(where, exist_ok=True)
    path = os.path.join(where, name)
    # Another task of this process or another process may write it at the same time: write
    # aside, then rename (atomic), so no reader ever sees half a document.
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".part-")
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, path)
    return path


# Per process: (digest, options) -> Evaluator. Executors run tasks in threads of one Python
# worker too, hence the lock (held while compiling: the second task waits for the first).
_CACHE: dict[tuple[str, ReplayOptions], Evaluator] = {}
_LOCK = threading.Lock()
_COMPILED = [0]


def compiled(source: AclSource, options: ReplayOptions) -> Evaluator:
    """This process's `Evaluator` for `source`, compiled on first use."""
    key = (source.digest, options)
    evaluator = _CACHE.get(key)
    if evaluator is None:
        with _LOCK:
            evaluator = _CACHE.get(key)
            if evaluator is None:
                evaluator = _CACHE[key] = Evaluator(source.load(), options)
                _COMPILED[0] += 1
    return evaluator


def compiled_count() -> int:
    """How many web ACLs this process has compiled (a cache miss each)."""
    return _COMPILED[0]


def forget() -> None:
    """Drop this process's compiled web ACLs (as a new executor process starts without them)."""
    with _LOCK:
        _CACHE.clear()
