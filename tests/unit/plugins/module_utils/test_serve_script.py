"""module_utils/serve_script.py: NAME=value settings in a shell script, every other line kept."""

import subprocess

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils.serve_script import (
    ServeScriptError,
    apply_settings,
    find_assignments,
    shell_quote,
)

# The layout of the fixture's serve_oracle.sh (tests/fixtures/enclave-protocol), written out here.
SCRIPT = """#!/bin/sh
# Serve the oracle enclave. Edit these settings before serving:
PROVIDER=
REGISTRY=
PRICE=
NO_DEMAND_TIMEOUT=
MEMORY=11000
CPU_COUNT=2

cd "$(dirname "$0")" || exit 1
if [ -z "$PRICE" ]; then
    PRICE=1
fi
echo "$PROVIDER $REGISTRY $PRICE $NO_DEMAND_TIMEOUT $MEMORY $CPU_COUNT"
"""

ORACLE = {
    "PROVIDER": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "REGISTRY": "203.0.113.10",
    "PRICE": "2500000000000000000",
    "NO_DEMAND_TIMEOUT": "",
}


def shell_values(text, names):
    """What /bin/sh itself sees after the top-level assignments of ``text`` (independent of the parser under test)."""
    program = "\n".join(line for line in text.splitlines() if not line.startswith(("cd ", "echo ")))
    program += "\nprintf '%s\\n' " + " ".join('"${%s-UNSET}"' % name for name in names) + "\n"
    output = subprocess.run(["sh", "-c", program], check=True, capture_output=True, text=True).stdout
    return dict(zip(names, output.split("\n")))


def test_sets_the_oracle_settings_and_keeps_every_other_line():
    new, report = apply_settings(SCRIPT, ORACLE)
    old_lines, new_lines = SCRIPT.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert [new_lines[i].split("=")[0] for i in changed] == ["PROVIDER", "REGISTRY", "PRICE"]
    assert new.endswith("\n")
    assert shell_values(new, list(ORACLE)) == ORACLE
    assert report["PRICE"] == {"before": "", "after": ORACLE["PRICE"], "line": 5, "status": "changed"}
    assert report["NO_DEMAND_TIMEOUT"]["status"] == "unchanged"
    # The indented assignment inside the if block is not touched.
    assert "    PRICE=1" in new_lines


def test_idempotent():
    once, dummy = apply_settings(SCRIPT, ORACLE)
    twice, report = apply_settings(once, ORACLE)
    assert twice == once
    assert {entry["status"] for entry in report.values()} == {"unchanged"}


@pytest.mark.parametrize("line", ["PRICE='2500000000000000000'", 'PRICE="2500000000000000000"', "PRICE=250000000000000000\\0",
                                  "export PRICE=2500000000000000000", "PRICE=2500000000000000000  # wei"])
def test_an_equal_value_in_another_spelling_is_left_alone(line):
    text = SCRIPT.replace("PRICE=\n", line + "\n")
    new, report = apply_settings(text, {"PRICE": "2500000000000000000"})
    assert new == text
    assert report["PRICE"]["status"] == "unchanged"


def test_comment_and_export_are_kept_when_the_value_changes():
    text = SCRIPT.replace("PRICE=\n", "export PRICE=7  # wei, OPN x 10^18\n")
    new, dummy = apply_settings(text, {"PRICE": "8"})
    assert "export PRICE=8  # wei, OPN x 10^18\n" in new


def test_expansions_are_replaced_by_the_literal_value():
    text = SCRIPT.replace("REGISTRY=\n", 'REGISTRY="$REG"\n')
    new, report = apply_settings(text, {"REGISTRY": "203.0.113.10"})
    assert report["REGISTRY"]["before"] is None
    assert "REGISTRY=203.0.113.10\n" in new


@pytest.mark.parametrize("value", ["it's", "a b", "$HOME", "`id`", 'say "hi"', "x;y", "\\", "*", "~root"])
def test_values_that_need_quoting_reach_the_shell_unchanged(value):
    new, dummy = apply_settings(SCRIPT, {"PROVIDER": value})
    assert shell_values(new, ["PROVIDER"]) == {"PROVIDER": value}
    again, dummy = apply_settings(new, {"PROVIDER": value})
    assert again == new


