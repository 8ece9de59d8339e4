"""opencontracts.enclave.sparse_checkout: a real git, an upstream repository served from a temp folder."""

import os
import shutil
import subprocess

import pytest

import module_runner
from ansible_collections.opencontracts.enclave.plugins.modules import sparse_checkout

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

PATTERNS = ["/ec2_instance/", "/oracle_enclave/", "!/oracle_enclave/oracle_enclave.tar*"]
# Not compressible, so a clone that fetched it would show in the object store.
TAR = os.urandom(256 * 1024)


def git(*args, cwd=None):
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def upstream(tmp_path, monkeypatch):
    """A bare repository (filters allowed, as GitHub does) with serve scripts, ec2_instance/ and an image tar."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name, value in (("GIT_AUTHOR_NAME", "fixture"), ("GIT_AUTHOR_EMAIL", "fixture@example.invalid"),
                        ("GIT_COMMITTER_NAME", "fixture"), ("GIT_COMMITTER_EMAIL", "fixture@example.invalid")):
        monkeypatch.setenv(name, value)
    work = tmp_path / "work"
    (work / "ec2_instance").mkdir(parents=True)
    (work / "ec2_instance" / "requirements.txt").write_text("requests==2.31.0\n")
    (work / "oracle_enclave").mkdir()
    (work / "oracle_enclave" / "serve_oracle.sh").write_text("PRICE=1\n")
    (work / "oracle_enclave" / "oracle_enclave.tar.gz.aa").write_bytes(TAR)
    (work / "oracle_enclave" / "oracle_enclave.tar.gz.ab").write_bytes(TAR[::-1])
    (work / "registry_enclave").mkdir()
    (work / "registry_enclave" / "serve_registry.sh").write_text("echo registry\n")
    (work / "README.md").write_text("fixture\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "upstream.git"))
    git("config", "uploadpack.allowFilter", "true", cwd=tmp_path / "upstream.git")
    return {"url": "file://%s" % (tmp_path / "upstream.git"), "work": work, "commit": git("rev-parse", "HEAD", cwd=work),
            "dest": tmp_path / "hosts" / "enclave-protocol"}


def run(args, check_mode=False, diff=False):
    """The module with the host's real git."""
    return module_runner.run_main(sparse_checkout.main, args, check_mode, diff)


def args(repo, **changes):
    values = {"repo": repo["url"], "dest": str(repo["dest"]), "version": repo["commit"], "paths": PATTERNS}
    values.update(changes)
    return values


def missing_objects(dest):
    """The objects HEAD reaches that the partial clone has not fetched (git prints them as ?<id>)."""
    out = git("rev-list", "--objects", "--missing=print", "HEAD", cwd=dest)
    return {line[1:] for line in out.splitlines() if line.startswith("?")}


def blob(repo, path):
    return git("rev-parse", "HEAD:" + path, cwd=repo["work"])


def files(dest):
    return sorted(os.path.relpath(os.path.join(top, name), dest) for top, dirs, names in os.walk(dest)
                  if ".git" not in os.path.relpath(top, dest).split(os.sep) for name in names)


def commit_upstream(repo, path, text):
    (repo["work"] / path).write_text(text)
    git("commit", "-q", "-am", "change " + path, cwd=repo["work"])
    git("push", "-q", repo["url"], "main", cwd=repo["work"])
    return git("rev-parse", "HEAD", cwd=repo["work"])


def test_a_new_checkout_holds_and_fetched_only_the_selected_files(upstream):
    result = run(args(upstream), diff=True)
    assert not result["failed"], result
    assert result["changed"] and result["cloned"]
    assert result["before"] is None and result["after"] == upstream["commit"]
    assert result["sparse"] == PATTERNS
    dest = upstream["dest"]
    assert files(dest) == ["ec2_instance/requirements.txt", "oracle_enclave/serve_oracle.sh"]
    # The tars' content never reached the host: git lists them as missing objects.
    tars = {blob(upstream, "oracle_enclave/oracle_enclave.tar.gz.aa"), blob(upstream, "oracle_enclave/oracle_enclave.tar.gz.ab")}
    assert tars <= missing_objects(dest)
    assert git("rev-parse", "HEAD", cwd=dest) == upstream["commit"]
    assert git("status", "--porcelain", cwd=dest) == ""
    assert "sparse: no" in result["diff"]["before"] and "!/oracle_enclave/oracle_enclave.tar*" in result["diff"]["after"]


def test_a_re_run_changes_nothing(upstream):
    run(args(upstream))
    result = run(args(upstream))
    assert not result["failed"] and not result["changed"] and not result["cloned"]
    assert result["before"] == result["after"] == upstream["commit"]


