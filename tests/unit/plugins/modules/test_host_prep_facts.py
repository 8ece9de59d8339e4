"""host_prep_facts: recorded dpkg, rpm, systemctl, lscpu and rustup outputs, real allocator.yaml and package files."""

import hashlib

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state
from ansible_collections.opencontracts.enclave.plugins.modules import host_prep_facts

from module_runner import run_module

# A c5a.4xlarge: 16 vCPUs, CPU i and i+8 on one core, 32 GiB.
LSCPU = "# CPU,Core\n" + "".join("%d,%d\n" % (cpu, cpu % 8) for cpu in range(16))
MEMINFO = "MemTotal:       32505856 kB\nMemFree:        30000000 kB\n"
ALLOCATOR_YAML = "---\n# How much memory to allocate for enclaves (in MiB).\nmemory_mib: 11000\n#\ncpu_count: 2\n"

# `systemctl show --property=LoadState,ActiveState,UnitFileState` of systemd 252.
SHOW_UP = "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
SHOW_ENABLED_STOPPED = "LoadState=loaded\nActiveState=inactive\nUnitFileState=enabled\n"
SHOW_MISSING = "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n"

# `rustup toolchain list` and `rustup target list --installed` of rustup 1.27.
TOOLCHAINS = "stable-x86_64-unknown-linux-gnu (default)\n"
TARGETS = "x86_64-unknown-linux-gnu\n"

DEBIAN = {"platform": "debian", "os_id": "debian", "distribution": "Debian GNU/Linux", "distribution_version": "12",
          "architecture": "x86_64", "in_container": True}
AL2 = dict(DEBIAN, platform="amazon2", os_id="amazon", distribution="Amazon Linux", distribution_version="2")
AL2023 = dict(AL2, platform="amazon2023", distribution_version="2023")


class FakeHost:
    """Answers like a host: ``installed`` package names, unit states, nitro-cli, lscpu and rustup."""

    def __init__(self, installed=(), units=None, nitro_cli=True, toolchains=TOOLCHAINS, targets=TARGETS, versions=None):
        self.installed = set(installed)
        self.versions = versions or {}  # package -> installed version
        self.units = units or {"docker.service": SHOW_UP, "nitro-enclaves-allocator.service": SHOW_UP}
        self.nitro_cli = nitro_cli
        self.toolchains = toolchains
        self.targets = targets
        self.calls = []

    def __call__(self, module, argv, **kwargs):  # pylint: disable=unused-argument
        self.calls.append(list(argv))
        if argv[0] == "dpkg-query" and argv[2] == "--showformat=${db:Status-Abbrev}\t${Version}\n":
            name = argv[-1]
            return (0, "ii \t%s\n" % self.versions[name], "") if name in self.versions else (
                1, "", "dpkg-query: no packages found matching %s\n" % name)
        if argv[0] == "rpm" and argv[2] == "--qf":
            name = argv[-1]
            return (0, self.versions[name] + "\n", "") if name in self.versions else (1, "package %s is not installed\n" % name, "")
        if argv[0] == "dpkg-query":
            names = argv[argv.index("--") + 1:]
            return 1, "".join("%s\tii \n" % name for name in names if name in self.installed), ""
        if argv[0] == "rpm":
            names = argv[5:]
            return 1, "".join(("%s\n" % name) if name in self.installed else ("no package provides %s\n" % name)
                              for name in names), ""
        if argv[1:] == ["--version"]:
            return (0, "Nitro CLI 1.4.2\n", "") if self.nitro_cli else (127, "", "not found")
        if argv[1:3] == ["show", "--property=LoadState,ActiveState,UnitFileState"]:
            return 0, self.units.get(argv[-1], SHOW_MISSING), ""
        if argv[1:] == ["-p=CPU,CORE"]:
            return 0, LSCPU, ""
        if argv[1:3] == ["toolchain", "list"]:
            return 0, self.toolchains, ""
        if argv[1:3] == ["target", "list"]:
            return 0, self.targets, ""
        raise AssertionError("unexpected command %r" % (argv,))

    def ran(self, program):
        return [call for call in self.calls if call[0] == program]


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Debian, user oracle in ne and docker, lists fresh; allocator.yaml and /proc/meminfo as temp files."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    monkeypatch.setattr(host_prep_facts, "MEMINFO", str(meminfo))
    (tmp_path / "allocator.yaml").write_text(ALLOCATOR_YAML)
    state = {"platform": dict(DEBIAN), "users": {"oracle": "/bin/bash", "admin": "/bin/bash", "root": "/bin/bash"},
             "groups": {"ne": ["oracle"], "docker": ["oracle"]}, "stale": False}
    monkeypatch.setattr(host_state, "platform_facts", lambda: dict(state["platform"]))
    monkeypatch.setattr(host_state, "apt_lists_stale", lambda: state["stale"])
    monkeypatch.setattr(host_state, "passwd_entry", lambda name: (
        {"exists": True, "uid": 1000, "home": "/home/" + name, "shell": state["users"][name]}
        if name in state["users"] else {"exists": False, "uid": None, "home": None, "shell": None}))
    monkeypatch.setattr(host_state, "group_members", lambda names: {
        name: list(state["groups"][name]) for name in names if name in state["groups"]})
    state["tmp"] = tmp_path
    return state


