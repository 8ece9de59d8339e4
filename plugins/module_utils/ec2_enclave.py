# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decisions about a fleet of Nitro Enclaves parent instances, free of any AWS call.

The module ``ec2_enclave_instances`` asks EC2 what exists and then lets these
functions decide: whether an instance type can host the requested enclaves,
which image to launch, which instances to terminate or start, and how an
instance is reported. Keeping them pure makes every rule testable with
recorded API responses.
"""

import datetime
import re

# Instances in these states belong to the fleet; shutting-down and terminated ones are gone.
MEMBER_STATES = ("pending", "running", "stopping", "stopped")

# The mark of every instance this collection launches. Only marked instances are members of a fleet:
# an instance that merely carries the fleet's tags is never started, terminated or reported.
MANAGED_TAG_KEY = "opencontracts:managed-by"
MANAGED_TAG_VALUE = "opencontracts.enclave"

# The ways RunInstances accepts a KMS key for an EBS volume: key ID (also multi-Region), alias, and the
# ARN of either. An unusable key is only found out after the launch (the instance terminates), hence
# the check of the format and the region before.
_KEY_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
KMS_KEY_RE = re.compile(r"(?:%s|%s|arn:aws[a-z-]*:kms:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:(?:key/%s|%s))\Z"
                        % (_KEY_ID, _ALIAS, _KEY_ID, _ALIAS))


# An IAM instance profile: its name (IAM's characters, at most 128), or its ARN (with an optional path).
PROFILE_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,128}\Z")
PROFILE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:instance-profile/(?:[!-~]*/)?(?P<name>[A-Za-z0-9+=,.@_-]{1,128})\Z")


class FleetError(ValueError):
    """An input or an instance type that cannot work; the message tells the operator what to change."""


def tag_filters(tags):
    """DescribeInstances filters selecting the fleet: every tag equal, in a member state."""
    filters = [{"Name": "tag:%s" % key, "Values": [value]} for key, value in sorted(tags.items())]
    filters.append({"Name": "instance-state-name", "Values": list(MEMBER_STATES)})
    return filters


def is_managed(instance):
    """Whether the instance carries the collection's mark (it was launched by ec2_enclave_instances)."""
    return tags_to_dict(instance.get("Tags")).get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE


def split_managed(instances):
    """``(managed, unmanaged)``: the instances with the collection's mark, and the others."""
    managed = [i for i in instances if is_managed(i)]
    unmanaged = [i for i in instances if not is_managed(i)]
    return managed, unmanaged


def kms_key_error(key, region=None):
    """Why ``key`` cannot encrypt an EBS volume in ``region`` (a message), or None when it can be used.

    Accepted: a key ID (``1234abcd-...`` or ``mrk-...``), an alias (``alias/name``) and the ARN of either,
    whose region must be ``region`` when one is given.
    """
    match = KMS_KEY_RE.match(str(key))
    if not match:
        return ("%r is not a KMS key: use a key ID (1234abcd-12ab-34cd-56ef-1234567890ab), a key ARN "
                "(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID), an alias (alias/NAME) or an alias ARN" % (key,))
    if region and match.group("region") and match.group("region") != region:
        return ("KMS key %r is in region %s, not in region %s of the instances (EBS uses keys of its own region)"
                % (key, match.group("region"), region))
    return None


def tags_to_dict(tag_list):
    return dict((tag["Key"], tag.get("Value", "")) for tag in (tag_list or []))


def tag_specifications(tags):
    tag_list = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
    return [{"ResourceType": kind, "Tags": tag_list} for kind in ("instance", "volume")]


def normalize_tags(tags, option):
    """Tags as str -> str; refuse empty keys, the reserved ``aws:`` prefix and AWS's length limits."""
    result = {}
    for key, value in (tags or {}).items():
        key = str(key)
        value = "" if value is None else value
        if isinstance(value, bool):
            value = "true" if value else "false"
        value = str(value)
        if not key.strip():
            raise FleetError("%s: tag keys must not be empty" % option)
        if key.lower().startswith("aws:"):
            raise FleetError("%s: tag key %r uses the prefix 'aws:', which AWS reserves for itself" % (option, key))
        if len(key) > 128 or len(value) > 256:
            raise FleetError("%s: tag %r is too long (keys up to 128 characters, values up to 256)" % (option, key))
        if key == MANAGED_TAG_KEY:
            raise FleetError("%s: the tag %r is the mark this module gives the instances it launches (%s=%s); it "
                             "cannot be set or matched here" % (option, key, MANAGED_TAG_KEY, MANAGED_TAG_VALUE))
        result[key] = value
    return result


