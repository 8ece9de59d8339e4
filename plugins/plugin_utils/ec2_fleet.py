# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ec2_fleet role's input rules and security group rules (controller only).

Public API: :func:`input_errors` (every bad setting, one message each), :func:`normalise_cidrs`,
:func:`security_group_rules`, :func:`host_prices`, :func:`distribution_policies`, :func:`aws_partition`, :func:`owned`,
:func:`fleet_identity`, :func:`fleet_vpc`, :func:`teardown_report`, :data:`ANYWHERE`, :data:`PRICE_TAG`, :data:`ROLE_TAG`.
"""

import ipaddress
import json
import re

from ansible_collections.opencontracts.enclave.plugins.module_utils.ec2_enclave import kms_key_error

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
SECURITY_GROUP_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/()#,@+=&;{}!$*-]{0,254}\Z")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+\Z")
GROUP_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
PRICE_RE = re.compile(r"[0-9]+\Z")
# The fleet's tag and the collection's mark: what the teardown may delete carries both.
FLEET_TAG = "opencontracts:fleet"
MANAGED_TAG = ("opencontracts:managed-by", "opencontracts.enclave")
# The tags that carry a host's PRICE and its enclave role (inventories/aws/aws_ec2.yml reads them too).
PRICE_TAG = "opencontracts:price"
ROLE_TAG = "opencontracts:role"
# S3 bucket names (general purpose buckets): 3-63 lower-case letters, digits, dots and hyphens, starting and ending
# with a letter or digit, not shaped like an IPv4 address, without the prefixes and suffixes S3 reserves.
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# The key prefix of the images: path segments of letters, digits and !-_.'() (S3's safe characters), no wildcard
# that would widen the read-only policy, no empty, "." or ".." segment.
PREFIX_SEGMENT_RE = re.compile(r"[A-Za-z0-9!_.'()-]+\Z")
# IAM role names (the instance profile carries the same name): at most 64 characters.
ROLE_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}\Z")
KMS_KEY_ARN_RE = re.compile(r"arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:key/[A-Za-z0-9-]+\Z")
SSE_CHOICES = ("AES256", "aws:kms")
# The trust policy of the role: only EC2 instances may take it.
EC2_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

# The CIDR lists and what each one opens.
CIDR_SETTINGS = ("ec2_fleet_admin_cidrs", "ec2_fleet_service_cidrs", "ec2_fleet_egress_cidrs")
ANYWHERE = ("0.0.0.0/0", "::/0")

ADMIN_CIDRS_HELP = ("Set ec2_fleet_admin_cidrs to the address ranges the operator connects from, as a list such as "
                    "['198.51.100.7/32'] (your public address: curl https://checkip.amazonaws.com). "
                    "It has no default on purpose.")


class CidrError(ValueError):
    """A value that is not a CIDR block."""


def normalise_cidrs(values):
    """CIDR blocks in their canonical form (``10.0.0.1/8`` -> ``10.0.0.0/8``, ``::0/0`` -> ``::/0``).

    Raises CidrError naming the first value that is not an IPv4 or IPv6 network with a prefix.
    """
    networks = []
    for value in values:
        text = str(value).strip()
        if "/" not in text:
            raise CidrError("%r has no prefix length (/N)" % (value,))
        address, prefix = text.split("/", 1)
        # ipaddress accepts "/00" and "/ 8"; a prefix is written as plain decimal digits here.
        if not prefix.isdigit() or (len(prefix) > 1 and prefix.startswith("0")):
            raise CidrError("%r has no valid prefix length" % (value,))
        try:
            networks.append(str(ipaddress.ip_network("%s/%s" % (address, prefix), strict=False)))
        except ValueError:
            raise CidrError("%r is not a CIDR block" % (value,)) from None
    return networks


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _is_list(value):
    return isinstance(value, (list, tuple))


def _launch_errors(settings):
    """What a launch needs; only checked when instances are wanted."""
    errors = []
    if not str(settings.get("ec2_fleet_key_name") or ""):
        errors.append("ec2_fleet_key_name must name the EC2 key pair for SSH (set ec2_fleet_key_public_key too to import it)")
    if not str(settings.get("ec2_fleet_instance_type") or ""):
        errors.append("ec2_fleet_instance_type must not be empty")
    if not settings.get("ec2_fleet_image_id") and not settings.get("ec2_fleet_image_owners"):
        errors.append("ec2_fleet_image_id or ec2_fleet_image_owners must be set")
    minimums = (("ec2_fleet_volume_size", 1, "GiB"), ("ec2_fleet_enclave_memory_mib", 64, "MiB"),
                ("ec2_fleet_enclave_cpu_count", 1, "CPU"), ("ec2_fleet_parent_memory_mib", 0, "MiB"),
                ("ec2_fleet_parent_cpu_count", 1, "CPU"))
    for name, minimum, unit in minimums:
        number = _int(settings.get(name))
        if number is None or number < minimum:
            errors.append("%s must be at least %d %s (got %r)" % (name, minimum, unit, settings.get(name)))
    kms_key = settings.get("ec2_fleet_volume_kms_key_id")
    if kms_key and not isinstance(kms_key, str):
        errors.append("ec2_fleet_volume_kms_key_id: %r is not a KMS key: write one key ID, ARN or alias as a string"
                      % (kms_key,))
    elif kms_key:
        error = kms_key_error(kms_key, str(settings.get("ec2_fleet_region", "")))
        if error:
            errors.append("ec2_fleet_volume_kms_key_id: %s" % error)
    prices = [str(price) for price in settings.get("ec2_fleet_prices") or []]
    bad_prices = [price for price in prices if not PRICE_RE.match(price)]
    if bad_prices:
        errors.append("ec2_fleet_prices are whole numbers in the token's smallest unit (1 OPN = 1000000000000000000), "
                      "written as quoted strings; these are not: %s" % bad_prices)
    default_price = str(settings.get("ec2_fleet_price") or "")
    if default_price and not PRICE_RE.match(default_price):
        errors.append("ec2_fleet_price must be a whole number in the token's smallest unit (got %r)" % default_price)
    count = _int(settings.get("ec2_fleet_count")) or 0
    if not default_price and len(prices) < count:
        errors.append("ec2_fleet_prices gives %d price(s) for %d host(s), so ec2_fleet_price (the price of the "
                      "others) must be set" % (len(prices), count))
    return errors


def _cidr_errors(settings):
    errors = []
    admin = settings.get("ec2_fleet_admin_cidrs")
    if admin is None:
        errors.append(ADMIN_CIDRS_HELP + " It is not set.")
    elif not _is_list(admin) or not admin:
        errors.append(ADMIN_CIDRS_HELP + " It must be a non-empty list (got %r)." % (admin,))
    for name in CIDR_SETTINGS:
        values = settings.get(name)
        if values is None or not _is_list(values):
            if name != "ec2_fleet_admin_cidrs":
                errors.append("%s must be a list of CIDR blocks such as 198.51.100.0/24 or 2001:db8::/32 (got %r)"
                              % (name, values))
            continue
        try:
            networks = normalise_cidrs(values)
        except CidrError as error:
            errors.append("%s takes CIDR blocks such as 198.51.100.0/24 or 2001:db8::/32: %s" % (name, error))
            continue
        if name == "ec2_fleet_admin_cidrs" and not settings.get("ec2_fleet_admin_allow_anywhere"):
            # Any block with prefix 0 is the whole address family, however it is written (1.2.3.4/0, ::0/0).
            wide = [value for value, network in zip(values, networks) if network.endswith("/0")]
            if wide:
                errors.append("ec2_fleet_admin_cidrs must not contain 0.0.0.0/0 or ::/0 (SSH from anywhere, however "
                              "written) unless ec2_fleet_admin_allow_anywhere is true; got %s" % [str(v) for v in wide])
    return errors


def _bucket_name_error(name):
    if not BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        return ("ec2_fleet_distribution_bucket must be an S3 bucket name: 3-63 lower-case letters, digits, '.' and "
                "'-', starting and ending with a letter or digit (got %r)" % name)
    try:
        ipaddress.IPv4Address(name)
        return "ec2_fleet_distribution_bucket must not be shaped like an IP address (got %r)" % name
    except ValueError:
        pass
    if name.startswith(BUCKET_RESERVED_PREFIXES) or name.endswith(BUCKET_RESERVED_SUFFIXES):
        return ("ec2_fleet_distribution_bucket %r uses a prefix or suffix that S3 reserves (%s; %s)"
                % (name, ", ".join(BUCKET_RESERVED_PREFIXES), ", ".join(BUCKET_RESERVED_SUFFIXES)))
    return None


def _distribution_errors(settings):
    """The distribution bucket and the instance profile that may only read it."""
    errors = []
    bucket = settings.get("ec2_fleet_distribution_bucket")
    create_profile = settings.get("ec2_fleet_instance_profile_create")
    create_bucket = settings.get("ec2_fleet_distribution_bucket_create")
    for name in ("ec2_fleet_instance_profile_create", "ec2_fleet_distribution_bucket_create"):
        if not isinstance(settings.get(name), bool):
            errors.append("%s must be true or false (got %r)" % (name, settings.get(name)))
    if not isinstance(bucket, str):
        errors.append("ec2_fleet_distribution_bucket must be a bucket name or empty (got %r)" % (bucket,))
        return errors
    if not bucket:
        if create_profile is True:
            errors.append("ec2_fleet_instance_profile_create needs ec2_fleet_distribution_bucket: the instance profile "
                          "may only read the images under ec2_fleet_distribution_prefix in that bucket")
        return errors
    error = _bucket_name_error(bucket)
    if error:
        errors.append(error)
    prefix = settings.get("ec2_fleet_distribution_prefix")
    if not isinstance(prefix, str) or not prefix or not all(
            PREFIX_SEGMENT_RE.match(segment) and segment not in (".", "..") for segment in prefix.split("/")):
        errors.append("ec2_fleet_distribution_prefix must be a key prefix such as opencontracts/eif: segments of "
                      "letters, digits and !_.'()- separated by single '/', none at either end, no wildcard "
                      "(keep it equal to enclave_build_s3_prefix; got %r)" % (prefix,))
    sse = settings.get("ec2_fleet_distribution_sse")
    key = settings.get("ec2_fleet_distribution_kms_key_id") or ""
    if sse not in SSE_CHOICES:
        errors.append("ec2_fleet_distribution_sse must be one of %s (got %r)" % (", ".join(SSE_CHOICES), sse))
    elif sse == "aws:kms":
        if not isinstance(key, str) or not KMS_KEY_ARN_RE.match(key):
            errors.append("ec2_fleet_distribution_sse aws:kms needs ec2_fleet_distribution_kms_key_id, the ARN of the "
                          "key (arn:aws:kms:REGION:ACCOUNT:key/ID): the instance profile may decrypt with that key "
                          "only (got %r)" % (key,))
        else:
            error = kms_key_error(key, str(settings.get("ec2_fleet_region", "")))
            if error:
                errors.append("ec2_fleet_distribution_kms_key_id: %s" % error)
    elif key:
        errors.append("ec2_fleet_distribution_kms_key_id is only used with ec2_fleet_distribution_sse aws:kms "
                      "(it is %r)" % (sse,))
    if create_profile is True:
        name = settings.get("ec2_fleet_instance_profile_name")
        if not isinstance(name, str) or not ROLE_NAME_RE.match(name):
            errors.append("ec2_fleet_instance_profile_name must be an IAM role name (at most 64 letters, digits and "
                          "+=,.@_-), the name of the role and of its instance profile (got %r)" % (name,))
    elif create_profile is False and create_bucket is False:
        errors.append("ec2_fleet_distribution_bucket is set, but neither ec2_fleet_distribution_bucket_create nor "
                      "ec2_fleet_instance_profile_create is true: nothing would use it")
    return errors


def _teardown_errors(settings, check_mode):
    """Removing a fleet needs its name typed again in ec2_fleet_confirm_teardown (a preview does not)."""
    name = settings.get("ec2_fleet_name")
    confirmation = settings.get("ec2_fleet_confirm_teardown")
    if check_mode or (isinstance(confirmation, str) and confirmation == name):
        return []
    return ["The teardown terminates every instance of fleet %r and deletes its security group and key pair. Confirm "
            "with the fleet's name: -e ec2_fleet_confirm_teardown=%s (or preview it with --check); "
            "ec2_fleet_confirm_teardown is %s" % (name, name, "not set" if confirmation is None else repr(confirmation))]


def input_errors(settings, teardown=False, check_mode=False):
    """Every bad ec2_fleet setting, one message each; an empty list when all are usable.

    ``settings`` maps the role's variable names to their values (a variable that is not set is
    absent or None). With ``teardown`` only what removing a fleet needs is checked, including the
    confirmation ``ec2_fleet_confirm_teardown`` (the fleet's name), which ``check_mode`` does not need.
    """
    errors = []
    if not NAME_RE.match(str(settings.get("ec2_fleet_name", ""))):
        errors.append("ec2_fleet_name must be 1-63 letters, digits, '.', '_' or '-' (got %r)" % settings.get("ec2_fleet_name"))
    if not REGION_RE.match(str(settings.get("ec2_fleet_region", ""))):
        errors.append("ec2_fleet_region must be a region such as eu-central-1 (got %r)" % settings.get("ec2_fleet_region"))
    if teardown:
        # The confirmation is asked for once the name it must repeat is usable.
        return errors or _teardown_errors(settings, check_mode)
    group_name = str(settings.get("ec2_fleet_security_group_name", ""))
    if not SECURITY_GROUP_NAME_RE.match(group_name) or group_name.lower().startswith("sg-"):
        errors.append("ec2_fleet_security_group_name must be a security group name not starting with sg- (got %r)" % group_name)
    count = _int(settings.get("ec2_fleet_count"))
    if count is None or count < 0:
        errors.append("ec2_fleet_count must be 0 or more (got %r)" % settings.get("ec2_fleet_count"))
    if not GROUP_RE.match(str(settings.get("ec2_fleet_group", ""))):
        errors.append("ec2_fleet_group must be an inventory group name (got %r)" % settings.get("ec2_fleet_group"))
    ports = list(settings.get("ec2_fleet_service_ports") or []) + [settings.get("ec2_fleet_ssh_port")]
    bad_ports = [port for port in ports if _int(port) is None or not 1 <= _int(port) <= 65535]
    if bad_ports:
        errors.append("ec2_fleet_service_ports and ec2_fleet_ssh_port must be between 1 and 65535; these are not: %s" % bad_ports)
    errors.extend(_cidr_errors(settings))
    errors.extend(_distribution_errors(settings))
    if count:
        errors.extend(_launch_errors(settings))
    return errors


def security_group_rules(service_cidrs, service_ports, admin_cidrs, ssh_port, egress_cidrs,
                         service_description="Open Contracts enclave: WebSocket 8080, TLS proxy 8081, xpra 14500"):
    """``{ingress, egress}`` rules for amazon.aws.ec2_security_group, with normalised CIDR blocks.

    IPv4 and IPv6 blocks go into separate rules (cidr_ip / cidr_ipv6). Egress rules carry no
    description: the VPC's default egress rule has none.
    """
    def split(values):
        networks = normalise_cidrs(values)
        return [n for n in networks if ":" not in n], [n for n in networks if ":" in n]

    ingress = []
    for cidrs, ports, description in ((service_cidrs, list(service_ports), service_description),
                                      (admin_cidrs, [ssh_port], "SSH from the operator")):
        ipv4, ipv6 = split(cidrs)
        if ipv4:
            ingress.append({"proto": "tcp", "ports": [int(p) for p in ports], "cidr_ip": ipv4, "rule_desc": description})
        if ipv6:
            ingress.append({"proto": "tcp", "ports": [int(p) for p in ports], "cidr_ipv6": ipv6, "rule_desc": description})
    ipv4, ipv6 = split(egress_cidrs)
    egress = ([{"proto": "all", "cidr_ip": ipv4}] if ipv4 else []) + ([{"proto": "all", "cidr_ipv6": ipv6}] if ipv6 else [])
    return {"ingress": ingress, "egress": egress}


def host_prices(instances, prices, default_price, tag=PRICE_TAG):
    """The PRICE of every instance, ``{instance_id: price}``: a price follows its host, never a position.

    ``instances`` are the fleet's members as the module ec2_enclave_instances returns them (oldest first,
    each with ``instance_id`` and ``tags``). Every entry of ``prices`` is one slot; ``default_price`` is
    the price of hosts the slots do not cover. A host keeps the price its ``tag`` carries while that price
    is still declared: a free slot of the same value (claimed in the order of ``instances``) or the
    default price. Every other host - launched since the last run, or carrying a price that is no longer
    declared - takes the first free slot in list order, then the default price.
    """
    free = [str(price) for price in prices or []]
    default_price = str(default_price or "")
    result = {}
    waiting = []
    for instance in instances:
        instance_id = instance["instance_id"]
        current = (instance.get("tags") or {}).get(tag)
        current = None if current is None else str(current)
        if current is not None and current in free:
            free.remove(current)
            result[instance_id] = current
        elif current and current == default_price:
            result[instance_id] = current
        else:
            waiting.append(instance_id)
    for instance_id in waiting:
        result[instance_id] = free.pop(0) if free else default_price
    return result


def aws_partition(region):
    """The ARN partition of a region: aws, aws-cn (cn-*) or aws-us-gov (us-gov-*)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def distribution_policies(bucket, prefix, region, sse="AES256", kms_key_arn=""):
    """``{trust, read}``: the trust policy of the fleet's role (EC2 may take it) and its only permission, reading
    the objects under ``prefix/`` in ``bucket`` (s3:GetObject; with ``sse`` aws:kms also kms:Decrypt with that
    key, and only through S3 in ``region``). No listing, no writing, no other bucket or prefix."""
    resource = "arn:%s:s3:::%s/%s/*" % (aws_partition(region), bucket, prefix.strip("/"))
    statements = [{"Sid": "ReadEnclaveImages", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [resource]}]
    if sse == "aws:kms":
        statements.append({"Sid": "DecryptEnclaveImages", "Effect": "Allow", "Action": ["kms:Decrypt"],
                           "Resource": [kms_key_arn],
                           "Condition": {"StringEquals": {"kms:ViaService": "s3.%s.amazonaws.com" % region}}})
    return {"trust": json.loads(json.dumps(EC2_TRUST_POLICY)), "read": {"Version": "2012-10-17", "Statement": statements}}


