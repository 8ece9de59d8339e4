"""ec2_enclave_instances: the instance type check, scale decisions and AWS calls.

Two kinds of tests: recorded EC2 responses fed through botocore's Stubber (exact requests, launch
times under control, error responses), and moto's in-process EC2 for whole runs (launch, re-run,
scale, check mode). Nothing leaves the process.
"""

import datetime
import os
from unittest import mock

import pytest

from module_runner import run_module

boto3 = pytest.importorskip("boto3")
stub = pytest.importorskip("botocore.stub")

# pylint: disable=wrong-import-position
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry  # noqa: E402
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper  # noqa: E402
from ansible_collections.opencontracts.enclave.plugins.module_utils import ec2_enclave  # noqa: E402
from ansible_collections.opencontracts.enclave.plugins.module_utils.ec2_enclave import FleetError  # noqa: E402
from ansible_collections.opencontracts.enclave.plugins.modules import ec2_enclave_instances  # noqa: E402

FLEET = {"opencontracts:fleet": "unit"}

# DescribeInstanceTypes as AWS answers it (the fields the module reads).
C5A_4XLARGE = {"InstanceType": "c5a.4xlarge", "NitroEnclavesSupport": "supported",
               "VCpuInfo": {"DefaultVCpus": 16, "DefaultCores": 8, "DefaultThreadsPerCore": 2},
               "MemoryInfo": {"SizeInMiB": 32768}, "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}}
C5A_XLARGE = {"InstanceType": "c5a.xlarge", "NitroEnclavesSupport": "supported",
              "VCpuInfo": {"DefaultVCpus": 4, "DefaultCores": 2, "DefaultThreadsPerCore": 2},
              "MemoryInfo": {"SizeInMiB": 8192}, "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}}
T3_MICRO = {"InstanceType": "t3.micro", "NitroEnclavesSupport": "unsupported",
            "VCpuInfo": {"DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2},
            "MemoryInfo": {"SizeInMiB": 1024}, "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}}
M6G_2XLARGE = {"InstanceType": "m6g.2xlarge", "NitroEnclavesSupport": "supported",
               "VCpuInfo": {"DefaultVCpus": 8, "DefaultCores": 8, "DefaultThreadsPerCore": 1},
               "MemoryInfo": {"SizeInMiB": 32768}, "ProcessorInfo": {"SupportedArchitectures": ["arm64"]}}


def at(minute):
    return datetime.datetime(2024, 5, 1, 12, minute, tzinfo=datetime.timezone.utc)


# The mark of instances this collection launched, spelled out here (not taken from the code under test).
MARK = {"opencontracts:managed-by": "opencontracts.enclave"}


def instance(instance_id, minute, state="running", instance_type="c5a.4xlarge", managed=True, **extra):
    tags = dict(FLEET, **MARK) if managed else dict(FLEET)
    data = {"InstanceId": instance_id, "InstanceType": instance_type, "ImageId": "ami-0123456789abcdef0",
            "LaunchTime": at(minute), "State": {"Name": state},
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
            "PrivateIpAddress": "172.31.0.%d" % minute, "PublicIpAddress": "203.0.113.%d" % minute}
    data.update(extra)
    return data


def reservations(*instances):
    return {"Reservations": [{"ReservationId": "r-1", "Instances": list(instances)}]}


# --------------------------------------------------------------------------
# module_utils: decisions without AWS
# --------------------------------------------------------------------------

def test_type_check_accepts_the_guides_type_with_the_guides_sizing():
    facts = ec2_enclave.check_instance_type(C5A_4XLARGE, 11000, 2, 2048, 2)
    assert facts == {"instance_type": "c5a.4xlarge", "nitro_enclaves_support": "supported", "vcpus": 16,
                     "threads_per_core": 2, "memory_mib": 32768, "architectures": ["x86_64"]}


def test_type_check_refuses_a_type_without_enclave_support():
    with pytest.raises(FleetError, match="t3.micro does not support Nitro Enclaves"):
        ec2_enclave.check_instance_type(T3_MICRO, 512, 2, 0, 0)


def test_type_check_refuses_a_type_without_the_field():
    unknown = dict(C5A_4XLARGE)
    del unknown["NitroEnclavesSupport"]
    with pytest.raises(FleetError, match="does not support Nitro Enclaves"):
        ec2_enclave.check_instance_type(unknown, 512, 2, 0, 2)


@pytest.mark.parametrize("sizing, message", [
    ((11000, 2, 2048, 2), "c5a.xlarge has 8192 MiB of memory, but the enclaves need 11000 MiB and the parent keeps 2048 MiB"),
    ((4096, 4, 1024, 2), "c5a.xlarge has 4 vCPUs, but the enclaves need 4 and the parent keeps 2"),
    ((4096, 3, 1024, 1), "not a multiple of the 2 threads per core"),
])
def test_type_check_refuses_a_type_too_small(sizing, message):
    with pytest.raises(FleetError, match=message):
        ec2_enclave.check_instance_type(C5A_XLARGE, *sizing)


def test_type_check_allows_odd_cpu_counts_without_smt():
    assert ec2_enclave.check_instance_type(M6G_2XLARGE, 8192, 3, 2048, 1)["threads_per_core"] == 1


def test_plan_terminates_the_oldest_first_and_breaks_ties_by_id():
    members = [instance("i-c", 5), instance("i-b", 1), instance("i-a", 1), instance("i-d", 9)]
    decision = ec2_enclave.plan(members, 2)
    assert [i["InstanceId"] for i in decision["terminate"]] == ["i-a", "i-b"]
    assert [i["InstanceId"] for i in decision["keep"]] == ["i-c", "i-d"]
    assert decision["launch"] == 0 and decision["start"] == []


def test_plan_compares_launch_times_across_time_zones():
    later_in_utc = instance("i-z", 0, LaunchTime=datetime.datetime(2024, 5, 1, 14, 30,
                                                                   tzinfo=datetime.timezone(datetime.timedelta(hours=2))))
    decision = ec2_enclave.plan([later_in_utc, instance("i-y", 45)], 1)
    assert [i["InstanceId"] for i in decision["terminate"]] == ["i-z"]


def test_plan_launches_the_missing_and_starts_stopped_members():
    decision = ec2_enclave.plan([instance("i-a", 1, state="stopped"), instance("i-b", 2)], 4)
    assert decision["launch"] == 2
    assert [i["InstanceId"] for i in decision["start"]] == ["i-a"]
    assert decision["terminate"] == []


def test_plan_zero_terminates_everything():
    decision = ec2_enclave.plan([instance("i-a", 1), instance("i-b", 2, state="stopped")], 0)
    assert [i["InstanceId"] for i in decision["terminate"]] == ["i-a", "i-b"]
    assert decision["keep"] == [] and decision["start"] == []


def test_plan_refuses_a_negative_count():
    with pytest.raises(FleetError):
        ec2_enclave.plan([], -1)


def test_choose_image_takes_the_newest_for_the_architecture():
    images = [
        {"ImageId": "ami-old", "CreationDate": "2023-01-01T00:00:00.000Z", "Architecture": "x86_64", "State": "available"},
        {"ImageId": "ami-new", "CreationDate": "2024-01-01T00:00:00.000Z", "Architecture": "x86_64", "State": "available"},
        {"ImageId": "ami-arm", "CreationDate": "2025-01-01T00:00:00.000Z", "Architecture": "arm64", "State": "available"},
        {"ImageId": "ami-gone", "CreationDate": "2026-01-01T00:00:00.000Z", "Architecture": "x86_64", "State": "deregistered"},
    ]
    assert ec2_enclave.choose_image(images, ["x86_64"])["ImageId"] == "ami-new"
    assert ec2_enclave.choose_image(images, ["arm64"])["ImageId"] == "ami-arm"
    assert ec2_enclave.choose_image(images, ["i386"]) is None


KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/" + KEY_ID


def test_root_volume_cannot_shrink_below_the_image():
    image = {"ImageId": "ami-1", "RootDeviceName": "/dev/xvda",
             "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30}}]}
    assert ec2_enclave.root_block_device(image, 40, "gp3") == [
        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 40, "VolumeType": "gp3", "DeleteOnTermination": True,
                                            "Encrypted": True}}]
    with pytest.raises(FleetError, match="smaller than the 30 GiB root snapshot"):
        ec2_enclave.root_block_device(image, 20, "gp3")


def test_root_volume_is_encrypted_with_the_chosen_key_even_without_a_size():
    image = {"ImageId": "ami-1", "RootDeviceName": "/dev/sda1"}
    assert ec2_enclave.root_block_device(image, None, "gp3", KEY_ARN) == [
        {"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": True, "Encrypted": True, "KmsKeyId": KEY_ARN}}]


def test_root_volume_needs_the_images_root_device():
    with pytest.raises(FleetError, match="no root device name"):
        ec2_enclave.root_block_device({"ImageId": "ami-1"}, None, "gp3")


@pytest.mark.parametrize("key", [
    KEY_ID, KEY_ARN, "mrk-1234abcd12ab34cd56ef1234567890ab", "alias/oracle-volumes", "alias/aws/ebs",
    "arn:aws:kms:us-east-1:111122223333:alias/oracle-volumes",
    "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/" + KEY_ID,
])
def test_kms_key_formats_accepted(key):
    assert ec2_enclave.kms_key_error(key) is None


@pytest.mark.parametrize("key", [
    "1234abcd", "arn:aws:kms:us-east-1:1111:key/" + KEY_ID, "arn:aws:s3:::bucket", "alias/", "alias/a b",
    KEY_ID + "\n", "arn:aws:kms:us-east-1:111122223333:key/not-a-key", " " + KEY_ID,
])
def test_kms_key_formats_refused(key):
    assert "KMS key" in ec2_enclave.kms_key_error(key)


def test_kms_key_in_another_region_is_refused():
    assert "eu-central-1" in ec2_enclave.kms_key_error(KEY_ARN.replace("us-east-1", "eu-central-1"), "us-east-1")
    assert ec2_enclave.kms_key_error(KEY_ARN, "us-east-1") is None


@pytest.mark.parametrize("tags, message", [
    ({"aws:cloudformation:stack-name": "x"}, "AWS reserves"),
    ({" ": "x"}, "must not be empty"),
    ({"k" * 129: "x"}, "too long"),
])
def test_tags_refused(tags, message):
    with pytest.raises(FleetError, match=message):
        ec2_enclave.normalize_tags(tags, "tags")


def test_tags_become_strings():
    assert ec2_enclave.normalize_tags({"price": 10 ** 18, "on": True, "none": None}, "tags") == {
        "price": "1000000000000000000", "on": "true", "none": ""}


def test_describe_instance_reports_enclave_and_metadata_options():
    described = ec2_enclave.describe_instance(instance("i-a", 1, EnclaveOptions={"Enabled": True},
                                                       MetadataOptions={"HttpTokens": "required"}))
    assert described["enclave_enabled"] is True
    assert described["metadata_http_tokens"] == "required"
    assert described["launch_time"] == "2024-05-01T12:01:00+00:00"
    assert described["tags"] == dict(FLEET, **MARK)
    assert ec2_enclave.describe_instance(instance("i-b", 2))["enclave_enabled"] is None


# --------------------------------------------------------------------------
# The module with recorded EC2 responses (botocore Stubber)
# --------------------------------------------------------------------------

@pytest.fixture(name="aws_env")
def fixture_aws_env(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_URL", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-secret-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(ec2_enclave_instances, "_pause", lambda seconds: None)


@pytest.fixture(name="stubbed")
def fixture_stubbed(aws_env):  # pylint: disable=unused-argument
    """A Stubber on the EC2 client that the module gets; every expected call must happen."""
    client = boto3.client("ec2", region_name="us-east-1", endpoint_url="https://ec2.invalid")
    stubber = stub.Stubber(client)

    def fake_client(self, service, retry_decorator=None, **kwargs):  # pylint: disable=unused-argument
        assert service == "ec2"
        return RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1))

    with mock.patch.object(AnsibleAWSModule, "client", fake_client), stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def fleet_filters():
    return ec2_enclave.tag_filters(FLEET)


def run(args, check_mode=False):
    return run_module(ec2_enclave_instances.main, dict({"tags": FLEET}, **args), check_mode=check_mode)


def test_scale_down_terminates_the_oldest_and_waits(stubbed):
    members = [instance("i-new", 30), instance("i-oldest", 1), instance("i-mid", 10)]
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(*members), {"Filters": fleet_filters()})
    stubbed.add_response("terminate_instances", {"TerminatingInstances": []}, {"InstanceIds": ["i-oldest", "i-mid"]})
    stubbed.add_response("describe_instances",
                         reservations(instance("i-oldest", 1, state="shutting-down"), instance("i-mid", 10, state="terminated")),
                         {"InstanceIds": ["i-oldest", "i-mid"]})
    stubbed.add_response("describe_instances",
                         reservations(instance("i-oldest", 1, state="terminated"), instance("i-mid", 10, state="terminated")),
                         {"InstanceIds": ["i-oldest", "i-mid"]})
    stubbed.add_response("describe_instances", reservations(instance("i-new", 30)), {"Filters": fleet_filters()})
    result = run({"count": 1})
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["terminated"] == ["i-oldest", "i-mid"]
    assert [i["instance_id"] for i in result["instances"]] == ["i-new"]
    assert result["launched"] == [] and result["launch_count"] == 0


