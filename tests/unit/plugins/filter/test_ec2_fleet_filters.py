# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ec2_fleet role's filters: its preflight rules (ec2_fleet_input_errors), its security group rules and the
IAM policies of its instance profile."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import ec2_fleet as plugin

FILTERS = plugin.FilterModule().filters()
input_errors = FILTERS["ec2_fleet_input_errors"]
security_group_rules = FILTERS["ec2_fleet_security_group_rules"]
distribution_policies = FILTERS["ec2_fleet_distribution_policies"]

# A usable fleet, as the role's defaults and an operator's inventory give it.
GOOD = {
    "ec2_fleet_name": "opencontracts-oracles",
    "ec2_fleet_region": "eu-central-1",
    "ec2_fleet_count": 2,
    "ec2_fleet_security_group_name": "opencontracts-oracles",
    "ec2_fleet_group": "oracles",
    "ec2_fleet_service_ports": [8080, 8081, 14500],
    "ec2_fleet_ssh_port": 22,
    "ec2_fleet_admin_cidrs": ["198.51.100.7/32"],
    "ec2_fleet_admin_allow_anywhere": False,
    "ec2_fleet_service_cidrs": ["0.0.0.0/0", "::/0"],
    "ec2_fleet_egress_cidrs": ["0.0.0.0/0", "::/0"],
    "ec2_fleet_key_name": "operator",
    "ec2_fleet_instance_type": "c5a.4xlarge",
    "ec2_fleet_image_id": "",
    "ec2_fleet_image_owners": ["aws-marketplace"],
    "ec2_fleet_volume_size": 40,
    "ec2_fleet_volume_kms_key_id": "",
    "ec2_fleet_enclave_memory_mib": 11000,
    "ec2_fleet_enclave_cpu_count": 2,
    "ec2_fleet_parent_memory_mib": 2048,
    "ec2_fleet_parent_cpu_count": 2,
    "ec2_fleet_prices": ["2500000000000000000"],
    "ec2_fleet_price": "1000000000000000000",
    "ec2_fleet_distribution_bucket": "",
    "ec2_fleet_distribution_bucket_create": True,
    "ec2_fleet_distribution_prefix": "opencontracts/eif",
    "ec2_fleet_distribution_sse": "AES256",
    "ec2_fleet_distribution_kms_key_id": "",
    "ec2_fleet_instance_profile_create": False,
    "ec2_fleet_instance_profile_name": "opencontracts-oracles-eif-reader",
}


def errors_with(**changes):
    return input_errors(dict(GOOD, **changes))


def test_a_usable_fleet_has_no_errors():
    assert input_errors(GOOD) == []


# Every way of writing "the whole address family" opens SSH to everyone (the string compare missed them).
@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "1.2.3.4/0", "::/0", "::0/0", "2001:db8::1/0"])
def test_ssh_from_anywhere_is_refused_however_written(cidr):
    (message,) = errors_with(ec2_fleet_admin_cidrs=["198.51.100.7/32", cidr])
    assert message.startswith("ec2_fleet_admin_cidrs must not contain 0.0.0.0/0 or ::/0")
    assert repr(cidr) in message


def test_ssh_from_anywhere_when_the_operator_opts_in():
    assert errors_with(ec2_fleet_admin_cidrs=["0.0.0.0/0"], ec2_fleet_admin_allow_anywhere=True) == []


@pytest.mark.parametrize("cidr", ["0.0.0.0/00", "10.0.0.0/ 8", "10.0.0.0", "10.0.0.300/8", "example.com/8", "10.0.0.0/33"])
def test_a_value_that_is_not_a_cidr_block_is_named(cidr):
    (message,) = errors_with(ec2_fleet_service_cidrs=[cidr])
    assert message.startswith("ec2_fleet_service_cidrs takes CIDR blocks")
    assert repr(cidr) in message


def test_unset_admin_cidrs_say_so():
    (message,) = errors_with(ec2_fleet_admin_cidrs=None)
    assert message.startswith("Set ec2_fleet_admin_cidrs")
    assert message.endswith("It is not set.")