def owned(resources, fleet, tags_key="tags"):
    """The resources (dictionaries, their tags as a dictionary under ``tags_key``) that carry the fleet's tag with the
    value ``fleet`` and the collection's mark: what the ec2_fleet role created for that fleet, and may delete."""
    result = []
    for resource in resources or []:
        tags = resource.get(tags_key) or {}
        if tags.get(FLEET_TAG) == fleet and tags.get(MANAGED_TAG[0]) == MANAGED_TAG[1]:
            result.append(resource)
    return result


def fleet_identity(name, tags, enclave_role):
    """What ties AWS resources and inventory hosts to the fleet ``name`` (see ec2_fleet_identity.yml).

    ``tags`` are the operator's tags for everything the fleet creates; the fleet's own tags win over them.
    """
    def merged(*dicts):
        result = {}
        for item in dicts:
            result.update(item)
        return result

    identity = {FLEET_TAG: name}
    return {
        # The fleet is every instance with this tag (ec2_enclave_instances terminates surplus members).
        "identity_tags": dict(identity),
        "instance_tags": merged(tags, {"Name": name, ROLE_TAG: enclave_role}),
        "security_group_tags": merged(tags, identity),
        # What the teardown may delete (the bucket, the role, the instance profile) carries the mark too.
        "owned_tags": merged(tags, identity, {MANAGED_TAG[0]: MANAGED_TAG[1]}),
        "tag_filter": {"tag:" + FLEET_TAG: name},
        # As the aws_ec2 inventory's keyed_groups (prefix fleet) spells it.
        "group": "fleet_" + re.sub(r"[^A-Za-z0-9_]", "_", name),
        "role_tag": ROLE_TAG,
        "price_tag": PRICE_TAG,
    }