def test_scale_down_in_check_mode_only_reports(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(instance("i-b", 2), instance("i-a", 1)),
                         {"Filters": fleet_filters()})
    result = run({"count": 1, "_ansible_diff": True}, check_mode=True)
    assert result["changed"] is True
    assert result["terminated"] == ["i-a"]
    assert [i["instance_id"] for i in result["instances"]] == ["i-b"]
    assert result["diff"] == {"before": {"count": 2, "instances": ["i-a", "i-b"]},
                              "after": {"count": 1, "instances": ["i-b"]}}


def test_unsupported_type_is_refused_before_anything_else(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [T3_MICRO]}, {"InstanceTypes": ["t3.micro"]})
    result = run({"count": 3, "instance_type": "t3.micro"})
    assert result["failed"] is True
    assert "t3.micro does not support Nitro Enclaves" in result["msg"]
    assert result["launched"] == [] and result["changed"] is False


def test_type_too_small_is_refused_before_anything_else(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_XLARGE]}, {"InstanceTypes": ["c5a.xlarge"]})
    result = run({"count": 3, "instance_type": "c5a.xlarge", "enclave_memory_mib": 11000})
    assert result["failed"] is True
    assert "c5a.xlarge has 8192 MiB of memory, but the enclaves need 11000 MiB" in result["msg"]