def _launch_key(instance):
    launch_time = instance.get("LaunchTime")
    if isinstance(launch_time, datetime.datetime):
        if launch_time.tzinfo is not None:
            launch_time = launch_time.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        launch_time = launch_time.isoformat()
    return (str(launch_time or ""), instance.get("InstanceId", ""))


def oldest_first(instances):
    """Instances ordered by launch time, then instance ID (a stable order for ties)."""
    return sorted(instances, key=_launch_key)


def plan(members, count):
    """Decide what brings ``members`` (instances in MEMBER_STATES) to exactly ``count`` running instances.

    Returns a dict: ``terminate`` (the oldest surplus instances), ``keep`` (the others, oldest first),
    ``start`` (kept instances that are stopped or stopping) and ``launch`` (how many to launch).
    """
    if count < 0:
        raise FleetError("count must be 0 or more, got %d" % count)
    ordered = oldest_first(members)
    surplus = max(0, len(ordered) - count)
    terminate = ordered[:surplus]
    keep = ordered[surplus:]
    start = [i for i in keep if i.get("State", {}).get("Name") in ("stopped", "stopping")]
    return {
        "terminate": terminate,
        "keep": keep,
        "start": start,
        "launch": max(0, count - len(ordered)),
    }


def check_instance_type(info, enclave_memory_mib, enclave_cpu_count, parent_memory_mib, parent_cpu_count):
    """Refuse an instance type that cannot host the enclaves; return its relevant facts otherwise.

    ``info`` is one entry of DescribeInstanceTypes. The enclaves need ``enclave_cpu_count`` vCPUs
    (whole cores: a multiple of the threads per core) and ``enclave_memory_mib``; the parent keeps
    ``parent_cpu_count`` vCPUs and ``parent_memory_mib`` for itself.
    """
    name = info.get("InstanceType", "?")
    vcpu_info = info.get("VCpuInfo") or {}
    vcpus = int(vcpu_info.get("DefaultVCpus") or 0)
    threads = int(vcpu_info.get("DefaultThreadsPerCore") or 1)
    memory = int((info.get("MemoryInfo") or {}).get("SizeInMiB") or 0)
    support = info.get("NitroEnclavesSupport") or "unsupported"
    facts = {
        "instance_type": name,
        "nitro_enclaves_support": support,
        "vcpus": vcpus,
        "threads_per_core": threads,
        "memory_mib": memory,
        "architectures": list((info.get("ProcessorInfo") or {}).get("SupportedArchitectures") or []),
    }
    problems = []
    if support != "supported":
        problems.append("%s does not support Nitro Enclaves (NitroEnclavesSupport: %s); choose a type that does, "
                        "for example c5a.4xlarge" % (name, support))
    else:
        if enclave_cpu_count % threads:
            problems.append("the enclave CPU count %d is not a multiple of the %d threads per core of %s "
                            "(the allocator reserves whole cores)" % (enclave_cpu_count, threads, name))
        if enclave_cpu_count + parent_cpu_count > vcpus:
            problems.append("%s has %d vCPUs, but the enclaves need %d and the parent keeps %d (%d in all)"
                            % (name, vcpus, enclave_cpu_count, parent_cpu_count,
                               enclave_cpu_count + parent_cpu_count))
        if enclave_memory_mib + parent_memory_mib > memory:
            problems.append("%s has %d MiB of memory, but the enclaves need %d MiB and the parent keeps %d MiB "
                            "(%d MiB in all)" % (name, memory, enclave_memory_mib, parent_memory_mib,
                                                 enclave_memory_mib + parent_memory_mib))
    if problems:
        raise FleetError("instance type refused: " + "; ".join(problems))
    return facts


