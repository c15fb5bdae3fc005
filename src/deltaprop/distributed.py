"""Data-parallel training on MPI: several processes train one network, with one process's result.

Start the same program on P processes (*ranks*) with the MPI launcher of the environment
(``mpiexec -n 2 python train.py``, or ``srun`` on a Slurm cluster); ``fit`` notices it and
trains together. Every rank holds the whole network and the whole data set. In each step:

1. every rank draws the same order of the samples (from the same seed), so all ranks agree on
   the global mini-batch of B rows, the batch a single process would take;
2. rank r takes the contiguous rows ``[B·r/P, B·(r+1)/P)`` of it (its *shard*, b_r rows) and
   runs the forward and backward pass on them alone;
3. its gradients are the mean over its b_r rows, so it scales them by b_r/B; the scaled
   gradients of all layers, packed in one flat preallocated buffer, are summed over the ranks
   by one ``MPI_Allreduce``, which leaves on every rank Σ_r (b_r/B)·(1/b_r)·Σ_shard g = the mean
   over the B rows: the single-process gradient. The loss, the count of correct predictions
   and a stop flag ride in the same buffer;
4. every rank applies the same optimizer update to the same parameters, so the ranks stay
   bit-identical without ever exchanging parameters.

What is exactly equal to one process, and what is not:

- the order of the samples, the batches and the dropout masks are exactly those of one
  process: each rank draws the mask of the whole global batch (the same draw as one process)
  and keeps its own rows, so its generator stays in step with everyone's;
- the gradients differ from one process's only by rounding: a sum over B rows becomes P
  partial sums plus the reduction (and the b_r/B scaling), so after many steps the weights
  differ by a few units in the last place, amplified by training (about 1e-12 relative in
  float64 after a few epochs, 1e-6 in float32);
- the ranks are bit-identical to each other: they apply the same update to the same numbers
  (checked after every epoch: a rank that drifted stops the run with an error);
- only the per-epoch ``time`` differs between ranks.

Only rank 0 prints progress and writes checkpoints; validation metrics are computed on a
share of the validation set per rank and summed. An error on one rank aborts every rank
(``MPI_Abort``) with a message, so a failed job exits instead of hanging; a divergence or an
interruption is decided from reduced numbers, so all ranks raise it at the same step.

``import deltaprop`` never imports mpi4py: this module imports it only when training is
distributed. See docs/cluster.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DeltapropError, DeltapropTypeError, DivergenceError, ValidationError
from .parameters import Parameters
from .stopping import StopRequest, TrainingInterrupted

if TYPE_CHECKING:
    from .network import Network
    from .optimizers import Optimizer

# What launchers put in each process's environment: the number of processes and the rank.
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "PMIX_RANK")
# A user who set one of these chose the BLAS threads per rank; deltaprop leaves them alone.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)


class RanksDisagreeError(ValidationError):
    """The ranks of a distributed run do not hold the same network, data or options."""


def launched_size() -> int:
    """Number of processes the MPI launcher started (1 when not under one); needs no mpi4py."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def launched_rank() -> int:
    """This process's rank in the launcher's job (0 when not under one); needs no mpi4py."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def is_root() -> bool:
    """True on the one process that should print and write files (rank 0, or no MPI at all)."""
    return launched_rank() == 0


def add_distributed_option(parser: argparse.ArgumentParser) -> None:
    """Give a command ``--distributed`` / ``--no-distributed``, for ``fit(distributed=...)``.

    Unset (``None``) means "as launched": data-parallel under ``mpiexec`` with several ranks.
    """
    parser.add_argument(
        "--distributed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train data-parallel on the MPI ranks (default: when launched by mpiexec with "
        "several processes); --no-distributed trains alone in every process",
    )


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise DeltapropError(
            "distributed training needs mpi4py, which is not installed: "
            "pip install 'deltaprop[mpi]', or pass distributed=False"
        ) from None
    return MPI


def team_for(distributed: bool | Any | None = None) -> Solo | Team:
    """The ranks that train together: ``Solo`` for one process, a ``Team`` for several.

    ``None`` means "as launched": a ``Team`` when the MPI launcher started several processes.
    ``True`` uses MPI's world communicator, ``False`` always trains alone, and an mpi4py
    communicator trains on its ranks.
    """
    if distributed is False or (distributed is None and launched_size() <= 1):
        return SOLO
    if distributed is None or distributed is True:
        MPI = _mpi()
        comm = MPI.COMM_WORLD
        if comm.Get_size() != launched_size() and launched_size() > 1:
            raise DeltapropError(
                f"the launcher started {launched_size()} processes but MPI sees "
                f"{comm.Get_size()}: this mpiexec belongs to another MPI than mpi4py's; start "
                "the job with the environment's own mpiexec (e.g. .venv/bin/mpiexec)"
            )
    elif hasattr(distributed, "Allreduce") and hasattr(distributed, "Get_size"):
        MPI, comm = _mpi(), distributed
    else:
        raise DeltapropTypeError(
            f"distributed must be True, False, None or an mpi4py communicator, got "
            f"{type(distributed).__name__}"
        )
    if comm.Get_size() == 1:
        return SOLO
    return Team(comm, MPI)


class Solo:
    """One process training alone: every hook of the fit loop passes its values through."""

    rank, size, is_root = 0, 1, True

    def guard(self):
        return nullcontext()

    def root_only(self, verbose: int, checkpoint):
        return verbose, checkpoint

    def start(self, network, optimizer, X, targets, validation, batch_size, shuffle, verbose):
        pass

    def stop_request(self):
        return StopRequest()

    def shard(self, rows: np.ndarray) -> np.ndarray:
        return rows

    def train_step(self, network: Network, X, targets, rng, work, optimizer, parameters):
        return network.passes.train_step(X, targets, rng, work, optimizer, parameters)

    def train_steps(self, network: Network, *arguments) -> tuple[int, int] | None:
        return network.passes.train_steps(*arguments)

    def reduce(self, loss: float, gradient: Parameters, correct: float, size: int):
        return loss, gradient, correct, size

    def evaluate(self, evaluate: Callable[..., dict[str, float]], network, X, targets, *args):
        return evaluate(network, X, targets, *args)

    def agree(self, stopping: bool, network: Network) -> bool:
        return stopping


SOLO = Solo()


class Team:
    """The ranks of an MPI communicator training one network together (see the module doc).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks; deltaprop works on a duplicate, so its messages never mix with the user's.
    MPI : module
        ``mpi4py.MPI``.
    """

    def __init__(self, comm, MPI):
        self.MPI = MPI
        self.comm = comm.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_root = self.rank == 0
        self.threads_note = limit_blas_threads(self.comm, MPI)
        self.random = _ShardOfGlobalDraw()
        self.stop: Any = None
        self.batch_total = 0

    # ------------------------------------------------------------------ around the whole fit
    @contextmanager
    def guard(self) -> Iterator[None]:
        """Abort every rank when this one fails alone; re-raise errors all ranks share."""
        try:
            yield
        except (DivergenceError, RanksDisagreeError):  # decided from reduced numbers
            self._free()
            raise
        except BaseException as error:
            if isinstance(error, TrainingInterrupted):  # agreed by all ranks at the same step
                self._free()
                raise
            self.abort(error)
        else:
            self._free()

    def _free(self) -> None:
        if self.comm != self.MPI.COMM_NULL:
            self.comm.Free()

    def abort(self, error: BaseException) -> None:
        """Print ``error`` with this rank's number, then end every rank of the job."""
        abort_job(error, self.rank, self.size, self.comm)

    def root_only(self, verbose: int, checkpoint):
        """Progress and checkpoints from rank 0 only."""
        return (verbose, checkpoint) if self.is_root else (0, None)

    def start(
        self,
        network: Network,
        optimizer: Optimizer,
        X: np.ndarray,
        targets: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
        batch_size: int,
        shuffle: bool,
        verbose: int,
    ) -> None:
        """Check that every rank holds the same everything, and allocate the reduction buffer.

        ``X`` is ``(N, n_in)`` and ``targets`` ``(N,)`` or ``(N, n_out)``, the whole training set.
        """
        self._check_same(network, optimizer, X, targets, validation, batch_size, shuffle)
        layout = network.layout
        # [the gradient vector (∂L/∂W^1, ∂L/∂b^1, ...), loss sum, correct, ranks stopping, their
        # signals]
        self.buffer = np.zeros(layout.size + 4, dtype=network.dtype)
        self.gradient = Parameters(self.buffer[: layout.size], layout)
        self.tail = self.buffer[layout.size :]
        if verbose:
            print(
                f"deltaprop: data-parallel training on {self.size} MPI ranks, "
                f"{-(-batch_size // self.size)} rows of each batch of {batch_size} per rank; "
                f"{self.threads_note}",
                file=sys.stderr,
            )

    def _check_same(self, network, optimizer, X, targets, validation, batch_size, shuffle):
        parts = {
            "network parameters": _crc(network.parameters()),
            "data": _crc([X, targets, *(validation or ())]),
            "random generator state (seed)": _crc_text(repr(network.rng.bit_generator.state)),
            "options (batch_size, shuffle, optimizer)": _crc_text(
                repr((batch_size, shuffle, optimizer, optimizer.iterations))
            ),
        }
        differs = self._differs(list(parts.values()))
        if any(differs):
            names = [name for name, different in zip(parts, differs) if different]
            raise RanksDisagreeError(
                f"the {self.size} ranks hold different {', '.join(names)}: every rank must build "
                "the network with the same seed, load the same data and pass the same options"
            )

    def _differs(self, values: Sequence[int]) -> list[bool]:
        """Which of ``values`` (non-negative ints) are not the same on every rank."""
        n = len(values)
        extremes = np.array([*values, *(-v for v in values)], dtype=np.int64)
        self.comm.Allreduce(self.MPI.IN_PLACE, extremes, op=self.MPI.MAX)
        return [bool(extremes[i] != -extremes[n + i]) for i in range(n)]

    def stop_request(self):
        """A SIGINT/SIGTERM flag that takes effect when all ranks know of it (next reduce)."""
        self.stop = CollectiveStop()
        return self.stop

    # ------------------------------------------------------------------ each step
    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of the global batch ``rows`` (sample indices)."""
        total = len(rows)
        start, stop = total * self.rank // self.size, total * (self.rank + 1) // self.size
        self.batch_total = total
        self.random.select(start, stop, total)
        return rows[start:stop]

    def train_step(self, network: Network, X: np.ndarray, targets: np.ndarray, rng, work,
                   optimizer, parameters):  # fmt: skip
        """Forward and backward on this rank's ``X (b_r, n_in)``, with one process's dropout;
        never the update, which needs the gradient of every rank (``reduce``).

        A rank whose share is empty (a last batch smaller than the number of ranks) still
        draws the batch's dropout masks, to keep its generator in step, and returns no
        gradients. ``work`` is the ``Workspace`` for ``len(X)`` rows that ``fit`` reuses.
        """
        if rng is not None:
            self.random.generator = rng
            rng = self.random
        if len(X) == 0:
            if rng is not None:
                network.passes.forward(X, rng)
            return 0.0, None, None, False
        return (*network.passes.backprop(X, targets, rng, work), False)

    def train_steps(self, network: Network, *arguments) -> None:
        """None of the fit loop's steps in one call: each needs an allreduce."""
        return None

    def reduce(self, loss: float, gradient: Parameters | None, correct: float, size: int):
        """Sum the shares of all ranks with one Allreduce; return the global step's values.

        ``loss`` and ``gradient`` (views of one gradient vector) are means over this rank's
        ``size`` rows, ``correct`` a count. Returns ``(mean loss, gradient, correct count,
        rows)`` of the whole global batch, identical on every rank; the gradient is a view of
        the reduction buffer.
        """
        weight = size / self.batch_total
        if gradient is None:
            self.buffer[:] = 0
        else:
            np.multiply(gradient.vector, weight, out=self.gradient.vector)
        pending = None if self.stop is None else self.stop.pending
        self.tail[:] = (loss * size, correct, pending is not None, pending or 0)
        self.comm.Allreduce(self.MPI.IN_PLACE, self.buffer, op=self.MPI.SUM)
        loss_sum, correct, stopping, signals = (float(v) for v in self.tail)
        if stopping:
            self.stop.signal = pending if pending is not None else round(signals / stopping)
        return loss_sum / self.batch_total, self.gradient, correct, self.batch_total

    # ------------------------------------------------------------------ each epoch
    def evaluate(
        self,
        evaluate: Callable[..., dict[str, float]],
        network: Network,
        X: np.ndarray,
        targets: np.ndarray,
        *args,
    ) -> dict[str, float]:
        """``evaluate(network, X, targets, *args)`` on this rank's share, averaged over all rows.

        ``X`` is ``(N, n_in)``; every metric ``evaluate`` returns must be a mean over rows.
        """
        n = len(X)
        if n < self.size:  # too few rows to share: every rank evaluates them all, identically
            return evaluate(network, X, targets, *args)
        start, stop = n * self.rank // self.size, n * (self.rank + 1) // self.size
        result = evaluate(network, X[start:stop], targets[start:stop], *args)
        sums = np.array([value * (stop - start) for value in result.values()], dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, sums, op=self.MPI.SUM)
        return {name: float(total) / n for name, total in zip(result, sums)}

    def agree(self, stopping: bool, network: Network) -> bool:
        """Stop when any rank's callbacks asked to; check the ranks' parameters are identical.

        A signal pending on any rank becomes every rank's, so the next epoch does not start.
        """
        crc = _crc(network.parameters())
        pending = 0 if self.stop is None or self.stop.pending is None else self.stop.pending
        extremes = np.array([int(stopping), crc, -crc, pending], dtype=np.int64)
        self.comm.Allreduce(self.MPI.IN_PLACE, extremes, op=self.MPI.MAX)
        if extremes[1] != -extremes[2]:
            raise RanksDisagreeError(
                "the ranks' parameters drifted apart during training, which MPI's reduction "
                "should never allow: report this with your MPI library's name and version"
            )
        if extremes[3]:
            self.stop.signal = pending or int(extremes[3])
        return bool(extremes[0])


