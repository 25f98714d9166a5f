# keyward — two commands do everything: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
PKGS  := ./...

.PHONY: run build test bench vet fmt openapi vault-dev clean

## run: start keyward with embedded defaults (memory, gochannel, local keyring, sandbox)
run:
	$(GO) run ./cmd/keyward serve

build:
	$(GO) build -o bin/keyward ./cmd/keyward

## test: vet, format check, and every test with the race detector
test: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	scripts/test.sh

## bench: keyward bench per adapter set (Postgres, +Vault, +NATS when running) beside memory mode and the machine's ceilings, then the micro-benchmarks (see BENCHMARKS.md)
bench:
	scripts/bench.sh

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

openapi:
	@$(GO) run ./cmd/keyward openapi

## vault-dev: a real Vault dev server (in-memory core) at VAULT_DEV_ADDR, token root
vault-dev:
	scripts/vault-dev.sh run

clean:
	rm -rf bin var .cache
