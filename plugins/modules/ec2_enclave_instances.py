#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_enclave_instances
short_description: Keep an exact number of EC2 instances with Nitro Enclaves enabled running
version_added: 0.1.0
description:
  - Keeps exactly O(count) EC2 instances running whose tags include every tag in O(tags), the way an oracle provider
    needs a fleet of Nitro Enclaves parent instances. It launches the missing ones, starts stopped ones and terminates
    the surplus, oldest first (by launch time, then instance ID).
  - Every instance it launches is marked with the tag C(opencontracts:managed-by=opencontracts.enclave), and only
    marked instances are members of the fleet. An instance that carries O(tags) without the mark (launched by hand or
    by another tool) is never counted, started, terminated or returned; it is named in a warning and in
    RV(unmanaged).
  - Every instance it launches has Nitro Enclaves enabled (C(EnclaveOptions.Enabled=true)), requires IMDSv2
    (C(MetadataOptions.HttpTokens=required)) and an encrypted root volume (C(Encrypted=true) in the block device
    mapping of the image's root device, with O(volume_kms_key_id) or the account's default EBS key). Enclave support
    can only be chosen at launch, which is why this module exists (M(amazon.aws.ec2_instance) has no enclave option).
  - Before it launches anything it checks, with C(DescribeInstanceTypes), that O(instance_type) supports Nitro
    Enclaves and has the vCPUs and memory that the enclaves (O(enclave_cpu_count), O(enclave_memory_mib)) and the
    parent instance (O(parent_cpu_count), O(parent_memory_mib)) need, and fails with a message naming the shortfall
    otherwise. The check runs whenever O(count) is above zero, also in check mode.
  - Without O(image_id) it launches the newest available image named like O(image_name) owned by O(image_owners),
    by default the AWS Nitro Enclaves Developer AMI (Amazon Linux 2) from the AWS Marketplace.
  - Instances that belong to the fleet are the ones in state C(pending), C(running), C(stopping) or C(stopped);
    instances that are shutting down or terminated do not count.
  - Runs on the controller (or wherever the task is delegated) and talks to the EC2 API with boto3.
