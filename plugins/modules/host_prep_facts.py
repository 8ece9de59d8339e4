#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: host_prep_facts
short_description: Read what the role host_prep needs to decide on a Nitro Enclaves parent instance
version_added: 0.1.0
description:
  - Reads, without changing anything, everything the role C(opencontracts.enclave.host_prep) decides on, in
    one call. The platform, which packages are missing, whether C(nitro-cli) is there, the service user and
    its groups, the states of docker and the Nitro Enclaves allocator, whether C(allocator.yaml) already says
    what is wanted, and the Rust toolchain.
  - Also says what would change, in RV(work), so that the role decides with plain conditions on documented
    values.
  - Never fails on what it finds on the host; a problem with the host (an unsupported system, an allocator
    request the host cannot give) is reported in the return values for the role's preflight. It fails only on
    invalid arguments.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
options:
  packages:
    description:
      - Packages to have, by generic name; translated with O(package_names).
    type: list
    elements: str
    default: []
  packages_extra:
    description: More packages, by their distribution name (not translated).
    type: list
    elements: str
    default: []
  package_names:
    description:
      - Per platform (C(debian), C(amazon2), C(amazon2023)), generic package names to the distribution's
        names. A name not listed is used as it is; an empty list drops it.
      - The default knows the names the role C(opencontracts.enclave.host_prep) asks for (on Amazon Linux the
        C(python3) package ships the venv module).
    type: dict
    default:
      debian: {go: [golang-go], python3-devel: [python3-dev], python3-venv: [python3-venv], python3-pip: [python3-pip]}
      amazon2: {go: [golang], python3-devel: [python3-devel], python3-venv: [], python3-pip: [python3-pip]}
      amazon2023: {go: [golang], python3-devel: [python3-devel], python3-venv: [], python3-pip: [python3-pip]}
  upgrade:
    description: Every installed package is to be upgraded in this run (RV(work.packages) is then true).
    type: bool
    default: false
  docker_install:
    description:
      - Docker is to be installed when missing. On Debian/Ubuntu the distribution's package is wanted only when
        the host has no C(docker.service) (an operator's docker counts); on Amazon Linux the package.
    type: bool
    default: true
  docker_packages:
    description: Per platform, the distribution's docker package.
    type: dict
    default: {debian: docker.io, amazon2: docker, amazon2023: docker}
  nitro_cli_packages:
    description:
      - The Nitro Enclaves CLI packages of Amazon Linux. On Amazon Linux 2 the first comes from
        C(amazon-linux-extras) (see RV(packages.extras_missing)), the others from yum.
    type: list
    elements: str
    default: [aws-nitro-enclaves-cli, aws-nitro-enclaves-cli-devel]
  nitro_cli_package:
    description:
      - Debian/Ubuntu only (no distribution package exists there), the operator's C(.deb) of the CLI, a URL or a
        path on the controller; empty when the host must already have C(nitro-cli).
      - It is to be installed unless C(nitro-cli) works and the copy an earlier run left in O(package_cache_dir)
        has O(nitro_cli_package_sha256).
    type: str
    default: ""
  nitro_cli_version:
    description:
      - The version the Nitro CLI packages (O(nitro_cli_packages)) must have - PCR0 depends on the CLI that builds the image.
        Empty - any version.
      - An installed version matches when it equals this or starts with it and C(-) (C(1.2.2) matches C(1.2.2-1.amzn2023)),
        its epoch (C(1:)) aside.
    type: str
    default: ""
  nitro_cli_package_sha256:
    description: The SHA-256 of O(nitro_cli_package).
    type: str
    default: ""
  package_cache_dir:
    description: Where the role keeps the C(.deb) on the host (RV(nitro_cli.deb) names the file there).
    type: path
    default: /var/cache/opencontracts-enclave
  user:
    description: The service user; empty for the platform's login user from O(default_users).
    type: str
    default: ""
  default_users:
    description: C(/etc/os-release) IDs (C(amazon), C(debian), C(ubuntu)) to the login user of their EC2 images.
    type: dict
    default: {amazon: ec2-user, debian: admin, ubuntu: ubuntu}
  groups:
    description: The groups the service user is to be in.
    type: list
    elements: str
    default: [ne, docker]
  allocator:
    description:
      - The enclave reservation to check against this host and C(allocator.yaml); omit when the role does not
        manage the allocator. The same rules as M(opencontracts.enclave.nitro_allocator).
    type: dict
    suboptions:
      memory_mib:
        description: Memory for enclaves, in MiB.
        type: int
        required: true
      cpu_count:
        description: Number of CPUs for enclaves (ignored when O(allocator.cpu_pool) is set).
        type: int
      cpu_pool:
        description:
          - A CPU list such as C(1,9) or C(2-3,10-11); empty for O(allocator.cpu_count).
          - A CPU above the host's highest is reported in RV(allocator.error) before any range is expanded.
        type: str
        default: ""
      host_reserved_mib:
        description: Memory the parent instance keeps, in MiB.
        type: int
        default: 2048
      path:
        description: The allocator's configuration file.
        type: path
        default: /etc/nitro_enclaves/allocator.yaml
  rust:
    description: The Rust toolchain to look for; omit when the role does not install Rust.
    type: dict
    suboptions:
      home:
        description: The folder with C(rustup/) and C(cargo/).
        type: path
        required: true
      toolchain:
        description: The toolchain, for example C(stable).
        type: str
        default: stable
      targets:
        description: The targets the toolchain is to have.
        type: list
        elements: str
        default: []
      rustup_init:
        description: Per architecture, C({url, sha256}) of a pinned C(rustup-init) (fetched when rustup is missing).
        type: dict
        default: {}
      profile:
        description: The login shell profile that puts the toolchain on every user's PATH (RV(rust.profile)).
        type: path
        default: /etc/profile.d/rust.sh
"""

EXAMPLES = r"""
- name: Read what host_prep decides on
  opencontracts.enclave.host_prep_facts:
    packages: [git, go, python3-devel]
    package_names:
      debian: {go: [golang-go], python3-devel: [python3-dev]}
      amazon2023: {go: [golang]}
    user: oracle
    groups: [ne, docker]
    allocator: {memory_mib: 11000, cpu_count: 2}
  register: __host_prep_facts

- name: Install the missing packages
  ansible.builtin.include_role:
    name: opencontracts.enclave.common
    tasks_from: packages
  vars:
    _common_platform: "{{ __host_prep_facts.platform.platform }}"
    _common_packages_missing: "{{ __host_prep_facts.packages.missing }}"
    _common_apt_lists_stale: "{{ __host_prep_facts.packages.apt_lists_stale }}"
  when: __host_prep_facts.packages.missing | length > 0
"""

RETURN = r"""
platform:
  description: The platform (see C(plugins/module_utils/host_state.py) C(platform_facts)).
  returned: always
  type: dict
  contains:
    platform: {description: "C(debian) (Debian, Ubuntu), C(amazon2), C(amazon2023) or C(unsupported).", type: str, sample: debian}
    os_id: {description: "C(/etc/os-release) ID.", type: str, sample: ubuntu}
    distribution: {description: "C(/etc/os-release) NAME.", type: str, sample: Ubuntu}
    distribution_version: {description: "C(/etc/os-release) VERSION_ID.", type: str, sample: "24.04"}
    architecture: {description: "The machine, as C(uname -m) says it.", type: str, sample: x86_64}
    in_container: {description: "The host is a container (never rebooted).", type: bool, sample: false}
packages:
  description: The packages.
  returned: always
  type: dict
  contains:
    wanted:
      description: Every distribution package looked at (O(packages) translated, O(packages_extra), and the CLI and docker packages the platform wants).
      type: list
      elements: str
      sample: [git, golang-go, docker.io]
    missing:
      description: The ones not installed, in order (to install with the distribution's package manager).
      type: list
      elements: str
      sample: [golang-go]
    extras_missing:
      description: Amazon Linux 2 only, the C(amazon-linux-extras) topics to install (the CLI, or docker when only it is missing).
      type: list
      elements: str
      sample: []
    apt_lists_stale:
      description: Debian/Ubuntu, apt has no package lists or they are older than an hour; false elsewhere.
      type: bool
      sample: false
nitro_cli:
  description: The Nitro Enclaves CLI.
  returned: always
  type: dict
  contains:
    present: {description: "C(nitro-cli --version) works.", type: bool, sample: true}
    installed_version:
      description: The installed version of the first of O(nitro_cli_packages) (dpkg or rpm), or empty when not installed.
      type: str
      sample: 1.2.2-1.amzn2023
    version_ok:
      description: Whether O(nitro_cli_version) is empty or the installed version matches it.
      type: bool
      sample: true
    pinned:
      description:
        - The package specifications to install when RV(nitro_cli.version_ok) is false - C(name=version) on Debian/Ubuntu,
          C(name-version) on Amazon Linux; empty otherwise.
      type: list
      elements: str
      sample: [aws-nitro-enclaves-cli-1.2.2, aws-nitro-enclaves-cli-devel-1.2.2]
    deb:
      description:
        - The C(.deb) to install in this run, as C({source, sha256, name, path}); null when none.
        - C(path) is where the role copies it on the host, in O(package_cache_dir).
      type: dict
      sample: {source: https://example.com/nitro-cli.deb, sha256: "6aee...f56d", name: nitro-cli.deb,
               path: /var/cache/opencontracts-enclave/nitro-cli.deb}
user:
  description: The service user.
  returned: always
  type: dict
  contains:
    name: {description: "Its name (O(user) or the platform's default).", type: str, sample: oracle}
    exists: {description: "It exists.", type: bool, sample: true}
    shell: {description: "Its login shell (empty when it does not exist).", type: str, sample: /bin/bash}
    login: {description: "It exists and its shell lets it log in (its sessions keep old groups).", type: bool, sample: true}
    groups_missing: {description: "The groups of O(groups) it is not in (all of them when it does not exist).", type: list, elements: str, sample: [docker]}
    joins_groups:
      description: It is to be created or to join groups in this run (never C(root), which needs no group).
      type: bool
      sample: true
groups:
  description: The groups of O(groups).
  returned: always
  type: dict
  contains:
    members: {description: "Each group that exists, with its supplementary members.", type: dict, sample: {ne: [oracle], docker: []}}
    absent: {description: "The ones that do not exist.", type: list, elements: str, sample: []}
units:
  description: The state of C(docker.service) and C(nitro-enclaves-allocator.service) (C({loaded, active, enabled, active_state, unit_file_state})).
  returned: always
  type: dict
  contains:
    docker: {description: "docker.service.", type: dict}
    allocator: {description: "nitro-enclaves-allocator.service.", type: dict}
allocator:
  description: The reservation of O(allocator); null when O(allocator) is omitted.
  returned: always
  type: dict
  contains:
    enclave_cpus: {description: "The CPUs enclaves get (empty when refused).", type: list, elements: int, sample: [1, 9]}
    error: {description: "Why the host cannot give the reservation; null when it can.", type: str, sample: null}
    settled:
      description: C(allocator.yaml) already says what is wanted (and nothing in it needs repair) and the allocator is active.
      type: bool
      sample: true
rust:
  description: The Rust toolchain of O(rust); null when O(rust) is omitted.
  returned: always
  type: dict
  contains:
    rustup: {description: "C(<home>/cargo/bin/rustup) runs.", type: bool, sample: true}
    toolchain_installed: {description: "The toolchain is installed.", type: bool, sample: true}
    targets_missing: {description: "The targets the toolchain lacks (all of them when it is not installed).", type: list, elements: str, sample: []}
    rustup_init:
      description:
        - The pinned rustup-init for this architecture, C({url, sha256, name}) (C(sha256) in lower case; C(name) is
          C(rustup-init-<architecture>), its file name in the controller's cache); null when none is pinned.
      type: dict
      sample: {url: "https://static.rust-lang.org/rustup/archive/1.27.1/x86_64-unknown-linux-gnu/rustup-init",
               sha256: 6aeece6993e902708983b209d04c0d1dbb14ebb405ddb87def578d41f920f56d, name: rustup-init-x86_64}
    environment:
      description: "The environment rustup-init, rustup and cargo run with: C(RUSTUP_HOME), C(CARGO_HOME) and a C(PATH) with
        C(<home>/cargo/bin) first."
      type: dict
      sample: {RUSTUP_HOME: /usr/local/rust/rustup, CARGO_HOME: /usr/local/rust/cargo,
               PATH: "/usr/local/rust/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    profile:
      description: "The profile O(rust.profile): C(path), the C(content) it is to have, and whether it has it (C(current))."
      type: dict
      sample: {path: /etc/profile.d/rust.sh, content: "# Managed by ...", current: true}
fetch:
  description: The files this host needs fetched on the controller, C({source, sha256, name}) each (the C(.deb), rustup-init).
  returned: always
  type: list
  elements: dict
  sample: []
work:
  description: What the role is to do in this run, each decided on the values above.
  returned: always
  type: dict
  contains:
    packages: {description: "Packages to install or upgrade (RV(packages.missing), RV(packages.extras_missing), RV(nitro_cli.deb) or O(upgrade)).", type: bool}
    user: {description: "Groups to create or the service user to add to them.", type: bool}
    services: {description: "Docker or the allocator not enabled and active as wanted, or packages to install (which may replace units).", type: bool}
    allocator: {description: "The reservation to apply (O(allocator) given and not RV(allocator.settled), or packages to install).", type: bool}
    rust: {description: "Rust to install (rustup, the toolchain or a target missing) or its profile to write.", type: bool}
    reboot_check: {description: "This run may call for a reboot (packages to install, or a login user joining groups).", type: bool}
    any:
      description: RV(work.packages), RV(work.user), RV(work.services), RV(work.allocator) or RV(work.rust), or a file to fetch (RV(fetch)).
      type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opencontracts.enclave.plugins.module_utils import allocator as alloc
from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state, platforms

URL_SCHEMES = ("http://", "https://", "ftp://", "file://")
NOLOGIN_SHELLS = ("/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false")
ALLOCATOR_UNIT = "nitro-enclaves-allocator.service"
MEMINFO = "/proc/meminfo"


def source_name(source):
    """The file name of a URL or a controller path."""
    path = source.split("://", 1)[1] if source.startswith(URL_SCHEMES) else source
    return os.path.basename(path.split("?", 1)[0].split("#", 1)[0].rstrip("/"))


def translate(packages, extra, names):
    """Generic names -> the distribution's (``names``: generic -> list), then ``extra``; each once."""
    wanted = []
    for name in packages:
        for real in names.get(name, [name]):
            if real not in wanted:
                wanted.append(real)
    for name in extra:
        if name not in wanted:
            wanted.append(name)
    return wanted


def command_works(module, argv, env=None):
    try:
        rc, dummy_out, dummy_err = module.run_command(argv, environ_update=dict(host_state.C_LOCALE, **(env or {})))
    except OSError:
        return False
    return rc == 0


def read_packages(module, params, platform, units):
    """``(packages, nitro_cli_deb_wanted)`` for the platform."""
    names = (params["package_names"] or {}).get(platform) or {}
    wanted = translate(params["packages"], params["packages_extra"], names)
    docker_package = (params["docker_packages"] or {}).get(platform)
    extras_missing = []
    if platform == "debian":
        if params["docker_install"] and not units["docker"]["loaded"] and docker_package:
            wanted.append(docker_package)
    elif platform == "amazon2023":
        wanted += params["nitro_cli_packages"] + ([docker_package] if params["docker_install"] and docker_package else [])
    elif platform == "amazon2":
        cli, devel = params["nitro_cli_packages"][:1], params["nitro_cli_packages"][1:]
        wanted += devel
        extras = cli + (["docker"] if params["docker_install"] else [])
        absent = host_state.packages_missing(module, platform, extras)
        # The CLI package requires docker: docker alone only when the CLI is there without it.
        extras_missing = [name for name in cli if name in absent] or [name for name in absent if name == "docker"]
    unique = []
    for name in wanted:
        if name not in unique:
            unique.append(name)
    missing = host_state.packages_missing(module, platform, unique) if platform != "unsupported" else []
    return {
        "wanted": unique,
        "missing": missing,
        "extras_missing": extras_missing,
        "apt_lists_stale": platform == "debian" and host_state.apt_lists_stale(),
    }


def installed_version(module, platform, package):
    """The installed version of ``package`` (dpkg or rpm), or ''."""
    if platform == "debian":
        rc, out, dummy_err = module.run_command(
            ["dpkg-query", "--show", "--showformat=${db:Status-Abbrev}\t${Version}\n", "--", package],
            environ_update=host_state.C_LOCALE)
        status, dummy, version = out.partition("\t")
        return version.strip() if rc == 0 and status.startswith("ii") else ""
    if platform in ("amazon2", "amazon2023"):
        rc, out, dummy_err = module.run_command(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\n", "--", package],
                                                environ_update=host_state.C_LOCALE)
        return out.strip() if rc == 0 else ""
    return ""


def version_matches(installed, wanted):
    """Whether the package version ``installed`` is the pinned ``wanted`` (epoch aside, any release)."""
    version = installed.split(":", 1)[1] if ":" in installed.split("-", 1)[0] else installed
    return version == wanted or version.startswith(wanted + "-")


def pinned_specs(platform, packages, version):
    """The package manager's way to name ``packages`` at ``version``."""
    separator = "=" if platform == "debian" else "-"
    return ["%s%s%s" % (name, separator, version) for name in packages]


def read_user(params, os_id):
    name = params["user"] or (params["default_users"] or {}).get(os_id, "")
    entry = host_state.passwd_entry(name) if name else {"exists": False, "shell": None}
    members = host_state.group_members(params["groups"])
    groups_missing = [group for group in params["groups"] if name not in members.get(group, [])]
    shell = entry["shell"] or ""
    user = {
        "name": name,
        "exists": entry["exists"],
        "shell": shell,
        "login": entry["exists"] and shell not in NOLOGIN_SHELLS,
        "groups_missing": groups_missing,
        "joins_groups": bool(name) and name != "root" and (not entry["exists"] or bool(groups_missing)),
    }
    groups = {"members": members, "absent": [group for group in params["groups"] if group not in members]}
    return user, groups


def read_allocator(module, request, unit):
    """``{enclave_cpus, error, settled}`` of a reservation request."""
    result = {"enclave_cpus": [], "error": None, "settled": False}
    pool = request["cpu_pool"] or None
    count = None if pool else request["cpu_count"]
    if request["host_reserved_mib"] < 0:
        # A negative reserve would let the enclaves have more memory than the host has.
        result["error"] = "refusing to configure the Nitro Enclaves allocator: host_reserved_mib %d is negative" % (
            request["host_reserved_mib"])
        return result
    try:
        lscpu = module.get_bin_path("lscpu", required=False)
        if not lscpu:
            raise OSError("lscpu is not installed")
        rc, out, err = module.run_command([lscpu, "-p=CPU,CORE"], environ_update=host_state.C_LOCALE)
        if rc != 0:
            raise OSError("lscpu failed: %s" % (err or out).strip())
        with open(MEMINFO) as meminfo:
            memory_mib = alloc.parse_meminfo(meminfo.read())
        topology = alloc.Topology(alloc.parse_lscpu(out), memory_mib)
        result["enclave_cpus"] = alloc.validate(topology, request["memory_mib"], cpu_count=count, cpu_pool=pool,
                                                host_reserved_mib=request["host_reserved_mib"])
    except alloc.AllocatorConfigError as exc:
        result["error"] = "refusing to configure the Nitro Enclaves allocator: %s" % exc
        return result
    except (IOError, OSError) as exc:
        result["error"] = "cannot read the host's CPUs and memory: %s" % exc
        return result
    wanted = {"memory_mib": request["memory_mib"]}
    if pool:
        wanted["cpu_pool"] = alloc.parse_cpulist(pool)
    else:
        wanted["cpu_count"] = count
    try:
        with open(request["path"]) as config:
            values, problems = alloc.parse(config.read())
    except (IOError, OSError):
        values, problems = {}, ["unreadable"]
    result["settled"] = not problems and alloc.typed_config(values) == wanted and unit["active"]
    return result


PROFILE = """# Managed by opencontracts.enclave.host_prep: the Rust toolchain it installed.
export RUSTUP_HOME="%(home)s/rustup"
export CARGO_HOME="%(home)s/cargo"
case ":$PATH:" in
    *":$CARGO_HOME/bin:"*) ;;
    *) PATH="$CARGO_HOME/bin:$PATH" ;;
esac
"""


def read_profile(path, home):
    content = PROFILE % {"home": home}
    try:
        with open(path) as handle:
            current = handle.read() == content
    except (IOError, OSError):
        current = False
    return {"path": path, "content": content, "current": current}


# The PATH rustup-init, rustup and cargo run with, after the toolchain's own bin folder.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def read_rust(module, rust, architecture):
    home = rust["home"]
    rustup = os.path.join(home, "cargo", "bin", "rustup")
    env = dict(RUSTUP_HOME=os.path.join(home, "rustup"), CARGO_HOME=os.path.join(home, "cargo"))
    env.update(host_state.C_LOCALE)
    toolchains, targets, present = [], [], False
    if os.access(rustup, os.X_OK):
        rc, out, dummy_err = module.run_command([rustup, "toolchain", "list"], environ_update=env)
        present = rc == 0
        toolchains = out.splitlines() if present else []
    installed = any(line.split()[0].startswith(rust["toolchain"] + "-") or line.split()[0] == rust["toolchain"]
                    for line in toolchains if line.strip())
    if installed:
        rc, out, dummy_err = module.run_command(
            [rustup, "target", "list", "--installed", "--toolchain", rust["toolchain"]], environ_update=env)
        targets = [line.strip() for line in out.splitlines() if line.strip()] if rc == 0 else []
    init = (rust["rustup_init"] or {}).get(architecture)
    if isinstance(init, dict):
        # As the common role's fetch keeps it on the controller: <sha256>/<name>.
        init = {"url": init.get("url"), "sha256": str(init.get("sha256", "")).lower(), "name": "rustup-init-" + architecture}
    return {
        "rustup": present,
        "toolchain_installed": installed,
        "targets_missing": [target for target in rust["targets"] if target not in targets],
        "rustup_init": init,
        "environment": {"RUSTUP_HOME": env["RUSTUP_HOME"], "CARGO_HOME": env["CARGO_HOME"],
                        "PATH": "%s:%s" % (os.path.join(home, "cargo", "bin"), SYSTEM_PATH)},
        "profile": read_profile(rust["profile"], home),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", default=[]),
            packages_extra=dict(type="list", elements="str", default=[]),
            package_names=dict(type="dict", default=platforms.PACKAGE_NAMES),
            upgrade=dict(type="bool", default=False),
            docker_install=dict(type="bool", default=True),
            docker_packages=dict(type="dict", default=platforms.DOCKER_PACKAGES),
            nitro_cli_packages=dict(type="list", elements="str", default=platforms.NITRO_CLI_PACKAGES),
            nitro_cli_package=dict(type="str", default=""),
            nitro_cli_package_sha256=dict(type="str", default=""),
            nitro_cli_version=dict(type="str", default=""),
            package_cache_dir=dict(type="path", default="/var/cache/opencontracts-enclave"),
            user=dict(type="str", default=""),
            default_users=dict(type="dict", default=platforms.LOGIN_USERS),
            groups=dict(type="list", elements="str", default=["ne", "docker"]),
            allocator=dict(type="dict", options=dict(
                memory_mib=dict(type="int", required=True),
                cpu_count=dict(type="int"),
                cpu_pool=dict(type="str", default=""),
                host_reserved_mib=dict(type="int", default=2048),
                path=dict(type="path", default="/etc/nitro_enclaves/allocator.yaml"),
            )),
            rust=dict(type="dict", options=dict(
                home=dict(type="path", required=True),
                toolchain=dict(type="str", default="stable"),
                targets=dict(type="list", elements="str", default=[]),
                rustup_init=dict(type="dict", default={}),
                profile=dict(type="path", default="/etc/profile.d/rust.sh"),
            )),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["allocator"] and not params["allocator"]["cpu_pool"] and params["allocator"]["cpu_count"] is None:
        module.fail_json(msg="allocator: cpu_count or cpu_pool is required")

    platform = host_state.platform_facts()
    name = platform["platform"]
    units = {"docker": host_state.unit_state(module, "docker.service"),
             "allocator": host_state.unit_state(module, ALLOCATOR_UNIT)}
    packages = read_packages(module, params, name, units)
    user, groups = read_user(params, platform["os_id"])
    nitro_cli_path = module.get_bin_path("nitro-cli")
    nitro_cli = {"present": bool(nitro_cli_path) and command_works(module, [nitro_cli_path, "--version"]), "deb": None,
                 "installed_version": "", "version_ok": True, "pinned": []}
    cli_packages = params["nitro_cli_packages"] or []
    if cli_packages and name != "unsupported":
        nitro_cli["installed_version"] = installed_version(module, name, cli_packages[0])
    if params["nitro_cli_version"]:
        nitro_cli["version_ok"] = version_matches(nitro_cli["installed_version"], params["nitro_cli_version"])
        if not nitro_cli["version_ok"]:
            # Debian/Ubuntu have only the CLI package (the operator's .deb or a repository's).
            names = cli_packages[:1] if name == "debian" else cli_packages
            nitro_cli["pinned"] = pinned_specs(name, names, params["nitro_cli_version"])
    fetch = []
    if name == "debian" and params["nitro_cli_package"]:
        deb = {"source": params["nitro_cli_package"], "sha256": params["nitro_cli_package_sha256"].lower(),
               "name": source_name(params["nitro_cli_package"])}
        deb["path"] = os.path.join(params["package_cache_dir"], deb["name"])
        # A copy of this very package left by an earlier run, and a working CLI: it is installed.
        copy = host_state.describe_file(deb["path"])
        if not (nitro_cli["present"] and copy["exists"] and copy["checksum"] == deb["sha256"]):
            nitro_cli["deb"] = deb
            fetch.append({key: deb[key] for key in ("source", "sha256", "name")})

    allocator = None
    if params["allocator"]:
        allocator = read_allocator(module, params["allocator"], units["allocator"])
    rust = None
    if params["rust"]:
        rust = read_rust(module, params["rust"], platform["architecture"])
        if not rust["rustup"] and rust["rustup_init"] and rust["rustup_init"].get("url"):
            fetch.append({"source": rust["rustup_init"]["url"], "sha256": rust["rustup_init"]["sha256"],
                          "name": rust["rustup_init"]["name"]})

    work_packages = bool(packages["missing"] or packages["extras_missing"] or nitro_cli["deb"] or params["upgrade"]
                         or nitro_cli["pinned"])
    docker_up = units["docker"]["enabled"] and units["docker"]["active"]
    # Managed allocator: enabled at boot (the reservation starts it); otherwise only started.
    allocator_ok = units["allocator"]["enabled"] if params["allocator"] else units["allocator"]["active"]
    work = {
        "packages": work_packages,
        "user": bool(groups["absent"]) or user["joins_groups"],
        "services": work_packages or not docker_up or not allocator_ok,
        "allocator": bool(allocator) and (work_packages or not allocator["settled"]),
        "rust": bool(rust) and (not rust["toolchain_installed"] or bool(rust["targets_missing"])
                                or not rust["profile"]["current"]),
        "reboot_check": work_packages or user["joins_groups"],
    }
    # Files are fetched (for every host at once) in the include that installs packages.
    work["any"] = (work["packages"] or work["user"] or work["services"] or work["rust"] or work["allocator"]
                   or bool(fetch))
    module.exit_json(changed=False, platform=platform, packages=packages, nitro_cli=nitro_cli, user=user,
                     groups=groups, units=units, allocator=allocator, rust=rust, fetch=fetch, work=work)


if __name__ == "__main__":
    main()
