"""`WAFMiddleware`'s options by group, as small frozen dataclasses.

    WAFMiddleware(
        app,
        acl="webacl.json",
        client=ClientConfig(trusted_proxies=["10.0.0.0/8"], country_header="CloudFront-Viewer-Country"),
        tokens=TokenConfig(solve_path="/.wafpy/solve"),
        logs=LogConfig("waf.jsonl", redacted_fields=[{"SingleHeader": {"Name": "authorization"}}]),
        watch=WatchConfig(interval=5.0),
    )

Every option of a group can also be given as a flat keyword of `WAFMiddleware`
(``trusted_proxies=``, ``token_secret=``, ``log=``, ``watch_interval=`` ...); `FLAT_KEYWORDS` says
which field each one fills and `group_options` is the one place that maps them. A group is given
one way or the other: a config object and a flat keyword of the same group together are a
`TypeError`, so that no option is silently dropped.

What says how the web ACL is loaded (`resources`, `account`, `search_string`, `managed`) is not
grouped here: those are `load_web_acl`'s own keywords, given to `WAFMiddleware` under the same
names and passed through unchanged, at construction and at every reload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any, Final, NamedTuple, TypeVar

from wafpy.errors import NotAvailableError
from wafpy.load.managed import LOG_IS_REPLAY_ONLY, IpListsSpec, ManagedSpec, from_the_log, parse_managed
from wafpy.middleware.logsink import Sink
from wafpy.middleware.tokens import token_key, token_secret_from_env
from wafpy.webacl import WebACL

__all__ = [
    "FLAT_KEYWORDS",
    "ClientConfig",
    "GroupedOptions",
    "LogConfig",
    "TokenConfig",
    "WatchConfig",
    "group_options",
]


@dataclass(frozen=True)
class ClientConfig:
    """Who the client is (see `wafpy.middleware.clientinfo`).

    `trusted_proxies` (CIDRs) and `forwarded_header` make the origin IP the first address in the
    forwarded header, from the right, not belonging to a trusted proxy, when the socket peer is a
    trusted proxy (the ACL's own `ForwardedIPConfig` statements are unchanged).
    `country_header` / `geoip_db` give the country, `asn_header` / `asn_db` the ASN.
    """

    trusted_proxies: Sequence[str] = ()
    forwarded_header: str = "x-forwarded-for"
    country_header: str | None = None
    geoip_db: str | PathLike[str] | None = None
    asn_header: str | None = None
    asn_db: str | PathLike[str] | None = None

    def __post_init__(self) -> None:
        # Any iterable is accepted, kept as a tuple: frozen, and equal whatever the caller passed.
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))


@dataclass(frozen=True)
class TokenConfig:
    """`aws-waf-token` cookies (see `wafpy.middleware.tokens`).

    `secret` (at least 16 bytes) checks tokens made by `issue_token`. None reads it from the
    environment: `WAFPY_TOKEN_SECRET` or `WAFPY_TOKEN_SECRET_FILE` (both set is an error); with
    neither, no token is valid. `solve_path` (off by default) serves fresh tokens.
    """

    secret: str | bytes | None = None
    solve_path: str | None = None

    def key(self) -> bytes | None:
        """The HMAC key: `secret`, else the environment's; a `solve_path` without one is an error."""
        key = token_secret_from_env() if self.secret is None else token_key(self.secret)
        if self.solve_path is not None and key is None:
            raise ValueError(
                "solve_path needs a token secret (token_secret=, WAFPY_TOKEN_SECRET or "
                "WAFPY_TOKEN_SECRET_FILE) to sign the tokens it hands out"
            )
        return key


@dataclass(frozen=True)
class LogConfig:
    """AWS WAF log records (see `wafpy.middleware.logsink`).

    `destination`: a path for JSON lines, a `logging.Logger`, or a callable given each record
    (None: no records). `filter`: an AWS `LoggingFilter` dict; `redacted_fields`: an AWS
    `RedactedFields` list; `http_source_id`: the records' `httpSourceId`.
    """

    destination: str | PathLike[str] | logging.Logger | Sink | None = None
    filter: Mapping[str, Any] | None = None
    redacted_fields: Sequence[Mapping[str, Any]] = ()
    http_source_id: str = "-"

    def __post_init__(self) -> None:
        object.__setattr__(self, "redacted_fields", tuple(self.redacted_fields))


@dataclass(frozen=True)
class WatchConfig:
    """Watch the ACL files: a thread of its own polls them every `interval` seconds and reloads."""

    interval: float = 1.0


# Flat keyword of WAFMiddleware -> (config class, field). The order is the signature's.
FLAT_KEYWORDS: Final[Mapping[str, tuple[type, str]]] = {
    "trusted_proxies": (ClientConfig, "trusted_proxies"),
    "forwarded_header": (ClientConfig, "forwarded_header"),
    "country_header": (ClientConfig, "country_header"),
    "geoip_db": (ClientConfig, "geoip_db"),
    "asn_header": (ClientConfig, "asn_header"),
    "asn_db": (ClientConfig, "asn_db"),
    "token_secret": (TokenConfig, "secret"),
    "solve_path": (TokenConfig, "solve_path"),
    "log": (LogConfig, "destination"),
    "log_filter": (LogConfig, "filter"),
    "redacted_fields": (LogConfig, "redacted_fields"),
    "http_source_id": (LogConfig, "http_source_id"),
    "watch_interval": (WatchConfig, "interval"),
}

# The keyword of WAFMiddleware that takes each config object.
GROUP_KEYWORDS: Final[Mapping[type, str]] = {
    ClientConfig: "client",
    TokenConfig: "tokens",
    LogConfig: "logs",
    WatchConfig: "watch",
}


class GroupedOptions(NamedTuple):
    """The options of `WAFMiddleware`, one config per group (the group's defaults when not given)."""

    client: ClientConfig
    tokens: TokenConfig
    logs: LogConfig
    watch: WatchConfig | None  # None: no watching


C = TypeVar("C", ClientConfig, TokenConfig, LogConfig, WatchConfig)


def _group(cls: type[C], config: C | None, flat: Mapping[str, Any]) -> C | None:
    """`config`, or one built from the flat keywords of its group that were given (not None)."""
    given = {
        name: value for name, value in flat.items() if value is not None and FLAT_KEYWORDS[name][0] is cls
    }
    if config is None:
        return cls(**{FLAT_KEYWORDS[name][1]: value for name, value in given.items()}) if given else None
    if not isinstance(config, cls):
        raise TypeError(f"{GROUP_KEYWORDS[cls]}= takes a {cls.__name__}, not {type(config).__name__}")
    if given:
        names = ", ".join(f"{name}=" for name in given)
        raise TypeError(
            f"{GROUP_KEYWORDS[cls]}={cls.__name__}(...) and the flat keyword(s) {names} of the same "
            f"group were both given: pass the options of a group one way, not both"
        )
    return config


def group_options(
    *,
    client: ClientConfig | None = None,
    tokens: TokenConfig | None = None,
    logs: LogConfig | None = None,
    watch: bool | WatchConfig = False,
    **flat: Any,
) -> GroupedOptions:
    """Map `WAFMiddleware`'s flat keywords onto its config objects (the one place that does it).

    A flat keyword left at None counts as not given. `watch=True` is `watch=WatchConfig()`
    (with `watch_interval=` if given); `watch=False` watches nothing, whatever `watch_interval`.
    """
    unknown = [name for name in flat if name not in FLAT_KEYWORDS]
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
    watching: WatchConfig | None
    if isinstance(watch, WatchConfig):
        watching = _group(WatchConfig, watch, flat)
    elif watch:
        watching = _group(WatchConfig, None, flat) or WatchConfig()
    else:
        # watch_interval= without watch=True has always been accepted and unused.
        watching = None
    return GroupedOptions(
        client=_group(ClientConfig, client, flat) or ClientConfig(),
        tokens=_group(TokenConfig, tokens, flat) or TokenConfig(),
        logs=_group(LogConfig, logs, flat) or LogConfig(),
        watch=watching,
    )


def load_options(
    acl: object,
    resources: Mapping[str, Any] | Sequence[str | PathLike[str]] | None,
    account: str | None,
    search_string: str,
    managed: ManagedSpec,
    managed_ip_lists: IpListsSpec = None,
) -> dict[str, Any]:
    """What the middleware passes to `load_web_acl`, at construction and at every reload.

    `managed` is parsed once here (a malformed value raises now). It cannot apply to a `WebACL`
    already loaded (it would be dropped silently), and "log" is refused: a live request has no
    log record to take a managed group's outcome from, so every request would be undetermined.
    """
    if managed is not None and isinstance(acl, WebACL):
        raise TypeError("managed= applies to an ACL the middleware loads; pass it to load_web_acl")
    if managed == "log" or (isinstance(acl, WebACL) and from_the_log(acl.model)):
        raise NotAvailableError(LOG_IS_REPLAY_ONLY)
    options: dict[str, Any] = {
        "resources": resources,
        "search_string": search_string,
        "managed": parse_managed(managed, managed_ip_lists),
    }
    if account is not None:
        options["account"] = account
    return options
