"""opencontracts.enclave.checkout_settings: a real git, a host checkout of an upstream repository in a temp folder."""

import shutil
import subprocess

import pytest

import module_runner
from ansible_collections.opencontracts.enclave.plugins.modules import checkout_settings

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SCRIPT = "oracle_enclave/serve_oracle.sh"
UPSTREAM = "#!/bin/bash\nPROVIDER=\nPRICE=\n\ncd oracle_enclave\nnitro-cli run-enclave --eif-path oracle.eif\n"
CONFIGURED = UPSTREAM.replace("PROVIDER=\n", "PROVIDER=0xabc\n").replace("PRICE=\n", "PRICE=7\n")


def git(*args, cwd=None):
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def host(tmp_path, monkeypatch):
    """An upstream repository and a host's clone of it with a configured serve script (marked skip-worktree)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name, value in (("GIT_AUTHOR_NAME", "fixture"), ("GIT_AUTHOR_EMAIL", "fixture@example.invalid"),
                        ("GIT_COMMITTER_NAME", "fixture"), ("GIT_COMMITTER_EMAIL", "fixture@example.invalid")):
        monkeypatch.setenv(name, value)
    work = tmp_path / "upstream"
    (work / "oracle_enclave").mkdir(parents=True)
    (work / SCRIPT).write_text(UPSTREAM)
    (work / "README.md").write_text("fixture\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    dest = tmp_path / "enclave-protocol"
    git("clone", "-q", str(work), str(dest))
    (dest / SCRIPT).write_text(CONFIGURED)
    git("update-index", "--skip-worktree", "--", SCRIPT, cwd=dest)
    return {"work": work, "dest": dest, "patch": tmp_path / "enclave-protocol.settings.patch"}


def run(args, check_mode=False, diff=False):
    return module_runner.run_main(checkout_settings.main, args, check_mode, diff)


def aside(host, **changes):
    values = {"repo_dir": str(host["dest"]), "patch": str(host["patch"]), "files": [SCRIPT], "state": "aside"}
    values.update(changes)
    return values


def restored(host, **changes):
    values = {"repo_dir": str(host["dest"]), "patch": str(host["patch"]), "state": "restored"}
    values.update(changes)
    return values


def upstream_commit(host, text):
    """Commit ``text`` as the serve script upstream and move the host's checkout there, as the git module does."""
    (host["work"] / SCRIPT).write_text(text)
    git("commit", "-q", "-am", "change the script", cwd=host["work"])
    git("fetch", "-q", "origin", cwd=host["dest"])
    git("checkout", "-q", "--detach", "origin/main", cwd=host["dest"])
    return git("rev-parse", "HEAD", cwd=host["work"]).strip()


def marked(host):
    """The files git lists as skip-worktree (tag S)."""
    return [line[2:] for line in git("ls-files", "-v", cwd=host["dest"]).splitlines() if line.startswith("S ")]


def script(host):
    return (host["dest"] / SCRIPT).read_text()


def assert_index_is_head(host):
    assert git("diff", "--cached", "--name-only", cwd=host["dest"]) == ""
    assert git("ls-files", "-u", cwd=host["dest"]) == ""


def test_settings_set_aside_and_put_back_into_a_script_upstream_changed_elsewhere(host):
    result = run(aside(host), diff=True)
    assert not result["failed"], result
    assert result["changed"] and result["files"] == [SCRIPT] and result["set_aside"] == [SCRIPT]
    # Upstream's version in the work tree, the mark cleared, the settings in the patch.
    assert script(host) == git("show", "HEAD:" + SCRIPT, cwd=host["dest"]) == UPSTREAM
    assert marked(host) == [] and git("status", "--porcelain", cwd=host["dest"]) == ""
    patch = host["patch"].read_text()
    assert "+PROVIDER=0xabc\n" in patch and "+PRICE=7\n" in patch
    assert result["diff"]["before"] == "" and result["diff"]["after"] == patch

    moved = UPSTREAM.replace("oracle.eif\n", "oracle.eif --cpu-count 2\n")
    upstream_commit(host, moved)
    result = run(restored(host), diff=True)
    assert not result["failed"], result
    assert result["changed"] and result["files"] == [SCRIPT]
    assert result["restored"] == [SCRIPT] and result["kept_upstream"] == []
    assert result["diff"]["before"] == patch and result["diff"]["after"] == ""
    assert script(host) == moved.replace("PROVIDER=\n", "PROVIDER=0xabc\n").replace("PRICE=\n", "PRICE=7\n")
    assert marked(host) == [SCRIPT]
    assert git("status", "--porcelain", cwd=host["dest"]) == ""
    assert_index_is_head(host)
    assert not host["patch"].exists()
    # Done: a re-run changes nothing.
    again = run(restored(host))
    assert not again["failed"] and not again["changed"] and again["files"] == []
    assert script(host).startswith("#!/bin/bash\nPROVIDER=0xabc\nPRICE=7\n")


def test_settings_that_conflict_with_upstream_leave_upstreams_version(host):
    run(aside(host))
    conflicting = UPSTREAM.replace("PRICE=\n", "PRICE=1\n")
    commit = upstream_commit(host, conflicting)
    result = run(restored(host))
    assert not result["failed"], result
    assert result["changed"] and result["kept_upstream"] == [SCRIPT] and result["restored"] == []
    assert script(host) == git("show", commit + ":" + SCRIPT, cwd=host["work"]) == conflicting
    assert marked(host) == [SCRIPT]
    assert_index_is_head(host)
    assert not host["patch"].exists()