def test_every_bad_value_gets_its_own_message():
    errors = errors_with(ec2_fleet_name="bad name", ec2_fleet_region="moon", ec2_fleet_ssh_port=0,
                         ec2_fleet_volume_size=0, ec2_fleet_prices=["2.5 OPN"], ec2_fleet_price="")
    assert [e.split(" ")[0] for e in errors] == [
        "ec2_fleet_name", "ec2_fleet_region", "ec2_fleet_service_ports", "ec2_fleet_volume_size",
        "ec2_fleet_prices", "ec2_fleet_prices"]
    assert "'bad name'" in errors[0] and "'moon'" in errors[1] and "[0]" in errors[2]
    assert "gives 1 price(s) for 2 host(s)" in errors[5]


KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("key", ["", None, KEY_ARN, "1234abcd-12ab-34cd-56ef-1234567890ab", "alias/oracle-volumes"])
def test_a_usable_kms_key_or_none_passes(key):
    assert errors_with(ec2_fleet_volume_kms_key_id=key) == []


@pytest.mark.parametrize("key, words", [
    ("oracle-volumes", "is not a KMS key"),
    (KEY_ARN + "\n", "is not a KMS key"),
    ("arn:aws:kms:eu-central-1:111122223333:key/oracle", "is not a KMS key"),
    (KEY_ARN.replace("eu-central-1", "us-east-1"), "not in region eu-central-1"),
    (["alias/a"], "is not a KMS key"),
])
def test_a_bad_kms_key_is_named_before_anything_happens(key, words):
    (message,) = errors_with(ec2_fleet_volume_kms_key_id=key)
    assert message.startswith("ec2_fleet_volume_kms_key_id")
    assert words in message


def test_launch_settings_only_matter_when_instances_are_wanted():
    assert errors_with(ec2_fleet_count=0, ec2_fleet_key_name=None, ec2_fleet_instance_type="") == []
    assert errors_with(ec2_fleet_key_name=None) == [
        "ec2_fleet_key_name must name the EC2 key pair for SSH (set ec2_fleet_key_public_key too to import it)"]


def test_teardown_checks_name_region_and_the_confirmation():
    confirmed = {"ec2_fleet_name": "fleet", "ec2_fleet_region": "us-east-1", "ec2_fleet_confirm_teardown": "fleet"}
    assert input_errors(confirmed, teardown=True) == []
    assert len(input_errors({"ec2_fleet_name": "", "ec2_fleet_region": "us-east-1\n",
                             "ec2_fleet_confirm_teardown": ""}, teardown=True)) == 2


@pytest.mark.parametrize("confirmation", [None, "", "yes", True, "fleet ", "FLEET", "other-fleet"])
def test_teardown_without_the_fleets_name_as_confirmation_is_refused(confirmation):
    settings = {"ec2_fleet_name": "fleet", "ec2_fleet_region": "us-east-1", "ec2_fleet_confirm_teardown": confirmation}
    (message,) = input_errors(settings, teardown=True)
    assert "ec2_fleet_confirm_teardown=fleet" in message
    assert "--check" in message


def test_teardown_in_check_mode_needs_no_confirmation():
    settings = {"ec2_fleet_name": "fleet", "ec2_fleet_region": "us-east-1", "ec2_fleet_confirm_teardown": None}
    assert input_errors(settings, teardown=True, check_mode=True) == []


def test_the_confirmation_is_not_asked_for_outside_the_teardown():
    assert errors_with(ec2_fleet_confirm_teardown=None) == []


def test_names_are_matched_to_their_end():
    # A trailing newline passes a `$` anchor; it is not part of a valid name.
    assert len(errors_with(ec2_fleet_group="oracles\n")) == 1


def test_input_errors_expects_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="expects a dictionary"):
        input_errors(["ec2_fleet_name"])


def test_security_group_rules_split_families_and_normalise():
    rules = security_group_rules(["0.0.0.0/0", "::/0"], [8080, "8081"], ["198.51.100.7/24", "2001:db8::5/64"], 22,
                                 ["0.0.0.0/0"])
    assert rules["ingress"] == [
        {"proto": "tcp", "ports": [8080, 8081], "cidr_ip": ["0.0.0.0/0"],
         "rule_desc": "Open Contracts enclave: WebSocket 8080, TLS proxy 8081, xpra 14500"},
        {"proto": "tcp", "ports": [8080, 8081], "cidr_ipv6": ["::/0"],
         "rule_desc": "Open Contracts enclave: WebSocket 8080, TLS proxy 8081, xpra 14500"},
        {"proto": "tcp", "ports": [22], "cidr_ip": ["198.51.100.0/24"], "rule_desc": "SSH from the operator"},
        {"proto": "tcp", "ports": [22], "cidr_ipv6": ["2001:db8::/64"], "rule_desc": "SSH from the operator"},
    ]
    assert rules["egress"] == [{"proto": "all", "cidr_ip": ["0.0.0.0/0"]}]


