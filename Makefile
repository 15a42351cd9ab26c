# archy-lifecycle: every target bootstraps what it needs (`setup`), so on a fresh Debian machine
#   make test          the project's own tests (unit, real sshd, stand-ins, reconciler, embedded VM); make test-full adds the VM suites in progress
#   make beta-matrix   the lifecycle grid against the embedded VM (or NODE=ssh://...), reports, gate
# Variables: NODE="ssh://user@host?disposable=1 ..." (several = one worker each), APPS=lnd,btcpay,
# EVENTS=fresh_install,..., SOAK=5m, ALLOW_DESTRUCTIVE=1, PLATFORM=archipelago (platforms/*.yaml),
# PYTEST_ARGS="-x -k ...", CHAOS=1 or CHAOS_EXPERIMENTS=a,b (the chaos suite after the grid),
# SOAK_RESULTS=results/soak/latest (the nightly soak's verdict level 7 asks for);
# make prove also takes VARIANTS=a,b and REFERENCE=results/cells.json (see ci/prove.py).

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
PY          := .venv/bin/python
STAMP       := .venv/.archy-setup-done
RESULTS     := results
SOAK        ?= 5m
DEB_PKGS    := qemu-system-x86 qemu-utils mmdebstrap openssh-client openssh-server e2fsprogs curl
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

TARGET_ARGS := $(foreach n,$(NODE),--node '$(n)') $(if $(ALLOW_DESTRUCTIVE),--allow-destructive)
ifneq ($(PLATFORM),)
export ARCHY_PLATFORM := $(PLATFORM)
endif
SEL_ARGS    := $(if $(APPS),--apps '$(APPS)') $(if $(EVENTS),--events '$(EVENTS)')
PYTEST      := $(PY) -m pytest
CHAOS_RUN   := $(if $(CHAOS)$(CHAOS_EXPERIMENTS),1)
LEVEL_ARGS  := $(if $(SOAK_RESULTS),--soak-results '$(SOAK_RESULTS)')

.PHONY: setup lock ci-install test test-full beta-matrix chaos soak dev report prove clean distclean

setup: $(STAMP)

