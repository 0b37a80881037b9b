# The two commands: `make run` and `make test`. Both install what is missing first.
.DEFAULT_GOAL := run
SHELL := /bin/bash
JOBS ?= $(shell nproc)
RELEASE_DIR := build/release
DEV_DIR := build/dev
DEPS_STAMP := build/.deps-stamp

.PHONY: run test bench lint format deps build release dev web clean

$(DEPS_STAMP): scripts/install-deps.sh $(wildcard web/package-lock.json tools/openapi-lint/package-lock.json tests/integration/oidc/package-lock.json)
	@scripts/install-deps.sh
	@mkdir -p build && touch $@

deps: $(DEPS_STAMP)

web: deps
	@if [ -f web/package.json ]; then cd web && npm run --silent build; fi

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

dev: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

build: release

run: release web
	@mkdir -p data
	@echo "Nimbus: http://127.0.0.1:8080"
	@exec $(RELEASE_DIR)/src/app/nimbus serve --stage dev --listen 127.0.0.1:8080 --data-dir ./data

lint: deps
	@scripts/lint.sh

format: deps
	@scripts/lint.sh --fix

# The release build is part of the test: it is what `make run` and `make bench` use, so the test
# starts it once (scripts/smoke-release.sh) before the suite runs the debug build.
test: dev release web lint
	@scripts/smoke-release.sh $(RELEASE_DIR)/src/app/nimbus
	@cd $(DEV_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: release web
	@bench/run.py

clean:
	rm -rf build
