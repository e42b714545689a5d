# Two commands: `make run` (the dashboard with a demo world) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
KEYFILE := var/encryption.key
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The embedded default: SQLite + the django-q2 ORM broker, a local key file, DEBUG on, and
# the demo accounts and their subtitle files on the simulator at 127.0.0.1.
RUN_ENV := DEBUG=true CLAPBOARD_ENCRYPTION_KEY_FILE=$(KEYFILE) \
	CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS=true CLAPBOARD_ALLOW_LOOPBACK_FETCH=true

.PHONY: run test venv lint typecheck browser bench-refresh bench-pages clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(KEYFILE): | $(STAMP)
	mkdir -p var
	umask 077 && $(PY) -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > $(KEYFILE)

run: $(STAMP) $(KEYFILE)
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py demo
	$(RUN_ENV) exec $(PY) manage.py run

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Browser tests drive Debian's chromium through Playwright; never a downloaded browser.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }; }

lint: $(STAMP)
	$(PY) -m ruff check .

# mypy with django-stubs; files, strictness and plugins come from [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) var
