# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find a published docker image tar in every form the protocol stores it in, and stream it to docker.

The provider guide's ``tars2image.sh`` "decompresses" the published image. The protocol packs large
files for git with ``tar -czf - X | split -b 32M - X.tar.gz`` (its oracle packing script): gzip,
then parts named with split's default suffixes, ``X.tar.gzaa``, ``X.tar.gzab``, ... A published
image named ``oracle_enclave.tar`` may therefore be in the checkout as:

- ``oracle_enclave.tar``: a ``docker save`` archive;
- ``oracle_enclave.tar.gz``: the same, gzipped;
- ``oracle_enclave.tar.gzaa``, ``oracle_enclave.tar.gzab``, ...: the parts of the gzipped archive.

A gzipped archive may hold the ``docker save`` archive itself, or (packed with ``tar -czf - X``) a tar
whose first file is ``X``, the ``docker save`` archive: :func:`archive_chunks` unwraps it.

A file committed with git LFS and not pulled is a small text file starting with
:data:`LFS_POINTER_PREFIX` (:func:`is_lfs_pointer`).

Everything streams: an image tar can be gigabytes, and no function reads one whole into memory.

Public API: :func:`find_archive`, :func:`split_suffix`, :func:`is_lfs_pointer`, :func:`archive_chunks`,
:func:`docker_load`, :data:`LFS_POINTER_PREFIX`, :data:`LFS_POINTER_MAX`, :class:`ImageTarError`.
"""

import re
import subprocess
import tarfile
import threading
import zlib

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
# git-lfs writes pointer files of about 130 bytes and reads nothing larger than 1024 bytes as one.
LFS_POINTER_MAX = 1024
CHUNK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_SUFFIX_RE = re.compile(r"^[a-z]{2,}$")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class ImageTarError(Exception):
    """An image tar cannot be found, joined, decompressed or loaded; the message says why."""


def split_suffix(index):
    """The suffix GNU split gives its ``index``-th part (0: ``aa``) with its default, auto-extended suffixes.

    ``aa`` .. ``yz`` (650 parts), then ``zaaa`` .. ``zyzz``, then ``zzaaaa`` ...: in this order the
    suffixes also sort as text.
    """
    if index < 0:
        raise ValueError("index must not be negative")
    prefix, length = "", 2
    while index >= 25 * 26 ** (length - 1):
        index -= 25 * 26 ** (length - 1)
        prefix += "z"
        length += 1
    letters = []
    for dummy in range(length):
        index, digit = divmod(index, 26)
        letters.append(_LETTERS[digit])
    return prefix + "".join(reversed(letters))


def stem(name):
    """``oracle_enclave`` for ``oracle_enclave``, ``oracle_enclave.tar`` and ``oracle_enclave.tar.gz``."""
    for ending in (".tar.gz", ".tar"):
        if name.endswith(ending) and len(name) > len(ending):
            return name[:-len(ending)]
    return name


def find_archive(names, name):
    """Find the published image tar ``name`` among the file ``names`` of its folder.

    Returns ``{name, form, files, problem}``: ``form`` is ``tar``, ``tar.gz``, ``parts`` or None
    (not found, or parts with a gap); ``files`` the files to join, in order; ``problem`` what is
    wrong, or None. When several forms are there, the first of ``.tar``, ``.tar.gz``, parts counts.
    """
    base = stem(name)
    tar_name, gz_name = base + ".tar", base + ".tar.gz"
    present = set(names)
    result = {"name": name, "form": None, "files": [], "problem": None}
    if tar_name in present:
        result.update(form="tar", files=[tar_name])
        return result
    if gz_name in present:
        result.update(form="tar.gz", files=[gz_name])
        return result
    parts = sorted(found for found in present
                   if found.startswith(gz_name) and _SUFFIX_RE.match(found[len(gz_name):]))
    if not parts:
        result["problem"] = "none of %s, %s or its parts %saa, %sab, ... is there" % (tar_name, gz_name, gz_name, gz_name)
        return result
    for index, part in enumerate(parts):
        expected = gz_name + split_suffix(index)
        if part != expected:
            result.update(files=parts, problem="%s is missing: the parts are %s" % (expected, ", ".join(parts)))
            return result
    result.update(form="parts", files=parts)
    return result


def is_lfs_pointer(head):
    """Whether ``head`` (the first bytes of a file, at most :data:`LFS_POINTER_MAX`) is a git LFS pointer."""
    return head.startswith(LFS_POINTER_PREFIX)


def read_head(path, size=LFS_POINTER_MAX):
    with open(path, "rb") as handle:
        return handle.read(size)


def joined_chunks(paths, chunk_size=CHUNK_SIZE):
    """The bytes of the files ``paths`` one after the other, in chunks."""
    for path in paths:
        try:
            with open(path, "rb") as handle:
                yield from iter(lambda: handle.read(chunk_size), b"")
        except (IOError, OSError) as exc:
            raise ImageTarError("cannot read %s: %s" % (path, exc))


def gunzip_chunks(chunks):
    """Decompress a gzip stream (one or more members, like ``cat a.gz b.gz``) given in chunks.

    Zero bytes after the last member are ignored (as ``gzip -d`` does); anything else there, or a
    stream that ends inside a member, raises :class:`ImageTarError`.
    """
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    inside = False  # within a member
    between = b""  # bytes after a member, not yet known to start another
    for chunk in chunks:
        data = between + chunk
        between = b""
        while data:
            if not inside:
                if not data.strip(b"\0"):
                    between = data[:2]
                    break
                if len(data) < 2:
                    between = data
                    break
                if data[:2] != GZIP_MAGIC:
                    raise ImageTarError("the archive has bytes after its gzip data that are not gzip")
                inside = True
            try:
                # Bounded output: a small chunk of zeros may decompress to gigabytes.
                out = decompressor.decompress(data, CHUNK_SIZE)
            except zlib.error as exc:
                raise ImageTarError("the archive is not valid gzip: %s" % exc)
            if out:
                yield out
            if decompressor.eof:
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                inside = False
            else:
                data = decompressor.unconsumed_tail
    # Output zlib still holds once every byte was given to it.
    while inside and not decompressor.eof:
        out = decompressor.decompress(b"", CHUNK_SIZE)
        if not out:
            break
        yield out
    if inside and decompressor.eof:
        inside, between = False, decompressor.unused_data
    if inside or between.strip(b"\0"):
        raise ImageTarError("the gzip stream ends early: a part is missing or cut short")


class _Recorder(object):
    """A read-only file over chunks that can replay what it was asked for (to peek at a tar header)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""
        self.recorded = []
        self.recording = True

    def read(self, size=-1):
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        if self.recording:
            self.recorded.append(data)
        return data

    def rest(self):
        """What was read so far, then everything not yet read."""
        self.recording = False
        for data in self.recorded:
            if data:
                yield data
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._chunks