# Debian packages when missing (dpkg -s first, one apt-get update, no recommends: a CI runner needs
# no GTK or SDL for a headless QEMU), then the venv from requirements.lock: every distribution
# pinned with its hashes (the project's own build backend included, so `-e .` builds offline from
# the venv), and the project itself without resolving anything. The stamp makes a second run instant.
$(STAMP): pyproject.toml requirements.lock
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ ! -x $(PY) ]; then \
	  py=""; for c in $$(command -v python3.12) $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python 2>/dev/null | sort -rV) python3; do \
	    if "$$c" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then py=$$c; break; fi; \
	  done; \
	  [ -n "$$py" ] || { echo "setup: Python >= 3.12 not found: install python3.12 (apt) or 'pyenv install 3.12'" >&2; exit 1; }; \
	  echo "setup: creating .venv with $$py"; "$$py" -m venv .venv; \
	fi
	@echo "setup: pip install from requirements.lock (hashed), then -e . (log in .venv/pip.log)"
	@{ $(PY) -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock && \
	   $(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . && \
	   $(PY) -m pip check; } >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
	@touch $@

# A Gitea act_runner host (README "CI runners"): what host-mode jobs need besides setup.
# actions/checkout is a Node.js action, and the host runs it with the node on its PATH.
ci-install: setup
	@command -v node >/dev/null 2>&1 || { echo "ci-install: installing Node.js (actions/checkout needs it on a host-mode runner)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs; }
	@[ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1 || { echo "ci-install: neither root nor sudo: the runner's user needs one to install packages" >&2; exit 1; }
	@echo "ci-install: ready: node $$(node --version), $$(.venv/bin/python --version); now: act_runner register --labels archy-lifecycle:host"

# make test: every test shown green on the embedded VM under TCG here: the pure units, a real
# sshd, the stand-ins, the reconciler on a fake system and on the VM, the VM itself and the harness
# on it, two chaos experiments (clock jump with its rollback, a deleted nginx snippet), one grid
# cell on the rootless embedded node through the VM's own path (GRID_SMOKE), and the rehearsal
# of the real-node path: a grid subset (lnd with bitcoin-knots through install, UI, Tor, stop,
# restart, reboot, reinstall, uninstall) against the VM addressed as a plain SSH node with a sudo
# login (tests/rehearsal). The same subset through the VM's own path (snapshots, power cut)
# and the long VM runs of soak, dev loop and fleet are in `make test-full`; `make beta-matrix`
# runs the whole grid through the VM's path.
# Selected by marker (pyproject.toml): `grid` cells and the `rehearsal` run on their own; `slow`
# is the long VM runs; `vm` (every test that reaches the VM) is for -m "not vm".
GRID_FAST   := --apps lnd --events fresh_install,ui_direct_port,ui_https_proxy,ui_iframe,tor_onion,stop_ports_released,restart_integrations,reboot_survival,reinstall_idempotent,uninstall_no_orphans

GRID_SMOKE  := --apps bitcoin-knots --events fresh_install

# Two sequences side by side (ci/side_by_side.py), each on its own single-threaded TCG VM, so one
# host core each: most suites on the session's VM (vm0) in the foreground; the grid cell, the VM's
# own tests and the rehearsal on VM vm1 in the background, their output printed when they end
# (each run its own results dir). Every step runs whatever the others returned; the first
# non-zero exit status is make's. Split so both take about as long (docs/performance.md).
TEST_MARKS  := -m 'not grid and not slow and not rehearsal'
TEST_FG     := $(PYTEST) tests --ignore=tests/vm $(TEST_MARKS) $(PYTEST_ARGS)
TEST_BG     := --background "$(PYTEST) --vm-name vm1 tests/grid $(GRID_SMOKE) --results-dir $(RESULTS)/test-grid $(PYTEST_ARGS)" \
               --background "$(PYTEST) --vm-name vm1 tests/vm $(TEST_MARKS) --results-dir $(RESULTS)/test-vm $(PYTEST_ARGS)" \
               --background "$(PYTEST) --vm-name vm1 tests/rehearsal -m rehearsal --results-dir $(RESULTS)/test-rehearsal $(PYTEST_ARGS)"

test: setup
	$(PY) ci/side_by_side.py --results-dir $(RESULTS) $(TEST_BG) -- "$(TEST_FG)"

test-full: setup
	$(PYTEST) tests -m "not grid and not rehearsal" $(PYTEST_ARGS)
	$(PYTEST) tests/rehearsal -m rehearsal $(PYTEST_ARGS)
	$(PYTEST) tests/grid $(GRID_FAST) --results-dir $(RESULTS)/test-grid $(PYTEST_ARGS)

# The grid, then (CHAOS=1 or CHAOS_EXPERIMENTS=a,b) the chaos suite into the same results: each
# experiment a MUST cell chaos:<experiment> of every app it judges (harness/chaos_cells.py; an
# unknown experiment name stops here first, with the known ones), then the reports, then the gate.
# The gate decides the exit status (SHOULD cells may fail) and its verdict heads the grid page
# (results/gate.json, the report rendered again after it); pytest's own errors (usage,
# interrupted, internal) stop here with its code. The chaos run keeps its JUnit and Allure files
# under results/chaos/, so the grid's stay as they are.
beta-matrix: setup
	$(if $(CHAOS_RUN),$(PY) -m chaos.catalog --check '$(CHAOS_EXPERIMENTS)')
	@mkdir -p $(RESULTS); [ ! -f $(RESULTS)/cells.json ] || mv -f $(RESULTS)/cells.json $(RESULTS)/previous-cells.json
	@rc=0; $(PYTEST) tests/grid $(TARGET_ARGS) $(SEL_ARGS) --results-dir $(RESULTS) --soak-duration $(SOAK) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "beta-matrix: pytest exited $$rc: no verdict" >&2; exit $$rc; fi
ifneq ($(CHAOS_RUN),)
	@$(PY) -m chaos.summary --fresh '$(RESULTS)' || exit 2; rc=0; \
	ARCHY_CHAOS_SUITE=all ARCHY_CHAOS_EXPERIMENTS='$(CHAOS_EXPERIMENTS)' $(PYTEST) tests/chaos/test_experiments.py $(TARGET_ARGS) \
	  --results-dir $(RESULTS) --junitxml $(RESULTS)/chaos/junit.xml --alluredir $(RESULTS)/chaos/allure || rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "beta-matrix: chaos pytest exited $$rc: no verdict" >&2; exit $$rc; fi
	$(PY) -m harness.chaos_cells $(RESULTS)/cells.json --experiments '$(CHAOS_EXPERIMENTS)'
endif
	$(PY) -m harness.report $(RESULTS)/cells.json --print $(LEVEL_ARGS)
	@prev=""; [ ! -f $(RESULTS)/previous-cells.json ] || prev="--previous $(RESULTS)/previous-cells.json"; \
	$(if $(APPS)$(EVENTS)$(CHAOS_EXPERIMENTS),prev=--selection;) rc=0; set -x; \
	ci/gate $(RESULTS)/cells.json $$prev $(LEVEL_ARGS) --write $(RESULTS)/gate.json || rc=$$?; { set +x; } 2>/dev/null; \
	$(PY) -m harness.report $(RESULTS)/cells.json $(LEVEL_ARGS) >/dev/null; exit $$rc

# The chaos suite (every experiment, or CHAOS_EXPERIMENTS=a,b; an unknown name stops here with the
# known ones); CHAOS_VARIANTS=1 also runs each against the broken variant it must catch.
chaos: setup
	$(if $(CHAOS_EXPERIMENTS),$(PY) -m chaos.catalog --check '$(CHAOS_EXPERIMENTS)')
	ARCHY_CHAOS_SUITE=all ARCHY_CHAOS_EXPERIMENTS='$(CHAOS_EXPERIMENTS)' ARCHY_CHAOS_VARIANTS=$(if $(CHAOS_VARIANTS),1,0) $(PYTEST) tests/chaos $(TARGET_ARGS) --results-dir $(RESULTS) $(PYTEST_ARGS)

# Soak report (harness/soak): installs the full stack (or APPS) on the target, samples every
# SOAK/20 (15s..5m) for SOAK into results/soak/<run>/timeline.jsonl, renders report.html +
# summary.md; exit 1 when the verdict fails. RESUME=results/soak/<run>/timeline.jsonl continues one.
soak: setup
	$(PY) -m harness.soak run --duration $(SOAK) $(if $(NODE),--node '$(firstword $(NODE))') $(if $(APPS),--apps '$(APPS)') $(if $(RESUME),--resume '$(RESUME)') $(SOAK_ARGS)

# Developer loop (harness/dev.py): runs the selected cells, live grid, re-runs on Enter or a
# changed file; Ctrl-C leaves the node in a known state. EVENTS takes words: install,restart,ui.
dev: setup
	$(PY) -m harness.dev $(TARGET_ARGS) $(SEL_ARGS) $(PYTEST_ARGS)

# The Allure HTML first (allurerc.json: its history, results/allure-history.jsonl, grows with every
# run; CI carries it in the Actions cache), then the grid pages, which link it when it is there.
report: setup
	@if command -v npx >/dev/null 2>&1; then \
	  npx --yes allure@3.18.0 generate $(RESULTS)/allure --output $(RESULTS)/allure-report && echo "report: $(RESULTS)/allure-report/index.html"; \
	else echo "report: Node.js (npx) not found: skipping the Allure HTML ($(RESULTS)/allure holds the raw results)"; fi
	$(PY) -m harness.report $(RESULTS)/cells.json --print $(LEVEL_ARGS)

prove: setup
	$(PY) ci/prove.py $(TARGET_ARGS) $(SEL_ARGS) $(if $(VARIANTS),--variants '$(VARIANTS)') $(if $(REFERENCE),--reference '$(REFERENCE)') $(PYTEST_ARGS)

# requirements.lock from pyproject.toml (its pins, the dev extra, the build backend), with hashes;
# run after changing a dependency. pip-tools runs from its own venv in the project's cache (kept
# for the next time, never in .venv).
lock:
	@py=$$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python 2>/dev/null | sort -rV | head -1); py=$${py:-python3.12}; \
	venv="$${ARCHY_CACHE:-$$HOME/.cache/archy-lifecycle}/pip-tools-7.7.0"; \
	{ [ -x "$$venv/bin/pip-compile" ] || { "$$py" -m venv "$$venv" && "$$venv/bin/pip" install -q pip-tools==7.7.0; }; } && \
	"$$venv/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --extra dev --build-deps-for editable \
	  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(RESULTS) reports allure-results .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv *.egg-info
