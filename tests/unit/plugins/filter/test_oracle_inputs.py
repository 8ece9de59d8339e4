# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The oracle input rules of module_utils/oracle_inputs.py (issue #6, item 1)."""

import hashlib
import sys

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import oracle_inputs as oi

# Published in the EIP-55 specification (https://eips.ethereum.org/EIPS/eip-55), not computed here.
EIP55_ALL_CAPS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
]
EIP55_ALL_LOWER = [
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]
EIP55_NORMAL = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
EIP55_VECTORS = EIP55_ALL_CAPS + EIP55_ALL_LOWER + EIP55_NORMAL
# Keccak-256 of the empty message, as published for the original Keccak submission (and by Ethereum).
KECCAK256_EMPTY = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"

WEI = 10 ** 18


def flip_case(address, index):
    char = address[index]
    return address[:index] + (char.lower() if char.isupper() else char.upper()) + address[index + 1:]


def error_of(function, value):
    with pytest.raises(oi.OracleInputError) as caught:
        function(value)
    return str(caught.value)


# --- Keccak-256 and EIP-55 -------------------------------------------------------------------

def test_keccak_is_keccak_not_sha3():
    assert oi.keccak256_hex(b"") == KECCAK256_EMPTY
    assert hashlib.sha3_256(b"").hexdigest() != KECCAK256_EMPTY


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_published_vectors_are_their_own_checksum_form(address):
    assert oi.to_checksum_address(address) == address


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_lowercase_and_uppercase_forms_are_checksummed(address):
    assert oi.to_checksum_address(address.lower()) == address
    assert oi.to_checksum_address("0x" + address[2:].upper()) == address


def test_surrounding_whitespace_is_ignored():
    assert oi.to_checksum_address("  %s\n" % EIP55_NORMAL[0].lower()) == EIP55_NORMAL[0]


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_flipping_the_case_of_any_one_letter_fails_the_checksum(address):
    letters = [index for index in range(2, 42) if address[index].isalpha()]
    assert letters
    for index in letters:
        typo = flip_case(address, index)
        if typo[2:] in (typo[2:].lower(), typo[2:].upper()):
            continue  # became single-case, which carries no checksum
        message = error_of(oi.to_checksum_address, typo)
        assert "checksum does not match" in message
        # The correct form (here: the original address) is never offered as a fix.
        assert address not in message
        assert address.lower() not in message.lower().replace(typo.lower(), "")


def test_a_one_digit_typo_in_a_checksummed_address_is_refused():
    address = EIP55_NORMAL[0]
    typo = address[:-2] + ("e" if address[-2] != "e" else "f") + address[-1]
    assert "checksum does not match" in error_of(oi.to_checksum_address, typo)


@pytest.mark.parametrize("value, fragment", [
    ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "must start with 0x"),
    ("0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "lowercase 0x"),
    ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", "has 38 hex digits"),
    ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", "has 42 hex digits"),
    ("0x", "has 0 hex digits"),
    ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", "not hex digits: 'g'"),
    ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1be ed", "not hex digits: ' '"),
    ("", "is empty"),
    ("   ", "is empty"),
    (0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED, "put the address in quotes"),
    (True, "must be an Ethereum address"),
    (None, "must be an Ethereum address"),
    (["0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"], "must be an Ethereum address"),
])
def test_malformed_addresses_are_refused(value, fragment):
    assert fragment in error_of(oi.to_checksum_address, value)


def test_zero_address_is_well_formed():
    assert oi.to_checksum_address(oi.ZERO_ADDRESS) == oi.ZERO_ADDRESS


def test_missing_keccak_library_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "Crypto.Hash", None)
    monkeypatch.setitem(sys.modules, "Cryptodome.Hash", None)
    with pytest.raises(oi.MissingKeccakLibrary) as caught:
        oi.to_checksum_address(EIP55_NORMAL[0])
    assert "pip install pycryptodome" in str(caught.value)
    # Syntax errors are still reported without the library.
    assert "must start with 0x" in error_of(oi.to_checksum_address, "abc")


