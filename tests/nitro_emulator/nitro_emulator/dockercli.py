"""docker: the subset of the docker CLI the roles use, backed by the emulator's image store.

Every subcommand first checks the stand-in daemon (/run/docker.sock) like the real
client: down -> "Cannot connect to the Docker daemon ...", exit 1; a non-root user
outside group `docker` -> "permission denied ...", exit 1.
"""

import json
import os
import re
import sys

from . import dockerstore, paths
from .dockerstore import DockerError

CLIENT_VERSION = "24.0.7"
SERVER_VERSION = "24.0.7-nitro-emulator"
API_VERSION = "1.43"
NIL_LISTS = ("Cmd", "Entrypoint", "Env", "RepoTags", "RepoDigests", "Layers")
NIL_MAPS = ("Labels", "ExposedPorts", "Volumes", "Data")


class UsageError(DockerError):
    """A flag or argument problem: docker prints it with a hint and exits 125 (1 for a wrong argument count)."""

    def __init__(self, command, message, status=125):
        super().__init__("%s\nSee 'docker %s --help'." % (message, command), status)


# --- flags -----------------------------------------------------------------------------------

def parse_flags(command, argv, value_flags, bool_flags, multi=()):
    """Docker-style flags: --flag value, --flag=value, -f value, -abc clusters; returns (options, positionals)."""
    options = {}
    positionals = []
    index = 0

    def store(name, value):
        if name in multi:
            options.setdefault(name, []).append(value)
        else:
            options[name] = value

    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            positionals.extend(argv[index:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, has_value, value = arg[2:].partition("=")
            if name in value_flags:
                if not has_value:
                    if index >= len(argv):
                        raise UsageError(command, "flag needs an argument: --%s" % name)
                    value = argv[index]
                    index += 1
                store(value_flags[name], value)
            elif name in bool_flags:
                store(bool_flags[name], value.lower() not in ("false", "0") if has_value else True)
            else:
                raise UsageError(command, "unknown flag: --%s" % name)
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            for position, letter in enumerate(letters):
                if letter in value_flags:
                    value = letters[position + 1:]
                    if not value:
                        if index >= len(argv):
                            raise UsageError(command, "flag needs an argument: '%s' in -%s" % (letter, letter))
                        value = argv[index]
                        index += 1
                    store(value_flags[letter], value.lstrip("="))
                    break
                if letter in bool_flags:
                    store(bool_flags[letter], True)
                else:
                    raise UsageError(command, "unknown shorthand flag: '%s' in %s" % (letter, arg))
        else:
            positionals.append(arg)
    return options, positionals


# --- Go template subset -------------------------------------------------------------------------

def go_string(value, key=""):
    if value is None:
        if key in NIL_LISTS:
            return "[]"
        if key in NIL_MAPS:
            return "map[]"
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "[" + " ".join(go_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join("%s:%s" % (name, go_string(value[name], name)) for name in sorted(value)) + "]"
    return str(value)


def _lookup(data, path):
    value = data
    key = ""
    for key in [part for part in path.split(".") if part]:
        if not isinstance(value, dict) or key not in value:
            return None, key, False
        value = value[key]
    return value, key, True


def render(template, data):
    """{{.A.B}}, {{json .A}}, {{json .}}, {{.}} and plain text; \\n and \\t escapes like the docker CLI."""
    def replace(match):
        expression = match.group(1).strip()
        as_json = expression.startswith("json ")
        if as_json:
            expression = expression[5:].strip()
        if not expression.startswith("."):
            raise DockerError("template: parsing error: function %r not defined" % expression.split()[0])
        value, key, found = _lookup(data, expression)
        if as_json:
            return json.dumps(value, separators=(",", ":"))
        return go_string(value, key) if found else "<no value>"

    text = re.sub(r"\{\{(.*?)\}\}", replace, template)
    return text.replace("\\n", "\n").replace("\\t", "\t")


# --- subcommands ---------------------------------------------------------------------------------

def cmd_load(store, argv):
    options, positionals = parse_flags("load", argv, {"i": "input", "input": "input"}, {"q": "quiet", "quiet": "quiet"})
    if positionals:
        raise UsageError("load", '"docker load" accepts no arguments.', 1)
    if options.get("input"):
        try:
            with open(options["input"], "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise DockerError("open %s: %s" % (options["input"], exc.strerror.lower() if exc.strerror else exc))
    else:
        if sys.stdin.isatty():
            raise DockerError("requested load from stdin, but stdin is empty")
        data = sys.stdin.buffer.read()
        if not data:
            raise DockerError("requested load from stdin, but stdin is empty")
    for line in store.load(data):
        if not options.get("quiet") or line.startswith("Loaded"):
            print(line)
    return 0


def cmd_build(store, argv):
    options, positionals = parse_flags(
        "build", argv,
        {"t": "tag", "tag": "tag", "f": "file", "file": "file", "build-arg": "build_arg", "network": "network", "platform": "platform",
         "progress": "progress", "target": "target", "label": "label", "iidfile": "iidfile", "cache-from": "cache_from"},
        {"q": "quiet", "quiet": "quiet", "no-cache": "no_cache", "pull": "pull", "rm": "rm", "force-rm": "force_rm"},
        multi=("tag", "build_arg", "label", "cache_from"))
    if len(positionals) != 1:
        raise UsageError("build", '"docker buildx build" requires exactly 1 argument.', 1)
    for tag in options.get("tag", []):
        try:
            dockerstore.normalize(tag)
        except DockerError as exc:
            raise UsageError("build", 'invalid argument "%s" for "-t, --tag" flag: %s' % (tag, exc))
    out = _Quiet() if options.get("quiet") else sys.stdout
    record = store.build(positionals[0], options.get("file"), options.get("tag", []), out)
    if options.get("quiet"):
        print(record["Id"])
    if options.get("iidfile"):
        with open(options["iidfile"], "w", encoding="utf-8") as handle:
            handle.write(record["Id"])
    return 0


class _Quiet:
    """A sink for build progress under --quiet."""

    def write(self, text):
        return len(text)


def cmd_save(store, argv):
    options, positionals = parse_flags("save", argv, {"o": "output", "output": "output"}, {})
    if not positionals:
        raise UsageError("save", '"docker save" requires at least 1 argument.', 1)
    data = store.save(positionals)
    if options.get("output"):
        paths.write_file_atomic(options["output"], data, 0o644)
        return 0
    if sys.stdout.isatty():
        raise DockerError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def cmd_inspect(store, argv):
    options, positionals = parse_flags("inspect", argv, {"f": "format", "format": "format", "type": "type"}, {"s": "size", "size": "size"})
    if not positionals:
        raise UsageError("inspect", '"docker inspect" requires at least 1 argument.', 1)
    results, missing = [], []
    for reference in positionals:
        record = store.resolve(reference)
        if record is None:
            missing.append(reference)
        else:
            results.append(store.inspect(record))
    if options.get("format"):
        for result in results:
            print(render(options["format"], result))
    else:
        print(json.dumps(results, indent=4))
    for reference in missing:
        sys.stderr.write("Error: No such image: %s\n" % reference)
    return 1 if missing else 0


def image_rows(store, reference=None):
    rows = []
    tags = store.tags()
    for record in store.records():
        config = store.config(record)
        image_tags = sorted(tag for tag, target in tags.items() if target == record["Id"]) or [None]
        for tag in image_tags:
            repo, version = dockerstore.split_tag(tag) if tag else ("<none>", "<none>")
            rows.append({
                "Repository": repo,
                "Tag": version,
                "ID": record["Id"].split(":", 1)[1][:12],
                "FullID": record["Id"],
                "Digest": "<none>",
                "CreatedAt": config.get("created", ""),
                "CreatedSince": dockerstore.human_since(config.get("created", "")),
                "Size": dockerstore.human_size(store.size(record)),
                "Containers": "N/A",
            })
    if reference:
        wanted_repo, _sep, wanted_tag = reference.partition(":")
        rows = [row for row in rows if row["Repository"] == wanted_repo and (not wanted_tag or row["Tag"] == wanted_tag)]
    rows.sort(key=lambda row: (row["Repository"], row["Tag"]))
    rows.sort(key=lambda row: row["CreatedAt"], reverse=True)  # newest first, names ascending among equals
    return rows


def table(headers, rows):
    widths = [max([len(header)] + [len(row[index]) for row in rows]) for index, header in enumerate(headers)]
    lines = []
    for cells in [headers] + rows:
        lines.append("   ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip())
    return "\n".join(lines)


def cmd_images(store, argv):
    options, positionals = parse_flags("images", argv, {"format": "format", "filter": "filter", "f": "filter"},
                                       {"q": "quiet", "quiet": "quiet", "a": "all", "all": "all", "no-trunc": "no_trunc",
                                        "digests": "digests"}, multi=("filter",))
    if len(positionals) > 1:
        raise UsageError("images", '"docker images" requires at most 1 argument.', 1)
    rows = image_rows(store, positionals[0] if positionals else None)
    if options.get("no_trunc"):
        for row in rows:
            row["ID"] = row["FullID"]
    if options.get("quiet"):
        seen = []
        for row in rows:
            if row["ID"] not in seen:
                seen.append(row["ID"])
        for image_id in seen:
            print(image_id)
        return 0
    if options.get("format"):
        template = options["format"]
        if template.startswith("table"):
            template = template[5:].strip()
        for row in rows:
            print(render(template, row))
        return 0
    print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
                [[row["Repository"], row["Tag"], row["ID"], row["CreatedSince"], row["Size"]] for row in rows]))
    return 0


def cmd_tag(store, argv):
    _options, positionals = parse_flags("tag", argv, {}, {})
    if len(positionals) != 2:
        raise UsageError("tag", '"docker tag" requires exactly 2 arguments.', 1)
    record = store.resolve(positionals[0])
    if record is None:
        raise DockerError("Error response from daemon: No such image: %s" % positionals[0])
    with store.lock():
        store.tag(record["Id"], positionals[1])
    return 0


def cmd_rmi(store, argv):
    options, positionals = parse_flags("rmi", argv, {}, {"f": "force", "force": "force", "no-prune": "no_prune"})
    if not positionals:
        raise UsageError("rmi", '"docker rmi" requires at least 1 argument.', 1)
    status = 0
    for reference in positionals:
        record = store.resolve(reference)
        if record is None:
            sys.stderr.write("Error response from daemon: No such image: %s\n" % reference)
            status = 1
            continue
        with store.lock():
            tags = store.repo_tags(record["Id"])
            by_id = reference not in tags and dockerstore.normalize_or_none(reference) not in tags
            if by_id and len(tags) > 1 and not options.get("force"):
                sys.stderr.write("Error response from daemon: conflict: unable to delete %s (must be forced) - image is referenced in "
                                 "multiple repositories\n" % record["Id"].split(":", 1)[1][:12])
                status = 1
                continue
            for tag in tags if by_id else [dockerstore.normalize_or_none(reference)]:
                store.untag(tag)
                print("Untagged: %s" % tag)
            if not store.repo_tags(record["Id"]):
                store.delete(record["Id"])
                print("Deleted: %s" % record["Id"])
    return status


def info_data(store):
    return {
        "ID": "nitro-emulator",
        "Containers": 0,
        "ContainersRunning": 0,
        "Images": len(store.records()),
        "Driver": "nitro-emulator",
        "DockerRootDir": paths.DOCKER_DIR,
        "ServerVersion": SERVER_VERSION,
        "OperatingSystem": "Nitro Enclaves emulator (docker stand-in: images only, no containers)",
        "OSType": "linux",
        "Architecture": "x86_64",
        "Name": os.uname().nodename,
    }


def cmd_info(store, argv):
    options, _positionals = parse_flags("info", argv, {"format": "format", "f": "format"}, {})
    data = info_data(store)
    if options.get("format"):
        print(render(options["format"], data))
        return 0
    print("Client:\n Version:    %s\n Context:    default\n Debug Mode: false\n" % CLIENT_VERSION)
    print("Server:")
    for key in ("Containers", "Images", "ServerVersion", "Driver", "DockerRootDir", "OperatingSystem", "OSType", "Architecture", "Name"):
        print(" %s: %s" % (key, data[key]))
    return 0


def version_data():
    client = {"Version": CLIENT_VERSION, "ApiVersion": API_VERSION, "Os": "linux", "Arch": "amd64", "GitCommit": "emulated"}
    server = {"Version": SERVER_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64",
              "GitCommit": "emulated"}
    return {"Client": client, "Server": server}


def print_client_version():
    print("Client:\n Version:           %s\n API version:       %s\n OS/Arch:           linux/amd64\n Context:           default\n"
          % (CLIENT_VERSION, API_VERSION))


RUN_VALUE_FLAGS = {name: name for name in (
    "e", "env", "v", "volume", "p", "publish", "name", "network", "net", "w", "workdir", "entrypoint", "u", "user", "env-file",
    "mount", "device", "m", "memory", "cpus", "platform", "l", "label", "restart", "h", "hostname", "add-host", "cap-add",
    "cap-drop", "security-opt", "log-driver", "log-opt", "ulimit", "shm-size", "pull", "stop-signal", "cidfile", "dns")}
RUN_BOOL_FLAGS = {name: name for name in ("i", "interactive", "t", "tty", "d", "detach", "rm", "init", "privileged", "P",
                                          "publish-all", "read-only", "q", "quiet")}


def cmd_run(store, argv):
    # Flags end at the first positional argument (the image); the rest is the container's command.
    split = 0
    while split < len(argv):
        arg = argv[split]
        if not arg.startswith("-") or arg == "-":
            break
        name = arg.lstrip("-").split("=", 1)[0]
        takes_value = (arg.startswith("--") and "=" not in arg and name in RUN_VALUE_FLAGS) or (
            not arg.startswith("--") and len(arg) > 1 and arg[-1] in RUN_VALUE_FLAGS and all(ch in RUN_BOOL_FLAGS for ch in arg[1:-1]))
        split += 2 if takes_value else 1
    options, positionals = parse_flags("run", argv[:split], RUN_VALUE_FLAGS, RUN_BOOL_FLAGS, multi=tuple(RUN_VALUE_FLAGS))
    positionals += argv[split:]
    if not positionals:
        raise UsageError("run", '"docker run" requires at least 1 argument.', 1)
    interactive = options.get("i") or options.get("interactive")
    tty = options.get("t") or options.get("tty")
    if interactive and tty and not sys.stdin.isatty():
        raise DockerError("the input device is not a TTY", 1)
    image = positionals[0]
    if store.resolve(image) is None:
        sys.stderr.write("Unable to find image '%s' locally\n" % dockerstore.normalize_or_none(image))
        raise DockerError("docker: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup "
                          "registry-1.docker.io: no such host (the Nitro emulator host has no registry).\nSee 'docker run --help'.", 125)
    sys.stderr.write("nitro-emulator: `docker run %s` accepted but not executed: the docker stand-in stores images only "
                     "and runs no containers.\n" % image)
    return 0


def cmd_ps(store, argv):
    del store
    options, _positionals = parse_flags("ps", argv, {"format": "format", "filter": "filter", "f": "filter", "n": "last"},
                                        {"a": "all", "all": "all", "q": "quiet", "quiet": "quiet", "no-trunc": "no_trunc", "s": "size"},
                                        multi=("filter",))
    if not options.get("quiet") and not options.get("format"):
        print("CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES")
    return 0


COMMANDS = {
    "load": cmd_load,
    "build": cmd_build,
    "save": cmd_save,
    "inspect": cmd_inspect,
    "images": cmd_images,
    "tag": cmd_tag,
    "rmi": cmd_rmi,
    "info": cmd_info,
    "run": cmd_run,
    "ps": cmd_ps,
}
IMAGE_SUBCOMMANDS = {"load": "load", "build": "build", "save": "save", "inspect": "inspect", "ls": "images", "list": "images",
                     "tag": "tag", "rm": "rmi", "remove": "rmi"}


def dispatch(argv):
    while argv and argv[0] in ("-D", "--debug", "-l", "--log-level", "-H", "--host", "--context", "-c", "--config"):
        argv = argv[2:] if argv[0] not in ("-D", "--debug") else argv[1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage:  docker [OPTIONS] COMMAND\n\nNitro Enclaves emulator stand-in for the docker CLI.\n\nCommands:\n  "
              + "\n  ".join(sorted(list(COMMANDS) + ["image", "version"])))
        return 0
    if argv[0] in ("-v", "--version"):
        print("Docker version %s, build emulated" % CLIENT_VERSION)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "image":
        if not rest or rest[0] not in IMAGE_SUBCOMMANDS:
            raise DockerError("docker: 'image %s' is not a docker command.\nSee 'docker image --help'" % (rest[0] if rest else ""))
        command, rest = IMAGE_SUBCOMMANDS[rest[0]], rest[1:]
    if command == "version":
        options, _positionals = parse_flags("version", rest, {"format": "format", "f": "format"}, {})
        problem = dockerstore.daemon_error()
        if options.get("format"):
            data = version_data()
            if problem:
                data["Server"] = None
            print(render(options["format"], data))
        else:
            print_client_version()
            if not problem:
                print("Server: Nitro Enclaves emulator\n Engine:\n  Version:          %s\n  API version:      %s (minimum version 1.12)\n"
                      "  OS/Arch:          linux/amd64" % (SERVER_VERSION, API_VERSION))
        if problem:
            raise DockerError(problem)
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        raise DockerError("docker: '%s' is not a docker command.\nSee 'docker --help'" % command)
    problem = dockerstore.daemon_error()
    if problem:
        raise DockerError(problem)
    return handler(dockerstore.Store(), rest)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        return dispatch(list(argv))
    except DockerError as exc:
        sys.stdout.flush()
        sys.stderr.write("%s\n" % exc)
        return exc.status
    except BrokenPipeError:
        return 1