options:
  count:
    description:
      - How many instances must run. V(0) terminates every instance of the fleet.
    type: int
    required: true
  tags:
    description:
      - The tags that identify the fleet. An instance belongs to the fleet when it has every one of these tags with
        exactly this value; instances launched by the module get them.
      - Choose tags that no other instance has, because surplus members are terminated (only those with the mark
        C(opencontracts:managed-by=opencontracts.enclave), which the module sets at launch).
      - Keys must not start with C(aws:) and must not be C(opencontracts:managed-by).
    type: dict
    required: true
  extra_tags:
    description:
      - More tags for instances (and their volumes) launched by this run. They do not select the fleet, and existing
        instances are not re-tagged (use M(amazon.aws.ec2_tag) for that). The key C(opencontracts:managed-by) is
        refused.
    type: dict
    default: {}
  instance_type:
    description:
      - The instance type to launch. It must support Nitro Enclaves.
      - Existing members of another type are kept (with a warning); the module never replaces instances.
    type: str
    default: c5a.4xlarge
  image_id:
    description:
      - The AMI to launch. When set, O(image_name) and O(image_owners) are not used.
    type: str
  image_name:
    description:
      - Name pattern (C(*) and C(?) wildcards) of the AMI to look up when O(image_id) is not set. The newest available
        image whose architecture the instance type supports is launched.
      - The default matches the AWS Nitro Enclaves Developer AMI, an AWS Marketplace product that the account must
        subscribe to before it can launch it.
    type: str
    default: '*Nitro Enclaves Developer AMI*'
  image_owners:
    description:
      - Owners of the AMI looked up with O(image_name), as account IDs or the aliases C(amazon), C(aws-marketplace)
        and C(self).
    type: list
    elements: str
    default: [aws-marketplace]
  key_name:
    description:
      - Name of the EC2 key pair whose public key the launched instances accept for SSH.
    type: str
  subnet_id:
    description:
      - The subnet to launch into. Without it AWS picks a default subnet of the default VPC.
    type: str
  security_group_ids:
    description:
      - IDs of the security groups of launched instances. Without them AWS uses the VPC's default group.
    type: list
    elements: str
    default: []
  assign_public_ip:
    description:
      - Whether launched instances get a public IPv4 address. Unset means the subnet's default.
      - Requires O(subnet_id).
    type: bool
  volume_size:
    description:
      - Size of the root volume in GiB. Unset means the image's size. It must not be smaller than the image's.
    type: int
  volume_type:
    description:
      - EBS type of the root volume, used with O(volume_size).
    type: str
    default: gp3
    choices: [gp2, gp3, io1, io2, st1, sc1, standard]
  volume_kms_key_id:
    description:
      - The KMS key that encrypts the root volume of launched instances - a key ID, a key ARN, an alias
        (C(alias/NAME)) or an alias ARN; an ARN must be of the instances' region.
      - Unset means the account's default key for EBS encryption (the AWS managed key C(aws/ebs) unless the account
        chose another). The root volume is encrypted either way.
      - The credentials (and the EC2 service) need C(kms:CreateGrant), C(kms:Decrypt), C(kms:DescribeKey),
        C(kms:GenerateDataKeyWithoutPlaintext) and C(kms:ReEncrypt*) on a customer managed key.
      - Existing instances are not changed.
    type: str
  instance_profile:
    description:
      - The IAM instance profile of the fleet's instances, by name or ARN, for example one that may only read the
        bucket that enclave images are distributed through (role C(opencontracts.enclave.ec2_fleet) creates one).
      - Launched instances get it. Members without an instance profile get it associated
        (C(AssociateIamInstanceProfile)); members with another profile keep theirs and are named in a warning.
      - Unset means no instance profile, and existing associations are left alone.
    type: str
  enclave_memory_mib:
    description:
      - Memory (MiB) that the allocator will reserve for enclaves on each instance, as in C(allocator.yaml).
    type: int
    default: 512
  enclave_cpu_count:
    description:
      - vCPUs that the allocator will reserve for enclaves on each instance. Must be a multiple of the instance type's
        threads per core (2 on x86 types with hyper-threading).
    type: int
    default: 2
  parent_memory_mib:
    description:
      - Memory (MiB) that the parent instance keeps for itself (operating system, docker, the image build).
    type: int
    default: 2048
  parent_cpu_count:
    description:
      - vCPUs that the parent instance keeps for itself. AWS asks for at least 2 on types with hyper-threading.
    type: int
    default: 2
  wait:
    description:
      - Wait until launched and started instances run, and terminated ones are gone, before returning.
      - Without waiting, freshly launched instances may not have their addresses yet.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for instance state changes before failing.
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - opencontracts.enclave.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the fleet, checks the instance type and looks up the image, then reports what would be launched,
        started and terminated without doing it.
  diff_mode:
    support: full
    details: Shows the fleet's instance IDs and count before and after (instances to launch as placeholders).
  platform:
    details: Runs on the controller or any host with boto3 and network access to the EC2 API.
notes:
  - Launching uses one C(RunInstances) call with an idempotency token, so a retried request never launches twice, and
    C(MinCount) equal to C(MaxCount), so EC2 launches all missing instances or none.
  - Instances that AWS reports with Nitro Enclaves disabled are kept but reported in a warning, because enclave support
    cannot be turned on for an existing instance.
  - Instances launched before the mark existed (or by hand) are not members. To hand such an instance to the module,
    tag it C(opencontracts:managed-by=opencontracts.enclave) yourself (for example with M(amazon.aws.ec2_tag));
    the module never adopts an instance on its own.
  - AWS errors end the task with the API's error code and message (and a hint for common causes such as a missing
    Marketplace subscription or vCPU quota), never with a traceback.
  - Required IAM permissions are C(ec2:DescribeInstances), C(ec2:DescribeInstanceTypes), C(ec2:DescribeImages),
    C(ec2:RunInstances), C(ec2:CreateTags), C(ec2:StartInstances) and C(ec2:TerminateInstances), and the KMS
    permissions of O(volume_kms_key_id) when it names a customer managed key. With O(instance_profile) also
    C(ec2:AssociateIamInstanceProfile) and C(iam:PassRole) on the profile's role.
  - A just created instance profile takes a few seconds to become usable in EC2; a launch that EC2 refuses because
    it does not know O(instance_profile) yet is repeated (with the same idempotency token) until O(wait_timeout).
  - The image must be EBS-backed (have a root device name), because the root volume's encryption is set in its block
    device mapping.
