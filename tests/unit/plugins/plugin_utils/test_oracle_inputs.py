# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The oracle input rules of plugin_utils/oracle_inputs.py (issue #6, item 1)."""

import hashlib
import sys

import pytest

from ansible_collections.opencontracts.enclave.plugins.plugin_utils import oracle_inputs as oi

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
    ("fe80::1%$(id)", "zone ID"),
    ("fe80::1%eth0", "zone ID"),
    ("2001:db8::10%1", "zone ID"),
    ("203.0.113.10; id", "not an IP address"),
    ("$(id)", "not an IP address"),
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
    ("0012", 12),
    ("2678400", 2678400),
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
    (2678401, "at most 2678400 seconds (31 days)"),
    ("2678401", "at most 2678400 seconds (31 days)"),
    ("1" * 100, "at most 2678400 seconds (31 days)"),
    ("9" * 5000, "at most 2678400 seconds (31 days)"),
])
def test_timeouts_refused(value, fragment):
    message = error_of(oi.parse_no_demand_timeout, value)
    assert fragment in message
    assert "run forever" in message


def test_too_long_timeout_shown_as_written():
    # The bad_inputs scenario's case: leading zeros kept, so the operator finds the value in the inventory.
    assert error_of(oi.parse_no_demand_timeout, "0002678401").startswith("'0002678401' is longer")


def test_timeout_maximum_is_31_days():
    assert oi.MAX_NO_DEMAND_TIMEOUT == 31 * 24 * 60 * 60


# --- extra settings and the serve script's settings -------------------------------------------

@pytest.mark.parametrize("kind, value, result", [
    ("oracle", None, {}),
    ("oracle", {}, {}),
    ("oracle", {"LOG_LEVEL": "info", "RETRIES": 3}, {"LOG_LEVEL": "info", "RETRIES": 3}),
    ("registry", {"PRICE": "1"}, {"PRICE": "1"}),
])
def test_extra_settings_accepted(kind, value, result):
    assert oi.check_extra_settings(value, kind=kind) == result


@pytest.mark.parametrize("kind, value, fragments", [
    ("oracle", {"PRICE": "0"}, ["PRICE is set by oracle_service_price"]),
    ("oracle", {"PROVIDER": "0x0"}, ["PROVIDER is set by oracle_service_provider"]),
    ("oracle", {"REGISTRY": "$(id)"}, ["REGISTRY is set by oracle_service_registry"]),
    ("oracle", {"NO_DEMAND_TIMEOUT": "0012"}, ["NO_DEMAND_TIMEOUT is set by oracle_service_no_demand_timeout"]),
    ("oracle", {"MEMORY": 1}, ["MEMORY is set by oracle_service_enclave_memory_mib"]),
    ("registry", {"CPU_COUNT": 1}, ["CPU_COUNT is set by registry_service_enclave_cpu_count"]),
    ("oracle", {"PRICE": "0", "REGISTRY": "1.2.3.4"}, ["PRICE is set by", "REGISTRY is set by"]),
    ("oracle", {"id\n": "x"}, ["not a shell variable name"]),
    ("oracle", {"A-B": "x"}, ["not a shell variable name"]),
    ("oracle", {"A": "x\nid"}, ["one line"]),
    ("oracle", {"A": 2.5}, ["a string or a whole number"]),
    ("oracle", ["PRICE=0"], ["mapping of NAME to value"]),
])
def test_extra_settings_refused(kind, value, fragments):
    message = str(pytest.raises(oi.OracleInputError, oi.check_extra_settings, value, kind=kind).value)
    for fragment in fragments:
        assert fragment in message


def test_serve_settings_are_the_normalised_values():
    settings = oi.oracle_serve_settings({
        "oracle_service_provider": " " + EIP55_NORMAL[0].lower() + " ",
        "oracle_service_registry": " 2001:DB8:0:0:0:0:0:10 ",
        "oracle_service_price": "2.5 OPN",
        "oracle_service_no_demand_timeout": "0012",
        "oracle_service_extra_settings": {"LOG_LEVEL": "info"},
    })
    assert settings == {
        "PROVIDER": EIP55_NORMAL[0],
        "REGISTRY": "2001:db8::10",
        "PRICE": "2500000000000000000",
        "NO_DEMAND_TIMEOUT": "12",
        "LOG_LEVEL": "info",
    }


