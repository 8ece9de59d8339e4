# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the role enclave_build: its preflight rules, the choice of builders, the upstream contract, the install
record and its check, the objects in the bucket, and the fact the role publishes.

Each filter is documented in the YAML file of its name beside this one.
"""

import json
import os
import posixpath
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.parsing.convert_bool import boolean

REPO_URL_RE = re.compile(r"^((https?|ssh|git|file)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:\S+|/\S+)\Z")
REPO_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*\Z")
COMMIT_RE = re.compile(r"^[0-9a-fA-F]{40}\Z")
PCR0_RE = re.compile(r"^[0-9a-fA-F]{96}\Z")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}\Z")
PIP_INDEX_RE = re.compile(r"^(https?|file)://\S+\Z")
ARTIFACT_URL_RE = re.compile(r"^(https?|ftp|file)://\S+[^/]\Z")
DOCKER_URI_RE = re.compile(r"^[a-z0-9][a-zA-Z0-9._/:@-]*\Z")
# S3 bucket names (the rules for new buckets: 3-63 characters, lower case, digits, '.', '-').
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+\Z")
ENDPOINT_RE = re.compile(r"^https?://[^/\s]+/?\Z")
S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*\Z")
# A presigned URL (signature version 4) lives at most a week.
MAX_URL_EXPIRY = 604800
SUPPORTED_PLATFORMS = ("debian", "amazon2", "amazon2023")
SYSTEM_FOLDERS = ("/", "/opt", "/usr", "/var", "/tmp", "/root", "/home")


def _text(value):
    return "" if value is None else str(value)


def _is_list(value):
    return is_sequence(value) and not isinstance(value, (str, bytes))


def _inside(path):
    """A relative path that stays inside its folder (no leading '/', no '..' part)."""
    path = _text(path)
    return path != "" and not path.startswith("/") and ".." not in path.split("/")


def _positive(value):
    try:
        return int(value) >= 1
    except (TypeError, ValueError):
        return False


def _input_errors(settings, host, platform, distribution, play_hosts, controller_file):
    """Yield one message per broken rule."""
    get = settings.get
    kind = _text(get("enclave_build_kind"))
    method = get("enclave_build_method")
    if platform not in SUPPORTED_PLATFORMS:
        yield ("the enclave_build role supports Amazon Linux 2, Amazon Linux 2023, Debian and Ubuntu; %s runs %s"
               % (host, distribution))
    url = _text(get("enclave_build_repo_url"))
    if not REPO_URL_RE.match(url):
        yield ("enclave_build_repo_url must be a git URL (https://, ssh://, git://, file://, user@host:path or an "
               "absolute path); got '%s'" % url)
    version = _text(get("enclave_build_repo_version"))
    if not REPO_VERSION_RE.match(version):
        yield "enclave_build_repo_version must be a commit, tag or branch; got '%s'" % version
    elif not COMMIT_RE.match(version) and not get("enclave_build_allow_unpinned"):
        # Its serve scripts run as root and PCR0 does not cover them: what a branch holds today is not enough.
        yield ("enclave_build_repo_version must be a commit (40 hex digits); got '%s', a branch or tag, which can "
               "move. Pin a commit, or set enclave_build_allow_unpinned to true to take what it names at each run"
               % version)
    repo_dir = _text(get("enclave_build_repo_dir"))
    for name in ("enclave_build_repo_dir", "enclave_build_venv_dir", "enclave_build_work_dir"):
        if not _text(get(name)).startswith("/") or _text(get(name)) == "/":
            yield "%s must be an absolute path; got '%s'" % (name, _text(get(name)))
    eif_path = _text(get("enclave_build_eif_path"))
    if not eif_path.startswith("/") or eif_path.endswith("/") or len(eif_path) < 2:
        yield "enclave_build_eif_path must be the absolute path of a file; got '%s'" % eif_path
    if repo_dir.rstrip("/") in SYSTEM_FOLDERS or repo_dir == "/":
        yield "enclave_build_repo_dir must be a folder of its own, not %s" % repo_dir
    for name, value in (("enclave_build_venv_dir", get("enclave_build_venv_dir")),
                        ("enclave_build_work_dir", get("enclave_build_work_dir")),
                        ("the folder of enclave_build_eif_path", posixpath.dirname(eif_path))):
        if repo_dir and _text(value) == repo_dir:
            yield "%s must not be enclave_build_repo_dir (%s)" % (name, repo_dir)
    if not _inside(get("enclave_build_requirements_file")):
        yield ("enclave_build_requirements_file must be a path inside the repository; got '%s'"
               % _text(get("enclave_build_requirements_file")))
    folders = get("enclave_build_enclave_dirs") or {}
    if not isinstance(folders, dict) or not _inside(folders.get(kind)):
        yield ("enclave_build_enclave_dirs must name a folder inside the repository for '%s'; got %s"
               % (kind, folders))
    index_url = _text(get("enclave_build_pip_index_url"))
    if index_url and not PIP_INDEX_RE.match(index_url):
        yield "enclave_build_pip_index_url must be empty or an http(s) URL; got '%s'" % index_url

    permitted = get("enclave_build_permitted_pcr0") or {}
    allow_list = permitted.get(kind) if isinstance(permitted, dict) else None
    if not (_is_list(allow_list) and allow_list and all(PCR0_RE.match(_text(v).strip()) for v in allow_list)):
        yield ("enclave_build_permitted_pcr0.%s must be a non-empty list of PCR0 values (96 hex digits each, the "
               "values the protocol permits); got %s" % (kind, "nothing" if allow_list is None else allow_list))

    for name in ("enclave_build_expected_pcr1", "enclave_build_expected_pcr2"):
        references = get(name)
        reference = references.get(kind) if isinstance(references, dict) else None
        if not isinstance(references, dict) or (reference not in (None, "") and not PCR0_RE.match(_text(reference).strip())):
            yield ("%s must map a kind to a reference value (96 hex digits) or nothing; got %s"
                   % (name, ("%s: %s" % (kind, reference)) if isinstance(references, dict) else references))

    for name in ("enclave_build_timeout", "enclave_build_async_poll"):
        if not _positive(get(name)):
            yield "%s must be a whole number of seconds, at least 1; got %s" % (name, get(name))
    certificate = _text(get("enclave_build_signing_certificate"))
    key = _text(get("enclave_build_private_key"))
    if (certificate == "") != (key == ""):
        yield "enclave_build_signing_certificate and enclave_build_private_key must be both set or both empty"
    for name, value in (("enclave_build_signing_certificate", certificate), ("enclave_build_private_key", key)):
        if value and not value.startswith("/"):
            yield "%s must be an absolute path; got '%s'" % (name, value)
    builder = _text(get("enclave_build_builder"))
    if get("enclave_build_strategy") != "per_host" and builder and builder not in play_hosts:
        yield ("enclave_build_builder ('%s') must be empty or a host of this play (%s)"
               % (builder, ", ".join(play_hosts)))

    yield from _distribution_errors(settings)

    if method == "tars":
        tars = (get("enclave_build_image_tars") or {}).get(kind)
        if not (_is_list(tars) and tars and all(_inside(tar) for tar in tars)):
            yield ("method tars needs enclave_build_image_tars.%s, a list of tar files relative to %s; got %s"
                   % (kind, folders.get(kind) if isinstance(folders, dict) else "the kind's folder", tars or "nothing"))
        uri = _text((get("enclave_build_docker_uri") or {}).get(kind))
        if not DOCKER_URI_RE.match(uri):
            yield ("method tars needs enclave_build_docker_uri.%s, a docker image reference; got '%s'"
                   % (kind, uri or "nothing"))
        if not _inside(get("enclave_build_tars_script")):
            yield ("enclave_build_tars_script must be a script in the kind's folder; got '%s'"
                   % _text(get("enclave_build_tars_script")))
    if method == "source":
        if not _inside(get("enclave_build_source_script")):
            yield ("method source needs enclave_build_source_script, a script in the kind's folder; got '%s'"
                   % _text(get("enclave_build_source_script")))
        eif = _text((get("enclave_build_source_eif") or {}).get(kind))
        if not _inside(eif) or eif.endswith("/"):
            yield ("method source needs enclave_build_source_eif.%s, the EIF it writes, relative to the kind's "
                   "folder; got '%s'" % (kind, eif or "nothing"))
    if method == "artifact":
        artifact = _text(get("enclave_build_artifact_url"))
        if not (ARTIFACT_URL_RE.match(artifact) or (artifact and controller_file(artifact))):
            yield ("method artifact needs enclave_build_artifact_url, an http(s)/ftp/file URL or a file on the "
                   "controller; got '%s'" % artifact)
        if not SHA256_RE.match(_text(get("enclave_build_artifact_sha256"))):
            yield ("method artifact needs enclave_build_artifact_sha256 (64 hex digits; got '%s'): a prebuilt image "
                   "is never installed unchecked" % _text(get("enclave_build_artifact_sha256")))


def _distribution_errors(settings):
    """The rules of enclave_build_distribution, the S3 settings and enclave_build_receiver_checkout."""
    get = settings.get
    distribution = get("enclave_build_distribution", "controller")
    if distribution not in ("controller", "s3"):
        yield "enclave_build_distribution must be controller or s3; got '%s'" % _text(distribution)
    checkout = get("enclave_build_receiver_checkout", "sparse")
    if checkout not in ("sparse", "full"):
        yield "enclave_build_receiver_checkout must be sparse or full; got '%s'" % _text(checkout)
    if distribution != "s3":
        return
    if get("enclave_build_strategy") != "once":
        yield ("enclave_build_distribution s3 needs enclave_build_strategy once: with %s every host builds its own "
               "image and there is nothing to distribute" % _text(get("enclave_build_strategy")))
    bucket = _text(get("enclave_build_s3_bucket"))
    if not bucket:
        yield "enclave_build_distribution s3 needs enclave_build_s3_bucket, the bucket that holds the verified images"
    elif not BUCKET_RE.match(bucket) or ".." in bucket:
        yield ("enclave_build_s3_bucket must be an S3 bucket name (3-63 lower-case letters, digits, '.' and '-'); got '%s'"
               % bucket)
    prefix = _text(get("enclave_build_s3_prefix"))
    if not S3_PREFIX_RE.match(prefix) or ".." in prefix.split("/") or "." in prefix.split("/"):
        yield ("enclave_build_s3_prefix must be a key prefix without a leading or trailing '/' (letters, digits and "
               "!_.*'()- between single slashes); got '%s'" % prefix)
    region = _text(get("enclave_build_s3_region"))
    if region and not REGION_RE.match(region):
        yield "enclave_build_s3_region must be empty or an AWS region such as eu-central-1; got '%s'" % region
    endpoint = _text(get("enclave_build_s3_endpoint_url"))
    if endpoint and not ENDPOINT_RE.match(endpoint):
        yield "enclave_build_s3_endpoint_url must be empty or an http(s) URL without a path; got '%s'" % endpoint
    sse = get("enclave_build_s3_sse")
    if sse not in ("AES256", "aws:kms"):
        yield "enclave_build_s3_sse must be AES256 or aws:kms (the images are always stored encrypted); got '%s'" % _text(sse)
    elif _text(get("enclave_build_s3_kms_key_id")) and sse != "aws:kms":
        yield "enclave_build_s3_kms_key_id needs enclave_build_s3_sse aws:kms; it is '%s'" % sse
    expiry = get("enclave_build_s3_url_expiry")
    try:
        expiry_ok = not isinstance(expiry, bool) and 1 <= int(expiry) <= MAX_URL_EXPIRY and int(expiry) == float(expiry)
    except (TypeError, ValueError):
        expiry_ok = False
    if not expiry_ok:
        yield ("enclave_build_s3_url_expiry must be a whole number of seconds from 1 to %d (a week); got %s"
               % (MAX_URL_EXPIRY, expiry))
    access = get("enclave_build_s3_access")
    if access not in ("presigned", "instance_profile"):
        yield "enclave_build_s3_access must be presigned or instance_profile; got '%s'" % _text(access)
    if not _positive(get("enclave_build_s3_download_retries")):
        yield ("enclave_build_s3_download_retries must be a whole number, at least 1; got %s"
               % get("enclave_build_s3_download_retries"))


def enclave_build_input_errors(settings, host="", platform="", distribution="", play_hosts=None,
                               controller_file=os.path.isfile):
    """One message per broken preflight rule of the role enclave_build; empty when every input is valid."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("opencontracts.enclave.enclave_build_input_errors: expects the role's variables "
                                 "as a dictionary, got %s" % type(settings).__name__)
    return list(_input_errors(settings, host, platform, distribution, list(play_hosts or []), controller_file))


