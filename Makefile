# gce-ccm: make targets are the interface for people; `make help` lists them.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
BIN := bin

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the manager and the fake into bin/.
	$(GO) build -o $(BIN)/gce-cloud-controller-manager ./cmd/gce-cloud-controller-manager
	$(GO) build -o $(BIN)/fake-compute ./cmd/fake-compute

.PHONY: demo
demo: tools ## Run gce-ccm on this machine: etcd, kube-apiserver, the fake and the manager (Ctrl-C stops).
	$(GO) build -o $(BIN)/gce-ccm-demo ./test/demo
	GCE_CCM_TEST_BIN="$$(test/tools/build.sh)" $(BIN)/gce-ccm-demo

.PHONY: bench
bench: tools ## Measure convergence and API cost at scale against the model's lower bound (BENCH_ARGS="-quick": under 5 minutes).
	GCE_CCM_TEST_BIN="$$(test/tools/build.sh)" $(GO) run ./test/bench $(BENCH_ARGS)

.PHONY: chaos
chaos: tools ## Run the chaos suite at full size (faults, kill -9, Compute outage, control plane restart, bad input) and print its CHAOS figures (CHAOS_ARGS="-run TestChaosFaults" for one case).
	GCE_CCM_CHAOS=full GCE_CCM_TEST_BIN="$$(test/tools/build.sh)" $(GO) test -count=1 -timeout 150m -v $(CHAOS_ARGS) ./test/chaos/

.PHONY: tools
tools: ## Build kube-apiserver and etcd for tests and the demo (cached per user; first run ~12 minutes).
	@test/tools/build.sh >/dev/null

.PHONY: kubeadm
kubeadm: ## Build kubeadm for deploy/byo's `kubeadm config validate` test (cached per user under its own key; about a minute after make tools).
	@test/tools/kubeadm.sh >/dev/null

.PHONY: fake
fake: ## Start the fake Compute API with a few VMs and show it answering (Ctrl-C stops it).
	@hack/fake-demo.sh

.PHONY: test
test: tools kubeadm ## Run every test: unit and fake packages with the race detector, the rest (manager, integration, chaos short cases, BYO) without it, then the nested modules.
	@bin="$$(test/tools/build.sh)" && kubeadm="$$(test/tools/kubeadm.sh)" && \
	  race="./pkg/... ./test/fakecompute/... ./cmd/fake-compute/..." && \
	  rest="$$($(GO) list ./... | grep -v -e '/pkg/' -e '/test/fakecompute' -e '/cmd/fake-compute')" && \
	  set -x && \
	  GCE_CCM_TEST_BIN="$$bin" GCE_CCM_KUBEADM_BIN="$$kubeadm" $(GO) test -race -count=1 -timeout 30m $$race && \
	  GCE_CCM_TEST_BIN="$$bin" GCE_CCM_KUBEADM_BIN="$$kubeadm" $(GO) test -count=1 -timeout 45m $$rest
	$(MAKE) --no-print-directory test-modules

# FUZZTIME is how long make fuzz fuzzes each target.
FUZZTIME ?= 1m

.PHONY: fuzz
fuzz: ## Fuzz every FuzzXxx target for FUZZTIME each (default 1m), one at a time; a failing input lands in the package's testdata/fuzz/ (make test replays those corpora).
	@set -e; for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$pkg $$t for $(FUZZTIME)"; \
	    $(GO) test $$pkg -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME); \
	  done; \
	done

.PHONY: image
image: ## Build the manager and fake-compute images into bin/image/ (OCI layout + tarball for docker/podman/kind load; no Docker needed).
	cd hack/image && GOWORK=off $(GO) run . -root ../.. -out ../../$(BIN)/image -registry "$(REGISTRY)"

.PHONY: test-modules
test-modules: tools ## Run the tests of the nested modules hack/image (builds the images) and test/monitoring.
	bin="$$(test/tools/build.sh)" && \
	  (cd hack/image && GCE_CCM_TEST_BIN="$$bin" GOWORK=off $(GO) test -count=1 -timeout 30m ./...) && \
	  (cd test/monitoring && GCE_CCM_TEST_BIN="$$bin" GOWORK=off $(GO) test -count=1 ./...)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: verify
verify: ## Check that go mod tidy leaves no diff.
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum
