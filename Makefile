# Shopfront: five Go modules joined by go.work. There is no root go.mod, so
# every target iterates the modules (`go test ./...` does not work here).
SHELL   := /bin/bash
GO      ?= go
BIN     ?= bin
MODULES := shared contracts bff-mobile bff-web bff-partner deploy
GATEWAYS := bff-mobile bff-web bff-partner
# Tag of the images (make images); deploy/k8s and docker-compose.yml pin it.
VERSION ?= 0.1.0
# Extra flags for make bench-micro, e.g. BENCHFLAGS='-count=10' (benchstat wants several).
BENCHFLAGS ?=
# Length and total request rate of make soak.
SOAK_DURATION ?= 2m
SOAK_RATE ?= 100
# Length and total request rate of make rolling-restart's load; it lasts at
# least as long as one restart of each of the six instances takes.
ROLLING_DURATION ?= 1m
ROLLING_RATE ?= 40
# Every package of every module in the workspace, as absolute patterns.
PKGS     = $$($(GO) list -m -f '{{.Dir}}/...')

# Fuzz targets, as package:FuzzName; fuzz-short runs each for FUZZTIME.
FUZZTIME ?= 3s
FUZZ_TARGETS := \
	./shared/edge/jsonscan:FuzzCheck \
	./shared/edge/input:FuzzUnmarshal \
	./shared/edge/requestid:FuzzValid \
	./shared/edge/jwtauth:FuzzBearerToken \
	./shared/edge/apikey:FuzzLookup \
	./shared/edge/apikey:FuzzParse \
	./shared/edge/redisurl:FuzzParse \
	./shared/edge/server:FuzzIPExtractor \
	./bff-partner/internal/validation:FuzzValidateOrder \
	./bff-partner/internal/validation:FuzzValidateQuery \
	./bff-mobile/internal/upload:FuzzParseMetadata \
	./bff-mobile/internal/upload:FuzzParseLength \
	./bff-mobile/internal/upload:FuzzParseChecksum \
	./bff-web/internal/cache:FuzzKey

.PHONY: all help build run run-cluster cluster-check cluster-smoke rolling-restart smoke examples chain-doc test soak bench bench-micro fuzz fuzz-short vet fmt fmt-check tidy tidy-check deps-check images clean

all: vet deps-check test

## help: this list: every target with what it does
help:
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); t = $$0; sub(/:.*/, "", t); sub(/^[^:]*: */, ""); printf "  %-15s %s\n", t, $$0; next } \
		/^## / { sub(/^## /, ""); printf "  %-15s %s\n", "", $$0 }' $(firstword $(MAKEFILE_LIST))

## build: binaries of the fakes and the three gateways into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/fakes ./contracts/cmd/fakes
	@for g in $(GATEWAYS); do echo "$(GO) build -o $(BIN)/$$g ./$$g/cmd/$$g"; $(GO) build -o $(BIN)/$$g ./$$g/cmd/$$g || exit 1; done

## run: fakes on 127.0.0.1:9000 and the three gateways, in the foreground; Ctrl-C stops all
run: build
	@BIN=$(abspath $(BIN)) ./deploy/dev/run.sh

## run-cluster: Redis, the fakes, two instances of each gateway and nginx on :8081-8083,
## in the foreground; Ctrl-C stops all (needs nginx and redis-server, docs/cluster.md)
run-cluster: build
	@BIN=$(abspath $(BIN)) ./deploy/cluster/run.sh

## cluster-check: against a running make run-cluster, prove that the instances share
## rate limits, idempotency, the web cache, uploads and canary routing
cluster-check:
	cd deploy && $(GO) test -tags clustercheck -count=1 -run TestClusterCheck -v ./cluster/

## cluster-smoke: run-cluster end to end on free ports: ready, every cluster-check point,
## Ctrl-C stops all nine processes with status 0 and leaves no port listening
cluster-smoke:
	cd deploy && $(GO) test -tags cluster -count=1 -run TestRunClusterScript -v -timeout 10m ./cluster/

## rolling-restart: a cluster on free ports under a steady load through nginx while each
## instance is restarted in turn; fails on any 5xx, lost request or audit line missing or doubled
rolling-restart:
	cd deploy && ROLLING_DURATION=$(ROLLING_DURATION) ROLLING_RATE=$(ROLLING_RATE) $(GO) test -tags cluster -count=1 -run TestRollingRestart -v -timeout 15m ./cluster/

## smoke: make run end to end (scripts/smoke.sh): ready, one route per gateway, Ctrl-C leaves nothing running
smoke: build
	@./scripts/smoke.sh

