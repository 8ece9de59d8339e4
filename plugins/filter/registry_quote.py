# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter registry_quote_verdict: an oracle judged by the registry's quote (the module registry_quote's result).

The logic lives in ``plugins/module_utils/registry_quote.py`` (the module registry_quote judges with it too); the filter is documented in
``registry_quote_verdict.yml`` beside this file.
"""

from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import verdict_of_result


def registry_quote_verdict(result, address, price_wei, provider=None, registry="the registry", busy=False):
    """The verdict on one oracle from a registered registry_quote result."""
    return verdict_of_result(result, address, price_wei, provider=provider, registry=registry, busy=busy)


class FilterModule:
    def filters(self):
        return {"registry_quote_verdict": registry_quote_verdict}
