"""Benchmark: opencontracts.enclave.pcr_verify against ``sha384sum`` on a 4 GiB EIF.

Usage: .venv/bin/python tests/bench/pcr.py [CACHE_DIR] [--runs N] [--delete]

1. Builds, once, a 4 GiB EIF under CACHE_DIR (default /var/tmp/opencontracts-bench):
   kernel, cmdline, metadata, a small bootstrap ramdisk and an application
   ramdisk that is almost all of the file. The data is a 64 MiB block of random
   bytes repeated (real data on disk, no sparse holes). The expected PCRs are
   computed while the file is written (from the generated data, not by reading
   the file back with the collection's code) and cached in a JSON file beside it.
2. Reads the whole file once (warm-up: both contenders then find it in the page
   cache; nothing is dropped, which would need root).
3. Runs, N times each and alternating, (a) the module through ``ansible
   localhost -m opencontracts.enclave.pcr_verify`` with ``expected`` set to
   the three PCRs, and (b) ``sha384sum FILE``. Wall time of the whole
   command is measured for both.
   The module's peak RSS: ``ansible_python_interpreter`` points at a small
   wrapper script that runs the venv's python as its child and, once it exits,
   appends ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the kernel's
   high-water mark of the module process) to a log file. The wrapper costs one
   extra Python start-up (~20 ms) inside the timed module runs.
4. Prints the medians, the ratio of the medians, the median of the per-pair
   ratios and the peak RSS. Exit status 1 when a module run fails.
"""

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import zlib
import struct

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "opencontracts", "enclave")
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")

TOTAL_SIZE = 4 * 1024 ** 3
BLOCK = 64 * 1024 * 1024
EIF_NAME = "bench-4gib.eif"
HEADER_FORMAT = ">4sHHQQHH32Q32QII"
HEADER_SIZE = 548
SECTION_HEADER_SIZE = 12


