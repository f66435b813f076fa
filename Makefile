# Every transitive dependency is pinned in constraints.txt (regenerate with
# `.venv/bin/pip freeze --exclude-editable > constraints.txt` after changing pyproject.toml).
# Two commands matter: `make run` (the product on its embedded default) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

# The embedded default: SQLite, local-memory cache, eager Celery, sandbox providers.
RUN_ENV := DEBUG=true DATABASE_URL=sqlite:///db.sqlite3 REDIS_URL= CELERY_TASK_ALWAYS_EAGER=true

# Tests: real PostgreSQL and Redis, defaulting to this machine. The sandbox providers are on, and
# the egress allowlist names the one address the loopback provider servers listen on (tests
# prove that everything else, 127.0.0.2 and ::1 included, is refused).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_ENV := DEBUG=false SECRET_KEY=test-secret-key FIELD_ENCRYPTION_KEY=test-encryption-salt \
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) ALLOWED_HOSTS=testserver,127.0.0.1,localhost \
	SWITCHBOARD_SANDBOX=true PROVIDER_EGRESS_ALLOWLIST=127.0.0.1

# The benchmark: its own database and Redis db, so it never touches test or demo data.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2
BENCH_ENV := DEBUG=false SECRET_KEY=bench-secret-key FIELD_ENCRYPTION_KEY=bench-encryption-salt \
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) ALLOWED_HOSTS=127.0.0.1 CONN_MAX_AGE=60 \
	SWITCHBOARD_SANDBOX=true PROVIDER_EGRESS_ALLOWLIST=127.0.0.1

.PHONY: run manage test install messages services browser screenshots lint benchmark worker clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# Translations: locale/*/LC_MESSAGES/*.po compiled to .mo (polib, no GNU gettext needed).
messages: install
	@$(BIN)/python scripts/compile_messages.py

run: messages
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed_demo
	$(RUN_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# manage.py with make run's environment, against the demo's database:
#   make manage ARGS="list_integrations --org demo"
manage: messages
	$(RUN_ENV) $(BIN)/python manage.py $(ARGS)

# PostgreSQL and Redis on this machine are started when they do not answer; elsewhere, told how.
services: install
	@DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/python scripts/check_services.py

# Debian's Chromium for the browser tests: installed when missing and we are root, else told how.
browser:
	@scripts/ensure_chromium.sh

# Everything a fresh machine needs, then the whole suite. CI (.ci/run) is this plus its checks.
test: services browser messages
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's screenshots: the wizard's browser tests at both widths, copied into docs/screenshots/.
screenshots: services browser messages
	$(TEST_ENV) UPDATE_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser/test_wizard_screens.py -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The production Celery worker (scripts/worker: the same command docker-compose runs), against
# DATABASE_URL and REDIS_URL from the environment.
worker: messages
	PYTHON=$(BIN)/python scripts/worker

benchmark: services messages
	$(BIN)/python scripts/ensure_database.py $(BENCH_DATABASE_URL)
	$(BENCH_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_ENV) $(BIN)/python manage.py benchmark $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles locale/*/LC_MESSAGES/*.mo