class _ShardOfGlobalDraw:
    """Stands in for the generator during one rank's forward pass so dropout matches one process.

    One process draws each layer's mask for the whole batch, ``random(out=mask)`` with a
    column-major ``(B, n)`` mask; this draws the same numbers (advancing the generator exactly
    as one process does) and hands back the rows of this rank's shard.
    """

    def __init__(self) -> None:
        self.generator: np.random.Generator | None = None
        self.start = self.stop = self.total = 0

    def select(self, start: int, stop: int, total: int) -> None:
        self.start, self.stop, self.total = start, stop, total

    def random(self, size=None, dtype=np.float64, out=None) -> np.ndarray:
        shape = out.shape if out is not None else tuple(np.atleast_1d(size))
        if shape[0] != self.stop - self.start:
            raise DeltapropError(
                f"internal error: a dropout mask for {shape[0]} rows, but this rank's share of "
                f"the batch has {self.stop - self.start}"
            )
        # The whole batch's draw, filled in the order one process fills its mask: column by
        # column, since the masks ``out`` of deltaprop's workspaces are column-major.
        order = "C" if out is None else "F"
        whole = np.empty((self.total, *shape[1:]), dtype=dtype, order=order)
        self.generator.random(dtype=dtype, out=whole)
        mine = whole[self.start : self.stop]
        if out is None:
            return mine
        out[...] = mine
        return out


