"""``seqnet-train``: the Hydra entry point. Compose the config, train, return the validation loss
(the value a sweeper optimises).

    seqnet-train                                  # LSTM on the adding problem, CPU, < 1 minute
    seqnet-train model=gru data.seq_len=100       # any key can be overridden
    seqnet-train -m model=rnn,lstm,gru            # a sweep: outputs/multirun/<timestamp>/...
    seqnet-train --config-dir conf experiment=my_study model=my_cell   # a user's own configs

The configs come from the installed package (``seqnet.config.CONFIG_DIR``); plugins
(``seqnet.plugins``) are imported before composing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seqnet.config import CONFIG_DIR, CONFIG_NAME
from seqnet.errors import SeqnetError
from seqnet.plugins import PluginError, load_plugins
from seqnet.training.loop import train
from seqnet.training.run_folder import ClaimRunFolder

log = logging.getLogger("seqnet")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def run(cfg: DictConfig) -> float:
    try:
        load_plugins()  # again in case a launcher runs this job in a fresh process
        metrics = train(cfg)
    except SeqnetError as e:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper marks this job failed and goes on with the others
        log.error("%s", e)
        print(f"seqnet-train: error: {e}", file=sys.stderr)
        sys.exit(1)
    run_dir = Path(cfg.paths.run_dir)
    print(
        f"\nval/loss {metrics['val/loss']:.5g} after {metrics['step']} steps"
        f"\nrun directory: {run_dir}"
        f"\nview it:       tensorboard --logdir {cfg.paths.output_dir}"
    )
    return metrics["val/loss"]


def main() -> None:
    if not (CONFIG_DIR / f"{CONFIG_NAME}.yaml").is_file():
        sys.exit(
            f"seqnet-train: error: no {CONFIG_NAME}.yaml in {CONFIG_DIR}: this seqnet install is "
            "incomplete; reinstall it (pip install --force-reinstall seqnet, or pip install -e . "
            "in a clone)"
        )
    try:
        load_plugins()
    except PluginError as e:
        sys.exit(f"seqnet-train: error: {e}")
    ClaimRunFolder.command = "seqnet-train"  # a refused run folder: one line, exit status 1
    run()


if __name__ == "__main__":
    main()
