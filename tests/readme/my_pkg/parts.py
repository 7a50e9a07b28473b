"""README "Your own optimizer, hook, logger or constructor, by name": the registered parts
(``optimizer=my_optimizer``, ``hooks=[weight_norm_limit]``, ``logger=[text,csv_logger]``),
defined and registered in the tests' own plugin module."""
from tests.plugins.custom_parts import CsvLogger, MyOptimizer, WeightNormLimit

__all__ = ["CsvLogger", "MyOptimizer", "WeightNormLimit"]
