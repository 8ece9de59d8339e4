# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the ec2_fleet role: its preflight rules, its security group rules, its IAM policies, the tags and names
that tie resources to the fleet, and the teardown's report.

The rules live in ``plugins/plugin_utils/ec2_fleet.py``; each filter is documented in the YAML
file of its name beside this one. Each filter imports its code when it runs: to find one filter, Ansible
imports every filter file of the collection in each worker process it forks.
"""

from ansible.errors import AnsibleFilterError


def _ec2_fleet():
    """plugins/plugin_utils/ec2_fleet.py, imported on first use."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils import ec2_fleet
    return ec2_fleet


def ec2_fleet_input_errors(settings, teardown=False, check_mode=False):
    """Every bad ec2_fleet setting, one message each."""
    code = _ec2_fleet()
    if not isinstance(settings, dict):
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_input_errors: expects a dictionary of settings, got %r"
                                 % type(settings).__name__)
    return code.input_errors(settings, teardown=bool(teardown), check_mode=bool(check_mode))


def ec2_fleet_security_group_rules(service_cidrs, service_ports, admin_cidrs, ssh_port, egress_cidrs):
    """Ingress and egress rules for amazon.aws.ec2_security_group."""
    code = _ec2_fleet()
    try:
        return code.security_group_rules(service_cidrs, service_ports, admin_cidrs, ssh_port, egress_cidrs)
    except (code.CidrError, TypeError, ValueError) as error:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_security_group_rules: %s" % error) from None


def ec2_fleet_host_prices(instances, prices, default_price, tag=None):
    """The PRICE of every host of the fleet, by instance ID (its own price while it is still declared)."""
    code = _ec2_fleet()
    if not isinstance(instances, (list, tuple)) or not all(isinstance(i, dict) for i in instances):
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_host_prices: expects a list of instances (the "
                                 "module ec2_enclave_instances's result 'instances'), got %r" % (instances,))
    missing = [i for i in instances if not i.get("instance_id")]
    if missing:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_host_prices: every instance needs an instance_id; "
                                 "these have none: %r" % (missing,))
    if not isinstance(prices, (list, tuple)):
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_host_prices: prices must be a list, got %r" % (prices,))
    return code.host_prices(instances, prices, default_price, code.PRICE_TAG if tag is None else tag)


def ec2_fleet_distribution_policies(bucket, prefix, region, sse="AES256", kms_key_arn=""):
    """The trust policy and the read-only policy of the role that the fleet's instance profile carries."""
    code = _ec2_fleet()
    for name, value in (("bucket", bucket), ("prefix", prefix), ("region", region)):
        if not isinstance(value, str) or not value:
            raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_distribution_policies: %s must be a non-empty "
                                     "string, got %r" % (name, value))
    if sse not in code.SSE_CHOICES:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_distribution_policies: sse must be one of %s, got %r"
                                 % (", ".join(code.SSE_CHOICES), sse))
    if sse == "aws:kms" and not kms_key_arn:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_distribution_policies: sse aws:kms needs kms_key_arn")
    return code.distribution_policies(bucket, prefix, region, sse, kms_key_arn)


def ec2_fleet_owned(resources, fleet, tags_key="tags"):
    """The resources that carry the fleet's tag and the collection's mark."""
    code = _ec2_fleet()
    if not isinstance(resources, (list, tuple)) or not all(isinstance(r, dict) for r in resources):
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_owned: expects a list of dictionaries, got %r" % (resources,))
    if not isinstance(fleet, str) or not fleet:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_owned: fleet must be the fleet's name, got %r" % (fleet,))
    return code.owned(resources, fleet, tags_key)


def ec2_fleet_identity(name, tags=None, enclave_role="oracle"):
    """The tags, tag filter and inventory group that tie resources and hosts to the fleet ``name``."""
    code = _ec2_fleet()
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_identity: the fleet's name must be a non-empty string, "
                                 "got %r" % (name,))
    if tags is None:
        tags = {}
    if not isinstance(tags, dict):
        raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_identity: tags must be a dictionary, got %r" % (tags,))
    return code.fleet_identity(name, {str(key): str(value) for key, value in tags.items()}, str(enclave_role))


def ec2_fleet_vpc(vpc_id, subnet_id, region, subnet_info=None, default_vpc_info=None):
    """The fleet's VPC, and what was not found when there is none."""
    code = _ec2_fleet()
    for name, value in (("subnet_info", subnet_info), ("default_vpc_info", default_vpc_info)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_vpc: %s must be a registered task result, got %r"
                                     % (name, value))
    return code.fleet_vpc(str(vpc_id or ""), str(subnet_id or ""), str(region), subnet_info, default_vpc_info)


def ec2_fleet_teardown_report(terminated, roles_deleted=None, buckets_deleted=None, check_mode=False):
    """What the teardown terminated, left alone and deleted, as one sentence."""
    code = _ec2_fleet()
    for name, value in (("terminated", terminated), ("roles_deleted", roles_deleted), ("buckets_deleted", buckets_deleted)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError("opencontracts.enclave.ec2_fleet_teardown_report: %s must be a registered task "
                                     "result, got %r" % (name, value))
    return code.teardown_report(terminated, roles_deleted, buckets_deleted, bool(check_mode))


class FilterModule(object):
    """The ec2_fleet role's filters."""

    def filters(self):
        return {
            "ec2_fleet_distribution_policies": ec2_fleet_distribution_policies,
            "ec2_fleet_host_prices": ec2_fleet_host_prices,
            "ec2_fleet_identity": ec2_fleet_identity,
            "ec2_fleet_input_errors": ec2_fleet_input_errors,
            "ec2_fleet_owned": ec2_fleet_owned,
            "ec2_fleet_security_group_rules": ec2_fleet_security_group_rules,
            "ec2_fleet_teardown_report": ec2_fleet_teardown_report,
            "ec2_fleet_vpc": ec2_fleet_vpc,
        }
