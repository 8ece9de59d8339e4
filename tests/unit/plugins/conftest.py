"""Shared fixtures for the plugin unit tests: the test-side EIF builder and a signing certificate."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import eif_builder  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def openssl():
    """Skip tests that need the openssl command line tool when it is missing."""
    if not eif_builder.openssl_available():
        pytest.skip("the openssl command is needed to compute expected PCRs independently")
    return "openssl"


@pytest.fixture(scope="session")
def signing_certificate(openssl, tmp_path_factory):  # pylint: disable=redefined-outer-name,unused-argument
    """(PEM bytes, DER bytes) of a self-signed EC P-384 certificate made by openssl for this test session."""
    return eif_builder.make_certificate(str(tmp_path_factory.mktemp("signer")))
