"""opencontracts.enclave.s3_presigned_urls against moto's S3 server on 127.0.0.1, the URLs used with urllib."""

import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest

from module_runner import run_module

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

# pylint: disable=wrong-import-position
from ansible_collections.opencontracts.enclave.plugins.modules import s3_presigned_urls  # noqa: E402

BUCKET = "opencontracts-eif-unit"
KEY = "opencontracts/eif/oracle/" + "ab" * 32 + ".eif"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield "http://%s:%d" % (host, port)
    server.stop()


@pytest.fixture
def s3(endpoint, monkeypatch):
    """Credentials for moto in the environment only; a fresh bucket."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for entry in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=entry["Key"])
    client.delete_bucket(Bucket=BUCKET)


def sign(endpoint, **changes):
    args = {"bucket": BUCKET, "keys": [KEY], "methods": ["get", "put"], "region": "us-east-1",
            "endpoint_url": endpoint}
    args.update(changes)
    return run_module(s3_presigned_urls.main, args)


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def put(url, data, headers):
    # As the role uploads: urllib would otherwise label the body a form (and moto's server would parse it as one).
    request = urllib.request.Request(url, data=data, method="PUT",
                                     headers=dict(headers, **{"Content-Type": "application/octet-stream"}))
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_an_upload_with_the_signed_headers_is_stored_encrypted_and_found_again(endpoint, s3):
    first = sign(endpoint)
    assert not first["failed"] and not first["changed"], first
    entry = first["objects"][KEY]
    assert entry["exists"] is False and entry["size"] is None
    assert entry["put_headers"] == {"x-amz-server-side-encryption": "AES256"}
    # The encryption header is part of the signature: a host cannot upload without it.
    assert "x-amz-server-side-encryption" in query(entry["put_url"])["X-Amz-SignedHeaders"].split(";")
    assert query(entry["put_url"])["X-Amz-Expires"] == "900"
    body = b"\x00EIF" * 1000
    assert put(entry["put_url"], body, entry["put_headers"]) == 200
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == len(body)
    again = sign(endpoint, methods=["get"])
    assert again["objects"][KEY]["exists"] is True and again["objects"][KEY]["size"] == len(body)
    assert again["objects"][KEY]["put_url"] is None and again["objects"][KEY]["put_headers"] == {}
    with urllib.request.urlopen(again["objects"][KEY]["get_url"], timeout=10) as response:
        assert response.read() == body


def test_kms_signs_the_key_id_too(endpoint, s3):
    key_id = "arn:aws:kms:us-east-1:123456789012:key/0b8c6d1e-1111-2222-3333-444455556666"
    result = sign(endpoint, sse="aws:kms", kms_key_id=key_id, expiry=60)
    entry = result["objects"][KEY]
    assert entry["put_headers"] == {"x-amz-server-side-encryption": "aws:kms",
                                    "x-amz-server-side-encryption-aws-kms-key-id": key_id}
    signed = query(entry["put_url"])["X-Amz-SignedHeaders"].split(";")
    assert "x-amz-server-side-encryption-aws-kms-key-id" in signed
    assert query(entry["get_url"])["X-Amz-Expires"] == "60"


def test_a_missing_bucket_is_named(endpoint, s3):
    result = sign(endpoint, bucket="no-such-bucket")
    assert result["failed"] and result["msg"].startswith("the bucket no-such-bucket does not exist")


def test_no_credentials_is_said_so(endpoint, s3, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = sign(endpoint)
    assert result["failed"] and result["msg"].startswith("no AWS credentials on the controller")


def test_an_unreachable_endpoint_is_said_so(s3):
    result = sign("http://127.0.0.1:%d" % free_port())
    assert result["failed"] and result["msg"].startswith("the S3 endpoint cannot be reached")


def test_an_object_is_to_be_uploaded_when_missing_or_of_another_size(endpoint, s3):
    record = KEY[:-len(".eif")] + ".json"
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"\x00" * 100)
    s3.put_object(Bucket=BUCKET, Key=record, Body=b"{}")
    other = "opencontracts/eif/oracle/" + "cd" * 32 + ".eif"
    wanted = {KEY: 100, record: None, other: 100}
    same = sign(endpoint, keys=[KEY, record, other], sizes=wanted)["objects"]
    assert [same[key]["upload"] for key in (KEY, record, other)] == [False, False, True]
    # A cut-off upload of the image: its size tells; the record has no expected size (never overwritten).
    bigger = sign(endpoint, keys=[KEY, record], sizes={KEY: "101", record: None})["objects"]
    assert bigger[KEY]["upload"] is True and bigger[record]["upload"] is False
    assert sign(endpoint, keys=[KEY])["objects"][KEY]["upload"] is False


def test_required_objects_that_are_missing_are_named(endpoint, s3):
    other = "opencontracts/eif/oracle/" + "cd" * 32 + ".eif"
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"\x00")
    assert sign(endpoint, keys=[KEY], require_existing=True)["failed"] is False
    result = sign(endpoint, keys=[KEY, other], require_existing=True)
    assert result["failed"] and result["msg"] == "s3://%s/%s: not in the bucket, nothing to download" % (BUCKET, other)
    # In check mode an upload of the same run may be pending.
    assert sign(endpoint, keys=[other], require_existing=True, _ansible_check_mode=True)["failed"] is False


@pytest.mark.parametrize("changes, message", [
    ({"sizes": {KEY: -1}}, "sizes must map keys to a size in bytes (a whole number, at least 0) or null; got %s: -1" % KEY),
    ({"expiry": 0}, "expiry must be between 1 and 604800 seconds; got 0"),
    ({"expiry": 604801}, "expiry must be between 1 and 604800 seconds; got 604801"),
    ({"keys": ["/x.eif"]}, "keys must be object keys (not empty, no leading '/'); got '/x.eif'"),
    ({"kms_key_id": "alias/eif"}, "kms_key_id needs sse=aws:kms"),
])
def test_bad_inputs_fail_before_asking_anything(changes, message):
    result = sign("http://127.0.0.1:9", **changes)
    assert result["failed"] and result["msg"] == message