def test_missing_names_fail_together_and_name_each_one():
    text = SCRIPT.replace("PRICE=\n", "").replace("REGISTRY=\n", "")
    with pytest.raises(ServeScriptError) as error:
        apply_settings(text, ORACLE)
    assert "REGISTRY, PRICE" in str(error.value)


def test_missing_names_are_appended_in_the_leading_assignment_block():
    text = SCRIPT.replace("NO_DEMAND_TIMEOUT=\n", "")
    new, report = apply_settings(text, ORACLE, missing="append")
    lines = new.splitlines()
    assert lines.index("NO_DEMAND_TIMEOUT=") == lines.index("CPU_COUNT=2") + 1
    assert report["NO_DEMAND_TIMEOUT"]["status"] == "appended"
    assert report["NO_DEMAND_TIMEOUT"]["line"] == lines.index("NO_DEMAND_TIMEOUT=") + 1
    assert apply_settings(new, ORACLE, missing="append")[0] == new


def test_append_after_the_shebang_when_there_is_no_assignment():
    new, dummy = apply_settings("#!/bin/sh\necho hi\n", {"A": "1"}, missing="append")
    assert new == "#!/bin/sh\nA=1\necho hi\n"


def test_optional_names_are_skipped_when_absent_and_set_when_present():
    text = SCRIPT.replace("CPU_COUNT=2\n", "")
    new, report = apply_settings(text, {"MEMORY": 12000, "CPU_COUNT": 4}, optional=["MEMORY", "CPU_COUNT"])
    assert "MEMORY=12000\n" in new
    assert "CPU_COUNT=" not in new
    assert report["CPU_COUNT"] == {"before": None, "after": None, "line": None, "status": "absent"}


def test_ambiguous_assignments_are_refused():
    text = SCRIPT + "PRICE=5\n"
    with pytest.raises(ServeScriptError) as error:
        apply_settings(text, {"PRICE": "1"})
    assert "assigned 2 times" in str(error.value)
    assert "lines 5, %d" % (len(SCRIPT.splitlines()) + 1) in str(error.value)


@pytest.mark.parametrize("name", ["1A", "A-B", "", "A B", "id\n", "PRICE\n", "A\r"])
def test_bad_names(name):
    for missing in ("fail", "append"):
        with pytest.raises(ServeScriptError, match="is not a shell variable name"):
            apply_settings(SCRIPT, {name: "1"}, missing=missing)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", 1.5])
def test_bad_values(value):
    with pytest.raises(ServeScriptError):
        apply_settings(SCRIPT, {"PRICE": value})


def test_crlf_and_missing_final_newline_are_kept():
    text = SCRIPT.replace("\n", "\r\n").rstrip("\r\n")
    new, dummy = apply_settings(text, {"PRICE": "3"})
    assert "PRICE=3\r\n" in new
    assert "\n" not in new.replace("\r\n", "")
    assert not new.endswith("\r\n")


def test_find_assignments_only_top_level():
    assert find_assignments(SCRIPT.splitlines())["PRICE"] == [4]


@pytest.mark.parametrize("value,expected", [("", ""), ("abc", "abc"), ("a b", "'a b'"), ("it's", "'it'\"'\"'s'")])
def test_shell_quote(value, expected):
    assert shell_quote(value) == expected


# The provider guide's own lines for serve_oracle.sh, verbatim (provider guide, "Before serving your enclave").
GUIDE_LINES = [
    "PROVIDER=<---the Ethereum address that should get your rewards-->",
    "REGISTRY=<---the IP of an existing registry--->",
    "PRICE=<---the amount of OPN * 10^18 that you demand users pay when submitting your results. --->",
    "NO_DEMAND_TIMEOUT=<---how long the oracle enclave should run before shutting down if no user arrives. "
    "leave empty to run forever-->",
]
GUIDE_SCRIPT = "#!/bin/sh\n" + "\n".join(GUIDE_LINES) + "\n\nnitro-cli run-enclave --eif-path oracle.eif\n"


def sh_n(text, tmp_path):
    """/bin/sh -n on ``text``: (exit status, message)."""
    path = tmp_path / "check.sh"
    path.write_text(text)
    result = subprocess.run(["/bin/sh", "-n", str(path)], capture_output=True, text=True, check=False)
    return result.returncode, result.stderr


def test_the_guides_script_is_not_valid_shell_as_shipped(tmp_path):
    assert sh_n(GUIDE_SCRIPT, tmp_path)[0] != 0


