"""The docker stand-in's image store under /var/lib/nitro_emulator/docker.

Layout:
  blobs/<sha256 hex>        content-addressed blobs (image configs and uncompressed layer tars)
  images/<config hex>.json  {"Id", "Config", "Layers", "LoadedAt"} per image (ID = sha256 of its config, as in docker)
  tags.json                 {"repo:tag": "sha256:<config hex>"}
  store.lock                serialises changes
No registry exists: an image is only ever in the store because it was loaded or built here.
"""

import contextlib
import datetime
import fcntl
import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import socket
import tarfile

from . import paths

DAEMON_DOWN = "Cannot connect to the Docker daemon at unix://%s. Is the docker daemon running?" % paths.DOCKER_SOCK_DISPLAY
PERMISSION_DENIED = ("permission denied while trying to connect to the Docker daemon socket at unix://%s: "
                     "dial unix %s: connect: permission denied" % (paths.DOCKER_SOCK_DISPLAY, paths.DOCKER_SOCK_DISPLAY))
FILE_MODE = 0o664
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?%s(?:/%s)*(?::[\w][\w.-]{0,127})?$" % (_COMPONENT, _COMPONENT))
_HEX_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{4,64})$")


class DockerError(Exception):
    """A docker failure: message for stderr, and the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def daemon_error():
    """None when the (stand-in) daemon answers on /run/docker.sock, else the docker CLI's message."""
    if os.geteuid() != 0 and not paths.user_in_group("docker"):
        return PERMISSION_DENIED
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        with paths.unix_address(paths.host(paths.DOCKER_SOCK)) as address:
            sock.connect(address)
    except PermissionError:
        return PERMISSION_DENIED
    except OSError:
        return DAEMON_DOWN
    finally:
        sock.close()
    return None


def normalize(reference):
    """docker's reference normalisation: drop docker.io/library/, add :latest."""
    ref = reference.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if not _REFERENCE.match(ref):
        if ref.lower() != ref and _REFERENCE.match(ref.lower()):
            raise DockerError("invalid reference format: repository name (%s) must be lowercase" % ref.split(":")[0])
        raise DockerError("invalid reference format")
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


def normalize_or_none(reference):
    """normalize(), or the reference unchanged when it is not a valid name."""
    try:
        return normalize(reference)
    except DockerError:
        return reference


