"""RADIUS wire protocol: framing, attribute decoding from the FreeRADIUS dictionaries, authenticators."""
