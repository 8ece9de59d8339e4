"""The preflight filters of host_prep and socat: one message per bad value, none for good ones."""

import pytest

from ansible_collections.opencontracts.enclave.plugins.filter import host_prep_inputs as inputs

DEBIAN = {"platform": "debian", "os_id": "debian", "distribution": "Debian GNU/Linux", "distribution_version": "12",
          "architecture": "x86_64", "in_container": True}
PIN = "6aeece6993e902708983b209d04c0d1dbb14ebb405ddb87def578d41f920f56d"

HOST_PREP = {
    "host_prep_packages": ["git", "go"], "host_prep_packages_extra": [], "host_prep_nitro_cli_package": "",
    "host_prep_nitro_cli_package_sha256": "", "host_prep_docker_install": True, "host_prep_enclave_user": "oracle",
    "host_prep_enclave_user_create": False, "host_prep_enclave_groups": ["ne", "docker"],
    "host_prep_allocator_enabled": True, "host_prep_allocator_memory_mib": 11000, "host_prep_allocator_cpu_count": 2,
    "host_prep_allocator_cpu_pool": "", "host_prep_allocator_host_reserved_mib": 2048, "host_prep_rust_enabled": False,
    "host_prep_rust_toolchain": "stable", "host_prep_rust_targets": ["x86_64-unknown-linux-musl"],
    "host_prep_rust_home": "/usr/local/rust", "host_prep_reboot_timeout": 900,
    "host_prep_rustup_init": {"x86_64": {"url": "https://static.rust-lang.org/rustup-init", "sha256": PIN}},
}
FACTS = {"platform": DEBIAN, "nitro_cli": {"present": True, "deb": None}, "user": {"name": "oracle", "exists": True},
         "units": {"docker": {"loaded": True}}, "allocator": {"error": None, "enclave_cpus": [1, 9], "settled": True}}


def errors(facts=None, **changes):
    values = dict(HOST_PREP, **changes)
    return inputs.host_prep_input_errors(values, dict(FACTS, **(facts or {})), "oracle-1")


def test_good_inputs_have_no_message():
    assert errors() == []


def test_every_bad_value_has_its_own_message():
    found = errors(host_prep_allocator_memory_mib=10, host_prep_allocator_host_reserved_mib=-1,
                   host_prep_reboot_timeout=5, host_prep_enclave_groups=[], host_prep_enclave_user="Bad User",
                   host_prep_packages=["git", "; rm"])
    assert found == [
        "host_prep_allocator_memory_mib must be at least 64 (got 10)",
        "host_prep_allocator_host_reserved_mib must be at least 0 (got -1)",
        "host_prep_reboot_timeout must be at least 60 (got 5)",
        "host_prep_enclave_groups must be a non-empty list of group names (got [])",
        "host_prep_enclave_user must be empty or a user name (got 'Bad User')",
        "host_prep_packages and host_prep_packages_extra must be package names (got ['git', '; rm'])",
    ]


@pytest.mark.parametrize("changes, message", [
    ({"host_prep_allocator_cpu_count": 0}, "host_prep_allocator_cpu_count must be at least 1 (got 0)"),
    ({"host_prep_allocator_cpu_count": "two"}, "host_prep_allocator_cpu_count must be at least 1 (got two)"),
    ({"host_prep_allocator_cpu_pool": "1 and 5"},
     "host_prep_allocator_cpu_pool must be empty or a CPU list such as 1,9 or 2-3,10-11 (got '1 and 5')"),
    ({"host_prep_allocator_cpu_pool": "1-200000000"},
     "host_prep_allocator_cpu_pool names CPUs beyond 8191, more than any host has (got '1-200000000')"),
    ({"host_prep_allocator_cpu_pool": "9" * 5000},
     "host_prep_allocator_cpu_pool names CPUs beyond 8191, more than any host has (got '99999999999999999999...')"),
    ({"host_prep_allocator_cpu_pool": "3-1"},
     "host_prep_allocator_cpu_pool must be empty or a CPU list such as 1,9 or 2-3,10-11 (got '3-1')"),
])
def test_allocator_values(changes, message):
    assert errors(**changes) == [message]


def test_a_pool_replaces_the_count():
    assert errors(host_prep_allocator_cpu_pool="1,9", host_prep_allocator_cpu_count=0) == []


def test_the_allocator_is_not_checked_when_not_managed():
    assert errors(host_prep_allocator_enabled=False, host_prep_allocator_memory_mib=1,
                  facts={"allocator": None}) == []


