"""Deterministic cpio archives in the "newc" format (what the Linux initramfs loader reads).

Every entry gets uid/gid 0 and mtime 0, so the same content always gives the same bytes.
"""

MODE_DIR = 0o040000
MODE_FILE = 0o100000
MODE_SYMLINK = 0o120000


def _pad(length):
    return b"\0" * ((4 - length % 4) % 4)


class Archive:
    """Collect entries, then serialise them with to_bytes()."""

    def __init__(self):
        self._parts = []
        self._inode = 0

    def _entry(self, name, mode, data):
        self._inode += 1
        name_bytes = name.encode("utf-8") + b"\0"
        nlink = 2 if mode & 0o170000 == MODE_DIR else 1
        fields = (self._inode, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0)
        header = b"070701" + b"".join(b"%08X" % field for field in fields)
        self._parts.append(header + name_bytes + _pad(len(header) + len(name_bytes)))
        self._parts.append(data + _pad(len(data)))

    def add_dir(self, name, perm=0o755):
        self._entry(name, MODE_DIR | perm, b"")

    def add_file(self, name, data, perm=0o644):
        self._entry(name, MODE_FILE | perm, bytes(data))

    def add_symlink(self, name, target):
        self._entry(name, MODE_SYMLINK | 0o777, target.encode("utf-8"))

    def to_bytes(self):
        self._inode = -1
        self._entry("TRAILER!!!", 0, b"")
        return b"".join(self._parts)


def read(data):
    """The entries of a newc archive: a list of (name, mode, data), in order, without the trailer."""
    entries = []
    position = 0
    while position + 110 <= len(data):
        header = data[position:position + 110]
        if header[:6] not in (b"070701", b"070702"):
            raise ValueError("not a newc cpio archive at offset %d" % position)
        fields = [int(header[6 + 8 * index:14 + 8 * index], 16) for index in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_start = position + 110
        name = data[name_start:name_start + name_size - 1].decode("utf-8", "replace")
        data_start = name_start + name_size
        data_start += (4 - data_start % 4) % 4
        if name == "TRAILER!!!":
            break
        entries.append((name, mode, data[data_start:data_start + size]))
        position = data_start + size
        position += (4 - position % 4) % 4
    return entries
