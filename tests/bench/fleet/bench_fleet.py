"""The fleet-scale benchmark's measuring and reporting half (tests/bench/fleet.sh drives it).

Sub-commands:

``inventory``  write the inventory of one container set: N emulated oracle hosts named bench-fleet-<i>,
               each with its own price, and with --registry NAME the registry host they register with
               (group ``registries``), with inventories/sandbox's group_vars and host_vars copied
               verbatim and a second file per group that points the state, the reports, the oracles'
               registry address and (for SSH) the connection at this set.
``wait-ssh``   wait until every host of a set accepts TCP connections on port 22.
``run``        run one command (an ansible-playbook run) and record, as one JSON line:
               wall seconds; controller CPU seconds (the command and every process it started, counted by
               a cpuacct cgroup of its own, which also catches the daemonised SSH ControlPersist masters;
               getrusage(RUSAGE_CHILDREN) is recorded beside it); the CPU seconds of every host container
               (its cgroup) and of podman's runtime processes for these containers (conmon and runc,
               which `podman exec` starts outside both the controller and the container); the load
               average; every host's PLAY RECAP counts. With --registry NAME, the registry container's
               CPU seconds on their own (registry_cpu_s: it is started under a cgroup parent of its own,
               --registry-cgroup-parent, so that neither the hosts' nor the runtime's figures include it).
               With --expect-no-change it fails when any host changed, failed or was unreachable.
``idle``       record the hosts' CPU use while nothing runs (their services' background work).
``tasks``      where one run's CPU went, task by task (a run with --task-profile).
``report``     medians per mode, size and phase, per-host slopes (least squares over the sizes and the
               two-point slope from the smallest to the largest fleet), ratios; a table on stdout,
               summary.json and summary.csv.

Nothing here changes a host: it only reads cgroup accounting files and runs the command it is given.
"""

import argparse
import csv
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONTAINER_PREFIX = "bench-fleet-"
CONTROLLER_CGROUP = "opencontracts_bench_fleet_controller"
PHASES = ("bringup", "converge", "noop", "status", "floor")
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)"
)


# --- cgroup CPU accounting (cgroup v1 cpuacct, or the unified v2 hierarchy) ---------------------------

def cgroup_root():
    """The hierarchy that accounts CPU time: cgroup v1's cpuacct controller, else cgroup v2."""
    v1 = "/sys/fs/cgroup/cpuacct"
    if os.path.exists(os.path.join(v1, "cpuacct.usage")):
        return v1, "v1"
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "/sys/fs/cgroup", "v2"
    sys.exit("bench-fleet: no cgroup CPU accounting found (neither cpuacct nor cgroup v2)")


def cpu_ns(path, version):
    """CPU time used by a cgroup and its descendants, in nanoseconds (0 when it does not exist)."""
    try:
        if version == "v1":
            with open(os.path.join(path, "cpuacct.usage")) as handle:
                return int(handle.read())
        with open(os.path.join(path, "cpu.stat")) as handle:
            for line in handle:
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) * 1000
    except FileNotFoundError:
        return 0
    return 0