def test_serve_settings_of_an_empty_timeout_and_no_extras():
    settings = oi.oracle_serve_settings({
        "oracle_service_provider": EIP55_NORMAL[0], "oracle_service_registry": "203.0.113.10",
        "oracle_service_price": 7, "oracle_service_no_demand_timeout": ""})
    assert settings == {"PROVIDER": EIP55_NORMAL[0], "REGISTRY": "203.0.113.10", "PRICE": "7", "NO_DEMAND_TIMEOUT": ""}


def test_serve_settings_refuse_every_bad_value_at_once():
    message = str(pytest.raises(oi.OracleInputError, oi.oracle_serve_settings, {
        "oracle_service_provider": oi.ZERO_ADDRESS, "oracle_service_registry": "fe80::1%$(id)",
        "oracle_service_price": 2.5, "oracle_service_no_demand_timeout": "0",
        "oracle_service_extra_settings": {"PRICE": "0"}}).value)
    for variable in ("oracle_service_provider", "oracle_service_registry", "oracle_service_price",
                     "oracle_service_no_demand_timeout", "oracle_service_extra_settings"):
        assert variable + ":" in message


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


@pytest.mark.parametrize("kind, variable, value", [
    ("oracle", "oracle_service_extra_settings", {"PRICE": "0"}),
    ("oracle", "oracle_service_extra_settings", {"REGISTRY": "198.51.100.1"}),
    ("registry", "registry_service_extra_settings", {"MEMORY": "1"}),
])
def test_extra_settings_that_override_a_validated_value_are_refused(kind, variable, value):
    values = dict(GOOD) if kind == "oracle" else {
        "registry_service_enclave_memory_mib": 10000, "registry_service_enclave_cpu_count": 2,
        "host_prep_allocator_memory_mib": 11000, "host_prep_allocator_cpu_count": 2}
    values[variable] = value
    dummy, problems = oi.validate_host("host-1", values, kind=kind)
    assert len(problems) == 1
    assert problems[0].startswith("host-1: %s: " % variable)
    assert "is set by" in problems[0]


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


# --- defaults under the host's values ---------------------------------------------------------

def test_defaults_fill_what_the_host_does_not_define():
    host = dict(GOOD)
    del host["oracle_service_enclave_cpu_count"]
    defaults = {"oracle_service_enclave_cpu_count": 2, "oracle_service_enclave_memory_mib": 99999}
    normalised, problems = oi.validate_host("oracle-1", host, defaults=defaults)
    assert problems == []
    assert normalised["oracle_service_enclave_cpu_count"] == 2
    # The host's own value wins over the default.
    assert normalised["oracle_service_enclave_memory_mib"] == 10000


def test_a_variable_the_host_sets_to_null_is_not_replaced_by_its_default():
    dummy, problems = oi.validate_host("oracle-1", dict(GOOD, oracle_service_price=None),
                                       defaults={"oracle_service_price": "1 OPN"})
    assert problems == ["oracle-1: oracle_service_price: is not set; give what users pay, e.g. \"2.5 OPN\" or a whole number of wei"]


@pytest.mark.parametrize("defaults", [["not", "a", "mapping"], "x"])
def test_defaults_must_be_a_mapping(defaults):
    with pytest.raises(oi.OracleInputError, match="defaults must be a mapping"):
        oi.validate_host("oracle-1", GOOD, defaults=defaults)


@pytest.mark.parametrize("kind", ["", "registries", "Oracle", None])
def test_unknown_kind_is_refused(kind):
    with pytest.raises(oi.OracleInputError, match="kind must be one of oracle, registry"):
        oi.validate_host("host-1", GOOD, kind=kind)
    with pytest.raises(oi.OracleInputError, match="kind must be one of oracle, registry"):
        oi.validate_hosts({"host-1": GOOD}, kind=kind)


# --- registry hosts ---------------------------------------------------------------------------

REGISTRY = {
    "registry_service_enclave_memory_mib": 10000,
    "registry_service_enclave_cpu_count": 2,
    "registry_service_debug_mode": False,
    "host_prep_allocator_memory_mib": 11000,
    "host_prep_allocator_cpu_count": 2,
}


def test_good_registry_needs_no_provider_registry_or_price():
    normalised, problems = oi.validate_host("registry-1", dict(REGISTRY, oracle_service_price=-1), kind="registry")
    assert problems == []
    assert normalised == {
        "registry_service_enclave_memory_mib": 10000,
        "registry_service_enclave_cpu_count": 2,
        "registry_service_debug_mode": False,
        "host_prep_allocator_memory_mib": 11000,
        "host_prep_allocator_cpu_count": 2,
        "warnings": [],
    }


