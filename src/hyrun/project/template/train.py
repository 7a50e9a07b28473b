"""Trains this project's model with hyrun: python train.py [group=option ...] [key=value ...]"""
import hydra
from omegaconf import DictConfig

import hyrun  # imported before @hydra.main runs: hyrun's groups join the search path


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return hyrun.train(cfg)  # the last val accuracy, which a sweeper (Optuna) maximizes


if __name__ == "__main__":
    main()
