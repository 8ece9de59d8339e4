#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: socat_facts
short_description: Find a socat with VSOCK support, or say how the role socat gets one
version_added: 0.1.0
description:
  - Reads, without changing anything, the socat binaries of the host (C(socat -h) lists C(VSOCK-CONNECT) when
    VSOCK support was compiled in, C(socat -V) tells the version), whether the distribution's package is
    installed and, when that decides, its candidate version.
  - Says in RV(plan) what the role C(opencontracts.enclave.socat) is to do for O(method), and in RV(result)
    which socat the host then has.
  - Never fails on what it finds; what makes the method impossible is in RV(problem). It fails only on invalid
    arguments.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
options:
  method:
    description:
      - C(installed) uses a socat already on the host; C(package) the distribution's package; C(source) the
        pinned release built under O(prefix); C(auto) the cheapest of those that gives VSOCK, in that order.
    type: str
    choices: [auto, installed, package, source]
    default: auto
  version:
    description: The pinned source release (what C(socat -V) reports after the build).
    type: str
    required: true
  prefix:
    description: Where a source build is installed; C(<prefix>/bin/socat) is looked at first.
    type: path
    default: /usr/local
  system_paths:
    description: Other places a socat may be, in order.
    type: list
    elements: path
    default: [/usr/bin/socat, /usr/local/bin/socat]
  package_name:
    description: The distribution's socat package.
    type: str
    default: socat
  package_binary:
    description: Where the distribution's package installs socat.
    type: path
    default: /usr/bin/socat
  package_installed:
    description:
      - The role has just installed the package in this run. In check mode, where it was not installed, its
        candidate version is trusted when it is new enough (always with O(method=package)).
    type: bool
    default: false
  vsock_min_version:
    description: The first socat version with VSOCK (older packages are not worth installing with O(method=auto)).
    type: str
    default: 1.7.4.0
  source_url:
    description: The URL of the pinned release, unless O(source_tarball) is set.
    type: str
    default: ""
  source_tarball:
    description: The pinned release as a file on the controller (replaces O(source_url)).
    type: str
    default: ""
  source_sha256:
    description: The release's SHA-256.
    type: str
    default: ""
  build_packages:
    description:
      - Per platform (C(debian), C(amazon2), C(amazon2023)), what a source build needs installed.
      - The default is what the pinned release's C(configure) and C(make) need on the supported platforms.
    type: dict
    default:
      debian: [gcc, make, libc6-dev, tar, gzip]
      amazon2: [gcc, make, glibc-devel, tar, gzip]
      amazon2023: [gcc, make, glibc-devel, tar, gzip]
  build_packages_extra:
    description: More packages a source build needs.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Find a socat with VSOCK
  opencontracts.enclave.socat_facts:
    method: auto
    version: 1.7.4.2
    source_url: http://www.dest-unreach.org/socat/download/socat-1.7.4.2.tar.gz
    source_sha256: a38f507dea8aaa8f260f54ebc1de1a71e5adca416219f603cda3e3002960173c
  register: __socat_facts

- name: Say which socat the host uses
  ansible.builtin.debug:
    msg: "{{ __socat_facts.result.binary }} ({{ __socat_facts.result.method }})"
  when: __socat_facts.plan == 'use'
"""

RETURN = r"""
platform:
  description: The platform (C(debian), C(amazon2), C(amazon2023) or C(unsupported)) and its details, as M(opencontracts.enclave.host_prep_facts) reports them.
  returned: always
  type: dict
  sample: {platform: debian, os_id: debian, distribution: Debian GNU/Linux, distribution_version: "12", architecture: x86_64, in_container: true}
apt_lists_stale:
  description: Debian/Ubuntu, apt has no package lists or they are older than an hour; false elsewhere.
  returned: always
  type: bool
binaries:
  description: Each socat found (O(prefix)C(/bin/socat), then O(system_paths)), by path, with C(vsock) (bool) and C(version) (empty when unknown).
  returned: always
  type: dict
  sample: {/usr/bin/socat: {vsock: true, version: 1.7.4.4}}
