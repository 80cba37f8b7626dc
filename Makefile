# Everything a developer or CI runs. `make help` lists the targets.
SHELL := /bin/bash
MOTO_VERSION := 5.2.5
STANDARDWEBHOOKS_VERSION := 1.1.0
SLACK_SDK_VERSION := 3.47.0
SVIX_VERSION := 2.9.1
# The providers' SDKs the catalog's tests sign or check signatures with (scripts/signers/sign.py).
PROVIDER_SDKS := twilio==9.13.0 paddle-python-sdk==1.16.1 squareup==46.0.0.20260916 hubspot-api-client==12.0.0 sendgrid==6.12.5 pynacl==1.6.2
# The stamp names the pinned versions, so changing one reinstalls.
VENV_STAMP := .venv/.installed-moto$(MOTO_VERSION)-sw$(STANDARDWEBHOOKS_VERSION)-slack$(SLACK_SDK_VERSION)-svix$(SVIX_VERSION)-$(subst ==,,$(subst $(eval) ,-,$(PROVIDER_SDKS)))
FUZZ_SECS ?= 60
export MOTO_ENDPOINT ?= http://127.0.0.1:4566

.PHONY: help venv signers moto build run up down test lint unit-and-integration check-infra model fuzz package bench bench-sweep soak soak-worker capacity clean php test-php

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 24

venv: $(VENV_STAMP) ## install moto and the providers' SDKs the tests sign with (Standard Webhooks, Svix, Slack, Twilio, Paddle, Square, HubSpot, SendGrid; PyNaCl) into .venv

$(VENV_STAMP):
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' 'standardwebhooks==$(STANDARDWEBHOOKS_VERSION)' 'slack_sdk==$(SLACK_SDK_VERSION)' 'svix==$(SVIX_VERSION)' $(PROVIDER_SDKS)
	touch $@

signers: scripts/signers/node_modules/.installed ## install the Stripe, GitHub, Linear and Discord SDKs (npm, pinned by package-lock.json) the tests sign or check with

scripts/signers/node_modules/.installed: scripts/signers/package.json scripts/signers/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	npm ci --prefix scripts/signers --no-audit --no-fund --loglevel=error
	touch $@

moto: venv ## start the moto server on 127.0.0.1:4566 unless one is running
	@scripts/stack.sh moto

# `cargo test --no-run` builds the binaries too, with the features the tests unify (dev-dependencies
# included): a plain `cargo build` or `-p ingress` would compile the AWS SDK crates a second time.
build: ## build the binaries (debug), exactly as `make test` builds them
	cargo test --workspace --no-run

run: venv ## the whole local stack in the foreground (Ctrl-C stops it)
	@scripts/stack.sh run

up: venv ## the local stack in the background; returns when the ingress answers
	@scripts/stack.sh up

down: ## stop what `make up` started
	@scripts/stack.sh down

lint: ## rustfmt and clippy, warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit-and-integration: moto signers ## cargo tests (unit, integration against moto, end to end)
	cargo test --workspace --no-fail-fast

check-infra: ## terraform parse + fmt -check, checkov, actionlint + zizmor on the workflows, function.json rendered as lambroll does, consistency tests
	scripts/check-infra.sh

# spin and a C compiler come from Debian (apt-get, as root or with sudo) when missing.
model: ## model-check the delivery protocol with spin: real model and known-wrong variants (docs/MODEL.md)
	@command -v spin >/dev/null && command -v cc >/dev/null || { \
	  echo "installing spin and gcc with apt-get"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq spin gcc >/dev/null; }
	model/check.sh

test: lint unit-and-integration check-infra model test-php ## everything CI runs

# PHP 8.2, the AsyncAws SQS client, PDO SQLite and PHPUnit come from Debian (apt-get, as root or with
# sudo) when missing; no Composer registry is needed.
PHP_PACKAGES := php-cli php-async-aws-sqs php-sqlite3 phpunit
php: ## install PHP, the AsyncAws SQS client, PDO SQLite and PHPUnit with apt-get where missing (the worker kit's needs)
	@command -v php >/dev/null && command -v phpunit >/dev/null && \
	  php -r 'exit(extension_loaded("pdo_sqlite") && extension_loaded("pcntl") && extension_loaded("posix") && stream_resolve_include_path("AsyncAws/Sqs/autoload.php") ? 0 : 1);' || { \
	  echo "installing $(PHP_PACKAGES) with apt-get"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(PHP_PACKAGES) >/dev/null; }

test-php: moto build php ## the PHP worker kit's PHPUnit tests (workers/php): unit, and against moto with the real binaries' messages
	cd workers/php && phpunit

soak-worker: moto build php ## PHP workers killed at random behind the fault-injected ingress: 2,000 events; must end `effects N of N, doubled 0, missing 0` (SOAK_WORKER_ARGS=...)
	php workers/php/tests/soak.php $(SOAK_WORKER_ARGS)

fuzz: ## fuzz the request checks and the SIGNATURE_SPEC reader for FUZZ_SECS seconds each (default 60; needs nightly, installs cargo-fuzz)
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cargo +nightly fuzz run admit -- -max_total_time=$(FUZZ_SECS) -max_len=65536
	cargo +nightly fuzz run spec -- -max_total_time=$(FUZZ_SECS) -max_len=4096

package: ## bootstrap zips for provided.al2023 in dist/ (ARCH=arm64 default, or x86_64)
	scripts/package.sh $(or $(ARCH),arm64)

soak: moto build ## fault-injection soak: 5,000 webhooks, 33% SendMessage / 12% DynamoDB faults, 20 ingress kills; must end with `lost 0` (SOAK_ARGS=...)
	$${CARGO_TARGET_DIR:-target}/debug/soak $(SOAK_ARGS)

bench: moto ## release builds, then every benchmark beside its reference; writes docs/bench-results.md (BENCH_ARGS=...)
	.venv/bin/python scripts/bench.py --endpoint $(MOTO_ENDPOINT) $(BENCH_ARGS)

bench-sweep: moto build ## sweep throughput against moto (ROWS=3000)
	.venv/bin/python scripts/bench_sweep.py --rows $(or $(ROWS),3000)

# matplotlib draws the picture; its own venv keeps it out of the test tools' .venv.
MATPLOTLIB_VERSION := 3.11.2
CAPACITY_VENV_STAMP := .venv-capacity/.installed-matplotlib$(MATPLOTLIB_VERSION)

$(CAPACITY_VENV_STAMP):
	python3 -m venv .venv-capacity
	.venv-capacity/bin/pip install --quiet --disable-pip-version-check 'matplotlib==$(MATPLOTLIB_VERSION)'
	touch $@

capacity: build $(CAPACITY_VENV_STAMP) ## wind tunnel: a 10,000/s burst against AWS's quotas scaled 1/100, default vs tuned settings, and a provider that never retries with the reconciler; table, docs/capacity.png, lost must be 0 (CAPACITY_ARGS=...)
	cargo build -p bench --bin capacity --bin fake_aws
	.venv-capacity/bin/python scripts/capacity.py --bin-dir $${CARGO_TARGET_DIR:-target}/debug $(CAPACITY_ARGS)

clean: down ## remove build output and local state
	rm -rf target dist .local
