# The README's commands, and the SAM build target (BuildMethod: makefile; no Docker needed).
PYTHON ?= python3

.PHONY: demo test lint
demo:
	$(PYTHON) dev.py demo
test:
	$(PYTHON) dev.py test
lint:
	$(PYTHON) dev.py lint

# sam build runs this (once per function: both share the same package) with ARTIFACTS_DIR set: dev.py installs the
# function package plus its pinned runtime dependencies as arm64 / CPython 3.13 wheels (with its own uv where none
# is on PATH), drops what the function never uses (console scripts, uv's lock), and compiles the bytecode with a
# CPython 3.13 (Lambda's runtime) with unchecked hashes where the machine has one, saying so where it has none, so a
# cold start compiles nothing and never stats a source from the read-only /var/task.
build-ScheduledFunction build-WebhookFunction:
	$(PYTHON) dev.py build "$(ARTIFACTS_DIR)"
