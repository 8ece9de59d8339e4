# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Validate and normalise the inputs of Open Contracts oracles and registries (issue #6).

The provider guide asks the operator to edit four variables of ``serve_oracle.sh``:
PROVIDER, REGISTRY, PRICE and NO_DEMAND_TIMEOUT. This module checks what an inventory
gives for them (and for the enclave's memory and CPUs, a registry's sizing, and the
playbooks' rollout settings) on the controller, before any task touches a host, and
turns each into the one form the oracle expects. Everything
here is a pure function over plain values, used by the filters and the fleet report
on the controller; nothing outside the standard library is imported at module level.

The rules, and why
==================

PROVIDER (:func:`to_checksum_address`): the Ethereum address that receives the rewards.

* A string ``0x`` followed by exactly 40 hexadecimal digits; surrounding whitespace is
  ignored. ``0X``, a missing prefix, another length or a non-hex character is refused.
* All-lowercase and all-uppercase digits carry no checksum and are accepted.
* Mixed case IS an EIP-55 checksum and must match it exactly. A mismatch is refused and
  the message deliberately does NOT show the correctly checksummed form of the value:
  a mismatch almost always means a mistyped or truncated address, and printing "did
  you mean ..." would invite the operator to paste a checksummed version of the typo,
  sending every reward to an address nobody holds the key for. The operator must copy
  the address again from the wallet.
* The result is the EIP-55 checksummed form (Keccak-256 over the lowercase hex digits).
  Keccak-256 comes from the maintained library pycryptodome (``Crypto.Hash.keccak``,
  or ``Cryptodome.Hash.keccak`` from pycryptodomex), imported only when needed;
  :class:`MissingKeccakLibrary` names the package when neither is installed. Note:
  Keccak-256 is not the standardised SHA3-256 of ``hashlib``; the two differ in padding.
* An integer is refused: YAML and INI inventories read an unquoted ``0x5aAe...`` as a
  hexadecimal number, which has lost the letter case (the checksum) and any leading
  zeros, so the operator is told to quote it.
* :func:`validate_oracle_host` also refuses the zero address as PROVIDER (rewards sent
  there are burned; it is a placeholder, not a choice). The generic
  :func:`to_checksum_address` accepts it, since it is a well-formed address.

PRICE (:func:`parse_price`): what a user pays, in wei (1 OPN = 10**18 wei, OPN has 18
decimals). The result is an int, exact, with no binary floating point anywhere.

* An int (not a bool) >= 0 is a number of wei.
* A string of ASCII digits is a number of wei (what the guide asks to type).
* A string ``"<digits>[.<digits>] OPN"`` is an OPN amount: the unit is
  case-insensitive, whitespace before it optional, at most 18 digits after the point
  (one wei is ``0.000000000000000001 OPN``; a 19th decimal place is refused even when
  it is a zero, so the rule is the same for every value: at most 18 written). The
  conversion splits the decimal digits and computes ``whole * 10**18 + fraction`` in
  integer arithmetic (``decimal.Decimal`` with its default 28-digit context would round
  amounts above 10**10 OPN with 18 decimals, so it is not used for the scaling).
* Every float is refused, including 2.5 and 3.0. YAML reads an unquoted ``price: 2.5``
  as a float: the operator almost surely meant 2.5 OPN, but a bare number means wei in
  the guide's format, and a float has already lost the exact decimal digits of most
  amounts (0.1 is 0.1000000000000000055...). Refusing every float gives one rule with
  no guessing; the message shows how to write the value (``"2.5 OPN"`` in quotes).
* Refused: bools, negative amounts, NaN, infinity, exponent notation (``1e18``, which
  YAML keeps as a string: is it 10**18 wei or 10**18 OPN?), a decimal point without the
  OPN unit (``"2.5"``: wei cannot be split), signs, separators, other units, and
  amounts above 2**256 - 1 wei (the largest uint256 the protocol's contracts can hold).
* Zero is accepted: it is a valid amount in the protocol's format, a free oracle is a
  legitimate if unusual choice (every user is then forwarded to it), and a forgotten
  price cannot become 0 by accident as long as the role gives ``oracle_service_price``
  no default. The fleet report shows the price of every host.

REGISTRY (:func:`parse_registry`): the IP address of a registry, IPv4 or IPv6, as text;
returned in the normalised form of :mod:`ipaddress` (IPv6 compressed and lowercase).
Host names are refused (the oracle takes an IP; resolving it on the controller would
pin whatever the resolver answers today), as are brackets, ports, networks, integers,
IPv6 zone IDs (``fe80::1%eth0``: Python accepts any text after ``%``, and a registry the
fleet shares is not link-local), the unspecified addresses (``0.0.0.0``, ``::``) and
multicast addresses. Loopback is accepted (a registry on the same machine, in test
set-ups). The role writes the normalised form (:func:`oracle_serve_settings`), never
the inventory's text.

NO_DEMAND_TIMEOUT (:func:`parse_no_demand_timeout`): ``""`` (run forever) for None or
an empty or blank string; otherwise a positive whole number of seconds, given as an int
or a string of ASCII digits, at most :data:`MAX_NO_DEMAND_TIMEOUT` (31 days; a longer
wait is a typo rather than a choice, and "forever" is the empty value). The result is
the int, so ``"0012"`` is written as ``12``. Zero (ambiguous: "never wait" or
"forever"?), negative numbers, floats, bools and units such as ``"1h"`` are refused.

Extra settings (:func:`check_extra_settings`): ``oracle_service_extra_settings`` and
``registry_service_extra_settings`` add ``NAME=value`` lines. Names must be shell names,
values one-line strings or whole numbers, and the names a role writes from a validated
variable (:data:`RESERVED_SETTINGS`: PROVIDER, REGISTRY, PRICE, NO_DEMAND_TIMEOUT, MEMORY
and CPU_COUNT for an oracle; MEMORY and CPU_COUNT for a registry) are refused, so an
extra setting can neither bypass a rule above nor be silently replaced.

The serve script's settings (:func:`oracle_serve_settings`): what the role oracle_service
writes, each value normalised by the rules above, then the extra settings.

Enclave resources (:func:`check_enclave_resources`): the enclave's memory (MiB) and CPU
count must be positive whole numbers no larger than what the Nitro Enclaves allocator
reserves, and, once the image's size is known, the memory must be at least four times
the EIF's size (what nitro-cli requires to boot it). Missing values are problems too.
At most one message is given per variable (the size check is skipped when the memory
already does not fit the allocator). Whether the CPU count must be a
multiple of the threads per core (SMT siblings) is left to the allocator and nitro-cli:
only the host knows its topology, and the allocator itself refuses a CPU pool that
does not consist of whole cores.

The allocator's CPU pool (:func:`allocator_pool_cpus`): ``host_prep_allocator_cpu_pool``, when set,
replaces ``host_prep_allocator_cpu_count`` as the number of CPUs the allocator reserves, so the
enclave's CPU count is compared with the pool's CPUs. A pool is a CPU list as the role host_prep and
the allocator accept it: CPU numbers and ascending ranges separated by commas, without spaces
(``1,9``, ``2-3,10-11``), each CPU at most once, none above 8191 (Linux's largest CPU number; checked
before any range is counted). Empty (or null, false, 0) means no pool. A pool that
is not such a list is one problem of its own, and the enclave's CPUs are then not compared with
anything (what the allocator would reserve is unknown).

Debug mode (:func:`parse_debug_mode`): ``oracle_service_debug_mode`` omitted means off.
Only the boolean ``true`` (or the string ``"true"`` in any case, which is what an INI
inventory's ``true`` becomes) selects debug mode; ``false``/``"false"`` mean off; every
other value (``"yes"``, ``1``, ``"on"``) is refused, so debug mode is never switched on
by a value that merely looks true. A debug-mode enclave attests with all-zero
PCRs and the registry rejects it, so :func:`validate_oracle_host` adds a warning to the
normalised values for the report to show.

Kinds of hosts (:func:`validate_host`): an ``oracle`` host is checked with every rule above. A
``registry`` host has no provider, registry address or price: only the sizing and debug-mode rules
apply, to ``registry_service_enclave_memory_mib``, ``registry_service_enclave_cpu_count`` and
``registry_service_debug_mode``, and the messages name those variables. A variable the host does not
define can be taken from defaults (the roles' defaults, which a play that does not apply the roles
does not see).

Rollout settings (:func:`check_rollout_settings`): the playbooks oracle.yml and registry.yml roll out
in batches. ``<kind>_rollout_batch`` (the play's ``serial``) is a positive whole number of hosts, a
percentage of the group from 1% to 100%, or a list of them; zero (which Ansible reads as "every host
at once"), booleans and floats are refused. ``<kind>_rollout_max_fail_percentage`` is a whole number
from 0 to 100. Values are shown in messages as JSON (``"0%"``, ``150``), as the operator wrote them.

Public API: :func:`to_checksum_address`, :func:`parse_price`, :func:`format_opn`,
:func:`parse_registry`, :func:`parse_no_demand_timeout`, :func:`parse_debug_mode`, :func:`check_enclave_resources`,
:func:`check_extra_settings`, :func:`oracle_serve_settings`,
:func:`allocator_pool_cpus`, :func:`validate_host`, :func:`validate_hosts`, :func:`validate_oracle_host`,
:func:`validate_oracle_hosts`, :func:`check_rollout_settings`, :func:`validate_rollout_hosts`, the exceptions
:class:`OracleInputError` and :class:`MissingKeccakLibrary`, and the constants
:data:`WEI_PER_OPN`, :data:`MAX_UINT256`, :data:`MAX_NO_DEMAND_TIMEOUT`, :data:`ORACLE_VARIABLES`,
:data:`REGISTRY_VARIABLES`, :data:`KINDS`, :data:`RESERVED_SETTINGS`.
"""

import ipaddress
import json
import re
import sys

from collections.abc import Mapping, Sequence

from ansible_collections.opencontracts.enclave.plugins.module_utils.allocator import (
    MAX_CPUS,
    AllocatorConfigError,
    CpuListBeyondError,
    cpulist_ranges,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import WEI_PER_OPN, opn_text

OPN_DECIMALS = 18
MAX_UINT256 = 2 ** 256 - 1
ZERO_ADDRESS = "0x" + "0" * 40
# The longest NO_DEMAND_TIMEOUT accepted: 31 days, in seconds. A longer wait is a mistake rather than a
# choice (an empty value runs forever).
MAX_NO_DEMAND_TIMEOUT = 31 * 24 * 60 * 60

# The variables validate_oracle_host reads, in the order its messages are listed.
VAR_PROVIDER = "oracle_service_provider"
VAR_REGISTRY = "oracle_service_registry"
VAR_PRICE = "oracle_service_price"
VAR_TIMEOUT = "oracle_service_no_demand_timeout"
VAR_MEMORY = "oracle_service_enclave_memory_mib"
VAR_CPUS = "oracle_service_enclave_cpu_count"
VAR_DEBUG = "oracle_service_debug_mode"
VAR_ALLOCATOR_MEMORY = "host_prep_allocator_memory_mib"
VAR_ALLOCATOR_CPUS = "host_prep_allocator_cpu_count"
VAR_ALLOCATOR_POOL = "host_prep_allocator_cpu_pool"
VAR_EXTRA = "oracle_service_extra_settings"
ORACLE_VARIABLES = (
    VAR_PROVIDER, VAR_REGISTRY, VAR_PRICE, VAR_TIMEOUT, VAR_MEMORY, VAR_CPUS, VAR_DEBUG,
    VAR_ALLOCATOR_MEMORY, VAR_ALLOCATOR_CPUS, VAR_EXTRA,
)

# The variables validate_host reads for a registry host (kind "registry").
VAR_REGISTRY_MEMORY = "registry_service_enclave_memory_mib"
VAR_REGISTRY_CPUS = "registry_service_enclave_cpu_count"
VAR_REGISTRY_DEBUG = "registry_service_debug_mode"
VAR_REGISTRY_EXTRA = "registry_service_extra_settings"
REGISTRY_VARIABLES = (VAR_REGISTRY_MEMORY, VAR_REGISTRY_CPUS, VAR_REGISTRY_DEBUG, VAR_ALLOCATOR_MEMORY, VAR_ALLOCATOR_CPUS,
                      VAR_REGISTRY_EXTRA)

# What validate_host checks per kind of host: its own variables, and what its enclave's memory, CPU
# count and debug mode are called (the allocator's variables are host_prep's for every kind).
KINDS = {
    "oracle": {"variables": ORACLE_VARIABLES, "memory": VAR_MEMORY, "cpus": VAR_CPUS, "debug": VAR_DEBUG,
               "extra": VAR_EXTRA},
    "registry": {"variables": REGISTRY_VARIABLES, "memory": VAR_REGISTRY_MEMORY, "cpus": VAR_REGISTRY_CPUS,
                 "debug": VAR_REGISTRY_DEBUG, "extra": VAR_REGISTRY_EXTRA},
}

# The serve script's settings each kind's role writes from a validated variable: an extra setting may
# not override them (it would bypass the validation, or be silently replaced).
RESERVED_SETTINGS = {
    "oracle": {"PROVIDER": VAR_PROVIDER, "REGISTRY": VAR_REGISTRY, "PRICE": VAR_PRICE,
               "NO_DEMAND_TIMEOUT": VAR_TIMEOUT, "MEMORY": VAR_MEMORY, "CPU_COUNT": VAR_CPUS},
    "registry": {"MEMORY": VAR_REGISTRY_MEMORY, "CPU_COUNT": VAR_REGISTRY_CPUS},
}

KECCAK_PACKAGE = "pycryptodome"

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DIGITS_RE = re.compile(r"[0-9]+\Z", re.ASCII)
_OPN_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?\s*opn\Z", re.ASCII | re.IGNORECASE)
_DECIMAL_RE = re.compile(r"(?:[0-9]+\.[0-9]*|\.[0-9]+)\Z", re.ASCII)
_EXPONENT_RE = re.compile(r"[0-9]*\.?[0-9]*e[+-]?[0-9]+(?:\s*opn)?\Z", re.ASCII | re.IGNORECASE)
_CPU_LIST_RE = re.compile(r"[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*\Z", re.ASCII)
_SHELL_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
_NON_FINITE_RE = re.compile(r"[+-]?(?:nan|inf|infinity)(?:\s*opn)?\Z", re.ASCII | re.IGNORECASE)

_PRICE_FORMS = ("write a whole number of wei (OPN x 10^18, e.g. 2500000000000000000) "
                "or an OPN amount in quotes with its unit, e.g. \"2.5 OPN\"")


# Longer digit strings are refused before int() (2**256 has 78 digits; Python limits int() to 4300).
_MAX_DIGITS = 100


class OracleInputError(ValueError):
    """A value that is not acceptable; the message explains why and what to write instead."""


class MissingKeccakLibrary(ImportError):
    """Keccak-256 (for EIP-55 checksums) needs a library that is not installed."""


def _show(value, limit=80):
    """A short, plain rendering of an operator's value for a message."""
    if isinstance(value, bool):
        text = repr(bool(value))
    elif isinstance(value, int):
        text = repr(int(value))
    elif isinstance(value, float):
        text = repr(float(value))
    elif isinstance(value, str):
        text = repr(str(value))
    elif type(value).__name__.endswith("Marker"):
        # ansible-core 2.19 hands a template that failed (a lookup of a missing file, an undefined variable)
        # to filters as a marker object instead of failing the task.
        text = "a template that could not be evaluated (see the variable's definition)"
    else:
        text = "a value of type %s" % type(value).__name__
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


def _load_keccak():
    """The ``new`` function of a Keccak hash module, imported on first use."""
    try:
        from Crypto.Hash import keccak  # pylint: disable=import-outside-toplevel
        return keccak.new
    except ImportError:
        pass
    try:
        from Cryptodome.Hash import keccak  # pylint: disable=import-outside-toplevel
        return keccak.new
    except ImportError:
        pass
    raise MissingKeccakLibrary(
        "checking Ethereum addresses (EIP-55) needs Keccak-256 from the Python package %s, which is not "
        "installed for %s on the Ansible controller: install it with `%s -m pip install %s` "
        "(pycryptodomex works too)" % (KECCAK_PACKAGE, sys.executable, sys.executable, KECCAK_PACKAGE))


def keccak256_hex(data):
    """Hex Keccak-256 (the pre-standard SHA-3 Ethereum uses) of ``data`` (bytes)."""
    new = _load_keccak()
    return new(digest_bits=256, data=data).hexdigest()


def _checksum_form(hex_digits_lower):
    """EIP-55: upper-case each letter whose nibble in keccak256(lowercase hex) is >= 8."""
    digest = keccak256_hex(hex_digits_lower.encode("ascii"))
    return "0x" + "".join(
        char.upper() if char.isalpha() and int(digest[index], 16) >= 8 else char
        for index, char in enumerate(hex_digits_lower)
    )


def to_checksum_address(value):
    """Return the EIP-55 checksummed form of an Ethereum address, or raise OracleInputError.

    Lowercase and uppercase addresses are accepted and checksummed; a mixed-case address
    must already carry a correct checksum. The correct form of a mismatching address is
    never shown (see the module documentation). Raises MissingKeccakLibrary when no
    Keccak-256 implementation is installed.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise OracleInputError("must be an Ethereum address as a string, 0x followed by 40 hex digits; got %s" % _show(value))
    if isinstance(value, int):
        raise OracleInputError(
            "was read as a number, not as text: YAML and INI inventories turn an unquoted 0x... into a "
            "hexadecimal number, losing its letter case (the checksum); put the address in quotes")
    text = value.strip()
    if not text:
        raise OracleInputError("is empty; give the Ethereum address, 0x followed by 40 hex digits")
    if text[:2] != "0x":
        if text[:2] == "0X":
            raise OracleInputError("%s must start with a lowercase 0x" % _show(text))
        raise OracleInputError("%s must start with 0x, followed by 40 hex digits" % _show(text))
    digits = text[2:]
    bad = sorted(set(char for char in digits if char not in _HEX_DIGITS))
    if bad:
        raise OracleInputError("%s contains characters that are not hex digits: %s" % (_show(text), ", ".join(repr(char) for char in bad)))
    if len(digits) != 40:
        raise OracleInputError("%s has %d hex digits after 0x; an Ethereum address has exactly 40" % (_show(text), len(digits)))
    checksummed = _checksum_form(digits.lower())
    if digits in (digits.lower(), digits.upper()):
        return checksummed
    if text != checksummed:
        raise OracleInputError(
            "%s mixes upper and lower case, so it carries an EIP-55 checksum, and the checksum does not match: "
            "the address is probably mistyped or truncated. Copy it again from the wallet; a wrong checksum is "
            "never corrected, since a corrected typo would send rewards to an address nobody controls" % _show(text))
    return checksummed


def _int_from_digits(text):
    """int() of a string of ASCII digits, refusing absurdly long ones."""
    if len(text) > _MAX_DIGITS:
        raise OracleInputError("has %d digits, far too many for any amount or count" % len(text))
    return int(text)


def _wei_from_int(value):
    if value < 0:
        raise OracleInputError("must not be negative; got %s: %s" % (_show(value), _PRICE_FORMS))
    if value > MAX_UINT256:
        raise OracleInputError("is larger than the largest amount the protocol can hold (2^256 - 1 wei); got %s" % _show(value))
    return int(value)


def _float_message(value):
    text = repr(float(value))
    if re.match(r"[0-9]+\.[0-9]+\Z", text):
        hint = "write it in quotes with its unit, \"%s OPN\", if you mean OPN" % text.rstrip("0").rstrip(".")
    else:
        hint = _PRICE_FORMS
    return ("is the floating-point number %s (YAML reads an unquoted decimal number as one); floats are not accepted "
            "because they cannot hold most amounts exactly and a bare number means wei: %s" % (text, hint))


def parse_price(value):
    """Return a PRICE as an int number of wei, or raise OracleInputError (rules in the module documentation)."""
    if isinstance(value, bool):
        raise OracleInputError("must be an amount, not a boolean; " + _PRICE_FORMS)
    if isinstance(value, int):
        return _wei_from_int(value)
    if isinstance(value, float):
        raise OracleInputError(_float_message(value))
    if not isinstance(value, str):
        raise OracleInputError("must be an amount; got %s: %s" % (_show(value), _PRICE_FORMS))
    text = value.strip()
    if not text:
        raise OracleInputError("is empty; " + _PRICE_FORMS)
    if _DIGITS_RE.match(text):
        return _wei_from_int(_int_from_digits(text))
    match = _OPN_RE.match(text)
    if match:
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > OPN_DECIMALS:
            raise OracleInputError(
                "%s has %d decimal places; OPN has 18 decimals, so at most 18 are possible "
                "(0.000000000000000001 OPN is 1 wei, the smallest amount)" % (_show(text), len(fraction)))
        return _wei_from_int(_int_from_digits(whole) * WEI_PER_OPN + int(fraction.ljust(OPN_DECIMALS, "0")))
    if text.startswith("-"):
        raise OracleInputError("must not be negative; got %s: %s" % (_show(text), _PRICE_FORMS))
    if _NON_FINITE_RE.match(text):
        raise OracleInputError("%s is not an amount; %s" % (_show(text), _PRICE_FORMS))
    if _EXPONENT_RE.match(text):
        raise OracleInputError(
            "%s uses exponent notation, which is not accepted (is it wei or OPN?); %s" % (_show(text), _PRICE_FORMS))
    if _DECIMAL_RE.match(text):
        raise OracleInputError(
            "%s has a decimal point but no unit; a bare number is a whole number of wei, the smallest unit. "
            "For OPN write the unit: \"%s OPN\"" % (_show(text), text))
    raise OracleInputError("%s is not an amount; %s" % (_show(text), _PRICE_FORMS))


def format_opn(wei):
    """Render a whole number of wei (int or string of digits) as an exact OPN amount: 2.5 OPN, 0 OPN."""
    if isinstance(wei, bool) or not isinstance(wei, (int, str)):
        raise OracleInputError("must be a whole number of wei; got %s" % _show(wei))
    if isinstance(wei, str):
        text = wei.strip()
        if not _DIGITS_RE.match(text):
            raise OracleInputError("must be a whole number of wei (digits only); got %s" % _show(wei))
        wei = _int_from_digits(text)
    if wei < 0:
        raise OracleInputError("must not be negative; got %s" % _show(wei))
    return opn_text(wei)


def parse_registry(value):
    """Return a registry's IP address (IPv4 or IPv6) in normalised text form, or raise OracleInputError."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise OracleInputError("must be the registry's IP address as text, e.g. 203.0.113.10 or 2001:db8::10; got %s" % _show(value))
    text = value.strip()
    if not text:
        raise OracleInputError("is empty; give the IP address of an existing registry")
    if "%" in text:
        # Python 3.9+ accepts "fe80::1%<any text>" (an IPv6 scope); a zone only means something for a
        # link-local address on one host's interface, which a registry the fleet shares is not.
        raise OracleInputError(
            "%s has a zone ID (the text after %%): a registry is not link-local; give its global IPv6 or its "
            "IPv4 address alone" % _show(text))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if re.match(r"[0-9.]+\Z", text) and any(len(part) > 1 and part.startswith("0") for part in text.split(".")):
        address = None  # leading zeros: octal to some tools, decimal to others (Python < 3.9.5 accepted them)
    if address is None:
        if text.startswith("[") or "/" in text or re.match(r"[0-9.]+:[0-9]+\Z", text):
            raise OracleInputError(
                "%s is not a plain IP address: give the address alone, without brackets, port or prefix length" % _show(text))
        if re.match(r"[0-9.]+\Z", text):
            raise OracleInputError("%s is not a valid IPv4 address (four numbers 0-255, without leading zeros)" % _show(text))
        raise OracleInputError(
            "%s is not an IP address; the oracle needs the registry's IPv4 or IPv6 address, not a host name "
            "(resolve the name and give the address)" % _show(text))
    if address.is_unspecified or address.is_multicast:
        raise OracleInputError("%s cannot be a registry's address (unspecified or multicast)" % _show(text))
    return str(address)


def parse_no_demand_timeout(value):
    """Return NO_DEMAND_TIMEOUT: "" (run forever) or a positive int of seconds, or raise OracleInputError."""
    hint = "leave it empty or omit it to run forever, or give a positive whole number of seconds, e.g. 3600"
    if value is None:
        return ""
    if isinstance(value, bool):
        raise OracleInputError("must not be a boolean; " + hint)
    if isinstance(value, float):
        raise OracleInputError("is the floating-point number %s; %s" % (_show(value), hint))
    too_long = "is longer than the oracle may wait, at most %d seconds (31 days); %s" % (MAX_NO_DEMAND_TIMEOUT, hint)
    text = None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return ""
        if not _DIGITS_RE.match(text):
            if text.startswith("-") and _DIGITS_RE.match(text[1:]):
                raise OracleInputError("must not be negative; got %s: %s" % (_show(text), hint))
            raise OracleInputError("%s is not a whole number of seconds; %s" % (_show(text), hint))
        if len(text.lstrip("0")) > len(str(MAX_NO_DEMAND_TIMEOUT)):
            raise OracleInputError("%s %s" % (_show(text), too_long))
        value = int(text.lstrip("0") or "0")
    elif not isinstance(value, int):
        raise OracleInputError("must be a whole number of seconds; got %s: %s" % (_show(value), hint))
    if value < 0:
        raise OracleInputError("must not be negative; got %s: %s" % (_show(value), hint))
    if value == 0:
        raise OracleInputError("0 is not a timeout; " + hint)
    if value > MAX_NO_DEMAND_TIMEOUT:
        # As the operator wrote it (leading zeros included), so that they recognise their value.
        raise OracleInputError("%s %s" % (_show(text if isinstance(text, str) else value), too_long))
    return int(value)


def check_extra_settings(value, kind="oracle"):
    """Return a role's extra settings (``<kind>_service_extra_settings``) as a dict, or raise OracleInputError.

    None means none. A mapping of shell variable names to strings or whole numbers (bools pass, as
    the module serve_settings writes them), each value one line. The names of
    :data:`RESERVED_SETTINGS` for the kind are refused, naming the variable that sets each.
    """
    _check_kind(kind)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OracleInputError("must be a mapping of NAME to value; got %s" % _show(value))
    problems = []
    reserved = RESERVED_SETTINGS[kind]
    for name, setting in value.items():
        if not isinstance(name, str) or not _SHELL_NAME_RE.match(name):
            problems.append("%s is not a shell variable name (letters, digits and _, not starting with a digit)" % _show(name))
        elif name in reserved:
            problems.append("%s is set by %s, which is validated; set that variable instead" % (name, reserved[name]))
        elif isinstance(setting, float) or not isinstance(setting, (str, int)):
            problems.append("%s: the value must be a string or a whole number; got %s" % (name, _show(setting)))
        elif isinstance(setting, str) and ("\n" in setting or "\r" in setting or "\0" in setting):
            problems.append("%s: the value must be one line (it contains a line break or NUL)" % name)
    if problems:
        raise OracleInputError("; ".join(problems))
    return dict(value)


def oracle_serve_settings(values):
    """Return the settings an oracle's serve script gets, normalised, or raise OracleInputError.

    ``values`` maps oracle_service_provider, oracle_service_registry, oracle_service_price,
    oracle_service_no_demand_timeout and (optional) oracle_service_extra_settings to the host's values.
    The result maps PROVIDER (EIP-55 form), REGISTRY (the address as :func:`parse_registry` returns it),
    PRICE (wei, as text) and NO_DEMAND_TIMEOUT (``""`` or the seconds as text, ``0012`` -> ``12``) to
    the text written into the script, followed by the extra settings. Every bad value is named in one
    error, "<variable>: <why>", separated by "; ". Raises MissingKeccakLibrary as
    :func:`to_checksum_address` does.
    """
    if not isinstance(values, Mapping):
        raise OracleInputError("expects a mapping of variable name to value; got %s" % _show(values))
    settings = {}
    problems = []
    for key, variable, parser in (("PROVIDER", VAR_PROVIDER, to_checksum_address), ("REGISTRY", VAR_REGISTRY, parse_registry),
                                  ("PRICE", VAR_PRICE, parse_price), ("NO_DEMAND_TIMEOUT", VAR_TIMEOUT, parse_no_demand_timeout)):
        try:
            settings[key] = str(parser(values.get(variable)))
        except OracleInputError as error:
            problems.append("%s: %s" % (variable, error))
    if settings.get("PROVIDER") == ZERO_ADDRESS:
        problems.append("%s: is the zero address, which nobody controls: rewards sent there are lost" % VAR_PROVIDER)
    try:
        extra = check_extra_settings(values.get(VAR_EXTRA), kind="oracle")
    except OracleInputError as error:
        problems.append("%s: %s" % (VAR_EXTRA, error))
    else:
        settings.update(extra)
    if problems:
        raise OracleInputError("; ".join(problems))
    return settings


def _positive_int(value, what):
    """An int > 0 from an int or a string of digits, or raise OracleInputError."""
    if isinstance(value, str) and _DIGITS_RE.match(value.strip()):
        value = _int_from_digits(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise OracleInputError("must be a positive whole number of %s; got %s" % (what, _show(value)))
    if value <= 0:
        raise OracleInputError("must be a positive whole number of %s; got %s" % (what, _show(value)))
    return int(value)


DEFAULT_RESOURCE_NAMES = {
    "memory": VAR_MEMORY,
    "cpus": VAR_CPUS,
    "allocator_memory": VAR_ALLOCATOR_MEMORY,
    "allocator_cpus": VAR_ALLOCATOR_CPUS,
}

# Stands for an allocator value that is not known (a CPU pool that is not a CPU list, reported on its
# own): it is neither checked nor compared.
_UNKNOWN = object()


def _mib_needed(eif_size):
    """The least whole MiB that is at least four times eif_size bytes."""
    return -(-4 * eif_size // (1 << 20))


def check_enclave_resources(memory_mib, cpu_count, allocator_memory_mib, allocator_cpu_count, eif_size=None, names=None):
    """Return the problems (a list of "<variable>: <message>" strings) of an enclave's memory and CPUs.

    ``memory_mib``/``cpu_count`` are the enclave's, ``allocator_*`` what the Nitro Enclaves allocator
    reserves, ``eif_size`` the image's size in bytes when known (None skips that check). ``names``
    maps the keys memory, cpus, allocator_memory and allocator_cpus to the variable names used in
    the messages (default: the oracle_service and host_prep variables).
    """
    label = dict(DEFAULT_RESOURCE_NAMES)
    label.update(names or {})
    problems = []
    checked = {}
    for key, value, what in (("memory", memory_mib, "MiB"), ("cpus", cpu_count, "CPUs"),
                             ("allocator_memory", allocator_memory_mib, "MiB"), ("allocator_cpus", allocator_cpu_count, "CPUs")):
        if value is _UNKNOWN:
            continue
        if value is None:
            problems.append("%s: is not set" % label[key])
            continue
        try:
            checked[key] = _positive_int(value, what)
        except OracleInputError as error:
            problems.append("%s: %s" % (label[key], error))
    if "memory" in checked and "allocator_memory" in checked and checked["memory"] > checked["allocator_memory"]:
        problems.append("%s: the enclave's %d MiB do not fit in the %d MiB the allocator reserves (%s)" % (
            label["memory"], checked["memory"], checked["allocator_memory"], label["allocator_memory"]))
    if "cpus" in checked and "allocator_cpus" in checked and checked["cpus"] > checked["allocator_cpus"]:
        problems.append("%s: the enclave's %d CPUs do not fit in the %d CPUs the allocator reserves (%s)" % (
            label["cpus"], checked["cpus"], checked["allocator_cpus"], label["allocator_cpus"]))
    memory_fits = not any(problem.startswith(label["memory"] + ":") for problem in problems)
    if eif_size is not None and "memory" in checked and memory_fits:
        if isinstance(eif_size, bool) or not isinstance(eif_size, int) or eif_size < 0:
            raise OracleInputError("the EIF size must be a whole number of bytes; got %s" % _show(eif_size))
        if checked["memory"] * (1 << 20) < 4 * eif_size:
            problems.append("%s: %d MiB is less than 4 x the enclave image's size (%d bytes); give at least %d MiB" % (
                label["memory"], checked["memory"], eif_size, _mib_needed(eif_size)))
    return problems


def parse_debug_mode(value):
    """Return whether debug mode is requested: only True or "true" (any case) select it, None means False.

    False and "false" are accepted as no; any other value (1, "yes", "on", ...) is refused, so debug mode
    is never switched on by a value that merely looks true.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OracleInputError(
        "must be true or false; got %s. Debug mode is only used when it is set to true explicitly" % _show(value))


CPU_POOL_MESSAGE = "is not a CPU list such as 1,9 or 2-3,10-11"


def allocator_pool_cpus(pool):
    """Return how many CPUs ``host_prep_allocator_cpu_pool`` reserves: an int, or None when no pool is set.

    No pool is set by None, ``""`` and the other values Jinja counts as false (``false``, ``0``), as in
    the role host_prep: the allocator then reserves ``host_prep_allocator_cpu_count`` CPUs. A pool
    wins over that count. It is a CPU list as the role and the allocator accept it: CPU numbers and
    ascending ranges separated by commas, without spaces (``1,9``, ``2-3,10-11``, ``3-3``), each CPU at
    most once; a positive int is one CPU. Anything else raises OracleInputError with the message
    :data:`CPU_POOL_MESSAGE`. Whether the host has these CPUs (and leaves CPU 0's core to the parent)
    only the host knows: the module nitro_allocator checks that.
    """
    if pool is None or (not pool and isinstance(pool, (str, bool, int))):
        return None
    if isinstance(pool, int) and not isinstance(pool, bool) and pool > 0:
        pool = str(pool)
    if not isinstance(pool, str) or not _CPU_LIST_RE.match(pool):
        raise OracleInputError(CPU_POOL_MESSAGE)
    try:
        ranges = cpulist_ranges(pool)
    except CpuListBeyondError:
        raise OracleInputError("%s; it names CPUs beyond %d, more than any host has" % (CPU_POOL_MESSAGE, MAX_CPUS - 1))
    except AllocatorConfigError:
        raise OracleInputError(CPU_POOL_MESSAGE)
    ranges.sort()
    if any(later[0] <= earlier[1] for earlier, later in zip(ranges, ranges[1:])):
        raise OracleInputError(CPU_POOL_MESSAGE)  # a CPU named twice
    return sum(end - start + 1 for start, end in ranges)


def _effective(values, defaults, names):
    """For each of ``names``: the host's value when the host defines the variable, else the default, else None."""
    result = {}
    for name in names:
        if name in values:
            result[name] = values[name]
        elif name in defaults:
            result[name] = defaults[name]
        else:
            result[name] = None
    return result


def _debug_warning(host, kind, variable):
    if kind == "registry":
        effect = "users' clients reject it"
    else:
        effect = "the registry rejects it and users' clients warn"
    return ("%s: %s: true: the enclave runs in DEBUG MODE; it attests with all-zero PCRs, so %s. "
            "Never use it in production" % (host, variable, effect))


def _check_kind(kind):
    if kind not in KINDS:
        raise OracleInputError("kind must be one of %s; got %s" % (", ".join(sorted(KINDS)), _show(kind)))


def _check_options(kind, defaults):
    """Raise OracleInputError for an unknown kind or defaults that are not a mapping; return the defaults."""
    _check_kind(kind)
    if defaults is None:
        return {}
    if not isinstance(defaults, Mapping):
        raise OracleInputError("the defaults must be a mapping of variable name to value; got %s" % _show(defaults))
    return defaults


def validate_host(hostname, values, kind="oracle", eif_size=None, defaults=None):
    """Validate one host's inputs, for an oracle (kind ``oracle``) or a registry (kind ``registry``).

    ``values`` maps variable names to the host's values; a variable the host does not define is taken
    from ``defaults`` (for example the roles' defaults, which a play that does not apply the roles
    does not see), else it is missing. Kind ``oracle`` checks the variables of
    :data:`ORACLE_VARIABLES` with the rules of the module documentation. Kind ``registry`` checks
    the sizing and debug-mode rules only, for ``registry_service_enclave_memory_mib``,
    ``registry_service_enclave_cpu_count`` and ``registry_service_debug_mode`` (a registry has no
    provider, registry address or price). For both, a ``host_prep_allocator_cpu_pool`` (see
    :func:`allocator_pool_cpus`) replaces ``host_prep_allocator_cpu_count`` as what the allocator
    reserves.

    Returns ``(normalised, problems)``. ``normalised`` maps each variable that passed to its normalised
    value (checksummed address, int wei, normalised IP, "" or int seconds, ints, bool), plus for an
    oracle ``oracle_service_price_opn`` (the price as "2.5 OPN"), and ``warnings`` (a list of messages
    for the report, e.g. debug mode). ``problems`` has one message per bad value,
    "<host>: <variable>: <why>". Raises MissingKeccakLibrary when an oracle's address cannot be
    checked, OracleInputError for an unknown kind or defaults that are not a mapping.
    """
    defaults = _check_options(kind, defaults)
    host = str(hostname)
    normalised = {"warnings": []}
    problems = []
    if not isinstance(values, Mapping):
        return normalised, ["%s: the host's variables must be a mapping; got %s" % (host, _show(values))]
    names = KINDS[kind]
    effective = _effective(values, defaults, names["variables"] + (VAR_ALLOCATOR_POOL,))

    def check(variable, parser, required_hint=None):
        value = effective[variable]
        if value is None and required_hint:
            problems.append("%s: %s: is not set; %s" % (host, variable, required_hint))
            return
        try:
            normalised[variable] = parser(value)
        except OracleInputError as error:
            problems.append("%s: %s: %s" % (host, variable, error))

    if kind == "oracle":
        check(VAR_PROVIDER, to_checksum_address, "give the Ethereum address that receives the rewards")
        if normalised.get(VAR_PROVIDER) == ZERO_ADDRESS:
            del normalised[VAR_PROVIDER]
            problems.append("%s: %s: is the zero address, which nobody controls: rewards sent there are lost" % (host, VAR_PROVIDER))
        check(VAR_REGISTRY, parse_registry, "give the IP address of an existing registry")
        check(VAR_PRICE, parse_price, "give what users pay, e.g. \"2.5 OPN\" or a whole number of wei")
        if VAR_PRICE in normalised:
            normalised["oracle_service_price_opn"] = format_opn(normalised[VAR_PRICE])
        check(VAR_TIMEOUT, parse_no_demand_timeout)
    check(names["debug"], parse_debug_mode)
    try:
        check_extra_settings(effective[names["extra"]], kind=kind)
    except OracleInputError as error:
        problems.append("%s: %s: %s" % (host, names["extra"], error))
    if normalised.get(names["debug"]):
        normalised["warnings"].append(_debug_warning(host, kind, names["debug"]))

    # What the allocator reserves: a CPU pool's CPUs when one is set (the count is then ignored), else the count.
    allocator_cpus, allocator_cpus_name = effective[VAR_ALLOCATOR_CPUS], VAR_ALLOCATOR_CPUS
    if effective[VAR_ALLOCATOR_POOL] is not None:
        try:
            pool_cpus = allocator_pool_cpus(effective[VAR_ALLOCATOR_POOL])
        except OracleInputError as error:
            problems.append("%s: %s: %s" % (host, VAR_ALLOCATOR_POOL, error))
            allocator_cpus = _UNKNOWN
        else:
            if pool_cpus is None:
                normalised[VAR_ALLOCATOR_POOL] = ""
            else:
                normalised[VAR_ALLOCATOR_POOL] = effective[VAR_ALLOCATOR_POOL]
                allocator_cpus, allocator_cpus_name = pool_cpus, VAR_ALLOCATOR_POOL

    resources = (
        (names["memory"], effective[names["memory"]]),
        (names["cpus"], effective[names["cpus"]]),
        (VAR_ALLOCATOR_MEMORY, effective[VAR_ALLOCATOR_MEMORY]),
        (allocator_cpus_name, allocator_cpus),
    )
    resource_problems = check_enclave_resources(
        *[value for dummy, value in resources], eif_size=eif_size,
        names={"memory": names["memory"], "cpus": names["cpus"], "allocator_cpus": allocator_cpus_name})
    problems.extend("%s: %s" % (host, problem) for problem in resource_problems)
    bad = set(problem.split(":", 1)[0] for problem in resource_problems)
    for name, value in resources:
        if name not in bad and name != VAR_ALLOCATOR_POOL and value is not _UNKNOWN:
            normalised[name] = _positive_int(value, "units")
    return normalised, problems


def validate_oracle_host(hostname, values, eif_size=None):
    """Validate one oracle host's variables: :func:`validate_host` with kind ``oracle`` and no defaults."""
    return validate_host(hostname, values, kind="oracle", eif_size=eif_size)


def validate_hosts(hosts, kind="oracle", eif_size=None, defaults=None):
    """Validate every host of a mapping hostname -> variables; return ``(normalised_by_host, problems)``.

    The options are those of :func:`validate_host`; the problems are listed host by host, in the
    mapping's order.
    """
    if not isinstance(hosts, Mapping):
        raise OracleInputError("expects a mapping of host name to the host's variables; got %s" % _show(hosts))
    _check_options(kind, defaults)
    normalised = {}
    problems = []
    for hostname in hosts:
        normalised[hostname], host_problems = validate_host(
            hostname, hosts[hostname], kind=kind, eif_size=eif_size, defaults=defaults)
        problems.extend(host_problems)
    return normalised, problems


def validate_oracle_hosts(hosts, eif_size=None):
    """Validate every oracle host of a mapping hostname -> variables: :func:`validate_hosts` for kind ``oracle``."""
    return validate_hosts(hosts, kind="oracle", eif_size=eif_size)


def image_problems(host, image, kind="oracle"):
    """The serving role's own check of the image it serves: ``image`` is the fact enclave_build_result (or None when
    there is none), which must describe an image of this ``kind`` at an absolute path. One message, or none."""
    _check_kind(kind)
    path = image.get("path") if isinstance(image, Mapping) else None
    if isinstance(image, Mapping) and image.get("kind") == kind and isinstance(path, str) and path.startswith("/"):
        return []
    return ["%s: %s_service serves the image that opencontracts.enclave.enclave_build installs and describes in the fact "
            "enclave_build_result (with enclave_build_kind: %s); got %s"
            % (host, kind, kind, "no enclave_build_result" if image is None else image)]


def serving_host_errors(host, values, kind="oracle"):
    """A serving role's preflight on its host: :func:`image_problems` of ``values["enclave_build_result"]``, then
    :func:`validate_host` of ``values`` with the image's size (when it has one) as the EIF size."""
    image = values.get("enclave_build_result")
    size = image.get("size") if isinstance(image, Mapping) else None
    try:
        eif_size = int(size) if size else None
    except (TypeError, ValueError):
        eif_size = None
    dummy, problems = validate_host(host, values, kind=kind, eif_size=eif_size or None)
    return image_problems(host, image, kind=kind) + problems


# --- rollout settings ----------------------------------------------------------------------

ROLLOUT_BATCH_MESSAGE = ("is not a batch size; give a positive number of hosts (2), a percentage of the group "
                         "(\"25%\"), or a list of them")
ROLLOUT_FAIL_MESSAGE = "is not a percentage; give a whole number from 0 to 100"


def _json_show(value, limit=80):
    """A value as JSON (what the operator wrote, as Ansible's to_json shows it), shortened for a message."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = _show(value, limit)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


def _is_batch_size(value):
    """Whether one item of ``serial`` is a positive number of hosts or a percentage from 1% to 100%.

    Digits, or digits and ``%``, with nothing in between; spaces around are ignored, except after
    ``%``: Ansible reads only a string ending in ``%`` as a percentage, anything else with int().
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 1
    if not isinstance(value, str):
        return False
    percentage = value.endswith("%")
    digits = value[:-1].lstrip() if percentage else value.strip()
    if not _DIGITS_RE.match(digits) or len(digits) > _MAX_DIGITS:
        return False
    number = int(digits)
    return number >= 1 and (number <= 100 or not percentage)


def _is_fail_percentage(value):
    """Whether ``value`` is a whole number from 0 to 100 (an int, or a string of digits)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= 100
    if not isinstance(value, str):
        return False
    digits = value.strip()
    return bool(_DIGITS_RE.match(digits)) and len(digits) <= _MAX_DIGITS and int(digits) <= 100


def check_rollout_settings(values, kind="oracle"):
    """Return the problems ("<variable>: <why>") of the rollout settings of oracle.yml or registry.yml.

    ``kind`` ``oracle`` checks ``oracle_rollout_batch`` and ``oracle_rollout_max_fail_percentage`` in
    ``values``, ``registry`` the ``registry_rollout_*`` pair; an omitted or null setting is not
    checked (the playbook's default applies).

    * The batch (the play's ``serial``) is a positive whole number of hosts (an int or a string of
      digits), a percentage of the group from ``1%`` to ``100%``, or a list of them (one batch size
      after another, the last repeated). Zero (which Ansible reads as "all hosts at once"), ``0%``,
      booleans, floats and anything else are refused, each bad item of a list with its own message.
    * The max fail percentage is a whole number from 0 to 100 (an int or a string of digits).
    """
    _check_kind(kind)
    if not isinstance(values, Mapping):
        raise OracleInputError("the rollout settings must be a mapping of variable name to value; got %s" % _show(values))
    problems = []
    batch_name = kind + "_rollout_batch"
    batch = values.get(batch_name)
    if batch is not None:
        batches = list(batch) if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)) else [batch]
        for item in batches:
            if not _is_batch_size(item):
                problems.append("%s: %s %s" % (batch_name, _json_show(item), ROLLOUT_BATCH_MESSAGE))
    fail_name = kind + "_rollout_max_fail_percentage"
    fail = values.get(fail_name)
    if fail is not None and not _is_fail_percentage(fail):
        problems.append("%s: %s %s" % (fail_name, _json_show(fail), ROLLOUT_FAIL_MESSAGE))
    return problems


def validate_rollout_hosts(hosts, kind="oracle"):
    """:func:`check_rollout_settings` for every host of a mapping hostname -> variables: "<host>: <variable>: <why>"."""
    if not isinstance(hosts, Mapping):
        raise OracleInputError("expects a mapping of host name to the host's variables; got %s" % _show(hosts))
    _check_kind(kind)
    problems = []
    for hostname in hosts:
        problems.extend("%s: %s" % (hostname, problem) for problem in check_rollout_settings(hosts[hostname], kind=kind))
    return problems
