# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The preflight rules of the roles host_prep and socat: one message per bad value, nothing when all is well;
and why host_prep's run calls for a reboot.

Each filter takes the role's variables (name -> value), what the role's facts module found on the host and
the host's name; it runs on the controller, so a path in a variable is looked for on the controller.
Documented in ``host_prep_input_errors.yml``, ``socat_input_errors.yml`` and ``host_prep_reboot_reasons.yml`` beside
this file.
"""

import os
import re

from ansible_collections.opencontracts.enclave.plugins.module_utils.allocator import (
    MAX_CPUS,
    AllocatorConfigError,
    CpuListBeyondError,
    cpulist_ranges,
)

SUPPORTED = ("debian", "amazon2", "amazon2023")
SUPPORTED_TEXT = "Amazon Linux 2, Amazon Linux 2023, Debian and Ubuntu"
URL = re.compile(r"^(https?|ftp|file)://")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}\Z")
CPU_LIST = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\Z")
GROUP_NAME = re.compile(r"^[a-z_][a-z0-9_-]*\Z")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]*[$]?\Z")
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:-]*\Z")
RUSTUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
RUST_TARGET = re.compile(r"^[A-Za-z0-9_.-]+\Z")
VERSION = re.compile(r"^\d+(\.\d+)+\Z")
# A package version to pin: upstream version, optionally with the distribution's release (1.2.2, 1.2.2-1.amzn2023).
PACKAGE_VERSION = re.compile(r"^\d+(\.\d+)+(-[A-Za-z0-9.+~_]+)?\Z")
# Written into a shell profile inside double quotes: nothing the shell would expand or end the quote with.
RUST_HOME = re.compile(r"^/[A-Za-z0-9._/-]*\Z")


def _int(value):
    """An int, or None when the value is not a whole number."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _shorten(value, limit=20):
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _at_least(inputs, name, minimum):
    number = _int(inputs.get(name))
    if number is None or number < minimum:
        return ["%s must be at least %d (got %s)" % (name, minimum, inputs.get(name))]
    return []


def _names(values, pattern):
    return isinstance(values, list) and all(isinstance(value, str) and pattern.match(value) for value in values)


def _platform_error(facts, host, role):
    platform = facts.get("platform") or {}
    if platform.get("platform") in SUPPORTED:
        return []
    return ["%s supports %s; %s runs %s %s" % (role, SUPPORTED_TEXT, host, platform.get("distribution", "unknown"),
                                               platform.get("distribution_version", ""))]


def _allocator_errors(inputs, facts, host):
    errors = _at_least(inputs, "host_prep_allocator_memory_mib", 64)
    pool = inputs.get("host_prep_allocator_cpu_pool") or ""
    if pool:
        try:
            if not CPU_LIST.match(str(pool)):
                raise AllocatorConfigError("not a CPU list")
            # Bounded before a range is expanded or a number converted; the host's own CPUs are its facts'.
            cpulist_ranges(pool)
        except CpuListBeyondError:
            errors.append("host_prep_allocator_cpu_pool names CPUs beyond %d, more than any host has (got '%s')"
                          % (MAX_CPUS - 1, _shorten(pool)))
        except AllocatorConfigError:
            errors.append("host_prep_allocator_cpu_pool must be empty or a CPU list such as 1,9 or 2-3,10-11 (got '%s')"
                          % _shorten(pool))
    else:
        errors += _at_least(inputs, "host_prep_allocator_cpu_count", 1)
    errors += _at_least(inputs, "host_prep_allocator_host_reserved_mib", 0)
    refusal = (facts.get("allocator") or {}).get("error")
    if not errors and refusal:
        setting = ("host_prep_allocator_cpu_pool=%s" % pool if pool
                   else "host_prep_allocator_cpu_count=%s" % inputs.get("host_prep_allocator_cpu_count"))
        errors.append("host_prep_allocator_memory_mib=%s, %s do not fit %s: %s"
                      % (inputs.get("host_prep_allocator_memory_mib"), setting, host, refusal))
    return errors


