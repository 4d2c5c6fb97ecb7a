"""Log inputs in Amazon S3: `s3://bucket/key` and `s3://bucket/prefix/`, read through fsspec and s3fs.

s3fs is an optional extra (`pip install "wafpy-engine[s3]"`), imported only when an `s3://` input is
given; without it such an input is refused with a `NotAvailableError` naming the extra.

A URL names one object, or a folder: every object under it, in the order a local folder is read
(`wafpy.logs.sources.iter_files`: a folder's own files sorted by name, then its subfolders, sorted;
names starting with `.` skipped below the given prefix). AWS WAF delivers its logs to S3 under
`AWSLogs/<account>/WAFLogs/<region>/<web-acl>/YYYY/MM/DD/HH/MM/` in gzip files
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html), so a day or an hour is a
folder. A URL that is neither an object nor a folder is a key prefix: `.../2024/03/20/1` reads the
hours 10 to 19 of that day.

Credentials come from the standard AWS chain, as botocore resolves it (environment variables, the
shared config and credentials files and `AWS_PROFILE`, SSO, the instance or task role).
`AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`) points at an S3-compatible server instead of AWS;
`wafpy eval --s3-endpoint-url URL` sets it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import IO, Any, cast

from wafpy.errors import NotAvailableError

__all__ = [
    "ENDPOINT_VARIABLES",
    "EXTRA",
    "SCHEMES",
    "ListingError",
    "filesystem",
    "is_remote",
    "list_objects",
    "open_object",
    "require",
]


class ListingError(OSError):
    """An S3 URL that could not be listed, or that stands for no object; the message says why."""


SCHEMES = ("s3://", "s3a://")  # s3a:// is what Hadoop and Spark call the same buckets
EXTRA = 'pip install "wafpy-engine[s3]"'
# The standard variables for an S3-compatible endpoint, the service's own first
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# Bytes asked for by the first GET of an object, and at most by the next ones (read in order).
FIRST_BYTES = 1 << 20
BLOCK_BYTES = 8 << 20


# Object sizes seen when listing, by URL: opening an object listed in this process then needs no
# HEAD request of its own (one request less per object; logs come in thousands of small objects).
_SIZES: dict[str, int] = {}


def is_remote(path: str) -> bool:
    """Whether `path` is an S3 URL (`s3://` or `s3a://`)."""
    return path.startswith(SCHEMES)


def _missing(what: str) -> NotAvailableError:
    return NotAvailableError(f"reading {what} needs s3fs, an optional extra: {EXTRA}")


def require(paths: Iterable[str]) -> None:
    """Raise `NotAvailableError` naming the extra when an S3 URL is among `paths` and s3fs is missing."""
    for path in paths:
        if is_remote(path):
            try:
                import s3fs  # noqa: F401
            except ImportError:
                raise _missing(f"{path}") from None
            return


def filesystem() -> Any:
    """The S3 filesystem of this process (fsspec caches it per process and per endpoint)."""
    try:
        import s3fs
    except ImportError:
        raise _missing("s3:// inputs") from None
    endpoint = next((os.environ[v] for v in ENDPOINT_VARIABLES if os.environ.get(v)), None)
    # No listing cache: a long-lived process reading the same prefix again sees new objects.
    options: dict[str, Any] = {"use_listings_cache": False}
    if endpoint:
        options["endpoint_url"] = endpoint
    return s3fs.S3FileSystem(**options)


def _split(url: str) -> tuple[str, str]:
    """(scheme with `://`, `bucket/key`) of an S3 URL."""
    scheme, _, rest = url.partition("://")
    return scheme + "://", rest


def _folder_order(key: str) -> tuple[tuple[int, str], ...]:
    """Sort key giving a local folder's order: at each level, the files before the subfolders."""
    parts = key.split("/")
    return (*((1, p) for p in parts[:-1]), (0, parts[-1]))


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def list_objects(url: str) -> list[str]:
    """The object URLs `url` stands for (the object, or those under the folder or key prefix).

    Raises `ListingError` when nothing is found or the listing fails (no such bucket, access
    denied, no credentials), and `NotAvailableError` without s3fs.
    """
    fs = filesystem()
    scheme, path = _split(url)
    key = path.partition("/")[2]
    try:
        if key and not key.endswith("/") and fs.isfile(path):
            return [url]
        if not key or key.endswith("/") or fs.isdir(path):
            base = path.rstrip("/") + "/"
            found = fs.find(base, withdirs=False, detail=True)
        else:  # a key prefix: the objects whose key starts with it
            parent, _, start = path.rpartition("/")
            base = parent + "/"
            found = fs.find(parent, prefix=start, withdirs=False, detail=True)
    except Exception as exc:  # botocore and s3fs raise many kinds; each is this input's failure
        raise ListingError(f"cannot list: {_why(exc)}") from exc
    names = []
    for name, info in found.items():
        below = name[len(base) :] if name.startswith(base) else name.rpartition("/")[2]
        if not below or name.endswith("/") or any(part.startswith(".") for part in below.split("/")):
            continue  # a folder marker, or hidden below the given prefix
        names.append(below)
        if isinstance(info.get("size"), int):
            _SIZES[f"{scheme}{base}{below}"] = info["size"]
    if not names:
        raise ListingError("no such object, folder or key prefix")
    return [f"{scheme}{base}{below}" for below in sorted(names, key=_folder_order)]


def open_object(url: str) -> IO[bytes]:
    """An object opened for reading in order, buffered (`peek` works, lines are read in C).

    Each read is one ranged GET, the first of `FIRST_BYTES` (deciding an input's format reads no
    more), the next ones growing up to `BLOCK_BYTES`; an object listed in this process is opened
    without a HEAD request. Failures are `OSError`s naming the reason (botocore's own errors are turned into
    one), as for a local file.
    """
    fs = filesystem()
    try:
        raw = fs.open(_split(url)[1], "rb", cache_type="none", size=_SIZES.pop(url, None))
    except OSError:
        raise
    except Exception as exc:
        raise OSError(_why(exc)) from exc
    return cast(IO[bytes], io.BufferedReader(_Raw(raw), buffer_size=BLOCK_BYTES))


class _Raw(io.RawIOBase):
    """An fsspec file as a raw stream for `io.BufferedReader`: one ranged GET per read, growing
    from `FIRST_BYTES` to `BLOCK_BYTES`; errors while reading become `OSError`s."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._ask = FIRST_BYTES

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read(min(len(view), self._ask))
        except OSError:
            raise
        except Exception as exc:
            raise OSError(_why(exc)) from exc
        view[: len(data)] = data
        self._ask = min(self._ask * 4, BLOCK_BYTES)
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()
