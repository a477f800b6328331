"""Reading DCP checkpoints without running code from them: a ``.metadata`` unpickler limited to DCP's own classes and
a load planner that reads non-tensor items with ``torch.load(weights_only=True)``.

Why: ``torch.distributed.checkpoint``'s ``FileSystemReader`` reads ``.metadata`` with ``pickle.load`` and its default
planner reads every non-tensor item (the optimizer's ``param_groups``) with ``torch.load(weights_only=False)``, so a
crafted checkpoint folder runs arbitrary code the moment it is loaded — by ``meditron export`` or ``pretrain
--resume``. The manifest (``checkpoint_manifest.py``) proves a checkpoint is the one that was saved, not that whoever
saved it meant well; these two classes make loading safe whatever the folder holds: a ``.metadata`` that names any
other global (``os.system``, ``builtins.eval``, ...) is refused before the name is even looked up.

Why not DCP's Hugging Face safetensors storage instead: it stores tensors only, while a resumable checkpoint also
holds the optimizer's non-tensor state, and its reader still goes through the same planner. Keeping the native
format and closing both pickle paths covers model, optimizer and RNG state alike, and reads existing checkpoints.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import Metadata, StorageMeta
from torch.distributed.checkpoint.planner import ReadItem

from meditron.errors import CheckpointError

_DCP_METADATA = "torch.distributed.checkpoint.metadata"
ALLOWED_GLOBALS: dict[str, set[str]] = {
    _DCP_METADATA: {"Metadata", "BytesStorageMetadata", "ChunkStorageMetadata", "MetadataIndex", "StorageMeta",
                    "TensorProperties", "TensorStorageMetadata", "_MEM_FORMAT_ENCODING"},
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.serialization": {"_get_layout"},
    "torch": {"Size"},  # and the dtypes (torch.float32, ...), checked by type below
    "pathlib": {"PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath", "Path"},
    "collections": {"OrderedDict"},
}


class _MetadataUnpickler(pickle.Unpickler):
    """Resolves only the globals a DCP ``.metadata`` legitimately holds; anything else is refused unresolved."""

    def __init__(self, file: Any, where: str):
        super().__init__(file)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if name in ALLOWED_GLOBALS.get(module, ()):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise CheckpointError(
            f"{self.where}: refusing to load it: it asks to run {module}.{name}, which a checkpoint's metadata never "
            "holds (a crafted or corrupted checkpoint; nothing from it was executed)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"{self.where}: refusing to load it: unexpected persistent reference in its metadata")


def load_metadata(path: str | Path) -> Metadata:
    """The ``Metadata`` of a DCP ``.metadata`` file, unpickled with the allow-list above."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            metadata = _MetadataUnpickler(f, where).load()
    except CheckpointError:
        raise
    except Exception as e:  # truncated or garbled pickle
        raise CheckpointError(f"{where} is not a readable checkpoint metadata file ({type(e).__name__}: {e})") from None
    if not isinstance(metadata, Metadata):
        raise CheckpointError(f"{where} holds a {type(metadata).__name__}, not DCP checkpoint metadata")
    return metadata


class SafeFileSystemReader(FileSystemReader):
    """``FileSystemReader`` whose ``.metadata`` goes through :func:`load_metadata` (tensors already load with
    ``weights_only=True`` in DCP itself)."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        metadata = load_metadata(self._get_metadata_path(kwargs.get("rank")))
        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class SafeLoadPlanner(DefaultLoadPlanner):
    """``DefaultLoadPlanner`` reading non-tensor items (optimizer hyper-parameters) with ``weights_only=True``."""

    def load_bytes(self, read_item: ReadItem, value: io.BytesIO) -> None:
        try:
            obj = torch.load(value, weights_only=True)
        except Exception as e:
            raise CheckpointError(f"checkpoint item {read_item.dest_index.fqn!r} is not plain data "
                                  f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        fqn = read_item.dest_index.fqn
        if self.flatten_state_dict:
            from torch.distributed.checkpoint._traverse import set_element  # what DefaultLoadPlanner uses

            set_element(self.original_state_dict, self.mappings[fqn], obj)
        else:
            self.state_dict[fqn] = obj