def test_the_hosts_refusal_names_the_setting_unless_a_value_is_already_wrong():
    refusal = {"error": "refusing to configure the Nitro Enclaves allocator: 3 CPUs is not a multiple of 2", "enclave_cpus": []}
    assert errors(facts={"allocator": refusal}, host_prep_allocator_cpu_count=3) == [
        "host_prep_allocator_memory_mib=11000, host_prep_allocator_cpu_count=3 do not fit oracle-1: "
        "refusing to configure the Nitro Enclaves allocator: 3 CPUs is not a multiple of 2"]
    assert errors(facts={"allocator": refusal}, host_prep_allocator_cpu_pool="1,2,3")[0].startswith(
        "host_prep_allocator_memory_mib=11000, host_prep_allocator_cpu_pool=1,2,3 do not fit")
    assert errors(facts={"allocator": refusal}, host_prep_allocator_memory_mib=10) == [
        "host_prep_allocator_memory_mib must be at least 64 (got 10)"]


def test_an_unsupported_system():
    facts = {"platform": dict(DEBIAN, platform="unsupported", distribution="Alpine Linux", distribution_version="3.20")}
    assert errors(facts=facts) == [
        "host_prep supports Amazon Linux 2, Amazon Linux 2023, Debian and Ubuntu; oracle-1 runs Alpine Linux 3.20"]


def test_debian_without_nitro_cli_needs_a_package(tmp_path):
    missing = {"nitro_cli": {"present": False}}
    assert errors(facts=missing) == [
        "Debian GNU/Linux has no Nitro Enclaves CLI package: oracle-1 has no nitro-cli and host_prep_nitro_cli_package"
        " is empty. Build the CLI package (aws-nitro-enclaves-cli) and name its .deb, or install nitro-cli on the host first."]
    deb = tmp_path / "cli.deb"
    assert errors(facts=missing, host_prep_nitro_cli_package=str(tmp_path / "none.deb"),
                  host_prep_nitro_cli_package_sha256=PIN)[0].startswith(
        "host_prep_nitro_cli_package (%s) is neither an http(s) URL nor a file on the controller" % (tmp_path / "none.deb"))
    deb.write_bytes(b"x")
    assert errors(facts=missing, host_prep_nitro_cli_package=str(deb), host_prep_nitro_cli_package_sha256=PIN) == []
    assert errors(facts=missing, host_prep_nitro_cli_package="https://example.org/cli.deb",
                  host_prep_nitro_cli_package_sha256=PIN) == []


def test_a_cli_package_always_needs_its_sha256(tmp_path):
    deb = tmp_path / "cli.deb"
    deb.write_bytes(b"x")
    # A file on the controller too (it used to be documented as optional there).
    assert errors(host_prep_nitro_cli_package=str(deb)) == [
        "host_prep_nitro_cli_package_sha256 must be the SHA-256 (64 hex digits) of %s (got ''); a package is never"
        " installed unchecked, a file on the controller included" % deb]
    assert len(errors(host_prep_nitro_cli_package="https://example.org/cli.deb",
                      host_prep_nitro_cli_package_sha256="abc")) == 1


def test_the_cli_rules_are_for_debian_only():
    al2023 = {"platform": dict(DEBIAN, platform="amazon2023"), "nitro_cli": {"present": False},
              "units": {"docker": {"loaded": False}}}
    assert errors(facts=al2023, host_prep_nitro_cli_package="nowhere.deb", host_prep_docker_install=False) == []


def test_no_docker_and_no_install():
    assert errors(facts={"units": {"docker": {"loaded": False}}}, host_prep_docker_install=False) == [
        "oracle-1 has no docker.service and host_prep_docker_install is false: install docker first or let the role"
        " install the distribution's package"]


def test_a_missing_user_must_be_created():
    facts = {"user": {"name": "oracle", "exists": False}}
    assert errors(facts=facts) == [
        "the service user 'oracle' does not exist on oracle-1: create it, name another one (host_prep_enclave_user) or"
        " set host_prep_enclave_user_create: true"]
    assert errors(facts=facts, host_prep_enclave_user_create=True) == []