def test_registry_messages_name_the_registry_variables():
    bad = dict(REGISTRY, registry_service_enclave_memory_mib=20000, registry_service_enclave_cpu_count=3,
               registry_service_debug_mode="on")
    dummy, problems = oi.validate_host("registry-1", bad, kind="registry")
    assert problems == [
        "registry-1: registry_service_debug_mode: must be true or false; got 'on'. Debug mode is only used when it "
        "is set to true explicitly",
        "registry-1: registry_service_enclave_memory_mib: the enclave's 20000 MiB do not fit in the 11000 MiB the "
        "allocator reserves (host_prep_allocator_memory_mib)",
        "registry-1: registry_service_enclave_cpu_count: the enclave's 3 CPUs do not fit in the 2 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_count)",
    ]


def test_registry_ignores_oracle_variables_and_oracle_ignores_registry_variables():
    # An oracle's sizing is not a registry's: each kind reads its own variables only.
    dummy, problems = oi.validate_host("registry-1", dict(REGISTRY, oracle_service_enclave_memory_mib=0), kind="registry")
    assert problems == []
    dummy, problems = oi.validate_host("oracle-1", dict(GOOD, registry_service_enclave_memory_mib=0))
    assert problems == []


def test_missing_registry_values_are_reported():
    normalised, problems = oi.validate_host("registry-1", {}, kind="registry")
    assert problems == [
        "registry-1: registry_service_enclave_memory_mib: is not set",
        "registry-1: registry_service_enclave_cpu_count: is not set",
        "registry-1: host_prep_allocator_memory_mib: is not set",
        "registry-1: host_prep_allocator_cpu_count: is not set",
    ]
    assert normalised == {"registry_service_debug_mode": False, "warnings": []}


def test_registry_values_from_defaults():
    defaults = dict(REGISTRY, registry_service_enclave_memory_mib=11000)
    normalised, problems = oi.validate_host("registry-1", {"registry_service_enclave_cpu_count": "1"},
                                            kind="registry", defaults=defaults)
    assert problems == []
    assert normalised["registry_service_enclave_memory_mib"] == 11000
    assert normalised["registry_service_enclave_cpu_count"] == 1


def test_registry_debug_mode_true_passes_and_is_flagged():
    normalised, problems = oi.validate_host("registry-1", dict(REGISTRY, registry_service_debug_mode="True"), kind="registry")
    assert problems == []
    assert normalised["registry_service_debug_mode"] is True
    assert normalised["warnings"] == [
        "registry-1: registry_service_debug_mode: true: the enclave runs in DEBUG MODE; it attests with all-zero PCRs, "
        "so users' clients reject it. Never use it in production",
    ]


def test_registry_memory_against_image_size():
    dummy, problems = oi.validate_host("registry-1", REGISTRY, kind="registry", eif_size=3 * 2 ** 30)
    assert problems == [
        "registry-1: registry_service_enclave_memory_mib: 10000 MiB is less than 4 x the enclave image's size "
        "(3221225472 bytes); give at least 12288 MiB",
    ]


def test_many_hosts_of_a_kind():
    hosts = {"registry-2": dict(REGISTRY, registry_service_enclave_cpu_count=0), "registry-1": REGISTRY}
    dummy, problems = oi.validate_hosts(hosts, kind="registry")
    assert problems == ["registry-2: registry_service_enclave_cpu_count: must be a positive whole number of CPUs; got 0"]


# --- the allocator's CPU pool -----------------------------------------------------------------

POOL_MESSAGE = "is not a CPU list such as 1,9 or 2-3,10-11"


@pytest.mark.parametrize("pool, cpus", [
    ("1,9", 2),
    ("2-3,10-11", 4),
    ("3-3", 1),
    ("7", 1),
    ("1-4", 4),
    ("10-11,2-3", 4),  # in any order
    ("1,3-5,8", 5),
    (5, 1),  # YAML reads an unquoted single CPU as a number
])
def test_cpu_pools(pool, cpus):
    assert oi.allocator_pool_cpus(pool) == cpus


@pytest.mark.parametrize("pool", [None, "", False, 0])
def test_no_cpu_pool(pool):
    assert oi.allocator_pool_cpus(pool) is None


