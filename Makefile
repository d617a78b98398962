# Conveniences over the go tool; nothing here is needed to build or test
# (see README.md: `go run ./cmd/octane-import ...` and `go test -race ./...`).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: build install test check release clean

build: ## octane-import for this machine, with version information
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o octane-import ./cmd/octane-import

install: ## into $(go env GOPATH)/bin
	CGO_ENABLED=0 go install -trimpath -ldflags "$(LDFLAGS)" ./cmd/octane-import

test:
	go test -race ./...

check: ## what CI runs
	.ci/run

release: ## static binaries for linux, darwin, windows x amd64, arm64 into dist/
	VERSION=$(VERSION) COMMIT=$(COMMIT) DATE=$(DATE) scripts/release.sh

clean:
	rm -rf dist octane-import
