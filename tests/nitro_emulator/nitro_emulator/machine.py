"""The emulated EC2 instance: /etc/nitro_emulator/machine.conf (INI) and its CPU topology.

Defaults describe a c5a.4xlarge launched with enclave support. enclave.conf, when
present, overrides keys of the [enclave] section (and only those).
"""

import configparser
import os

from . import paths

DEFAULTS = {
    "machine": {
        "vcpus": "16",
        "threads_per_core": "2",
        "memory_mib": "32768",
        "numa_nodes": "1",
        "instance_id": "i-0e5a1c0de0e5a1c0d",
        "driver": "true",
    },
    "nitro_cli": {
        "version": "1.4.2",
        "build_seconds": "0",
        "build_padding_mib": "0",
    },
    "enclave": {
        "ports": "8080",
        "tcp_bind": "",
        "boot_failure": "false",
        "run_image_command": "false",
    },
}

# Memory the parent's kernel keeps for itself: the allocator never reserves it.
KERNEL_RESERVED_MIB = 512


class MachineConfigError(Exception):
    """machine.conf or enclave.conf holds a value the emulator cannot use."""


def _bool(section, key, text):
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise MachineConfigError("[%s] %s: not a boolean: %r" % (section, key, text))


def _int(section, key, text, minimum):
    try:
        value = int(text.strip())
    except ValueError:
        raise MachineConfigError("[%s] %s: not an integer: %r" % (section, key, text))
    if value < minimum:
        raise MachineConfigError("[%s] %s: must be >= %d, got %d" % (section, key, minimum, value))
    return value


def _ports(text):
    ports = []
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        port = _int("enclave", "ports", item, 1)
        if port > 65535:
            raise MachineConfigError("[enclave] ports: %d is not a TCP port" % port)
        if port not in ports:
            ports.append(port)
    return ports


class Machine:
    """Settings of the emulated instance, with its CPU topology helpers."""

    def __init__(self, parser):
        self.vcpus = _int("machine", "vcpus", parser.get("machine", "vcpus"), 1)
        self.threads_per_core = _int("machine", "threads_per_core", parser.get("machine", "threads_per_core"), 1)
        self.memory_mib = _int("machine", "memory_mib", parser.get("machine", "memory_mib"), 1)
        self.numa_nodes = _int("machine", "numa_nodes", parser.get("machine", "numa_nodes"), 1)
        self.instance_id = parser.get("machine", "instance_id").strip()
        self.driver = _bool("machine", "driver", parser.get("machine", "driver"))
        self.cli_version = parser.get("nitro_cli", "version").strip()
        try:
            self.build_seconds = float(parser.get("nitro_cli", "build_seconds"))
        except ValueError:
            raise MachineConfigError("[nitro_cli] build_seconds: not a number")
        self.build_padding_mib = _int("nitro_cli", "build_padding_mib", parser.get("nitro_cli", "build_padding_mib"), 0)
        self.ports = _ports(parser.get("enclave", "ports"))
        self.tcp_bind = parser.get("enclave", "tcp_bind").strip()
        self.boot_failure = _bool("enclave", "boot_failure", parser.get("enclave", "boot_failure"))
        self.run_image_command = _bool("enclave", "run_image_command", parser.get("enclave", "run_image_command"))
        if self.vcpus % self.threads_per_core:
            raise MachineConfigError("[machine] vcpus (%d) is not a multiple of threads_per_core (%d)" % (self.vcpus, self.threads_per_core))
        if self.numa_nodes > self.cores:
            raise MachineConfigError("[machine] numa_nodes (%d) exceeds the number of cores (%d)" % (self.numa_nodes, self.cores))
        if not self.instance_id:
            raise MachineConfigError("[machine] instance_id is empty")

    @property
    def cores(self):
        return self.vcpus // self.threads_per_core

    def core_of(self, cpu):
        """Linux on EC2 numbers the first thread of every core first: CPU i is on core i mod cores."""
        return cpu % self.cores

    def siblings(self, cpu):
        """All CPUs of the core that CPU belongs to, ascending (CPU 0 -> [0, 8] on 16/2)."""
        core = self.core_of(cpu)
        return [core + thread * self.cores for thread in range(self.threads_per_core)]

    def node_of_core(self, core):
        return core * self.numa_nodes // self.cores

    def node_of(self, cpu):
        return self.node_of_core(self.core_of(cpu))

    def allocatable_memory_mib(self):
        return self.memory_mib - KERNEL_RESERVED_MIB


def load():
    """Read machine.conf (defaults when missing) and enclave.conf overrides."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict(DEFAULTS)
    try:
        parser.read(paths.host(paths.MACHINE_CONF), encoding="utf-8")
        enclave_conf = paths.host(paths.ENCLAVE_CONF)
        if os.path.exists(enclave_conf):
            overrides = configparser.ConfigParser(interpolation=None)
            overrides.read(enclave_conf, encoding="utf-8")
            if overrides.has_section("enclave"):
                for key, value in overrides.items("enclave"):
                    parser.set("enclave", key, value)
    except configparser.Error as exc:
        raise MachineConfigError(str(exc).replace("\n", " "))
    return Machine(parser)
