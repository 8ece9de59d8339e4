#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_presigned_urls
short_description: Presigned S3 URLs for hosts that have neither AWS credentials nor boto3
version_added: 0.1.0
description:
  - For each of O(keys) in O(bucket), returns a presigned C(GET) URL and, with C(put) in O(methods), a presigned
    C(PUT) URL whose upload is stored with server-side encryption (O(sse)), and whether an object with that key is
    there already and its size (C(HeadObject)).
  - Runs on the controller (delegate it to C(localhost)), which holds the AWS credentials; the hosts only get URLs
    that expire after O(expiry) seconds and name one object each. The role C(opencontracts.enclave.enclave_build)
    uses it to move the verified enclave image from the building host to the bucket and from there to every other
    host, without the controller in the data path (C(enclave_build_distribution=s3)).
  - A C(PUT) URL only works with the headers RV(objects.put_headers) (they are part of the signature) - the
    encryption is not up to the uploading host.
  - Before signing it asks for the bucket (C(HeadBucket)), so that missing credentials, a missing bucket, a bucket
    out of reach of these credentials and an unreachable endpoint each fail here with their own message, not later
    on a host with an HTTP status.
options:
  bucket:
    description: The bucket's name.
    type: str
    required: true
  keys:
    description: The object keys to sign URLs for.
    type: list
    elements: str
    required: true
  methods:
    description: The URLs to sign for each key - C(get) to download, C(put) to upload.
    type: list
    elements: str
    choices: [get, put]
    default: [get]
  expiry:
    description: How long the URLs stay valid, in seconds (1 to 604800, the limit of signature version 4).
    type: int
    default: 900
  sse:
    description:
      - The server-side encryption of uploads - C(AES256) (keys managed by S3) or C(aws:kms) (with O(kms_key_id), or the
        account's default key for S3 when empty).
    type: str
    choices: [AES256, "aws:kms"]
    default: AES256
  kms_key_id:
    description: With O(sse=aws:kms), the KMS key (ID, ARN or alias ARN); empty for the account's default key for S3.
    type: str
    default: ""
  sizes:
    description:
      - Key to the size in bytes its object is to have. An object with a key here is to be uploaded
        (RV(objects.upload)) when the bucket has none with that key or it has another size; one with a key not here
        (or a null size) only when it is missing.
    type: dict
    default: {}
  require_existing:
    description:
      - Fail, naming them, when objects of O(keys) are not in the bucket (a download that cannot work). Not in check
        mode, where an upload of the same run may be pending.
    type: bool
    default: false
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  platform:
    details: Runs where the AWS credentials are, normally the controller (C(delegate_to=localhost)); needs boto3 there.
notes:
  - Signing changes nothing; the module only reads (C(HeadBucket), C(HeadObject)) and runs the same in check mode
    (but for O(require_existing)).
  - With O(endpoint_url) (for example a local S3 stand-in) the URLs use path-style addressing.
  - The credentials need C(s3:ListBucket) on the bucket (for C(HeadBucket) and a missing object's 404), C(s3:GetObject)
    and, for C(put), C(s3:PutObject) on the keys (and C(kms:GenerateDataKey) with O(sse=aws:kms)); a presigned URL
    can do no more than the credentials that signed it.
seealso:
  - module: amazon.aws.s3_object
  - module: ansible.builtin.get_url
  - module: ansible.builtin.uri
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Sign an upload of the verified image for the building host
  opencontracts.enclave.s3_presigned_urls:
    bucket: example-opencontracts-eif
    region: eu-central-1
    keys: [opencontracts/eif/oracle/5d1f...c0de.eif]
    methods: [put, get]
    expiry: 900
  delegate_to: localhost
  register: urls

- name: Upload it from the host (streamed from disk), encrypted at rest
  ansible.builtin.uri:
    url: "{{ urls.objects['opencontracts/eif/oracle/5d1f...c0de.eif'].put_url }}"
    method: PUT
    src: /var/lib/opencontracts/enclave_build/oracle.eif
    remote_src: true
    headers: "{{ urls.objects['opencontracts/eif/oracle/5d1f...c0de.eif'].put_headers }}"
  when: not urls.objects['opencontracts/eif/oracle/5d1f...c0de.eif'].exists

- name: Sign a download for another host, and fail when the object is not there
  opencontracts.enclave.s3_presigned_urls:
    bucket: example-opencontracts-eif
    keys: [opencontracts/eif/oracle/5d1f...c0de.eif]
    require_existing: true
  delegate_to: localhost
  register: download
"""

RETURN = r"""
objects:
  description: Key to what was signed for it, and the object with that key now.
  returned: success
  type: dict
  contains:
    exists:
      description: Whether the bucket has an object with this key.
      type: bool
    size:
      description: Its size in bytes, or null.
      type: int
    get_url:
      description: The presigned C(GET) URL (with C(get) in O(methods)), or null.
      type: str
    put_url:
      description: The presigned C(PUT) URL (with C(put) in O(methods)), or null.
      type: str
    put_headers:
      description: The headers an upload to RV(objects.put_url) must send (the server-side encryption); empty without C(put).
      type: dict
    upload:
      description: Whether the object is to be uploaded - it is missing, or has another size than O(sizes) gives.
      type: bool
  sample:
    opencontracts/eif/oracle/5d1f...c0de.eif:
      exists: false
      size: null
      get_url: https://example-opencontracts-eif.s3.eu-central-1.amazonaws.com/opencontracts/eif/oracle/5d1f...c0de.eif?X-Amz-Algorithm=...
      put_url: https://example-opencontracts-eif.s3.eu-central-1.amazonaws.com/opencontracts/eif/oracle/5d1f...c0de.eif?X-Amz-Algorithm=...
      put_headers: {x-amz-server-side-encryption: AES256}
      upload: true
expires_at:
  description: When the URLs stop working (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2026-12-02T21:15:00Z"
"""

import datetime

try:
    import botocore
    from botocore.config import Config
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

MAX_EXPIRY = 604800


class SigningError(Exception):
    """The bucket cannot be used with these credentials; the message says why."""


def error_code(error):
    return str(error.response.get("Error", {}).get("Code", ""))


def check_bucket(client, bucket):
    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.NoCredentialsError:
        raise SigningError("no AWS credentials on the controller (environment, profile, or instance role): "
                           "nothing can be signed for the bucket %s" % bucket)
    except botocore.exceptions.EndpointConnectionError as error:
        raise SigningError("the S3 endpoint cannot be reached: %s" % error)
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        if code in ("404", "NoSuchBucket"):
            raise SigningError("the bucket %s does not exist (create it first, for example with the ec2_fleet role)"
                               % bucket)
        if code in ("403", "AccessDenied"):
            raise SigningError("the controller's AWS credentials may not use the bucket %s (HeadBucket: access "
                               "denied); they need s3:ListBucket on it" % bucket)
        raise SigningError("the bucket %s cannot be used: %s" % (bucket, error))
    except botocore.exceptions.BotoCoreError as error:
        raise SigningError("the bucket %s cannot be asked for: %s" % (bucket, error))


def describe_object(client, bucket, key):
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return {"exists": False, "size": None}
        raise SigningError("the object %s in %s cannot be asked for: %s" % (key, bucket, error))
    return {"exists": True, "size": int(head.get("ContentLength", 0))}


def sse_parameters(sse, kms_key_id):
    """put_object's parameters and the headers an upload must send for them."""
    params = {"ServerSideEncryption": sse}
    headers = {"x-amz-server-side-encryption": sse}
    if sse == "aws:kms" and kms_key_id:
        params["SSEKMSKeyId"] = kms_key_id
        headers["x-amz-server-side-encryption-aws-kms-key-id"] = kms_key_id
    return params, headers


def sign(client, params):
    bucket, expiry = params["bucket"], params["expiry"]
    check_bucket(client, bucket)
    put_params, put_headers = sse_parameters(params["sse"], params["kms_key_id"])
    objects = {}
    for key in params["keys"]:
        entry = describe_object(client, bucket, key)
        entry["get_url"] = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry) if "get" in params["methods"] else None
        entry["put_url"] = client.generate_presigned_url(
            "put_object", Params=dict(put_params, Bucket=bucket, Key=key),
            ExpiresIn=expiry) if "put" in params["methods"] else None
        entry["put_headers"] = dict(put_headers) if "put" in params["methods"] else {}
        expected = (params["sizes"] or {}).get(key)
        entry["upload"] = not entry["exists"] or (expected is not None and entry["size"] != size_of(expected))
        objects[key] = entry
    return objects


def missing(objects):
    """The keys of the objects that are not in the bucket."""
    return [key for key, entry in objects.items() if not entry["exists"]]


def input_errors(params):
    errors = []
    if not 1 <= params["expiry"] <= MAX_EXPIRY:
        errors.append("expiry must be between 1 and %d seconds; got %d" % (MAX_EXPIRY, params["expiry"]))
    if not params["bucket"].strip():
        errors.append("bucket must name a bucket")
    bad = [key for key in params["keys"] if not key or key.startswith("/")]
    if bad:
        errors.append("keys must be object keys (not empty, no leading '/'); got %s" % ", ".join(repr(k) for k in bad))
    if params["kms_key_id"] and params["sse"] != "aws:kms":
        errors.append("kms_key_id needs sse=aws:kms")
    for key, size in (params["sizes"] or {}).items():
        if size is not None and size_of(size) is None:
            errors.append("sizes must map keys to a size in bytes (a whole number, at least 0) or null; got %s: %r"
                          % (key, size))
    return errors


def size_of(value):
    """A size in bytes (a whole number, at least 0, also as digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def main():
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        keys=dict(type="list", elements="str", required=True, no_log=False),
        methods=dict(type="list", elements="str", choices=["get", "put"], default=["get"]),
        expiry=dict(type="int", default=900),
        sse=dict(type="str", choices=["AES256", "aws:kms"], default="AES256"),
        kms_key_id=dict(type="str", default="", no_log=False),
        sizes=dict(type="dict", default={}),
        require_existing=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    errors = input_errors(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors), changed=False)
    # Signature version 4 (KMS-encrypted uploads need it); path-style for endpoints that are not AWS.
    config = Config(signature_version="s3v4",
                    s3={"addressing_style": "path"} if module.params.get("endpoint_url") else {})
    client = module.client("s3", config=config)
    expires_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=module.params["expiry"])
    try:
        objects = sign(client, module.params)
    except SigningError as error:
        module.fail_json(msg=str(error), changed=False)
    if module.params["require_existing"] and missing(objects) and not module.check_mode:
        module.fail_json(msg="%s: not in the bucket, nothing to download" % ", ".join(
            "s3://%s/%s" % (module.params["bucket"], key) for key in missing(objects)), changed=False, objects=objects)
    module.exit_json(changed=False, objects=objects, expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


if __name__ == "__main__":
    main()