def test_check_mode_clones_nothing(upstream):
    result = run(args(upstream), check_mode=True)
    assert not result["failed"] and result["changed"] and result["cloned"]
    assert result["after"] == upstream["commit"]
    assert not upstream["dest"].exists()


def test_a_branch_is_resolved_and_a_new_commit_is_fetched(upstream):
    run(args(upstream, version="main"))
    newer = commit_upstream(upstream, "oracle_enclave/serve_oracle.sh", "PRICE=2\n")
    checked = run(args(upstream, version="main"), check_mode=True)
    assert checked["changed"] and checked["before"] == upstream["commit"] and checked["after"] == newer
    assert git("rev-parse", "HEAD", cwd=upstream["dest"]) == upstream["commit"]
    result = run(args(upstream, version="main"))
    assert result["changed"] and not result["cloned"] and result["after"] == newer
    assert (upstream["dest"] / "oracle_enclave" / "serve_oracle.sh").read_text() == "PRICE=2\n"
    assert files(upstream["dest"]) == ["ec2_instance/requirements.txt", "oracle_enclave/serve_oracle.sh"]


def test_no_patterns_turns_a_sparse_checkout_into_a_full_one_and_back(upstream):
    run(args(upstream))
    result = run(args(upstream, paths=[]))
    assert result["changed"] and result["sparse"] == []
    assert "oracle_enclave/oracle_enclave.tar.gz.aa" in files(upstream["dest"])
    assert (upstream["dest"] / "oracle_enclave" / "oracle_enclave.tar.gz.aa").read_bytes() == TAR
    assert not run(args(upstream, paths=[]))["changed"]
    back = run(args(upstream))
    assert back["changed"] and files(upstream["dest"]) == ["ec2_instance/requirements.txt", "oracle_enclave/serve_oracle.sh"]


def test_local_changes_in_the_way_are_never_thrown_away(upstream):
    run(args(upstream, version="main"))
    (upstream["dest"] / "oracle_enclave" / "serve_oracle.sh").write_text("PRICE=local\n")
    commit_upstream(upstream, "oracle_enclave/serve_oracle.sh", "PRICE=3\n")
    result = run(args(upstream, version="main"))
    assert result["failed"]
    assert "checking out" in result["msg"] and "serve_oracle.sh" in result["msg"]
    assert (upstream["dest"] / "oracle_enclave" / "serve_oracle.sh").read_text() == "PRICE=local\n"


def test_a_folder_that_is_not_a_checkout_is_left_alone(upstream):
    upstream["dest"].mkdir(parents=True)
    (upstream["dest"] / "notes.txt").write_text("mine\n")
    result = run(args(upstream))
    assert result["failed"] and "is not a git checkout" in result["msg"]
    assert files(upstream["dest"]) == ["notes.txt"]


def test_a_version_the_repository_lacks_is_named(upstream):
    result = run(args(upstream, version="v9.9"))
    assert result["failed"] and result["msg"].endswith("has no branch or tag named v9.9")


def test_a_comment_is_not_a_pattern(upstream):
    result = run(args(upstream, paths=["/ec2_instance/", "# tars"]))
    assert result["failed"] and "'# tars' is not a sparse-checkout pattern" in result["msg"]
    assert not upstream["dest"].exists()


def test_a_configured_serve_script_keeps_its_skip_worktree_mark(upstream):
    """The serving roles' way: local settings in the script, marked skip-worktree; git must keep the mark."""
    run(args(upstream, version="main"))
    dest = upstream["dest"]
    (dest / "oracle_enclave" / "serve_oracle.sh").write_text("PRICE=5\n")
    git("update-index", "--skip-worktree", "--", "oracle_enclave/serve_oracle.sh", cwd=dest)
    assert git("status", "--porcelain", "--untracked-files=no", cwd=dest) == ""
    assert "S oracle_enclave/serve_oracle.sh" in git("ls-files", "-v", cwd=dest).splitlines()
    assert not run(args(upstream, version="main"))["changed"]
    # A checkout made before the module set git's expectation is brought in line.
    git("config", "--unset", "sparse.expectFilesOutsideOfPatterns", cwd=dest)
    assert run(args(upstream, version="main"), check_mode=True)["changed"]
    assert run(args(upstream, version="main"))["changed"]
    assert git("config", "--get", "sparse.expectFilesOutsideOfPatterns", cwd=dest) == "true"
    # Full again: git's expectation goes with the patterns.
    run(args(upstream, paths=[]))
    assert subprocess.run(["git", "config", "--get", "sparse.expectFilesOutsideOfPatterns"], cwd=dest,
                          capture_output=True, check=False).returncode == 1
