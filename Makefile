# Cloud Run plugin for PipeCD v1, fakerun and their end-to-end suites.
# Run `make help` for the targets. Every target installs what it needs into .tools/.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

MODULES := fakerun plugin e2e examples/pipeline-testing
TOOLS := $(CURDIR)/.tools
BIN := $(CURDIR)/bin
COVER := $(CURDIR)/.cover
DIST := $(CURDIR)/dist
# The release version: the v* tag on HEAD (git describe), else a snapshot version naming the commit.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo "v0.0.0-snapshot-$$(git rev-parse --short=12 HEAD)$$(git diff --quiet HEAD || echo -dirty)")
MODULE_PREFIX := github.com/pipecd-cloudrun/cloudrun
GOLANGCI_LINT_VERSION := v2.15.0
GINKGO := $(TOOLS)/ginkgo
GOLANGCI_LINT := $(TOOLS)/golangci-lint
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TOOLS)/actionlint
GREMLINS_VERSION := v0.6.0
GREMLINS := $(TOOLS)/gremlins
# Ginkgo processes for the end-to-end suites: specs mostly wait (readiness, analysis windows, polling), so four
# times the core count pays off (the same 19 specs: 151 s with 4 processes, 93 s with 8).
E2E_PROCS ?= 8
# Ginkgo processes for the main suite's real-piped specs (label piped), run beside the others: they mostly wait
# on pipedv1's own polling loops.
E2E_PIPED_PROCS ?= 5
# Ginkgo processes for each of the other suites (container, install, examples/pipeline-testing, ...).
E2E_OTHER_PROCS ?= 4
# Each Ginkgo run's own limit, its compilation included.
E2E_TIMEOUT ?= 20m
PIPED_LABEL := piped
# The label filter of one of the main suite's two runs: LABELS (when set) and $(1).
e2e_labels = $(if $(LABELS),($(LABELS)) && $(1),$(1))
# What test-e2e builds once and hands every suite ($$E2E_*_BINARY), and where each Ginkgo run writes its output
# and JSON report (per-spec durations).
E2E_BIN := $(BIN)/e2e
E2E_LOGS := $(CURDIR)/.artifacts/test-e2e
FUZZTIME ?= 5s
export TESTCONTAINERS_RYUK_DISABLED := true

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build the plugin and fakerun binaries into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/cloudrun-plugin ./plugin
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/fakerun ./fakerun/cmd/fakerun

.PHONY: fakerun-image
fakerun-image: ## Build the fakerun container image (FROM scratch, static binary).
	CGO_ENABLED=0 go build -trimpath -o fakerun/.image/fakerun ./fakerun/cmd/fakerun
	docker build -t fakerun:dev -f fakerun/Dockerfile fakerun/.image

.PHONY: release
release: ## Release artifacts into dist/ (VERSION=vX.Y.Z, default a snapshot): binaries, OCI layout, image, SHA256SUMS.
	rm -rf $(DIST)
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) go -C e2e run ./cmd/release -root $(CURDIR) -dist $(DIST) \
	  -version $(VERSION) -commit $$(git rev-parse HEAD)

##@ Test

.PHONY: test
test: test-unit test-fuzz test-e2e ## Run every test (unit with -race, short fuzzing, end-to-end) and merge coverage.
	go tool covdata textfmt -i=$(COVER)/unit,$(COVER)/e2e -o $(COVER)/merged.out
	@echo "coverage profile: .cover/merged.out (make cover prints it by component)"

.PHONY: test-unit
test-unit: ## Unit tests of fakerun and plugin with the race detector, recording coverage.
	rm -rf $(COVER)/unit && mkdir -p $(COVER)/unit
	@for m in fakerun plugin; do echo "== go test $$m"; \
	  go -C $$m test -race -count=1 -cover -coverpkg=$(MODULE_PREFIX)/$$m/... ./... -args -test.gocoverdir=$(COVER)/unit; \
	done

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target briefly (FUZZTIME, default 5s).
	@go -C plugin test -list '^Fuzz' ./... | awk '/^Fuzz/ { f[n++] = $$1 } /^ok / { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' | \
	while read -r pkg f; do \
	  echo "== fuzz $$pkg $$f"; go -C plugin test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg </dev/null; \
	done