def _wrapped_member(member):
    """Whether ``member`` (the first file of an archive) is a tar packed into it, not part of a docker save."""
    name = member.name[2:] if member.name.startswith("./") else member.name
    base = name.rsplit("/", 1)[-1]
    return member.isfile() and base.endswith(".tar") and base != "layer.tar"


def archive_chunks(paths, chunk_size=CHUNK_SIZE):
    """The ``docker save`` archive held by the files ``paths`` (joined in order), in chunks.

    Gzip is recognised by its magic bytes and decompressed; a tar whose first file is a ``.tar`` (the
    protocol's ``tar -czf - X.tar``) is unwrapped.
    """
    joined = joined_chunks(paths, chunk_size)
    first = next(joined, b"")
    if not first:
        raise ImageTarError("%s is empty" % ", ".join(paths))

    def again():
        yield first
        yield from joined

    chunks = gunzip_chunks(again()) if first[:2] == GZIP_MAGIC else again()
    recorder = _Recorder(chunks)
    try:
        archive = tarfile.open(fileobj=recorder, mode="r|")  # pylint: disable=consider-using-with
        member = archive.next()
        while member is not None and member.isdir():
            member = archive.next()
    except (tarfile.TarError, EOFError) as exc:
        raise ImageTarError("%s does not hold a tar archive: %s" % (", ".join(paths), exc))
    if member is not None and _wrapped_member(member):
        recorder.recording = False
        recorder.recorded = []
        handle = archive.extractfile(member)
        try:
            yield from iter(lambda: handle.read(chunk_size), b"")
        except (tarfile.TarError, EOFError) as exc:
            raise ImageTarError("%s in %s is cut short: %s" % (member.name, ", ".join(paths), exc))
        return
    yield from recorder.rest()


def _drain(stream, sink):
    sink.append(stream.read())


def docker_load(docker, chunks, environ=None):
    """Stream ``chunks`` into ``docker load``; return its output lines. Raises :class:`ImageTarError`."""
    try:
        process = subprocess.Popen([docker, "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=environ)  # pylint: disable=consider-using-with
    except OSError as exc:
        raise ImageTarError("cannot start %s load: %s" % (docker, exc))
    out, err = [], []
    readers = [threading.Thread(target=_drain, args=(process.stdout, out)),
               threading.Thread(target=_drain, args=(process.stderr, err))]
    for reader in readers:
        reader.daemon = True
        reader.start()
    problem = None
    try:
        for chunk in chunks:
            process.stdin.write(chunk)
    except ImageTarError as exc:
        problem = str(exc)
    except (IOError, OSError):
        # docker stopped reading: its own message says why.
        pass
    finally:
        try:
            process.stdin.close()
        except (IOError, OSError):
            pass
        if problem:
            process.kill()
        rc = process.wait()
        for reader in readers:
            reader.join()
    text_out = b"".join(out).decode("utf-8", "replace")
    text_err = b"".join(err).decode("utf-8", "replace").strip()
    if problem:
        raise ImageTarError(problem)
    if rc != 0:
        raise ImageTarError("docker load exited with status %d: %s" % (rc, text_err or text_out.strip() or "no output"))
    return [line for line in text_out.splitlines() if line.strip()]
