"""Loading the middleware's web ACL, and noticing when its files change.

`load_acl` accepts what `WAFMiddleware(acl=...)` accepts: a path, a dict (or JSON text), or a
`WebACL` already loaded. `FileWatcher` remembers the modification time and size of the ACL file
and of resource files given as paths; `changed()` is one `stat` per file, cheap enough to poll
from the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from wafpy.services import Services
from wafpy.webacl import WebACL, load_web_acl

AclSource = str | PathLike[str] | Mapping[str, Any] | WebACL


def is_path(source: object) -> bool:
    if isinstance(source, PathLike):
        return True
    # A str that is not JSON text is a path (load_web_acl makes the same distinction).
    return isinstance(source, str) and not source.lstrip().startswith(("{", "["))


def load_acl(source: AclSource, options: Mapping[str, Any], services: Services | None) -> WebACL:
    """A `WebACL` from `source`; `options` go to `load_web_acl`. Raises what the loader raises."""
    if isinstance(source, WebACL):
        return source
    return load_web_acl(source, services=services, **options)


def watched_paths(source: object, resources: object) -> list[str]:
    paths = [os.fspath(source)] if isinstance(source, (str, PathLike)) and is_path(source) else []
    if isinstance(resources, Sequence) and not isinstance(resources, (str, bytes)):
        paths.extend(os.fspath(r) for r in resources if isinstance(r, (str, PathLike)))
    return paths


class FileWatcher:
    """Tells whether any of `paths` changed (mtime or size) since the last `changed()` call."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self._seen = self._stat()

    def _stat(self) -> list[tuple[int, int] | None]:
        out: list[tuple[int, int] | None] = []
        for path in self.paths:
            try:
                st = Path(path).stat()
            except OSError:
                out.append(None)  # being replaced (editors write a new file and rename it)
            else:
                out.append((st.st_mtime_ns, st.st_size))
        return out

    def changed(self) -> bool:
        now = self._stat()
        if now == self._seen or None in now:
            return False
        self._seen = now
        return True
