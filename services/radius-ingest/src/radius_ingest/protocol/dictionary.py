"""Attribute names, codes, types and value names from the FreeRADIUS dictionaries (Debian's freeradius-common).

The standard (RFC) dictionaries that the main FreeRADIUS `dictionary` file includes are parsed with pyrad;
vendor dictionaries are not loaded (Vendor-Specific attributes are skipped and counted by the decoder).
Nothing here lists attributes by hand: the decoder's table is built from what the dictionaries say.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyrad.dictionary import Dictionary

DEFAULT_DIRECTORY = Path("/usr/share/freeradius")


@dataclass(frozen=True)
class AttributeSpec:
    code: int
    name: str
    type: str  # FreeRADIUS data type: string, integer, ipaddr, ipv6addr, ipv6prefix, date, octets, ...
    values: Mapping[int, str] = field(default_factory=dict)  # VALUE names of integer attributes


class RadiusDictionary:
    """The standard RADIUS attributes (codes 1-255) by code and by name."""

    def __init__(self, specs: Mapping[int, AttributeSpec]) -> None:
        self.by_code: Mapping[int, AttributeSpec] = dict(specs)
        self.by_name: Mapping[str, AttributeSpec] = {s.name: s for s in specs.values()}

    @classmethod
    def load(cls, directory: Path = DEFAULT_DIRECTORY) -> RadiusDictionary:
        main = directory / "dictionary"
        if not main.is_file():
            raise FileNotFoundError(
                f"no FreeRADIUS dictionary at {main} (install Debian's freeradius-common or set RADIUS_DICTIONARY_DIR)"
            )
        includes = [
            line.split()[1]
            for line in main.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("$INCLUDE") and len(line.split()) > 1 and line.split()[1].startswith("dictionary.rfc")
        ]
        text = "".join(f"$INCLUDE {directory / name}\n" for name in includes)
        pyrad_log = logging.getLogger("pyrad")
        level = pyrad_log.level
        pyrad_log.setLevel(logging.ERROR)  # pyrad warns about every extended type it skips
        try:
            parsed = Dictionary(io.StringIO(text))
        finally:
            pyrad_log.setLevel(level)
        specs: dict[int, AttributeSpec] = {}
        for name, attribute in parsed.attributes.items():
            code = attribute.code
            if attribute.vendor or not isinstance(code, int) or not 0 < code < 256 or attribute.is_sub_attribute:
                continue
            values: dict[int, str] = {}
            for value_name, raw in attribute.values.forward.items():
                # Later names win, as in FreeRADIUS: "Interim-Update" (3) over its older alias "Alive".
                values[int.from_bytes(raw, "big") if isinstance(raw, bytes) else int(raw)] = value_name
            specs[code] = AttributeSpec(code, name, attribute.type, values)
        return cls(specs)

    def code(self, name: str) -> int:
        return self.by_name[name].code

    def value_name(self, attribute: str, value: int) -> str | None:
        return self.by_name[attribute].values.get(value)

    def value_code(self, attribute: str, value_name: str) -> int:
        for code, name in self.by_name[attribute].values.items():
            if name == value_name:
                return code
        raise KeyError(f"{attribute} has no value {value_name!r}")