def split_tag(ref):
    repo, tag = ref.rsplit(":", 1)
    return repo, tag


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _tarinfo(name, size=0, kind=tarfile.REGTYPE, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def deterministic_tar(entries):
    """A tar of (name, bytes or None for a directory) entries, sorted, with fixed metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in sorted(entries, key=lambda entry: entry[0]):
            if data is None:
                archive.addfile(_tarinfo(name.rstrip("/") + "/", kind=tarfile.DIRTYPE, mode=0o755))
            else:
                archive.addfile(_tarinfo(name, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def human_size(size):
    """go-units HumanSize: decimal units, 4 significant digits."""
    units = ["B", "kB", "MB", "GB", "TB"]
    value = float(size)
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000.0
        index += 1
    return "%.4g%s" % (value, units[index])


def human_since(created):
    """go-units HumanDuration of the time since an RFC 3339 timestamp, plus " ago"."""
    try:
        then = datetime.datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "N/A"
    seconds = (datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if seconds < 1:
        text = "Less than a second"
    elif seconds < 60:
        text = "%d seconds" % seconds
    elif minutes < 2:
        text = "About a minute"
    elif minutes < 60:
        text = "%d minutes" % minutes
    elif hours < 2:
        text = "About an hour"
    elif hours < 48:
        text = "%d hours" % hours
    elif days < 14:
        text = "%d days" % days
    elif days < 60:
        text = "%d weeks" % (days / 7)
    elif days < 730:
        text = "%d months" % (days / 30)
    else:
        text = "%d years" % (days / 365)
    return text + " ago"


def parse_dockerfile(text):
    """[(INSTRUCTION, arguments, original line)] with continuations joined and comments dropped."""
    instructions = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if not line:
            continue
        parts = line.split(None, 1)
        instructions.append((parts[0].upper(), parts[1] if len(parts) > 1 else "", line))
    if pending.strip():
        parts = pending.strip().split(None, 1)
        instructions.append((parts[0].upper(), parts[1] if len(parts) > 1 else "", pending.strip()))
    return instructions


def _exec_form(args):
    """CMD/ENTRYPOINT arguments: JSON exec form, else shell form."""
    args = args.strip()
    if args.startswith("["):
        try:
            value = json.loads(args)
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", args]


def _key_values(args):
    """ENV/LABEL arguments: k=v pairs (shell-quoted) or the legacy `key value` form."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    if words and "=" not in words[0]:
        key, _sep, value = args.strip().partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, _sep, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _context_destination(args, workdir):
    """Where `COPY . <dest>` (or ADD) puts the build context; None for other sources."""
    try:
        words = json.loads(args) if args.strip().startswith("[") else args.split()
    except ValueError:
        words = args.split()
    words = [word for word in words if isinstance(word, str) and not word.startswith("--")]
    if len(words) < 2 or not any(word.rstrip("/") in (".", "") for word in words[:-1]):
        return None
    return os.path.normpath(os.path.join(workdir or "/", words[-1]))


def _set_env(env, key, value):
    prefix = key + "="
    env[:] = [item for item in env if not item.startswith(prefix)]
    env.append(prefix + value)


def _dockerignore(context):
    try:
        with open(os.path.join(context, ".dockerignore"), encoding="utf-8") as handle:
            return [line.strip().strip("/") for line in handle if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def context_files(context):
    """Sorted (relative path, bytes) of the build context, honouring .dockerignore patterns."""
    ignore = _dockerignore(context)
    files = []
    for directory, dirnames, filenames in os.walk(context):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, context).replace(os.sep, "/")
            if any(fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern + "/") for pattern in ignore):
                continue
            if os.path.isfile(full):
                with open(full, "rb") as handle:
                    files.append((rel, handle.read()))
    files.sort()
    return files