def test_unknown_instance_type_is_an_aws_error_without_traceback(stubbed):
    stubbed.add_client_error("describe_instance_types", service_error_code="InvalidInstanceType",
                             service_message="The following supplied instance types do not exist: [c5a.huge]",
                             expected_params={"InstanceTypes": ["c5a.huge"]})
    result = run({"count": 1, "instance_type": "c5a.huge"})
    assert result["failed"] is True
    assert result["msg"] == ("DescribeInstanceTypes for c5a.huge failed: The following supplied instance types do not "
                             "exist: [c5a.huge] (InvalidInstanceType)")
    assert result["error_code"] == "InvalidInstanceType"
    assert "exception" not in result


def test_launch_sends_enclave_and_imdsv2_options(stubbed):
    image = {"ImageId": "ami-0dev", "Name": "AWS Nitro Enclaves Developer AMI ver-2", "State": "available",
             "Architecture": "x86_64", "CreationDate": "2024-02-01T00:00:00.000Z", "RootDeviceName": "/dev/xvda",
             "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}]}
    older = dict(image, ImageId="ami-0old", CreationDate="2023-02-01T00:00:00.000Z")
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1)), {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [older, image]},
                         {"Owners": ["aws-marketplace"],
                          "Filters": [{"Name": "name", "Values": ["*Nitro Enclaves Developer AMI*"]},
                                      {"Name": "state", "Values": ["available"]}]})
    stubbed.add_response("run_instances", {"Instances": [instance("i-b", 20, state="pending"),
                                                         instance("i-c", 20, state="pending")]}, {
        "ImageId": "ami-0dev", "InstanceType": "c5a.4xlarge", "MinCount": 2, "MaxCount": 2,
        "ClientToken": stub.ANY,
        "EnclaveOptions": {"Enabled": True},
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "TagSpecifications": [
            {"ResourceType": kind, "Tags": [{"Key": "Name", "Value": "oracle"},
                                            {"Key": "opencontracts:fleet", "Value": "unit"},
                                            {"Key": "opencontracts:managed-by", "Value": "opencontracts.enclave"}]}
            for kind in ("instance", "volume")],
        "KeyName": "admin",
        "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "subnet-1", "AssociatePublicIpAddress": True,
                               "DeleteOnTermination": True, "Groups": ["sg-1"]}],
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                 "Ebs": {"VolumeSize": 40, "VolumeType": "gp3", "DeleteOnTermination": True,
                                         "Encrypted": True, "KmsKeyId": KEY_ARN}}],
    })
    stubbed.add_client_error("describe_instances", service_error_code="InvalidInstanceID.NotFound",
                             service_message="not yet", expected_params={"InstanceIds": ["i-b", "i-c"]})
    stubbed.add_response("describe_instances", reservations(instance("i-b", 20), instance("i-c", 20)),
                         {"InstanceIds": ["i-b", "i-c"]})
    stubbed.add_response("describe_instances",
                         reservations(instance("i-a", 1), instance("i-c", 20), instance("i-b", 20)),
                         {"Filters": fleet_filters()})
    result = run({"count": 3, "extra_tags": {"Name": "oracle"}, "key_name": "admin", "subnet_id": "subnet-1",
                  "assign_public_ip": True, "security_group_ids": ["sg-1"], "volume_size": 40,
                  "volume_kms_key_id": KEY_ARN})
    assert result["failed"] is False, result
    assert result["launched"] == ["i-b", "i-c"]
    assert result["image_id"] == "ami-0dev"
    assert [i["instance_id"] for i in result["instances"]] == ["i-a", "i-b", "i-c"]
    assert result["instance_type_info"]["vcpus"] == 16


