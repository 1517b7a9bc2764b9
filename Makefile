# xlnet: the two commands the README promises, and the build between them.
#   make demo   installs what it needs, builds, runs the demo lab
#   make test   installs what it needs, builds, runs the whole test suite
# Both are idempotent and need root on Linux (namespaces, nftables, BPF).

SHELL := /bin/bash
LAB_TOOLS := $(wildcard lab/*/Makefile)

.PHONY: all deps build build-ts build-datapath build-lab test test-cold demo check-env dist lab-up lab-down clean

all: build

deps:
	@tools/install-deps.sh

check-env:
	@tools/check-env.sh

build: build-ts build-datapath build-lab

build-ts:
	@npx tsc -p plugin/tsconfig.json
	@chmod +x plugin/dist/cli/main.js plugin/dist/daemon/main.js 2>/dev/null || true

build-datapath:
	@if [ -f datapath/Makefile ]; then $(MAKE) -s -C datapath; fi

build-lab:
	@for m in $(LAB_TOOLS); do $(MAKE) -s -C $$(dirname $$m) || exit 1; done

test: deps check-env build
	@node tools/run-tests.mjs $(TESTS)

# The suite from empty caches and a clean tree (tools/cold-test.sh): what a
# fresh machine does. Run it before resolving an issue.
test-cold:
	@tools/cold-test.sh

demo: deps check-env build
	@node --import tsx lab/demo.ts $(DEMO_ARGS)

# The lab by hand: `make lab-up LAB_ARGS="--link geo --service"`, Ctrl-C removes it;
# `make lab-down` removes a lab whose owner was killed.
lab-up: deps check-env build
	@node --import tsx lab/cli.ts up $(LAB_ARGS)

lab-down:
	@node --import tsx lab/cli.ts down $(LAB_ARGS)

# The release artifact for a real Dom0: an npm package tarball (see README).
dist: deps build
	@npm pack --silent

clean:
	rm -rf plugin/dist datapath/build lab/*/build
