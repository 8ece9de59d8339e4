"""Shared code of the Nitro Enclaves host emulator (a test double for AWS Nitro hardware).

Standard library only. The executables next to this package (nitro-cli,
nitro-enclaves-allocator, docker, dockerd) put its parent directory on sys.path.
"""

EMULATOR_NAME = "nitro-emulator"
EMULATOR_VERSION = "1.0.0"