def test_launch_without_a_size_still_encrypts_the_root_volume(stubbed):
    image = {"ImageId": "ami-0dev", "State": "available", "Architecture": "x86_64",
             "CreationDate": "2024-02-01T00:00:00.000Z", "RootDeviceName": "/dev/sda1"}
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", {"Reservations": []}, {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [image]}, {"ImageIds": ["ami-0dev"]})
    stubbed.add_response("run_instances", {"Instances": [instance("i-a", 20, state="pending")]}, {
        "ImageId": "ami-0dev", "InstanceType": "c5a.4xlarge", "MinCount": 1, "MaxCount": 1,
        "ClientToken": stub.ANY, "EnclaveOptions": stub.ANY, "MetadataOptions": stub.ANY,
        "TagSpecifications": stub.ANY,
        "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": True, "Encrypted": True}}],
    })
    stubbed.add_response("describe_instances", reservations(instance("i-a", 20, state="pending")),
                         {"Filters": fleet_filters()})
    result = run({"count": 1, "image_id": "ami-0dev", "wait": False})
    assert result["failed"] is False, result["msg"]
    assert result["launched"] == ["i-a"]


def test_marketplace_subscription_missing_gets_a_hint(stubbed):
    image = {"ImageId": "ami-0dev", "State": "available", "Architecture": "x86_64",
             "CreationDate": "2024-02-01T00:00:00.000Z", "RootDeviceName": "/dev/xvda"}
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", {"Reservations": []}, {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [image]}, {"Owners": stub.ANY, "Filters": stub.ANY})
    stubbed.add_client_error("run_instances", service_error_code="OptInRequired",
                             service_message="In order to use this AWS Marketplace product you need to accept terms")
    result = run({"count": 1})
    assert result["failed"] is True
    assert "OptInRequired" in result["msg"] and "subscribe" in result["msg"]
    assert "exception" not in result


