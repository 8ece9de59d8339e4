# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Set ``NAME=value`` assignments in a POSIX shell script, keeping every other line.

The provider guide asks operators to edit the settings at the top of the enclave's serve script
(``PROVIDER=``, ``REGISTRY=``, ``PRICE=``, ``NO_DEMAND_TIMEOUT=`` in ``serve_oracle.sh``). The script's
full text is not known, so this code treats it as an interface: it only touches top-level
assignments of the requested names and leaves every other byte alone.

Rules:

- A *top-level assignment* is a line that starts in column 0 with ``NAME=`` or ``export NAME=``.
  Indented assignments (inside ``if`` blocks or functions) are never touched.
- A name assigned at top level more than once is ambiguous: :func:`apply_settings` refuses it
  instead of guessing which assignment counts.
- The current value is the shell word right after ``=`` (quotes and backslashes resolved); a
  trailing ``# comment`` is kept when the value is rewritten.
- A line whose word already means the wanted value is left exactly as it is (its quoting style
  included), so re-running changes nothing.
- A line whose value is not one literal word (the provider guide's ``<---...-->`` placeholders,
  ``$(...)``, backquotes, ``${X}``, an unbalanced quote, a trailing ``; command``) is rewritten
  whole, ``NAME=value``, keeping a trailing comment only when it is outside every quote and
  substitution. A line continued with a backslash, or starting a here-document, is refused with its
  line number (rewriting it alone would leave the rest of the construct behind).
- New values are written unquoted when they contain only safe characters, else in single quotes.
- A name without a top-level assignment is an error, unless the caller lets it be appended (at the
  end of the leading block of assignments, see :func:`apply_settings`) or marks it optional (then it
  is skipped).
- Whether the result is valid shell is the caller's check (the module serve_settings runs ``sh -n``).

Public API: :func:`apply_settings`, :func:`find_assignments`, :func:`shell_quote`,
:func:`validate_name`, :func:`validate_value`, :class:`ServeScriptError` and :data:`NAME_RE`.
"""

import re

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+\Z")
_WORD_END = " \t;&|<>()"
_EXPANSION = "$`"


class ServeScriptError(Exception):
    """The script or a setting cannot be handled; the message says why and what to do."""


def validate_name(name):
    """Return ``name`` if it is a shell variable name, else raise :class:`ServeScriptError`."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ServeScriptError("%r is not a shell variable name (letters, digits and _, not starting with a digit)" % (name,))
    return name


