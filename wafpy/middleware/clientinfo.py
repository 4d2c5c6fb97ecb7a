"""Who sent the request: origin IP, country and ASN, as the load balancer would know them.

Origin IP. An ALB's WAF sees the address of the peer that connected to it. When the app runs
behind a proxy of its own (a CloudFront distribution, nginx, a platform router), that peer is the
proxy; `ClientResolver(trusted_proxies=[...])` then takes the origin from the forwarded header:
walking the header from the right, past addresses of trusted proxies, the first untrusted address
is the origin. This only changes what counts as the origin IP (`clientIp` in logs, IP sets and
geo statements without `ForwardedIPConfig`, rate keys `IP`). Statements with their own
`ForwardedIPConfig` still read their header themselves, exactly as AWS does.

Country and ASN. AWS uses its own database. Here either a header set by a trusted edge (such as
`CloudFront-Viewer-Country`) or a MaxMind-format database (`.mmdb`, read with `maxminddb`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from typing import Any

from wafpy.middleware.config import ClientConfig
from wafpy.request import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientResolver:
    """Resolves the origin IP of a request from the ASGI scope (see the module docstring)."""

    __slots__ = ("_header", "_networks", "_trusted_cache")

    def __init__(self, trusted_proxies: Iterable[str], forwarded_header: str = "x-forwarded-for") -> None:
        self._networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies
        )
        self._header = forwarded_header.lower().encode("latin-1")
        # Peers are few (the proxies themselves): remember which are trusted.
        self._trusted_cache: dict[str, bool] = {}

    def _trusted(self, ip: str) -> bool:
        known = self._trusted_cache.get(ip)
        if known is None:
            address = _parse_ip(ip)
            known = address is not None and any(address in net for net in self._networks)
            if len(self._trusted_cache) < 4096:
                self._trusted_cache[ip] = known
        return known

    def origin_ip(self, scope: Mapping[str, Any]) -> str:
        client = scope.get("client")
        peer: str = client[0] if client else ""
        if not peer or not self._trusted(peer):
            return peer
        name = self._header
        hops: list[str] = []
        for key, value in scope.get("headers") or ():
            if key.lower() == name:
                hops.extend(value.decode("latin-1").split(","))
        origin = peer
        for hop in reversed(hops):
            hop = hop.strip()
            if _parse_ip(hop) is None:
                break  # a malformed hop: nothing left of it can be believed
            origin = hop
            if not self._trusted(hop):
                break
        return origin


def header_reader(name: str) -> Callable[[Mapping[str, Any]], str | None]:
    """A function reading the first value of header `name` from an ASGI scope."""
    wanted = name.lower().encode("latin-1")

    def read(scope: Mapping[str, Any]) -> str | None:
        for key, value in scope.get("headers") or ():
            if key == wanted or key.lower() == wanted:
                text: str = value.decode("latin-1").strip()
                return text or None
        return None

    return read


class MaxMindDatabase:
    """Country / region and ASN look-ups in a MaxMind-format database (GeoIP2 / GeoLite2 / DB-IP).

    Works with Country, City and ASN databases; missing fields give None. The last look-up is
    remembered, because the middleware asks for the client's country and a geo statement may
    ask again for the region of the same address.
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        import maxminddb

        self.path = str(path)
        self._reader = maxminddb.open_database(self.path)
        self._last_ip: str | None = None
        self._last: Any = None

    def __reduce__(self) -> tuple[type[MaxMindDatabase], tuple[str]]:
        """Pickled as its path and opened again where unpickled (a reader holds an open file): on
        a cluster, ship the database to every executor at the same path (e.g. `SparkContext.addFile`)."""
        return MaxMindDatabase, (self.path,)

    def _get(self, ip: str) -> Any:
        if ip != self._last_ip:
            try:
                record = self._reader.get(ip)
            except ValueError:  # not an IP address
                record = None
            self._last_ip, self._last = ip, record
        return self._last

    def geo(self, ip: str) -> tuple[str, str | None] | None:
        record = self._get(ip)
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code")
        if not code:
            return None
        subdivisions = record.get("subdivisions") or ()
        region = subdivisions[0].get("iso_code") if subdivisions else None
        return str(code), (str(region) if region else None)

    def country(self, ip: str) -> str | None:
        found = self.geo(ip)
        return found[0] if found else None

    def asn(self, ip: str) -> int | None:
        record = self._get(ip)
        if not isinstance(record, dict):
            return None
        number = record.get("autonomous_system_number")
        return int(number) if isinstance(number, int) else None

    def close(self) -> None:
        self._reader.close()


class ClientInfo:
    """The origin IP, country and ASN of requests, from the middleware's `ClientConfig`.

    Each part is None unless configured; `configured` is False when none is, and the middleware
    then skips this altogether (the origin is the socket peer, as for an ALB).
    """

    __slots__ = ("_asn_header", "_country_header", "_proxies", "asn_db", "configured", "geo_db")

    def __init__(self, config: ClientConfig) -> None:
        proxies = list(config.trusted_proxies)
        self._proxies = ClientResolver(proxies, config.forwarded_header) if proxies else None
        self._country_header = header_reader(config.country_header) if config.country_header else None
        self._asn_header = header_reader(config.asn_header) if config.asn_header else None
        geoip_db, asn_db = config.geoip_db, config.asn_db
        self.geo_db = MaxMindDatabase(geoip_db) if geoip_db is not None else None
        # One database may hold both (a city or ISP edition): opened once.
        self.asn_db = (
            self.geo_db
            if asn_db is not None and asn_db == geoip_db
            else MaxMindDatabase(asn_db)
            if asn_db is not None
            else None
        )
        self.configured = any(
            x is not None
            for x in (self._proxies, self._country_header, self._asn_header, self.geo_db, self.asn_db)
        )

    def __call__(self, scope: Mapping[str, Any]) -> tuple[str | None, str | None, int | None]:
        """(origin IP, country code, ASN) of the request."""
        ip: str | None = None
        if self._proxies is not None:
            ip = self._proxies.origin_ip(scope)
        if ip is None:
            client = scope.get("client")
            ip = client[0] if client else ""
        country = asn = None
        if self._country_header is not None:
            found = self._country_header(scope)
            country = found.upper() if found else None
        if country is None and self.geo_db is not None:
            country = self.geo_db.country(ip)
        if self._asn_header is not None:
            text = self._asn_header(scope)
            if text is not None:
                try:
                    asn = int(text.upper().removeprefix("AS"))
                except ValueError:
                    asn = None
        if asn is None and self.asn_db is not None:
            asn = self.asn_db.asn(ip)
        return ip, country, asn

    def request(
        self, scope: Mapping[str, Any], body: bytes, size: int | None, request_id: str | None, now_ms: int
    ) -> Request:
        """The request WAF sees: the ASGI request with its client address and location resolved."""
        if not self.configured:  # the usual case: the socket peer, no location (fewer arguments)
            return Request.from_asgi(scope, body, size, timestamp_ms=now_ms, request_id=request_id)
        ip, country, asn = self(scope)
        return Request.from_asgi(
            scope,
            body,
            size,
            client_ip=ip,
            country=country,
            asn=asn,
            timestamp_ms=now_ms,
            request_id=request_id,
        )

    def close(self) -> None:
        for db in (self.geo_db, self.asn_db):
            if db is not None:
                db.close()
