# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read-only views of a host's state, shared by the roles' facts modules.

Every function only reads. Commands run as argv lists with a C locale through
``AnsibleModule.run_command``; their output is parsed here, never in a role.

Public API: :func:`platform_facts`, :func:`packages_missing`,
:func:`apt_lists_stale`, :func:`unit_state`, :func:`describe_file`,
:func:`passwd_entry`, :func:`group_members`, :data:`C_LOCALE`.
"""

import grp
import hashlib
import os
import pwd
import stat
import time

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

# Where apt keeps its package lists, and how old they may be before a refresh (seconds).
APT_LISTS_DIR = "/var/lib/apt/lists"
APT_LISTS_MAX_AGE = 3600


# /etc/os-release IDs -> the platform names the roles use.
PLATFORMS = {"debian": "debian", "ubuntu": "debian"}
# Files container engines leave in their containers.
CONTAINER_MARKERS = ("/run/.containerenv", "/.dockerenv")


def parse_os_release(text):
    """``/etc/os-release`` as a dict (quotes removed)."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip('"').strip("'")
    return values


def platform_name(os_release):
    """``debian`` (Debian, Ubuntu), ``amazon2``, ``amazon2023`` or ``unsupported``."""
    os_id = os_release.get("ID", "")
    if os_id == "amazon":
        major = os_release.get("VERSION_ID", "").split(".")[0]
        return "amazon" + major if major in ("2", "2023") else "unsupported"
    return PLATFORMS.get(os_id, "unsupported")


def in_container(markers=CONTAINER_MARKERS, environ_file="/proc/1/environ"):
    """True in a container (podman/docker marker files, or a ``container=`` variable of PID 1)."""
    if any(os.path.exists(marker) for marker in markers):
        return True
    try:
        with open(environ_file, "rb") as handle:
            return any(item.startswith(b"container=") for item in handle.read().split(b"\0"))
    except OSError:
        return False


def platform_facts(os_release_path="/etc/os-release"):
    """``{platform, os_id, distribution, distribution_version, architecture, in_container}``.

    ``os_id`` is os-release's ID (``amazon``, ``debian``, ``ubuntu``), ``distribution`` its NAME.
    """
    try:
        with open(os_release_path) as handle:
            os_release = parse_os_release(handle.read())
    except OSError:
        os_release = {}
    return {
        "platform": platform_name(os_release),
        "os_id": os_release.get("ID", ""),
        "distribution": os_release.get("NAME", "unknown"),
        "distribution_version": os_release.get("VERSION_ID", ""),
        "architecture": os.uname().machine,
        "in_container": in_container(),
    }


def parse_dpkg_status(output):
    """The package names dpkg reports as installed ("ii") in ``name<TAB>status`` lines."""
    installed = set()
    for line in output.splitlines():
        name, dummy, status = line.partition("\t")
        if status.strip().startswith("ii"):
            installed.add(name.strip())
    return installed


def parse_rpm_whatprovides(output):
    """The names rpm could not find, from ``rpm -q --whatprovides`` output."""
    prefix = "no package provides "
    return [line[len(prefix):].strip() for line in output.splitlines() if line.startswith(prefix)]


def packages_missing(module, platform, names):
    """The names in ``names`` that are not installed, in their order.

    ``platform`` is ``debian`` (asks dpkg: a name dpkg does not know, a virtual or version-pinned
    name counts as missing and apt decides) or ``amazon2``/``amazon2023`` (asks rpm, which also
    resolves provides). Any other platform: every name is missing.
    """
    names = [name for name in names if name]
    if not names:
        return []
    if platform == "debian":
        cmd = ["dpkg-query", "--show", "--showformat=${Package}\t${db:Status-Abbrev}\n", "--"] + names
        # Exit status 1 only says that some name is unknown: the known ones are still listed.
        dummy_rc, out, dummy_err = module.run_command(cmd, environ_update=C_LOCALE)
        installed = parse_dpkg_status(out)
        return [name for name in names if name not in installed]
    if platform in ("amazon2", "amazon2023"):
        cmd = ["rpm", "-q", "--whatprovides", "--qf", "%{NAME}\n"] + names
        dummy_rc, out, dummy_err = module.run_command(cmd, environ_update=C_LOCALE)
        missing = set(parse_rpm_whatprovides(out))
        return [name for name in names if name in missing]
    return list(names)


def apt_lists_stale(lists_dir=APT_LISTS_DIR, max_age=APT_LISTS_MAX_AGE, now=None):
    """True when apt has no package lists, or the newest is older than ``max_age`` seconds.

    A fresh Debian host has an (empty, recent) lists folder: apt's own cache_valid_time would
    call that fresh, so the lists themselves are looked at.
    """
    now = time.time() if now is None else now
    try:
        entries = os.listdir(lists_dir)
    except OSError:
        return True
    newest = None
    for entry in entries:
        if "_Packages" not in entry:
            continue
        try:
            mtime = os.stat(os.path.join(lists_dir, entry)).st_mtime
        except OSError:
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return newest is None or now - newest > max_age


def parse_systemctl_show(output):
    """``systemctl show --property=...`` lines as a dict."""
    props = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def unit_state(module, unit):
    """A systemd unit's state: ``{loaded, active, enabled, active_state, unit_file_state}``.

    ``loaded``: systemd knows the unit (its file exists); ``active``: ActiveState is active;
    ``enabled``: UnitFileState is enabled. Without systemd every flag is false.
    """
    props = {}
    systemctl = module.get_bin_path("systemctl")
    if systemctl:
        rc, out, dummy_err = module.run_command(
            [systemctl, "show", "--property=LoadState,ActiveState,UnitFileState", "--", unit],
            environ_update=C_LOCALE)
        if rc == 0:
            props = parse_systemctl_show(out)
    return {
        "loaded": props.get("LoadState") == "loaded",
        "active": props.get("ActiveState") == "active",
        "enabled": props.get("UnitFileState") == "enabled",
        "active_state": props.get("ActiveState", ""),
        "unit_file_state": props.get("UnitFileState", ""),
    }


def file_digest(path, algorithm="sha256", chunk_size=1 << 20):
    """Hex digest of a regular file's bytes (streamed)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path, algorithm="sha256"):
    """A regular file as ``{exists, checksum, mode, owner, group}``; ``exists`` false otherwise.

    ``mode`` is the permission bits as four octal digits (``0644``); owner and group are names
    (the numeric ID when the name is unknown). Anything that is not a regular file (a FIFO, a
    folder) is reported as not existing: reading it could block or mean nothing.
    """
    try:
        info = os.stat(path)
    except OSError:
        return {"exists": False, "checksum": None, "mode": None, "owner": None, "group": None}
    if not stat.S_ISREG(info.st_mode):
        return {"exists": False, "checksum": None, "mode": None, "owner": None, "group": None}
    return {
        "exists": True,
        "checksum": file_digest(path, algorithm),
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "owner": _user_name(info.st_uid),
        "group": _group_name(info.st_gid),
    }


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def passwd_entry(name):
    """A user as ``{exists, uid, home, shell}``."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {"exists": False, "uid": None, "home": None, "shell": None}
    return {"exists": True, "uid": entry.pw_uid, "home": entry.pw_dir, "shell": entry.pw_shell}


def group_members(names):
    """``{group: [members]}`` for the groups in ``names`` that exist (supplementary members only)."""
    members = {}
    for name in names:
        try:
            members[name] = list(grp.getgrnam(name).gr_mem)
        except KeyError:
            continue
    return members
