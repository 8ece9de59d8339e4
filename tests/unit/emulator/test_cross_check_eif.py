"""The emulator's EIFs measured twice, independently: by the emulated nitro-cli and by the collection.

The emulator never imports the collection; this test imports both, so a drift
between the emulator's writer and the collection's reader shows up here.
"""

import os
import subprocess

from ansible_collections.opencontracts.enclave.plugins.module_utils import eif


def test_unsigned_eif_measures_the_same(docker_emu):
    docker_emu.build_image("oracle:1", {"serve.sh": "#!/bin/sh\nexec oracle\n", "data.bin": os.urandom(300000)})
    output = os.path.join(docker_emu.root, "oracle.eif")
    built = docker_emu.build_eif("oracle:1", output)

    measured = eif.measure(output, require_crc=True)
    described = docker_emu.cli("describe-eif", "--eif-path", output).json()

    for pcr in ("PCR0", "PCR1", "PCR2"):
        assert measured.measurements[pcr] == built[pcr] == described["Measurements"][pcr]
    assert measured.crc_ok and described["CheckCRC"]
    assert measured.version == described["EifVersion"] == 4
    assert measured.ramdisk_count == 2
    assert not measured.is_signed


def test_signed_eif_measures_the_same(docker_emu, tmp_path):
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-out", cert, "-days", "2", "-subj", "/CN=provider"],
                   check=True, capture_output=True)
    docker_emu.build_image("oracle:signed", {"serve.sh": "#!/bin/sh\nexec oracle\n"})
    output = os.path.join(docker_emu.root, "signed.eif")
    built = docker_emu.build_eif("oracle:signed", output, "--signing-certificate", cert, "--private-key", key)

    measured = eif.measure(output, require_crc=True)

    assert measured.is_signed
    for pcr in ("PCR0", "PCR1", "PCR2", "PCR8"):
        assert measured.measurements[pcr] == built[pcr]