def validate_value(name, value):
    """Return the text of a setting's value (int and bool allowed), or raise :class:`ServeScriptError`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ServeScriptError("%s: %r is a floating-point number; give the exact value as a string" % (name, value))
    if not isinstance(value, str):
        raise ServeScriptError("%s: the value must be a string or a whole number, got %s" % (name, type(value).__name__))
    if "\n" in value or "\r" in value or "\0" in value:
        raise ServeScriptError("%s: the value must be one line (it contains a line break or NUL)" % name)
    return value


def shell_quote(value):
    """The shell word for ``value``: as is when it only has safe characters, '' when empty, else single-quoted."""
    if value == "":
        return ""
    if _SAFE_RE.match(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _read_word(text):
    """Split ``text`` (what follows ``NAME=``) into (raw word, its value or None, rest).

    The value is None when the word needs expansion (``$``, backquotes) or is malformed
    (an unterminated quote): it cannot be the wanted literal value, so it is rewritten.
    """
    index = 0
    value = []
    literal = True
    length = len(text)
    while index < length:
        char = text[index]
        if char in _WORD_END:
            break
        if char == "'":
            end = text.find("'", index + 1)
            if end < 0:
                return text, None, ""
            value.append(text[index + 1:end])
            index = end + 1
            continue
        if char == '"':
            index += 1
            closed = False
            while index < length:
                char = text[index]
                if char == '"':
                    closed = True
                    index += 1
                    break
                if char == "\\" and index + 1 < length and text[index + 1] in '$`"\\':
                    value.append(text[index + 1])
                    index += 2
                    continue
                if char in _EXPANSION:
                    literal = False
                value.append(char)
                index += 1
            if not closed:
                return text, None, ""
            continue
        if char == "\\":
            if index + 1 < length:
                value.append(text[index + 1])
            index += 2
            continue
        if char in _EXPANSION:
            literal = False
        value.append(char)
        index += 1
    return text[:index], ("".join(value) if literal else None), text[index:]


_ASSIGNMENT_RE = re.compile(r"^(export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)


def _split_comment(text):
    """Split what follows ``NAME=`` into ``(code, comment, complete)``.

    ``comment`` is the text from the whitespace before an unquoted ``#`` that starts a word, outside
    any quote, backquote, ``$(...)`` or ``${...}``, to the end of the line (``""`` when there is none).
    ``complete`` is False when a quote, backquote or parenthesis is still open at the end of the line:
    the line cannot be read on its own, so no comment is separated from it.
    """
    index = 0
    length = len(text)
    stack = []  # the open constructs: "'", '"', "`", "(" or "{"
    while index < length:
        char = text[index]
        top = stack[-1] if stack else None
        if top == "'":
            if char == "'":
                stack.pop()
            index += 1
            continue
        if char == "\\":
            index += 2
            continue
        if top in ('"', "`") and char == top:
            stack.pop()
        elif top == "{" and char == "}":
            stack.pop()
        elif top == "(" and char == ")":
            stack.pop()
        elif char == "$" and index + 1 < length and text[index + 1] in "({":
            stack.append(text[index + 1])
            index += 1
        elif top != '"' and char == "'":
            stack.append("'")
        elif char in '"`':
            stack.append(char)
        elif top == "(" and char == "(":
            stack.append("(")
        elif not stack and char == "#" and index > 0 and text[index - 1] in " \t":
            start = index
            while start > 0 and text[start - 1] in " \t":
                start -= 1
            return text[:start], text[start:], True
        index += 1
    return text, "", not stack


def _continues(text):
    """Whether a line ends with an unescaped backslash (the shell joins it with the next line)."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def find_assignments(lines):
    """Map each name assigned at top level to the list of its line indexes (``lines`` without line ends)."""
    found = {}
    for index, line in enumerate(lines):
        match = _ASSIGNMENT_RE.match(line)
        if match:
            found.setdefault(match.group(2), []).append(index)
    return found