def test_security_group_rules_refuse_a_bad_block():
    with pytest.raises(AnsibleFilterError, match="'nope' has no prefix"):
        security_group_rules(["nope"], [8080], ["198.51.100.7/32"], 22, [])


# --------------------------------------------------------------------------
# ec2_fleet_host_prices: a host's PRICE follows the host, never its position
# --------------------------------------------------------------------------

host_prices = FILTERS["ec2_fleet_host_prices"]
ONE = "1000000000000000000"
TWO = "2000000000000000000"
THREE = "3000000000000000000"
HALF = "500000000000000000"


def host(instance_id, price=None):
    """A fleet member as the module ec2_enclave_instances returns it (only the fields the filter reads)."""
    tags = {"opencontracts:fleet": "unit"}
    if price is not None:
        tags["opencontracts:price"] = price
    return {"instance_id": instance_id, "tags": tags}


def test_a_new_fleet_takes_the_listed_prices_in_order_then_the_default():
    fleet = [host("i-a"), host("i-b"), host("i-c")]
    assert host_prices(fleet, [ONE, TWO], HALF) == {"i-a": ONE, "i-b": TWO, "i-c": HALF}


def test_scaling_down_keeps_every_survivors_price():
    # 3 hosts priced ONE, TWO, HALF; the oldest (ONE) is terminated. By position the survivors would
    # become ONE and TWO and their oracles would restart at another host's price.
    survivors = [host("i-b", TWO), host("i-c", HALF)]
    assert host_prices(survivors, [ONE, TWO], HALF) == {"i-b": TWO, "i-c": HALF}


def test_scaling_up_gives_new_hosts_the_prices_not_yet_taken():
    fleet = [host("i-b", TWO), host("i-c", HALF), host("i-d"), host("i-e")]
    assert host_prices(fleet, [ONE, TWO], HALF) == {"i-b": TWO, "i-c": HALF, "i-d": ONE, "i-e": HALF}


def test_a_repeated_price_is_one_slot_per_entry_claimed_oldest_first():
    # Two hosts carry ONE but the list has it once: the older keeps it, the younger takes a free slot.
    fleet = [host("i-a", ONE), host("i-b", ONE), host("i-c")]
    assert host_prices(fleet, [ONE, ONE, TWO], HALF) == {"i-a": ONE, "i-b": ONE, "i-c": TWO}
    assert host_prices(fleet, [ONE, TWO, THREE], "") == {"i-a": ONE, "i-b": TWO, "i-c": THREE}


def test_a_price_no_longer_declared_is_replaced_by_a_free_one():
    # Re-pricing: the operator replaced TWO by THREE in the list; only the host that had TWO changes.
    fleet = [host("i-a", ONE), host("i-b", TWO), host("i-c", HALF)]
    assert host_prices(fleet, [ONE, THREE], HALF) == {"i-a": ONE, "i-b": THREE, "i-c": HALF}
    # A changed default price reaches the hosts that had the old default once the list is taken.
    assert host_prices(fleet, [ONE, TWO], THREE) == {"i-a": ONE, "i-b": TWO, "i-c": THREE}


def test_a_tag_edited_by_hand_to_an_undeclared_price_is_set_back():
    fleet = [host("i-a", "7"), host("i-b", TWO)]
    assert host_prices(fleet, [ONE, TWO], "") == {"i-a": ONE, "i-b": TWO}


def test_the_order_of_the_input_decides_who_claims_first():
    fleet = [host("i-b", ONE), host("i-a", ONE)]
    assert host_prices(fleet, [ONE], TWO) == {"i-b": ONE, "i-a": TWO}


