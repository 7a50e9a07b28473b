"""Trains this project's model with hyrun: python train.py [group=option ...] [key=value ...]"""
import hydra
from omegaconf import DictConfig

import hyrun  # imported before @hydra.main runs: hyrun's groups join the search path
from hyrun.hydra_version import main_kwargs  # version_base on Hydra 1.3, none on 1.4 (deprecated)


@hydra.main(config_path="configs", config_name="train", **main_kwargs())
def main(cfg: DictConfig) -> float | None:
    return hyrun.train(cfg)  # the last val accuracy, which a sweeper (Optuna) maximizes


if __name__ == "__main__":
    main()
