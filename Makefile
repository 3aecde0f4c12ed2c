# Liaison: `make run` starts the product on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
CHROMIUM := /usr/bin/chromium
# `make run HOST=0.0.0.0 PORT=5055`: where `liaison run` listens.
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup bundle chromium slapd run test lint clean bench messages

# Compiled message catalogs (*.mo) are build products, never committed: made from the .po files here.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))

setup: $(STAMP) node_modules/.stamp $(MO_FILES) bundle

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The browser tests (tests/forms/test_browser.py) drive this Chromium; Playwright downloads no browser.
# Only a test -x when it is there; otherwise apt-get, and a note (not a failure) when that cannot work:
# the tests then skip locally and fail in CI, saying why.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Chromium is missing: installing the chromium package for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		if ! { DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium \
			|| { $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }; }; then \
			echo "NOTE: could not install chromium with apt-get: tests/forms/test_browser.py will be skipped here and fail in CI"; \
		fi; \
	fi
	@# Chinese glyphs for the screenshots (docs/screenshots); without them the pages still work.
	@if [ -x $(CHROMIUM) ] && ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q fonts-noto-cjk >/dev/null 2>&1 \
			|| echo "NOTE: fonts-noto-cjk not installed: Chinese text in screenshots shows as boxes"; \
	fi

# The LDAP sign-in tests (tests/web/test_sso_ldap.py) start OpenLDAP's slapd on a free port with a
# temporary configuration; the server is not run as a service. apt-get only when it is missing.
slapd:
	@if [ ! -x /usr/sbin/slapd ]; then \
		echo "slapd is missing: installing slapd and ldap-utils for the LDAP sign-in tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		if ! { DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q slapd ldap-utils \
			|| { $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q slapd ldap-utils; }; }; then \
			echo "NOTE: could not install slapd with apt-get: tests/web/test_sso_ldap.py will be skipped here and fail in CI"; \
		fi; \
	fi

# Browser libraries (bpmn-js for the diagram viewer) from npm; a note, not a failure, without npm.
node_modules/.stamp: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "NOTE: npm not found: task pages will show no BPMN diagram until 'npm ci' runs"; \
	fi

# The designer's browser bundle (designer/src -> designer/static/build, never committed), built with
# esbuild from node_modules alone (no .venv: the Dockerfile runs `make bundle`); a note without npm.
DESIGNER_BUILD := designer/static/build
DESIGNER_SRC := $(wildcard designer/src/*.js designer/src/*/*.js designer/src/*.json designer/src/*.css)
ESBUILD := node_modules/.bin/esbuild

bundle: $(DESIGNER_BUILD)/designer.js

$(DESIGNER_BUILD)/designer.js: $(DESIGNER_SRC) node_modules/.stamp
	@if [ -x $(ESBUILD) ]; then \
		$(ESBUILD) designer/src/index.js --bundle --minify --format=iife --target=es2020 --sourcemap \
			--define:process.env.NODE_ENV='"production"' --legal-comments=linked --log-level=warning \
			--outfile=$(DESIGNER_BUILD)/designer.js \
		&& $(ESBUILD) designer/src/designer.css --bundle --minify --log-level=warning \
			--loader:.woff=dataurl --loader:.woff2=dataurl --loader:.ttf=dataurl --loader:.eot=dataurl \
			--loader:.svg=dataurl --outfile=$(DESIGNER_BUILD)/designer.css; \
	else \
		echo "NOTE: esbuild not installed (npm missing?): the designer page has no editor until 'make bundle' runs"; \
	fi

web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel -q compile -d web/translations -l $*

# After adding or changing UI text: refresh the template and the catalogs, then translate the new entries.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k msg --no-location --sort-output --project Liaison \
		-o web/translations/messages.pot .
	$(BIN)/pybabel -q update -i web/translations/messages.pot -d web/translations --no-wrap

run: setup
	$(BIN)/liaison db upgrade
	$(BIN)/liaison demo
	$(BIN)/liaison run --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Two pytest workers (pytest-xdist), each with its own PostgreSQL database, Redis server and browser; a test
# file stays on one worker (--dist loadfile), so a module's served app and browser start once.
TEST_WORKERS ?= 2
test: setup chromium slapd lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: setup
	$(BIN)/python bench/engine_throughput.py

clean:
	rm -rf $(VENV) instance .pytest_cache
