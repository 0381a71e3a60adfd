"""``seqnet-torchrun``: ``torchrun`` for seqnet-train, ending as one seqnet-train process ends.

    seqnet-torchrun --nproc_per_node=2 -m seqnet.train model=gru   # the arguments of torchrun

It takes torchrun's own arguments and runs torchrun's launcher. What differs is how it ends on
preemption: torchrun answers a SIGTERM (or SIGUSR1) with a traceback and exit status 1, even
though each rank stops after its step and the run is checkpointed; a scheduler then takes the
job for failed. ``seqnet-torchrun`` exits as a preempted seqnet-train does, with one line and
status 128 + the signal number (143 for SIGTERM), also when only the ranks were signalled.
Other failures keep torchrun's own report, and exit status 1.
"""

from __future__ import annotations

import signal
import sys

PROG = "seqnet-torchrun"
#: Exit statuses of ranks stopped by a stop signal (seqnet.training.preemption).
PREEMPTED = {128 + s for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)}


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    from seqnet.plugins import PluginError, load_plugins

    try:  # as every seqnet command: a broken plugin is one line, before any rank starts
        load_plugins()
    except PluginError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except SignalException as e:  # the launcher itself was signalled; it stopped the ranks
        signum = int(e.sigval)
        print(
            f"{PROG}: stopped by {signal.Signals(signum).name}; the ranks wrote their "
            "checkpoint (see their lines above). Run the same command again to resume "
            "(ckpt_path=auto)",
            file=sys.stderr,
        )
        return 128 + signum
    except ChildFailedError as e:
        codes = {failure.exitcode for failure in e.failures.values()}
        if codes and codes <= PREEMPTED:  # only the ranks were signalled; they checkpointed
            return max(codes)
        print(f"{PROG}: error: {e.name} failed (exit status {sorted(codes)})", file=sys.stderr)
        return 1
    return 0


def run_main() -> None:
    """The console script ``seqnet-torchrun``."""
    sys.exit(main())


if __name__ == "__main__":
    run_main()
