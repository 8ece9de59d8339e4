"""opencontracts.enclave.enclave_build_facts: recorded git and dpkg outputs, real files in a temp folder."""

import json
import os

import pytest

import module_runner
from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_build_facts

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "89abcdef0123456789abcdef0123456789abcdef"
TAG_OBJECT = "fedcba9876543210fedcba9876543210fedcba98"
URL = "file:///srv/git/enclave-protocol.git"

# `git ls-remote -- URL v1.2 v1.2^{}` for an annotated tag: the tag object, then the commit it peels to.
LS_REMOTE_TAG = "%s\trefs/tags/v1.2\n%s\trefs/tags/v1.2^{}\n" % (TAG_OBJECT, COMMIT)
LS_REMOTE_BRANCH = "%s\trefs/heads/main\n" % OTHER
LS_REMOTE_FAILED = ("fatal: '/srv/git/missing.git' does not appear to be a git repository\n"
                    "fatal: Could not read from remote repository.\n\n"
                    "Please make sure you have the correct access rights\nand the repository exists.\n")
# `git ls-files -v`: H cached, S skip-worktree.
LS_FILES = "H README.md\nS oracle_enclave/serve_oracle.sh\nH ec2_instance/requirements.txt\n"
# `dpkg-query --show --showformat='${Package}\t${db:Status-Abbrev}\n'` with git not installed ("un").
DPKG_GIT_MISSING = "git\tun \npython3-venv\tii \npython3-packaging\tii \n"
DPKG_ALL = "git\tii \npython3-venv\tii \npython3-packaging\tii \n"
PACKAGES = {"debian": ["git", "python3-venv", "python3-packaging"], "amazon2023": ["git", "python3"]}


class Git:
    """Answers git and dpkg-query commands from a table keyed by the subcommand; records the calls."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, module, argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        if argv[0] == "dpkg-query":
            return self.answers.get("dpkg", (0, DPKG_ALL, ""))
        if argv[0] == "rpm":
            return self.answers.get("rpm", (0, "", ""))
        if argv[1:3] == ["image", "inspect"]:  # docker (run_module's get_bin_path gives one path for every tool)
            return self.answers.get("docker", (1, "", "Error: No such image\n"))
        assert argv[0] == "/usr/bin/git", argv
        assert kwargs["environ_update"]["GIT_TERMINAL_PROMPT"] == "0"
        assert kwargs["environ_update"]["GIT_OPTIONAL_LOCKS"] == "0"
        if argv[1] == "config" and "core.sparseCheckout" in argv:
            return self.answers.get("sparse", (1, "", ""))
        if argv[1:3] == ["lfs", "version"]:
            return self.answers.get("lfs", (1, "", "git: 'lfs' is not a git command. See 'git --help'.\n"))
        return self.answers[argv[1]]


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A Debian host whose paths live under tmp_path: a checkout with a requirements file, a virtualenv."""
    monkeypatch.setattr(host_state, "platform_facts", lambda: {
        "platform": "debian", "os_id": "debian", "distribution": "Debian GNU/Linux", "distribution_version": "12",
        "architecture": "x86_64", "in_container": True})
    monkeypatch.setattr(host_state, "apt_lists_stale", lambda: False)
    repo = tmp_path / "enclave-protocol"
    (repo / ".git").mkdir(parents=True)
    (repo / "ec2_instance").mkdir()
    (repo / "ec2_instance" / "requirements.txt").write_text("requests==2.31.0\n")
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".requirements.txt").write_text("requests==2.31.0\n")
    return tmp_path


def args(root, **overrides):
    values = {
        "repo_url": URL, "repo_version": COMMIT, "repo_dir": str(root / "enclave-protocol"),
        "requirements_file": "ec2_instance/requirements.txt", "venv_dir": str(root / "venv"),
        "eif_path": str(root / "oracle.eif"), "packages": PACKAGES,
    }
    values.update(overrides)
    return values


def current_checkout(**changes):
    answers = {"ls-remote": (0, "", ""), "rev-parse": (0, COMMIT + "\n", ""), "config": (0, URL + "\n", ""),
               "ls-files": (0, LS_FILES, ""), "status": (0, "", "")}
    answers.update(changes)
    return answers


