.PHONY: run test bench lint
run:   ## install and run the provider + demo RP on the embedded default
	scripts/run
test:  ## install and run the whole test suite (what CI runs)
	scripts/test
lint:
	.venv/bin/ruff check .
bench: ## benchmarks against node-oidc-provider (see benchmarks/README.md)
	benchmarks/run