def args(tmp_path, **overrides):
    base = {
        "packages": ["git", "go", "python3-devel", "python3-venv"],
        "package_names": {"debian": {"go": ["golang-go"], "python3-devel": ["python3-dev"]},
                          "amazon2": {"go": ["golang"], "python3-venv": []},
                          "amazon2023": {"go": ["golang"], "python3-venv": []}},
        "user": "oracle",
        "allocator": {"memory_mib": 11000, "cpu_count": 2, "path": str(tmp_path / "allocator.yaml")},
        "package_cache_dir": str(tmp_path / "cache"),
    }
    base.update(overrides)
    return base


EVERYTHING_DEBIAN = ["git", "golang-go", "python3-dev", "python3-venv"]


def test_a_prepared_debian_host_has_no_work(host):
    fake = FakeHost(installed=EVERYTHING_DEBIAN)
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=fake)
    assert not result["failed"] and not result["changed"]
    assert result["packages"] == {"wanted": EVERYTHING_DEBIAN, "missing": [], "extras_missing": [], "apt_lists_stale": False}
    assert result["nitro_cli"] == {"present": True, "deb": None, "installed_version": "", "version_ok": True, "pinned": []}
    assert result["user"] == {"name": "oracle", "exists": True, "shell": "/bin/bash", "login": True,
                              "groups_missing": [], "joins_groups": False}
    assert result["groups"] == {"members": {"ne": ["oracle"], "docker": ["oracle"]}, "absent": []}
    assert result["allocator"] == {"enclave_cpus": [1, 9], "error": None, "settled": True}
    assert result["rust"] is None and result["fetch"] == []
    assert result["work"] == {"packages": False, "user": False, "services": False, "allocator": False, "rust": False,
                              "reboot_check": False, "any": False}


def test_missing_packages_are_translated_and_named_in_order(host):
    host["stale"] = True
    fake = FakeHost(installed=["git", "python3-venv"])
    result = run_module(host_prep_facts.main, args(host["tmp"], packages_extra=["jq", "git"]), commands=fake)
    assert result["packages"]["wanted"] == ["git", "golang-go", "python3-dev", "python3-venv", "jq"]
    assert result["packages"]["missing"] == ["golang-go", "python3-dev", "jq"]
    assert result["packages"]["apt_lists_stale"] is True
    # Packages may replace units and ask for a reboot; allocator.yaml may be replaced.
    assert result["work"]["packages"] and result["work"]["services"] and result["work"]["allocator"]
    assert result["work"]["reboot_check"] and result["work"]["any"]


def test_debian_wants_docker_io_only_without_a_docker_unit(host):
    units = {"docker.service": SHOW_MISSING, "nitro-enclaves-allocator.service": SHOW_UP}
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=FakeHost(EVERYTHING_DEBIAN, units=units))
    assert result["packages"]["missing"] == ["docker.io"]
    result = run_module(host_prep_facts.main, args(host["tmp"], docker_install=False),
                        commands=FakeHost(EVERYTHING_DEBIAN, units=units))
    assert result["packages"]["missing"] == []
    assert result["units"]["docker"]["loaded"] is False


