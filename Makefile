# Borealis: `make run` and `make test` are the two commands a newcomer needs.
GO      ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN     := bin/borealis
GUARD   := bin/guard.so
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
# default_extensions.txt: embedded in the binary and made into the guard's default.
EXTLIST := internal/params/default_extensions.txt
# What builds install first (scripts/install-deps.sh); DEPS= skips it.
DEPS    ?= deps

# The commit built from, for `borealis version`: the go command records it only in a plain
# clone (not a git worktree) and not under GOFLAGS=-buildvcs=false, so make passes it.
ifeq ($(shell git rev-parse --show-toplevel 2>/dev/null),$(realpath $(CURDIR)))
LDFLAGS += -X main.vcsRevision=$(shell git rev-parse HEAD) \
	-X main.vcsTime=$(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) \
	-X main.vcsModified=$(if $(shell git status --porcelain),true,false)
endif

# $(BIN) is phony: go build knows best whether it is up to date, the commit included.
.PHONY: all deps deps-test build run test test-go test-e2e vet clean $(BIN)

all: build

# Build and run: make, gcc, Go, PostgreSQL 15 and its server headers.
deps:
	@scripts/install-deps.sh

# And what only the tests use: the aws CLI, Chromium, Java with the JDBC driver, ...
deps-test:
	@scripts/install-deps.sh --test

build: $(BIN) $(GUARD)

$(BIN): | $(DEPS)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/borealis

# The guard extension, built against Debian's PostgreSQL 15 server headers (make deps).
$(GUARD): $(wildcard pgext/guard/*.c pgext/guard/*.h) pgext/guard/Makefile $(EXTLIST) | $(DEPS)
	$(MAKE) -s -C pgext/guard PG_CONFIG=$(PG_CONFIG)
	@mkdir -p bin
	cp pgext/guard/guard.so $@

# Starts Borealis in the foreground with its defaults: data in ./.borealis, API on
# http://127.0.0.1:8080, endpoints on 127.0.0.1.
run: deps build
	./$(BIN) serve

vet:
	$(GO) vet ./...

test: deps-test build vet test-go test-e2e

test-go:
	BOREALIS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m ./...

test-e2e:
	BOREALIS_BIN=$(CURDIR)/$(BIN) test/e2e/walkthrough.sh

clean:
	rm -rf bin
	$(MAKE) -s -C pgext/guard clean PG_CONFIG=$(PG_CONFIG)