def _nitro_cli_errors(inputs, facts, host):
    package = inputs.get("host_prep_nitro_cli_package") or ""
    is_url = bool(URL.match(package))
    errors = []
    if not (is_url or (package and os.path.isfile(package)) or (not package and (facts.get("nitro_cli") or {}).get("present"))):
        if package:
            what = "host_prep_nitro_cli_package (%s) is neither an http(s) URL nor a file on the controller" % package
        else:
            what = ("%s has no Nitro Enclaves CLI package: %s has no nitro-cli and host_prep_nitro_cli_package is empty"
                    % ((facts.get("platform") or {}).get("distribution", "this distribution"), host))
        errors.append(what + ". Build the CLI package (aws-nitro-enclaves-cli) and name its .deb, or install nitro-cli"
                      " on the host first.")
    checksum = inputs.get("host_prep_nitro_cli_package_sha256") or ""
    if package and not SHA256.match(checksum):
        errors.append("host_prep_nitro_cli_package_sha256 must be the SHA-256 (64 hex digits) of %s (got '%s'); a package"
                      " is never installed unchecked, a file on the controller included" % (package, checksum))
    if not inputs.get("host_prep_docker_install", True) and not ((facts.get("units") or {}).get("docker") or {}).get("loaded"):
        errors.append("%s has no docker.service and host_prep_docker_install is false: install docker first or let the"
                      " role install the distribution's package" % host)
    return errors


def _rust_errors(inputs, facts):
    architecture = (facts.get("platform") or {}).get("architecture", "")
    pins = inputs.get("host_prep_rustup_init") or {}
    pin = pins.get(architecture) if isinstance(pins, dict) else None
    errors = []
    if not isinstance(pin, dict):
        errors.append("host_prep_rustup_init must map this host's architecture (%s) to {url: <http(s) URL or a file on the"
                      " controller>, sha256: <64 hex digits>} (got nothing for it)" % architecture)
    else:
        url = str(pin.get("url") or "")
        if not (re.match(r"^(https?|file)://", url) or (url and os.path.isfile(url))):
            errors.append("host_prep_rustup_init.%s.url must be an http(s) URL or a file on the controller (got '%s')"
                          % (architecture, url))
        if not SHA256.match(str(pin.get("sha256") or "")):
            errors.append("host_prep_rustup_init.%s.sha256 must be 64 hex digits (got '%s')" % (architecture, pin.get("sha256", "")))
    toolchain = inputs.get("host_prep_rust_toolchain")
    if not (isinstance(toolchain, str) and RUSTUP_NAME.match(toolchain)):
        errors.append("host_prep_rust_toolchain must be a rustup toolchain name (got '%s')" % toolchain)
    if not _names(inputs.get("host_prep_rust_targets"), RUST_TARGET):
        errors.append("host_prep_rust_targets must be a list of rustup target names (got %s)" % inputs.get("host_prep_rust_targets"))
    if not RUST_HOME.match(str(inputs.get("host_prep_rust_home") or "")):
        errors.append("host_prep_rust_home must be an absolute path of letters, digits and . _ - / (got '%s')"
                      % inputs.get("host_prep_rust_home"))
    return errors


def host_prep_input_errors(inputs, facts, host):
    """The role host_prep's preflight: one message per bad value (see host_prep_input_errors.yml)."""
    facts = facts or {}
    errors = _platform_error(facts, host, "host_prep")
    if inputs.get("host_prep_allocator_enabled", True):
        errors += _allocator_errors(inputs, facts, host)
    errors += _at_least(inputs, "host_prep_reboot_timeout", 60)
    groups = inputs.get("host_prep_enclave_groups")
    if not (groups and _names(groups, GROUP_NAME)):
        errors.append("host_prep_enclave_groups must be a non-empty list of group names (got %s)" % groups)
    user = inputs.get("host_prep_enclave_user") or ""
    if user and not USER_NAME.match(str(user)):
        errors.append("host_prep_enclave_user must be empty or a user name (got '%s')" % user)
    packages = list(inputs.get("host_prep_packages") or []) + list(inputs.get("host_prep_packages_extra") or [])
    if not _names(packages, PACKAGE_NAME):
        errors.append("host_prep_packages and host_prep_packages_extra must be package names (got %s)" % packages)
    pin = inputs.get("host_prep_nitro_cli_version") or ""
    if pin and not PACKAGE_VERSION.match(str(pin)):
        errors.append("host_prep_nitro_cli_version must be empty (any version) or a package version such as 1.2.2 or"
                      " 1.2.2-1.amzn2023 (got '%s')" % pin)
    if (facts.get("platform") or {}).get("platform") == "debian":
        errors += _nitro_cli_errors(inputs, facts, host)
    service_user = facts.get("user") or {}
    if not service_user.get("exists") and not inputs.get("host_prep_enclave_user_create"):
        errors.append("the service user '%s' does not exist on %s: create it, name another one (host_prep_enclave_user) or"
                      " set host_prep_enclave_user_create: true" % (service_user.get("name", user), host))
    if inputs.get("host_prep_rust_enabled"):
        errors += _rust_errors(inputs, facts)
    return errors


