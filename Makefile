# pgha.repmgr: build, test and demo. `make test` is what CI runs (.ci/run).
# Every target first runs `bootstrap`, which installs what is missing and is silent otherwise.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Stages run one after the other, in the order given, and stop at the first failure.
.NOTPARALLEL:

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(shell $(ROOT)/scripts/venv_path.sh)
PY := $(VENV)/bin/python
COLLECTIONS := $(ROOT)/build/collections

# The working tree is the collection pgha.repmgr (build/collections/.../pgha/repmgr -> .) for
# everything started from here: pytest, ansible*, ansible-rulebook, molecule, ansible-lint
# (the same path as ansible.cfg's collections_path).
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS):~/.ansible/collections:/usr/share/ansible/collections

PYTEST_ARGS ?=
SANITY_ARGS ?=

stage = @printf '\n==== %s ====\n' '$(1)'

.PHONY: galaxy-check help bootstrap test unit sanity integration molecule lint demo build clean distclean bench

help:
	@echo 'make demo         the repmgrd demonstration on a 3-node loopback cluster (scripts/demo.sh)'
	@echo 'make test         everything CI runs: unit, lint, sanity, integration, molecule'
	@echo 'make unit         pytest tests/unit                 (PYTEST_ARGS=... to pass options)'
	@echo 'make sanity       ansible-test sanity, all tests    (SANITY_ARGS="--test pylint" for one), then galaxy-check'
	@echo 'make integration  pytest tests/integration (real PostgreSQL servers on 127.0.0.11-13)'
	@echo 'make molecule     molecule test (molecule/default)'
	@echo 'make lint         ansible-lint, production profile, offline'
	@echo 'make bench        cluster show and failover time beside the real repmgr/repmgrd (ratios)'
	@echo 'make build        the collection tarball in build/'
	@echo 'make galaxy-check Galaxy'"'"'s importer on the tarball (stand-in repository URL until galaxy.yml has one)'
	@echo 'make bootstrap    install what is missing (Debian packages as root, .venv)'
	@echo 'make clean        remove build/ and caches, destroy leftover test clusters'
	@echo 'make distclean    clean, and remove .venv'

bootstrap:
	@$(ROOT)/scripts/bootstrap.sh

test: bootstrap unit lint sanity integration molecule
	@printf '\n==== make test: unit, lint, sanity, integration and molecule passed ====\n'

unit: bootstrap
	$(call stage,unit tests: pytest tests/unit)
	@$(ROOT)/scripts/pytest_stage.sh tests/unit $(PYTEST_ARGS)

sanity: bootstrap
	$(call stage,ansible-test sanity)
	@$(ROOT)/scripts/sanity.sh $(SANITY_ARGS)
	$(call stage,galaxy-importer on the collection tarball)
	@$(ROOT)/scripts/galaxy_check.sh

integration: bootstrap
	$(call stage,integration tests: pytest tests/integration)
	@$(ROOT)/scripts/pytest_stage.sh tests/integration $(PYTEST_ARGS)

molecule: bootstrap
	$(call stage,molecule test)
	@$(ROOT)/scripts/molecule_stage.sh

lint: bootstrap
	$(call stage,ansible-lint)
	@cd $(ROOT) && ansible-lint --offline

demo: bootstrap
	@$(ROOT)/scripts/demo.sh

build: bootstrap
	$(call stage,collection build)
	@$(ROOT)/scripts/build.sh

galaxy-check: bootstrap
	$(call stage,galaxy-importer on the collection tarball)
	@$(ROOT)/scripts/galaxy_check.sh

clean:
	@$(ROOT)/scripts/clean.sh

distclean: clean
	rm -rf $(VENV)

bench: bootstrap
	$(call stage,benchmarks - cluster show and automatic failover: ours beside the real repmgr and repmgrd)
	@cd $(ROOT) && PGHA_DATA_ROOT=$${PGHA_DATA_ROOT:-/tmp/pgha-bench} $(PY) bench/cluster_info.py
	@cd $(ROOT) && PGHA_DATA_ROOT=$${PGHA_DATA_ROOT:-/tmp/pgha-bench} $(PY) bench/failover.py