def run(root, answers, bin_path="/usr/bin/git", **overrides):
    git = Git(answers)
    result = module_runner.run_module(enclave_build_facts.main, args(root, **overrides),
                                      commands=git, bin_path=bin_path)
    return result, git


def test_everything_in_place_is_up_to_date(host):
    result, git = run(host, current_checkout())
    assert not result["failed"] and not result["changed"]
    assert result["platform"] == "debian" and result["distribution"] == "Debian GNU/Linux"
    assert result["packages_missing"] == [] and result["apt_lists_stale"] is False
    assert result["git"] is True
    assert result["remote"] == {"reachable": True, "pinned": True, "commit": COMMIT, "error": None}
    assert result["checkout"] == {
        "exists": True, "head": COMMIT, "origin": URL, "clean": True, "current": True, "sparse": [],
        "configured_files": ["oracle_enclave/serve_oracle.sh"], "requirements_installed": True}
    assert result["settings_set_aside"] is False
    assert result["installed_image"] == {"exists": False, "sha256": None, "mode": None, "record": None}
    assert result["up_to_date"] is True
    # ls-remote names the version and its peeled form, after "--"; git runs in the checkout.
    ls_remote = [argv for argv, dummy in git.calls if argv[1:2] == ["ls-remote"]][0]
    assert ls_remote == ["/usr/bin/git", "ls-remote", "--", URL, COMMIT, COMMIT + "^{}"]
    status = [kwargs for argv, kwargs in git.calls if argv[1:2] == ["status"]][0]
    assert status["cwd"] == str(host / "enclave-protocol")


def test_a_pinned_commit_in_upper_case_pins_itself(host):
    result, dummy = run(host, current_checkout(), repo_version=COMMIT.upper())
    assert result["remote"]["commit"] == COMMIT
    assert result["checkout"]["current"] is True


def test_a_tag_names_its_peeled_commit(host):
    result, dummy = run(host, current_checkout(**{"ls-remote": (0, LS_REMOTE_TAG, "")}), repo_version="v1.2")
    assert result["remote"] == {"reachable": True, "pinned": False, "commit": COMMIT, "error": None}
    assert result["checkout"]["current"] is True


def test_a_branch_that_moved_makes_the_checkout_not_current(host):
    result, dummy = run(host, current_checkout(**{"ls-remote": (0, LS_REMOTE_BRANCH, "")}), repo_version="main")
    assert result["remote"]["commit"] == OTHER
    assert result["checkout"]["current"] is False
    assert result["up_to_date"] is False


def test_a_version_the_repository_lacks_names_no_commit(host):
    result, dummy = run(host, current_checkout(), repo_version="v9.9")
    assert result["remote"]["reachable"] is True and result["remote"]["commit"] == ""
    assert result["checkout"]["current"] is False


def test_an_unreachable_repository_is_reported_with_gits_reason(host):
    result, dummy = run(host, current_checkout(**{"ls-remote": (128, "", LS_REMOTE_FAILED)}))
    assert not result["failed"]
    assert result["remote"]["reachable"] is False
    assert result["remote"]["error"] == "fatal: '/srv/git/missing.git' does not appear to be a git repository"
    assert result["checkout"]["current"] is False


@pytest.mark.parametrize("changes", [
    {"rev-parse": (0, OTHER + "\n", "")},
    {"config": (0, "https://example.com/fork.git\n", "")},
    {"status": (0, " M ec2_instance/server.py\n", "")},
    {"status": (128, "", "fatal: index file corrupt\n")},
    {"rev-parse": (1, "", "")},
])
def test_a_moved_changed_or_foreign_checkout_is_not_current(host, changes):
    result, dummy = run(host, current_checkout(**changes))
    assert result["checkout"]["current"] is False
    assert result["up_to_date"] is False


def test_changed_requirements_are_not_installed(host):
    (host / "enclave-protocol" / "ec2_instance" / "requirements.txt").write_text("requests==2.32.0\n")
    result, dummy = run(host, current_checkout())
    assert result["checkout"]["current"] is True
    assert result["checkout"]["requirements_installed"] is False
    assert result["up_to_date"] is False