def _split_lines(text):
    """(lines without their ends, the line end used, whether the text ended with one)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    ends_with_newline = text.endswith(newline) or text == ""
    body = text[:-len(newline)] if text.endswith(newline) else text
    lines = body.split(newline) if body else []
    return lines, newline, ends_with_newline


def _leading_block_end(lines):
    """Where ``missing: append`` inserts: after the leading block of top-level assignments.

    The block is the run of single-line assignments (and comments) that follows the ``#!`` line and
    the header's comments and blank lines; it ends at the first blank line or command. Without such a
    block, the insertion point is before the script's first command. So an appended setting is never
    placed after a command (such as ``nitro-cli run-enclave``) that should have seen it.
    """
    position = 0
    while position < len(lines) and (not lines[position].strip() or lines[position].lstrip().startswith("#")):
        position += 1
    header_end = position
    while position < len(lines):
        line = lines[position]
        match = _ASSIGNMENT_RE.match(line)
        if match:
            code, comment, complete = _split_comment(match.group(3))
            if not complete or (not comment and _continues(code)) or "<<" in code:
                break
            position += 1
            header_end = position
        elif line.lstrip().startswith("#"):
            position += 1
        else:
            break
    return header_end


def apply_settings(text, settings, missing="fail", optional=None):
    """Return ``(new_text, report)`` with every setting of ``settings`` applied to the script ``text``.

    ``settings`` maps names to values (see :func:`validate_value`); the order of a ``dict`` is the
    order of appended lines. ``missing`` is ``fail`` or ``append``: what happens to a name without a
    top-level assignment. Names in ``optional`` are skipped when they have none, whatever ``missing``
    says. ``report`` maps every name to ``{"before": value or None, "after": value or None,
    "line": 1-based line number or None, "status": "unchanged" | "changed" | "appended" | "absent"}``
    (``before`` is None when the assignment is missing or needs expansion; ``after`` is None for an
    absent optional name). Appended names go after the leading block of assignments
    (:func:`_leading_block_end`), never after a command. Raises :class:`ServeScriptError` for bad
    names or values, ambiguous assignments, missing names (all of them in one message), and lines that
    cannot be rewritten safely (continued lines, here-documents: each with its line number).
    """
    if missing not in ("fail", "append"):
        raise ServeScriptError("missing must be fail or append, got %r" % (missing,))
    optional = set(optional or [])
    wanted = []
    for name, value in settings.items():
        wanted.append((validate_name(name), validate_value(name, value)))
    for name in optional:
        validate_name(name)

    lines, newline, ends_with_newline = _split_lines(text)
    assignments = find_assignments(lines)

    problems = []
    for name, dummy in wanted:
        indexes = assignments.get(name, [])
        if len(indexes) > 1:
            problems.append("%s is assigned %d times at top level (lines %s); refusing to guess which one counts: "
                            "leave one assignment in the script" % (name, len(indexes), ", ".join(str(i + 1) for i in indexes)))
    absent = [name for name, dummy in wanted if name not in assignments and name not in optional]
    if absent and missing == "fail":
        problems.append("no top-level assignment of %s (a line starting with NAME=) in the script; check the script "
                        "(an upstream change?) or let the missing settings be appended" % ", ".join(absent))
    if problems:
        raise ServeScriptError("; ".join(problems))

    report = {}
    appended = []
    refused = []
    for name, value in wanted:
        indexes = assignments.get(name)
        if not indexes:
            if name in optional:
                report[name] = {"before": None, "after": None, "line": None, "status": "absent"}
                continue
            appended.append((name, value))
            continue
        index = indexes[0]
        match = _ASSIGNMENT_RE.match(lines[index])
        code, comment, complete = _split_comment(match.group(3))
        if not comment and _continues(code) or "<<" in code:
            refused.append("line %d (%s) %s; edit that line by hand to a single NAME=value line" % (
                index + 1, name, "continues on the next line (a backslash at its end)" if "<<" not in code
                else "starts a here-document (<<)"))
            continue
        dummy, current, rest = _read_word(code)
        if not complete or rest.strip():
            # Not one shell word (the guide's placeholder, $(...), a trailing command, an open quote):
            # the whole line is rewritten, keeping only a comment that could be separated from it.
            current, rest = None, ""
            comment = comment if complete else ""
        entry = {"before": current, "after": value, "line": index + 1, "status": "unchanged"}
        if current != value:
            lines[index] = "%s%s=%s%s%s" % (match.group(1) or "", name, shell_quote(value), rest, comment)
            entry["status"] = "changed"
        report[name] = entry
    if refused:
        raise ServeScriptError("cannot rewrite safely: " + "; ".join(refused))

    if appended:
        position = _leading_block_end(lines)
        for offset, (name, value) in enumerate(appended):
            lines.insert(position + offset, "%s=%s" % (name, shell_quote(value)))
            report[name] = {"before": None, "after": value, "line": position + offset + 1, "status": "appended"}
        # Lines after the insertion point moved down.
        for name, entry in report.items():
            if entry["status"] in ("unchanged", "changed") and entry["line"] > position:
                entry["line"] += len(appended)

    new_text = newline.join(lines)
    if lines and (ends_with_newline or appended and not text):
        new_text += newline
    return new_text, report