def test_amazon_linux_2023_wants_the_cli_and_docker_from_dnf(host):
    host["platform"] = dict(AL2023)
    host["users"]["ec2-user"] = "/bin/bash"
    fake = FakeHost(installed=["git", "golang", "python3-devel", "docker"])
    result = run_module(host_prep_facts.main, args(host["tmp"], user=""), commands=fake)
    assert result["user"]["name"] == "ec2-user"
    assert result["packages"]["missing"] == ["aws-nitro-enclaves-cli", "aws-nitro-enclaves-cli-devel"]
    assert result["packages"]["extras_missing"] == [] and result["packages"]["apt_lists_stale"] is False
    assert fake.ran("rpm") and not fake.ran("dpkg-query")


@pytest.mark.parametrize("installed, extras", [
    ([], ["aws-nitro-enclaves-cli"]),
    (["aws-nitro-enclaves-cli"], ["docker"]),
    (["aws-nitro-enclaves-cli", "docker"], []),
])
def test_amazon_linux_2_takes_the_cli_or_docker_from_extras(host, installed, extras):
    host["platform"] = dict(AL2)
    fake = FakeHost(installed=["git", "golang", "python3-devel", "aws-nitro-enclaves-cli-devel"] + installed)
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=fake)
    assert result["packages"]["extras_missing"] == extras
    assert result["packages"]["missing"] == []
    assert result["work"]["packages"] == bool(extras)


@pytest.mark.parametrize("user, groups, shell, joins, login, missing", [
    ("oracle", {"ne": ["oracle"], "docker": []}, "/bin/bash", True, True, ["docker"]),
    ("oracle", {"ne": ["oracle"]}, "/bin/bash", True, True, ["docker"]),
    ("svc", {"ne": [], "docker": []}, None, True, False, ["ne", "docker"]),
    ("daemon", {"ne": [], "docker": []}, "/usr/sbin/nologin", True, False, ["ne", "docker"]),
    ("root", {"ne": [], "docker": []}, "/bin/bash", False, True, ["ne", "docker"]),
])
def test_the_service_user_and_its_groups(host, user, groups, shell, joins, login, missing):
    host["groups"] = groups
    if shell:
        host["users"][user] = shell
    result = run_module(host_prep_facts.main, args(host["tmp"], user=user), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["user"]["joins_groups"] is joins
    assert result["user"]["login"] is login
    assert result["user"]["groups_missing"] == missing
    assert result["groups"]["absent"] == [name for name in ["ne", "docker"] if name not in groups]
    assert result["work"]["user"] is (joins or len(groups) < 2)
    assert result["work"]["reboot_check"] is joins


def test_units_that_are_not_up_are_work_for_the_services(host):
    units = {"docker.service": SHOW_UP, "nitro-enclaves-allocator.service": SHOW_ENABLED_STOPPED}
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=FakeHost(EVERYTHING_DEBIAN, units=units))
    # Managed: enabled is enough for the services; the stopped allocator is the reservation's work.
    assert not result["work"]["services"]
    assert result["allocator"]["settled"] is False and result["work"]["allocator"]
    # Unmanaged: the allocator is to be started.
    result = run_module(host_prep_facts.main, args(host["tmp"], allocator=None),
                        commands=FakeHost(EVERYTHING_DEBIAN, units=units))
    assert result["work"]["services"] and result["allocator"] is None and not result["work"]["allocator"]


@pytest.mark.parametrize("text", [
    "---\nmemory_mib: 512\ncpu_count: 2\n",
    "---\nmemory_mib: 11000\ncpu_pool: 1,9\n",
    "",
])
def test_allocator_yaml_that_says_something_else_is_not_settled(host, text):
    (host["tmp"] / "allocator.yaml").write_text(text)
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["allocator"]["settled"] is False and result["work"]["allocator"]