package:
  description: The distribution's package.
  returned: always
  type: dict
  contains:
    name: {description: "O(package_name).", type: str}
    missing: {description: "It is not installed.", type: bool}
    candidate: {description: "The version the package manager would install, without epoch and release; empty when not asked or none.", type: str}
plan:
  description:
    - C(use) (RV(result) is on the host), C(package) (install the package, refreshing stale apt lists first, and ask
      again with O(package_installed)), C(build) (build the source release), or C(none) (see RV(problem)).
  returned: always
  type: str
  sample: use
problem:
  description: Why O(method) cannot give a socat with VSOCK; null when it can.
  returned: always
  type: str
result:
  description: The socat the host has once RV(plan) is carried out, C({binary, version, method}); null with a problem or the plan C(package).
  returned: always
  type: dict
  sample: {binary: /usr/bin/socat, version: 1.7.4.4, method: installed}
fetch:
  description: The source release to fetch on the controller for a build, C({source, sha256, name}).
  returned: always
  type: dict
build_packages_missing:
  description: With the plan C(build), what the build needs and is not installed.
  returned: always
  type: list
  elements: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state, platforms

VERSION_LINE = re.compile(r"^socat version (\S+)", re.MULTILINE)


def version_key(version):
    return tuple(int(part) for part in re.findall(r"\d+", version))


def clean_version(version):
    """``1:1.7.4.4-2`` -> ``1.7.4.4``; ``(none)`` -> empty."""
    version = version.strip()
    if version in ("", "(none)"):
        return ""
    version = re.sub(r"^\d+:", "", version)
    return re.sub(r"-[^-]*$", "", version)


def probe(module, path):
    """``{vsock, version}`` of an executable socat, None when there is none."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return None
    rc, out, dummy_err = module.run_command([path, "-h"], environ_update=host_state.C_LOCALE)
    vsock = rc == 0 and "vsock-connect" in out.lower()
    dummy_rc, out, dummy_err = module.run_command([path, "-V"], environ_update=host_state.C_LOCALE)
    found = VERSION_LINE.search(out)
    return {"vsock": vsock, "version": found.group(1) if found else ""}


def parse_apt_policy(output):
    found = re.search(r"Candidate:\s*(\S+)", output)
    return clean_version(found.group(1)) if found else ""


def parse_rpm_info(output):
    versions = [clean_version(version) for version in re.findall(r"^Version\s*:\s*(\S+)", output, re.MULTILINE)]
    versions = [version for version in versions if version]
    return max(versions, key=version_key) if versions else ""


def candidate_version(module, platform, name):
    if platform == "debian":
        dummy_rc, out, dummy_err = module.run_command(["apt-cache", "policy", name], environ_update=host_state.C_LOCALE)
        return parse_apt_policy(out)
    tool = "yum" if platform == "amazon2" else "dnf"
    dummy_rc, out, dummy_err = module.run_command([tool, "-q", "info", name], environ_update=host_state.C_LOCALE)
    return parse_rpm_info(out)


def source_name(source):
    path = source.split("://", 1)[1] if "://" in source else source
    return os.path.basename(path.split("?", 1)[0].split("#", 1)[0].rstrip("/"))


def decide(params, binaries, package, check_mode, apt_lists_stale, ask_candidate):
    """``(plan, result, problem)``; ``ask_candidate()`` returns the package's candidate version."""
    method = params["method"]
    prefix_binary = os.path.join(params["prefix"], "bin", "socat")
    pkg = params["package_binary"]
    vsock = [path for path, found in binaries.items() if found["vsock"]]
    built = {"binary": prefix_binary, "version": params["version"], "method": "source"}

    def use(path, method_name):
        return "use", {"binary": path, "version": binaries[path]["version"], "method": method_name}, None

    def trusted_package():
        return "use", {"binary": pkg, "version": package["candidate"], "method": "package"}, None

    no_vsock_package = ("the distribution's %s has no VSOCK support (socat -h lists no VSOCK-CONNECT); use "
                        "socat_method auto or source to build socat %s" % (params["package_name"], params["version"]))
    if method == "installed":
        if vsock:
            return use(vsock[0], "installed")
        return "none", None, ("socat_method is installed, but no socat (%s) lists VSOCK-CONNECT in socat -h; "
                              "use socat_method auto, package or source" % ", ".join(candidate_paths(params)))
    if method == "source":
        if prefix_binary in vsock and binaries[prefix_binary]["version"] == params["version"]:
            return use(prefix_binary, "source")
        return "build", built, None
    if method == "package":
        if pkg in vsock:
            return use(pkg, "package")
        if package["missing"] and params["package_installed"] and check_mode:
            package["candidate"] = ask_candidate()
            return trusted_package()
        if package["missing"] and not params["package_installed"]:
            return "package", None, None
        return "none", None, no_vsock_package
    # auto
    if params["package_installed"]:
        if pkg in vsock:
            return use(pkg, "package")
        if package["missing"] and check_mode:
            package["candidate"] = ask_candidate()
            if package["candidate"] and version_key(package["candidate"]) >= version_key(params["vsock_min_version"]):
                return trusted_package()
        return "build", built, None
    if vsock:
        return use(vsock[0], "installed")
    if not package["missing"]:
        # Installed, without VSOCK: installing it again changes nothing.
        return "build", built, None
    if apt_lists_stale:
        # The candidate is known only after the lists are refreshed: the role refreshes them and asks again.
        return "package", None, None
    package["candidate"] = ask_candidate()
    if package["candidate"] and version_key(package["candidate"]) >= version_key(params["vsock_min_version"]):
        return "package", None, None
    return "build", built, None