def test_no_checkout_yet(host):
    result, git = run(host, current_checkout(), repo_dir=str(host / "nothing-here"))
    assert result["checkout"] == {"exists": False, "head": "", "origin": "", "clean": False, "current": False,
                                  "sparse": [], "configured_files": [], "requirements_installed": False}
    assert [argv[1] for argv, dummy in git.calls if argv[0] != "dpkg-query"] == ["ls-remote"]


def test_a_fresh_host_without_git_says_so_and_asks_nothing(host):
    result, git = run(host, {"dpkg": (1, DPKG_GIT_MISSING, "dpkg-query: no packages found matching git\n")},
                      bin_path=None)
    assert result["git"] is False
    assert result["packages_missing"] == ["git"]
    assert result["remote"] == {"reachable": False, "pinned": True, "commit": "", "error": "git is not installed"}
    assert result["checkout"]["exists"] is True and result["checkout"]["current"] is False
    assert [argv[0] for argv, dummy in git.calls] == ["dpkg-query"]


def test_settings_set_aside_by_an_earlier_run(host):
    (host / "enclave-protocol.settings.patch").write_text("diff --git a/x b/x\n")
    result, dummy = run(host, current_checkout())
    assert result["settings_set_aside"] is True
    assert result["up_to_date"] is False
    result, dummy = run(host, current_checkout(), settings_patch=str(host / "elsewhere.patch"))
    assert result["settings_set_aside"] is False