def cgroup_pids(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as handle:
            return [int(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def end_leftovers(path):
    """End the processes the measured command left in its cgroup (SSH ControlPersist masters): they
    are its own children, daemonised. Polite first, then by force; returns their number."""
    pids = cgroup_pids(path)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while cgroup_pids(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in cgroup_pids(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def container_cgroups(names, parent, root):
    """The cgroup of each container (podman with the cgroupfs manager: <parent>/libpod-<id>)."""
    result = {}
    for name in names:
        cid = subprocess.run(["podman", "inspect", "--format", "{{ .Id }}", name], check=True,
                             capture_output=True, text=True).stdout.strip()
        path = os.path.join(root, parent.strip("/"), "libpod-" + cid)
        if not os.path.isdir(path):
            sys.exit("bench-fleet: no cgroup %s for container %s (started with --cgroup-parent=%s?)" % (path, name, parent))
        result[name] = path
    return result


def set_hosts(count):
    return ["%s%d" % (CONTAINER_PREFIX, i) for i in range(1, count + 1)]


# --- inventory ----------------------------------------------------------------------------------------

def cmd_inventory(args):
    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    hosts = set_hosts(args.hosts)
    registry = args.registry
    sandbox_inventory = os.path.join(args.code, "inventories", "sandbox")
    # Every group's file (all, oracles, and the groups the code's sandbox has besides).
    for group in sorted(f[:-len(".yml")] for f in os.listdir(os.path.join(sandbox_inventory, "group_vars"))
                        if f.endswith(".yml")):
        os.makedirs(os.path.join(out, "group_vars", group))
        shutil.copyfile(os.path.join(sandbox_inventory, "group_vars", group + ".yml"),
                        os.path.join(out, "group_vars", group, "00-sandbox.yml"))
    os.makedirs(os.path.join(out, "host_vars"))
    shutil.copyfile(os.path.join(sandbox_inventory, "host_vars", "localhost.yml"),
                    os.path.join(out, "host_vars", "localhost.yml"))

    overrides = [
        "---",
        "# Written by tests/bench/fleet/bench_fleet.py: this container set's state and reports, over the",
        "# sandbox's settings (00-sandbox.yml, a copy of inventories/sandbox/group_vars/all.yml).",
        "sandbox_state_dir: %s" % json.dumps(args.state),
        "nitro_emulator_dir: %s" % json.dumps(os.path.join(args.code, "tests", "nitro_emulator")),
        "fleet_report_dir: %s" % json.dumps(os.path.join(args.state, "reports")),
    ]
    addresses = {}
    if args.transport == "ssh":
        overrides += [
            "# Reached like a real fleet: SSH to each container's address on the podman network. The short name, as",
            "# Ansible's default transport is named (strategies such as Mitogen's recognise only that one).",
            "ansible_connection: ssh",
            "ansible_user: root",
            "ansible_ssh_private_key_file: %s" % json.dumps(args.ssh_key),
            "ansible_ssh_common_args: %s" % json.dumps(
                "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes" % args.known_hosts),
        ]
        host_key = subprocess.run(["podman", "exec", hosts[0], "cat", "/etc/ssh/ssh_host_ed25519_key.pub"],
                                  check=True, capture_output=True, text=True).stdout.split()
        known = []
        for name in hosts + ([registry] if registry else []):
            # The default network's address, else the first of the networks the container was started on.
            address = (subprocess.run(
                ["podman", "inspect", "--format",
                 "{{ .NetworkSettings.IPAddress }} {{ range .NetworkSettings.Networks }}{{ .IPAddress }} {{ end }}", name],
                check=True, capture_output=True, text=True).stdout.split() or [""])[0]
            if not address:
                sys.exit("bench-fleet: container %s has no address on the podman network" % name)
            addresses[name] = address
            known.append("%s %s %s" % (address, host_key[0], host_key[1]))
        with open(args.known_hosts, "w") as handle:
            handle.write("\n".join(known) + "\n")
    with open(os.path.join(out, "group_vars", "all", "10-bench-fleet.yml"), "w") as handle:
        handle.write("\n".join(overrides) + "\n")
    if registry:
        # The sandbox's oracles read their registry's address from the file the bring-up writes for the
        # sandbox's registry host (sandbox-registry.address); this set's registry is another host.
        os.makedirs(os.path.join(out, "group_vars", "oracles"), exist_ok=True)
        with open(os.path.join(out, "group_vars", "oracles", "10-bench-fleet.yml"), "w") as handle:
            handle.write("\n".join([
                "---",
                "# Written by tests/bench/fleet/bench_fleet.py: this set's registry host, over the sandbox's",
                "# (00-sandbox.yml, a copy of inventories/sandbox/group_vars/oracles.yml).",
                "oracle_service_registry: %s" % json.dumps(
                    "{{ lookup('ansible.builtin.file', attestation_access_dir ~ '/%s.address') }}" % registry),
            ]) + "\n")

    lines = [
        "---",
        "# Written by tests/bench/fleet/bench_fleet.py: %d emulated oracle host(s) (%s), each with its own price%s."
        % (len(hosts), args.transport, ", and their registry" if registry else ""),
        "all:",
        "  children:",
        "    oracles:",
        "      hosts:",
    ]
    for index, name in enumerate(hosts, start=1):
        lines.append("        %s:" % name)
        lines.append('          oracle_service_price: "%d.%02d OPN"' % (index, (index * 37) % 100))
        if name in addresses:
            lines.append("          ansible_host: %s" % addresses[name])
    if registry:
        lines += ["    registries:", "      hosts:", "        %s:" % registry]
        if registry in addresses:
            lines.append("          ansible_host: %s" % addresses[registry])
    with open(os.path.join(out, "hosts.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return 0


def cmd_wait_ssh(args):
    with open(args.known_hosts) as handle:
        addresses = [line.split()[0] for line in handle if line.strip()]
    deadline = time.monotonic() + args.timeout
    for address in addresses:
        while True:
            try:
                with socket.create_connection((address, 22), timeout=2) as conn:
                    if conn.recv(4).startswith(b"SSH"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("bench-fleet: %s does not accept SSH connections" % address)
            time.sleep(0.5)
    return 0


# --- one measured run ---------------------------------------------------------------------------------

def read_usage(containers, runtime, version):
    return {name: cpu_ns(path, version) for name, path in containers.items()}, cpu_ns(runtime, version)


def recap(log_path):
    hosts = {}
    with open(log_path, errors="replace") as handle:
        for line in handle:
            match = RECAP.match(line)
            if match:
                hosts[match.group("host")] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
    return hosts


def cmd_run(args):
    root, version = cgroup_root()
    names = set_hosts(args.hosts)
    containers = container_cgroups(names, args.cgroup_parent, root)
    runtime = os.path.join(root, args.cgroup_parent.strip("/"), "conmon")
    controller = os.path.join(root, CONTROLLER_CGROUP)
    os.makedirs(controller, exist_ok=True)
    end_leftovers(controller)
    # The registry host is not one of the measured hosts: its CPU is recorded on its own.
    registry = {}
    if args.registry:
        registry = container_cgroups([args.registry], args.registry_cgroup_parent or args.cgroup_parent, root)

    def enter_controller_cgroup():
        with open(os.path.join(controller, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))

    env = dict(os.environ)
    for assignment in args.env or []:
        key, value = assignment.split("=", 1)
        env[key] = value
    if args.task_profile:
        # The benchmark's callback writes every task's CPU seconds (tests/bench/fleet/callback).
        callbacks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback")
        env["ANSIBLE_CALLBACK_PLUGINS"] = ":".join(filter(None, [callbacks, env.get("ANSIBLE_CALLBACK_PLUGINS")]))
        env["ANSIBLE_CALLBACKS_ENABLED"] = ",".join(filter(None, ["bench_fleet_tasks", env.get("ANSIBLE_CALLBACKS_ENABLED")]))
        env["BENCH_FLEET_TASK_LOG"] = args.task_profile
        env["BENCH_FLEET_TASK_CGROUPS"] = ":".join([controller] + [containers[name] for name in names])
        if os.path.exists(args.task_profile):
            os.unlink(args.task_profile)

    load_before = os.getloadavg()
    hosts_before, runtime_before = read_usage(containers, runtime, version)
    controller_before = cpu_ns(controller, version)
    registry_before = sum(cpu_ns(path, version) for path in registry.values())
    rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(args.log, "w") as log:
        log.write("# %s\n" % " ".join(args.command))
        log.flush()
        process = subprocess.Popen(args.command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                   preexec_fn=enter_controller_cgroup)
        rc = process.wait()
    wall = time.monotonic() - started
    leftovers = end_leftovers(controller)
    rusage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    controller_after = cpu_ns(controller, version)
    hosts_after, runtime_after = read_usage(containers, runtime, version)
    registry_after = sum(cpu_ns(path, version) for path in registry.values())
    load_after = os.getloadavg()

    host_cpu = {name: (hosts_after[name] - hosts_before[name]) / 1e9 for name in names}
    recaps = recap(args.log)
    record = {
        "mode": args.mode,
        "transport": args.mode.split("-", 1)[0],
        "hosts": args.hosts,
        "phase": args.phase,
        "round": args.round,
        "rc": rc,
        "wall_s": round(wall, 3),
        "controller_cpu_s": round((controller_after - controller_before) / 1e9, 3),
        "controller_rusage_s": round(
            (rusage_after.ru_utime - rusage_before.ru_utime) + (rusage_after.ru_stime - rusage_before.ru_stime), 3),
        "hosts_cpu_s": round(sum(host_cpu.values()), 3),
        "runtime_cpu_s": round((runtime_after - runtime_before) / 1e9, 3),
        "host_cpu_s": {name: round(value, 3) for name, value in host_cpu.items()},
        "leftover_processes": leftovers,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "recap": recaps,
        "changed": {name: recaps.get(name, {}).get("changed") for name in names},
        "env": args.env or [],
        "config": env.get("ANSIBLE_CONFIG", ""),
        "log": os.path.relpath(args.log, REPO),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    record["total_cpu_s"] = round(record["controller_cpu_s"] + record["hosts_cpu_s"] + record["runtime_cpu_s"], 3)
    if registry:
        # Not in total_cpu_s: the oracles' registrations and the controller's quotes, on the registry's side.
        record["registry_cpu_s"] = round((registry_after - registry_before) / 1e9, 3)
    with open(args.results, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")

    changed = [record["changed"][name] for name in names]
    print("bench-fleet: %-16s %2d host(s) %-8s wall %7.1f s  CPU controller %7.1f s  hosts %7.1f s  podman runtime %6.1f s"
          "  total %7.1f s%s  changed %s  load %.1f"
          % (args.mode, args.hosts, args.phase, wall, record["controller_cpu_s"], record["hosts_cpu_s"],
             record["runtime_cpu_s"], record["total_cpu_s"],
             "  (registry %.1f s)" % record["registry_cpu_s"] if registry else "",
             summarize_changed(changed), load_after[0]), flush=True)
    if rc != 0:
        print("bench-fleet: the run failed (exit status %d); its output: %s" % (rc, record["log"]), file=sys.stderr)
        return 1
    missing = [name for name in names if name not in recaps]
    if missing:
        print("bench-fleet: no PLAY RECAP line for %s; see %s" % (", ".join(missing), record["log"]), file=sys.stderr)
        return 1
    if args.expect_no_change:
        bad = {name: values for name, values in recaps.items() if name in names
               and (values["changed"] or values["failed"] or values["unreachable"])}
        if bad:
            print("bench-fleet: the no-op run changed something: %s; see %s"
                  % (", ".join("%s changed=%d failed=%d unreachable=%d"
                               % (name, v["changed"], v["failed"], v["unreachable"]) for name, v in sorted(bad.items())),
                     record["log"]), file=sys.stderr)
            return 3
    return 0


def summarize_changed(values):
    distinct = sorted(set(values), key=lambda v: (v is None, v))
    if len(distinct) == 1:
        return "%s on every host" % distinct[0]
    return ",".join(str(v) for v in values)


def cmd_idle(args):
    root, version = cgroup_root()
    containers = container_cgroups(set_hosts(args.hosts), args.cgroup_parent, root)
    runtime = os.path.join(root, args.cgroup_parent.strip("/"), "conmon")
    before, runtime_before = read_usage(containers, runtime, version)
    time.sleep(args.seconds)
    after, runtime_after = read_usage(containers, runtime, version)
    rate = sum(after[n] - before[n] for n in containers) / 1e9 / args.seconds
    record = {"mode": args.mode, "transport": args.mode.split("-", 1)[0], "hosts": args.hosts, "phase": "idle",
              "seconds": args.seconds, "hosts_cpu_per_s": round(rate, 4),
              "runtime_cpu_per_s": round((runtime_after - runtime_before) / 1e9 / args.seconds, 4),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with open(args.results, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    print("bench-fleet: %-16s %2d host(s) idle: the hosts use %.3f CPU s per second (%.4f per host)"
          % (args.mode, args.hosts, rate, rate / args.hosts), flush=True)
    return 0


# --- report -------------------------------------------------------------------------------------------

METRICS = ("wall_s", "controller_cpu_s", "hosts_cpu_s", "runtime_cpu_s", "total_cpu_s", "total_net_cpu_s")


def slope(points):
    """Least-squares slope of (x, y) points; None with fewer than two distinct x."""
    xs = [p[0] for p in points]
    if len(set(xs)) < 2:
        return None
    mx = statistics.fmean(xs)
    my = statistics.fmean(p[1] for p in points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def load_records(paths):
    records = []
    for path in paths:
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


def cmd_report(args):
    records = load_records(args.results)
    # Round 0 is a warm-up (VARIANTS): not counted.
    runs = [r for r in records if r["phase"] in PHASES and r.get("rc") == 0 and r.get("round", 1) >= 1]
    idle = [r for r in records if r["phase"] == "idle"]
    modes = list(dict.fromkeys(r["mode"] for r in runs))
    # The hosts' background work (their services, systemd) while nothing runs, from the idle measurement of
    # the same mode and size: the total net of it is what the run itself cost. Without one, the raw total.
    idle_rates = {}
    for i in idle:
        idle_rates.setdefault((i["mode"], i["hosts"]), []).append(i["hosts_cpu_per_s"] + i.get("runtime_cpu_per_s", 0))
    for r in runs:
        rate = statistics.median(idle_rates.get((r["mode"], r["hosts"]), [0]))
        r["total_net_cpu_s"] = round(r["total_cpu_s"] - rate * r["wall_s"], 3)
    groups = {}
    for r in runs:
        groups.setdefault((r["mode"], r["hosts"], r["phase"]), []).append(r)

    rows = []
    for (mode, hosts, phase), items in sorted(groups.items(), key=lambda kv: (modes.index(kv[0][0]), PHASES.index(kv[0][2]), kv[0][1])):
        row = {"mode": mode, "hosts": hosts, "phase": phase, "runs": len(items)}
        for metric in METRICS:
            row[metric] = round(statistics.median(r[metric] for r in items), 2)
        changed = sorted({v for r in items for v in r["changed"].values()}, key=lambda v: (v is None, v))
        row["changed"] = "/".join(str(v) for v in changed)
        row["load_1min"] = "%.1f-%.1f" % (min(r["load_after"][0] for r in items), max(r["load_after"][0] for r in items))
        rates = [i["hosts_cpu_per_s"] for i in idle if i["mode"] == mode and i["hosts"] == hosts]
        row["idle_hosts_cpu_per_s"] = round(statistics.median(rates), 4) if rates else None
        rows.append(row)

    slopes = []
    for mode in modes:
        for phase in PHASES:
            points = [row for row in rows if row["mode"] == mode and row["phase"] == phase]
            if len(points) < 2:
                continue
            entry = {"mode": mode, "phase": phase, "sizes": [p["hosts"] for p in points]}
            for metric in METRICS:
                entry[metric + "_per_host"] = round(slope([(p["hosts"], p[metric]) for p in points]), 3)
                small, large = points[0], points[-1]
                entry[metric + "_per_host_2pt"] = round((large[metric] - small[metric]) / (large["hosts"] - small["hosts"]), 3)
            slopes.append(entry)

    ratios = []
    for mode in modes:
        for hosts in sorted({row["hosts"] for row in rows if row["mode"] == mode}):
            by_phase = {row["phase"]: row for row in rows if row["mode"] == mode and row["hosts"] == hosts}
            if "converge" in by_phase and "noop" in by_phase:
                ratios.append({"mode": mode, "hosts": hosts,
                               "noop_over_converge_total_cpu": round(by_phase["noop"]["total_cpu_s"] / by_phase["converge"]["total_cpu_s"], 3),
                               "noop_over_converge_wall": round(by_phase["noop"]["wall_s"] / by_phase["converge"]["wall_s"], 3)})

    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "summary.json"), "w") as handle:
        json.dump({"medians": rows, "slopes": slopes, "noop_ratios": ratios, "idle": idle}, handle, indent=2)
    with open(os.path.join(args.out_dir, "summary.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()) if rows else ["mode"])
        writer.writeheader()
        writer.writerows(rows)

    print("\nMedians (seconds; CPU = controller + hosts + podman runtime):")
    print("%-28s %5s %-8s %4s %8s %9s %8s %8s %8s %9s  %-9s %s"
          % ("mode", "hosts", "phase", "runs", "wall", "ctrl CPU", "host CPU", "runtime", "total", "net idle", "load", "changed"))
    for row in rows:
        print("%-28s %5d %-8s %4d %8.1f %9.1f %8.1f %8.1f %8.1f %9.1f  %-9s %s"
              % (row["mode"], row["hosts"], row["phase"], row["runs"], row["wall_s"], row["controller_cpu_s"],
                 row["hosts_cpu_s"], row["runtime_cpu_s"], row["total_cpu_s"], row["total_net_cpu_s"],
                 row["load_1min"], row["changed"]))
    if slopes:
        print("\nPer-host cost (least-squares slope over the sizes; two-point slope smallest -> largest in brackets):")
        print("%-28s %-8s %-10s %16s %16s %16s %16s"
              % ("mode", "phase", "sizes", "wall s/host", "ctrl CPU s/host", "total CPU s/host", "net idle s/host"))
        for entry in slopes:
            print("%-28s %-8s %-10s %7.2f [%6.2f] %7.2f [%6.2f] %7.2f [%6.2f] %7.2f [%6.2f]"
                  % (entry["mode"], entry["phase"], ",".join(map(str, entry["sizes"])),
                     entry["wall_s_per_host"], entry["wall_s_per_host_2pt"],
                     entry["controller_cpu_s_per_host"], entry["controller_cpu_s_per_host_2pt"],
                     entry["total_cpu_s_per_host"], entry["total_cpu_s_per_host_2pt"],
                     entry["total_net_cpu_s_per_host"], entry["total_net_cpu_s_per_host_2pt"]))
    if ratios:
        print("\nNo-op re-run / first converge:")
        for entry in ratios:
            print("%-28s %3d host(s): total CPU %.2f, wall %.2f"
                  % (entry["mode"], entry["hosts"], entry["noop_over_converge_total_cpu"], entry["noop_over_converge_wall"]))
    baseline = {e["phase"]: e for e in slopes if e["mode"] == args.baseline}
    if baseline:
        print("\nNo-op per-host total CPU against %s:" % args.baseline)
        for entry in slopes:
            if entry["phase"] == "noop" and entry["mode"] != args.baseline and "noop" in baseline:
                print("%-28s %.2f s/host vs %.2f s/host: %.2f of it"
                      % (entry["mode"], entry["total_cpu_s_per_host"], baseline["noop"]["total_cpu_s_per_host"],
                         entry["total_cpu_s_per_host"] / baseline["noop"]["total_cpu_s_per_host"]))
    print("\nRaw results: %s; summary: %s/summary.json, summary.csv"
          % (", ".join(os.path.relpath(p, REPO) for p in args.results), os.path.relpath(args.out_dir, REPO)))
    return 0


def cmd_tasks(args):
    """Where a run's CPU went, task by task (a --task-profile file): the costliest tasks first."""
    tasks = load_records([args.profile])
    total = sum(t["controller_cpu_s"] + t["hosts_cpu_s"] for t in tasks)
    remote = [t for t in tasks if t["hosts_cpu_s"] > 0.05 * max(1, t["ran"])]
    print("%d tasks, %.1f CPU s (controller %.1f, hosts %.1f); %d host-task runs, %d skipped"
          % (len(tasks), total, sum(t["controller_cpu_s"] for t in tasks), sum(t["hosts_cpu_s"] for t in tasks),
             sum(t["ran"] for t in tasks), sum(t["skipped"] for t in tasks)))
    print("tasks that ran a module on the hosts (more than 0.05 host CPU s per host): %d, %.1f CPU s"
          % (len(remote), sum(t["controller_cpu_s"] + t["hosts_cpu_s"] for t in remote)))
    by_action = {}
    for t in tasks:
        entry = by_action.setdefault(t["action"], [0, 0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += t["ran"]
        entry[2] += t["controller_cpu_s"]
        entry[3] += t["hosts_cpu_s"]
    print("\nBy action: tasks, host-task runs, controller CPU s, host CPU s")
    for action, (count, ran, ctrl, hosts) in sorted(by_action.items(), key=lambda kv: -(kv[1][2] + kv[1][3]))[:args.top]:
        print("  %-45s %4d %5d %8.1f %8.1f" % (action, count, ran, ctrl, hosts))
    print("\nCostliest tasks: controller CPU s, host CPU s, hosts that ran it / skipped it")
    for t in sorted(tasks, key=lambda t: -(t["controller_cpu_s"] + t["hosts_cpu_s"]))[:args.top]:
        print("  %6.1f %6.1f  %3d/%-3d %-16s %s"
              % (t["controller_cpu_s"], t["hosts_cpu_s"], t["ran"], t["skipped"], t["role"] or "-", t["task"][:90]))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="action", required=True)

    p = sub.add_parser("inventory")
    p.add_argument("--code", default=REPO, help="the collection tree whose inventories/sandbox is copied")
    p.add_argument("--transport", choices=["podman", "ssh"], required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--ssh-key")
    p.add_argument("--known-hosts")
    p.add_argument("--registry", help="the registry host's container (group registries), when the code has one")
    p.set_defaults(func=cmd_inventory)

    p = sub.add_parser("wait-ssh")
    p.add_argument("--known-hosts", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(func=cmd_wait_ssh)

    p = sub.add_parser("run")
    p.add_argument("--mode", required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--phase", choices=PHASES, required=True)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--cgroup-parent", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--env", action="append", help="NAME=VALUE for the command's environment")
    p.add_argument("--expect-no-change", action="store_true")
    p.add_argument("--task-profile", help="write every task's CPU seconds to this file (JSON lines)")
    p.add_argument("--registry", help="the registry host's container: its CPU seconds recorded on their own")
    p.add_argument("--registry-cgroup-parent", help="the registry container's cgroup parent (default: --cgroup-parent)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("idle")
    p.add_argument("--mode", required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--cgroup-parent", required=True)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--results", required=True)
    p.set_defaults(func=cmd_idle)

    p = sub.add_parser("tasks")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("profile")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("report")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--baseline", default="ssh-baseline")
    p.add_argument("results", nargs="+")
    p.set_defaults(func=cmd_report)

    args = parser.parse_args(argv)
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