def _dedicated_build_dir(path, prefix):
    """The build folder is deleted recursively: only a folder of its own, never /opt, /var, /home or the prefix."""
    parts = [part for part in path.split("/") if part]
    return (path.startswith("/") and len(parts) >= 2 and ".." not in parts and "socat" in parts[-1].lower()
            and os.path.normpath(path) != os.path.normpath(prefix or "/"))


def socat_input_errors(inputs, facts, host):
    """The role socat's preflight: one message per bad value (see socat_input_errors.yml)."""
    facts = facts or {}
    errors = _platform_error(facts, host, "the socat role")
    version = str(inputs.get("socat_version", ""))
    if not VERSION.match(version):
        errors.append("socat_version must look like 1.7.4.2 (got '%s')" % version)
    if not SHA256.match(str(inputs.get("socat_source_sha256") or "")):
        errors.append("socat_source_sha256 must be 64 hex digits (got '%s')" % inputs.get("socat_source_sha256"))
    tarball = inputs.get("socat_source_tarball") or ""
    url = str(inputs.get("socat_source_url") or "")
    if not tarball and not re.match(r"^(https?|ftp|file)://[^/]+/.*[^/]\Z", url):
        errors.append("socat_source_url must be an http(s)/ftp/file URL of a file (got '%s') unless socat_source_tarball is set" % url)
    if tarball and inputs.get("socat_method", "auto") in ("auto", "source") and not os.path.isfile(tarball):
        errors.append("socat_source_tarball '%s' is not a file on the controller" % tarball)
    prefix = str(inputs.get("socat_prefix") or "")
    if not prefix.startswith("/"):
        errors.append("socat_prefix must be an absolute path (got '%s')" % prefix)
    build_dir = str(inputs.get("socat_build_dir") or "")
    if not _dedicated_build_dir(build_dir, prefix):
        errors.append("socat_build_dir must be a dedicated folder the role may delete: an absolute path below another"
                      " folder, named for socat, for example /var/tmp/opencontracts-socat (got '%s')" % build_dir)
    errors += _at_least(inputs, "socat_build_jobs", 1)
    if not PACKAGE_NAME.match(str(inputs.get("socat_package_name") or "")) or ":" in str(inputs.get("socat_package_name")):
        errors.append("socat_package_name must be a package name (got '%s')" % inputs.get("socat_package_name"))
    if not _names(list(inputs.get("socat_build_packages_extra") or []), PACKAGE_NAME):
        errors.append("socat_build_packages_extra must be package names (got %s)" % inputs.get("socat_build_packages_extra"))
    if facts.get("problem"):
        errors.append("%s: %s" % (host, facts["problem"]))
    return errors


def host_prep_reboot_reasons(checks, facts, groups):
    """Why this run of host_prep calls for a reboot, one reason each (see host_prep_reboot_reasons.yml)."""
    checks = checks if isinstance(checks, dict) else {}
    facts = facts or {}
    reasons = []
    reboot_required = (checks.get("reboot_required") or {}).get("stat") or {}
    needs_restarting = checks.get("needs_restarting") or {}
    # needs-restarting -r exits with 1 when a reboot is needed (0: not needed).
    if reboot_required.get("exists") or (needs_restarting.get("rc") == 1 and not needs_restarting.get("skipped")):
        reasons.append("a package change asks for it (new kernel or driver)")
    user = facts.get("user") or {}
    if user.get("joins_groups") and user.get("login"):
        reasons.append("user %s joined %s and may have running sessions" % (user.get("name"), ", ".join(groups or [])))
    return reasons


class FilterModule:
    def filters(self):
        return {
            "host_prep_input_errors": host_prep_input_errors,
            "socat_input_errors": socat_input_errors,
            "host_prep_reboot_reasons": host_prep_reboot_reasons,
        }