def test_no_image_found_says_what_to_set(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", {"Reservations": []}, {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": []}, {"Owners": ["aws-marketplace"], "Filters": stub.ANY})
    result = run({"count": 1}, check_mode=True)
    assert result["failed"] is True
    assert "no available image named like '*Nitro Enclaves Developer AMI*'" in result["msg"]
    assert "subscribe" in result["msg"]


def test_stopped_members_are_started(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1, state="stopped")),
                         {"Filters": fleet_filters()})
    stubbed.add_response("start_instances", {"StartingInstances": []}, {"InstanceIds": ["i-a"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1)), {"InstanceIds": ["i-a"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1)), {"Filters": fleet_filters()})
    result = run({"count": 1})
    assert result["changed"] is True and result["started"] == ["i-a"]


def test_wait_times_out_with_the_states(stubbed, monkeypatch):
    clock = iter(range(0, 10000, 100))
    monkeypatch.setattr(ec2_enclave_instances, "_clock", lambda: next(clock))
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1)), {"Filters": fleet_filters()})
    stubbed.add_response("terminate_instances", {"TerminatingInstances": []}, {"InstanceIds": ["i-a"]})
    for _attempt in range(3):
        stubbed.add_response("describe_instances", reservations(instance("i-a", 1, state="shutting-down")),
                             {"InstanceIds": ["i-a"]})
    result = run({"count": 0, "wait_timeout": 250})
    assert result["failed"] is True
    assert result["msg"].startswith("timed out after 250 seconds waiting for the termination of i-a")
    assert "i-a shutting-down" in result["msg"]
    assert result["terminated"] == ["i-a"]


def test_warns_about_members_without_enclaves(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances",
                         reservations(instance("i-a", 1, EnclaveOptions={"Enabled": False}, InstanceType="m5.large")),
                         {"Filters": fleet_filters()})
    result = run({"count": 1})
    assert result["changed"] is False
    assert any("i-a have Nitro Enclaves disabled" in w for w in result["warnings"])
    assert any("not of type c5a.4xlarge" in w for w in result["warnings"])


@pytest.mark.parametrize("args, message", [
    ({"count": -1}, "count must be at least 0"),
    ({"count": 1, "enclave_cpu_count": 0}, "enclave_cpu_count must be at least 1"),
    ({"count": 1, "tags": {}}, "tags must name at least one tag"),
    ({"count": 1, "tags": {"aws:x": "y"}}, "AWS reserves"),
    ({"count": 1, "assign_public_ip": True}, "assign_public_ip needs subnet_id"),
    ({"count": 1, "volume_size": 0}, "volume_size must be at least 1"),
    ({"count": 1, "volume_kms_key_id": "my-key"}, "volume_kms_key_id: 'my-key' is not a KMS key"),
    ({"count": 1, "volume_kms_key_id": KEY_ARN.replace("us-east-1", "eu-west-1")}, "not in region us-east-1"),
])
def test_bad_input_fails_before_any_call(stubbed, args, message):  # pylint: disable=unused-argument
    result = run(args)
    assert result["failed"] is True
    assert message in result["msg"]


