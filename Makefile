# Gempita Edge — the two commands: `make demo` and `make test` (see README.md).
# Both install what they need on a fresh Debian 12 machine (as root): Debian packages with
# apt-get --no-install-recommends, Python packages into .venv.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PACKAGES := core gateway drivers kiosk broker simulators central

.PHONY: demo test lint typecheck pytest system-deps venv bench clean

demo: system-deps $(STAMP)
	$(BIN)/gempita demo

test: system-deps $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict $(PACKAGES)

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

# Debian packages: mosquitto (the broker in the demo and tests), chromium (kiosk browser
# tests), python3-venv (a Debian python3 cannot make a venv without it), systemd
# (systemd-analyze verifies the units), dbus-daemon (a private bus for the BlueZ pairing
# agent's tests), postgresql (central's production store: the tests start their own server
# from /usr/lib/postgresql/<ver>/bin, as the package's `postgres` user; the cluster the package
# may create and start on port 5432 is not used). Installed only when missing.
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	[ -x /usr/lib/chromium/chromium ] || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	[ -x /usr/bin/dbus-daemon ] || missing="$$missing dbus-daemon"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# Benchmarks are not part of `make test` (a smoke run of each is). See bench/README.md.
bench: system-deps $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) demo-state .mypy_cache .ruff_cache .pytest_cache