## examples: run every sh example of README.md and docs/ against make run (scripts/examples.sh)
examples:
	@./scripts/examples.sh

## test: every test of every module, with the race detector
test:
	$(GO) test -race -count=1 $(PKGS)

## soak: the real binaries, fakes and one Redis under SOAK_RATE (100) req/s for SOAK_DURATION (2m),
## with upstream faults and Redis outages switching on and off; fails on transport errors, 5xx a
## route must not give, or growing goroutines or memory (docs/operations.md#soak)
soak:
	cd deploy && SHOPFRONT_SOAK=$(SOAK_DURATION) SOAK_RATE=$(SOAK_RATE) $(GO) test -tags soak -count=1 -run TestSoak -v -timeout 30m ./soak/

## chain-doc: rewrite docs/chain.md from the chain the code installs
chain-doc:
	SHOPFRONT_UPDATE_CHAIN_DOC=1 $(GO) test -count=1 -run 'TestChainDoc' $(PKGS)

## bench: the side-by-side benchmark (deploy/bench): upstream direct, a plain proxy, nginx and the
## gateways in BENCH_ROUNDS (5) alternating rounds of BENCH_DURATION (5s), about 10 minutes;
## writes BENCHMARKS.md and deploy/bench/results/latest (docs/performance.md)
bench:
	cd deploy && BENCH_COMMAND="$(strip make bench $(foreach v,BENCH_ROUNDS BENCH_DURATION BENCH_ONLY BENCH_PROFILE BENCH_CLIENTS BENCH_OVERLOAD_YAML,$(if $($(v)),$(v)='$($(v))')))" \
		$(GO) run ./bench

## bench-micro: every Go benchmark of every module, with allocations, in benchstat's format
## (BENCHFLAGS='-count=10' for benchstat); no test runs
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) $(PKGS)

## fuzz-short: every fuzz target for FUZZTIME (default 3s) each, one at a time
fuzz-short:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

## fuzz: every fuzz target for 2 minutes each (FUZZTIME=2m)
fuzz:
	@$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(if $(filter command line,$(origin FUZZTIME)),$(FUZZTIME),2m)

## vet: go vet over every module
vet:
	$(GO) vet $(PKGS)

## fmt: gofmt every module in place
fmt:
	gofmt -l -w $(MODULES)

## fmt-check: fail, listing the files, if gofmt would change any
fmt-check:
	@out=$$(gofmt -l $(MODULES)); [ -z "$$out" ] || { echo "gofmt would change (run make fmt):"; echo "$$out"; exit 1; }

## tidy: go mod tidy in each module
tidy:
	@for m in $(MODULES); do echo "tidy $$m"; (cd $$m && $(GO) mod tidy) || exit 1; done

## tidy-check: fail if go mod tidy would change any module
tidy-check:
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "$$m: run make tidy"; exit 1; }; done

## deps-check: fail, listing them, if a module required by more than one module's go.mod
## (direct or indirect) is pinned at different versions; go.work would build one version
## anyway, so drift only shows when a module is built on its own (GOWORK=off, Dockerfiles)
deps-check:
	@awk 'function add(p, v) { if (p ~ /^github.com\/shopfront\//) return; \
			at[p] = at[p] "  " m " " v; if (p in ver && ver[p] != v) drift[p] = 1; ver[p] = v } \
		FNR == 1 { m = FILENAME; sub("/go.mod$$", "", m); r = 0 } \
		/^require \(/ { r = 1; next } r && /^\)/ { r = 0; next } \
		r && NF >= 2 { add($$1, $$2) } /^require [^(]/ { add($$2, $$3) } \
		END { for (p in drift) { print p ":" at[p]; n++ } \
			if (n) { print "one version per dependency across the modules: align these and run make tidy"; exit 1 } }' \
		$(addsuffix /go.mod,$(MODULES))

## images: the three gateway images from deploy/gateway/Dockerfile (needs docker);
## public ports 8081, 8082, 8083 in GATEWAYS order, admin ports 1 + that
images:
	@port=8081; for g in $(GATEWAYS); do \
		echo "docker build $$g (:$$port, admin :1$$port)"; \
		docker build -f deploy/gateway/Dockerfile --build-arg GATEWAY=$$g \
			--build-arg PORT=$$port --build-arg ADMIN_PORT=1$$port -t shopfront/$$g:$(VERSION) . || exit 1; \
		port=$$((port + 1)); \
	done

## clean: remove bin/
clean:
	rm -rf $(BIN)
