# Shopfront: five Go modules joined by go.work. There is no root go.mod, so
# every target iterates the modules (`go test ./...` does not work here).
SHELL   := /bin/bash
GO      ?= go
BIN     ?= bin
MODULES := shared contracts bff-mobile bff-web bff-partner deploy
GATEWAYS := bff-mobile bff-web bff-partner
# Tag of the images (make images); deploy/k8s and docker-compose.yml pin it.
VERSION ?= 0.1.0
# Extra flags for make bench, e.g. BENCHFLAGS='-count=5 -benchtime=2s'.
BENCHFLAGS ?=
# Every package of every module in the workspace, as absolute patterns.
PKGS     = $$($(GO) list -m -f '{{.Dir}}/...')

.PHONY: all build run smoke test bench vet fmt fmt-check tidy tidy-check images clean

all: vet test

## build: binaries of the fakes and the three gateways into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/fakes ./contracts/cmd/fakes
	@for g in $(GATEWAYS); do echo "$(GO) build -o $(BIN)/$$g ./$$g/cmd/$$g"; $(GO) build -o $(BIN)/$$g ./$$g/cmd/$$g || exit 1; done

## run: fakes on 127.0.0.1:9000 and the three gateways, in the foreground; Ctrl-C stops all
run: build
	@BIN=$(abspath $(BIN)) ./deploy/dev/run.sh

## smoke: make run end to end (scripts/smoke.sh): ready, one route per gateway, Ctrl-C leaves nothing running
smoke: build
	@./scripts/smoke.sh

## test: every test of every module, with the race detector
test:
	$(GO) test -race -count=1 $(PKGS)

## bench: every benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) $(PKGS)

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

## images: the three gateway images from deploy/gateway/Dockerfile (needs docker);
## public ports 8081, 8082, 8083 in GATEWAYS order, admin ports 1 + that
images:
	@port=8081; for g in $(GATEWAYS); do \
		echo "docker build $$g (:$$port, admin :1$$port)"; \
		docker build -f deploy/gateway/Dockerfile --build-arg GATEWAY=$$g \
			--build-arg PORT=$$port --build-arg ADMIN_PORT=1$$port -t shopfront/$$g:$(VERSION) . || exit 1; \
		port=$$((port + 1)); \
	done

clean:
	rm -rf $(BIN)
