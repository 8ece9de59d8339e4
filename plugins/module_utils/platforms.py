# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the supported platforms call things: package names and login users.

The platforms are the names :func:`host_state.platform_name` gives (``debian`` for Debian and Ubuntu,
``amazon2``, ``amazon2023``). The facts modules use these as their documented defaults, so a role
passes none of them.

Public API: :data:`PACKAGE_NAMES`, :data:`DOCKER_PACKAGES`, :data:`NITRO_CLI_PACKAGES`,
:data:`LOGIN_USERS`, :data:`SOCAT_BUILD_PACKAGES`.
"""

# Generic package names -> the distribution's names (a name not listed is used as it is; an empty list drops it).
PACKAGE_NAMES = {
    "debian": {"go": ["golang-go"], "python3-devel": ["python3-dev"], "python3-venv": ["python3-venv"],
               "python3-pip": ["python3-pip"]},
    # On Amazon Linux the python3 package ships the venv module.
    "amazon2": {"go": ["golang"], "python3-devel": ["python3-devel"], "python3-venv": [], "python3-pip": ["python3-pip"]},
    "amazon2023": {"go": ["golang"], "python3-devel": ["python3-devel"], "python3-venv": [],
                   "python3-pip": ["python3-pip"]},
}

# The distribution's docker (on Debian/Ubuntu wanted only when the host has no docker.service).
DOCKER_PACKAGES = {"debian": "docker.io", "amazon2": "docker", "amazon2023": "docker"}

# The Nitro Enclaves CLI packages of Amazon Linux (on Amazon Linux 2 the first from amazon-linux-extras).
NITRO_CLI_PACKAGES = ["aws-nitro-enclaves-cli", "aws-nitro-enclaves-cli-devel"]

# The login user of the EC2 images, by /etc/os-release ID.
LOGIN_USERS = {"amazon": "ec2-user", "debian": "admin", "ubuntu": "ubuntu"}

# What building socat from source needs installed.
SOCAT_BUILD_PACKAGES = {
    "debian": ["gcc", "make", "libc6-dev", "tar", "gzip"],
    "amazon2": ["gcc", "make", "glibc-devel", "tar", "gzip"],
    "amazon2023": ["gcc", "make", "glibc-devel", "tar", "gzip"],
}
