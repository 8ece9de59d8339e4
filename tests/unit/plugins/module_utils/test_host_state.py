"""host_state: recorded os-release, dpkg, rpm and systemctl outputs; real files, folders and users."""

import grp
import hashlib
import os
import pwd

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state

OS_RELEASE_AL2023 = 'NAME="Amazon Linux"\nVERSION="2023"\nID="amazon"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
OS_RELEASE_AL2 = 'NAME="Amazon Linux"\nVERSION="2"\nID="amazon"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n'
OS_RELEASE_UBUNTU = 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n# a comment\n'
OS_RELEASE_ALPINE = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\n"


class Recorder:
    """A stand-in for AnsibleModule: run_command answers from ``output``; get_bin_path from ``paths``."""

    def __init__(self, output="", rc=0, paths=None):
        self.output = output
        self.rc = rc
        self.paths = paths or {}
        self.calls = []

    def run_command(self, argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        return self.rc, self.output, ""

    def get_bin_path(self, name):
        return self.paths.get(name)


@pytest.mark.parametrize("text, platform", [
    (OS_RELEASE_AL2023, "amazon2023"), (OS_RELEASE_AL2, "amazon2"), (OS_RELEASE_UBUNTU, "debian"),
    ('ID=debian\nVERSION_ID="12"\n', "debian"), (OS_RELEASE_ALPINE, "unsupported"),
    ('ID="amazon"\nVERSION_ID="2018.03"\n', "unsupported"), ("", "unsupported"),
])
def test_platform_name(text, platform):
    assert host_state.platform_name(host_state.parse_os_release(text)) == platform


def test_platform_facts_reads_the_file(tmp_path):
    path = tmp_path / "os-release"
    path.write_text(OS_RELEASE_UBUNTU)
    facts = host_state.platform_facts(str(path))
    assert facts["platform"] == "debian" and facts["os_id"] == "ubuntu"
    assert facts["distribution"] == "Ubuntu" and facts["distribution_version"] == "24.04"
    assert facts["architecture"] == os.uname().machine and isinstance(facts["in_container"], bool)
    assert host_state.platform_facts(str(tmp_path / "none"))["platform"] == "unsupported"


def test_in_container(tmp_path):
    marker = tmp_path / ".containerenv"
    environ = tmp_path / "environ"
    environ.write_bytes(b"PATH=/bin\0HOME=/\0")
    assert not host_state.in_container(markers=(str(marker),), environ_file=str(environ))
    environ.write_bytes(b"PATH=/bin\0container=podman\0")
    assert host_state.in_container(markers=(str(marker),), environ_file=str(environ))
    marker.write_text("")
    assert host_state.in_container(markers=(str(marker),), environ_file=str(tmp_path / "none"))


def test_packages_missing_on_debian_asks_dpkg():
    # dpkg-query prints the known names (exit status 1 for the unknown ones); "rc" is removed, config kept.
    module = Recorder("git\tii \ngolang-go\trc \n", rc=1)
    assert host_state.packages_missing(module, "debian", ["git", "golang-go", "jq", ""]) == ["golang-go", "jq"]
    argv, kwargs = module.calls[0]
    assert argv[:2] == ["dpkg-query", "--show"] and argv[-4:] == ["--", "git", "golang-go", "jq"]
    assert kwargs["environ_update"]["LC_ALL"] == "C"


def test_packages_missing_on_amazon_linux_asks_rpm():
    module = Recorder("git\nno package provides golang\n", rc=1)
    assert host_state.packages_missing(module, "amazon2023", ["git", "golang"]) == ["golang"]
    assert module.calls[0][0][:3] == ["rpm", "-q", "--whatprovides"]


def test_packages_missing_without_names_or_platform():
    module = Recorder()
    assert host_state.packages_missing(module, "debian", []) == []
    assert host_state.packages_missing(module, "unsupported", ["git"]) == ["git"]
    assert module.calls == []


def test_apt_lists_stale(tmp_path):
    lists = tmp_path / "lists"
    assert host_state.apt_lists_stale(str(lists))
    lists.mkdir()
    (lists / "lock").write_text("")
    assert host_state.apt_lists_stale(str(lists))
    packages = lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"
    packages.write_text("")
    os.utime(str(packages), (1000, 1000))
    assert not host_state.apt_lists_stale(str(lists), now=1000 + 3600)
    assert host_state.apt_lists_stale(str(lists), now=1000 + 3601)


def test_unit_state():
    module = Recorder("LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n", paths={"systemctl": "/bin/systemctl"})
    assert host_state.unit_state(module, "docker.service") == {
        "loaded": True, "active": True, "enabled": True, "active_state": "active", "unit_file_state": "enabled"}
    assert module.calls[0][0][-2:] == ["--", "docker.service"]
    missing = Recorder("LoadState=not-found\nActiveState=inactive\nUnitFileState=\n", paths={"systemctl": "/bin/systemctl"})
    assert host_state.unit_state(missing, "x.service") == {
        "loaded": False, "active": False, "enabled": False, "active_state": "inactive", "unit_file_state": ""}
    assert not any(host_state.unit_state(Recorder("LoadState=loaded\n"), "x.service")[key] for key in ("loaded", "active"))


def test_describe_file(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"content\n")
    path.chmod(0o640)
    described = host_state.describe_file(str(path))
    assert described["exists"] and described["checksum"] == hashlib.sha256(b"content\n").hexdigest()
    assert described["mode"] == "0640"
    assert described["owner"] == pwd.getpwuid(os.getuid()).pw_name
    assert described["group"] == grp.getgrgid(os.getgid()).gr_name
    assert host_state.describe_file(str(tmp_path))["exists"] is False
    assert host_state.describe_file(str(tmp_path / "none")) == {
        "exists": False, "checksum": None, "mode": None, "owner": None, "group": None}


def test_passwd_entry_and_group_members():
    me = pwd.getpwuid(os.getuid())
    assert host_state.passwd_entry(me.pw_name) == {"exists": True, "uid": me.pw_uid, "home": me.pw_dir, "shell": me.pw_shell}
    assert host_state.passwd_entry("no-such-user-here")["exists"] is False
    group = grp.getgrgid(os.getgid())
    assert host_state.group_members([group.gr_name, "no-such-group-here"]) == {group.gr_name: list(group.gr_mem)}