def test_the_guides_placeholder_lines_are_rewritten_whole(tmp_path):
    new, report = apply_settings(GUIDE_SCRIPT, ORACLE)
    lines = new.splitlines()
    assert lines[1:5] == ["PROVIDER=" + ORACLE["PROVIDER"], "REGISTRY=" + ORACLE["REGISTRY"], "PRICE=" + ORACLE["PRICE"],
                          "NO_DEMAND_TIMEOUT="]
    assert lines[5:] == GUIDE_SCRIPT.splitlines()[5:]
    assert sh_n(new, tmp_path) == (0, "")
    assert shell_values(new, list(ORACLE)) == ORACLE
    assert {name: entry["status"] for name, entry in report.items()} == dict.fromkeys(ORACLE, "changed")
    assert all(entry["before"] is None for entry in report.values())
    assert apply_settings(new, ORACLE)[0] == new


@pytest.mark.parametrize("line, rewritten", [
    ("PRICE=$(cat price.txt)", "PRICE=7"),
    ("PRICE=`cat price.txt`", "PRICE=7"),
    ("PRICE=${OTHER}", "PRICE=7"),
    ("PRICE=${OTHER:-5}0", "PRICE=7"),
    ('PRICE="5', "PRICE=7"),
    ("PRICE='5", "PRICE=7"),
    ("PRICE=5; rm -rf /tmp/x", "PRICE=7"),
    ("PRICE=5 && echo set", "PRICE=7"),
    ("PRICE=5 > /tmp/x", "PRICE=7"),
    ("PRICE=$(cat price.txt)  # wei", "PRICE=7  # wei"),
    ("export PRICE=$(cat price.txt) # wei", "export PRICE=7 # wei"),
    ("PRICE=$(cat 'price # file')  # wei", "PRICE=7  # wei"),
    ("PRICE='5 # it's unbalanced", "PRICE=7"),
    ("PRICE=<---the amount--->  # in wei", "PRICE=7  # in wei"),
    ("PRICE=5 # wei", "PRICE=7 # wei"),
])
def test_a_line_whose_value_is_not_one_word_is_rewritten_whole(tmp_path, line, rewritten):
    text = SCRIPT.replace("PRICE=\n", line + "\n")
    new, report = apply_settings(text, {"PRICE": "7"})
    assert new == text.replace(line + "\n", rewritten + "\n")
    assert report["PRICE"]["status"] == "changed" and report["PRICE"]["line"] == 5
    assert sh_n(new, tmp_path) == (0, "")
    assert shell_values(new, ["PRICE"]) == {"PRICE": "7"}


@pytest.mark.parametrize("line", [
    "PRICE=5 \\",
    "PRICE=$(cat <<EOF",
    "PRICE=\"$(cat <<'EOF'",
])
def test_a_line_that_cannot_be_rewritten_safely_is_refused_with_its_number(line):
    text = SCRIPT.replace("PRICE=\n", line + "\n")
    with pytest.raises(ServeScriptError) as error:
        apply_settings(text, {"PRICE": "7"})
    assert "line 5" in str(error.value)
    assert "PRICE" in str(error.value)


def test_a_continued_line_is_refused_even_when_the_value_would_not_change():
    text = SCRIPT.replace("PRICE=\n", "PRICE=7 \\\n  OTHER=1\n")
    with pytest.raises(ServeScriptError, match="line 5"):
        apply_settings(text, {"PRICE": "7"})


def test_append_never_goes_after_a_command():
    text = ("#!/bin/sh\n# settings\nPROVIDER=\nPRICE=\n\nnitro-cli run-enclave --eif-path oracle.eif\n"
            "STATUS=started\necho \"$STATUS\"\n")
    new, report = apply_settings(text, {"REGISTRY": "203.0.113.10"}, missing="append")
    lines = new.splitlines()
    assert lines.index("REGISTRY=203.0.113.10") == lines.index("PRICE=") + 1
    assert lines.index("REGISTRY=203.0.113.10") < lines.index("nitro-cli run-enclave --eif-path oracle.eif")
    assert report["REGISTRY"]["line"] == 5


def test_append_after_the_header_comments_when_the_script_starts_with_a_command():
    text = "#!/bin/sh\n# header\n\ncd /opt || exit 1\nLATE=1\n"
    new, dummy = apply_settings(text, {"A": "1"}, missing="append")
    assert new == "#!/bin/sh\n# header\n\nA=1\ncd /opt || exit 1\nLATE=1\n"