seealso:
  - module: amazon.aws.ec2_instance
  - module: amazon.aws.ec2_security_group
  - name: Nitro Enclaves requirements
    description: Instance types and operating systems that support Nitro Enclaves.
    link: https://docs.aws.amazon.com/enclaves/latest/user/nitro-enclave.html#nitro-enclave-reqs
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Keep three oracle hosts running (c5a.4xlarge, Nitro Enclaves Developer AMI)
  opencontracts.enclave.ec2_enclave_instances:
    region: eu-central-1
    count: 3
    tags:
      opencontracts:fleet: oracles-eu
    key_name: provider-admin
    security_group_ids: [sg-0123456789abcdef0]
    enclave_memory_mib: 11000
    enclave_cpu_count: 2
    volume_size: 40
    volume_kms_key_id: arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  register: fleet

- name: Show the hosts
  ansible.builtin.debug:
    msg: "{{ fleet.instances | map(attribute='public_ip_address') | list }}"

- name: One region-wide configuration for amazon.aws and this collection
  module_defaults:
    group/opencontracts.enclave.aws:
      region: eu-central-1
      profile: oracle-provider
  block:
    - name: Scale the fleet to five hosts in a chosen subnet, with public addresses
      opencontracts.enclave.ec2_enclave_instances:
        count: 5
        tags:
          opencontracts:fleet: oracles-eu
        extra_tags:
          Name: oracle
        subnet_id: subnet-0123456789abcdef0
        assign_public_ip: true
        security_group_ids: [sg-0123456789abcdef0]
        key_name: provider-admin

- name: Launch a fixed image instead of looking up the Developer AMI
  opencontracts.enclave.ec2_enclave_instances:
    count: 2
    tags:
      opencontracts:fleet: staging
    image_id: ami-0123456789abcdef0
    instance_type: m5.2xlarge

- name: Show what scaling down to one host would terminate, without doing it
  opencontracts.enclave.ec2_enclave_instances:
    count: 1
    tags:
      opencontracts:fleet: oracles-eu
  check_mode: true
  register: preview

- name: Terminate the whole fleet
  opencontracts.enclave.ec2_enclave_instances:
    count: 0
    tags:
      opencontracts:fleet: oracles-eu
"""

RETURN = r"""
instances:
  description:
    - The fleet after the change, oldest first. In check mode, the instances that would be kept (instances that would be
      launched are only counted in RV(launch_count)).
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: Instance ID.
      type: str
      sample: i-0123456789abcdef0
    state:
      description: Instance state (C(running) once waited for).
      type: str
      sample: running
    instance_type:
      description: Instance type.
      type: str
      sample: c5a.4xlarge
    image_id:
      description: AMI the instance was launched from.
      type: str
      sample: ami-0123456789abcdef0
    launch_time:
      description: When the instance was last launched (ISO 8601).
      type: str
      sample: "2024-05-01T12:00:00+00:00"
    availability_zone:
      description: Availability zone.
      type: str
      sample: eu-central-1a
    subnet_id:
      description: Subnet ID.
      type: str
    vpc_id:
      description: VPC ID.
      type: str
    key_name:
      description: Key pair name, if any.
      type: str
    private_ip_address:
      description: Private IPv4 address.
      type: str
      sample: 172.31.3.4
    public_ip_address:
      description: Public IPv4 address, null when the instance has none.
      type: str
      sample: 203.0.113.10
    private_dns_name:
      description: Private DNS name.
      type: str
    public_dns_name:
      description: Public DNS name, null when the instance has none.
      type: str
    security_group_ids:
      description: IDs of the instance's security groups.
      type: list
      elements: str
    enclave_enabled:
      description: Whether Nitro Enclaves are enabled, as EC2 reports it; null when the API does not report it.
      type: bool
      sample: true
    metadata_http_tokens:
      description: C(required) when the instance accepts only IMDSv2.
      type: str
      sample: required
    iam_instance_profile_arn:
      description: ARN of the instance's IAM instance profile, null when it has none.
      type: str
      sample: arn:aws:iam::111122223333:instance-profile/oracles-eu-eif-reader
    tags:
      description: The instance's tags.
      type: dict
      sample: {"opencontracts:fleet": "oracles-eu"}
  sample:
    - instance_id: i-0123456789abcdef0
      state: running
      instance_type: c5a.4xlarge
      public_ip_address: 203.0.113.10
      private_ip_address: 172.31.3.4
      tags: {"opencontracts:fleet": "oracles-eu"}
