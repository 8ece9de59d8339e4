"""socat_facts: recorded socat -h / -V, apt-cache policy and dnf info outputs; real executables in a temp folder."""

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state
from ansible_collections.opencontracts.enclave.plugins.modules import socat_facts

from module_runner import run_module

# `socat -V` of Debian bookworm's socat (first lines) and `socat -h` lines with and without VSOCK.
VERSION_1744 = "socat by Gerhard Rieger and contributors - see www.dest-unreach.org\nsocat version 1.7.4.4 on 06 Nov 2022 08:15:51\n"
VERSION_1733 = "socat by Gerhard Rieger and contributors - see www.dest-unreach.org\nsocat version 1.7.3.3 on 13 Feb 2020 00:00:00\n"
HELP_VSOCK = ("socat by Gerhard Rieger and contributors - see www.dest-unreach.org\n"
              "      vsock-connect:<cid>:<port>     groups=FD,SOCKET,CHILD,RETRY\n"
              "      vsock-listen:<port>    groups=FD,SOCKET,LISTEN,CHILD,RETRY\n")
HELP_PLAIN = "socat by Gerhard Rieger and contributors - see www.dest-unreach.org\n      tcp-connect:<host>:<port>\n"

APT_POLICY_NEW = "socat:\n  Installed: (none)\n  Candidate: 1.7.4.4-2\n  Version table:\n     1.7.4.4-2 500\n"
APT_POLICY_OLD = "socat:\n  Installed: (none)\n  Candidate: 1.7.3.3-2\n"
APT_POLICY_NONE = "socat:\n  Installed: (none)\n  Candidate: (none)\n"
DNF_INFO = ("Available Packages\nName         : socat\nVersion      : 1.7.4.2\nRelease      : 1.amzn2023.0.2\n"
            "Name         : socat\nVersion      : 1.7.3.2\nRelease      : 2.amzn2023\n")
YUM_INFO_OLD = "Available Packages\nName        : socat\nArch        : x86_64\nVersion     : 1.7.3.2\nRelease     : 2.2.amzn2\n"

DEBIAN = {"platform": "debian", "os_id": "debian", "distribution": "Debian GNU/Linux", "distribution_version": "12",
          "architecture": "x86_64", "in_container": True}
PIN = "a38f507dea8aaa8f260f54ebc1de1a71e5adca416219f603cda3e3002960173c"


class FakeHost:
    """``socats``: path -> (help, version) of the binaries that exist; ``installed``: package names; ``policy``: apt-cache/dnf output."""

    def __init__(self, socats=None, installed=(), policy=APT_POLICY_NEW):
        self.socats = socats or {}
        self.installed = set(installed)
        self.policy = policy
        self.calls = []

    def __call__(self, module, argv, **kwargs):  # pylint: disable=unused-argument
        self.calls.append(list(argv))
        if argv[0] in self.socats:
            help_text, version = self.socats[argv[0]]
            return 0, help_text if argv[1] == "-h" else version, ""
        if argv[0] == "dpkg-query":
            names = argv[argv.index("--") + 1:]
            return 1, "".join("%s\tii \n" % name for name in names if name in self.installed), ""
        if argv[0] == "rpm":
            return 1, "".join(("%s\n" % name) if name in self.installed else ("no package provides %s\n" % name)
                              for name in argv[5:]), ""
        if argv[:2] in (["apt-cache", "policy"], ["dnf", "-q"], ["yum", "-q"]):
            return 0, self.policy, ""
        raise AssertionError("unexpected command %r" % (argv,))

    def asked_candidate(self):
        return any(call[0] in ("apt-cache", "dnf", "yum") for call in self.calls)


@pytest.fixture
def host(tmp_path, monkeypatch):
    state = {"platform": dict(DEBIAN), "stale": False, "tmp": tmp_path}
    monkeypatch.setattr(host_state, "platform_facts", lambda: dict(state["platform"]))
    monkeypatch.setattr(host_state, "apt_lists_stale", lambda: state["stale"])
    return state