class CollectiveStop(StopRequest):
    """A signal is only *pending* here; ``Team.reduce`` makes it ``signal`` on every rank."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: int | None = None

    def __call__(self, signum, frame) -> None:
        self.pending = signum


def _crc(arrays: Sequence[np.ndarray]) -> int:
    crc = 0
    for array in arrays:
        array = np.ascontiguousarray(array)
        crc = zlib.crc32(repr((array.shape, array.dtype.str)).encode(), crc)
        crc = zlib.crc32(array.view(np.uint8).reshape(-1) if array.size else b"", crc)
    return crc


def _crc_text(text: str) -> int:
    return zlib.crc32(text.encode())


# ---------------------------------------------------------------------- BLAS threads
_threads_note: str | None = None


def limit_blas_threads(comm, MPI) -> str:
    """Give each rank ``cores // ranks on its node`` BLAS threads, unless the user chose.

    Without this every rank would start one BLAS thread per core and P ranks on a node would
    fight over its cores. A launcher that bound the rank to some cores (Slurm's
    ``--cpus-per-task``) already chose: the rank gets one thread per core it may use. Returns
    a sentence for the log. Applied once per process (it needs threadpoolctl, an optional
    dependency; without it the sentence says how to set the threads by hand).
    """
    global _threads_note
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    on_node = node.Get_size()
    node.Free()
    if _threads_note is not None:
        return _threads_note
    chosen = [name for name in THREAD_VARIABLES if os.environ.get(name)]
    if chosen:
        _threads_note = f"BLAS threads per rank: {os.environ[chosen[0]]} (from {chosen[0]})"
        return _threads_note
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    if usable < cores:
        threads, why = usable, f"the {usable} cores this rank is bound to"
    else:
        threads, why = max(1, cores // on_node), f"{cores} cores // {on_node} ranks on this node"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _threads_note = (
            f"BLAS threads per rank not limited (threadpoolctl is not installed): start with "
            f"OMP_NUM_THREADS={threads} to avoid oversubscribing the cores"
        )
        return _threads_note
    threadpool_limits(limits=threads)
    _threads_note = f"BLAS threads per rank: {threads} ({why}; set OMP_NUM_THREADS to choose)"
    return _threads_note


# ---------------------------------------------------------------------- ending a failed job
def abort_job(error: BaseException | str, rank: int, size: int, comm=None, status: int = 1):
    """Print why this rank failed, then end all ``size`` ranks with ``MPI_Abort(status)``.

    A rank that simply exits leaves the others waiting forever in their next collective;
    MPI_Abort makes the launcher end them all, and the job exits with ``status``.
    """
    if isinstance(error, BaseException):
        text = str(error).splitlines()[0] if str(error) else ""
        message = f"{type(error).__name__}: {text}" if text else type(error).__name__
        if os.environ.get("DELTAPROP_DEBUG"):
            traceback.print_exception(error)
    else:
        message = error
    print(
        f"deltaprop: rank {rank} of {size} failed: {message}; aborting all {size} ranks",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    if comm is None:
        comm = _mpi().COMM_WORLD
    comm.Abort(status)


def abort_on_failure(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command's ``main`` so that, under an MPI launcher, a failed rank ends the job."""

    @functools.wraps(main)
    def guarded(*args, **kwargs) -> int:
        if launched_size() <= 1:
            return main(*args, **kwargs)
        try:
            status = main(*args, **kwargs)
        except SystemExit:  # argparse: the same arguments fail the same way on every rank
            raise
        except BaseException as error:
            abort_job(error, launched_rank(), launched_size())
        if status:
            abort_job(f"exit status {status}", launched_rank(), launched_size(), status=status)
        return status

    return guarded
