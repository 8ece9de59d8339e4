# One command for everything: `make test` sets up what is missing, then runs every test level.
# Set-up steps are skipped when already done, so a warm re-run starts testing within seconds.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PYTHON      := $(VENV)/bin/python
VENV_STAMP  := $(VENV)/.requirements-installed
HARNESS     := tests/harness
SUDO        := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Podman settings for this kind of machine (runc, cgroupfs, modest ulimits).
export CONTAINERS_CONF := $(CURDIR)/$(HARNESS)/containers.conf
# The collection under test is this working tree, linked as opencontracts.enclave.
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The molecule hosts' image, tagged by the hash of its recipe.
export MOLECULE_TEST_IMAGE := $(shell $(HARNESS)/build-image.sh --print-ref)

.PHONY: help setup test unit lint sanity molecule bench-pcr bench-host-prep bench-enclave-build bench-sandbox bench-roles bench-distribution changelog clean

help:
	@echo "make test       set up (apt packages, .venv, test image) and run every test level"
	@echo "make setup      only the set-up"
	@echo "make unit | lint | sanity | molecule   one test level (after setup)"
	@echo "make bench-pcr  PCR measurement benchmark (tests/bench/pcr.py; docs/benchmarks.md)"
	@echo "make bench-host-prep   converge benchmark of host_prep and socat on emulated hosts (tests/bench/host_prep.sh)"
	@echo "make bench-enclave-build   enclave image builds on emulated hosts: strategy once vs per_host (tests/bench/enclave_build.sh)"
	@echo "make sandbox    three emulated oracle hosts and a registry in podman (UPSTREAM=<dir>: another enclave repository)"
	@echo "make sandbox-clean   remove them"
	@echo "make bench-sandbox   first converge, no-op and price-change runs of the sandbox (tests/bench/sandbox.sh)"
	@echo "make bench-fleet     oracle.yml and status.yml on 1, 5 and 20 emulated hosts, before and after the fleet tuning (HOSTS=\"1 5\"; tests/bench/fleet.sh)"
	@echo "make bench-distribution   a 1 GiB enclave image to 1, 5 and 20 emulated hosts, through the controller vs S3 (HOSTS, ROUNDS, EIF_MIB, S3_SERVER=s3rver|moto; tests/bench/distribution.sh)"
	@echo "make bench-roles     the roles' YAML and Jinja, and the tasks a no-op oracle.yml evaluates per sandbox host (tests/bench/roles.sh)"
	@echo "make changelog  CHANGELOG.md from changelogs/ (antsibull-changelog; one fragment per change in changelogs/fragments/)"
	@echo "make clean      remove .venv, caches and the test image"

setup: system-packages $(VENV_STAMP) collection-link test-image

# podman and debootstrap from the distribution when missing (Debian or Ubuntu).
.PHONY: system-packages
system-packages:
	@$(HARNESS)/system-packages.sh

$(VENV_STAMP): requirements-dev.txt
	@echo "creating $(VENV) with the pinned development requirements"
	@python3 -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

.PHONY: collection-link
collection-link:
	@mkdir -p .cache/collections/ansible_collections/opencontracts
	@ln -sfn ../../../.. .cache/collections/ansible_collections/opencontracts/enclave

.PHONY: test-image
test-image: system-packages
	@$(HARNESS)/build-image.sh

test: setup
	@$(HARNESS)/run-levels.sh unit lint sanity molecule

unit lint sanity molecule: setup
	@$(HARNESS)/run-levels.sh $@

# The benchmarks (docs/benchmarks.md): one script each under tests/bench/.
BENCH       := tests/bench

bench-pcr: $(VENV_STAMP) collection-link
	$(PYTHON) $(BENCH)/pcr.py

# Converge benchmarks on emulated hosts; ROUNDS=N to change the rounds.
bench-host-prep: setup
	$(BENCH)/host_prep.sh $(or $(ROUNDS),3)

bench-enclave-build: setup
	$(BENCH)/enclave_build.sh $(or $(BUILD_SECONDS),60) $(or $(ROUNDS),1)

# The local sandbox: three oracle hosts and a registry in podman containers with the Nitro hardware
# emulated, served by playbooks/registry.yml and oracle.yml (inventories/sandbox). Running it again
# changes nothing. UPSTREAM=<dir>: another copy of the enclave repository instead of the fixture.
.PHONY: sandbox sandbox-clean
sandbox: $(VENV_STAMP) collection-link test-image
	@$(HARNESS)/sandbox.sh up $(if $(UPSTREAM),--upstream $(UPSTREAM))

sandbox-clean:
	@$(HARNESS)/sandbox.sh clean

bench-sandbox: $(VENV_STAMP) collection-link test-image
	$(BENCH)/sandbox.sh

bench-roles: $(VENV_STAMP) collection-link test-image
	$(BENCH)/roles.sh

# Fleet scale (docs/benchmarks.md): 1, 5 and 20 emulated hosts over SSH, the collection before the fleet
# tuning with Ansible's defaults against this tree with ansible.cfg; HOSTS, MODES, ROUNDS and
# BASELINE_REV override (tests/bench/fleet.sh).
.PHONY: bench-fleet
bench-fleet: $(VENV_STAMP) collection-link test-image
	HOSTS="$(or $(HOSTS),1 5 20)" $(BENCH)/fleet.sh

# Image distribution (docs/benchmarks.md): the builder's verified EIF (EIF_MIB of padding, default 1 GiB) to 1, 5
# and 20 emulated receivers, enclave_build_distribution controller vs s3 (an S3 server in a container: s3rver,
# which streams from disk, or S3_SERVER=moto), side by side; HOSTS, ROUNDS, EIF_MIB, MODES and S3_SERVER override
# (tests/bench/distribution.sh).
.PHONY: bench-distribution
bench-distribution: $(VENV_STAMP) collection-link test-image
	HOSTS="$(or $(HOSTS),1 5 20)" ROUNDS="$(or $(ROUNDS),3)" EIF_MIB="$(or $(EIF_MIB),1024)" $(BENCH)/distribution.sh

# CHANGELOG.md from changelogs/changelog.yaml and the fragments of the changes not released yet
# (tests/harness/changelog.sh).
changelog: $(VENV_STAMP) collection-link
	@$(HARNESS)/changelog.sh

clean:
	rm -rf $(VENV) .cache tests/output
	-podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/opencontracts-enclave-testhost:' | xargs -r podman rmi