def enclave_build_input_warnings(settings):
    """Settings that are valid but defeat a reproducible, verifiable image, one message each."""
    warnings = []
    version = _text(settings.get("enclave_build_repo_version"))
    if not COMMIT_RE.match(version):
        warnings.append("WARNING: enclave_build_repo_version is '%s', not a commit: a branch or tag can move, and then "
                        "hosts built at different times hold different sources. Pin a commit (40 hex digits)."
                        % version)
    if settings.get("enclave_build_method") == "source":
        warnings.append("WARNING: enclave_build_method is 'source': the upstream %s builds the docker image from "
                        "source, which is not reproducible, so the PCR0 will almost certainly not be one the protocol "
                        "permits and the host will fail verification. Use method tars (the published image) for "
                        "production." % _text(settings.get("enclave_build_source_script")))
    return warnings


def build_identity(settings):
    """What a host's image is built from: hosts with the same identity share one build (strategy once)."""
    get = (settings or {}).get
    kind = _text(get("enclave_build_kind"))
    method = get("enclave_build_method")

    def of_kind(name):
        value = get(name)
        return value.get(kind) if isinstance(value, dict) else None

    return {
        "kind": kind, "method": method, "strategy": get("enclave_build_strategy"),
        "repo_url": get("enclave_build_repo_url"), "repo_version": get("enclave_build_repo_version"),
        "folder": of_kind("enclave_build_enclave_dirs"),
        "tars": (of_kind("enclave_build_image_tars") or []) if method == "tars" else [],
        "tars_are_parts": bool(get("enclave_build_image_tars_are_parts")) if method == "tars" else False,
        "docker_uri": (of_kind("enclave_build_docker_uri") or "") if method == "tars" else "",
        "source": [get("enclave_build_source_script"), of_kind("enclave_build_source_eif") or ""]
        if method == "source" else [],
        "artifact": [get("enclave_build_artifact_url"), _text(get("enclave_build_artifact_sha256")).lower()]
        if method == "artifact" else [],
        "signing": [get("enclave_build_signing_certificate"), get("enclave_build_private_key")],
        # Where the builder puts the verified image is where its hosts look for it.
        "distribution": [get("enclave_build_distribution", "controller")] + (
            [get("enclave_build_s3_bucket"), get("enclave_build_s3_prefix"), get("enclave_build_s3_endpoint_url")]
            if get("enclave_build_distribution") == "s3" else []),
    }


