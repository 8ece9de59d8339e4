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