# --- PRICE -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, wei", [
    (0, 0),
    (1, 1),
    (2500000000000000000, 2500000000000000000),
    (10 ** 30, 10 ** 30),
    (oi.MAX_UINT256, oi.MAX_UINT256),
    ("2500000000000000000", 2500000000000000000),
    (" 42 ", 42),
    ("0", 0),
    ("000123", 123),
    ("2.5 OPN", 2500000000000000000),
    ("2.5OPN", 2500000000000000000),
    ("2.5   opn", 2500000000000000000),
    ("2.5 Opn", 2500000000000000000),
    ("2 OPN", 2 * WEI),
    ("0 OPN", 0),
    ("0.0 OPN", 0),
    ("0.000000000000000001 OPN", 1),
    ("1.000000000000000001 OPN", WEI + 1),
    ("0.1 OPN", 10 ** 17),
    ("1000000000000 OPN", 10 ** 30),
    ("1000000000000.000000000000000001 OPN", 10 ** 30 + 1),
    ("123456789012345678901234567890.123456789012345678 OPN", 123456789012345678901234567890123456789012345678),
    ("2.500000000000000000 OPN", 2500000000000000000),
])
def test_prices_accepted(value, wei):
    result = oi.parse_price(value)
    assert result == wei
    assert type(result) is int  # pylint: disable=unidiomatic-typecheck


@pytest.mark.parametrize("value, fragment", [
    ("1.0000000000000000001 OPN", "has 19 decimal places"),
    ("1.0000000000000000000 OPN", "has 19 decimal places"),
    (2.5, '"2.5 OPN"'),
    (0.1, '"0.1 OPN"'),
    (3.0, '"3 OPN"'),
    (2.5e18, "floating-point number 2.5e+18"),
    (float("nan"), "floating-point number nan"),
    (float("inf"), "floating-point number inf"),
    ("1e18", "exponent notation"),
    ("1E18", "exponent notation"),
    ("2.5e18", "exponent notation"),
    ("1e18 OPN", "exponent notation"),
    (True, "not a boolean"),
    (False, "not a boolean"),
    (-1, "must not be negative"),
    ("-1", "must not be negative"),
    ("-2.5 OPN", "must not be negative"),
    ("NaN OPN", "is not an amount"),
    ("nan", "is not an amount"),
    ("Infinity OPN", "is not an amount"),
    ("inf", "is not an amount"),
    ("2.5", 'write the unit: "2.5 OPN"'),
    ("2.", "decimal point but no unit"),
    (".5", "decimal point but no unit"),
    (".5 OPN", "is not an amount"),
    ("2. OPN", "is not an amount"),
    ("OPN", "is not an amount"),
    ("+5", "is not an amount"),
    ("1,000 OPN", "is not an amount"),
    ("1_000", "is not an amount"),
    ("2.5 ETH", "is not an amount"),
    ("2.5 wei", "is not an amount"),
    ("\u0663", "is not an amount"),  # ARABIC-INDIC DIGIT THREE: isdigit(), but not an ASCII digit
    ("", "is empty"),
    ("  ", "is empty"),
    (None, "must be an amount"),
    ([1], "must be an amount"),
    (oi.MAX_UINT256 + 1, "larger than the largest amount"),
    (str(oi.MAX_UINT256 + 1), "larger than the largest amount"),
    ("1" * 5000, "far too many"),
    ("1" * 5000 + " OPN", "far too many"),
])
def test_prices_refused(value, fragment):
    assert fragment in error_of(oi.parse_price, value)


def test_every_float_is_refused_even_exact_ones():
    for value in (0.0, 1.0, 2.5, 0.5, 1e18, 2.0 ** 70):
        with pytest.raises(oi.OracleInputError):
            oi.parse_price(value)


@pytest.mark.parametrize("wei, text", [
    (0, "0 OPN"),
    (1, "0.000000000000000001 OPN"),
    (10 ** 17, "0.1 OPN"),
    (WEI, "1 OPN"),
    (2500000000000000000, "2.5 OPN"),
    (WEI + 1, "1.000000000000000001 OPN"),
    (10 ** 30, "1000000000000 OPN"),
    (10 ** 30 + 1, "1000000000000.000000000000000001 OPN"),
    ("2500000000000000000", "2.5 OPN"),
])
def test_format_opn(wei, text):
    assert oi.format_opn(wei) == text