def _identity_key(settings):
    return json.dumps(build_identity(settings), sort_keys=True, default=str) if settings else None


def _var(hostvars, host, name):
    try:
        return hostvars[host][name]
    except (KeyError, TypeError):
        return None
    except Exception:  # pylint: disable=broad-except
        # An undefined variable of another host surfaces as an undefined error, not a KeyError.
        return None


def _built_earlier(hostvars, host):
    """A host of an earlier batch that built (and verified) its image."""
    plan = _var(hostvars, host, "_enclave_build_plan") or {}
    mine = plan.get(host) if isinstance(plan, dict) else None
    return bool(mine and mine.get("builds")) and _var(hostvars, host, "_enclave_build_verified") is not None


def receiver_paths(settings):
    """The sparse-checkout patterns of a host that does not build: the folders it runs, without the image tars."""
    get = (settings or {}).get
    kind = _text(get("enclave_build_kind"))
    folders = get("enclave_build_enclave_dirs")
    folder = _text(folders.get(kind) if isinstance(folders, dict) else "").strip("/")
    requirements = posixpath.dirname(_text(get("enclave_build_requirements_file")).strip("/"))
    paths = []
    for name in (requirements, folder):
        if name and "/%s/" % name not in paths:
            paths.append("/%s/" % name)
    if not requirements:
        paths.append("/%s" % _text(get("enclave_build_requirements_file")).strip("/"))
    tars = get("enclave_build_image_tars")
    names = tars.get(kind) if isinstance(tars, dict) else None
    if folder and _is_list(names):
        # Every form of each tar: name.tar, name.tar.gz, name.tar.gz.aa ...
        paths.extend("!/%s/%s*" % (folder, _text(name).strip("/")) for name in names if _inside(name))
    return paths