def test_host_prices_refuses_what_is_not_a_list_of_instances():
    with pytest.raises(AnsibleFilterError, match="a list of instances"):
        host_prices({"i-a": ONE}, [ONE], "")
    with pytest.raises(AnsibleFilterError, match="instance_id"):
        host_prices([{"tags": {}}], [ONE], "")


# --------------------------------------------------------------------------
# The distribution bucket and the instance profile that may only read it
# --------------------------------------------------------------------------

KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DISTRIBUTION = {"ec2_fleet_distribution_bucket": "oracles-eif.example", "ec2_fleet_instance_profile_create": True}


def test_a_bucket_with_a_read_only_profile_is_usable():
    assert errors_with(**DISTRIBUTION) == []
    assert errors_with(ec2_fleet_distribution_bucket="oracles-eif", ec2_fleet_distribution_sse="aws:kms",
                       ec2_fleet_distribution_kms_key_id=KEY_ARN) == []


@pytest.mark.parametrize("bucket", ["ab", "Oracles-eif", "oracles_eif", "-oracles", "oracles-", "a" * 64, "oracles..eif",
                                    "oracles.-eif", "192.168.5.4", "xn--oracles", "oracles-s3alias", "oracles--x-s3"])
def test_a_bad_bucket_name_is_refused(bucket):
    (message,) = errors_with(**{**DISTRIBUTION, "ec2_fleet_distribution_bucket": bucket})
    assert message.startswith("ec2_fleet_distribution_bucket ") and repr(bucket) in message


@pytest.mark.parametrize("prefix", ["", "/opencontracts/eif", "opencontracts/eif/", "opencontracts//eif", "eif/*",
                                    "eif?", "opencontracts/../eif", ".", "eif with space", None])
def test_a_prefix_that_would_widen_or_break_the_policy_is_refused(prefix):
    (message,) = errors_with(**dict(DISTRIBUTION, ec2_fleet_distribution_prefix=prefix))
    assert message.startswith("ec2_fleet_distribution_prefix must be a key prefix")


def test_a_profile_without_a_bucket_is_refused():
    (message,) = errors_with(ec2_fleet_instance_profile_create=True)
    assert message.startswith("ec2_fleet_instance_profile_create needs ec2_fleet_distribution_bucket")


def test_a_bucket_nobody_uses_is_refused():
    (message,) = errors_with(ec2_fleet_distribution_bucket="oracles-eif", ec2_fleet_distribution_bucket_create=False)
    assert "nothing would use it" in message


@pytest.mark.parametrize("changes, start", [
    ({"ec2_fleet_distribution_sse": "aws:kms"}, "ec2_fleet_distribution_sse aws:kms needs ec2_fleet_distribution_kms_key_id"),
    ({"ec2_fleet_distribution_sse": "aws:kms", "ec2_fleet_distribution_kms_key_id": "alias/eif"},
     "ec2_fleet_distribution_sse aws:kms needs"),
    ({"ec2_fleet_distribution_sse": "aws:kms", "ec2_fleet_distribution_kms_key_id": KEY_ARN.replace("eu-central-1", "us-east-1")},
     "ec2_fleet_distribution_kms_key_id: "),
    ({"ec2_fleet_distribution_sse": "SSE-C"}, "ec2_fleet_distribution_sse must be one of AES256, aws:kms"),
    ({"ec2_fleet_distribution_kms_key_id": KEY_ARN}, "ec2_fleet_distribution_kms_key_id is only used with"),
    ({"ec2_fleet_instance_profile_name": "r" * 65}, "ec2_fleet_instance_profile_name must be an IAM role name"),
    ({"ec2_fleet_instance_profile_name": "has space"}, "ec2_fleet_instance_profile_name must be an IAM role name"),
    ({"ec2_fleet_instance_profile_create": "yes"}, "ec2_fleet_instance_profile_create must be true or false"),
])
def test_bad_distribution_settings_are_named(changes, start):
    messages = errors_with(**dict(DISTRIBUTION, **changes))
    assert len(messages) == 1 and messages[0].startswith(start), messages


def test_no_bucket_means_no_distribution_rules():
    assert errors_with(ec2_fleet_distribution_prefix="/bad/", ec2_fleet_distribution_sse="nonsense",
                       ec2_fleet_instance_profile_name="bad name") == []


