"""The filters of the role enclave_build: preflight rules, builder choice, install record check."""

import json
import os

import pytest
import yaml

from ansible_collections.opencontracts.enclave.plugins.filter import enclave_build as plugin

FILTERS = plugin.FilterModule().filters()
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PCR0 = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
OTHER_PCR0 = "87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def role_defaults():
    with open(os.path.join(REPO_ROOT, "roles", "enclave_build", "defaults", "main.yml")) as handle:
        values = yaml.safe_load(handle)
    values["enclave_build_eif_path"] = "/opt/opencontracts/oracle.eif"
    values["enclave_build_repo_version"] = COMMIT
    return values


def errors(**changes):
    settings = role_defaults()
    settings.update(changes)
    return FILTERS["enclave_build_input_errors"](settings, host="eb-1", platform="debian",
                                                 distribution="Debian GNU/Linux 12", play_hosts=["eb-1", "eb-2"],
                                                 controller_file=lambda path: path == "/srv/images/oracle.eif")


def test_filter_names_and_their_documentation():
    for name in FILTERS:
        with open(os.path.join(REPO_ROOT, "plugins", "filter", name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


def test_the_role_defaults_with_a_pinned_commit_are_valid():
    assert errors() == []


@pytest.mark.parametrize("changes, messages", [
    ({"enclave_build_repo_url": "ftp://example.com/x"},
     ["enclave_build_repo_url must be a git URL (https://, ssh://, git://, file://, user@host:path or an absolute "
      "path); got 'ftp://example.com/x'"]),
    ({"enclave_build_repo_version": "-x"}, ["enclave_build_repo_version must be a commit, tag or branch; got '-x'"]),
    ({"enclave_build_repo_version": "main"},
     ["enclave_build_repo_version must be a commit (40 hex digits); got 'main', a branch or tag, which can move. "
      "Pin a commit, or set enclave_build_allow_unpinned to true to take what it names at each run"]),
    ({"enclave_build_repo_version": "v1.2", "enclave_build_allow_unpinned": True}, []),
    ({"enclave_build_repo_dir": "opt/x"}, ["enclave_build_repo_dir must be an absolute path; got 'opt/x'"]),
    ({"enclave_build_repo_dir": "/opt"}, ["enclave_build_repo_dir must be a folder of its own, not /opt"]),
    ({"enclave_build_venv_dir": "venv"}, ["enclave_build_venv_dir must be an absolute path; got 'venv'"]),
    ({"enclave_build_work_dir": "/"}, ["enclave_build_work_dir must be an absolute path; got '/'"]),
    ({"enclave_build_eif_path": "/opt/x/"}, ["enclave_build_eif_path must be the absolute path of a file; got '/opt/x/'"]),
    ({"enclave_build_venv_dir": "/opt/opencontracts/enclave-protocol"},
     ["enclave_build_venv_dir must not be enclave_build_repo_dir (/opt/opencontracts/enclave-protocol)"]),
    ({"enclave_build_eif_path": "/opt/opencontracts/enclave-protocol/oracle.eif"},
     ["the folder of enclave_build_eif_path must not be enclave_build_repo_dir (/opt/opencontracts/enclave-protocol)"]),
    ({"enclave_build_requirements_file": "../x.txt"},
     ["enclave_build_requirements_file must be a path inside the repository; got '../x.txt'"]),
    ({"enclave_build_enclave_dirs": {"registry": "registry_enclave"}},
     ["enclave_build_enclave_dirs must name a folder inside the repository for 'oracle'; got "
      "{'registry': 'registry_enclave'}"]),
    ({"enclave_build_pip_index_url": "pypi.example.com"},
     ["enclave_build_pip_index_url must be empty or an http(s) URL; got 'pypi.example.com'"]),
    ({"enclave_build_permitted_pcr0": {"oracle": [PCR0[:-1]]}},
     ["enclave_build_permitted_pcr0.oracle must be a non-empty list of PCR0 values (96 hex digits each, the values "
      "the protocol permits); got ['%s']" % PCR0[:-1]]),
    ({"enclave_build_permitted_pcr0": {"oracle": PCR0}},
     ["enclave_build_permitted_pcr0.oracle must be a non-empty list of PCR0 values (96 hex digits each, the values "
      "the protocol permits); got %s" % PCR0]),
    ({"enclave_build_permitted_pcr0": {}},
     ["enclave_build_permitted_pcr0.oracle must be a non-empty list of PCR0 values (96 hex digits each, the values "
      "the protocol permits); got nothing"]),
    ({"enclave_build_expected_pcr1": {"oracle": PCR0[:-1]}},
     ["enclave_build_expected_pcr1 must map a kind to a reference value (96 hex digits) or nothing; got oracle: %s"
      % PCR0[:-1]]),
    ({"enclave_build_expected_pcr2": PCR0},
     ["enclave_build_expected_pcr2 must map a kind to a reference value (96 hex digits) or nothing; got %s" % PCR0]),
    ({"enclave_build_expected_pcr1": {"oracle": PCR0, "registry": ""}}, []),
    ({"enclave_build_timeout": 0}, ["enclave_build_timeout must be a whole number of seconds, at least 1; got 0"]),
    ({"enclave_build_async_poll": "x"}, ["enclave_build_async_poll must be a whole number of seconds, at least 1; got x"]),
    ({"enclave_build_signing_certificate": "/etc/cert.pem"},
     ["enclave_build_signing_certificate and enclave_build_private_key must be both set or both empty"]),
    ({"enclave_build_signing_certificate": "cert.pem", "enclave_build_private_key": "/etc/key.pem"},
     ["enclave_build_signing_certificate must be an absolute path; got 'cert.pem'"]),
    ({"enclave_build_strategy": "once", "enclave_build_builder": "eb-9"},
     ["enclave_build_builder ('eb-9') must be empty or a host of this play (eb-1, eb-2)"]),
    ({"enclave_build_image_tars": {"oracle": ["/abs.tar"]}},
     ["method tars needs enclave_build_image_tars.oracle, a list of tar files relative to oracle_enclave; got "
      "['/abs.tar']"]),
    ({"enclave_build_docker_uri": {}}, ["method tars needs enclave_build_docker_uri.oracle, a docker image reference; "
                                        "got 'nothing'"]),
    ({"enclave_build_tars_script": "../x.sh"}, ["enclave_build_tars_script must be a script in the kind's folder; "
                                                "got '../x.sh'"]),
    ({"enclave_build_method": "source", "enclave_build_source_script": "/x.sh"},
     ["method source needs enclave_build_source_script, a script in the kind's folder; got '/x.sh'"]),
    ({"enclave_build_method": "source", "enclave_build_source_eif": {}},
     ["method source needs enclave_build_source_eif.oracle, the EIF it writes, relative to the kind's folder; "
      "got 'nothing'"]),
    ({"enclave_build_method": "artifact", "enclave_build_artifact_sha256": "ab" * 32,
      "enclave_build_artifact_url": "/srv/images/missing.eif"},
     ["method artifact needs enclave_build_artifact_url, an http(s)/ftp/file URL or a file on the controller; "
      "got '/srv/images/missing.eif'"]),
    ({"enclave_build_method": "artifact", "enclave_build_artifact_url": "https://example.com/oracle.eif"},
     ["method artifact needs enclave_build_artifact_sha256 (64 hex digits; got ''): a prebuilt image is never "
      "installed unchecked"]),
])
def test_one_message_per_broken_rule(changes, messages):
    assert errors(**changes) == messages


def test_an_unsupported_platform():
    settings = role_defaults()
    assert FILTERS["enclave_build_input_errors"](settings, host="eb-1", platform="unsupported",
                                                 distribution="Fedora Linux 40", play_hosts=["eb-1"]) == [
        "the enclave_build role supports Amazon Linux 2, Amazon Linux 2023, Debian and Ubuntu; eb-1 runs Fedora Linux 40"]


def test_several_broken_rules_give_several_messages():
    assert len(errors(enclave_build_timeout=0, enclave_build_async_poll=0, enclave_build_repo_dir="/")) == 4


def test_a_controller_file_or_a_url_is_a_valid_artifact():
    sha = "AB" * 32
    assert errors(enclave_build_method="artifact", enclave_build_artifact_sha256=sha,
                  enclave_build_artifact_url="/srv/images/oracle.eif") == []
    assert errors(enclave_build_method="artifact", enclave_build_artifact_sha256=sha,
                  enclave_build_artifact_url="https://example.com/oracle.eif") == []


def test_warnings():
    warn = FILTERS["enclave_build_input_warnings"]
    assert warn({"enclave_build_repo_version": COMMIT, "enclave_build_method": "tars"}) == []
    messages = warn({"enclave_build_repo_version": "main", "enclave_build_method": "source",
                     "enclave_build_source_script": "build.sh"})
    named = [m.split(":")[1].strip().split(" ")[0] for m in messages]
    assert named == ["enclave_build_repo_version", "enclave_build_method"]
    assert "'main', not a commit" in messages[0] and "the upstream build.sh builds" in messages[1]


# --- enclave_build_plan ---------------------------------------------------------------------------------

def settings(**changes):
    values = role_defaults()
    values["enclave_build_strategy"] = "once"
    values.update(changes)
    return values


DEBIAN = {"platform": "debian", "distribution": "Debian GNU/Linux", "distribution_version": "12"}


def hostvars_of(**hosts):
    return {name: {"_enclave_build_settings": values, "__enclave_build_facts": DEBIAN} for name, values in hosts.items()}


def plan(hostvars, play_hosts, play_hosts_all=None):
    return FILTERS["enclave_build_plan"](play_hosts_all or play_hosts, hostvars, play_hosts)


def test_the_plan_carries_every_hosts_input_errors_and_warnings():
    hostvars = hostvars_of(a=settings(enclave_build_timeout=0, enclave_build_repo_version="main",
                                      enclave_build_allow_unpinned=True), b=settings())
    hostvars["b"]["__enclave_build_facts"] = {"platform": "unsupported", "distribution": "Fedora Linux",
                                              "distribution_version": "40"}
    result = plan(hostvars, ["a", "b"])
    assert result["a"]["errors"] == ["a: enclave_build_timeout must be a whole number of seconds, at least 1; got 0"]
    assert result["a"]["warnings"][0].startswith("a: WARNING: enclave_build_repo_version is 'main', not a commit")
    # b's builder is b itself: a's inputs differ (another version).
    assert result["b"]["errors"] == ["b: the enclave_build role supports Amazon Linux 2, Amazon Linux 2023, Debian "
                                     "and Ubuntu; b runs Fedora Linux 40"]
    assert result["b"]["warnings"] == []


def test_strategy_once_one_builder_for_the_same_inputs():
    result = plan(hostvars_of(a=settings(), b=settings(), c=settings()), ["a", "b", "c"])
    full = {"checkout": [], "checkout_sparse_current": True, "checkout_current": False, "checkout_sparse": False,
            "up_to_date": False, "prepares": True}
    # The receivers: the requirements' folder and the kind's folder, without the tars in any form.
    sparse = {"checkout": ["/ec2_instance/", "/oracle_enclave/", "!/oracle_enclave/oracle_enclave.tar*"],
              "checkout_sparse_current": False, "checkout_current": False, "checkout_sparse": True,
              "up_to_date": False, "prepares": True}
    assert result == {
        "a": dict(full, builder="a", builds=True, sends=True, errors=[], warnings=[]),
        "b": dict(sparse, builder="a", builds=False, sends=False, errors=[], warnings=[]),
        "c": dict(sparse, builder="a", builds=False, sends=False, errors=[], warnings=[]),
    }


RECEIVER_PATHS = ["/ec2_instance/", "/oracle_enclave/", "!/oracle_enclave/oracle_enclave.tar*"]


def with_checkout(hostvars, host, patterns):
    hostvars[host]["__enclave_build_facts"] = dict(DEBIAN, checkout={"sparse": patterns})
    return hostvars


def test_a_receivers_sparse_checkout_with_the_patterns_is_current():
    result = plan(with_checkout(hostvars_of(a=settings(), b=settings()), "b", RECEIVER_PATHS), ["a", "b"])
    assert result["b"]["checkout"] == RECEIVER_PATHS and result["b"]["checkout_sparse_current"] is True


def test_up_to_date_needs_the_facts_and_the_patterns():
    hostvars = hostvars_of(a=settings(), b=settings(), c=settings())
    hostvars["a"]["__enclave_build_facts"] = dict(DEBIAN, up_to_date=True, checkout={"sparse": []})
    hostvars["b"]["__enclave_build_facts"] = dict(DEBIAN, up_to_date=True, checkout={"sparse": RECEIVER_PATHS})
    # c's checkout is the full one of a host that built before.
    hostvars["c"]["__enclave_build_facts"] = dict(DEBIAN, up_to_date=True, checkout={"sparse": []})
    result = plan(hostvars, ["a", "b", "c"])
    assert [result[h]["up_to_date"] for h in "abc"] == [True, True, False]
    # Only b has nothing to do before its image: a builds, c's checkout moves to the patterns.
    assert [result[h]["prepares"] for h in "abc"] == [True, False, True]


@pytest.mark.parametrize("found, patterns, current, sparse", [
    # A receiver's sparse checkout at the commit, with its patterns.
    ({"current": True, "sparse": RECEIVER_PATHS}, RECEIVER_PATHS, True, True),
    # At the commit, but still the full checkout of a builder: sparse_checkout narrows it.
    ({"current": True, "sparse": []}, RECEIVER_PATHS, False, True),
    # A builder's full checkout at the commit: the git module's.
    ({"current": True, "sparse": []}, [], True, False),
    # A builder that was a receiver: sparse_checkout turns it back into a full one.
    ({"current": True, "sparse": RECEIVER_PATHS}, [], False, True),
    ({"current": False, "sparse": []}, [], False, False),
])
def test_where_the_checkout_is_and_which_module_moves_it(found, patterns, current, sparse):
    hostvars = hostvars_of(a=settings(), b=settings())
    host = "b" if patterns else "a"
    hostvars[host]["__enclave_build_facts"] = dict(DEBIAN, checkout=found)
    mine = plan(hostvars, ["a", "b"])[host]
    assert mine["checkout"] == patterns
    assert (mine["checkout_current"], mine["checkout_sparse"]) == (current, sparse)


def test_a_builder_that_was_a_receiver_needs_a_full_checkout_again():
    result = plan(with_checkout(hostvars_of(a=settings(), b=settings()), "a", RECEIVER_PATHS), ["a", "b"])
    assert result["a"]["builds"] and result["a"]["checkout"] == []
    assert result["a"]["checkout_sparse_current"] is False


def test_receivers_check_out_everything_when_asked():
    result = plan(hostvars_of(a=settings(enclave_build_receiver_checkout="full"),
                              b=settings(enclave_build_receiver_checkout="full")), ["a", "b"])
    assert result["b"]["checkout"] == [] and result["b"]["checkout_sparse_current"] is True


def test_receiver_patterns_leave_out_every_tar_of_the_kind():
    values = settings(enclave_build_kind="registry", enclave_build_requirements_file="requirements.txt",
                      enclave_build_image_tars={"registry": ["part.aa", "part.ab"]},
                      enclave_build_permitted_pcr0={"registry": [PCR0]})
    result = plan(hostvars_of(a=values, b=values), ["a", "b"])
    assert result["b"]["checkout"] == ["/registry_enclave/", "/requirements.txt",
                                       "!/registry_enclave/part.aa*", "!/registry_enclave/part.ab*"]


def test_hosts_that_put_the_image_elsewhere_do_not_share_a_builder():
    s3 = {"enclave_build_distribution": "s3", "enclave_build_s3_bucket": "eif-one"}
    result = plan(hostvars_of(a=settings(**s3), b=settings(**{**s3, "enclave_build_s3_bucket": "eif-two"}),
                              c=settings(**s3)), ["a", "b", "c"])
    assert [result[h]["builder"] for h in "abc"] == ["a", "b", "a"]
    assert result["b"]["errors"] == [] and result["c"]["checkout"] == RECEIVER_PATHS


S3 = {"enclave_build_strategy": "once", "enclave_build_distribution": "s3", "enclave_build_s3_bucket": "opencontracts-eif"}


@pytest.mark.parametrize("changes, messages", [
    ({}, []),
    ({"enclave_build_s3_region": "eu-central-1", "enclave_build_s3_endpoint_url": "http://10.89.0.9:5000",
      "enclave_build_s3_sse": "aws:kms", "enclave_build_s3_kms_key_id": "alias/eif", "enclave_build_s3_url_expiry": 604800,
      "enclave_build_s3_access": "instance_profile", "enclave_build_s3_prefix": "fleet-1/eif"}, []),
    ({"enclave_build_distribution": "ftp"}, ["enclave_build_distribution must be controller or s3; got 'ftp'"]),
    ({"enclave_build_receiver_checkout": "none"}, ["enclave_build_receiver_checkout must be sparse or full; got 'none'"]),
    ({"enclave_build_strategy": "per_host"},
     ["enclave_build_distribution s3 needs enclave_build_strategy once: with per_host every host builds its own image "
      "and there is nothing to distribute"]),
    ({"enclave_build_s3_bucket": ""},
     ["enclave_build_distribution s3 needs enclave_build_s3_bucket, the bucket that holds the verified images"]),
    ({"enclave_build_s3_bucket": "My_Bucket"},
     ["enclave_build_s3_bucket must be an S3 bucket name (3-63 lower-case letters, digits, '.' and '-'); got 'My_Bucket'"]),
    ({"enclave_build_s3_prefix": "/eif/"},
     ["enclave_build_s3_prefix must be a key prefix without a leading or trailing '/' (letters, digits and !_.*'()- "
      "between single slashes); got '/eif/'"]),
    ({"enclave_build_s3_prefix": "eif/../x"},
     ["enclave_build_s3_prefix must be a key prefix without a leading or trailing '/' (letters, digits and !_.*'()- "
      "between single slashes); got 'eif/../x'"]),
    ({"enclave_build_s3_region": "Frankfurt"},
     ["enclave_build_s3_region must be empty or an AWS region such as eu-central-1; got 'Frankfurt'"]),
    ({"enclave_build_s3_endpoint_url": "10.89.0.9:5000"},
     ["enclave_build_s3_endpoint_url must be empty or an http(s) URL without a path; got '10.89.0.9:5000'"]),
    ({"enclave_build_s3_sse": ""},
     ["enclave_build_s3_sse must be AES256 or aws:kms (the images are always stored encrypted); got ''"]),
    ({"enclave_build_s3_kms_key_id": "alias/eif"},
     ["enclave_build_s3_kms_key_id needs enclave_build_s3_sse aws:kms; it is 'AES256'"]),
    ({"enclave_build_s3_url_expiry": 0},
     ["enclave_build_s3_url_expiry must be a whole number of seconds from 1 to 604800 (a week); got 0"]),
    ({"enclave_build_s3_url_expiry": 604801},
     ["enclave_build_s3_url_expiry must be a whole number of seconds from 1 to 604800 (a week); got 604801"]),
    ({"enclave_build_s3_url_expiry": "soon"},
     ["enclave_build_s3_url_expiry must be a whole number of seconds from 1 to 604800 (a week); got soon"]),
    ({"enclave_build_s3_access": "keys"},
     ["enclave_build_s3_access must be presigned or instance_profile; got 'keys'"]),
    ({"enclave_build_s3_download_retries": 0},
     ["enclave_build_s3_download_retries must be a whole number, at least 1; got 0"]),
])
def test_one_message_per_broken_distribution_rule(changes, messages):
    assert errors(**dict(S3, **changes)) == messages


def test_the_s3_settings_are_not_judged_without_s3():
    assert errors(enclave_build_s3_bucket="My_Bucket", enclave_build_s3_url_expiry=0) == []


def test_different_inputs_have_their_own_builder():
    result = plan(hostvars_of(a=settings(), b=settings(enclave_build_kind="registry"), c=settings()), ["a", "b", "c"])
    assert [result[h]["builder"] for h in "abc"] == ["a", "b", "a"]
    assert result["b"]["sends"] is False and result["a"]["sends"] is True


def test_per_host_builds_everywhere_and_sends_nothing():
    result = plan(hostvars_of(a=settings(enclave_build_strategy="per_host"),
                              b=settings(enclave_build_strategy="per_host")), ["a", "b"])
    assert all(result[h] == {"builder": h, "builds": True, "sends": False, "prepares": True, "checkout": [],
                             "checkout_sparse_current": True, "checkout_current": False, "checkout_sparse": False,
                             "up_to_date": False, "errors": [], "warnings": []} for h in "ab")


def test_a_lone_builder_sends_only_when_later_batches_follow():
    assert plan(hostvars_of(a=settings()), ["a"])["a"]["sends"] is False
    assert plan(hostvars_of(a=settings(), b=settings()), ["a"], ["a", "b"])["a"]["sends"] is True


def test_a_configured_builder_is_used():
    result = plan(hostvars_of(a=settings(enclave_build_builder="b"), b=settings(enclave_build_builder="b")), ["a", "b"])
    assert result["a"]["builder"] == "b" and result["b"]["builds"] and result["b"]["sends"]


def test_a_builder_with_other_inputs_is_refused():
    result = plan(hostvars_of(a=settings(enclave_build_builder="b"),
                              b=settings(enclave_build_builder="b", enclave_build_method="artifact")), ["a", "b"])
    assert len(result["a"]["errors"]) == 1
    assert result["a"]["errors"][0].startswith("a: enclave_build_builder b cannot build for a: its build inputs")


def test_an_earlier_batch_builder_serves_the_later_batches():
    hostvars = hostvars_of(a=settings(), b=settings(), c=settings())
    hostvars["a"]["_enclave_build_plan"] = {"a": {"builder": "a", "builds": True, "sends": True, "errors": []}}
    hostvars["a"]["_enclave_build_verified"] = {"sha256": "ab" * 32}
    result = plan(hostvars, ["b", "c"], ["a", "b", "c"])
    assert result["b"] == {"builder": "a", "builds": False, "sends": False, "prepares": True, "checkout": RECEIVER_PATHS,
                           "checkout_sparse_current": False, "checkout_current": False, "checkout_sparse": True,
                           "up_to_date": False, "errors": [], "warnings": []}
    assert result["c"]["builder"] == "a"


def test_an_earlier_batch_host_that_did_not_build_is_not_chosen():
    hostvars = hostvars_of(a=settings(), b=settings())
    hostvars["a"]["_enclave_build_plan"] = {"a": {"builder": "a", "builds": True, "sends": True, "errors": []}}
    hostvars["a"]["_enclave_build_verified"] = None
    result = plan(hostvars, ["b"], ["a", "b"])
    assert result["b"]["builder"] == "b" and result["b"]["builds"]


def test_a_configured_builder_outside_the_batch_that_built_nothing_is_refused():
    hostvars = hostvars_of(a=settings(), b=settings(enclave_build_builder="a"))
    result = plan(hostvars, ["b"], ["a", "b"])
    assert result["b"]["errors"] == [
        "b: enclave_build_builder ('a') must be empty or a host of this play (b)",
        "b: enclave_build_builder a cannot build for b: it is not a host of this batch nor built in an earlier one"]


# --- enclave_build_installed_current --------------------------------------------------------------------

IMAGE = {"sha256": "ab" * 32, "size": 4096, "measurements": {"PCR0": PCR0}, "matched_pcr0": PCR0,
         "permitted": True, "image_id": None}
CONTEXT = {"kind": "oracle", "path": "/opt/opencontracts/oracle.eif", "method": "tars", "strategy": "once",
           "builder": "a", "repo_url": "file:///srv/git/x.git", "repo_version": COMMIT, "commit": COMMIT}


def installed(**changes):
    record = dict(IMAGE, **CONTEXT)
    values = {"exists": True, "sha256": IMAGE["sha256"], "mode": "0644", "record": json.loads(json.dumps(record))}
    values.update(changes)
    return values


def current(value, image=None, allowed=None):
    record = dict(IMAGE if image is None else image, **CONTEXT)
    return FILTERS["enclave_build_installed_current"](value, record, allowed)


def test_the_installed_image_with_its_record_is_current():
    assert current(installed()) is True
    assert current(installed(), allowed=[PCR0.upper()]) is True


@pytest.mark.parametrize("value", [
    {"exists": False, "sha256": None, "mode": None, "record": None},
    installed(sha256="cd" * 32),
    installed(mode="0600"),
    installed(record=None),
    installed(record=dict(installed()["record"], commit="f" * 40)),
    installed(record=dict(installed()["record"], size="4096")),
])
def test_another_image_mode_or_record_is_not_current(value):
    assert current(value) is False


def test_no_verified_image_is_never_current():
    assert FILTERS["enclave_build_installed_current"](installed(), None) is False
    assert current(installed(), image={}) is False
    no_image = FILTERS["enclave_build_record"](dict(role_defaults(), enclave_build_strategy="once",
                                                    enclave_build_repo_url="file:///srv/git/x.git"), None, "a", COMMIT)
    assert FILTERS["enclave_build_installed_current"](installed(), no_image) is False


def test_an_allow_list_without_the_images_pcr0_is_not_current():
    assert current(installed(), allowed=[OTHER_PCR0]) is False
    unpermitted = dict(IMAGE, permitted=False)
    value = installed(record=json.loads(json.dumps(dict(unpermitted, **CONTEXT))))
    assert current(value, image=unpermitted) is True
    assert current(value, image=unpermitted, allowed=[PCR0]) is False


# `$` matches before a trailing line break; a version or URL is matched to its very end.
@pytest.mark.parametrize("changes", [
    {"enclave_build_repo_version": COMMIT + "\n"},
    {"enclave_build_repo_url": "file:///srv/git/enclave-protocol.git\n"},
])
def test_a_trailing_line_break_is_refused(changes):
    assert len(errors(**changes)) == 1


# --- enclave_build_contract ------------------------------------------------------------------------------

def contract(**changes):
    settings = role_defaults()
    settings.update(changes)
    return FILTERS["enclave_build_contract"](settings)


REQUIREMENTS = {"path": "ec2_instance/requirements.txt", "variable": "enclave_build_requirements_file"}
ORACLE_SERVE = {"path": "oracle_enclave/serve_oracle.sh", "variable": "oracle_service_script",
                "settings": ["PROVIDER", "REGISTRY", "PRICE", "NO_DEMAND_TIMEOUT"],
                "settings_variable": "oracle_service_append_missing"}


def test_the_defaults_contract_is_requirements_tars_script_and_serve_script():
    assert contract() == [
        REQUIREMENTS,
        {"path": "oracle_enclave/tars2image.sh", "variable": "enclave_build_tars_script", "mentions": ["oracle_enclave"]},
        ORACLE_SERVE,
    ]


def test_a_registry_built_from_source_with_its_own_names():
    assert contract(enclave_build_kind="registry", enclave_build_method="source", enclave_build_source_script="make.sh",
                    enclave_build_enclave_dirs={"registry": "reg"}, registry_service_script="run.sh") == [
        REQUIREMENTS,
        {"path": "reg/make.sh", "variable": "enclave_build_source_script"},
        {"path": "reg/run.sh", "variable": "registry_service_script", "settings": []},
    ]


def test_an_artifact_needs_no_build_script_and_append_missing_needs_no_setting_lines():
    assert contract(enclave_build_method="artifact", oracle_service_script="serve.sh",
                    oracle_service_append_missing=True) == [
        REQUIREMENTS,
        {"path": "oracle_enclave/serve.sh", "variable": "oracle_service_script", "settings": [],
         "settings_variable": "oracle_service_append_missing"},
    ]


@pytest.mark.parametrize("uri, mention", [
    ("oracle_enclave:latest", "oracle_enclave"),
    ("registry.example:5000/team/oracle:1.2", "registry.example:5000/team/oracle"),
    ("registry.example:5000/team/oracle", "registry.example:5000/team/oracle"),
    ("oracle", "oracle"),
])
def test_the_tars_script_mentions_the_image_without_its_tag(uri, mention):
    assert contract(enclave_build_docker_uri={"oracle": uri})[1]["mentions"] == [mention]


def test_a_kind_without_a_folder_or_image_gives_empty_names():
    assert contract(enclave_build_enclave_dirs={}, enclave_build_docker_uri={})[1:] == [
        {"path": "/tars2image.sh", "variable": "enclave_build_tars_script", "mentions": [""]},
        dict(ORACLE_SERVE, path="/serve_oracle.sh"),
    ]


def test_the_contract_needs_the_settings_as_a_dictionary():
    with pytest.raises(plugin.AnsibleFilterError, match="expects the role's variables as a dictionary, got list"):
        FILTERS["enclave_build_contract"]([])


# --- enclave_build_record, enclave_build_s3_objects, enclave_build_result ----------------------------------

def record_settings(**changes):
    return dict(role_defaults(), enclave_build_strategy="once", enclave_build_repo_url="file:///srv/git/x.git", **changes)


def test_the_record_is_the_image_with_what_it_was_built_from():
    assert FILTERS["enclave_build_record"](record_settings(), IMAGE, "a", COMMIT) == dict(IMAGE, **CONTEXT)
    # The record of the installed image compares equal: the same record, written and read back.
    assert current(installed()) is True
    with pytest.raises(plugin.AnsibleFilterError, match="enclave_build_record: expects the role's variables"):
        FILTERS["enclave_build_record"](None, IMAGE, "a", COMMIT)


def test_a_record_without_an_image_names_none():
    record = FILTERS["enclave_build_record"](record_settings(), None, "a", "")
    assert {name: record[name] for name in ("sha256", "size", "measurements", "matched_pcr0", "permitted", "image_id")} == {
        "sha256": None, "size": None, "measurements": {}, "matched_pcr0": None, "permitted": False, "image_id": None}
    assert record["builder"] == "a" and record["commit"] == ""


def test_the_bucket_holds_the_image_and_its_record_by_content():
    record = dict(IMAGE, **CONTEXT)
    objects = FILTERS["enclave_build_s3_objects"](record_settings(enclave_build_s3_prefix="eif/prod"), record,
                                                  "/var/lib/eb/oracle.eif")
    stem = "eif/prod/oracle/" + "ab" * 32
    assert [(o["key"], o["size"], o["content_type"]) for o in objects] == [
        (stem + ".eif", 4096, "application/octet-stream"), (stem + ".json", None, "application/json")]
    assert objects[0]["src"] == "/var/lib/eb/oracle.eif" and "content" not in objects[0]
    assert json.loads(objects[1]["content"]) == record and objects[1]["content"].endswith("}\n")
    assert FILTERS["enclave_build_s3_objects"](record_settings(), dict(record, sha256=None), "/x.eif") == []


def test_the_result_is_the_record_with_where_it_is_and_what_this_run_did():
    record = dict(IMAGE, **CONTEXT)
    result = FILTERS["enclave_build_result"](record, {"installed_image": {"sha256": "cd" * 32}}, True)
    assert result == {"kind": "oracle", "path": "/opt/opencontracts/oracle.eif",
                      "record_path": "/opt/opencontracts/oracle.eif.json", "sha256": "ab" * 32, "size": 4096,
                      "measurements": {"PCR0": PCR0}, "matched_pcr0": PCR0, "permitted": True, "changed": True,
                      "built": True, "builder": "a", "method": "tars", "commit": COMMIT, "image_id": None}
    assert FILTERS["enclave_build_result"](record, {"installed_image": {"sha256": "ab" * 32}}, "False")["changed"] is False
    assert FILTERS["enclave_build_result"](record, {"installed_image": {"sha256": "ab" * 32}}, "False")["built"] is False
    # Check mode before a build: nothing known, so it may change.
    nothing = FILTERS["enclave_build_record"](record_settings(), None, "a", COMMIT)
    assert FILTERS["enclave_build_result"](nothing, {"installed_image": {"sha256": None}}, False)["changed"] is True
