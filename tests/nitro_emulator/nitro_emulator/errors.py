"""nitro-cli error codes, their texts and the way the real tool reports them.

On failure the real tool prints a block to stderr:

    [ Enn ] <message>

    For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#Enn

    If you open a support ticket, please provide the error log found at "/var/log/nitro_enclaves/err<time>.log"

writes that log file and exits with status nn.
"""

import datetime
import sys

from . import paths

HELP_URL = "https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#%s"

ALLOCATOR_HINT = "from '/etc/nitro_enclaves/allocator.yaml' and then enable the nitro-enclaves-allocator.service."

TEXTS = {
    1: "Missing mandatory argument. User did not provide the `{0}` argument.",
    2: "Conflicting arguments. User provided both `{0}` and `{1}`.",
    3: "Invalid argument provided. The parameter `{0}` is not a valid integer (`{1}`)",
    5: "Process spawn failure. Such error appears when the main Nitro CLI process fails to spawn the enclave process, "
       "in order to complete a `run-enclave` command.",
    11: "Socket error. This is used as an error for catching any other socket operation errors not covered by previous custom errors.",
    19: "File operation failure. Such error appears when the system fails to perform the requested file operations, such as "
        "opening the EIF file when launching an enclave, or seeking to a specific offset in the EIF file, or writing to the log file.",
    20: "Invalid CPU configuration. User provided `{0}` contains same CPU(s) (CPU(s) {1}) multiple times.",
    21: "No such CPU available in the pool. User provided `{0}` contains CPU {1}, which is not available in the pool.\n"
        "You can add a specific CPU to the CPU pool by editing the `cpu_pool` value " + ALLOCATOR_HINT,
    22: "Insufficient CPUs available in the pool. User provided `{0}` is {1}, which is more than the configured CPU pool size.\n"
        "You can increase the CPU pool size by editing the `cpu_count` value " + ALLOCATOR_HINT,
    26: "Insufficient memory requested. User provided `{0}` is {1} MB, but based on the EIF file size, the minimum memory should be {2} MB",
    27: "Insufficient memory available. User provided `{0}` is {1} MB, which is more than the available hugepage memory.\n"
        "You can increase the available memory by editing the `memory_mib` value " + ALLOCATOR_HINT,
    28: "Invalid enclave descriptor. Such error appears when the NE_CREATE_VM ioctl returns with an error.",
    29: "Ioctl failure. Such error is used as a general ioctl error and appears whenever an ioctl fails. In this case, "
        "the error backtrace provides detailed information on what specifically failed during the ioctl.",
    35: "EIF file parsing error. Such errors appear when attempting to fill a memory region with a section of the EIF file, "
        "but reading the entire section fails. This might indicate that the required hugepages are not available.",
    36: "Enclave boot failure. Such error appears when attempting to receive the `ready` signal from a freshly booted enclave. "
        "It arises in several contexts, for instance, when the enclave is booted from an invalid EIF file and the enclave process "
        "immediately exits, failing to submit the `ready` signal. In this case, the error backtrace provides detailed information "
        "on what specifically failed during the enclave boot process.",
    39: "Enclave process connection failure. Such error appears when the enclave manager fails to connect to at least one enclave "
        "process for retrieving the description information.",
    44: "Enclave console connection failure. Such error appears when the Nitro CLI process fails to establish a connection to a "
        "running enclave's console.",
    48: "EIF building error. Such error appears when trying to build an EIF file. In this case, the error backtrace provides "
        "detailed information on the failure reason.",
    49: "Docker image build error. Such error appears when trying to build and EIF file, but building the corresponding docker "
        "image fails. In this case, the error backtrace provides detailed information on the failure reason.",
    50: "Docker image pull error. Such error appears when trying to build an EIF file, but pulling the corresponding docker image "
        "fails. In this case, the error backtrace provides detailed informatino on the failure reason.",
    51: "Artifacts path environment variable not set. Such error appears when trying to build an EIF file, but the artifacts "
        "path environment variable is not set.",
    52: "Blobs path environment variable not set. Such error appears when trying to build an EIF file, but the blobs path "
        "environment variable is not set.",
    58: "Naming error. Such error appears when trying to perform an enclave operation using the enclave name and the name is invalid.",
}

MEMORY_ZERO_TEXT = "Insufficient memory requested. User provided `{0}` is {1} MB, and memory should be greated than 0 MB."

# run-enclave failures raised inside the (real) enclave process: the CLI then also
# reports that it could not talk to that process (E39) and exits 39.
ENCLAVE_PROCESS_CODES = frozenset((20, 21, 22, 26, 27, 28, 29, 35, 36))


class NitroCliError(Exception):
    """A failure reported the nitro-cli way: code, message and optional detail lines."""

    def __init__(self, code, *info, detail=None, text=None):
        self.code = code
        self.detail = detail
        template = text if text is not None else TEXTS[code]
        message = template.format(*info) if info else template
        if code == 19 and len(info) >= 2:
            message = TEXTS[19] + "\nFile: '%s', failing operation: '%s'." % (info[0], info[1])
        self.message = message
        super().__init__(message)


def file_error(path, operation):
    return NitroCliError(19, path, operation)


def _timestamp():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d000+00:00" % now.microsecond


def _write_log(code, message, action, detail):
    """Write the error log like the real tool; return its logical path."""
    logical = "%s/err%s.log" % (paths.LOG_DIR, _timestamp())
    lines = [
        "[ E%02d ] %s" % (code, message),
        "  Action: %s" % action,
        "  Subactions:",
    ]
    if detail:
        lines.extend("    " + line for line in detail.splitlines())
    lines.extend([
        "  Root error file: nitro-emulator (no real Nitro hardware on this host)",
        "  Root error line: 0",
        "  Build commit: not available",
        "",
    ])
    try:
        paths.ensure_dir(paths.LOG_DIR)
        with open(paths.host(logical), "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
    except OSError:
        pass
    return logical


def report(error, action, stream=None):
    """Print one error block the way nitro-cli does."""
    stream = stream or sys.stderr
    code_str = "E%02d" % error.code
    log_path = _write_log(error.code, error.message, action, error.detail)
    block = "[ %s ] %s\n" % (code_str, error.message)
    if error.detail:
        block += error.detail.rstrip("\n") + "\n"
    block += "\nFor more details, please visit %s\n" % (HELP_URL % code_str)
    block += "\nIf you open a support ticket, please provide the error log found at \"%s\"\n" % log_path
    stream.write(block)
    stream.flush()


def report_run_failure(error, stream=None):
    """Report a run-enclave failure and return the exit status (39 when the enclave process failed)."""
    stream = stream or sys.stderr
    report(error, "Run Enclave", stream)
    if error.code not in ENCLAVE_PROCESS_CODES:
        return error.code
    stream.write("Failed connections: 1\n")
    report(NitroCliError(39), "Run Enclave", stream)
    return 39
