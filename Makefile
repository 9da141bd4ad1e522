# Flowlytix Licensing. The two commands: make run, make test.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := bin
DATA        ?= ./data
ADDR        ?= 127.0.0.1:8080

.PHONY: run build test test-js test-short screenshots bench bench-js lint fuzz vectors clean

## run: build and start licensed with SQLite under ./data, a fresh key and demo data
run: build
	$(BIN)/licensed serve --addr $(ADDR) --db $(DATA)/licensing.db --keys $(DATA)/keys --demo

## build: build licensed and licensectl into ./bin
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## test: every test, with the race detector; PostgreSQL and Chromium tests run when available; then the JavaScript package's
test:
	$(GO) test -race -count=1 ./...
	$(MAKE) test-js

## test-js: the JavaScript package's tests (node --test), after npm ci
test-js:
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		cd clientlib/js && npm ci --no-audit --no-fund --loglevel=error && node --test test/; \
	elif [ "$$LICENSING_TEST_STRICT" = "1" ]; then \
		echo "node and npm are missing and LICENSING_TEST_STRICT=1: install Node.js 20+"; exit 1; \
	else \
		echo "node and npm are missing: skipping the JavaScript package's tests"; \
	fi

## test-short: the quick tests only
test-short:
	$(GO) test -short -count=1 ./...

## screenshots: rewrite docs/admin-*.png from the web admin with demo data (needs Chromium)
screenshots:
	LICENSING_SCREENSHOTS=1 $(GO) test -count=1 -run '^(TestOverviewScreenshot|TestConsoleScreenshots)$$' ./admin/

## bench: the benchmarks (issue and verify beside raw RSA, and more)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-js: the JavaScript package beside the Go client (recordUsage with 100,000 queued, a sync of 1,000 events)
bench-js:
	cd clientlib/js && npm ci --no-audit --no-fund --loglevel=error
	node clientlib/js/bench/compare.mjs

## fuzz: run each fuzzer for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./license -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./license -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./license -run '^$$' -fuzz '^FuzzParseEntitlements$$' -fuzztime $(FUZZTIME)
	$(GO) test ./license -run '^$$' -fuzz '^FuzzParseProof$$' -fuzztime $(FUZZTIME)
	$(GO) test ./syncserver/httpapi -run '^$$' -fuzz '^FuzzAPIBodies$$' -fuzztime $(FUZZTIME)
	$(GO) test ./syncserver -run '^$$' -fuzz '^FuzzImportCustomers$$' -fuzztime $(FUZZTIME)

## vectors: regenerate the shared test vectors under testdata/vectors
vectors:
	$(GO) run ./internal/vectorgen -out testdata/vectors

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf $(BIN)
