"""Fixtures the attestation modules' tests share: a test CA and its root certificate in a file."""

import pytest

import attestation_builder as builder


@pytest.fixture(name="ca", scope="module")
def fixture_ca():
    return builder.TestCA(builder.now())


@pytest.fixture(name="root_pem")
def fixture_root_pem(ca, tmp_path):
    path = tmp_path / "root.pem"
    path.write_bytes(ca.root_pem())
    return str(path)