def _checkout_paths(request, builds):
    if builds or request.get("enclave_build_strategy") != "once":
        return []
    if request.get("enclave_build_receiver_checkout", "sparse") != "sparse":
        return []
    return receiver_paths(request)


def enclave_build_plan(play_hosts_all, hostvars, play_hosts, controller_file=os.path.isfile):
    """For every host of this batch: ``{builder, builds, sends, errors, warnings}`` (see enclave_build_plan.yml)."""
    play_hosts = list(play_hosts)
    play_hosts_all = list(play_hosts_all)
    requests = {host: _var(hostvars, host, "_enclave_build_settings") for host in play_hosts_all}
    # For each set of build inputs, the first host that can build now (this batch) or built in an earlier batch.
    chosen = {}
    for host in play_hosts_all:
        if not requests[host]:
            continue
        key = _identity_key(requests[host])
        if key not in chosen and (host in play_hosts or _built_earlier(hostvars, host)):
            chosen[key] = host
    plan = {}
    for host in play_hosts:
        request = requests.get(host) or {}
        if request.get("enclave_build_strategy") == "per_host":
            builder = host
        else:
            builder = _text(request.get("enclave_build_builder")) or chosen.get(_identity_key(request), host)
        errors = []
        if builder not in play_hosts and not _built_earlier(hostvars, builder):
            errors.append("enclave_build_builder %s cannot build for %s: it is not a host of this batch nor built in an "
                          "earlier one" % (builder, host))
        there = requests.get(builder) if builder in requests else _var(hostvars, builder, "_enclave_build_settings")
        if _identity_key(there) != _identity_key(request):
            errors.append("enclave_build_builder %s cannot build for %s: its build inputs (kind, method, strategy, "
                          "repository, version, names) differ (%s there, %s here)"
                          % (builder, host, build_identity(there) if there else "not in the play",
                             build_identity(request)))
        facts = _var(hostvars, host, "__enclave_build_facts") or {}
        errors = enclave_build_input_errors(
            request, host=host, platform=facts.get("platform", "unsupported"), play_hosts=play_hosts,
            distribution=("%s %s" % (facts.get("distribution", "unknown"), facts.get("distribution_version", ""))).strip(),
            controller_file=controller_file) + errors
        checkout = _checkout_paths(request, builder == host)
        found = (facts.get("checkout") or {}) if isinstance(facts, dict) else {}
        sparse_now = list(found.get("sparse") or [])
        up_to_date = bool(facts.get("up_to_date")) and sparse_now == checkout
        plan[host] = {"builder": builder, "builds": builder == host, "sends": False,
                      "prepares": builder == host or not up_to_date,
                      "checkout": checkout, "checkout_sparse_current": sparse_now == checkout,
                      "checkout_current": bool(found.get("current")) and sparse_now == checkout,
                      "checkout_sparse": bool(checkout or sparse_now), "up_to_date": up_to_date,
                      "errors": ["%s: %s" % (host, error) for error in errors],
                      "warnings": ["%s: %s" % (host, warning) for warning in enclave_build_input_warnings(request)]}
    later_batches = len(play_hosts_all) > len(play_hosts)
    for host, mine in plan.items():
        receivers = [other for other, theirs in plan.items() if theirs["builder"] == host and other != host]
        strategy = (requests.get(host) or {}).get("enclave_build_strategy")
        mine["sends"] = mine["builds"] and strategy == "once" and bool(receivers or later_batches)
    return plan