@pytest.mark.parametrize("value", [-1, "-1", 2.5, True, None, "2.5 OPN", "abc"])
def test_format_opn_refuses_what_is_not_wei(value):
    with pytest.raises(oi.OracleInputError):
        oi.format_opn(value)


@pytest.mark.parametrize("text", [
    "0 OPN", "2.5 OPN", "0.000000000000000001 OPN", "1000000000000.000000000000000001 OPN",
    "98765.4321 OPN", "1 OPN",
])
def test_opn_round_trip(text):
    assert oi.format_opn(oi.parse_price(text)) == text


@pytest.mark.parametrize("wei", [0, 1, 7, 10 ** 17, WEI - 1, WEI, 3 * WEI + 12345, 10 ** 30 + 1, oi.MAX_UINT256])
def test_wei_round_trip(wei):
    assert oi.parse_price(oi.format_opn(wei)) == wei


# --- REGISTRY --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, normalised", [
    ("203.0.113.10", "203.0.113.10"),
    (" 203.0.113.10 ", "203.0.113.10"),
    ("127.0.0.1", "127.0.0.1"),
    ("2001:DB8:0:0:0:0:0:10", "2001:db8::10"),
    ("2001:db8::10", "2001:db8::10"),
    ("::1", "::1"),
    ("::ffff:203.0.113.10", "::ffff:cb00:710a"),
])
def test_registries_accepted(value, normalised):
    assert oi.parse_registry(value) == normalised


@pytest.mark.parametrize("value, fragment", [
    ("registry.example.com", "not a host name"),
    ("localhost", "not a host name"),
    ("[2001:db8::10]", "without brackets"),
    ("203.0.113.10:8080", "without brackets, port"),
    ("203.0.113.0/24", "prefix length"),
    ("203.0.113.256", "not a valid IPv4 address"),
    ("203.0.113", "not a valid IPv4 address"),
    ("010.0.0.1", "not a valid IPv4 address"),
    ("0.0.0.0", "unspecified or multicast"),
    ("::", "unspecified or multicast"),
    ("224.0.0.1", "unspecified or multicast"),
    ("", "is empty"),
    (None, "as text"),
    (3405803786, "as text"),
    (True, "as text"),
])
def test_registries_refused(value, fragment):
    assert fragment in error_of(oi.parse_registry, value)


# --- NO_DEMAND_TIMEOUT -----------------------------------------------------------------------

@pytest.mark.parametrize("value, result", [
    (None, ""),
    ("", ""),
    ("  ", ""),
    (1, 1),
    (3600, 3600),
    ("3600", 3600),
    (" 86400 ", 86400),
])
def test_timeouts_accepted(value, result):
    assert oi.parse_no_demand_timeout(value) == result


@pytest.mark.parametrize("value, fragment", [
    (0, "0 is not a timeout"),
    ("0", "0 is not a timeout"),
    (-5, "must not be negative"),
    ("-5", "must not be negative"),
    (2.5, "floating-point"),
    (60.0, "floating-point"),
    ("1.5", "not a whole number of seconds"),
    ("1h", "not a whole number of seconds"),
    ("forever", "not a whole number of seconds"),
    (True, "boolean"),
    (False, "boolean"),
    ([60], "whole number of seconds"),
])
def test_timeouts_refused(value, fragment):
    message = error_of(oi.parse_no_demand_timeout, value)
    assert fragment in message
    assert "run forever" in message


# --- debug mode ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, result", [
    (None, False), (False, False), (True, True), ("true", True), ("True", True), ("false", False), ("FALSE", False),
])
def test_debug_mode_accepted(value, result):
    assert oi.parse_debug_mode(value) is result


@pytest.mark.parametrize("value", ["yes", "on", "1", 1, 0, "", "debug"])
def test_debug_mode_refused(value):
    assert "set to true explicitly" in error_of(oi.parse_debug_mode, value)


# --- enclave resources -----------------------------------------------------------------------

def test_resources_that_fit():
    assert oi.check_enclave_resources(10000, 2, 11000, 2) == []
    assert oi.check_enclave_resources(11000, 2, 11000, 4) == []
    assert oi.check_enclave_resources("11000", "2", "11000", "2") == []