def _loop_items(result):
    """The items a registered loop ran on (none when it was skipped or had no items)."""
    return [entry.get("item") for entry in (result or {}).get("results") or [] if not entry.get("skipped")]


def teardown_report(terminated, roles_deleted, buckets_deleted, check_mode=False):
    """One sentence: the instances terminated and left alone, the roles and buckets deleted (would be, in check mode).

    ``terminated`` is the result of ec2_enclave_instances with count 0; ``roles_deleted`` and ``buckets_deleted`` are
    the registered loops that deleted the roles (items with ``role_name``) and the buckets (items with ``name``).
    """
    gone = (terminated or {}).get("terminated") or []
    unmanaged = (terminated or {}).get("unmanaged") or []
    roles = [item.get("role_name") for item in _loop_items(roles_deleted)]
    buckets = [item.get("name") for item in _loop_items(buckets_deleted)]
    return ("%s %d instance(s): %s; left alone %d instance(s) with the fleet's tag but not launched by this "
            "collection: %s; %s the instance profile role(s) %s and the distribution bucket(s) %s"
            % ("Would terminate" if check_mode else "Terminated", len(gone), gone, len(unmanaged), unmanaged,
               "would delete" if check_mode else "deleted", roles, buckets))


def fleet_vpc(vpc_id, subnet_id, region, subnet_info=None, default_vpc_info=None):
    """``{id, error}``: the fleet's VPC - ``vpc_id`` when set, else the VPC of ``subnet_id`` (``subnet_info``, the result
    of amazon.aws.ec2_vpc_subnet_info), else the region's default VPC (``default_vpc_info``, of ec2_vpc_net_info).
    ``error`` says what was not found (empty when a VPC was)."""
    if vpc_id:
        return {"id": vpc_id, "error": ""}
    if subnet_id:
        found = [subnet.get("vpc_id") for subnet in (subnet_info or {}).get("subnets") or [] if subnet.get("vpc_id")]
        missing = "Subnet %s was not found" % subnet_id
    else:
        found = [vpc.get("id") for vpc in (default_vpc_info or {}).get("vpcs") or [] if vpc.get("id")]
        missing = "Region %s has no default VPC" % region
    if found:
        return {"id": found[0], "error": ""}
    return {"id": "", "error": "%s; set ec2_fleet_subnet_id (and ec2_fleet_vpc_id) to a subnet of the VPC the fleet "
                               "should run in" % missing}