def enclave_build_installed_current(installed, record, allowed_pcr0=None):
    """Whether the installed image is the one ``record`` (filter enclave_build_record) describes, mode 0644, with it."""
    if not isinstance(installed, dict) or not isinstance(record, dict) or not record.get("sha256"):
        return False
    if allowed_pcr0 is not None:
        allowed = [_text(value).strip().lower() for value in allowed_pcr0]
        if not record.get("permitted") or _text(record.get("matched_pcr0")).lower() not in allowed:
            return False
    # Compared as JSON, the way the record is written and read back.
    expected = json.loads(json.dumps(record, default=str))
    return (bool(installed.get("exists")) and installed.get("sha256") == record["sha256"]
            and installed.get("mode") == "0644" and installed.get("record") == expected)


# The serve script settings the serving roles write (roles oracle_service and registry_service): each must be one
# top-level line of the script unless *_service_append_missing, which appends a missing line instead.
SERVE_SETTINGS = {"oracle": ["PROVIDER", "REGISTRY", "PRICE", "NO_DEMAND_TIMEOUT"], "registry": []}
SERVE_SCRIPTS = {"oracle": "serve_oracle.sh", "registry": "serve_registry.sh"}
# A docker image reference's tag (what follows the last ':' after the last '/').
DOCKER_TAG_RE = re.compile(r":[^:/]*$")