unmanaged:
  description:
    - IDs of the instances that carry O(tags) but not the mark C(opencontracts:managed-by=opencontracts.enclave),
      oldest first. They were left alone (not counted, started or terminated) and are named in a warning.
  returned: always
  type: list
  elements: str
  sample: [i-0aaaabbbbccccdddd]
launched:
  description: IDs of the instances launched by this run (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
launch_count:
  description: How many instances were (or, in check mode, would be) launched.
  returned: always
  type: int
  sample: 1
associated:
  description: IDs of members without an instance profile that got (or would get) O(instance_profile), and of
    instances launched in this run that came up without it.
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
started:
  description: IDs of stopped members that were (or would be) started.
  returned: always
  type: list
  elements: str
  sample: []
terminated:
  description: IDs of the instances that were (or would be) terminated, oldest first.
  returned: always
  type: list
  elements: str
  sample: [i-0fedcba9876543210]
image_id:
  description: The AMI that launched instances (or would launch them); null when nothing is launched.
  returned: always
  type: str
  sample: ami-0123456789abcdef0
instance_type_info:
  description: What DescribeInstanceTypes reports about O(instance_type); returned when O(count) is above zero.
  returned: when count is above zero
  type: dict
  contains:
    instance_type:
      description: The type.
      type: str
    nitro_enclaves_support:
      description: C(supported) or C(unsupported).
      type: str
    vcpus:
      description: Default number of vCPUs.
      type: int
    threads_per_core:
      description: Default threads per core.
      type: int
    memory_mib:
      description: Memory in MiB.
      type: int
    architectures:
      description: Supported processor architectures.
      type: list
      elements: str
  sample:
    instance_type: c5a.4xlarge
    nitro_enclaves_support: supported
    vcpus: 16
    threads_per_core: 2
    memory_mib: 32768
    architectures: [x86_64]
"""

import time
import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.opencontracts.enclave.plugins.module_utils import ec2_enclave
from ansible_collections.opencontracts.enclave.plugins.module_utils.ec2_enclave import FleetError

POLL_SECONDS = 5


def _clock():
    return time.monotonic()


def _pause(seconds):
    time.sleep(seconds)


# Hints for AWS error codes an operator meets when launching enclave hosts.
HINTS = {
    "OptInRequired": "the account must subscribe to the image's AWS Marketplace product first (for the Nitro Enclaves "
                     "Developer AMI: open its Marketplace page and choose Continue to Subscribe)",
    "VcpuLimitExceeded": "the account's vCPU quota for this instance family is too low; request a quota increase "
                         "(Service Quotas, 'Running On-Demand Standard instances') or lower count",
    "InsufficientInstanceCapacity": "AWS has no capacity for this type in this availability zone right now; "
                                    "try again later or another subnet",
    "InvalidKeyPair.NotFound": "the key pair does not exist in this region; import it first",
    "UnauthorizedOperation": "the credentials lack an EC2 permission this module needs (see the module's notes)",
    "AuthFailure": "the AWS credentials were not accepted",
}


class Fleet:
    def __init__(self, module):
        self.module = module
        params = module.params
        self.check_mode = module.check_mode
        self.count = params["count"]
        self.result = {
            "changed": False,
            "instances": [],
            "launched": [],
            "launch_count": 0,
            "started": [],
            "associated": [],
            "terminated": [],
            "unmanaged": [],
            "image_id": None,
        }
        self.client = None

    # -- errors -------------------------------------------------------------------------------------------

    def fail(self, msg, **extra):
        result = dict(self.result)
        result.update(extra)
        self.module.fail_json(msg=msg, **result)

    def call(self, what, method, **kwargs):
        """Call an EC2 API operation with retries; end the task with a clear message when it fails."""
        try:
            return getattr(self.client, method)(aws_retry=True, **kwargs)
        except botocore.exceptions.ClientError as error:
            self.fail_client_error(what, error)
        except botocore.exceptions.BotoCoreError as error:
            self.fail("%s failed: %s" % (what, error))

    def fail_client_error(self, what, error):
        details = error.response.get("Error", {}) if hasattr(error, "response") else {}
        code = details.get("Code", "Unknown")
        message = details.get("Message", str(error))
        hint = HINTS.get(code)
        self.fail("%s failed: %s (%s)%s" % (what, message, code, "; " + hint if hint else ""), error_code=code)

    # -- reads ------------------------------------------------------------------------------------------

    def describe(self, what, filters=None, instance_ids=None):
        kwargs = {}
        if filters:
            kwargs["Filters"] = filters
        if instance_ids:
            kwargs["InstanceIds"] = list(instance_ids)
        instances = []
        token = None
        for _page in range(1000):
            if token:
                kwargs["NextToken"] = token
            response = self.call(what, "describe_instances", **kwargs)
            for reservation in response.get("Reservations", []):
                instances.extend(reservation.get("Instances", []))
            token = response.get("NextToken")
            if not token:
                break
        return instances

    def members(self, tags):
        """The fleet: instances with ``tags`` and the collection's mark; the others are only remembered."""
        found = self.describe("DescribeInstances (finding the fleet)", filters=ec2_enclave.tag_filters(tags))
        managed, unmanaged = ec2_enclave.split_managed(found)
        self.result["unmanaged"] = [i["InstanceId"] for i in ec2_enclave.oldest_first(unmanaged)]
        return managed

    def instance_type_info(self, instance_type):
        response = self.call("DescribeInstanceTypes for %s" % instance_type, "describe_instance_types",
                             InstanceTypes=[instance_type])
        types = response.get("InstanceTypes", [])
        if not types:
            self.fail("instance type %s is not offered in region %s" % (instance_type, self.module.region))
        return types[0]

    def image(self, architectures):
        params = self.module.params
        if params["image_id"]:
            images = self.call("DescribeImages for %s" % params["image_id"], "describe_images",
                               ImageIds=[params["image_id"]]).get("Images", [])
            if not images:
                self.fail("image %s does not exist in region %s" % (params["image_id"], self.module.region))
            image = images[0]
            if image.get("Architecture") and architectures and image["Architecture"] not in architectures:
                self.fail("image %s is built for %s, but %s runs %s" % (
                    image["ImageId"], image["Architecture"], params["instance_type"], ", ".join(architectures)))
            return image
        images = self.call("DescribeImages (looking up %r)" % params["image_name"], "describe_images",
                           Owners=params["image_owners"],
                           Filters=[{"Name": "name", "Values": [params["image_name"]]},
                                    {"Name": "state", "Values": ["available"]}]).get("Images", [])
        image = ec2_enclave.choose_image(images, architectures)
        if image is None:
            wanted = (params["image_name"], ", ".join(params["image_owners"]),
                      "/".join(architectures) or "any architecture", self.module.region)
            self.fail("no available image named like %r owned by %s for %s in region %s; set image_id, or "
                      "image_name and image_owners (the Nitro Enclaves Developer AMI is an AWS Marketplace "
                      "product: subscribe to it first)" % wanted)
        return image

    # -- waits ------------------------------------------------------------------------------------------

    def wait_for(self, instance_ids, target, doing):
        """Poll until every instance is in state ``target``; fail on a dead end or after wait_timeout seconds."""
        deadline = _clock() + self.module.params["wait_timeout"]
        dead_ends = {"running": ("shutting-down", "terminated", "stopping", "stopped"),
                     "stopped": ("shutting-down", "terminated"),
                     "terminated": ()}[target]
        states = {}
        while True:
            try:
                found = self.client.describe_instances(aws_retry=True, InstanceIds=list(instance_ids))
                states = dict((i["InstanceId"], i["State"]["Name"])
                              for r in found.get("Reservations", []) for i in r.get("Instances", []))
            except botocore.exceptions.ClientError as error:
                # Just launched instances may not be visible yet (EC2 is eventually consistent).
                if error.response.get("Error", {}).get("Code") != "InvalidInstanceID.NotFound":
                    self.fail_client_error("DescribeInstances (waiting for %s)" % doing, error)
            except botocore.exceptions.BotoCoreError as error:
                self.fail("DescribeInstances (waiting for %s) failed: %s" % (doing, error))
            if len(states) == len(instance_ids) and all(state == target for state in states.values()):
                return
            stuck = dict((i, s) for i, s in states.items() if s in dead_ends)
            if stuck:
                self.fail("while waiting for %s, instances went to another state: %s"
                          % (doing, ", ".join("%s %s" % item for item in sorted(stuck.items()))))
            if _clock() >= deadline:
                self.fail("timed out after %d seconds waiting for %s (states: %s)" % (
                    self.module.params["wait_timeout"], doing,
                    ", ".join("%s %s" % (i, states.get(i, "not visible yet")) for i in instance_ids)))
            _pause(POLL_SECONDS)

    # -- the run ------------------------------------------------------------------------------------------

    def run(self):
        params = self.module.params
        try:
            tags = ec2_enclave.normalize_tags(params["tags"], "tags")
            extra_tags = ec2_enclave.normalize_tags(params["extra_tags"], "extra_tags")
            self.validate_numbers()
        except FleetError as error:
            self.fail(str(error))
        if not tags:
            self.fail("tags must name at least one tag: they select the instances of the fleet")
        if params["assign_public_ip"] is not None and not params["subnet_id"]:
            self.fail("assign_public_ip needs subnet_id (EC2 sets public addressing per network interface and subnet)")

        self.client = self.module.client("ec2", retry_decorator=AWSRetry.jittered_backoff(retries=10))

        type_facts = None
        if self.count > 0:
            try:
                type_facts = ec2_enclave.check_instance_type(
                    self.instance_type_info(params["instance_type"]),
                    params["enclave_memory_mib"], params["enclave_cpu_count"],
                    params["parent_memory_mib"], params["parent_cpu_count"])
            except FleetError as error:
                self.fail(str(error))
            self.result["instance_type_info"] = type_facts

        members = self.members(tags)
        decision = ec2_enclave.plan(members, self.count)
        self.warn_about(decision["keep"])
        if self.result["unmanaged"]:
            self.module.warn("instances %s carry the fleet's tags %s but not the mark %s=%s, so they were not launched "
                             "by this collection: they are left alone (not counted, started or terminated). Terminate "
                             "them yourself, or tag them with the mark to make them members of the fleet"
                             % (", ".join(self.result["unmanaged"]),
                                ", ".join("%s=%s" % item for item in sorted(tags.items())),
                                ec2_enclave.MANAGED_TAG_KEY, ec2_enclave.MANAGED_TAG_VALUE))

        image = None
        if decision["launch"]:
            image = self.image(type_facts["architectures"])
            self.result["image_id"] = image["ImageId"]

        before_ids = [i["InstanceId"] for i in ec2_enclave.oldest_first(members)]
        terminate_ids = [i["InstanceId"] for i in decision["terminate"]]
        start_ids = [i["InstanceId"] for i in decision["start"]]
        self.result["terminated"] = terminate_ids
        self.result["started"] = start_ids
        self.result["launch_count"] = decision["launch"]
        associate_ids = self.without_profile(decision["keep"])
        self.result["associated"] = associate_ids
        self.result["changed"] = bool(terminate_ids or start_ids or decision["launch"] or associate_ids)

        if self.check_mode or not self.result["changed"]:
            self.result["instances"] = [ec2_enclave.describe_instance(i) for i in decision["keep"]]
            self.finish(before_ids, [i["InstanceId"] for i in decision["keep"]], decision["launch"])

        if terminate_ids:
            self.call("TerminateInstances", "terminate_instances", InstanceIds=terminate_ids)
            if params["wait"]:
                self.wait_for(terminate_ids, "terminated", "the termination of %s" % ", ".join(terminate_ids))
        if start_ids:
            stopping = [i["InstanceId"] for i in decision["start"] if i["State"]["Name"] == "stopping"]
            if stopping:
                self.wait_for(stopping, "stopped", "%s to stop before starting again" % ", ".join(stopping))
            self.call("StartInstances", "start_instances", InstanceIds=start_ids)
        for instance_id in associate_ids:
            self.call("AssociateIamInstanceProfile for %s" % instance_id, "associate_iam_instance_profile",
                      InstanceId=instance_id, IamInstanceProfile=ec2_enclave.instance_profile_spec(params["instance_profile"]))
        if decision["launch"]:
            self.result["launched"] = self.launch(decision["launch"], image, tags, extra_tags)
        waiting = start_ids + self.result["launched"]
        if waiting and params["wait"]:
            self.wait_for(waiting, "running", "%d instance(s) to run" % len(waiting))

        fleet = ec2_enclave.oldest_first(self.members(tags))
        # A launch of several instances can leave some without the profile (moto associates it with the first
        # one only): associate it now rather than on the next run, which would then report a change.
        late_ids = self.without_profile(fleet) if decision["launch"] else []
        for instance_id in late_ids:
            self.call("AssociateIamInstanceProfile for %s" % instance_id, "associate_iam_instance_profile",
                      InstanceId=instance_id, IamInstanceProfile=ec2_enclave.instance_profile_spec(params["instance_profile"]))
        if late_ids:
            self.result["associated"] = associate_ids + late_ids
            fleet = ec2_enclave.oldest_first(self.members(tags))
        self.result["instances"] = [ec2_enclave.describe_instance(i) for i in fleet]
        self.finish(before_ids, [i["InstanceId"] for i in fleet], 0)

    def without_profile(self, keep):
        """The kept members that get instance_profile: those without any; those with another are named in a warning."""
        profile = self.module.params["instance_profile"]
        if not profile:
            return []
        missing = [i["InstanceId"] for i in ec2_enclave.oldest_first(keep) if not i.get("IamInstanceProfile")]
        other = sorted(i["InstanceId"] for i in keep
                       if i.get("IamInstanceProfile") and not ec2_enclave.has_instance_profile(i, profile))
        if other:
            self.module.warn("instances %s have another IAM instance profile than %s; they keep it (replace the "
                             "association yourself, or terminate them to get replacements)" % (", ".join(other), profile))
        return missing

    def validate_numbers(self):
        params = self.module.params
        minimums = (("count", 0), ("enclave_memory_mib", 64), ("enclave_cpu_count", 1), ("parent_memory_mib", 0),
                    ("parent_cpu_count", 1), ("wait_timeout", 1))
        for name, minimum in minimums:
            if params[name] < minimum:
                raise FleetError("%s must be at least %d, got %d" % (name, minimum, params[name]))
        if params["volume_size"] is not None and params["volume_size"] < 1:
            raise FleetError("volume_size must be at least 1 (GiB), got %d" % params["volume_size"])
        if params["volume_kms_key_id"] is not None:
            error = ec2_enclave.kms_key_error(params["volume_kms_key_id"], self.module.region)
            if error:
                raise FleetError("volume_kms_key_id: %s" % error)
        if params["instance_profile"] is not None:
            error = ec2_enclave.instance_profile_error(params["instance_profile"])
            if error:
                raise FleetError("instance_profile: %s" % error)

    def warn_about(self, keep):
        params = self.module.params
        other_type = sorted(i["InstanceId"] for i in keep if i.get("InstanceType") != params["instance_type"])
        if other_type and self.count > 0:
            self.module.warn("instances %s are not of type %s; they are kept (terminate them to replace them)"
                             % (", ".join(other_type), params["instance_type"]))
        disabled = sorted(i["InstanceId"] for i in keep
                          if isinstance(i.get("EnclaveOptions"), dict) and i["EnclaveOptions"].get("Enabled") is False)
        if disabled:
            self.module.warn("instances %s have Nitro Enclaves disabled, which cannot be changed on an existing "
                             "instance; terminate them and run again to get enclave-enabled replacements"
                             % ", ".join(disabled))

    def launch(self, how_many, image, tags, extra_tags):
        params = self.module.params
        request = {
            "ImageId": image["ImageId"],
            "InstanceType": params["instance_type"],
            "MinCount": how_many,
            "MaxCount": how_many,
            "ClientToken": "opencontracts-%s" % uuid.uuid4().hex,
            "EnclaveOptions": {"Enabled": True},
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "TagSpecifications": ec2_enclave.tag_specifications(
                dict(extra_tags, **dict(tags, **{ec2_enclave.MANAGED_TAG_KEY: ec2_enclave.MANAGED_TAG_VALUE}))),
        }
        if params["key_name"]:
            request["KeyName"] = params["key_name"]
        if params["instance_profile"]:
            request["IamInstanceProfile"] = ec2_enclave.instance_profile_spec(params["instance_profile"])
        if params["assign_public_ip"] is not None:
            interface = {"DeviceIndex": 0, "SubnetId": params["subnet_id"],
                         "AssociatePublicIpAddress": params["assign_public_ip"], "DeleteOnTermination": True}
            if params["security_group_ids"]:
                interface["Groups"] = params["security_group_ids"]
            request["NetworkInterfaces"] = [interface]
        else:
            if params["subnet_id"]:
                request["SubnetId"] = params["subnet_id"]
            if params["security_group_ids"]:
                request["SecurityGroupIds"] = params["security_group_ids"]
        try:
            request["BlockDeviceMappings"] = ec2_enclave.root_block_device(
                image, params["volume_size"], params["volume_type"], params["volume_kms_key_id"])
        except FleetError as error:
            self.fail(str(error))
        response = self.run_instances("RunInstances (%d x %s)" % (how_many, params["instance_type"]), request)
        self.result["changed"] = True
        return [i["InstanceId"] for i in response.get("Instances", [])]

    def run_instances(self, what, request):
        """RunInstances; repeated while EC2 does not know a just created instance profile yet (IAM is eventually
        consistent), with the same ClientToken so that no attempt launches twice."""
        deadline = _clock() + self.module.params["wait_timeout"]
        while True:
            try:
                return self.client.run_instances(aws_retry=True, **request)
            except botocore.exceptions.ClientError as error:
                details = error.response.get("Error", {})
                unknown_profile = (details.get("Code") == "InvalidParameterValue"
                                   and "iaminstanceprofile" in details.get("Message", "").lower())
                if not (unknown_profile and "IamInstanceProfile" in request and _clock() < deadline):
                    self.fail_client_error(what, error)
            except botocore.exceptions.BotoCoreError as error:
                self.fail("%s failed: %s" % (what, error))
            _pause(POLL_SECONDS)

    def finish(self, before_ids, after_ids, placeholders):
        if self.module._diff:
            after = list(after_ids) + ["(new instance %d)" % (n + 1) for n in range(placeholders)]
            self.result["diff"] = {
                "before": {"count": len(before_ids), "instances": before_ids},
                "after": {"count": len(after), "instances": after},
            }
        self.module.exit_json(**self.result)


def main():
    argument_spec = dict(
        count=dict(type="int", required=True),
        tags=dict(type="dict", required=True),
        extra_tags=dict(type="dict", default={}),
        instance_type=dict(type="str", default="c5a.4xlarge"),
        image_id=dict(type="str"),
        image_name=dict(type="str", default="*Nitro Enclaves Developer AMI*"),
        image_owners=dict(type="list", elements="str", default=["aws-marketplace"]),
        key_name=dict(type="str", no_log=False),
        subnet_id=dict(type="str"),
        security_group_ids=dict(type="list", elements="str", default=[]),
        assign_public_ip=dict(type="bool"),
        volume_size=dict(type="int"),
        volume_type=dict(type="str", default="gp3", choices=["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]),
        volume_kms_key_id=dict(type="str", no_log=False),
        instance_profile=dict(type="str"),
        enclave_memory_mib=dict(type="int", default=512),
        enclave_cpu_count=dict(type="int", default=2),
        parent_memory_mib=dict(type="int", default=2048),
        parent_cpu_count=dict(type="int", default=2),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    Fleet(module).run()


if __name__ == "__main__":
    main()