def test_scale_down_never_touches_instances_without_the_mark(stubbed):
    # i-foreign carries the fleet's tag but was not launched by the collection: it is neither counted,
    # nor terminated, nor reported, only named in a warning.
    members = [instance("i-foreign", 0, managed=False), instance("i-a", 1), instance("i-b", 2)]
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(*members), {"Filters": fleet_filters()})
    stubbed.add_response("terminate_instances", {"TerminatingInstances": []}, {"InstanceIds": ["i-a"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1, state="terminated")),
                         {"InstanceIds": ["i-a"]})
    stubbed.add_response("describe_instances", reservations(instance("i-foreign", 0, managed=False), instance("i-b", 2)),
                         {"Filters": fleet_filters()})
    result = run({"count": 1})
    assert result["failed"] is False, result
    assert result["terminated"] == ["i-a"]
    assert [i["instance_id"] for i in result["instances"]] == ["i-b"]
    assert result["unmanaged"] == ["i-foreign"]
    assert any("i-foreign" in w and "opencontracts:managed-by" in w and "left alone" in w for w in result["warnings"])


def test_count_zero_leaves_instances_without_the_mark_running(stubbed):
    stubbed.add_response("describe_instances", reservations(instance("i-foreign", 0, managed=False)),
                         {"Filters": fleet_filters()})
    result = run({"count": 0})
    assert result["failed"] is False, result
    assert result["changed"] is False
    assert result["terminated"] == [] and result["instances"] == []
    assert result["unmanaged"] == ["i-foreign"]


def test_instances_without_the_mark_do_not_count_towards_the_fleet(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(instance("i-foreign", 0, managed=False)),
                         {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [{"ImageId": "ami-1", "State": "available",
                                                         "RootDeviceName": "/dev/xvda"}]},
                         {"Owners": stub.ANY, "Filters": stub.ANY})
    result = run({"count": 1}, check_mode=True)
    assert result["failed"] is False, result
    assert result["launch_count"] == 1 and result["unmanaged"] == ["i-foreign"]


def test_the_mark_cannot_be_overridden_through_tags(stubbed):  # pylint: disable=unused-argument
    result = run({"count": 1, "tags": dict(FLEET, **{"opencontracts:managed-by": "someone-else"})})
    assert result["failed"] is True
    assert "opencontracts:managed-by" in result["msg"]
    result = run({"count": 1, "extra_tags": {"opencontracts:managed-by": "someone-else"}})
    assert result["failed"] is True
    assert "opencontracts:managed-by" in result["msg"]


PROFILE_ARN = "arn:aws:iam::111122223333:instance-profile/fleet/unit-eif-reader"
OTHER_PROFILE = {"Arn": "arn:aws:iam::111122223333:instance-profile/someone-else", "Id": "AIPAOTHER"}


@pytest.mark.parametrize("profile, spec", [
    ("unit-eif-reader", {"Name": "unit-eif-reader"}),
    (PROFILE_ARN, {"Arn": PROFILE_ARN}),
])
def test_launch_repeats_while_the_new_instance_profile_is_unknown(stubbed, profile, spec):
    image = {"ImageId": "ami-0dev", "State": "available", "Architecture": "x86_64",
             "CreationDate": "2024-02-01T00:00:00.000Z", "RootDeviceName": "/dev/xvda"}
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", {"Reservations": []}, {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [image]}, {"ImageIds": ["ami-0dev"]})
    tokens = []

    def launch_params():
        return {"ImageId": "ami-0dev", "InstanceType": "c5a.4xlarge", "MinCount": 1, "MaxCount": 1,
                "ClientToken": stub.ANY, "EnclaveOptions": stub.ANY, "MetadataOptions": stub.ANY,
                "TagSpecifications": stub.ANY, "BlockDeviceMappings": stub.ANY, "IamInstanceProfile": spec}

    # What EC2 answers in the seconds after IAM created the profile.
    stubbed.add_client_error("run_instances", service_error_code="InvalidParameterValue",
                             service_message="Value (unit-eif-reader) for parameter iamInstanceProfile.name is invalid. "
                                             "Invalid IAM Instance Profile name",
                             expected_params=launch_params())
    stubbed.add_response("run_instances", {"Instances": [instance("i-a", 20, state="pending")]}, launch_params())
    stubbed.add_response("describe_instances", reservations(instance("i-a", 20, IamInstanceProfile={"Arn": PROFILE_ARN})),
                         {"Filters": fleet_filters()})

    def token_of(params, **kwargs):  # pylint: disable=unused-argument
        tokens.append(params["ClientToken"])

    stubbed.client.meta.events.register("before-parameter-build.ec2.RunInstances", token_of)
    result = run({"count": 1, "image_id": "ami-0dev", "wait": False, "instance_profile": profile})
    assert result["failed"] is False, result["msg"]
    assert result["launched"] == ["i-a"]
    assert result["instances"][0]["iam_instance_profile_arn"] == PROFILE_ARN
    assert len(tokens) == 2 and tokens[0] == tokens[1], "a repeated launch must reuse the idempotency token"


