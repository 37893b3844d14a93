# Solace — the fixed entry points. `make run` and `make test` are all a newcomer needs.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

# Build output: $CARGO_TARGET_DIR when set (CI keeps one outside the clone), else ./target.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: help run build build-web build-backend dev test fuzz api bench lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: build ## Install what is missing, build everything, start Solace on http://localhost:8080
	@mkdir -p data
	$(TARGET_DIR)/release/solace serve

build: build-web build-backend ## Build the web app's static export and the release binary

build-web:
	bash scripts/ensure-js.sh
	pnpm build

build-backend:
	bash scripts/ensure-tools.sh
	cargo build --release --locked -p solace-backend

dev: ## Backend (debug) on :8080 and the web app with hot reload on :3000
	bash scripts/ensure-js.sh
	cargo build --locked -p solace-backend
	trap 'kill 0' EXIT; \
	  STATIC_DIR=$(CURDIR)/apps/frontend/out $(TARGET_DIR)/debug/solace serve & \
	  pnpm --filter @solace/frontend dev

test: ## Run every test: lints, Rust on SQLite and PostgreSQL+Redis, frontend, infra, E2E
	bash scripts/test.sh

fuzz: ## Schemathesis against the API on SQLite (more examples: FUZZ_EXAMPLES=500 make fuzz)
	bash scripts/ensure-tools.sh
	cargo build --locked -p solace-backend
	cargo build --locked -p solace-ai --features test-support --example fake_upstream
	bash scripts/fuzz-api.sh

api: ## Regenerate the OpenAPI document (docs/openapi.json) and the web app's API types from the handlers
	cargo run --locked -q -p solace-backend -- openapi > docs/openapi.json
	bash scripts/ensure-js.sh
	pnpm --filter @solace/frontend api-types

bench: ## Benchmarks (release build); results are recorded in docs/PERFORMANCE.md and docs/SAFETY.md
	SAFETY_MODEL_DIR=$$(bash scripts/ensure-safety-model.sh) SAFETY_MULTILINGUAL_DIR=$$(bash scripts/ensure-safety-model.sh multilingual) cargo bench --locked -p solace-ai --bench safety
	cargo build --release --locked -p solace-backend
	SAFETY_MODEL_DIR=$$(bash scripts/ensure-safety-model.sh) SAFETY_MULTILINGUAL_DIR=$$(bash scripts/ensure-safety-model.sh multilingual) $(TARGET_DIR)/release/solace safety eval --compare apps/ai/data/safety/heldout-10.tsv
	SAFETY_MODEL_DIR=$$(bash scripts/ensure-safety-model.sh) SAFETY_MULTILINGUAL_DIR=$$(bash scripts/ensure-safety-model.sh multilingual) $(TARGET_DIR)/release/solace safety eval apps/ai/data/safety/validation.tsv
	cargo bench --locked -p solace-backend --bench chat_stream
	cargo bench --locked -p solace-backend --bench sfu_fanout
	cargo bench --locked -p solace-backend --bench voice_round_trip
	cargo bench --locked -p solace-backend --bench tls_providers
	cargo bench --locked -p solace-backend --bench sealing
	SAFETY_MULTILINGUAL_DIR=$$(bash scripts/ensure-safety-model.sh multilingual) cargo bench --locked -p solace-backend --bench memory_recall
	SAFETY_MODEL_DIR=$$(bash scripts/ensure-safety-model.sh) SAFETY_MULTILINGUAL_DIR=$$(bash scripts/ensure-safety-model.sh multilingual) $(TARGET_DIR)/release/solace memory eval --compare apps/ai/data/memory/scenarios-test.jsonl

lint: ## Formatting and lints only
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	pnpm lint
	bash scripts/lint-infra.sh

fmt: ## Format Rust and TypeScript
	cargo fmt --all
	pnpm exec prettier --write .

clean: ## Remove build output (keeps ./data)
	cargo clean
	rm -rf apps/frontend/out apps/frontend/.next node_modules apps/*/node_modules tests/e2e/node_modules