@pytest.mark.parametrize("pool", [
    "3-2",  # a reversed range
    "2-3,11-10",
    "1 and 5",  # garbage
    "one",
    "1, 9",  # spaces, which the role host_prep refuses
    " 1,9",
    "1,9 ",
    " ",
    "1,",
    ",1",
    "1-",
    "1-2-3",
    "1;9",
    "-1",
    "1,1",  # a CPU twice, which the allocator refuses
    "1-3,3",
    "2-5,4-6",
    True,
    -1,
    1.5,
    [1, 9],
    {"cpus": "1,9"},
])
def test_bad_cpu_pools(pool):
    assert error_of(oi.allocator_pool_cpus, pool) == POOL_MESSAGE


@pytest.mark.parametrize("pool", ["1-200000000", "8192", "9" * 5000, "1-" + "9" * 5000, "1,8190-8192"])
def test_cpu_pools_beyond_any_host_are_refused(pool):
    assert error_of(oi.allocator_pool_cpus, pool) == POOL_MESSAGE + "; it names CPUs beyond 8191, more than any host has"


def test_the_largest_cpu_pool():
    assert oi.allocator_pool_cpus("1-8191") == 8191


def test_cpu_pool_wins_over_the_count():
    # The allocator reserves the pool's CPUs (1 and 5: two), not the count (8).
    host = dict(GOOD, host_prep_allocator_cpu_count=8, host_prep_allocator_cpu_pool="1,5", oracle_service_enclave_cpu_count=4)
    normalised, problems = oi.validate_host("oracle-3", host)
    assert problems == [
        "oracle-3: oracle_service_enclave_cpu_count: the enclave's 4 CPUs do not fit in the 2 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_pool)",
    ]
    assert normalised["host_prep_allocator_cpu_pool"] == "1,5"
    # A pool large enough fits, and the count is then not even checked.
    host = dict(host, host_prep_allocator_cpu_pool="1-2,5-6", host_prep_allocator_cpu_count="lots")
    normalised, problems = oi.validate_host("oracle-3", host)
    assert problems == []
    assert "host_prep_allocator_cpu_count" not in normalised


def test_empty_cpu_pool_leaves_the_count():
    host = dict(GOOD, host_prep_allocator_cpu_pool="", oracle_service_enclave_cpu_count=3)
    normalised, problems = oi.validate_host("oracle-1", host)
    assert problems == [
        "oracle-1: oracle_service_enclave_cpu_count: the enclave's 3 CPUs do not fit in the 2 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_count)",
    ]
    assert normalised["host_prep_allocator_cpu_pool"] == ""


def test_bad_cpu_pool_is_one_message_and_nothing_is_compared_with_it():
    host = dict(GOOD, host_prep_allocator_cpu_pool="1 and 5", oracle_service_enclave_cpu_count=64)
    normalised, problems = oi.validate_host("oracle-1", host)
    assert problems == ["oracle-1: host_prep_allocator_cpu_pool: is not a CPU list such as 1,9 or 2-3,10-11"]
    assert "host_prep_allocator_cpu_pool" not in normalised
    assert "host_prep_allocator_cpu_count" not in normalised
    assert normalised["oracle_service_enclave_cpu_count"] == 64


def test_cpu_pool_from_the_defaults_and_for_registries():
    dummy, problems = oi.validate_host("registry-1", dict(REGISTRY, registry_service_enclave_cpu_count=2), kind="registry",
                                       defaults={"host_prep_allocator_cpu_pool": "3"})
    assert problems == [
        "registry-1: registry_service_enclave_cpu_count: the enclave's 2 CPUs do not fit in the 1 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_pool)",
    ]
    dummy, problems = oi.validate_host("registry-1", dict(REGISTRY, host_prep_allocator_cpu_pool="2-1"), kind="registry")
    assert problems == ["registry-1: host_prep_allocator_cpu_pool: is not a CPU list such as 1,9 or 2-3,10-11"]


# --- rollout settings -------------------------------------------------------------------------

BATCH_HINT = 'is not a batch size; give a positive number of hosts (2), a percentage of the group ("25%"), or a list of them'
FAIL_HINT = "is not a percentage; give a whole number from 0 to 100"


@pytest.mark.parametrize("batch", [
    1, 2, 1000, "1", "2", " 3 ", "1%", "25%", "100%", " 25%", "007",
    [1, "50%", "100%"], ["2"], [],
])
def test_good_rollout_batches(batch):
    assert oi.check_rollout_settings({"oracle_rollout_batch": batch}) == []