def test_resources_exceeding_the_allocator():
    problems = oi.check_enclave_resources(12000, 4, 11000, 2)
    assert problems == [
        "oracle_service_enclave_memory_mib: the enclave's 12000 MiB do not fit in the 11000 MiB the allocator reserves "
        "(host_prep_allocator_memory_mib)",
        "oracle_service_enclave_cpu_count: the enclave's 4 CPUs do not fit in the 2 CPUs the allocator reserves "
        "(host_prep_allocator_cpu_count)",
    ]


@pytest.mark.parametrize("args, variable", [
    ((0, 2, 11000, 2), "oracle_service_enclave_memory_mib"),
    ((10000, 0, 11000, 2), "oracle_service_enclave_cpu_count"),
    ((10000, -2, 11000, 2), "oracle_service_enclave_cpu_count"),
    ((10000.0, 2, 11000, 2), "oracle_service_enclave_memory_mib"),
    ((True, 2, 11000, 2), "oracle_service_enclave_memory_mib"),
    (("10 GiB", 2, 11000, 2), "oracle_service_enclave_memory_mib"),
    ((10000, 2, "lots", 2), "host_prep_allocator_memory_mib"),
    ((10000, 2, 11000, None), "host_prep_allocator_cpu_count"),
    ((None, 2, 11000, 2), "oracle_service_enclave_memory_mib"),
])
def test_bad_resource_values(args, variable):
    problems = oi.check_enclave_resources(*args)
    assert len(problems) == 1
    assert problems[0].startswith(variable + ": ")


def test_memory_must_be_four_times_the_image():
    eif = 2500 * 2 ** 20  # 2500 MiB image: needs 10000 MiB
    assert oi.check_enclave_resources(10000, 2, 11000, 2, eif_size=eif) == []
    problems = oi.check_enclave_resources(9999, 2, 11000, 2, eif_size=eif)
    assert len(problems) == 1
    assert "less than 4 x the enclave image's size" in problems[0]
    assert "at least 10000 MiB" in problems[0]
    # One byte more rounds the need up to the next MiB.
    assert "at least 10001 MiB" in oi.check_enclave_resources(10000, 2, 11000, 2, eif_size=eif + 1)[0]


def test_one_message_per_variable_when_memory_is_too_large_and_too_small():
    problems = oi.check_enclave_resources(12000, 2, 11000, 2, eif_size=4 * 2 ** 30)
    assert len(problems) == 1
    assert "do not fit" in problems[0]


def test_resource_messages_can_name_other_variables():
    problems = oi.check_enclave_resources(12000, 2, 11000, 2, names={"memory": "registry_service_enclave_memory_mib"})
    assert problems[0].startswith("registry_service_enclave_memory_mib: ")


def test_bad_eif_size_is_a_programming_error():
    with pytest.raises(oi.OracleInputError):
        oi.check_enclave_resources(10000, 2, 11000, 2, eif_size="big")


# --- one host, many hosts --------------------------------------------------------------------

GOOD = {
    "oracle_service_provider": EIP55_NORMAL[0].lower(),
    "oracle_service_registry": "2001:DB8::10",
    "oracle_service_price": "2.5 OPN",
    "oracle_service_no_demand_timeout": None,
    "oracle_service_enclave_memory_mib": 10000,
    "oracle_service_enclave_cpu_count": 2,
    "host_prep_allocator_memory_mib": 11000,
    "host_prep_allocator_cpu_count": 2,
}


def test_good_host_is_normalised():
    normalised, problems = oi.validate_oracle_host("oracle-1", dict(GOOD, unrelated_variable="x"))
    assert problems == []
    assert normalised == {
        "oracle_service_provider": EIP55_NORMAL[0],
        "oracle_service_registry": "2001:db8::10",
        "oracle_service_price": 2500000000000000000,
        "oracle_service_price_opn": "2.5 OPN",
        "oracle_service_no_demand_timeout": "",
        "oracle_service_debug_mode": False,
        "oracle_service_enclave_memory_mib": 10000,
        "oracle_service_enclave_cpu_count": 2,
        "host_prep_allocator_memory_mib": 11000,
        "host_prep_allocator_cpu_count": 2,
        "warnings": [],
    }


