# The README's commands, and the SAM build target (BuildMethod: makefile; no Docker needed).
PYTHON ?= python3

.PHONY: demo test lint
demo:
	$(PYTHON) dev.py demo
test:
	$(PYTHON) dev.py test
lint:
	$(PYTHON) dev.py lint

# sam build runs this (once per function: both share the same package) with ARTIFACTS_DIR set: the function package plus its pinned runtime
# dependencies as arm64 / CPython 3.13 wheels, and their bytecode compiled by CPython 3.13 (Lambda's runtime) with
# unchecked hashes, so a cold start compiles nothing and never stats a source from the read-only /var/task.
# Nothing else (no tests, no simulator, no dev tools).
UV ?= uv
PY313 ?= python3.13
build-ScheduledFunction build-WebhookFunction:
	$(UV) pip install --quiet --no-deps --only-binary :all: --python-platform aarch64-manylinux2014 \
		--python-version 3.13 --target "$(ARTIFACTS_DIR)" -r src/requirements.txt
	cp -R src/geminidb_patcher "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name "__pycache__" -type d -prune -exec rm -rf {} +
	if [ -n "$(PY313)" ]; then $(PY313) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"; fi
