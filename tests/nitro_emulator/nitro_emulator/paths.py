"""Every absolute path the emulator uses, prefixed by NITRO_EMULATOR_ROOT when that is set.

Programs print the logical path (the one a real host shows) and operate on the
host path (the logical path under the emulator root).
"""

import contextlib
import grp
import os

ALLOCATOR_YAML = "/etc/nitro_enclaves/allocator.yaml"
MACHINE_CONF = "/etc/nitro_emulator/machine.conf"
ENCLAVE_CONF = "/etc/nitro_emulator/enclave.conf"
RUN_DIR = "/run/nitro_emulator"
RESERVATION_FILE = RUN_DIR + "/allocator.json"
ENCLAVES_DIR = RUN_DIR + "/enclaves"
VSOCK_DIR = RUN_DIR + "/vsock"
STATE_LOCK = RUN_DIR + "/state.lock"
LAUNCH_LOCK = RUN_DIR + "/launch.lock"
LIB_DIR = "/var/lib/nitro_emulator"
BUILD_LOG = LIB_DIR + "/build-enclave.log"
DOCKER_DIR = LIB_DIR + "/docker"
BLOBS_DIR = "/usr/share/nitro_enclaves/blobs"
LOG_DIR = "/var/log/nitro_enclaves"
DEVICE = "/dev/nitro_enclaves"
DOCKER_SOCK = "/run/docker.sock"
DOCKER_PID = "/run/docker.pid"
# What the docker CLI prints: Debian links /var/run to /run.
DOCKER_SOCK_DISPLAY = "/var/run/docker.sock"

# Unix socket addresses are limited to 108 bytes; longer paths go through /proc.
_SUN_PATH_MAX = 100


def emulator_root():
    """The directory every path lives under ('' for the real file system)."""
    return os.environ.get("NITRO_EMULATOR_ROOT", "").rstrip("/")


def host(logical):
    """The host path of a logical absolute path."""
    root = emulator_root()
    return root + logical if root else logical


def ensure_dir(logical, mode=0o755):
    """Create the host directory of a logical path (and its parents) when missing."""
    path = host(logical)
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def blobs_dir():
    """Where nitro-cli reads the kernel, cmdline, init and nsm.ko blobs."""
    env = os.environ.get("NITRO_CLI_BLOBS")
    if env:
        return env
    return host(BLOBS_DIR)


@contextlib.contextmanager
def unix_address(path):
    """Yield an address usable with bind()/connect() for a unix socket path of any length."""
    if len(path) <= _SUN_PATH_MAX:
        yield path
        return
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        yield "/proc/self/fd/%d/%s" % (dir_fd, os.path.basename(path))
    finally:
        os.close(dir_fd)


def write_file_atomic(path, data, mode=0o644):
    """Write bytes or text to path through a temporary file and a rename."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def user_in_group(name):
    """Whether the calling process has group `name` (primary or supplementary)."""
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        return False
    return gid == os.getegid() or gid in os.getgroups()


def open_shared(path, flags=os.O_RDWR, mode=0o664):
    """os.open with O_CREAT; a file this process creates gets `mode` despite the umask (shared by a group)."""
    fd = os.open(path, flags | os.O_CREAT, mode)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, mode)
    except OSError:
        pass
    return fd