def log(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def pcr(digest):
    return hashlib.sha384(b"\0" * 48 + digest).hexdigest()


def build_eif(path):
    """Write the benchmark EIF; return the expected PCRs."""
    block = os.urandom(BLOCK)
    kernel = os.urandom(8 * 1024 * 1024)
    cmdline = b"reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on root=/dev/ram0"
    metadata = json.dumps({"ImageName": "bench", "ImageVersion": "1.0"}).encode()
    bootstrap = os.urandom(3 * 1024 * 1024)
    fixed = HEADER_SIZE + 5 * SECTION_HEADER_SIZE + len(kernel) + len(cmdline) + len(metadata) + len(bootstrap)
    app_size = TOTAL_SIZE - fixed
    sections = [(1, kernel), (2, cmdline), (5, metadata), (3, bootstrap), (3, None)]
    sizes = [len(d) if d is not None else app_size for _t, d in sections]
    offsets = []
    position = HEADER_SIZE
    for size in sizes:
        offsets.append(position)
        position += SECTION_HEADER_SIZE + size
    assert position == TOTAL_SIZE

    def header(crc):
        return struct.pack(HEADER_FORMAT, b".eif", 4, 0, 2 * 1024 ** 3, 2, 0, len(sections),
                           *(offsets + [0] * (32 - len(offsets)) + sizes + [0] * (32 - len(sizes)) + [0, crc]))

    pcr0, pcr1, pcr2 = hashlib.sha384(), hashlib.sha384(), hashlib.sha384()
    crc = zlib.crc32(header(0)[:544])
    tmp = path + ".part"
    with open(tmp, "wb") as out:
        out.write(header(0))
        for (stype, data), size in zip(sections, sizes):
            sheader = struct.pack(">HHQ", stype, 0, size)
            out.write(sheader)
            crc = zlib.crc32(sheader, crc)
            if data is not None:
                out.write(data)
                crc = zlib.crc32(data, crc)
                if stype in (1, 2, 3):
                    pcr0.update(data)
                    pcr1.update(data)
                continue
            remaining = size
            while remaining:
                piece = block if remaining >= BLOCK else block[:remaining]
                out.write(piece)
                crc = zlib.crc32(piece, crc)
                pcr0.update(piece)
                pcr2.update(piece)
                remaining -= len(piece)
        out.seek(0)
        out.write(header(crc & 0xFFFFFFFF))
    os.rename(tmp, path)
    return {"PCR0": pcr(pcr0.digest()), "PCR1": pcr(pcr1.digest()), "PCR2": pcr(pcr2.digest())}


def ensure_eif(cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, EIF_NAME)
    sidecar = path + ".json"
    if os.path.exists(path) and os.path.exists(sidecar) and os.path.getsize(path) == TOTAL_SIZE:
        with open(sidecar) as handle:
            return path, json.load(handle)
    log("building %s (4 GiB, once)..." % path)
    started = time.monotonic()
    expected = build_eif(path)
    with open(sidecar, "w") as handle:
        json.dump(expected, handle)
    log("built in %.1f s" % (time.monotonic() - started))
    return path, expected


def write_wrapper(cache_dir):
    """An interpreter wrapper recording the module process's peak RSS."""
    wrapper = os.path.join(cache_dir, "rss-python")
    with open(wrapper, "w") as handle:
        handle.write(
            "#!%s\n"
            "import os, resource, subprocess, sys\n"
            "rc = subprocess.call([%r] + sys.argv[1:])\n"
            "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "with open(os.environ['BENCH_RSS_LOG'], 'a') as log:\n"
            "    log.write('%%d %%.3f\\n' %% (usage.ru_maxrss, usage.ru_utime + usage.ru_stime))\n"
            "sys.exit(rc)\n" % (VENV_PYTHON, VENV_PYTHON))
    os.chmod(wrapper, 0o755)
    return wrapper


def warm_up(path):
    started = time.monotonic()
    with open(path, "rb", buffering=0) as handle:
        buf = bytearray(8 * 1024 * 1024)
        while handle.readinto(buf):
            pass
    return time.monotonic() - started


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv, env=None):
    """Run ``argv``; return (wall seconds, CPU seconds of it and its descendants, process)."""
    cpu = children_cpu()
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return time.monotonic() - started, children_cpu() - cpu, proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("cache_dir", nargs="?", default="/var/tmp/opencontracts-bench")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delete", action="store_true", help="delete the 4 GiB EIF afterwards")
    args = parser.parse_args()

    if not os.path.islink(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(REPO, LINK)
    path, expected = ensure_eif(args.cache_dir)
    wrapper = write_wrapper(args.cache_dir)
    rss_log = os.path.join(args.cache_dir, "rss.log")
    if os.path.exists(rss_log):
        os.remove(rss_log)

    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "BENCH_RSS_LOG": rss_log,
    })
    module_args = json.dumps({"eif_path": path, "expected": expected})
    ansible = [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-m", "opencontracts.enclave.pcr_verify",
               "-a", module_args, "-e", "ansible_python_interpreter=%s" % wrapper]
    sha = ["sha384sum", path]

    log("warm-up read: %.1f s" % warm_up(path))
    log("module:   %s" % " ".join(ansible[:5] + ["'%s'" % module_args] + ansible[6:]))
    log("baseline: %s" % " ".join(sha))
    module_times, sha_times, module_cpu, sha_cpu = [], [], [], []
    for run in range(args.runs):
        seconds, cpu, proc = timed(ansible, env)
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0 or '"verified": true' not in out:
            log("module run failed (rc=%d):\n%s\n%s" % (proc.returncode, out, proc.stderr.decode("utf-8", "replace")))
            return 1
        module_times.append(seconds)
        module_cpu.append(cpu)
        seconds, cpu, proc = timed(sha)
        if proc.returncode != 0:
            log("sha384sum failed: %s" % proc.stderr.decode())
            return 1
        sha_times.append(seconds)
        sha_cpu.append(cpu)
        log("run %d: pcr_verify %.2f s   sha384sum %.2f s   ratio %.2f   (load average %.2f)"
            % (run + 1, module_times[-1], sha_times[-1], module_times[-1] / sha_times[-1], os.getloadavg()[0]))

    with open(rss_log) as handle:
        records = [line.split() for line in handle if line.strip()]
    rss_kib = [int(fields[0]) for fields in records]
    inner_cpu = [float(fields[1]) for fields in records]
    ratios = [m / s for m, s in zip(module_times, sha_times)]
    log("")
    log("median pcr_verify (ansible localhost, whole command): %.2f s" % statistics.median(module_times))
    log("median sha384sum:                                     %.2f s" % statistics.median(sha_times))
    log("ratio of medians:                                     %.2f" % (statistics.median(module_times) / statistics.median(sha_times)))
    log("median of per-pair ratios:                            %.2f" % statistics.median(ratios))
    log("module process peak RSS (max of %d runs):              %.1f MiB" % (len(rss_kib), max(rss_kib) / 1024.0))
    log("median CPU time: whole ansible command %.2f s, module process %.2f s, sha384sum %.2f s"
        % (statistics.median(module_cpu), statistics.median(inner_cpu), statistics.median(sha_cpu)))
    if args.delete:
        os.remove(path)
        os.remove(path + ".json")
        log("deleted %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
