# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters for the fleet's inputs: OPN amounts, Ethereum addresses and the preflight checks.

The rules live in ``plugins/plugin_utils/oracle_inputs.py`` (controller-side code); each
filter is documented in the YAML file of its name beside this one (``opn_to_wei.yml``,
``wei_to_opn.yml``, ``eth_checksum_address.yml``, ``oracle_input_errors.yml``,
``oracle_serve_settings.yml``, ``rollout_setting_errors.yml``, ``serving_input_errors.yml``).

Each filter imports its code when it runs: to find one filter, Ansible imports every filter file of the
collection in each worker process it forks.
"""

from ansible.errors import AnsibleFilterError


def _oracle_inputs():
    """plugins/plugin_utils/oracle_inputs.py, imported on first use."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils import oracle_inputs
    return oracle_inputs


def _filter_error(name, error):
    return AnsibleFilterError("opencontracts.enclave.%s: the value %s" % (name, error))


def opn_to_wei(value):
    """An OPN amount ("2.5 OPN") or a whole number of wei, as an int number of wei."""
    code = _oracle_inputs()
    try:
        return code.parse_price(value)
    except code.OracleInputError as error:
        raise _filter_error("opn_to_wei", error) from None


def wei_to_opn(value):
    """A whole number of wei as an exact OPN amount, e.g. "2.5 OPN"."""
    code = _oracle_inputs()
    try:
        return code.format_opn(value)
    except code.OracleInputError as error:
        raise _filter_error("wei_to_opn", error) from None


def eth_checksum_address(value):
    """An Ethereum address in its EIP-55 checksummed form."""
    code = _oracle_inputs()
    try:
        return code.to_checksum_address(value)
    except code.OracleInputError as error:
        raise _filter_error("eth_checksum_address", error) from None
    except code.MissingKeccakLibrary as error:
        raise AnsibleFilterError("opencontracts.enclave.eth_checksum_address: %s" % error) from None


def oracle_input_errors(hosts, eif_size=None, kind="oracle", defaults=None):
    """Every problem of every host's inputs (of an oracle or a registry), one message per bad value: "<host>: <variable>: <why>"."""
    code = _oracle_inputs()
    try:
        dummy, problems = code.validate_hosts(hosts, kind=kind, eif_size=eif_size, defaults=defaults)
    except (code.OracleInputError, code.MissingKeccakLibrary) as error:
        raise AnsibleFilterError("opencontracts.enclave.oracle_input_errors: %s" % error) from None
    return problems


def serving_input_errors(values, host, kind="oracle"):
    """A serving role's preflight on its host: the image it serves (enclave_build_result), then its inputs."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("opencontracts.enclave.serving_input_errors: expects the host's variables as a "
                                 "dictionary, got %s" % type(values).__name__)
    code = _oracle_inputs()
    try:
        return code.serving_host_errors(host, values, kind=kind)
    except (code.OracleInputError, code.MissingKeccakLibrary) as error:
        raise AnsibleFilterError("opencontracts.enclave.serving_input_errors: %s" % error) from None


def oracle_serve_settings(values):
    """The settings an oracle's serve script gets (PROVIDER, REGISTRY, PRICE, NO_DEMAND_TIMEOUT, extras), normalised."""
    code = _oracle_inputs()
    try:
        return code.oracle_serve_settings(values)
    except code.OracleInputError as error:
        raise AnsibleFilterError("opencontracts.enclave.oracle_serve_settings: %s" % error) from None
    except code.MissingKeccakLibrary as error:
        raise AnsibleFilterError("opencontracts.enclave.oracle_serve_settings: %s" % error) from None


def rollout_setting_errors(hosts, kind="oracle"):
    """Every problem of the rollout settings the given hosts hold, one message per bad value: "<host>: <variable>: <why>"."""
    code = _oracle_inputs()
    try:
        return code.validate_rollout_hosts(hosts, kind=kind)
    except code.OracleInputError as error:
        raise AnsibleFilterError("opencontracts.enclave.rollout_setting_errors: %s" % error) from None


class FilterModule(object):
    """The input filters of opencontracts.enclave: amounts, addresses and the preflight checks."""

    def filters(self):
        return {
            "opn_to_wei": opn_to_wei,
            "wei_to_opn": wei_to_opn,
            "eth_checksum_address": eth_checksum_address,
            "oracle_input_errors": oracle_input_errors,
            "oracle_serve_settings": oracle_serve_settings,
            "rollout_setting_errors": rollout_setting_errors,
            "serving_input_errors": serving_input_errors,
        }
