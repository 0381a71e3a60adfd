"""``seqnet-train``: the Hydra entry point. Compose the config, train, return the validation loss
(the value a sweeper optimises).

    seqnet-train                                  # LSTM on the adding problem, CPU, < 1 minute
    seqnet-train model=gru data.seq_len=100       # any key can be overridden
    seqnet-train -m model=rnn,lstm,gru            # a sweep: outputs/multirun/<timestamp>/...
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import seqnet.config  # noqa: F401  (registers the schemas and resolvers before composition)
from seqnet.errors import SeqnetError
from seqnet.training.loop import train

log = logging.getLogger("seqnet")

# configs/ sits at the top of the repository, two folders above this file (src/seqnet/).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def run(cfg: DictConfig) -> float:
    try:
        metrics = train(cfg)
    except SeqnetError as e:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper marks this job failed and goes on with the others
        log.error("%s", e)
        print(f"seqnet-train: error: {e}", file=sys.stderr)
        sys.exit(1)
    run_dir = Path(cfg.paths.run_dir)
    tests = "".join(f"\n{k} {v:.5g}" for k, v in metrics.items() if k.startswith("test/"))
    print(
        f"\nval/loss {metrics['val/loss']:.5g} after {metrics['step']} steps{tests}"
        f"\nrun directory: {run_dir}"
        f"\nview it:       tensorboard --logdir {cfg.paths.output_dir}"
    )
    return metrics["val/loss"]


def main() -> None:
    if not CONFIG_DIR.is_dir():
        sys.exit(
            f"seqnet-train: error: no configs at {CONFIG_DIR}; install seqnet from its "
            "repository with pip install -e . (or pass --config-dir PATH)"
        )
    run()


if __name__ == "__main__":
    main()