.PHONY: test-e2e
test-e2e: $(GINKGO) ## End-to-end Ginkgo suites (and examples/pipeline-testing's specs) against a coverage-instrumented plugin (LABELS= or FOCUS= narrow them).
	rm -rf $(COVER)/e2e $(E2E_LOGS) && mkdir -p $(COVER)/e2e $(E2E_BIN) $(E2E_LOGS)
	@echo "== build once for every suite: the plugin (race, coverage), the wait plugin, pipedv1, the main suite"
	go build -race -cover -coverpkg=$(MODULE_PREFIX)/plugin/... -o $(E2E_BIN)/cloudrun-plugin-cover ./plugin & p1=$$!; \
	go -C e2e build -o $(E2E_BIN)/wait-plugin ./cmd/waitplugin & p2=$$!; \
	CGO_ENABLED=0 go -C e2e build -o $(E2E_BIN)/pipedv1 github.com/pipe-cd/pipecd/cmd/pipedv1 & p3=$$!; \
	(cd e2e && $(GINKGO) build --race ./) & p4=$$!; \
	wait $$p1 && wait $$p2 && wait $$p3 && wait $$p4
	@echo "== three concurrent Ginkgo runs; each prints its output when it ends (live: tail -f .artifacts/test-e2e/*.log)"
	cd e2e && export E2E_PLUGIN_BINARY=$(E2E_BIN)/cloudrun-plugin-cover E2E_WAIT_PLUGIN_BINARY=$(E2E_BIN)/wait-plugin \
	  E2E_PIPED_BINARY=$(E2E_BIN)/pipedv1 GOCOVERDIR=$(COVER)/e2e; \
	run() { name=$$1; shift; start=$$SECONDS; \
	  if $(GINKGO) --race --timeout=$(E2E_TIMEOUT) --poll-progress-after=120s --silence-skips --output-dir=$(E2E_LOGS) --json-report=$$name.json \
	    $(if $(FOCUS),--focus='$(FOCUS)') "$$@" >$(E2E_LOGS)/$$name.log 2>&1; then rc=0; else rc=$$?; fi; \
	  cat $(E2E_LOGS)/$$name.log; echo "== $$name: exit $$rc after $$((SECONDS - start))s"; return $$rc; }; \
	run main --procs=$(E2E_PROCS) --label-filter='$(call e2e_labels,!$(PIPED_LABEL))' ./e2e.test & p1=$$!; \
	run piped --procs=$(E2E_PIPED_PROCS) --label-filter='$(call e2e_labels,$(PIPED_LABEL))' ./e2e.test & p2=$$!; \
	run others -r --keep-going --procs=$(E2E_OTHER_PROCS) $(if $(LABELS),--label-filter='$(LABELS)') $$(ls -d */) ../examples/pipeline-testing & p3=$$!; \
	rc=0; for p in $$p1 $$p2 $$p3; do wait $$p || rc=1; done; exit $$rc

.PHONY: cover
cover: ## Print coverage by component from the last `make test` (running it if needed); fail below the floors.
	@[ -f $(COVER)/merged.out ] || $(MAKE) test
	go -C e2e run ./cmd/coverreport -profile $(COVER)/merged.out

.PHONY: mutation
mutation: $(GREMLINS) ## Mutation score of each plugin package (PACKAGES=traffic,naming narrows it; EXCLUDE=regexp leaves files out; TIMEOUT_COEFFICIENT=30 on a loaded machine); fails below target. Slow.
	go -C e2e run ./cmd/mutation -root $(CURDIR) -gremlins $(GREMLINS) $(if $(PACKAGES),-packages $(PACKAGES)) $(if $(TIMEOUT_COEFFICIENT),-timeout-coefficient $(TIMEOUT_COEFFICIENT)) $(if $(EXCLUDE),-exclude '$(EXCLUDE)')

.PHONY: bench
bench: ## Print fakerun's and the plugin's performance figures (stage time, 100 deployments, startup, image size), then a table of each against its target.
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory fakerun-image; \
	  else echo "no Docker engine: the fakerun image is not built and its size not measured"; fi
	out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	  go -C fakerun test -run '^$$' -bench . -benchmem -benchtime 2s -timeout 30m ./... | tee "$$out"; \
	  E2E_BENCH=1 E2E_BENCH_FAKERUN="$$out" go -C e2e test -count=1 -v -timeout 30m -run . ./bench/

.PHONY: lint
lint: $(GOLANGCI_LINT) $(ACTIONLINT) ## gofmt, go mod tidy -diff, go vet and golangci-lint on every module; actionlint on the workflows.
	@for m in $(MODULES); do go -C $$m mod tidy -diff || { echo "go mod tidy needed in $$m (diff above)"; exit 1; }; done
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do echo "== vet + golangci-lint $$m"; go -C $$m vet ./...; (cd $$m && $(GOLANGCI_LINT) run --allow-parallel-runners ./...); done
	@echo "== actionlint .github/workflows examples/pipeline-testing/.github/workflows"; $(ACTIONLINT) .github/workflows/*.yml examples/pipeline-testing/.github/workflows/*.yml

.PHONY: tidy
tidy: ## go mod tidy in every module.
	@for m in $(MODULES); do go -C $$m mod tidy; done

##@ Run

.PHONY: demo
demo: ## The main job: a canary gated by CLOUDRUN_ANALYSIS against fakerun, with live progress (SCENARIO=bad-canary: rolled back; PIPED=real: on pipedv1 and the in-memory control plane).
	go -C e2e run ./cmd/demo $(if $(SCENARIO),-scenario $(SCENARIO)) $(if $(PIPED),-piped $(PIPED))

##@ Tools

.PHONY: browser
browser: ## Install Debian's chromium for the console's browser spec, unless a headless browser is on PATH.
	@if command -v chromium || command -v chromium-browser || command -v google-chrome; then exit 0; fi; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium

$(GINKGO): e2e/go.mod
	GOBIN=$(TOOLS) go install github.com/onsi/ginkgo/v2/ginkgo@$$(go -C e2e list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)

$(GOLANGCI_LINT):
	GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(GREMLINS):
	GOBIN=$(TOOLS) go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

$(ACTIONLINT):
	GOBIN=$(TOOLS) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