@pytest.mark.parametrize("home", ['/opt/my "rust"', "/opt/$HOME/rust", "/opt/rust dir", "/opt/`id`"])
def test_rust_home_is_written_into_a_shell_profile_unquoted_characters_only(home):
    # The profile says export RUSTUP_HOME="<home>/rustup": a quote, $ or ` there would break or run code.
    assert errors(host_prep_rust_enabled=True, host_prep_rust_home=home) == [
        "host_prep_rust_home must be an absolute path of letters, digits and . _ - / (got '%s')" % home]


def test_rust_rules_apply_when_enabled():
    assert errors(host_prep_rust_enabled=True) == []
    found = errors(host_prep_rust_enabled=True, host_prep_rustup_init={"x86_64": {"url": "ftp://x/rustup-init", "sha256": "1"}},
                   host_prep_rust_toolchain="-x", host_prep_rust_targets=["a b"], host_prep_rust_home="usr/local/rust")
    assert found == [
        "host_prep_rustup_init.x86_64.url must be an http(s) URL or a file on the controller (got 'ftp://x/rustup-init')",
        "host_prep_rustup_init.x86_64.sha256 must be 64 hex digits (got '1')",
        "host_prep_rust_toolchain must be a rustup toolchain name (got '-x')",
        "host_prep_rust_targets must be a list of rustup target names (got ['a b'])",
        "host_prep_rust_home must be an absolute path of letters, digits and . _ - / (got 'usr/local/rust')",
    ]
    assert errors(host_prep_rust_enabled=True, host_prep_rustup_init={"aarch64": {}}) == [
        "host_prep_rustup_init must map this host's architecture (x86_64) to {url: <http(s) URL or a file on the"
        " controller>, sha256: <64 hex digits>} (got nothing for it)"]


SOCAT = {"socat_method": "auto", "socat_version": "1.7.4.2", "socat_source_url": "http://www.dest-unreach.org/socat/download/socat-1.7.4.2.tar.gz",
         "socat_source_sha256": PIN, "socat_source_tarball": "", "socat_prefix": "/usr/local",
         "socat_build_dir": "/var/tmp/opencontracts-socat", "socat_build_jobs": 2, "socat_package_name": "socat",
         "socat_build_packages_extra": []}
SOCAT_FACTS = {"platform": DEBIAN, "problem": None, "plan": "use"}


def socat_errors(facts=None, **changes):
    return inputs.socat_input_errors(dict(SOCAT, **changes), dict(SOCAT_FACTS, **(facts or {})), "oracle-1")


def test_socat_good_inputs_have_no_message():
    assert socat_errors() == []


def test_socat_every_bad_value_has_its_own_message():
    found = socat_errors(socat_version="1.7.x", socat_source_sha256="x", socat_source_url="http://host/", socat_prefix="usr",
                         socat_build_dir="/tmp", socat_build_jobs=0, socat_package_name="so:cat",
                         socat_build_packages_extra=["ok", "not ok"])
    assert found == [
        "socat_version must look like 1.7.4.2 (got '1.7.x')",
        "socat_source_sha256 must be 64 hex digits (got 'x')",
        "socat_source_url must be an http(s)/ftp/file URL of a file (got 'http://host/') unless socat_source_tarball is set",
        "socat_prefix must be an absolute path (got 'usr')",
        "socat_build_dir must be a dedicated folder the role may delete: an absolute path below another folder, named"
        " for socat, for example /var/tmp/opencontracts-socat (got '/tmp')",
        "socat_build_jobs must be at least 1 (got 0)",
        "socat_package_name must be a package name (got 'so:cat')",
        "socat_build_packages_extra must be package names (got ['ok', 'not ok'])",
    ]


def test_socat_tarball_must_be_on_the_controller(tmp_path):
    assert socat_errors(socat_source_tarball=str(tmp_path / "none.tar.gz"), socat_source_url="") == [
        "socat_source_tarball '%s' is not a file on the controller" % (tmp_path / "none.tar.gz")]
    assert socat_errors(socat_source_tarball=str(tmp_path / "none.tar.gz"), socat_method="installed") == []


@pytest.mark.parametrize("build_dir", ["/opt", "/var", "/etc", "/home", "/home/admin", "/opt/socat/../..", "/socat",
                                       "var/tmp/socat", "/opt/socat"])
def test_socat_build_dir_is_deleted_so_it_must_be_a_folder_of_its_own(build_dir):
    assert socat_errors(socat_build_dir=build_dir, socat_prefix="/opt/socat") == [
        "socat_build_dir must be a dedicated folder the role may delete: an absolute path below another folder, named"
        " for socat, for example /var/tmp/opencontracts-socat (got '%s')" % build_dir]


