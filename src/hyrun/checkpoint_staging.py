"""A checkpoint's state copied to host memory, so that training can change the live tensors
while a background thread writes the copy (``checkpoint_config.async_save``).

The copy's tensors live in buffers kept from one save to the next (by their place in the
state's tree, while shape and dtype stay the same), so a steady run allocates nothing per
checkpoint: the cost on the training thread is one memory copy of the state. Tensors on a
GPU are copied into pinned buffers without blocking; ``Staged.ready()`` (called by the
writer's thread) waits for those copies.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

Key = tuple  # a tensor's place in the state's tree: the keys and indices leading to it


@dataclass
class Staged:
    """The host copy of one state; write it only after ``ready()``."""

    tree: Any
    _events: list = field(default_factory=list)

    def ready(self) -> Any:
        for event in self._events:
            event.synchronize()
        self._events.clear()
        return self.tree


class HostStaging:
    """Copies state trees (dicts, lists, tuples; tensors and plain values) to host memory,
    reusing the buffers of the previous copy. A buffer is overwritten by the next ``copy``:
    the caller waits until the previous copy is written (one save in flight)."""

    def __init__(self) -> None:
        self._buffers: dict[Key, torch.Tensor] = {}

    @property
    def nbytes(self) -> int:
        """Host memory the kept buffers hold."""
        return sum(buffer.nbytes for buffer in self._buffers.values())

    def copy(self, tree: Any) -> Staged:
        kept, self._buffers = self._buffers, {}
        shared: dict[tuple, torch.Tensor] = {}  # views of one storage (tied weights) copied once
        devices: set[torch.device] = set()
        staged = self._copy(tree, (), kept, shared, devices)
        events = []
        for device in devices:  # the copies were queued on each device's current stream
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(device))
            events.append(event)
        return Staged(staged, events)

    def _copy(self, node: Any, key: Key, kept: dict, shared: dict, devices: set) -> Any:
        if isinstance(node, torch.Tensor):
            return self._tensor(node, key, kept, shared, devices)
        if isinstance(node, dict):
            items = ((k, self._copy(v, (*key, k), kept, shared, devices)) for k, v in node.items())
            return OrderedDict(items) if isinstance(node, OrderedDict) else dict(items)
        if isinstance(node, (list, tuple)) and not hasattr(node, "_fields"):
            return type(node)(self._copy(v, (*key, i), kept, shared, devices) for i, v in enumerate(node))
        return copy.deepcopy(node)  # numbers, strings, numpy arrays: small, and may change after

    def _tensor(self, tensor: torch.Tensor, key: Key, kept: dict, shared: dict, devices: set) -> torch.Tensor:
        tensor = tensor.detach()
        if tensor.layout != torch.strided or tensor.is_quantized:
            return tensor.to("cpu", copy=True)  # rare kinds: a fresh copy each time
        identity = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
                    tensor.stride(), tensor.dtype, tensor.device)
        if identity in shared:
            return shared[identity]
        buffer = kept.get(key)
        if buffer is None or buffer.shape != tensor.shape or buffer.dtype != tensor.dtype:
            buffer = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=tensor.is_cuda)
        if tensor.is_cuda:
            buffer.copy_(tensor, non_blocking=True)
            devices.add(tensor.device)
        else:
            buffer.copy_(tensor)
        self._buffers[key] = shared[identity] = buffer
        return buffer