def choose_image(images, architectures):
    """The newest available image whose architecture the instance type runs (images without one match)."""
    usable = [image for image in images
              if image.get("State", "available") == "available"
              and (not architectures or not image.get("Architecture") or image["Architecture"] in architectures)]
    if not usable:
        return None
    return sorted(usable, key=lambda image: (image.get("CreationDate", ""), image.get("ImageId", "")))[-1]


def root_block_device(image, volume_size, volume_type, kms_key_id=None):
    """BlockDeviceMappings for the encrypted root volume of ``image``; refuse a size below the image's.

    The root volume is always encrypted (with ``kms_key_id``, else the account's default EBS key). Without
    ``volume_size`` the size (and type) are the image's.
    """
    root_name = image.get("RootDeviceName")
    if not root_name:
        raise FleetError("image %s has no root device name, so its root volume cannot be encrypted; "
                         "choose an EBS-backed image" % image.get("ImageId"))
    for mapping in image.get("BlockDeviceMappings") or []:
        if volume_size is not None and mapping.get("DeviceName") == root_name:
            image_size = (mapping.get("Ebs") or {}).get("VolumeSize")
            if image_size and volume_size < int(image_size):
                raise FleetError("volume_size %d GiB is smaller than the %d GiB root snapshot of image %s"
                                 % (volume_size, int(image_size), image.get("ImageId")))
    ebs = {"DeleteOnTermination": True, "Encrypted": True}
    if volume_size is not None:
        ebs["VolumeSize"] = volume_size
        if volume_type:
            ebs["VolumeType"] = volume_type
    if kms_key_id:
        ebs["KmsKeyId"] = kms_key_id
    return [{"DeviceName": root_name, "Ebs": ebs}]


def instance_profile_error(profile):
    """Why ``profile`` names no IAM instance profile (a message), or None when it is a name or an ARN."""
    if PROFILE_NAME_RE.match(profile) or PROFILE_ARN_RE.match(profile):
        return None
    return ("%r is neither an instance profile name (at most 128 letters, digits and +=,.@_-) nor an instance "
            "profile ARN (arn:aws:iam::ACCOUNT:instance-profile/NAME)" % (profile,))


def instance_profile_spec(profile):
    """The IamInstanceProfile parameter of RunInstances and AssociateIamInstanceProfile for a name or an ARN."""
    return {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}


def has_instance_profile(instance, profile):
    """Whether the instance's IAM instance profile is ``profile`` (a name, matched against the ARN's last part,
    or an ARN, matched exactly)."""
    arn = (instance.get("IamInstanceProfile") or {}).get("Arn") or ""
    if profile.startswith("arn:"):
        return arn == profile
    match = PROFILE_ARN_RE.match(arn)
    return bool(match) and match.group("name") == profile


def describe_instance(instance):
    """The facts about an instance that a playbook needs, with snake_case keys."""
    launch_time = instance.get("LaunchTime")
    if isinstance(launch_time, datetime.datetime):
        launch_time = launch_time.isoformat()
    enclave = instance.get("EnclaveOptions")
    metadata = instance.get("MetadataOptions") or {}
    placement = instance.get("Placement") or {}
    return {
        "instance_id": instance.get("InstanceId"),
        "state": (instance.get("State") or {}).get("Name"),
        "instance_type": instance.get("InstanceType"),
        "image_id": instance.get("ImageId"),
        "launch_time": launch_time,
        "availability_zone": placement.get("AvailabilityZone"),
        "subnet_id": instance.get("SubnetId"),
        "vpc_id": instance.get("VpcId"),
        "key_name": instance.get("KeyName"),
        "private_ip_address": instance.get("PrivateIpAddress"),
        "public_ip_address": instance.get("PublicIpAddress"),
        "private_dns_name": instance.get("PrivateDnsName") or None,
        "public_dns_name": instance.get("PublicDnsName") or None,
        "security_group_ids": [group.get("GroupId") for group in instance.get("SecurityGroups") or []],
        "enclave_enabled": enclave.get("Enabled") if isinstance(enclave, dict) else None,
        "metadata_http_tokens": metadata.get("HttpTokens"),
        "iam_instance_profile_arn": (instance.get("IamInstanceProfile") or {}).get("Arn"),
        "tags": tags_to_dict(instance.get("Tags")),
    }