@pytest.mark.parametrize("batch, shown", [
    (0, "0"),
    ("0", '"0"'),
    ("0%", '"0%"'),
    ("101%", '"101%"'),
    ("150%", '"150%"'),
    (-1, "-1"),
    ("-1", '"-1"'),
    (True, "true"),
    (False, "false"),
    (2.0, "2.0"),
    ("2.5", '"2.5"'),
    ("25 %", '"25 %"'),
    ("25% ", '"25% "'),  # Ansible reads it as a number, and fails
    ("%", '"%"'),
    ("", '""'),
    ("all", '"all"'),
    ({"size": 2}, '{"size": 2}'),
])
def test_bad_rollout_batches(batch, shown):
    assert oi.check_rollout_settings({"oracle_rollout_batch": batch}) == ["oracle_rollout_batch: %s %s" % (shown, BATCH_HINT)]


def test_each_bad_item_of_a_batch_list_has_its_own_message():
    problems = oi.check_rollout_settings({"registry_rollout_batch": [1, "0%", True, "50%", "101%"]}, kind="registry")
    assert problems == [
        'registry_rollout_batch: "0%" ' + BATCH_HINT,
        "registry_rollout_batch: true " + BATCH_HINT,
        'registry_rollout_batch: "101%" ' + BATCH_HINT,
    ]


@pytest.mark.parametrize("percentage", [0, 1, 50, 100, "0", "50", " 100 "])
def test_good_max_fail_percentages(percentage):
    assert oi.check_rollout_settings({"oracle_rollout_max_fail_percentage": percentage}) == []


@pytest.mark.parametrize("percentage, shown", [
    (101, "101"),
    (150, "150"),
    ("101", '"101"'),
    (-1, "-1"),
    ("-1", '"-1"'),
    (True, "true"),
    (False, "false"),
    (50.5, "50.5"),
    (50.0, "50.0"),
    ("50%", '"50%"'),
    ("", '""'),
    ([10], "[10]"),
])
def test_bad_max_fail_percentages(percentage, shown):
    assert oi.check_rollout_settings({"oracle_rollout_max_fail_percentage": percentage}) == [
        "oracle_rollout_max_fail_percentage: %s %s" % (shown, FAIL_HINT)]


def test_omitted_or_null_rollout_settings_are_not_checked():
    assert oi.check_rollout_settings({}) == []
    assert oi.check_rollout_settings({"oracle_rollout_batch": None, "oracle_rollout_max_fail_percentage": None}) == []


def test_rollout_settings_of_the_other_kind_are_not_read():
    settings = {"registry_rollout_batch": "0%", "oracle_rollout_max_fail_percentage": 150}
    assert oi.check_rollout_settings(settings, kind="oracle") == ["oracle_rollout_max_fail_percentage: 150 " + FAIL_HINT]
    assert oi.check_rollout_settings(settings, kind="registry") == ['registry_rollout_batch: "0%" ' + BATCH_HINT]


def test_long_values_are_shortened_in_rollout_messages():
    problem = oi.check_rollout_settings({"oracle_rollout_batch": "x" * 500})[0]
    assert problem == 'oracle_rollout_batch: "%s... %s' % ("x" * 76, BATCH_HINT)


def test_rollout_hosts():
    hosts = {"oracle-1": {"oracle_rollout_batch": "0%", "oracle_rollout_max_fail_percentage": 150}}
    assert oi.validate_rollout_hosts(hosts) == [
        'oracle-1: oracle_rollout_batch: "0%" ' + BATCH_HINT,
        "oracle-1: oracle_rollout_max_fail_percentage: 150 " + FAIL_HINT,
    ]
    assert oi.validate_rollout_hosts({}) == []
    with pytest.raises(oi.OracleInputError, match="expects a mapping"):
        oi.validate_rollout_hosts(["oracle-1"])
    with pytest.raises(oi.OracleInputError, match="kind must be one of oracle, registry"):
        oi.validate_rollout_hosts(hosts, kind="fleet")
    with pytest.raises(oi.OracleInputError, match="rollout settings must be a mapping"):
        oi.validate_rollout_hosts({"oracle-1": "25%"})


def test_a_template_that_failed_is_named_as_such():
    # ansible-core 2.19 hands filters a failed template (here: a lookup of a file that is not there) as a marker.
    jinja_common = pytest.importorskip("ansible._internal._templating._jinja_common")
    marker = jinja_common.CapturedExceptionMarker.__new__(jinja_common.CapturedExceptionMarker)
    dummy, problems = oi.validate_oracle_host("oracle-1", dict(GOOD, oracle_service_registry=marker))
    assert len(problems) == 1
    assert problems[0].startswith("oracle-1: oracle_service_registry: ")
    assert "a template that could not be evaluated" in problems[0]
    assert "CapturedExceptionMarker" not in problems[0]
