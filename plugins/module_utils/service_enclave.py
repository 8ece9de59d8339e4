# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which of the running enclaves is a service's: the one started from the served image, or the one of a name.

An upstream serve script may start its enclave without ``--enclave-name``; nitro-cli then names it
after the EIF's file name (``oracle_enclave.eif`` -> ``oracle_enclave``) and appends ``_1``, ``_2``
to a name in use. So a service's enclave is found by what it runs: the PCR0 that ``nitro-cli
describe-enclaves`` reports for it equals the served image's PCR0 (PCR0 is a hash of the whole image:
two images with the same PCR0 are the same image). When the operator names the enclave (the serve
script passes ``--enclave-name``), it is found by that name instead.

To terminate, the unit's helper is given every PCR0 the service may have served: the served image's and
the permitted ones of its kind. After a release the unit already names the new image while the enclave
of the previous one still runs; it is the service's too.

Only the standard library: the roles also install this file as the unit's helper, run as
``python3 service_enclave.py terminate NITRO_CLI (--name NAME | --pcr0 PCR0 [--pcr0 PCR0...])`` before the serve script
starts and after it stopped. It terminates every enclave of the service (by enclave ID) and no other:
another service's enclave on the same host keeps running.

Public API: :func:`select_enclaves`, :func:`enclave_pcr0`, :func:`describe_wanted`, :func:`normalize_wanted`
and :func:`main`.
"""

import argparse
import json
import re
import subprocess
import sys

PCR0_RE = re.compile(r"[0-9a-f]{96}\Z")


def normalize_wanted(name, pcr0):
    """(name, pcr0) stripped, PCR0 lowercase; raise ValueError when neither is given or a PCR0 is malformed.

    ``pcr0`` is one value or a list of them (returned as given: a string or a list).
    """
    name = (name or "").strip()
    values = [pcr0] if not isinstance(pcr0, (list, tuple)) else list(pcr0)
    values = [(value or "").strip().lower() for value in values]
    for value in values:
        if value and not PCR0_RE.match(value):
            raise ValueError("the served image's PCR0 must be 96 hex characters, got %r" % value)
    values = [value for value in values if value]
    pcr0 = values if isinstance(pcr0, (list, tuple)) else "".join(values)
    if not name and not values:
        raise ValueError("give the enclave's name or the served image's PCR0: without either, no enclave can be "
                         "told to be the service's")
    return name, pcr0


def enclave_pcr0(entry, measurements_key="Measurements"):
    """The PCR0 of one ``describe-enclaves`` entry (lowercase), or None when it reports none."""
    measurements = entry.get(measurements_key) if isinstance(entry, dict) else None
    if not isinstance(measurements, dict):
        return None
    for key, value in measurements.items():
        if str(key).upper() == "PCR0" and isinstance(value, str):
            return value.strip().lower()
    return None


def select_enclaves(enclaves, name="", pcr0="", name_key="EnclaveName", measurements_key="Measurements"):
    """The entries of ``enclaves`` that are the service's: named ``name`` when a name is given, else running ``pcr0``
    (one PCR0, or a list of them).

    ``enclaves`` is the ``describe-enclaves`` list (or summaries of it, with other keys). Raises
    ValueError like :func:`normalize_wanted`.
    """
    name, pcr0 = normalize_wanted(name, pcr0)
    wanted = set(pcr0) if isinstance(pcr0, list) else {pcr0}
    found = []
    for entry in enclaves or []:
        if not isinstance(entry, dict):
            continue
        if name:
            if entry.get(name_key) == name:
                found.append(entry)
        elif enclave_pcr0(entry, measurements_key) in wanted:
            found.append(entry)
    return found


def describe_wanted(name, pcr0):
    """How messages name the service's enclave."""
    if (name or "").strip():
        return "the enclave named %s" % name.strip()
    if isinstance(pcr0, (list, tuple)):
        return "an enclave of the service's images (PCR0 %s)" % ", ".join("%s..." % str(v).strip().lower()[:16] for v in pcr0 if v)
    return "the enclave started from the served image (PCR0 %s...)" % (pcr0 or "").strip().lower()[:16]


def _run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False,
                          env={"LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def terminate(nitro_cli, name="", pcr0="", run=_run, out=sys.stdout, err=sys.stderr):
    """Terminate every enclave of the service; silent when none runs. Returns the exit status (0: none left)."""
    rc, stdout, stderr = run([nitro_cli, "describe-enclaves"])
    if rc != 0:
        err.write("service_enclave: %s describe-enclaves failed (exit status %d): %s\n" % (nitro_cli, rc, stderr.strip()))
        return 1
    try:
        enclaves = json.loads(stdout)
    except ValueError:
        err.write("service_enclave: %s describe-enclaves printed no JSON: %s\n" % (nitro_cli, stdout.strip()[:200]))
        return 1
    status = 0
    for entry in select_enclaves(enclaves if isinstance(enclaves, list) else [], name, pcr0):
        enclave_id = str(entry.get("EnclaveID") or "")
        rc, stdout, stderr = run([nitro_cli, "terminate-enclave", "--enclave-id", enclave_id])
        if rc != 0:
            err.write("service_enclave: terminating %s (%s, %s) failed (exit status %d): %s\n"
                      % (entry.get("EnclaveName"), enclave_id, describe_wanted(name, pcr0), rc, stderr.strip()))
            status = 1
        else:
            out.write("terminated %s (%s): %s\n" % (entry.get("EnclaveName"), enclave_id, describe_wanted(name, pcr0)))
    return status


def main(argv=None):
    """``service_enclave.py terminate NITRO_CLI (--name NAME | --pcr0 PCR0...)``; exit status 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="service_enclave.py",
                                     description="Terminate the enclaves of an Open Contracts service (by name, or "
                                                 "those running the served image's PCR0).")
    commands = parser.add_subparsers(dest="command", required=True)
    stop = commands.add_parser("terminate", help="terminate the service's enclaves; silent when none runs")
    stop.add_argument("nitro_cli")
    stop.add_argument("--name", default="")
    stop.add_argument("--pcr0", action="append", default=[], help="a PCR0 of the service's images (repeatable)")
    args = parser.parse_args(argv)
    try:
        normalize_wanted(args.name, args.pcr0)
    except ValueError as exc:
        parser.error(str(exc))
    return terminate(args.nitro_cli, args.name, args.pcr0)


if __name__ == "__main__":
    raise SystemExit(main())