def test_another_launch_error_is_not_repeated(stubbed):
    image = {"ImageId": "ami-0dev", "State": "available", "Architecture": "x86_64",
             "CreationDate": "2024-02-01T00:00:00.000Z", "RootDeviceName": "/dev/xvda"}
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", {"Reservations": []}, {"Filters": fleet_filters()})
    stubbed.add_response("describe_images", {"Images": [image]}, {"ImageIds": ["ami-0dev"]})
    stubbed.add_client_error("run_instances", service_error_code="InvalidParameterValue",
                             service_message="Invalid value for the volume type")
    result = run({"count": 1, "image_id": "ami-0dev", "instance_profile": "unit-eif-reader"})
    assert result["failed"] is True
    assert result["msg"].startswith("RunInstances (1 x c5a.4xlarge) failed: Invalid value for the volume type")


def test_members_without_a_profile_get_it_and_others_keep_theirs(stubbed):
    members = [instance("i-a", 1), instance("i-b", 2, IamInstanceProfile=OTHER_PROFILE),
               instance("i-c", 3, IamInstanceProfile={"Arn": PROFILE_ARN, "Id": "AIPAUNIT"})]
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(*members), {"Filters": fleet_filters()})
    stubbed.add_response("associate_iam_instance_profile", {"IamInstanceProfileAssociation": {}},
                         {"InstanceId": "i-a", "IamInstanceProfile": {"Name": "unit-eif-reader"}})
    stubbed.add_response("describe_instances", reservations(*members), {"Filters": fleet_filters()})
    result = run({"count": 3, "instance_profile": "unit-eif-reader"})
    assert result["failed"] is False, result
    assert result["changed"] is True and result["associated"] == ["i-a"]
    assert any("i-b have another IAM instance profile than unit-eif-reader" in w for w in result["warnings"])
    assert not any("i-c" in w for w in result["warnings"])


def test_profile_association_in_check_mode_only_reports(stubbed):
    stubbed.add_response("describe_instance_types", {"InstanceTypes": [C5A_4XLARGE]},
                         {"InstanceTypes": ["c5a.4xlarge"]})
    stubbed.add_response("describe_instances", reservations(instance("i-a", 1)), {"Filters": fleet_filters()})
    result = run({"count": 1, "instance_profile": PROFILE_ARN}, check_mode=True)
    assert result["changed"] is True and result["associated"] == ["i-a"]


@pytest.mark.parametrize("profile", ["", "has space", "x" * 129, "arn:aws:iam::1234:instance-profile/short-account",
                                     "arn:aws:iam::111122223333:role/not-a-profile"])
def test_bad_instance_profile_fails_before_any_call(stubbed, profile):  # pylint: disable=unused-argument
    result = run({"count": 1, "instance_profile": profile})
    assert result["failed"] is True
    assert result["msg"].startswith("instance_profile: ")


# --------------------------------------------------------------------------
# Whole runs against moto's in-process EC2
# --------------------------------------------------------------------------

@pytest.fixture(name="moto_ec2")
def fixture_moto_ec2(aws_env):  # pylint: disable=unused-argument
    """moto's EC2 in this process, an enclave image of this account, and a log of the requests sent."""
    moto = pytest.importorskip("moto")
    sent = []

    def record(params, model, **kwargs):  # pylint: disable=unused-argument
        sent.append((model.name, dict(params)))

    with moto.mock_aws():
        setup = boto3.client("ec2", region_name="us-east-1")
        image_id = setup.register_image(Name="AWS Nitro Enclaves Developer AMI ver-unit", Architecture="x86_64",
                                        RootDeviceName="/dev/xvda", VirtualizationType="hvm")["ImageId"]

        def real_client(self, service, retry_decorator=None, **kwargs):  # pylint: disable=unused-argument
            client = boto3.client(service, region_name="us-east-1")
            client.meta.events.register("before-parameter-build.ec2.*", record)
            return RetryingBotoClientWrapper(client, retry_decorator)

        with mock.patch.object(AnsibleAWSModule, "client", real_client):
            yield {"sent": sent, "image_id": image_id, "client": setup}


def root_volumes(client, instance_ids):
    return client.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": list(instance_ids)}])["Volumes"]


def launches(sent):
    return [params for name, params in sent if name == "RunInstances"]


