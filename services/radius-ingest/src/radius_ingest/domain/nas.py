"""NAS clients: who may send accounting, with which shared secret, for which tenant."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalise_address(address: str) -> str:
    """An IP address or CIDR block in canonical form ("10.0.0.7" -> "10.0.0.7/32"); ValueError if invalid."""
    return str(ipaddress.ip_network(address.strip(), strict=False))


@dataclass(frozen=True)
class NasClient:
    tenant_id: str
    nas_id: str  # the identifier the tenant gave this NAS (or group of NAS, for a CIDR block)
    address: str  # canonical network, e.g. "192.0.2.10/32" or "10.20.0.0/16"
    secret: bytes

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.address)


class NasDirectory:
    """Finds the client for a source address: exact hosts by dictionary, blocks by longest prefix."""

    def __init__(self, clients: Iterable[NasClient]) -> None:
        self._hosts: dict[str, NasClient] = {}
        self._blocks: list[tuple[Network, NasClient]] = []
        self.clients = list(clients)
        for client in self.clients:
            network = client.network
            if network.num_addresses == 1:
                self._hosts[str(network.network_address)] = client
            else:
                self._blocks.append((network, client))
        self._blocks.sort(key=lambda item: item[0].prefixlen, reverse=True)
        self._cache: dict[str, NasClient | None] = {}

    def __len__(self) -> int:
        return len(self._hosts) + len(self._blocks)

    def lookup(self, source_ip: str) -> NasClient | None:
        client = self._hosts.get(source_ip)
        if client is not None or not self._blocks:
            return client
        if source_ip in self._cache:
            return self._cache[source_ip]
        found = None
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return None
        for network, candidate in self._blocks:
            if address.version == network.version and address in network:
                found = candidate
                break
        if len(self._cache) < 100_000:  # bounded: spoofed sources must not grow it without end
            self._cache[source_ip] = found
        return found