def test_the_installed_image_and_its_record(host):
    eif = host / "oracle.eif"
    eif.write_bytes(b"test")
    os.chmod(str(eif), 0o644)
    record = {"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 4}
    (host / "oracle.eif.json").write_text(json.dumps(record, indent=4) + "\n")
    result, dummy = run(host, current_checkout())
    assert result["installed_image"] == {"exists": True, "sha256": record["sha256"], "mode": "0644", "record": record}


def source_build(root, commit, output=True):
    if commit is not None:
        (root / "oracle.source.json").write_text(json.dumps({"commit": commit, "script": "build.sh"}))
    if output:
        (root / "oracle.eif.built").write_bytes(b"EIF")
    return {"source_record": str(root / "oracle.source.json"), "source_output": str(root / "oracle.eif.built")}


@pytest.mark.parametrize("commit, output, current", [
    (COMMIT, True, True),
    # The version names another commit now, the EIF is gone, no record yet.
    (OTHER, True, False),
    (COMMIT, False, False),
    (None, True, False),
])
def test_the_last_source_build_is_current_for_the_named_commit_and_its_eif(host, commit, output, current):
    result, dummy = run(host, current_checkout(), **source_build(host, commit, output))
    assert result["source"] == {"commit": commit, "output_exists": output, "current": current}


def test_no_source_build_asked_for_or_reachable(host):
    assert run(host, current_checkout())[0]["source"] == {"commit": None, "output_exists": False, "current": False}
    # An unreachable repository names no commit: nothing is current.
    result, dummy = run(host, current_checkout(**{"ls-remote": (128, "", "fatal: no\n")}), **source_build(host, ""))
    assert result["source"] == {"commit": None, "output_exists": True, "current": False}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", ""])
def test_a_record_that_is_not_a_json_object_counts_as_none(host, text):
    (host / "oracle.eif").write_bytes(b"test")
    (host / "oracle.eif.json").write_text(text)
    result, dummy = run(host, current_checkout())
    assert result["installed_image"]["record"] is None


def test_fifos_are_never_read(host):
    os.mkfifo(str(host / "oracle.eif"))
    os.mkfifo(str(host / "oracle.eif.json"))
    os.remove(str(host / "venv" / ".requirements.txt"))
    os.mkfifo(str(host / "venv" / ".requirements.txt"))
    result, dummy = run(host, current_checkout())
    assert result["installed_image"] == {"exists": False, "sha256": None, "mode": None, "record": None}
    assert result["checkout"]["requirements_installed"] is False


def test_only_this_platforms_packages_are_asked_for(host, monkeypatch):
    monkeypatch.setattr(host_state, "platform_facts", lambda: {
        "platform": "amazon2023", "os_id": "amazon", "distribution": "Amazon Linux", "distribution_version": "2023",
        "architecture": "x86_64", "in_container": False})
    result, git = run(host, current_checkout(rpm=(1, "git\nno package provides python3\n", "")))
    assert result["packages_missing"] == ["python3"]
    assert result["apt_lists_stale"] is False
    rpm = [argv for argv, dummy in git.calls if argv[0] == "rpm"][0]
    assert rpm[-2:] == ["git", "python3"]


def test_check_mode_gives_the_same_answer(host):
    git = Git(current_checkout())
    result = module_runner.run_module(enclave_build_facts.main, args(host), check_mode=True, commands=git,
                                      bin_path="/usr/bin/git")
    assert result["up_to_date"] is True and not result["changed"]


def test_packages_must_be_lists(host):
    result, dummy = run(host, current_checkout(), packages={"debian": "git"})
    assert result["failed"]
    assert result["msg"] == "packages: the value for debian must be a list of package names"


def test_a_required_option_missing_fails_cleanly(host):
    values = args(host)
    del values["repo_url"]
    result = module_runner.run_module(enclave_build_facts.main, values, commands=Git({}), bin_path="/usr/bin/git")
    assert result["failed"] and "repo_url" in result["msg"]


# --- method tars ---------------------------------------------------------------------------------------

BLOB = "5716ca5987cbf97d6bb54920bea6adde242d87e6"
IMAGE_ID = "sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988"
# `git ls-tree HEAD -- oracle_enclave/`: the folder's files with their blob IDs.
LS_TREE = ("100644 blob %s\toracle_enclave/oracle_enclave.tar\n"
           "100755 blob 1111111111111111111111111111111111111111\toracle_enclave/tars2image.sh\n" % BLOB)


def tars_args(root, **overrides):
    values = {"tars": ["oracle_enclave.tar", "extra.tar"], "tars_folder": "oracle_enclave",
              "docker_image": "oracle_enclave:latest", "load_record": str(root / "oracle.load.json")}
    values.update(overrides)
    return values


def test_tars_blobs_missing_names_and_the_docker_image(host):
    result, git = run(host, current_checkout(**{"ls-tree": (0, LS_TREE, ""), "docker": (0, IMAGE_ID + "\n", "")}),
                      **tars_args(host))
    tars = result["tars"]
    assert tars["blobs"] == {"oracle_enclave.tar": BLOB} and tars["missing"] == ["extra.tar"]
    assert tars["image_id"] == IMAGE_ID and tars["loaded"] is False
    assert tars["archives"][0] == {"name": "oracle_enclave.tar", "form": "tar", "problem": None,
                                   "files": [str(host / "enclave-protocol" / "oracle_enclave" / "oracle_enclave.tar")]}
    assert tars["archives"][1]["form"] is None and "extra.tar.gzaa" in tars["archives"][1]["problem"]
    assert len(tars["problems"]) == 1 and tars["problems"][0].startswith("extra.tar: none of extra.tar, extra.tar.gz")
    ls_tree = [argv for argv, dummy in git.calls if argv[1:2] == ["ls-tree"]][0]
    assert ls_tree[2:] == ["HEAD", "--", "oracle_enclave/"]
    inspect = [argv for argv, dummy in git.calls if argv[1:3] == ["image", "inspect"]][0]
    assert inspect[-2:] == ["--", "oracle_enclave:latest"]


def test_tars_loaded_when_the_last_load_matches_blobs_and_image(host):
    record = {"tars": {"oracle_enclave.tar": BLOB}, "docker_uri": "oracle_enclave:latest", "image_id": IMAGE_ID}
    (host / "oracle.load.json").write_text(json.dumps(record, indent=4))
    answers = current_checkout(**{"ls-tree": (0, LS_TREE, ""), "docker": (0, IMAGE_ID + "\n", "")})
    result, dummy = run(host, answers, **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["loaded"] is True and result["tars"]["missing"] == []
    # Another blob (the tar changed upstream), or docker lost the image: load again.
    other_blob = LS_TREE.replace(BLOB, "0" * 40)
    result, dummy = run(host, dict(answers, **{"ls-tree": (0, other_blob, "")}), **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["loaded"] is False
    result, dummy = run(host, dict(answers, docker=(1, "", "Error: No such image\n")),
                        **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["loaded"] is False and result["tars"]["image_id"] == ""


def test_no_tars_asked_for_reads_nothing_about_them(host):
    result, git = run(host, current_checkout())
    assert result["tars"] == {"blobs": {}, "archives": [], "problems": [], "missing": [], "image_id": "", "loaded": False,
                              "lfs": {"pointers": [], "declared": False, "installed": False}}
    assert result["contract"] == [] and result["contract_notes"] == []
    assert not [argv for argv, dummy in git.calls if argv[1:2] == ["ls-tree"] or argv[1:2] == ["image"]]


SPLIT_TREE = "".join("100644 blob %s\toracle_enclave/oracle_enclave.tar.gz%s\n" % (str(index) * 40, suffix)
                     for index, suffix in enumerate(["ab", "aa", "ac"]))


def test_split_parts_are_found_in_order_with_their_blobs(host):
    result, dummy = run(host, current_checkout(**{"ls-tree": (0, SPLIT_TREE, "")}),
                        **tars_args(host, tars=["oracle_enclave.tar"]))
    folder = host / "enclave-protocol" / "oracle_enclave"
    assert result["tars"]["archives"] == [{
        "name": "oracle_enclave.tar", "form": "parts", "problem": None,
        "files": [str(folder / ("oracle_enclave.tar.gz" + suffix)) for suffix in ("aa", "ab", "ac")]}]
    assert sorted(result["tars"]["blobs"]) == ["oracle_enclave.tar.gzaa", "oracle_enclave.tar.gzab", "oracle_enclave.tar.gzac"]
    assert result["tars"]["problems"] == [] and result["contract"] == []


def test_a_gap_in_the_parts_is_a_contract_difference(host):
    tree = SPLIT_TREE.replace("oracle_enclave.tar.gzab", "oracle_enclave.tar.gzad")
    result, dummy = run(host, current_checkout(**{"ls-tree": (0, tree, "")}),
                        **tars_args(host, tars=["oracle_enclave.tar"], tars_variable="enclave_build_image_tars.oracle"))
    what = ("oracle_enclave.tar: oracle_enclave.tar.gzab is missing: the parts are "
            "oracle_enclave.tar.gzaa, oracle_enclave.tar.gzac, oracle_enclave.tar.gzad")
    assert result["contract"] == [{"what": what, "variable": "enclave_build_image_tars.oracle",
                                   "message": what + " (adapt enclave_build_image_tars.oracle)"}]


def test_lfs_pointers_are_told_apart_and_whether_lfs_can_fetch_them(host):
    folder = host / "enclave-protocol" / "oracle_enclave"
    folder.mkdir()
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 3254747136\n" % ("ab" * 32)
    (folder / "oracle_enclave.tar").write_text(pointer)
    answers = current_checkout(**{"ls-tree": (0, LS_TREE, ""), "lfs": (0, "git-lfs/3.3.0\n", ""),
                                  "check-attr": (0, "oracle_enclave/oracle_enclave.tar: filter: lfs\n", "")})
    result, git = run(host, answers, **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["lfs"] == {"pointers": ["oracle_enclave/oracle_enclave.tar"], "declared": True, "installed": True}
    assert result["tars"]["problems"] == [
        "oracle_enclave.tar: oracle_enclave.tar is a git LFS pointer file, not the image (git lfs pull fetches it)"]
    check_attr = [argv for argv, dummy in git.calls if argv[1:2] == ["check-attr"]][0]
    assert check_attr[2:] == ["filter", "--", "oracle_enclave/oracle_enclave.tar"]
    # Not declared for LFS: said so.
    answers["check-attr"] = (0, "oracle_enclave/oracle_enclave.tar: filter: unspecified\n", "")
    result, dummy = run(host, answers, **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["lfs"]["declared"] is False
    assert "does not declare them for git LFS" in result["tars"]["problems"][0]
    # The real image (pulled) is no pointer.
    (folder / "oracle_enclave.tar").write_bytes(b"manifest.json" + b"\0" * 2000)
    result, dummy = run(host, answers, **tars_args(host, tars=["oracle_enclave.tar"]))
    assert result["tars"]["lfs"]["pointers"] == [] and result["tars"]["problems"] == []


SERVE_SCRIPT = """#!/bin/sh
PROVIDER=<---the Ethereum address that should get your rewards-->
REGISTRY=
PRICE=$(cat price.txt)
PRICE=1
  NO_DEMAND_TIMEOUT=
nitro-cli run-enclave --eif-path oracle_enclave.eif
"""


def test_contract_names_each_difference_and_its_variable(host):
    folder = host / "enclave-protocol" / "oracle_enclave"
    folder.mkdir()
    (folder / "serve_oracle.sh").write_text(SERVE_SCRIPT)
    (folder / "tars2image.sh").write_text("docker load -i oracle_enclave.tar\n")
    contract = [
        {"path": "oracle_enclave/serve_oracle.sh", "variable": "oracle_service_script",
         "settings": ["PROVIDER", "REGISTRY", "PRICE", "NO_DEMAND_TIMEOUT"], "settings_variable": "oracle_service_append_missing"},
        {"path": "oracle_enclave/tars2image.sh", "variable": "enclave_build_tars_script",
         "mentions": ["oracle_enclave", "oracle_enclave:latest"]},
        {"path": "oracle_enclave/build.sh", "variable": "enclave_build_source_script"},
        {"path": "ec2_instance/requirements.txt", "variable": "enclave_build_requirements_file"},
    ]
    result, dummy = run(host, current_checkout(), contract=contract)
    assert result["contract"][0]["message"] == ("oracle_enclave/serve_oracle.sh has 2 top-level PRICE= lines "
                                                "(adapt oracle_service_append_missing)")
    assert [dict((key, entry[key]) for key in ("what", "variable")) for entry in result["contract"]] == [
        {"what": "oracle_enclave/serve_oracle.sh has 2 top-level PRICE= lines", "variable": "oracle_service_append_missing"},
        {"what": "oracle_enclave/serve_oracle.sh has no top-level NO_DEMAND_TIMEOUT= line",
         "variable": "oracle_service_append_missing"},
        {"what": "oracle_enclave/build.sh is not in the checkout", "variable": "enclave_build_source_script"},
    ]
    assert result["contract_notes"] == [
        "oracle_enclave/tars2image.sh does not mention oracle_enclave:latest: upstream may have renamed them "
        "(enclave_build_tars_script)"]


def test_a_contract_entry_without_a_variable_fails_clearly(host):
    result, dummy = run(host, current_checkout(), contract=[{"path": "x"}])
    assert result["failed"] and "contract[0] needs a path and a variable" in result["msg"]


# A receiver's sparse checkout (non-cone patterns, as sparse_checkout writes them).
SPARSE = ["/ec2_instance/", "/oracle_enclave/", "!/oracle_enclave/oracle_enclave.tar*"]
# `git ls-files -v` there: the tars left out are skip-worktree (S) like the configured serve script.
LS_FILES_SPARSE = ("S oracle_enclave/serve_oracle.sh\nS oracle_enclave/oracle_enclave.tar.gz.aa\n"
                   "S oracle_enclave/oracle_enclave.tar.gz.ab\nH ec2_instance/requirements.txt\nS README.md\n")


def sparse_host(host, patterns):
    (host / "enclave-protocol" / ".git" / "info").mkdir()
    (host / "enclave-protocol" / ".git" / "info" / "sparse-checkout").write_text("\n".join(patterns) + "\n")
    (host / "enclave-protocol" / "oracle_enclave").mkdir()
    (host / "enclave-protocol" / "oracle_enclave" / "serve_oracle.sh").write_text("PRICE=1\n")


def test_a_sparse_checkout_reports_its_patterns_and_only_present_files_as_configured(host):
    sparse_host(host, SPARSE)
    result, dummy = run(host, current_checkout(sparse=(0, "true\n", ""), **{"ls-files": (0, LS_FILES_SPARSE, "")}))
    assert result["checkout"]["sparse"] == SPARSE
    assert result["checkout"]["current"] is True
    # The tars and README.md are left out (not in the work tree): only the configured serve script counts.
    assert result["checkout"]["configured_files"] == ["oracle_enclave/serve_oracle.sh"]


def test_a_disabled_sparse_checkout_is_full_whatever_its_file_says(host):
    sparse_host(host, SPARSE)
    result, dummy = run(host, current_checkout(sparse=(0, "false\n", "")))
    assert result["checkout"]["sparse"] == []
    assert result["checkout"]["configured_files"] == ["oracle_enclave/serve_oracle.sh"]
