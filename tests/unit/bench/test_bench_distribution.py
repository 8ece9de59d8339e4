"""The image distribution benchmark's helpers (tests/bench/distribution/bench_distribution.py): the files the S3
endpoint's container mounts to run node, the bucket on an endpoint without default encryption, the report's
mode labels."""

import argparse
import importlib.util
import os

import boto3
import pytest
from botocore.stub import Stubber

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load_bench_distribution():
    path = os.path.join(REPO, "tests", "bench", "distribution", "bench_distribution.py")
    spec = importlib.util.spec_from_file_location("bench_distribution", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load_bench_distribution()

# ldd's output for Debian's node (libnode) and for a node that needs only the C and C++ runtimes.
LDD_DEBIAN = """\
\tlinux-vdso.so.1 (0x00007ffd6d5e4000)
\tlibnode.so.108 => /lib/x86_64-linux-gnu/libnode.so.108 (0x00007f2a3c000000)
\tlibuv.so.1 => /lib/x86_64-linux-gnu/libuv.so.1 (0x00007f2a3ff8c000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f2a3be00000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a3bc1f000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2a3ffd6000)
"""


def test_ldd_libraries_names_every_library_and_the_loader():
    assert BENCH.ldd_libraries(LDD_DEBIAN) == [
        ("libnode.so.108", "/lib/x86_64-linux-gnu/libnode.so.108"),
        ("libuv.so.1", "/lib/x86_64-linux-gnu/libuv.so.1"),
        ("libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6"),
        ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        ("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"),
    ]


@pytest.mark.parametrize("text, message", [
    ("\tlibuv.so.1 => not found\n", "libuv.so.1 not found"),
    ("\tsomething odd\n", "unexpected line"),
])
def test_ldd_libraries_refuses_a_missing_library_or_an_unknown_line(text, message):
    with pytest.raises(ValueError, match=message):
        BENCH.ldd_libraries(text)


def test_ldd_libraries_of_a_static_executable_is_empty():
    assert BENCH.ldd_libraries("\tstatically linked\n") == []


def test_node_mounts_resolve_links_and_keep_the_names_node_asks_for(tmp_path):
    """A library is mounted from the file its link points to, under the name the program asks for."""
    real = tmp_path / "libstdc++.so.6.0.30"
    real.write_text("library")
    (tmp_path / "libstdc++.so.6").symlink_to(real.name)
    loader = tmp_path / "ld-linux-x86-64.so.2"
    loader.write_text("loader")
    node = tmp_path / "node"
    node.write_text("node")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "node").symlink_to(node)
    ldd = "\tlibstdc++.so.6 => %s/libstdc++.so.6 (0x1)\n\t%s (0x2)\n" % (tmp_path, loader)
    assert BENCH.node_mounts(str(tmp_path / "bin" / "node"), ldd, "/opt/s3") == [
        (str(node), "/opt/s3/node"),
        (str(real), "/opt/s3/lib/libstdc++.so.6"),
        (str(loader), "/opt/s3/lib/ld-linux-x86-64.so.2"),
    ]


def stubbed_bucket(monkeypatch, encryption_error):
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    stubber.add_response("list_buckets", {"Buckets": []})
    stubber.add_response("create_bucket", {}, {"Bucket": "bench-bucket"})
    stubber.add_client_error("put_bucket_encryption", service_error_code=encryption_error, http_status_code=501)
    stubber.activate()
    monkeypatch.setattr(BENCH, "s3_client", lambda endpoint: client)
    return stubber


def test_bucket_on_an_endpoint_without_default_encryption(monkeypatch, capsys):
    stubber = stubbed_bucket(monkeypatch, "NotImplemented")
    args = argparse.Namespace(endpoint="http://127.0.0.1:5000", bucket="bench-bucket", empty=False)
    assert BENCH.cmd_bucket(args) == 0
    stubber.assert_no_pending_responses()
    assert "keeps no default encryption setting" in capsys.readouterr().out


def test_bucket_fails_on_any_other_encryption_error(monkeypatch):
    stubbed_bucket(monkeypatch, "AccessDenied")
    args = argparse.Namespace(endpoint="http://127.0.0.1:5000", bucket="bench-bucket", empty=False)
    with pytest.raises(Exception, match="AccessDenied"):
        BENCH.cmd_bucket(args)


@pytest.mark.parametrize("record, label", [
    ({"mode": "controller", "s3_server": "s3rver"}, "controller"),
    ({"mode": "s3", "s3_server": "s3rver"}, "s3 (s3rver)"),
    ({"mode": "s3", "s3_server": "moto"}, "s3 (moto)"),
    ({"mode": "s3"}, "s3 (moto)"),
])
def test_mode_label(record, label):
    assert BENCH.mode_label(record) == label
