from hyrun.hooks.logger.base import LoggerHook
from hyrun.hooks.logger.text import TextLoggerHook

__all__ = ["LoggerHook", "TextLoggerHook"]