def binary(tmp_path, relative):
    """An executable file at tmp_path/relative (what the module looks for; the FakeHost answers for it)."""
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def args(tmp_path, **overrides):
    base = {"method": "auto", "version": "1.7.4.2", "prefix": str(tmp_path / "local"),
            "system_paths": [str(tmp_path / "usr/bin/socat"), str(tmp_path / "local/bin/socat")],
            "package_binary": str(tmp_path / "usr/bin/socat"),
            "source_url": "http://www.dest-unreach.org/socat/download/socat-1.7.4.2.tar.gz", "source_sha256": PIN.upper(),
            "build_packages": {"debian": ["gcc", "make", "libc6-dev"]}, "build_packages_extra": ["jq"]}
    base.update(overrides)
    return base


def test_auto_keeps_an_installed_socat_with_vsock(host):
    usr = binary(host["tmp"], "usr/bin/socat")
    fake = FakeHost({usr: (HELP_VSOCK, VERSION_1744)}, installed=["socat"])
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert not result["failed"] and not result["changed"]
    assert result["plan"] == "use" and result["problem"] is None
    assert result["result"] == {"binary": usr, "version": "1.7.4.4", "method": "installed"}
    assert result["binaries"] == {usr: {"vsock": True, "version": "1.7.4.4"}}
    assert not fake.asked_candidate() and result["build_packages_missing"] == []


def test_the_source_prefix_is_looked_at_first(host):
    usr = binary(host["tmp"], "usr/bin/socat")
    local = binary(host["tmp"], "local/bin/socat")
    fake = FakeHost({usr: (HELP_VSOCK, VERSION_1744), local: (HELP_VSOCK, "socat version 1.7.4.2 on x\n")})
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert list(result["binaries"]) == [local, usr]
    assert result["result"]["binary"] == local


def test_auto_installs_a_new_enough_package(host):
    fake = FakeHost(policy=APT_POLICY_NEW)
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["plan"] == "package" and result["result"] is None
    assert result["package"] == {"name": "socat", "missing": True, "candidate": "1.7.4.4"}


@pytest.mark.parametrize("policy", [APT_POLICY_OLD, APT_POLICY_NONE])
def test_auto_builds_when_the_package_is_too_old_or_absent(host, policy):
    fake = FakeHost(policy=policy, installed=["gcc"])
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["plan"] == "build"
    assert result["result"] == {"binary": str(host["tmp"] / "local/bin/socat"), "version": "1.7.4.2", "method": "source"}
    assert result["build_packages_missing"] == ["make", "libc6-dev", "jq"]
    assert result["fetch"] == {"source": args(host["tmp"])["source_url"], "sha256": PIN, "name": "socat-1.7.4.2.tar.gz"}


def test_auto_with_stale_lists_asks_for_a_refresh_first(host):
    host["stale"] = True
    fake = FakeHost(policy=APT_POLICY_OLD)
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["plan"] == "package" and result["apt_lists_stale"] and not fake.asked_candidate()


def test_auto_builds_when_the_installed_package_has_no_vsock(host):
    usr = binary(host["tmp"], "usr/bin/socat")
    fake = FakeHost({usr: (HELP_PLAIN, VERSION_1733)}, installed=["socat"])
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["plan"] == "build" and not fake.asked_candidate()
    assert result["binaries"][usr] == {"vsock": False, "version": "1.7.3.3"}


def test_after_the_package_install_its_socat_decides(host):
    usr = binary(host["tmp"], "usr/bin/socat")
    fake = FakeHost({usr: (HELP_VSOCK, VERSION_1744)}, installed=["socat"])
    result = run_module(socat_facts.main, args(host["tmp"], package_installed=True), commands=fake)
    assert result["plan"] == "use" and result["result"]["method"] == "package"
    fake = FakeHost({usr: (HELP_PLAIN, VERSION_1733)}, installed=["socat"])
    result = run_module(socat_facts.main, args(host["tmp"], package_installed=True), commands=fake)
    assert result["plan"] == "build"


def test_check_mode_trusts_a_new_enough_candidate_of_a_package_not_installed(host):
    result = run_module(socat_facts.main, args(host["tmp"], package_installed=True), check_mode=True,
                        commands=FakeHost(policy=APT_POLICY_NEW))
    assert result["plan"] == "use"
    assert result["result"] == {"binary": str(host["tmp"] / "usr/bin/socat"), "version": "1.7.4.4", "method": "package"}
    result = run_module(socat_facts.main, args(host["tmp"], package_installed=True), check_mode=True,
                        commands=FakeHost(policy=APT_POLICY_OLD))
    assert result["plan"] == "build"


