"""The image distribution benchmark's measuring and reporting half (tests/bench/distribution.sh drives it).

Sub-commands:

``inventory``  the inventory of one container set: a builder and N receivers named bench-dist-<i> (the
               fleet benchmark's inventory, tests/bench/fleet/bench_fleet.py, with this benchmark's names),
               plus the settings of this benchmark (group_vars/all/20-bench-distribution.yml): the padded
               EIF, strategy once, the controller's folder of this set, the S3 endpoint and bucket.
``bucket``     create the bucket on the benchmark's S3 endpoint, or empty it (--empty).
``node-mounts`` the files the S3 endpoint's container needs to run this machine's ``node`` (S3_SERVER=s3rver):
               the executable and every shared library it loads (from ``ldd``), the dynamic loader included,
               as lines "HOST-PATH<TAB>CONTAINER-PATH" under one folder; the container runs node through that
               loader with that folder as its library path, so it needs nothing of the image's libraries.
``run``        run one ansible-playbook run and record, as one JSON line:
               wall seconds; controller CPU seconds (the run and every process it started, counted by a
               cgroup of its own, SSH ControlPersist masters included); the bytes that crossed the
               controller's side of the benchmark's own podman network (the bridge's receive and send
               counters: every byte between the controller and the hosts or the S3 endpoint, and nothing
               else, since only this benchmark's containers use that network); the bytes that landed in the
               controller's image folder (enclave_build_controller_dir); from the run's task profile
               (tests/bench/fleet/callback), the deliver phase: the tasks from the first "Distribute |" task
               to the last "Distribute |", "Verify |" or "Install |" task, their wall and controller CPU
               seconds; every host's PLAY RECAP counts.
``report``     medians per size and mode (s3 with its endpoint's server), side by side, as a table on stdout
               and in summary.json and summary.md.

Nothing here changes a host: it reads counters, runs the command it is given, and talks to the local S3
endpoint.
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PREFIX = "bench-dist-"
CONTROLLER_CGROUP = "opencontracts_bench_distribution_controller"
DELIVER_START = ("Distribute |",)
DELIVER_TASKS = ("Distribute |", "Verify |", "Install |")
GIB = 1024 ** 3


def load_fleet():
    """tests/bench/fleet/bench_fleet.py (its inventory, cgroup accounting and PLAY RECAP parsing), with this
    benchmark's container names."""
    path = os.path.join(REPO, "tests", "bench", "fleet", "bench_fleet.py")
    spec = importlib.util.spec_from_file_location("bench_fleet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.CONTAINER_PREFIX = PREFIX
    return module


FLEET = load_fleet()


def host_names(receivers):
    """The builder (bench-dist-1), then the receivers."""
    return ["%s%d" % (PREFIX, i) for i in range(1, receivers + 2)]


# --- inventory ----------------------------------------------------------------------------------------

def cmd_inventory(args):
    FLEET.cmd_inventory(argparse.Namespace(code=args.code, transport="ssh", hosts=args.receivers + 1, out=args.out,
                                           state=args.state, ssh_key=args.ssh_key, known_hosts=args.known_hosts,
                                           registry=None))
    settings = {
        # The emulated machine (tests/sandbox/bringup.yml installs it): every EIF is padded to a realistic size.
        "nitro_emulator_machine": {"build_seconds": 0, "build_padding_mib": args.eif_mib,
                                   "enclave_run_image_command": True},
        # One host builds, every other host receives the builder's verified image.
        "enclave_build_strategy": "once",
        "enclave_build_controller_dir": os.path.join(args.state, "eif"),
        "enclave_build_s3_bucket": args.bucket,
        "enclave_build_s3_endpoint_url": args.endpoint,
        "enclave_build_s3_region": "us-east-1",
        "enclave_build_s3_access": "presigned",
    }
    lines = ["---", "# Written by tests/bench/distribution/bench_distribution.py: this benchmark's settings, over the",
             "# sandbox's (00-sandbox.yml) and the set's (10-bench-fleet.yml)."]
    lines += ["%s: %s" % (key, json.dumps(value)) for key, value in settings.items()]
    with open(os.path.join(args.out, "group_vars", "all", "20-bench-distribution.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return 0


# --- the bucket ---------------------------------------------------------------------------------------

def s3_client(endpoint):
    import boto3  # pylint: disable=import-outside-toplevel
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)


def cmd_bucket(args):
    import botocore.exceptions  # pylint: disable=import-outside-toplevel
    client = s3_client(args.endpoint)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.list_buckets()
            break
        except Exception:  # pylint: disable=broad-except
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    if args.empty:
        removed = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=args.bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=args.bucket, Key=item["Key"])
                removed += 1
        print("bench-distribution: emptied s3://%s (%d object(s))" % (args.bucket, removed))
        return 0
    client.create_bucket(Bucket=args.bucket)
    note = ""
    try:
        client.put_bucket_encryption(Bucket=args.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    except botocore.exceptions.ClientError as error:
        # s3rver keeps no bucket settings of this kind; the uploads still send their signed encryption header.
        if error.response.get("Error", {}).get("Code") != "NotImplemented":
            raise
        note = " (the endpoint keeps no default encryption setting)"
    print("bench-distribution: bucket s3://%s on %s%s" % (args.bucket, args.endpoint, note))
    return 0


# --- the S3 endpoint's node runtime ------------------------------------------------------------------

def ldd_libraries(text):
    """The shared libraries in ``ldd``'s output, as (name the program asks for, file on this machine); the
    dynamic loader is the entry whose name is a path. Raises ValueError for a library ldd did not find."""
    libraries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("linux-vdso") or line.startswith("linux-gate"):
            continue
        if "=>" in line:
            name, _sep, rest = line.partition("=>")
            path = rest.strip().split(" (", 1)[0].strip()
            if not path or path == "not found":
                raise ValueError("ldd: %s not found" % name.strip())
            libraries.append((name.strip(), path))
        elif line.startswith("/"):
            path = line.split(" (", 1)[0].strip()
            libraries.append((os.path.basename(path), path))
        elif "statically linked" in line or "not a dynamic executable" in line:
            continue
        else:
            raise ValueError("ldd: unexpected line %r" % line)
    return libraries


def node_mounts(node, ldd_output, prefix):
    """(host path, container path) pairs: node at PREFIX/node, its libraries and loader under PREFIX/lib."""
    mounts = [(os.path.realpath(node), prefix + "/node")]
    for name, path in ldd_libraries(ldd_output):
        mounts.append((os.path.realpath(path), "%s/lib/%s" % (prefix, os.path.basename(name))))
    return mounts


def cmd_node_mounts(args):
    node = args.node
    try:
        output = subprocess.run(["ldd", node], check=True, capture_output=True, text=True).stdout
        mounts = node_mounts(node, output, args.prefix)
    except (OSError, subprocess.CalledProcessError, ValueError) as error:
        print("bench-distribution: cannot list what %s loads: %s" % (node, error), file=sys.stderr)
        return 1
    loaders = [target for _host, target in mounts if os.path.basename(target).startswith("ld-linux")]
    if len(loaders) != 1:
        print("bench-distribution: %s names no single dynamic loader (ldd)" % node, file=sys.stderr)
        return 1
    for host, target in mounts:
        print("%s\t%s" % (host, target))
    return 0


# --- one measured run ---------------------------------------------------------------------------------

def bridge_bytes(interface):
    values = []
    for name in ("rx_bytes", "tx_bytes"):
        with open("/sys/class/net/%s/statistics/%s" % (interface, name)) as handle:
            values.append(int(handle.read()))
    return values


def tree_bytes(path):
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def deliver_phase(profile):
    """Wall and controller CPU seconds of the deliver phase, from a task profile (None without one)."""
    try:
        with open(profile) as handle:
            tasks = [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return None
    ran = [dict(t, task=t["task"].split(" : ", 1)[-1]) for t in tasks if t["role"].split(".")[-1] == "enclave_build"]
    starts = [i for i, t in enumerate(ran) if t["task"].startswith(DELIVER_START) and t["ran"]]
    if not starts:
        return {"wall_s": 0.0, "controller_cpu_s": 0.0, "tasks": 0}
    ends = [i for i, t in enumerate(ran) if t["task"].startswith(DELIVER_TASKS)]
    phase = ran[starts[0]:ends[-1] + 1]
    return {"wall_s": round(sum(t["wall_s"] for t in phase), 3),
            "controller_cpu_s": round(sum(t["controller_cpu_s"] for t in phase), 3),
            "tasks": len(phase)}


def cmd_run(args):
    root, version = FLEET.cgroup_root()
    names = host_names(args.receivers)
    containers = FLEET.container_cgroups(names, args.cgroup_parent, root)
    controller = os.path.join(root, CONTROLLER_CGROUP)
    os.makedirs(controller, exist_ok=True)
    FLEET.end_leftovers(controller)

    def enter_controller_cgroup():
        with open(os.path.join(controller, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))

    env = dict(os.environ)
    callbacks = os.path.join(REPO, "tests", "bench", "fleet", "callback")
    env["ANSIBLE_CALLBACK_PLUGINS"] = ":".join(filter(None, [callbacks, env.get("ANSIBLE_CALLBACK_PLUGINS")]))
    env["ANSIBLE_CALLBACKS_ENABLED"] = ",".join(filter(None, ["bench_fleet_tasks", env.get("ANSIBLE_CALLBACKS_ENABLED")]))
    profile = args.log[:-len(".log")] + ".tasks.jsonl" if args.log.endswith(".log") else args.log + ".tasks.jsonl"
    env["BENCH_FLEET_TASK_LOG"] = profile
    env["BENCH_FLEET_TASK_CGROUPS"] = ":".join([controller] + [containers[name] for name in names])
    if os.path.exists(profile):
        os.unlink(profile)

    net_before = bridge_bytes(args.bridge)
    cpu_before = FLEET.cpu_ns(controller, version)
    rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(args.log, "w") as log:
        log.write("# %s\n" % " ".join(args.command))
        log.flush()
        process = subprocess.Popen(args.command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                   preexec_fn=enter_controller_cgroup)
        rc = process.wait()
    wall = time.monotonic() - started
    leftovers = FLEET.end_leftovers(controller)
    cpu_after = FLEET.cpu_ns(controller, version)
    rusage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    net_after = bridge_bytes(args.bridge)

    recaps = FLEET.recap(args.log)
    received, sent = net_after[0] - net_before[0], net_after[1] - net_before[1]
    record = {
        "mode": args.mode,
        "s3_server": args.s3_server,
        "receivers": args.receivers,
        "round": args.round,
        "eif_bytes": args.eif_bytes,
        "rc": rc,
        "wall_s": round(wall, 3),
        "controller_cpu_s": round((cpu_after - cpu_before) / 1e9, 3),
        "controller_rusage_s": round((rusage_after.ru_utime - rusage_before.ru_utime)
                                     + (rusage_after.ru_stime - rusage_before.ru_stime), 3),
        "net_rx_bytes": received,
        "net_tx_bytes": sent,
        "net_bytes": received + sent,
        "controller_dir_bytes": tree_bytes(args.controller_dir),
        "deliver": deliver_phase(profile),
        "leftover_processes": leftovers,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "changed": {name: recaps.get(name, {}).get("changed") for name in names},
        "failed": {name: recaps.get(name, {}).get("failed") for name in names},
        "log": os.path.relpath(args.log, REPO),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record["net_eif_copies"] = round(record["net_bytes"] / args.eif_bytes, 3) if args.eif_bytes else None
    with open(args.results, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    deliver = record["deliver"] or {}
    print("bench-distribution: %-10s %2d receiver(s) round %d: wall %6.1f s (deliver %6.1f s)  controller CPU %6.1f s"
          " (deliver %5.1f s)  through the controller %7.3f GiB (%5.2f EIF)  controller folder %6.3f GiB  load %.1f"
          % (args.mode, args.receivers, args.round, wall, deliver.get("wall_s", 0), record["controller_cpu_s"],
             deliver.get("controller_cpu_s", 0), record["net_bytes"] / GIB, record["net_eif_copies"] or 0,
             record["controller_dir_bytes"] / GIB, record["load_after"][0]), flush=True)
    if rc != 0:
        print("bench-distribution: the run failed (exit status %d); its output: %s" % (rc, record["log"]), file=sys.stderr)
        return 1
    missing = [name for name in names if name not in recaps]
    if missing:
        print("bench-distribution: no PLAY RECAP line for %s; see %s" % (", ".join(missing), record["log"]), file=sys.stderr)
        return 1
    return 0


# --- report -------------------------------------------------------------------------------------------

METRICS = (("wall_s", "wall s"), ("deliver_wall_s", "deliver s"), ("controller_cpu_s", "ctrl CPU s"),
           ("deliver_controller_cpu_s", "deliver CPU s"), ("net_gib", "ctrl GiB"), ("net_eif_copies", "EIFs"),
           ("controller_dir_gib", "folder GiB"))


def mode_label(record):
    """The mode as the report shows it: s3 with its endpoint's server (runs recorded before it was a setting
    ran against moto)."""
    if record["mode"] != "s3":
        return record["mode"]
    return "s3 (%s)" % record.get("s3_server", "moto")


def cmd_report(args):
    records = []
    for path in args.results:
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    runs = [r for r in records if r.get("rc") == 0]
    for r in runs:
        r["mode"] = mode_label(r)
        r["deliver_wall_s"] = (r.get("deliver") or {}).get("wall_s", 0.0)
        r["deliver_controller_cpu_s"] = (r.get("deliver") or {}).get("controller_cpu_s", 0.0)
        r["net_gib"] = r["net_bytes"] / GIB
        r["controller_dir_gib"] = r["controller_dir_bytes"] / GIB
    modes = list(dict.fromkeys(r["mode"] for r in runs))
    sizes = sorted({r["receivers"] for r in runs})
    rows = []
    for size in sizes:
        for mode in modes:
            items = [r for r in runs if r["receivers"] == size and r["mode"] == mode]
            if not items:
                continue
            row = {"receivers": size, "mode": mode, "runs": len(items),
                   "load_1min": "%.1f-%.1f" % (min(r["load_after"][0] for r in items), max(r["load_after"][0] for r in items))}
            for key, _label in METRICS:
                row[key] = round(statistics.median(r[key] for r in items), 3)
            rows.append(row)
    header = "| receivers | mode | runs | " + " | ".join(label for _key, label in METRICS) + " | load (1 min) |"
    lines = [header, "|" + " --- |" * (len(METRICS) + 4)]
    for row in rows:
        lines.append("| %d | %s | %d | %s | %s |" % (row["receivers"], row["mode"], row["runs"],
                                                     " | ".join("%.2f" % row[key] for key, _label in METRICS),
                                                     row["load_1min"]))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "summary.json"), "w") as handle:
        json.dump({"medians": rows}, handle, indent=2)
    with open(os.path.join(args.out_dir, "summary.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\nMedians per fleet size (a builder and N receivers) and distribution mode:")
    print("\n".join(lines))
    print("\nRaw results: %s; summary: %s/summary.json, summary.md"
          % (", ".join(os.path.relpath(p, REPO) for p in args.results), os.path.relpath(args.out_dir, REPO)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="action", required=True)

    p = sub.add_parser("inventory")
    p.add_argument("--code", default=REPO)
    p.add_argument("--receivers", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--ssh-key", required=True)
    p.add_argument("--known-hosts", required=True)
    p.add_argument("--eif-mib", type=int, required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.set_defaults(func=cmd_inventory)

    p = sub.add_parser("bucket")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--empty", action="store_true")
    p.set_defaults(func=cmd_bucket)

    p = sub.add_parser("node-mounts")
    p.add_argument("--node", required=True, help="the node executable on this machine")
    p.add_argument("--prefix", required=True, help="the container folder to mount it under")
    p.set_defaults(func=cmd_node_mounts)

    p = sub.add_parser("run")
    p.add_argument("--mode", required=True)
    p.add_argument("--receivers", type=int, required=True)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--eif-bytes", type=int, required=True)
    p.add_argument("--s3-server", default="moto", help="the S3 endpoint's server (recorded with the run)")
    p.add_argument("--bridge", required=True, help="the host side of the benchmark's podman network")
    p.add_argument("--controller-dir", required=True)
    p.add_argument("--cgroup-parent", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report")
    p.add_argument("--out-dir", required=True)
    p.add_argument("results", nargs="+")
    p.set_defaults(func=cmd_report)

    args = parser.parse_args(argv)
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