def test_a_cpu_pool_is_compared_as_a_cpu_list(host):
    (host["tmp"] / "allocator.yaml").write_text("---\nmemory_mib: 11000\ncpu_pool: 1,9\n")
    allocator = {"memory_mib": 11000, "cpu_pool": "9,1", "path": str(host["tmp"] / "allocator.yaml")}
    result = run_module(host_prep_facts.main, args(host["tmp"], allocator=allocator), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["allocator"] == {"enclave_cpus": [1, 9], "error": None, "settled": True}


@pytest.mark.parametrize("request_, words", [
    ({"memory_mib": 11000, "cpu_count": 3}, "not a multiple of 2"),
    ({"memory_mib": 40000, "cpu_count": 2}, "MiB"),
    ({"memory_mib": 11000, "cpu_pool": "1 and 5"}, "cpu_pool"),
    ({"memory_mib": 11000, "cpu_pool": "1-" + "9" * 5000}, "this host does not have"),
    ({"memory_mib": 11000, "cpu_pool": "9" * 5000}, "this host does not have"),
])
def test_a_reservation_the_host_cannot_give_is_reported_not_failed(host, request_, words):
    request_["path"] = str(host["tmp"] / "allocator.yaml")
    result = run_module(host_prep_facts.main, args(host["tmp"], allocator=request_), commands=FakeHost(EVERYTHING_DEBIAN))
    assert not result["failed"]
    assert result["allocator"]["error"].startswith("refusing to configure the Nitro Enclaves allocator: ")
    assert words in result["allocator"]["error"]
    assert result["allocator"]["enclave_cpus"] == [] and not result["allocator"]["settled"]


def test_a_negative_host_reserve_is_refused(host):
    # Without the check it "fits": 40000 MiB on a 31744 MiB host with -10000 kept back.
    request_ = {"memory_mib": 40000, "cpu_count": 2, "host_reserved_mib": -10000, "path": str(host["tmp"] / "allocator.yaml")}
    result = run_module(host_prep_facts.main, args(host["tmp"], allocator=request_), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["allocator"]["error"] == ("refusing to configure the Nitro Enclaves allocator: host_reserved_mib -10000"
                                            " is negative")
    assert result["allocator"]["enclave_cpus"] == [] and result["work"]["allocator"]


def test_an_allocator_without_cpus_fails_clearly(host):
    result = run_module(host_prep_facts.main, args(host["tmp"], allocator={"memory_mib": 11000}),
                        commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["failed"] and result["msg"] == "allocator: cpu_count or cpu_pool is required"


def test_the_cli_deb_is_wanted_until_its_copy_matches_and_nitro_cli_works(host):
    content = b"a .deb\n"
    digest = hashlib.sha256(content).hexdigest()
    deb_args = args(host["tmp"], nitro_cli_package="https://example.org/pool/aws-nitro-enclaves-cli_1.4.2_amd64.deb?x=1",
                    nitro_cli_package_sha256=digest.upper())
    fetched = {"source": deb_args["nitro_cli_package"], "sha256": digest, "name": "aws-nitro-enclaves-cli_1.4.2_amd64.deb"}
    # On the host it is kept under package_cache_dir (args: <tmp>/cache).
    wanted = dict(fetched, path=str(host["tmp"] / "cache" / "aws-nitro-enclaves-cli_1.4.2_amd64.deb"))
    result = run_module(host_prep_facts.main, deb_args, commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["nitro_cli"]["deb"] == wanted and result["fetch"] == [fetched] and result["work"]["packages"]
    (host["tmp"] / "cache").mkdir()
    (host["tmp"] / "cache" / wanted["name"]).write_bytes(content)
    result = run_module(host_prep_facts.main, deb_args, commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["nitro_cli"]["deb"] is None and result["fetch"] == [] and not result["work"]["any"]
    # The copy alone does not say the CLI works.
    result = run_module(host_prep_facts.main, deb_args, commands=FakeHost(EVERYTHING_DEBIAN, nitro_cli=False))
    assert result["nitro_cli"] == {"present": False, "deb": wanted, "installed_version": "", "version_ok": True, "pinned": []}
    # Another package (another checksum) is installed again.
    (host["tmp"] / "cache" / wanted["name"]).write_bytes(b"an older .deb\n")
    result = run_module(host_prep_facts.main, deb_args, commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["nitro_cli"]["deb"] == wanted


def test_a_controller_path_deb_is_named_by_its_file(host):
    result = run_module(host_prep_facts.main, args(host["tmp"], nitro_cli_package="/srv/debs/cli.deb",
                                                   nitro_cli_package_sha256="0" * 64),
                        commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["nitro_cli"]["deb"]["name"] == "cli.deb"


def test_the_deb_is_ignored_on_amazon_linux(host):
    host["platform"] = dict(AL2023)
    result = run_module(host_prep_facts.main, args(host["tmp"], nitro_cli_package="/srv/debs/cli.deb"),
                        commands=FakeHost(["git", "golang", "python3-devel", "docker", "aws-nitro-enclaves-cli",
                                           "aws-nitro-enclaves-cli-devel"]))
    assert result["nitro_cli"]["deb"] is None and result["fetch"] == []


RUSTUP_INIT = {"x86_64": {"url": "https://static.rust-lang.org/rustup/archive/1.27.1/x86_64-unknown-linux-gnu/rustup-init",
                          "sha256": "6AEECE6993E902708983B209D04C0D1DBB14EBB405DDB87DEF578D41F920F56D"}}


def rust_args(host, **rust):
    home = host["tmp"] / "rust"
    request = {"home": str(home), "toolchain": "stable", "targets": ["x86_64-unknown-linux-musl"], "rustup_init": RUSTUP_INIT,
               "profile": str(host["tmp"] / "rust.sh")}
    request.update(rust)
    return args(host["tmp"], rust=request)


def install_rustup(host):
    rustup = host["tmp"] / "rust" / "cargo" / "bin" / "rustup"
    rustup.parent.mkdir(parents=True)
    rustup.write_text("#!/bin/sh\n")
    rustup.chmod(0o755)


def test_without_rustup_rustup_init_is_fetched(host):
    result = run_module(host_prep_facts.main, rust_args(host), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["rust"]["rustup"] is False and result["rust"]["toolchain_installed"] is False
    assert result["rust"]["targets_missing"] == ["x86_64-unknown-linux-musl"]
    assert result["fetch"] == [{"source": RUSTUP_INIT["x86_64"]["url"], "sha256": RUSTUP_INIT["x86_64"]["sha256"].lower(),
                                "name": "rustup-init-x86_64"}]
    # The role copies it from where the fetch keeps it: <sha256>/<name>.
    assert result["rust"]["rustup_init"] == {"url": RUSTUP_INIT["x86_64"]["url"], "name": "rustup-init-x86_64",
                                             "sha256": RUSTUP_INIT["x86_64"]["sha256"].lower()}
    assert result["work"]["rust"] and result["work"]["any"]


def test_rustup_and_cargo_run_with_the_toolchains_folders(host):
    result = run_module(host_prep_facts.main, rust_args(host), commands=FakeHost(EVERYTHING_DEBIAN))
    home = str(host["tmp"] / "rust")
    assert result["rust"]["environment"] == {
        "RUSTUP_HOME": home + "/rustup", "CARGO_HOME": home + "/cargo",
        "PATH": home + "/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def test_rustup_with_the_toolchain_and_a_missing_target(host):
    install_rustup(host)
    fake = FakeHost(EVERYTHING_DEBIAN)
    result = run_module(host_prep_facts.main, rust_args(host), commands=fake)
    assert result["rust"]["rustup"] and result["rust"]["toolchain_installed"]
    assert result["rust"]["targets_missing"] == ["x86_64-unknown-linux-musl"]
    assert result["fetch"] == [] and result["work"]["rust"] and result["work"]["any"]
    rustup_calls = [call for call in fake.calls if call[0].endswith("/cargo/bin/rustup")]
    assert rustup_calls[1][-2:] == ["--toolchain", "stable"]


def test_rustup_with_everything_has_work_only_for_its_profile(host):
    install_rustup(host)
    fake = FakeHost(EVERYTHING_DEBIAN, targets=TARGETS + "x86_64-unknown-linux-musl\n")
    result = run_module(host_prep_facts.main, rust_args(host), commands=fake)
    profile = result["rust"]["profile"]
    assert result["rust"]["targets_missing"] == [] and result["work"]["rust"] and profile["current"] is False
    assert profile["path"] == str(host["tmp"] / "rust.sh")
    assert 'export RUSTUP_HOME="%s/rustup"\n' % (host["tmp"] / "rust") in profile["content"]
    (host["tmp"] / "rust.sh").write_text(profile["content"])
    result = run_module(host_prep_facts.main, rust_args(host), commands=fake)
    assert result["rust"]["profile"]["current"] and not result["work"]["rust"] and not result["work"]["any"]
    (host["tmp"] / "rust.sh").write_text(profile["content"] + "# edited\n")
    result = run_module(host_prep_facts.main, rust_args(host), commands=fake)
    assert result["work"]["rust"] and result["work"]["any"]


def test_rustup_without_the_toolchain_misses_every_target(host):
    install_rustup(host)
    result = run_module(host_prep_facts.main, rust_args(host, toolchain="1.83.0"), commands=FakeHost(EVERYTHING_DEBIAN))
    assert result["rust"]["toolchain_installed"] is False
    assert result["rust"]["targets_missing"] == ["x86_64-unknown-linux-musl"]


def test_check_mode_reads_the_same(host):
    fake = FakeHost(installed=["git"])
    normal = run_module(host_prep_facts.main, args(host["tmp"]), commands=fake)
    checked = run_module(host_prep_facts.main, args(host["tmp"]), check_mode=True, commands=fake)
    assert normal == checked and not checked["changed"]


@pytest.mark.parametrize("source, name", [
    ("https://example.org/a/b/cli.deb", "cli.deb"),
    ("https://example.org/a/cli.deb?token=1#x", "cli.deb"),
    ("file:///srv/cli.deb", "cli.deb"),
    ("relative/dir/cli.deb", "cli.deb"),
])
def test_source_name(source, name):
    assert host_prep_facts.source_name(source) == name


def test_translate_keeps_order_drops_empty_and_duplicates():
    names = {"go": ["golang-go"], "python3-venv": [], "both": ["a", "b"]}
    assert host_prep_facts.translate(["go", "python3-venv", "both", "a"], ["b", "c"], names) == ["golang-go", "a", "b", "c"]


@pytest.mark.parametrize("platform, installed, pin, ok, pinned", [
    (AL2023, "1.2.2-1.amzn2023", "1.2.2", True, []),
    (AL2023, "1.4.2-0.amzn2023", "1.2.2", False, ["aws-nitro-enclaves-cli-1.2.2", "aws-nitro-enclaves-cli-devel-1.2.2"]),
    (AL2023, "1.2.20-1.amzn2023", "1.2.2", False, ["aws-nitro-enclaves-cli-1.2.2", "aws-nitro-enclaves-cli-devel-1.2.2"]),
    (AL2023, "1.4.2-0.amzn2023", "", True, []),
    (AL2023, None, "1.2.2", False, ["aws-nitro-enclaves-cli-1.2.2", "aws-nitro-enclaves-cli-devel-1.2.2"]),
    (DEBIAN, "1:1.2.2-1", "1.2.2", True, []),
    (DEBIAN, "1.3.0-1", "1.2.2-1", False, ["aws-nitro-enclaves-cli=1.2.2-1"]),
])
def test_a_pinned_nitro_cli_version_is_compared_and_named(host, platform, installed, pin, ok, pinned):
    host["platform"] = dict(platform)
    everything = EVERYTHING_DEBIAN + ["golang", "python3-devel", "docker", "aws-nitro-enclaves-cli",
                                      "aws-nitro-enclaves-cli-devel"]
    fake = FakeHost(installed=everything, versions={} if installed is None else {"aws-nitro-enclaves-cli": installed})
    result = run_module(host_prep_facts.main, args(host["tmp"], nitro_cli_version=pin), commands=fake)
    assert not result["failed"], result["msg"]
    assert result["nitro_cli"]["installed_version"] == (installed or "")
    assert result["nitro_cli"]["version_ok"] is ok and result["nitro_cli"]["pinned"] == pinned
    assert result["work"]["packages"] is (not ok)


def test_the_platforms_package_names_are_the_default(host):
    """Without package_names, docker_packages and default_users the module knows the supported platforms."""
    params = args(host["tmp"], user="", packages=["git", "go", "python3-devel", "python3-venv", "python3-pip"])
    del params["package_names"]
    result = run_module(host_prep_facts.main, params, commands=FakeHost(["git"], units={"nitro-enclaves-allocator.service": SHOW_UP}))
    assert result["packages"]["missing"] == ["golang-go", "python3-dev", "python3-venv", "python3-pip", "docker.io"]
    assert result["user"]["name"] == "admin"
    host["platform"] = dict(AL2023)
    result = run_module(host_prep_facts.main, params, commands=FakeHost(["git"]))
    assert result["packages"]["missing"] == ["golang", "python3-devel", "python3-pip", "aws-nitro-enclaves-cli",
                                             "aws-nitro-enclaves-cli-devel", "docker"]
    assert result["user"]["name"] == "ec2-user"


def test_a_reservation_to_apply_is_work(host):
    (host["tmp"] / "allocator.yaml").write_text(ALLOCATOR_YAML.replace("11000", "512"))
    result = run_module(host_prep_facts.main, args(host["tmp"]), commands=FakeHost(installed=EVERYTHING_DEBIAN))
    assert result["work"]["allocator"] and result["work"]["any"]
    assert not (result["work"]["packages"] or result["work"]["user"] or result["work"]["services"])