def test_method_installed_without_vsock_is_a_problem(host):
    usr = binary(host["tmp"], "usr/bin/socat")
    result = run_module(socat_facts.main, args(host["tmp"], method="installed"),
                        commands=FakeHost({usr: (HELP_PLAIN, VERSION_1733)}))
    assert not result["failed"]
    assert result["plan"] == "none" and result["result"] is None
    assert result["problem"].startswith("socat_method is installed, but no socat (%s, %s) lists VSOCK-CONNECT"
                                        % (host["tmp"] / "local/bin/socat", usr))


def test_method_package(host):
    result = run_module(socat_facts.main, args(host["tmp"], method="package"), commands=FakeHost(policy=APT_POLICY_OLD))
    # Not installed: installed whatever its candidate (the operator asked for it).
    assert result["plan"] == "package"
    usr = binary(host["tmp"], "usr/bin/socat")
    result = run_module(socat_facts.main, args(host["tmp"], method="package", package_installed=True),
                        commands=FakeHost({usr: (HELP_PLAIN, VERSION_1733)}, installed=["socat"]))
    assert result["plan"] == "none"
    assert result["problem"] == ("the distribution's socat has no VSOCK support (socat -h lists no VSOCK-CONNECT); use"
                                 " socat_method auto or source to build socat 1.7.4.2")


def test_method_source_rebuilds_unless_the_prefix_has_the_pinned_version(host):
    local = binary(host["tmp"], "local/bin/socat")
    fake = FakeHost({local: (HELP_VSOCK, VERSION_1744)})
    assert run_module(socat_facts.main, args(host["tmp"], method="source"), commands=fake)["plan"] == "build"
    result = run_module(socat_facts.main, args(host["tmp"], method="source", version="1.7.4.4"), commands=fake)
    assert result["plan"] == "use"
    assert result["result"] == {"binary": local, "version": "1.7.4.4", "method": "source"}


def test_a_tarball_on_the_controller_replaces_the_url(host):
    result = run_module(socat_facts.main, args(host["tmp"], method="source", source_tarball="/srv/socat-9.tar.gz"),
                        commands=FakeHost())
    assert result["fetch"]["source"] == "/srv/socat-9.tar.gz" and result["fetch"]["name"] == "socat-9.tar.gz"


def test_amazon_linux_candidates_come_from_dnf_and_yum(host):
    host["platform"] = dict(DEBIAN, platform="amazon2023", os_id="amazon")
    fake = FakeHost(policy=DNF_INFO)
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["package"]["candidate"] == "1.7.4.2" and result["plan"] == "package"
    assert ["dnf", "-q", "info", "socat"] in fake.calls and not result["apt_lists_stale"]
    host["platform"]["platform"] = "amazon2"
    fake = FakeHost(policy=YUM_INFO_OLD)
    result = run_module(socat_facts.main, args(host["tmp"]), commands=fake)
    assert result["plan"] == "build" and ["yum", "-q", "info", "socat"] in fake.calls


def test_an_unsupported_platform_decides_nothing(host):
    host["platform"] = dict(DEBIAN, platform="unsupported", os_id="alpine")
    result = run_module(socat_facts.main, args(host["tmp"]), commands=FakeHost())
    assert result["plan"] == "none" and result["problem"] is None


@pytest.mark.parametrize("raw, clean", [("1:1.7.4.4-2", "1.7.4.4"), ("(none)", ""), ("1.7.4.2", "1.7.4.2"),
                                        ("1.7.3.2-2.2.amzn2", "1.7.3.2")])
def test_clean_version(raw, clean):
    assert socat_facts.clean_version(raw) == clean


def test_rpm_info_takes_the_highest_version():
    assert socat_facts.parse_rpm_info(DNF_INFO) == "1.7.4.2"
    assert socat_facts.parse_rpm_info("") == ""


def test_a_build_needs_the_platforms_compiler_and_tools_by_default(host):
    params = args(host["tmp"], method="source", build_packages_extra=[])
    del params["build_packages"]
    result = run_module(socat_facts.main, params, commands=FakeHost(installed=["gcc", "tar"]))
    assert result["build_packages_missing"] == ["make", "libc6-dev", "gzip"]
    host["platform"] = dict(DEBIAN, platform="amazon2023", os_id="amazon")
    result = run_module(socat_facts.main, params, commands=FakeHost(installed=["gcc", "tar"]))
    assert result["build_packages_missing"] == ["make", "glibc-devel", "gzip"]