def candidate_paths(params):
    paths = []
    for path in [os.path.join(params["prefix"], "bin", "socat")] + params["system_paths"]:
        if path not in paths:
            paths.append(path)
    return paths


def main():
    module = AnsibleModule(
        argument_spec=dict(
            method=dict(type="str", choices=["auto", "installed", "package", "source"], default="auto"),
            version=dict(type="str", required=True),
            prefix=dict(type="path", default="/usr/local"),
            system_paths=dict(type="list", elements="path", default=["/usr/bin/socat", "/usr/local/bin/socat"]),
            package_name=dict(type="str", default="socat"),
            package_binary=dict(type="path", default="/usr/bin/socat"),
            package_installed=dict(type="bool", default=False),
            vsock_min_version=dict(type="str", default="1.7.4.0"),
            source_url=dict(type="str", default=""),
            source_tarball=dict(type="str", default=""),
            source_sha256=dict(type="str", default=""),
            build_packages=dict(type="dict", default=platforms.SOCAT_BUILD_PACKAGES),
            build_packages_extra=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    platform = host_state.platform_facts()
    name = platform["platform"]
    supported = name != "unsupported"
    binaries = {}
    for path in candidate_paths(params):
        found = probe(module, path)
        if found is not None:
            binaries[path] = found
    package = {"name": params["package_name"], "candidate": "",
               "missing": bool(host_state.packages_missing(module, name, [params["package_name"]])) if supported else True}
    apt_lists_stale = name == "debian" and host_state.apt_lists_stale()
    if supported:
        plan, result, problem = decide(params, binaries, package, module.check_mode, apt_lists_stale,
                                       lambda: candidate_version(module, name, params["package_name"]))
    else:
        plan, result, problem = "none", None, None
    source = params["source_tarball"] or params["source_url"]
    build_missing = []
    if plan == "build":
        wanted = (params["build_packages"] or {}).get(name, []) + params["build_packages_extra"]
        build_missing = host_state.packages_missing(module, name, wanted)
    module.exit_json(
        changed=False, platform=platform, apt_lists_stale=apt_lists_stale, binaries=binaries, package=package,
        plan=plan, problem=problem, result=result, build_packages_missing=build_missing,
        fetch={"source": source, "sha256": params["source_sha256"].lower(), "name": source_name(source)})


if __name__ == "__main__":
    main()
