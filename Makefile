# Borealis: `make run` and `make test` are the two commands a newcomer needs.
GO      ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN     := bin/borealis
GUARD   := bin/guard.so
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
# default_extensions.txt: embedded in the binary and made into the guard's default.
EXTLIST := internal/params/default_extensions.txt
GOFILES := $(shell find cmd internal -name '*.go' -not -name '*_test.go') go.mod go.sum $(EXTLIST)

.PHONY: all deps build run test test-go test-e2e vet clean

all: build

deps:
	@scripts/install-deps.sh

build: $(BIN) $(GUARD)

$(BIN): $(GOFILES)
	$(GO) build -o $(BIN) ./cmd/borealis

# The guard extension, built against Debian's PostgreSQL 15 server headers (make deps).
$(GUARD): $(wildcard pgext/guard/*.c pgext/guard/*.h) pgext/guard/Makefile $(EXTLIST) | deps
	$(MAKE) -s -C pgext/guard PG_CONFIG=$(PG_CONFIG)
	@mkdir -p bin
	cp pgext/guard/guard.so $@

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
	$(MAKE) -s -C pgext/guard clean PG_CONFIG=$(PG_CONFIG)