def test_fleet_lifecycle_in_moto(moto_ec2):
    # moto needs a size for a mapping without a snapshot (EC2 takes the image's snapshot).
    base = {"image_owners": ["self"], "volume_size": 30}
    # Somebody else's instance with the fleet's tag but without the collection's mark: never touched.
    foreign = moto_ec2["client"].run_instances(
        ImageId=moto_ec2["image_id"], InstanceType="t3.micro", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "opencontracts:fleet", "Value": "unit"}]}],
    )["Instances"][0]["InstanceId"]
    first = run(dict(base, count=3))
    assert first["failed"] is False, first["msg"]
    assert first["changed"] is True and len(first["launched"]) == 3
    assert first["unmanaged"] == [foreign]
    assert foreign not in [i["instance_id"] for i in first["instances"]]
    assert all(i["tags"]["opencontracts:managed-by"] == "opencontracts.enclave" for i in first["instances"])
    assert [i["state"] for i in first["instances"]] == ["running"] * 3
    assert all(i["metadata_http_tokens"] == "required" for i in first["instances"])
    assert first["image_id"] == moto_ec2["image_id"]

    again = run(dict(base, count=3))
    assert again["changed"] is False
    assert [i["instance_id"] for i in again["instances"]] == [i["instance_id"] for i in first["instances"]]

    # Every root volume (the image's root device) is encrypted.
    volumes = root_volumes(moto_ec2["client"], first["launched"])
    assert len(volumes) == 3
    (image,) = moto_ec2["client"].describe_images(ImageIds=[moto_ec2["image_id"]])["Images"]
    assert [(v["Encrypted"], v["Attachments"][0]["Device"]) for v in volumes] == [(True, image["RootDeviceName"])] * 3

    preview = run(dict(base, count=5), check_mode=True)
    assert preview["changed"] is True and preview["launch_count"] == 2 and preview["launched"] == []

    five = run(dict(base, count=5))
    assert len(five["instances"]) == 5 and len(five["launched"]) == 2

    refused = run(dict(base, count=6, instance_type="t3.micro"))
    assert refused["failed"] is True

    # With a customer managed key, the new host's root volume is encrypted with that key.
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    six = run(dict(base, count=6, volume_size=20, volume_kms_key_id=key))
    assert six["failed"] is False, six
    (volume,) = root_volumes(moto_ec2["client"], six["launched"])
    assert (volume["Encrypted"], volume.get("KmsKeyId"), volume["Size"]) == (True, key, 20)

    two = run(dict(base, count=2))
    assert len(two["terminated"]) == 4
    kept = [i["instance_id"] for i in two["instances"]]
    assert len(kept) == 2 and not set(kept) & set(two["terminated"])

    assert [p["MinCount"] for p in launches(moto_ec2["sent"])] == [3, 2, 1]
    assert not any("IamInstanceProfile" in p for p in launches(moto_ec2["sent"]))
    assert all(p["EnclaveOptions"] == {"Enabled": True} for p in launches(moto_ec2["sent"]))
    assert all(p["MetadataOptions"]["HttpTokens"] == "required" for p in launches(moto_ec2["sent"]))

    # An instance profile: the kept hosts get it associated, new hosts are launched with it; then nothing changes.
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="unit-eif-reader", AssumeRolePolicyDocument="{}")
    profile_arn = iam.create_instance_profile(InstanceProfileName="unit-eif-reader")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="unit-eif-reader", RoleName="unit-eif-reader")
    with_profile = run(dict(base, count=3, instance_profile="unit-eif-reader"))
    assert with_profile["failed"] is False, with_profile["msg"]
    assert sorted(with_profile["associated"]) == sorted(kept) and len(with_profile["launched"]) == 1
    assert [i["iam_instance_profile_arn"] for i in with_profile["instances"]] == [profile_arn] * 3
    stable = run(dict(base, count=3, instance_profile=profile_arn))
    assert stable["changed"] is False and stable["associated"] == []
    kept = [i["instance_id"] for i in stable["instances"]]
    assert "IamInstanceProfile" in launches(moto_ec2["sent"])[-1]

    gone = run(dict(base, count=0))
    assert gone["changed"] is True and gone["instances"] == []
    assert sorted(gone["terminated"]) == sorted(kept)
    (left,) = moto_ec2["client"].describe_instances(InstanceIds=[foreign])["Reservations"][0]["Instances"]
    assert left["State"]["Name"] == "running"


def test_a_new_fleet_launched_with_a_profile_carries_it_on_every_host(moto_ec2):
    # One RunInstances for three hosts: moto associates the profile with the first instance only, so the
    # module associates it with the others in the same run; a re-run then changes nothing.
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="unit-eif-reader", AssumeRolePolicyDocument="{}")
    profile_arn = iam.create_instance_profile(InstanceProfileName="unit-eif-reader")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="unit-eif-reader", RoleName="unit-eif-reader")
    base = {"image_owners": ["self"], "volume_size": 30, "instance_profile": "unit-eif-reader"}
    first = run(dict(base, count=3))
    assert first["failed"] is False, first["msg"]
    assert len(first["launched"]) == 3
    described = moto_ec2["client"].describe_instances(InstanceIds=first["launched"])["Reservations"]
    arns = [(i.get("IamInstanceProfile") or {}).get("Arn") for r in described for i in r["Instances"]]
    assert arns == [profile_arn] * 3
    again = run(dict(base, count=3))
    assert again["changed"] is False and again["associated"] == [] and again["launched"] == []