@pytest.mark.parametrize("build_dir", ["/var/tmp/opencontracts-socat", "/var/tmp/socat-mismatch", "/srv/build/socat"])
def test_socat_build_dir_of_its_own(build_dir):
    assert socat_errors(socat_build_dir=build_dir) == []


def test_socat_a_problem_found_on_the_host_and_an_unsupported_system():
    assert socat_errors(facts={"problem": "socat_method is installed, but no socat (/usr/bin/socat) lists VSOCK-CONNECT"}) == [
        "oracle-1: socat_method is installed, but no socat (/usr/bin/socat) lists VSOCK-CONNECT"]
    assert socat_errors(facts={"platform": dict(DEBIAN, platform="unsupported", distribution="Alpine Linux",
                                                distribution_version="3.20")}) == [
        "the socat role supports Amazon Linux 2, Amazon Linux 2023, Debian and Ubuntu; oracle-1 runs Alpine Linux 3.20"]


def test_the_filters_are_registered():
    assert set(inputs.FilterModule().filters()) == {"host_prep_input_errors", "socat_input_errors", "host_prep_reboot_reasons"}


# `$` matches before a trailing line break; names and paths are matched to their very end.
@pytest.mark.parametrize("changes", [
    {"host_prep_enclave_user": "oracle\n"},
    {"host_prep_enclave_groups": ["ne", "docker\n"]},
    {"host_prep_packages": ["git\n"]},
    {"host_prep_allocator_cpu_pool": "1,9\n"},
])
def test_a_trailing_line_break_is_refused(changes):
    assert len(errors(**changes)) == 1


@pytest.mark.parametrize("pin, bad", [("", False), ("1.2.2", False), ("1.2.2-1.amzn2023", False), ("1.2.2-1", False),
                                      ("latest", True), ("1.2.2; rm -rf /", True), ("1.2.2\n", True), ("1", True)])
def test_a_pinned_nitro_cli_version_is_a_package_version(pin, bad):
    message = ("host_prep_nitro_cli_version must be empty (any version) or a package version such as 1.2.2 or"
               " 1.2.2-1.amzn2023 (got '%s')" % pin)
    assert errors(host_prep_nitro_cli_version=pin) == ([message] if bad else [])


# --- host_prep_reboot_reasons ----------------------------------------------------------------------------

SKIPPED = {"changed": False, "skipped": True}
PACKAGES_REASON = "a package change asks for it (new kernel or driver)"
JOINED = {"user": {"name": "oracle", "exists": True, "login": True, "joins_groups": True}}


def reasons(reboot_required=None, needs_restarting=None, facts=None, groups=("ne", "docker")):
    checks = {"reboot_required": reboot_required or SKIPPED, "needs_restarting": needs_restarting or SKIPPED}
    return inputs.FilterModule().filters()["host_prep_reboot_reasons"](checks, facts or FACTS, list(groups))


@pytest.mark.parametrize("reboot_required, needs_restarting, expected", [
    (SKIPPED, SKIPPED, []),
    ({"stat": {"exists": False}}, SKIPPED, []),
    ({"stat": {"exists": True}}, SKIPPED, [PACKAGES_REASON]),
    (SKIPPED, {"rc": 0}, []),
    (SKIPPED, {"rc": 1}, [PACKAGES_REASON]),
    # needs-restarting missing or broken is no reason to reboot.
    (SKIPPED, {"rc": 127}, []),
])
def test_a_package_change_asks_for_a_reboot(reboot_required, needs_restarting, expected):
    assert reasons(reboot_required, needs_restarting) == expected


def test_a_login_user_that_joined_groups():
    assert reasons(facts=JOINED) == ["user oracle joined ne, docker and may have running sessions"]
    assert reasons({"stat": {"exists": True}}, facts=JOINED) == [
        PACKAGES_REASON, "user oracle joined ne, docker and may have running sessions"]
    no_login = {"user": dict(JOINED["user"], login=False)}
    assert reasons(facts=no_login) == []
    assert reasons(facts={"user": dict(JOINED["user"], joins_groups=False)}) == []


def test_the_filter_is_documented():
    import os
    import yaml
    path = os.path.join(os.path.dirname(inputs.__file__), "host_prep_reboot_reasons.yml")
    with open(path) as handle:
        assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == "host_prep_reboot_reasons"
