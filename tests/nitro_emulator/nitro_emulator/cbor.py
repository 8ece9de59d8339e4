"""The few CBOR (RFC 8949) encodings the EIF signature section needs, and a matching decoder.

Supported: unsigned and negative integers, byte strings, text strings, arrays,
maps (insertion order kept), booleans, null and tags (decoded as their content).
"""

import struct


def _head(major, value):
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", value)
    if value < 0x100000000:
        return bytes([major << 5 | 26]) + struct.pack(">I", value)
    return bytes([major << 5 | 27]) + struct.pack(">Q", value)


def dumps(value):
    """Encode a value."""
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if value is None:
        return b"\xf6"
    if isinstance(value, int):
        if value >= 0:
            return _head(0, value)
        return _head(1, -1 - value)
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(dumps(item) for item in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(dumps(key) + dumps(item) for key, item in value.items())
    raise TypeError("cannot CBOR-encode %r" % type(value))


def int_array(data):
    """Bytes as serde's default encoding of a Vec<u8>: an array of integers."""
    return list(bytearray(data))


class DecodeError(ValueError):
    """Input is not the CBOR this module understands."""


class _Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, count):
        if self.pos + count > len(self.data):
            raise DecodeError("truncated CBOR")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def argument(self, info):
        if info < 24:
            return info
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise DecodeError("unsupported CBOR length encoding %d" % info)
        return int.from_bytes(self.take(sizes[info]), "big")

    def item(self, depth=0):
        if depth > 64:
            raise DecodeError("CBOR nested too deeply")
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            simple = {20: False, 21: True, 22: None}
            if info in simple:
                return simple[info]
            raise DecodeError("unsupported CBOR simple value %d" % info)
        value = self.argument(info)
        if major == 0:
            return value
        if major == 1:
            return -1 - value
        if major == 2:
            return self.take(value)
        if major == 3:
            try:
                return self.take(value).decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError("invalid UTF-8 in CBOR text")
        if major == 4:
            return [self.item(depth + 1) for _index in range(value)]
        if major == 5:
            result = {}
            for _index in range(value):
                key = self.item(depth + 1)
                if isinstance(key, list):
                    raise DecodeError("unhashable CBOR map key")
                result[key] = self.item(depth + 1)
            return result
        return self.item(depth + 1)  # major 6: a tag, keep its content


def loads(data):
    """Decode exactly one CBOR item."""
    reader = _Reader(data)
    value = reader.item()
    if reader.pos != len(reader.data):
        raise DecodeError("trailing bytes after CBOR item")
    return value


def to_bytes(value):
    """Bytes from a decoded byte string or an array of integers 0..255."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item <= 255 for item in value):
        return bytes(value)
    raise DecodeError("expected bytes or an array of byte values")
