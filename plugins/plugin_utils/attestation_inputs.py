# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rules of the attestation probe's settings, shared by the roles that probe (controller only).

The roles fleet_report (``fleet_report_attest*``) and enclave_service (``enclave_service_attest*``)
name the same settings under their own prefix: ``<prefix>attest`` (bool), ``<prefix>attest_url``
(ws:// or wss://), ``<prefix>attest_timeout`` (seconds, above 0, at most 120),
``<prefix>attest_max_age_seconds`` (above 0) and ``<prefix>attest_root_certificate`` (empty or an
absolute path). A setting absent from ``settings`` is not checked.

The registry's quote stage has its settings under the same prefixes (:func:`registry_quote_errors`):
``<prefix>registry_quote`` (bool), ``<prefix>registry_quote_from`` (controller or host),
``<prefix>registry_quote_url`` (ws:// or wss://), ``<prefix>registry_quote_address`` (not empty),
``<prefix>registry_quote_timeout`` (as the probe's) and ``<prefix>registry_quote_retries`` (0 or more).
"""

BOOLEANS = (True, False, "true", "false", "True", "False", "yes", "no")
TRUE = (True, "true", "True", "yes")


def _number(value, kind=float):
    if isinstance(value, bool):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _url_error(name, url, need_host=True):
    """Why ``url`` is not a WebSocket address (a message), or None. With ``need_host`` the part before any port
    must not be empty either."""
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        rest = ""
    else:
        rest = url.split("://", 1)[1]
        if need_host:
            rest = rest.split(":", 1)[0]
    if not rest:
        return "%s must be a ws:// or wss:// address%s (got %r)" % (name, " with a host" if need_host else "", url)
    return None


def attest_errors(settings, prefix):
    """One message per bad ``<prefix>attest*`` setting in ``settings`` (variable name -> value)."""
    errors = []
    name = prefix + "attest"
    if name in settings and settings[name] not in BOOLEANS:
        errors.append("%s must be true or false (got %r)" % (name, settings[name]))
    name = prefix + "attest_url"
    if name in settings:
        error = _url_error(name, settings[name], need_host=False)
        if error:
            errors.append(error)
    name = prefix + "attest_timeout"
    if name in settings:
        timeout = _number(settings[name])
        if timeout is None or not 0 < timeout <= 120:
            errors.append("%s must be more than 0 and at most 120 seconds (got %r)" % (name, settings[name]))
    name = prefix + "attest_max_age_seconds"
    if name in settings:
        age = _number(settings[name], int)
        if age is None or age <= 0:
            errors.append("%s must be a number of seconds above 0 (got %r)" % (name, settings[name]))
    name = prefix + "attest_root_certificate"
    root = settings.get(name)
    if root and not str(root).startswith("/"):
        errors.append("%s must be empty or an absolute path on the controller (got %r)" % (name, root))
    return errors


QUOTE_FROM = ("controller", "host")


def registry_quote_errors(settings, prefix):
    """One message per bad ``<prefix>registry_quote*`` setting in ``settings`` (variable name -> value)."""
    errors = []
    name = prefix + "registry_quote"
    if name in settings and settings[name] not in BOOLEANS:
        errors.append("%s must be true or false (got %r)" % (name, settings[name]))
    name = prefix + "registry_quote_from"
    if name in settings and settings[name] not in QUOTE_FROM:
        errors.append("%s must be one of %s (got %r)" % (name, ", ".join(QUOTE_FROM), settings[name]))
    name = prefix + "registry_quote_url"
    if name in settings:
        error = _url_error(name, settings[name])
        if error:
            errors.append(error)
    name = prefix + "registry_quote_address"
    if name in settings and (not isinstance(settings[name], str) or not settings[name].strip()):
        errors.append("%s must be the oracle's address as the registry knows it (got %r)" % (name, settings[name]))
    name = prefix + "registry_quote_timeout"
    if name in settings:
        timeout = _number(settings[name])
        if timeout is None or not 0 < timeout <= 120:
            errors.append("%s must be more than 0 and at most 120 seconds (got %r)" % (name, settings[name]))
    name = prefix + "registry_quote_retries"
    if name in settings:
        retries = _number(settings[name], int)
        if retries is None or retries < 0:
            errors.append("%s must be a whole number, 0 or more (got %r)" % (name, settings[name]))
    return errors
