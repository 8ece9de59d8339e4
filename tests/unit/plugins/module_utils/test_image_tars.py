"""module_utils/image_tars.py: archives packed by the real tar, gzip and split, never by the code under test."""

import hashlib
import io
import os
import subprocess
import tarfile

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import image_tars


def docker_save_tar(path, size=200000):
    """A tar shaped like `docker save` (manifest.json, <id>/layer.tar) with incompressible content."""
    root = path.parent / "image"
    (root / ("ab" * 32)).mkdir(parents=True)
    (root / "manifest.json").write_text('[{"Config": "c.json", "RepoTags": ["oracle_enclave:latest"], "Layers": []}]')
    (root / ("ab" * 32) / "layer.tar").write_bytes(os.urandom(size))
    subprocess.run(["tar", "-C", str(root), "-cf", str(path), "manifest.json", "ab" * 32], check=True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest(chunks):
    value = hashlib.sha256()
    for chunk in chunks:
        value.update(chunk)
    return value.hexdigest()


@pytest.fixture
def image(tmp_path):
    folder = tmp_path / "oracle_enclave"
    folder.mkdir()
    path = folder / "oracle_enclave.tar"
    return path, docker_save_tar(path)


def split(folder, command, part_size):
    """Run `<command> | split -b <part_size> - oracle_enclave.tar.gz` in ``folder``; the parts in split's order."""
    subprocess.run("%s | split -b %d - oracle_enclave.tar.gz" % (command, part_size), shell=True, check=True, cwd=str(folder))
    return sorted(str(folder / name) for name in os.listdir(str(folder)) if name.startswith("oracle_enclave.tar.gz"))


@pytest.mark.parametrize("index, suffix", [(0, "aa"), (1, "ab"), (25, "az"), (26, "ba"), (649, "yz"), (650, "zaaa"),
                                           (651, "zaab"), (650 + 16900, "zzaaaa")])
def test_split_suffixes_follow_gnu_split(index, suffix):
    assert image_tars.split_suffix(index) == suffix


def test_split_suffixes_match_the_real_split(tmp_path):
    (tmp_path / "data").write_bytes(b"x" * 700)
    subprocess.run(["split", "-b", "1", "data", "p"], check=True, cwd=str(tmp_path))
    made = sorted(name[1:] for name in os.listdir(str(tmp_path)) if name.startswith("p"))
    assert made == [image_tars.split_suffix(index) for index in range(700)]


def test_find_prefers_the_plain_tar_then_gzip_then_parts():
    names = ["oracle_enclave.tar", "oracle_enclave.tar.gz", "oracle_enclave.tar.gzaa", "tars2image.sh"]
    assert image_tars.find_archive(names, "oracle_enclave.tar")["files"] == ["oracle_enclave.tar"]
    assert image_tars.find_archive(names[1:], "oracle_enclave.tar") == {
        "name": "oracle_enclave.tar", "form": "tar.gz", "files": ["oracle_enclave.tar.gz"], "problem": None}
    found = image_tars.find_archive(["oracle_enclave.tar.gzab", "oracle_enclave.tar.gzaa", "oracle_enclave.tar.gz.sig",
                                     "other.tar.gzaa"], "oracle_enclave")
    assert found == {"name": "oracle_enclave", "form": "parts", "problem": None,
                     "files": ["oracle_enclave.tar.gzaa", "oracle_enclave.tar.gzab"]}


def test_find_names_a_missing_part_and_an_absent_image():
    found = image_tars.find_archive(["x.tar.gzaa", "x.tar.gzac"], "x.tar")
    assert found["form"] is None and found["problem"] == "x.tar.gzab is missing: the parts are x.tar.gzaa, x.tar.gzac"
    found = image_tars.find_archive(["x.tar.gzab"], "x.tar")
    assert found["problem"].startswith("x.tar.gzaa is missing")
    assert image_tars.find_archive([], "x.tar")["problem"] == "none of x.tar, x.tar.gz or its parts x.tar.gzaa, x.tar.gzab, ... is there"


def test_lfs_pointer():
    assert image_tars.is_lfs_pointer(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n")
    assert not image_tars.is_lfs_pointer(b"manifest.json\0\0\0")


def test_plain_tar_streams_unchanged(image):
    path, want = image
    assert digest(image_tars.archive_chunks([str(path)], chunk_size=4096)) == want


def test_gzipped_tar(image):
    path, want = image
    subprocess.run(["gzip", "-k", str(path)], check=True)
    assert digest(image_tars.archive_chunks([str(path) + ".gz"], chunk_size=4096)) == want


def test_the_protocols_packing_joined_in_order(image):
    """`tar -czf - X | split -b N - X.tar.gz`: a tar holding X, gzipped and split."""
    path, want = image
    parts = split(path.parent, "tar -czf - oracle_enclave.tar", 30000)
    assert len(parts) >= 3
    assert digest(image_tars.archive_chunks(parts, chunk_size=5000)) == want


def test_gzip_split_without_the_outer_tar(image):
    path, want = image
    parts = split(path.parent, "gzip -c oracle_enclave.tar", 50000)
    assert len(parts) >= 2
    assert digest(image_tars.archive_chunks(parts, chunk_size=7777)) == want


def test_a_missing_last_part_is_noticed(image):
    path, dummy = image
    parts = split(path.parent, "gzip -c oracle_enclave.tar", 50000)
    with pytest.raises(image_tars.ImageTarError, match="ends early"):
        digest(image_tars.archive_chunks(parts[:-1]))


def test_parts_in_the_wrong_order_are_not_an_archive(image):
    path, dummy = image
    parts = split(path.parent, "gzip -c oracle_enclave.tar", 50000)
    with pytest.raises(image_tars.ImageTarError):
        digest(image_tars.archive_chunks([parts[1], parts[0]] + parts[2:]))


def test_multi_member_gzip_and_zero_padding():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"[]"))
    data = raw.getvalue()
    one = subprocess.run(["gzip", "-c"], input=data[:700], stdout=subprocess.PIPE, check=True).stdout
    two = subprocess.run(["gzip", "-c"], input=data[700:], stdout=subprocess.PIPE, check=True).stdout
    assert b"".join(image_tars.gunzip_chunks([one + two[:5], two[5:] + b"\0" * 10])) == data
    with pytest.raises(image_tars.ImageTarError, match="not gzip"):
        b"".join(image_tars.gunzip_chunks([one + b"garbage"]))


def test_docker_load_streams_into_the_command(tmp_path, image):
    """A stand-in `docker` that checks its argv and counts what arrives on stdin."""
    path, want = image
    docker = tmp_path / "docker"
    docker.write_text('#!/bin/sh\n[ "$1" = load ] || exit 64\necho "Loaded image: oracle_enclave:latest $(sha256sum | cut -c1-64)"\n')
    docker.chmod(0o755)
    lines = image_tars.docker_load(str(docker), image_tars.archive_chunks([str(path)]))
    assert lines == ["Loaded image: oracle_enclave:latest " + want]
    docker.write_text('#!/bin/sh\ncat >/dev/null\necho "Error processing tar file(exit status 1): unexpected EOF" >&2\nexit 1\n')
    with pytest.raises(image_tars.ImageTarError, match="exited with status 1: Error processing tar file"):
        image_tars.docker_load(str(docker), image_tars.archive_chunks([str(path)]))
