"""What the middleware warns about a web ACL it puts in force, so that nothing is evaluated silently.

Two things make a web ACL answer differently from AWS without any error:

- managed rule groups evaluated as "no inner rule matched" (`managed="none"`): warned each time
  such an ACL is put in force (construction, every reload);
- rules reading the client's country or ASN (`wafpy.load.locations`) when the middleware has no
  source for them (`ClientConfig`: country header or database, ASN header or database): they see
  the country "XX" and the ASN 0. Warned once, at construction, and again only after a reload
  that brings rules not warned about yet.

`Notices.current` holds the warnings of the ACL in force (`WAFMiddleware.warnings`).
"""

from __future__ import annotations

import logging

from wafpy.load.locations import LocationSources, LocationUse, describe, location_uses, unanswered
from wafpy.middleware.config import ClientConfig
from wafpy.webacl import WebACL

__all__ = ["Notices", "location_message"]

logger = logging.getLogger("wafpy.middleware.asgi")


def location_message(acl_name: str, uses: tuple[LocationUse, ...]) -> str:
    """The warning for rules of `acl_name` the middleware cannot locate the request for."""
    advice = []
    if any(use.attribute == "country" for use in uses):
        advice.append("country_header= or geoip_db= for the country")
    if any(use.attribute == "asn" for use in uses):
        advice.append("asn_header= or asn_db= for the ASN")
    return (
        f"web ACL {acl_name!r} has rules reading the request's location, which the middleware has no "
        f'source for ({describe(uses)}): they see the country "XX" and the ASN 0, so they never match '
        f"a listed country or ASN. Give ClientConfig(...) {' and '.join(advice)}"
        + (
            "; a forwarded IP is located only by the databases (geoip_db=, asn_db=)"
            if any(use.forwarded for use in uses)
            else ""
        )
    )


class Notices:
    """Logs the warnings of each web ACL put in force; `current` are those of the one in force."""

    def __init__(self, client: ClientConfig) -> None:
        self._country_header = client.country_header is not None
        self._asn_header = client.asn_header is not None
        self._warned: set[LocationUse] = set()
        self.current: tuple[str, ...] = ()

    def _sources(self, acl: WebACL) -> LocationSources:
        # The databases are the ACL's services (ClientConfig's, or the caller's own `services=`).
        geo, asn = acl.services.geo is not None, acl.services.asn is not None
        return LocationSources(
            country=geo or self._country_header,
            asn=asn or self._asn_header,
            any_ip_country=geo,
            any_ip_asn=asn,
        )

    def check(self, acl: WebACL) -> tuple[str, ...]:
        """Log the warnings about `acl`, which is being put in force, and keep them in `current`."""
        found = [str(warning) for warning in acl.managed_warnings]
        for message in found:
            logger.warning("wafpy: %s", message)
        missing = unanswered(location_uses(acl.model), self._sources(acl))
        if missing:
            message = location_message(acl.name, missing)
            found.append(message)
            if not self._warned.issuperset(missing):
                logger.warning("wafpy: %s", message)
            self._warned.update(missing)
        self.current = tuple(found)
        return self.current
