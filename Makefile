# leadscore developer entry points. The quality gates live in scripts/test.sh
# (the README's test command, also what CI runs via .ci/run); these targets
# are thin wrappers.

GO      ?= go
# The Go release with the standard library's security fixes (README).
export GOTOOLCHAIN := go1.27.3
BIN     ?= bin/leadscore
FUZZTIME ?= 20s

.PHONY: help build test lint run bench fuzz tools clean release release-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## static binary in bin/leadscore
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/leadscore

test: ## every quality gate, as CI runs them
	bash scripts/test.sh

lint: ## gofmt, go vet and golangci-lint only
	bash scripts/test.sh fmt vet lint

run: ## serve locally: MODEL=bundle dir or model file (default: the demo model)
	$(GO) run ./cmd/leadscore serve $(if $(MODEL),--model $(MODEL))

bench: ## engine vs Python XGBoost (needs: scripts/install-tools.sh --bench)
	bash bench/engine_vs_xgboost.sh

fuzz: ## every fuzz target for FUZZTIME (default 20s) each
	FUZZTIME=$(FUZZTIME) bash scripts/test.sh fuzz

tools: ## install the gate tools (idempotent)
	bash scripts/install-tools.sh

# lambda: one bootstrap zip per architecture for the provided.al2023 runtime
# (docs/aws.md). Uses zip when installed, else Python's zipfile module.
LAMBDA_ARCHS ?= x86_64 arm64

.PHONY: lambda
lambda: ## Lambda bootstrap zips in build/lambda/<arch>/ (x86_64, arm64)
	@set -e; for arch in $(LAMBDA_ARCHS); do \
	  case $$arch in x86_64) goarch=amd64 ;; arm64) goarch=arm64 ;; \
	    *) echo "lambda: unknown architecture $$arch (want x86_64 or arm64)" >&2; exit 2 ;; esac; \
	  out=build/lambda/$$arch; mkdir -p $$out; rm -f $$out/bootstrap $$out/bootstrap.zip; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" \
	    -o $$out/bootstrap ./cmd/leadscore; \
	  if command -v zip >/dev/null 2>&1; then (cd $$out && zip -q -X bootstrap.zip bootstrap); \
	  else (cd $$out && python3 -m zipfile -c bootstrap.zip bootstrap); fi; \
	  echo "$$out/bootstrap.zip"; \
	done

# Model registry and container image (docs/deploy.md). REGISTRY is a
# directory or s3://bucket/prefix (S3 settings: LEADSCORE_S3_* and the AWS
# credential chain); BUNDLE a bundle directory or model file.
REGISTRY  ?= build/registry
BUNDLE    ?= bundle/demo
MODEL_TAR ?= build/model.tar.gz
IMAGE     ?= leadscore:dev
VERSION   ?= dev

.PHONY: docker model-package model-push
docker: ## container image from deploy/Dockerfile (no Docker engine: runs its build steps as a script)
	@if docker info >/dev/null 2>&1; then \
	  docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	else \
	  echo "docker: no Docker engine here, so no image is built; running deploy/docker-build-steps.sh to check the build steps" >&2; \
	  bash deploy/docker-build-steps.sh; \
	fi

model-package: build ## SageMaker model.tar.gz of BUNDLE in MODEL_TAR
	$(BIN) model package $(BUNDLE) --out $(MODEL_TAR)

model-push: build ## push BUNDLE to REGISTRY (then: leadscore model promote NAME VERSION --stage ...)
	$(BIN) model push $(BUNDLE) --registry $(REGISTRY)

# release: reproducible binaries (linux/amd64, linux/arm64), Lambda zips,
# SHA256SUMS and a CycloneDX SBOM in DIST (scripts/release.sh). VERSION
# defaults to git describe.
DIST ?= dist
release: ## release artefacts and SBOM in dist/ (VERSION=vX.Y.Z; needs: make tools)
	$(if $(filter-out dev,$(VERSION)),VERSION=$(VERSION)) bash scripts/release.sh $(DIST)

release-check: ## build the release a second time elsewhere and compare checksums with dist/
	rm -rf build/release-check
	$(if $(filter-out dev,$(VERSION)),VERSION=$(VERSION)) bash scripts/release.sh build/release-check
	diff $(DIST)/SHA256SUMS build/release-check/SHA256SUMS && echo "release-check: identical"

clean: ## remove build and test artefacts
	rm -rf bin coverage.out dist build/release-check