def test_debug_mode_true_passes_and_is_flagged():
    normalised, problems = oi.validate_oracle_host("oracle-1", dict(GOOD, oracle_service_debug_mode=True))
    assert problems == []
    assert normalised["oracle_service_debug_mode"] is True
    assert len(normalised["warnings"]) == 1
    assert normalised["warnings"][0].startswith("oracle-1: oracle_service_debug_mode: true: the enclave runs in DEBUG MODE")


def test_every_bad_value_gives_one_message_naming_host_and_variable():
    bad = {
        "oracle_service_provider": flip_case(EIP55_NORMAL[0], 3),
        "oracle_service_registry": "registry.example.com",
        "oracle_service_price": 0.1,
        "oracle_service_no_demand_timeout": 0,
        "oracle_service_enclave_memory_mib": 12000,
        "oracle_service_enclave_cpu_count": 3,
        "oracle_service_debug_mode": "yes",
        "host_prep_allocator_memory_mib": 11000,
        "host_prep_allocator_cpu_count": 2,
    }
    normalised, problems = oi.validate_oracle_host("oracle-2", bad)
    variables = [
        "oracle_service_provider", "oracle_service_registry", "oracle_service_price", "oracle_service_no_demand_timeout",
        "oracle_service_debug_mode", "oracle_service_enclave_memory_mib", "oracle_service_enclave_cpu_count",
    ]
    assert [problem.split(": ")[:2] for problem in problems] == [["oracle-2", variable] for variable in variables]
    assert set(normalised) == {"warnings", "host_prep_allocator_memory_mib", "host_prep_allocator_cpu_count"}


def test_missing_required_values_are_reported():
    normalised, problems = oi.validate_oracle_host("oracle-3", {})
    assert [problem.split(": ")[1] for problem in problems] == [
        "oracle_service_provider", "oracle_service_registry", "oracle_service_price",
        "oracle_service_enclave_memory_mib", "oracle_service_enclave_cpu_count",
        "host_prep_allocator_memory_mib", "host_prep_allocator_cpu_count",
    ]
    assert all(problem.endswith("is not set") or ": is not set; " in problem for problem in problems)
    # Omitted NO_DEMAND_TIMEOUT runs forever; omitted debug mode is off.
    assert normalised["oracle_service_no_demand_timeout"] == ""
    assert normalised["oracle_service_debug_mode"] is False


def test_zero_address_is_refused_as_provider():
    normalised, problems = oi.validate_oracle_host("oracle-1", dict(GOOD, oracle_service_provider=oi.ZERO_ADDRESS))
    assert problems == ["oracle-1: oracle_service_provider: is the zero address, which nobody controls: rewards sent there are lost"]
    assert "oracle_service_provider" not in normalised


def test_memory_against_image_size_per_host():
    dummy, problems = oi.validate_oracle_host("oracle-1", GOOD, eif_size=3 * 2 ** 30)
    assert len(problems) == 1
    assert problems[0].startswith("oracle-1: oracle_service_enclave_memory_mib: 10000 MiB is less than 4 x")


def test_host_variables_must_be_a_mapping():
    dummy, problems = oi.validate_oracle_host("oracle-1", ["not", "a", "mapping"])
    assert problems == ["oracle-1: the host's variables must be a mapping; got a value of type list"]


def test_many_hosts_in_order():
    hosts = {
        "oracle-b": dict(GOOD, oracle_service_price="-1"),
        "oracle-a": GOOD,
        "oracle-c": dict(GOOD, oracle_service_registry="oracle.example.com", oracle_service_price=True),
    }
    normalised, problems = oi.validate_oracle_hosts(hosts)
    assert [problem.split(": ")[:2] for problem in problems] == [
        ["oracle-b", "oracle_service_price"],
        ["oracle-c", "oracle_service_registry"],
        ["oracle-c", "oracle_service_price"],
    ]
    assert normalised["oracle-a"]["oracle_service_price"] == 2500000000000000000


def test_many_hosts_need_a_mapping():
    with pytest.raises(oi.OracleInputError):
        oi.validate_oracle_hosts(["oracle-1"])
