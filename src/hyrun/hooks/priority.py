"""Hook priorities: lower runs first, equal priorities in registration order.

``Priority`` has MMCV 1.x's names and numbers; a hook of yours takes one of them, an int,
or a name (any case). ``Order`` names where each built-in hook stands by what it must come
after and before; those relations are the reasons, and ``tests/test_hook_order.py`` states
the resulting order of the built-in hooks once. A hook that must run, say, after the
optimizer step and before evaluation reads the weights takes ``Order.AFTER_STEP``.
"""
from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


class Place(int):
    """A place in ``Order``: an int that knows its name, so a hook's config and the hook table
    say ``GUARD_STEP`` rather than 30."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        # the first class it is set in names it: Order, not a hook's ``priority = Order.X``
        self.__dict__.setdefault("name", name)


class Order:
    """The built-in hooks' places (ints), from first to last in every stage. Some share a
    number: their relative order does not matter."""

    #: lr and param schedules write the values this iteration's step uses (MMCV: VERY_HIGH)
    SCHEDULE = Place(Priority.VERY_HIGH)
    #: momentum schedules, after the lr's (MMCV: HIGH)
    MOMENTUM_SCHEDULE = Place(Priority.HIGH)
    #: looks at the loss after the forward, before the optimizer's backward and step
    GUARD_STEP = Place(Priority.HIGH)
    #: backward, clipping, the optimizer step (MMCV: ABOVE_NORMAL)
    OPTIMIZER_STEP = Place(Priority.ABOVE_NORMAL)
    #: after the step: buffers agreed across processes before anything copies or saves them
    SYNC_BUFFERS = Place(Priority.ABOVE_NORMAL + 8)
    #: after the step and the buffer sync: the averaged weights follow the new ones, and are
    #: swapped in before evaluation and checkpoints read the model
    AVERAGE_WEIGHTS = Place(Priority.ABOVE_NORMAL + 9)
    #: the iteration's time, measured after its step, before the train record that carries it
    MEASURE_TIME = Place(Priority.LOW - 2)
    #: the train record of a log interval, after the time is measured and before evaluation
    #: publishes (so a record file reads train, then val, for the same iteration)
    PUBLISH_TRAIN_RECORD = Place(Priority.LOW - 1)
    #: evaluation publishes its val record (MMCV: LOW)
    EVALUATE = Place(Priority.LOW)
    #: after evaluation and what acts on its record (early stopping, best and top-k files),
    #: so that a checkpoint holds their state and a resumed run continues exactly
    #: (MMCV saves first, at NORMAL, and a resumed run then repeats that evaluation)
    CHECKPOINT = Place(Priority.LOW + 15)
    #: loggers and the progress bar, after the checkpoint of the same stage
    LOG = Place(Priority.VERY_LOW)
    #: once every hook of a stage has had its say: under DDP the ranks agree on a stop
    AGREE_ON_STOP = Place(Priority.LOWEST)


ORDER_NAMES: dict[str, int] = {name: int(value) for name, value in vars(Order).items() if name.isupper()}


def get_priority(priority: int | str | Priority) -> int:
    """Turn a priority name (any case: a ``Priority`` or an ``Order``) or an int into the int
    the runner sorts by."""
    if isinstance(priority, str):
        name = priority.upper()
        if name in Priority.__members__:
            return int(Priority[name])
        if name in ORDER_NAMES:
            return ORDER_NAMES[name]
        allowed = ", ".join([*Priority.__members__, *ORDER_NAMES])
        raise ValueError(f"unknown priority {priority!r}; allowed: {allowed} or an int")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"priority must be a name or an int, got {priority!r}")
    return int(priority)


def priority_name(priority: int) -> str:
    """The name of a priority for configs and the hook table: a ``Place``'s own, else
    Priority's, else the first of Order's with that number, else ''."""
    if isinstance(priority, Place):
        return priority.name
    if priority in Priority._value2member_map_:
        return Priority(priority).name
    return next((name for name, value in ORDER_NAMES.items() if value == priority), "")