class Store:
    """Images, tags and blobs of the stand-in daemon."""

    def __init__(self):
        # Users of group docker share the store: directories 2775, files 0664.
        self.base = paths.ensure_dir(paths.DOCKER_DIR, 0o2775)
        for sub in ("blobs", "images"):
            path = os.path.join(self.base, sub)
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o2775)

    @contextlib.contextmanager
    def lock(self):
        fd = paths.open_shared(os.path.join(self.base, "store.lock"), os.O_RDWR, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- low level ---------------------------------------------------------------
    def put_blob(self, data):
        digest = _sha256(data)
        path = os.path.join(self.base, "blobs", digest)
        if not os.path.exists(path):
            paths.write_file_atomic(path, data, FILE_MODE)
        return digest

    def blob(self, digest):
        with open(os.path.join(self.base, "blobs", digest), "rb") as handle:
            return handle.read()

    def tags(self):
        try:
            with open(os.path.join(self.base, "tags.json"), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def _save_tags(self, tags):
        paths.write_file_atomic(os.path.join(self.base, "tags.json"), json.dumps(tags, indent=2, sort_keys=True) + "\n", FILE_MODE)

    def records(self):
        result = []
        folder = os.path.join(self.base, "images")
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    result.append(json.load(handle))
        return result

    def record(self, image_id):
        try:
            with open(os.path.join(self.base, "images", image_id.split(":", 1)[-1] + ".json"), encoding="utf-8") as handle:
                return json.load(handle)
        except OSError:
            return None

    def config(self, record):
        return json.loads(self.blob(record["Config"]).decode("utf-8"))

    def repo_tags(self, image_id):
        return sorted(tag for tag, target in self.tags().items() if target == image_id)

    def size(self, record):
        return sum(os.path.getsize(os.path.join(self.base, "blobs", layer)) for layer in record["Layers"])

    # --- lookups -------------------------------------------------------------------
    def resolve(self, reference):
        """The image record a reference (name[:tag], full or short ID) names, else None."""
        try:
            ref = normalize(reference)
            target = self.tags().get(ref)
            if target:
                return self.record(target)
        except DockerError:
            pass
        match = _HEX_ID.match(reference.strip())
        if match:
            found = [rec for rec in self.records() if rec["Id"].split(":", 1)[1].startswith(match.group(1))]
            if len(found) == 1:
                return found[0]
        return None

    def require(self, reference):
        record = self.resolve(reference)
        if record is None:
            raise DockerError("Error response from daemon: No such image: %s" % reference)
        return record

    # --- changes -----------------------------------------------------------------------
    def add_image(self, config_bytes, layer_blobs):
        config_hex = self.put_blob(config_bytes)
        layers = [self.put_blob(layer) for layer in layer_blobs]
        image_id = "sha256:" + config_hex
        record = self.record(image_id) or {"Id": image_id, "Config": config_hex, "Layers": layers,
                                           "LoadedAt": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        paths.write_file_atomic(os.path.join(self.base, "images", config_hex + ".json"), json.dumps(record, indent=2) + "\n", FILE_MODE)
        return record

    def tag(self, image_id, reference):
        """Point a tag at an image; return the ID it pointed to before (or None)."""
        ref = normalize(reference)
        tags = self.tags()
        previous = tags.get(ref)
        tags[ref] = image_id
        self._save_tags(tags)
        return previous if previous != image_id else None

    def untag(self, reference):
        ref = normalize(reference)
        tags = self.tags()
        target = tags.pop(ref, None)
        self._save_tags(tags)
        return target

    def delete(self, image_id):
        tags = {ref: target for ref, target in self.tags().items() if target != image_id}
        self._save_tags(tags)
        try:
            os.unlink(os.path.join(self.base, "images", image_id.split(":", 1)[1] + ".json"))
        except FileNotFoundError:
            pass

    # --- docker load ---------------------------------------------------------------------
    def load(self, data):
        """Load a `docker save` tar; return the lines docker prints."""
        try:
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # pylint: disable=consider-using-with
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DockerError("Error processing tar file(exit status 1): %s" % (str(exc) or "unexpected EOF"))
        with archive:
            def member(name):
                try:
                    handle = archive.extractfile(os.path.normpath(name))
                except KeyError:
                    handle = None
                if handle is None:
                    raise DockerError("open /var/lib/docker/tmp/docker-import/%s: no such file or directory" % name)
                return handle.read()

            try:
                manifest = json.loads(member("manifest.json").decode("utf-8"))
            except ValueError:
                raise DockerError("invalid manifest.json in the image archive")
            if not isinstance(manifest, list):
                raise DockerError("invalid manifest.json in the image archive")
            lines = []
            for entry in manifest:
                config_bytes = member(entry["Config"])
                layers = []
                for name in entry.get("Layers") or []:
                    layer = member(name)
                    if layer[:2] == b"\x1f\x8b":
                        layer = gzip.decompress(layer)
                    layers.append(layer)
                try:
                    config = json.loads(config_bytes.decode("utf-8"))
                except ValueError:
                    raise DockerError("invalid image config %s" % entry["Config"])
                diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
                for index, (expected, layer) in enumerate(zip(diff_ids, layers)):
                    if expected != "sha256:" + _sha256(layer):
                        raise DockerError("invalid diffID for layer %d: expected %s, got sha256:%s" % (index, expected, _sha256(layer)))
                with self.lock():
                    record = self.add_image(config_bytes, layers)
                    tags = entry.get("RepoTags") or []
                    for tag in tags:
                        previous = self.tag(record["Id"], tag)
                        if previous:
                            lines.append("The image %s already exists, renaming the old one with ID %s to empty string" % (normalize(tag), previous))
                        lines.append("Loaded image: %s" % normalize(tag))
                    if not tags:
                        lines.append("Loaded image ID: %s" % record["Id"])
            return lines

    # --- docker save -----------------------------------------------------------------------
    def save(self, references):
        """The bytes of a deterministic `docker save` tar of the referenced images."""
        entries = {}
        manifest = []
        repositories = {}
        for reference in references:
            record = self.require(reference)
            hex_id = record["Id"].split(":", 1)[1]
            entries[hex_id + ".json"] = self.blob(record["Config"])
            layer_names = []
            for layer in record["Layers"]:
                entries[layer + "/"] = None
                entries[layer + "/VERSION"] = b"1.0"
                entries[layer + "/layer.tar"] = self.blob(layer)
                layer_names.append(layer + "/layer.tar")
            repo_tags = None
            if not _HEX_ID.match(reference.strip()) or self.tags().get(normalize(reference)) == record["Id"]:
                repo_tags = [normalize(reference)]
                repo, tag = split_tag(repo_tags[0])
                repositories.setdefault(repo, {})[tag] = (record["Layers"] or [hex_id])[-1]
            manifest.append({"Config": hex_id + ".json", "RepoTags": repo_tags, "Layers": layer_names})
        entries["manifest.json"] = json.dumps(manifest, separators=(",", ":")).encode("utf-8") + b"\n"
        if repositories:
            entries["repositories"] = json.dumps(repositories, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
        return deterministic_tar(entries.items())

    # --- docker build ------------------------------------------------------------------------
    def build(self, context, dockerfile, tags, out):
        """A deterministic stand-in build; writes progress to out, returns the image record.

        The image has the base image's layers (when the base is in the store) plus one layer
        holding the sorted context files (under the destination of the first `COPY . <dest>`,
        else the WORKDIR, else /); its config comes from the Dockerfile instructions.
        RUN is recorded, not executed; COPY --from is ignored.
        """
        if not os.path.isdir(context):
            raise DockerError('unable to prepare context: path "%s" not found' % context)
        dockerfile = dockerfile or os.path.join(context, "Dockerfile")
        if not os.path.isabs(dockerfile) and not os.path.exists(dockerfile):
            dockerfile = os.path.join(context, dockerfile)
        try:
            with open(dockerfile, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            raise DockerError("unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                              "lstat %s: no such file or directory" % os.path.abspath(dockerfile))
        for tag in tags:
            normalize(tag)
        instructions = parse_dockerfile(text)
        stages = [index for index, item in enumerate(instructions) if item[0] == "FROM"]
        if not stages:
            raise DockerError("Error response from daemon: No build stage in current context")
        files = context_files(context)
        out.write("Sending build context to Docker daemon  %s\n" % human_size(sum(len(data) for _name, data in files)))
        instructions = instructions[stages[-1]:]
        settings = {"Env": [], "Cmd": None, "Entrypoint": None, "WorkingDir": "", "Labels": None, "ExposedPorts": None, "User": ""}
        layers, diff_ids, history = [], [], []
        step_id = ""
        context_dest = None
        for number, (keyword, args, line) in enumerate(instructions, 1):
            out.write("Step %d/%d : %s\n" % (number, len(instructions), line))
            if keyword == "FROM":
                base_ref = args.split()[0] if args.split() else "scratch"
                base = None if base_ref == "scratch" else self.resolve(base_ref)
                if base is not None:
                    base_config = self.config(base)
                    for key, value in (base_config.get("config") or {}).items():
                        if key in settings and value:
                            settings[key] = value
                    layers = [self.blob(layer) for layer in base["Layers"]]
                    diff_ids = list((base_config.get("rootfs") or {}).get("diff_ids") or [])
                    history = list(base_config.get("history") or [])
                    step_id = base["Id"]
                else:
                    if base_ref != "scratch":
                        out.write(" ---> %s is not in the local image store and no registry is reachable: "
                                  "the emulator builds on an empty base\n" % base_ref)
                        settings["Env"] = [DEFAULT_PATH_ENV]
                    step_id = "sha256:" + _sha256(base_ref.encode("utf-8"))
            elif keyword == "ENV":
                for key, value in _key_values(args):
                    _set_env(settings["Env"], key, value)
            elif keyword == "LABEL":
                settings["Labels"] = dict(settings["Labels"] or {})
                settings["Labels"].update(_key_values(args))
            elif keyword in ("CMD", "ENTRYPOINT"):
                if keyword == "ENTRYPOINT" and "CMD" not in [item[0] for item in instructions[:number - 1]]:
                    settings["Cmd"] = None  # an ENTRYPOINT resets the base image's CMD
                settings["Cmd" if keyword == "CMD" else "Entrypoint"] = _exec_form(args)
            elif keyword == "WORKDIR":
                settings["WorkingDir"] = os.path.normpath(os.path.join(settings["WorkingDir"] or "/", args.strip()))
            elif keyword == "EXPOSE":
                settings["ExposedPorts"] = dict(settings["ExposedPorts"] or {})
                for port in args.split():
                    settings["ExposedPorts"][port if "/" in port else port + "/tcp"] = {}
            elif keyword == "USER":
                settings["User"] = args.strip()
            elif keyword in ("COPY", "ADD") and context_dest is None:
                context_dest = _context_destination(args, settings["WorkingDir"])
            history.append({"created": _created(), "created_by": line, "empty_layer": True})
            step_id = "sha256:" + _sha256((step_id + "\n" + line).encode("utf-8"))
            out.write(" ---> %s\n" % step_id.split(":", 1)[1][:12])
        prefix = (context_dest or settings["WorkingDir"] or "/").strip("/")
        layer = deterministic_tar([((prefix + "/" + name).lstrip("/"), data) for name, data in files])
        layers.append(layer)
        diff_ids.append("sha256:" + _sha256(layer))
        history.append({"created": _created(), "created_by": "nitro-emulator: build context (%d files)" % len(files)})
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": _created(),
            "config": dict(settings),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        with self.lock():
            record = self.add_image(canonical_json(config), layers)
            for tag in tags:
                self.tag(record["Id"], tag)
        out.write("Successfully built %s\n" % record["Id"].split(":", 1)[1][:12])
        for tag in tags:
            out.write("Successfully tagged %s\n" % normalize(tag))
        return record

    # --- docker inspect ----------------------------------------------------------------------
    def inspect(self, record):
        config = self.config(record)
        settings = config.get("config") or {}
        return {
            "Id": record["Id"],
            "RepoTags": self.repo_tags(record["Id"]),
            "RepoDigests": [],
            "Parent": "",
            "Comment": "",
            "Created": config.get("created", ""),
            "DockerVersion": "",
            "Author": config.get("author", ""),
            "Config": {
                "Hostname": "",
                "Domainname": "",
                "User": settings.get("User", ""),
                "AttachStdin": False,
                "AttachStdout": False,
                "AttachStderr": False,
                "ExposedPorts": settings.get("ExposedPorts"),
                "Tty": False,
                "OpenStdin": False,
                "StdinOnce": False,
                "Env": settings.get("Env"),
                "Cmd": settings.get("Cmd"),
                "Image": "",
                "Volumes": None,
                "WorkingDir": settings.get("WorkingDir", ""),
                "Entrypoint": settings.get("Entrypoint"),
                "OnBuild": None,
                "Labels": settings.get("Labels"),
            },
            "Architecture": config.get("architecture", "amd64"),
            "Os": config.get("os", "linux"),
            "Size": self.size(record),
            "GraphDriver": {"Data": None, "Name": "nitro-emulator"},
            "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
            "Metadata": {"LastTagTime": record.get("LoadedAt", "")},
        }


def _created():
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
