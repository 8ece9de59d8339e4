#!/usr/bin/env python
"""Pack the emulator's host files into one deterministic tar (for the installer).

The same sources always give the same bytes (sorted names, fixed owner, mode
and time), so the installer copies one file per host and re-runs change nothing.
Usage: pack.py OUTPUT.tar
"""

import io
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
# What a host needs: the programs, their library, blobs, units, the shipped config.
PROGRAMS = ("nitro-cli", "nitro-enclaves-allocator", "docker", "dockerd", "lscpu")
FOLDERS = ("nitro_emulator", "blobs", "systemd", "tmpfiles.d")
FILES = ("allocator.yaml", "machine.conf")


def members():
    for name in PROGRAMS + FILES:
        if os.path.exists(os.path.join(HERE, name)):
            yield name
    for folder in FOLDERS:
        for root, dirs, files in os.walk(os.path.join(HERE, folder)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    yield os.path.relpath(os.path.join(root, name), HERE)


def main(output):
    with tarfile.open(output + ".partial", "w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(members()):
            path = os.path.join(HERE, name)
            with open(path, "rb") as source:
                data = source.read()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) and name in PROGRAMS else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    os.replace(output + ".partial", output)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pack.py OUTPUT.tar")
    main(sys.argv[1])