def enclave_build_contract(settings):
    """What the roles rely on in the checkout: ``[{path, variable, settings?, settings_variable?, mentions?}]``."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("opencontracts.enclave.enclave_build_contract: expects the role's variables as a "
                                 "dictionary, got %s" % type(settings).__name__)
    get = settings.get
    kind = _text(get("enclave_build_kind"))
    folders = get("enclave_build_enclave_dirs")
    folder = _text(folders.get(kind)) if isinstance(folders, dict) else ""
    contract = [{"path": _text(get("enclave_build_requirements_file")), "variable": "enclave_build_requirements_file"}]
    method = get("enclave_build_method")
    if method == "tars":
        uris = get("enclave_build_docker_uri")
        uri = _text(uris.get(kind)) if isinstance(uris, dict) else ""
        contract.append({"path": "%s/%s" % (folder, _text(get("enclave_build_tars_script"))),
                         "variable": "enclave_build_tars_script",
                         # The image the script builds from (another name: an upstream rename, worth a warning).
                         "mentions": [DOCKER_TAG_RE.sub("", uri)]})
    elif method == "source":
        contract.append({"path": "%s/%s" % (folder, _text(get("enclave_build_source_script"))),
                         "variable": "enclave_build_source_script"})
    if kind in SERVE_SCRIPTS:
        script_variable = "%s_service_script" % kind
        settings_variable = "%s_service_append_missing" % kind
        entry = {"path": "%s/%s" % (folder, _text(settings.get(script_variable, SERVE_SCRIPTS[kind]))),
                 "variable": script_variable,
                 "settings": [] if get(settings_variable) else list(SERVE_SETTINGS[kind])}
        if SERVE_SETTINGS[kind]:
            entry["settings_variable"] = settings_variable
        contract.append(entry)
    return contract


# The verified image's fields (verify.yml's _enclave_build_verified), as a record has them when there is none yet.
NO_IMAGE = {"sha256": None, "size": None, "measurements": {}, "matched_pcr0": None, "permitted": False, "image_id": None}


def _settings(settings, name):
    if not isinstance(settings, dict):
        raise AnsibleFilterError("opencontracts.enclave.%s: expects the role's variables as a dictionary, got %s"
                                 % (name, type(settings).__name__))
    return settings.get


def enclave_build_record(settings, image, builder, commit):
    """The install record: the verified image with what it was built from, and by which host."""
    get = _settings(settings, "enclave_build_record")
    record = dict(NO_IMAGE)
    record.update(image or {})
    record.update({name: get("enclave_build_" + name) for name in ("kind", "method", "strategy", "repo_url", "repo_version")})
    record.update({"path": get("enclave_build_eif_path"), "builder": builder, "commit": commit})
    return record


def enclave_build_s3_objects(settings, record, image_path):
    """The builder's verified image and its install record in the bucket: ``[{key, size, src|content, content_type}]``."""
    get = _settings(settings, "enclave_build_s3_objects")
    if not isinstance(record, dict) or not record.get("sha256"):
        return []
    stem = "%s/%s/%s" % (_text(get("enclave_build_s3_prefix")), _text(get("enclave_build_kind")), record["sha256"])
    return [{"key": stem + ".eif", "size": record.get("size"), "content_type": "application/octet-stream",
             "src": image_path},
            # The record is never overwritten: no expected size.
            {"key": stem + ".json", "size": None, "content_type": "application/json",
             "content": json.dumps(record, indent=4, sort_keys=True, default=str) + "\n"}]


# What enclave_build_result holds of the install record, besides record_path, changed and built.
RESULT_FIELDS = ("kind", "path", "sha256", "size", "measurements", "matched_pcr0", "permitted", "builder", "method",
                 "commit", "image_id")


def enclave_build_result(record, facts, built):
    """The fact enclave_build_result: the installed (or to be installed) image, and whether this run changed it."""
    if not isinstance(record, dict):
        raise AnsibleFilterError("opencontracts.enclave.enclave_build_result: expects the install record (filter "
                                 "enclave_build_record) as a dictionary, got %s" % type(record).__name__)
    result = {name: record.get(name) for name in RESULT_FIELDS}
    result.update({
        # Written next to the image (the role's _enclave_build_record_path).
        "record_path": None if record.get("path") is None else "%s.json" % record["path"],
        "built": boolean(built, strict=False),
        # In check mode the image may not be known yet: then it may change.
        "changed": not record.get("sha256") or ((facts or {}).get("installed_image") or {}).get("sha256") != record["sha256"],
    })
    return result


class FilterModule(object):
    """The filters of the role enclave_build."""

    def filters(self):
        return {
            "enclave_build_input_errors": enclave_build_input_errors,
            "enclave_build_input_warnings": enclave_build_input_warnings,
            "enclave_build_plan": enclave_build_plan,
            "enclave_build_installed_current": enclave_build_installed_current,
            "enclave_build_contract": enclave_build_contract,
            "enclave_build_record": enclave_build_record,
            "enclave_build_s3_objects": enclave_build_s3_objects,
            "enclave_build_result": enclave_build_result,
        }