def test_the_read_policy_allows_only_getting_objects_under_the_prefix():
    policies = distribution_policies("oracles-eif", "opencontracts/eif", "eu-central-1")
    assert policies["read"] == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadEnclaveImages", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::oracles-eif/opencontracts/eif/*"]}]}
    assert policies["trust"] == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_the_read_policy_may_decrypt_with_the_images_key_through_s3_only():
    statements = distribution_policies("oracles-eif", "eif", "eu-central-1", "aws:kms", KEY_ARN)["read"]["Statement"]
    assert statements[1] == {"Sid": "DecryptEnclaveImages", "Effect": "Allow", "Action": ["kms:Decrypt"],
                             "Resource": [KEY_ARN],
                             "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}}}
    assert statements[0]["Resource"] == ["arn:aws:s3:::oracles-eif/eif/*"]


@pytest.mark.parametrize("region, partition", [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
                                               ("ap-southeast-2", "aws")])
def test_the_policy_names_the_regions_partition(region, partition):
    (statement,) = distribution_policies("oracles-eif", "eif", region)["read"]["Statement"]
    assert statement["Resource"] == ["arn:%s:s3:::oracles-eif/eif/*" % partition]


@pytest.mark.parametrize("args", [("", "eif", "eu-central-1"), ("b", "", "eu-central-1"), ("b", "eif", None),
                                  ("b", "eif", "eu-central-1", "SSE-C"), ("b", "eif", "eu-central-1", "aws:kms", "")])
def test_distribution_policies_refuse_bad_arguments(args):
    with pytest.raises(AnsibleFilterError, match="ec2_fleet_distribution_policies"):
        distribution_policies(*args)


def test_owned_keeps_only_what_carries_the_fleets_tag_and_the_mark():
    owned = FILTERS["ec2_fleet_owned"]
    mine = {"role_name": "a", "tags": {"opencontracts:fleet": "oracles", "opencontracts:managed-by": "opencontracts.enclave"}}
    resources = [
        mine,
        {"role_name": "b", "tags": {"opencontracts:fleet": "oracles"}},
        {"role_name": "c", "tags": {"opencontracts:fleet": "others", "opencontracts:managed-by": "opencontracts.enclave"}},
        {"role_name": "d", "tags": {"opencontracts:fleet": "oracles", "opencontracts:managed-by": "someone"}},
        {"role_name": "e"},
    ]
    assert owned(resources, "oracles") == [mine]
    bucket = {"name": "x", "bucket_tagging": mine["tags"]}
    assert owned([bucket, {"name": "y", "bucket_tagging": {}}], "oracles", "bucket_tagging") == [bucket]
    with pytest.raises(AnsibleFilterError):
        owned("nope", "oracles")
    with pytest.raises(AnsibleFilterError):
        owned([], "")


def test_identity_ties_every_resource_to_the_fleet_and_lets_the_fleets_tags_win():
    tags = {"team": "ops", "Name": "mine", "opencontracts:fleet": "x", "opencontracts:managed-by": "me"}
    identity = FILTERS["ec2_fleet_identity"]("oracles-eu.1", tags, "oracle")
    fleet = {"opencontracts:fleet": "oracles-eu.1"}
    assert identity["identity_tags"] == fleet
    assert identity["instance_tags"] == {"team": "ops", "Name": "oracles-eu.1", "opencontracts:fleet": "x",
                                         "opencontracts:managed-by": "me", "opencontracts:role": "oracle"}
    assert identity["security_group_tags"] == {"team": "ops", "Name": "mine", "opencontracts:fleet": "oracles-eu.1",
                                               "opencontracts:managed-by": "me"}
    assert identity["owned_tags"] == {"team": "ops", "Name": "mine", "opencontracts:fleet": "oracles-eu.1",
                                      "opencontracts:managed-by": "opencontracts.enclave"}
    assert identity["tag_filter"] == {"tag:opencontracts:fleet": "oracles-eu.1"}
    # As inventories/aws/aws_ec2.yml's keyed_groups (prefix fleet) names it.
    assert identity["group"] == "fleet_oracles_eu_1"
    assert (identity["role_tag"], identity["price_tag"]) == ("opencontracts:role", "opencontracts:price")


def test_what_the_identity_marks_as_owned_is_what_the_teardown_may_delete():
    identity = FILTERS["ec2_fleet_identity"]("oracles", {})
    bucket = {"name": "b", "tags": identity["owned_tags"]}
    group = {"name": "g", "tags": identity["security_group_tags"]}
    assert FILTERS["ec2_fleet_owned"]([bucket, group], "oracles") == [bucket]


@pytest.mark.parametrize("name, tags", [("", {}), (None, {}), ("oracles", ["a"])])
def test_identity_refuses_a_bad_name_or_tags(name, tags):
    with pytest.raises(AnsibleFilterError, match="ec2_fleet_identity"):
        FILTERS["ec2_fleet_identity"](name, tags)


SUBNET_INFO = {"changed": False, "subnets": [{"id": "subnet-0abc", "vpc_id": "vpc-0sub"}]}
VPC_INFO = {"changed": False, "vpcs": [{"id": "vpc-0def", "is_default": True}]}
SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


@pytest.mark.parametrize("vpc_id, subnet_id, subnet_info, vpc_info, wanted", [
    ("vpc-0set", "", SKIPPED, SKIPPED, "vpc-0set"),
    ("vpc-0set", "subnet-0abc", SKIPPED, SKIPPED, "vpc-0set"),
    ("", "subnet-0abc", SUBNET_INFO, SKIPPED, "vpc-0sub"),
    ("", "", SKIPPED, VPC_INFO, "vpc-0def"),
])
def test_the_vpc_is_the_set_one_or_the_subnets_or_the_default(vpc_id, subnet_id, subnet_info, vpc_info, wanted):
    assert FILTERS["ec2_fleet_vpc"](vpc_id, subnet_id, "eu-central-1", subnet_info, vpc_info) == {"id": wanted, "error": ""}


def test_a_vpc_not_found_says_what_to_set():
    result = FILTERS["ec2_fleet_vpc"]("", "subnet-0gone", "eu-central-1", {"subnets": []}, SKIPPED)
    assert result["id"] == "" and result["error"].startswith("Subnet subnet-0gone was not found; set ec2_fleet_subnet_id")
    result = FILTERS["ec2_fleet_vpc"]("", "", "eu-central-1", SKIPPED, {"vpcs": []})
    assert result["error"].startswith("Region eu-central-1 has no default VPC; set ec2_fleet_subnet_id")
    with pytest.raises(AnsibleFilterError, match="ec2_fleet_vpc"):
        FILTERS["ec2_fleet_vpc"]("", "", "eu-central-1", SKIPPED, ["vpc-0def"])


def loop_result(items, skipped=False):
    """A registered loop, as Ansible keeps it."""
    if not items:
        return {"changed": False, "skipped": True, "skipped_reason": "No items in the list", "results": []}
    return {"changed": True, "msg": "All items completed",
            "results": [{"item": item, "changed": not skipped, "skipped": skipped} for item in items]}


def test_the_teardown_report_names_what_the_loops_deleted():
    report = FILTERS["ec2_fleet_teardown_report"]
    terminated = {"changed": True, "terminated": ["i-0a", "i-0b"], "unmanaged": ["i-0c"]}
    text = report(terminated, loop_result([{"role_name": "oracles-eif-reader"}]), loop_result([{"name": "eif-bucket"}]))
    assert text == ("Terminated 2 instance(s): ['i-0a', 'i-0b']; left alone 1 instance(s) with the fleet's tag but not "
                    "launched by this collection: ['i-0c']; deleted the instance profile role(s) ['oracles-eif-reader'] "
                    "and the distribution bucket(s) ['eif-bucket']")
    text = report({"terminated": [], "unmanaged": []}, loop_result([]), SKIPPED, True)
    assert text.startswith("Would terminate 0 instance(s): [];")
    assert text.endswith("would delete the instance profile role(s) [] and the distribution bucket(s) []")
    # An item the loop skipped was not deleted.
    assert report({}, loop_result([{"role_name": "r"}], skipped=True), None).endswith("role(s) [] and the distribution bucket(s) []")
    with pytest.raises(AnsibleFilterError, match="ec2_fleet_teardown_report"):
        report({}, "nope")