def test_a_checkout_that_did_not_move_gets_its_settings_back(host):
    """An earlier run set the settings aside and failed before the checkout moved."""
    run(aside(host))
    result = run(restored(host))
    assert result["changed"] and result["restored"] == [SCRIPT]
    assert script(host) == CONFIGURED and marked(host) == [SCRIPT]
    assert_index_is_head(host)


def test_a_configured_script_without_differences_leaves_an_empty_patch_that_is_only_removed(host):
    (host["dest"] / SCRIPT).write_text(UPSTREAM)
    result = run(aside(host))
    assert result["changed"] and result["files"] == [SCRIPT] and result["set_aside"] == []
    assert host["patch"].read_bytes() == b"" and marked(host) == []
    result = run(restored(host))
    assert not result["failed"], result
    assert result["changed"] and result["files"] == [] and result["restored"] == [] and result["kept_upstream"] == []
    assert not host["patch"].exists()
    assert script(host) == UPSTREAM and marked(host) == []


def test_without_a_patch_restore_changes_nothing(host):
    result = run(restored(host), diff=True)
    assert not result["failed"] and not result["changed"] and "diff" not in result
    assert result["files"] == result["restored"] == result["kept_upstream"] == []
    assert script(host) == CONFIGURED and marked(host) == [SCRIPT]


def test_no_files_to_set_aside_changes_nothing(host):
    result = run(aside(host, files=[]))
    assert not result["failed"] and not result["changed"]
    assert not host["patch"].exists() and marked(host) == [SCRIPT]


def test_check_mode_touches_nothing(host):
    result = run(aside(host), check_mode=True, diff=True)
    assert not result["failed"], result
    assert result["changed"] and result["set_aside"] == [SCRIPT]
    assert "+PRICE=7\n" in result["diff"]["after"]
    assert not host["patch"].exists()
    assert script(host) == CONFIGURED and marked(host) == [SCRIPT]
    assert git("status", "--porcelain", cwd=host["dest"]) == ""

    run(aside(host))
    upstream_commit(host, UPSTREAM.replace("PRICE=\n", "PRICE=1\n"))
    patch = host["patch"].read_text()
    result = run(restored(host), check_mode=True)
    assert result["changed"] and result["kept_upstream"] == [SCRIPT] and result["restored"] == []
    assert host["patch"].read_text() == patch and script(host) == UPSTREAM.replace("PRICE=\n", "PRICE=1\n")
    assert marked(host) == [] and git("status", "--porcelain", cwd=host["dest"]) == ""
    assert_index_is_head(host)


def test_check_mode_tells_a_three_way_apply_from_a_conflict(host):
    run(aside(host))
    # Changed next to the settings: a plain apply fails on its context, a three-way one succeeds.
    upstream_commit(host, UPSTREAM.replace("\ncd oracle_enclave", "\nset -e\ncd oracle_enclave"))
    assert subprocess.run(["git", "apply", "--check", str(host["patch"])], cwd=host["dest"],
                          capture_output=True, check=False).returncode != 0
    result = run(restored(host), check_mode=True)
    assert result["changed"] and result["restored"] == [SCRIPT] and result["kept_upstream"] == []
    assert host["patch"].exists() and marked(host) == []
    real = run(restored(host))
    assert real["restored"] == [SCRIPT] and "PRICE=7\n\nset -e\n" in script(host)


def test_a_folder_that_is_not_a_checkout_is_named(host, tmp_path):
    missing = run(restored(host, repo_dir=str(tmp_path / "nowhere")))
    assert missing["failed"] and missing["msg"] == "repo_dir: %s is not a folder" % (tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    result = run(aside(host, repo_dir=str(tmp_path / "plain")))
    assert result["failed"] and "git rev-parse" in result["msg"] and "not a git repository" in result["msg"]
    inside = run(aside(host, repo_dir=str(host["dest"] / "oracle_enclave")))
    assert inside["failed"] and inside["msg"].endswith("is inside a git checkout, not its top folder")
    assert script(host) == CONFIGURED and marked(host) == [SCRIPT]


def test_a_file_git_does_not_track_fails_with_gits_message(host):
    result = run(aside(host, files=[SCRIPT, "oracle_enclave/nothing.sh"]))
    assert result["failed"] and "clearing the skip-worktree mark" in result["msg"]
    assert "oracle_enclave/nothing.sh" in result["msg"]
    assert not host["patch"].exists() and script(host) == CONFIGURED


def test_a_patch_git_cannot_read_is_kept_and_named(host):
    host["patch"].write_text("not a patch\n")
    result = run(restored(host))
    assert result["failed"] and "remove it to go on" in result["msg"]
    assert host["patch"].read_text() == "not a patch\n" and marked(host) == [SCRIPT]


def test_names_outside_the_checkout_are_refused(host):
    result = run(aside(host, files=["../elsewhere", "/etc/passwd", SCRIPT]))
    assert result["failed"]
    assert result["msg"] == "files: '../elsewhere', '/etc/passwd' are not a path inside the checkout"


def test_a_script_upstream_removed_has_nothing_to_keep(host):
    run(aside(host))
    git("rm", "-q", SCRIPT, cwd=host["work"])
    git("commit", "-q", "-m", "remove the script", cwd=host["work"])
    git("fetch", "-q", "origin", cwd=host["dest"])
    git("checkout", "-q", "--detach", "origin/main", cwd=host["dest"])
    result = run(restored(host))
    assert not result["failed"], result
    assert result["changed"] and result["kept_upstream"] == [SCRIPT] and result["restored"] == []
    assert not (host["dest"] / SCRIPT).exists() and marked(host) == []
    assert git("status", "--porcelain", cwd=host["dest"]) == ""
    assert not host["patch"].exists()
