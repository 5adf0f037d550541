# Borealis: `make run` and `make test` are the two commands a newcomer needs.
GO      ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN     := bin/borealis
GOFILES := $(shell find cmd internal -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all deps build run test test-go test-e2e vet clean

all: build

deps:
	@scripts/install-deps.sh

build: $(BIN)

$(BIN): $(GOFILES)
	$(GO) build -o $(BIN) ./cmd/borealis

# Starts Borealis in the foreground with its defaults: data in ./.borealis, API on
# http://127.0.0.1:8080, endpoints on 127.0.0.1.
run: deps build
	./$(BIN) serve

vet:
	$(GO) vet ./...

test: deps build vet test-go test-e2e

test-go:
	BOREALIS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m ./...

test-e2e:
	BOREALIS_BIN=$(CURDIR)/$(BIN) test/e2e/walkthrough.sh

clean:
	rm -rf bin
