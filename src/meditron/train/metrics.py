"""Metric sinks (rank 0 only): a JSONL log, one INFO log record per logged step, TensorBoard, and W&B / MLflow when
installed. The log record goes to the ``meditron`` logger (the CLI shows it on stderr).

Also the FLOPs model behind MFU: ``6·N`` per token for the matmuls of forward + backward (N = parameters without the
input embedding) plus the attention term ``12·layers·hidden·seq_len`` (PaLM, appendix B). MFU divides achieved FLOP/s
by the peak of the device from :data:`PEAK_BF16_FLOPS`; on CPU there is no honest peak, so only FLOP/s is reported.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Dense bf16 peak FLOP/s per device (vendor datasheets), matched by substring of ``torch.cuda.get_device_name``.
PEAK_BF16_FLOPS: dict[str, float] = {
    "H200": 989e12,
    "H100": 989e12,
    "GH200": 989e12,
    "A100": 312e12,
    "A800": 312e12,
    "L40S": 362e12,
    "A6000": 155e12,
    "A10G": 125e12,
    "L4": 121e12,
    "V100": 125e12,
    "MI300X": 1307e12,
    "MI250X": 383e12,
}


def flops_per_token(num_params: int, num_layers: int, hidden: int, seq_len: int) -> float:
    """Training FLOPs per token (forward + backward): ``6·N + 12·L·H·S``."""
    return 6.0 * num_params + 12.0 * num_layers * hidden * seq_len


def device_peak_flops(device: Any) -> float | None:
    """The device's bf16 peak, or None (CPU, unknown GPU)."""
    if getattr(device, "type", "cpu") != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_FLOPS.items():
        if key in name:
            return value
    return None


class MetricsLogger:
    """``log(step, metrics)`` to every enabled sink; ``close()`` flushes. Inactive (no-op) on ranks other than 0."""

    def __init__(
        self,
        jsonl_path: Path | None,
        *,
        active: bool = True,
        tensorboard_dir: Path | None = None,
        wandb: bool = False,
        mlflow: bool = False,
        run_name: str = "meditron",
        config: dict[str, Any] | None = None,
    ):
        self.active = active
        self._file = None
        self._tb = None
        self._wandb = None
        self._mlflow = None
        if not active:
            return
        if jsonl_path is not None:
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(jsonl_path, "a", encoding="utf-8")  # closed in close()
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(tensorboard_dir))
            except ImportError:
                self._warn("tensorboard is not installed: `pip install tensorboard` to log there")
        if wandb:
            try:
                import wandb as _wandb

                self._wandb = _wandb.init(project="meditron", name=run_name, config=config or {})
            except ImportError:
                self._warn("train.wandb is set but wandb is not installed: `pip install meditron[wandb]`")
        if mlflow:
            try:
                import mlflow as _mlflow

                _mlflow.start_run(run_name=run_name)
                self._mlflow = _mlflow
            except ImportError:
                self._warn("train.mlflow is set but mlflow is not installed: `pip install meditron[mlflow]`")

    @staticmethod
    def _warn(text: str) -> None:
        log.warning(text)

    def log(self, step: int, metrics: dict[str, Any], *, echo: bool = True) -> None:
        if not self.active:
            return
        record = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        # nested groups (``downstream``: accuracy per benchmark) become ``downstream/medqa4`` for the dashboards
        numeric = {k: v for k, v in _flatten(record).items() if isinstance(v, (int, float)) and k != "step"}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(numeric, step=step)
        if self._mlflow is not None:
            self._mlflow.log_metrics({k: float(v) for k, v in numeric.items() if math.isfinite(v)}, step=step)
        if echo:
            log.info(format_record(record))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        if self._mlflow is not None:
            self._mlflow.end_run()
            self._mlflow = None


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"downstream": {"medqa4": 0.4}}`` → ``{"downstream/medqa4": 0.4}`` (keys that already hold ``/`` stay)."""
    flat: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{prefix}{k}/"))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _clean(v: Any) -> Any:
    """JSON has no NaN/inf: non-finite floats are written as strings ("nan", "inf") so the log stays parseable."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def format_record(record: dict[str, Any]) -> str:
    """The line a human reads each log step: ``step 5  loss 2.3010  lr 3.00e-04  grad_norm 0.812 ...``."""
    parts = [f"step {record['step']}"]
    for key, fmt in (
        ("loss", "{:.4f}"),
        ("val_loss", "{:.4f}"),
        ("lr", "{:.2e}"),
        ("grad_norm", "{:.3f}"),
        ("tokens_per_s", "{:,.0f}"),
        ("mfu", "{:.1%}"),
    ):
        value = record.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{key} " + fmt.format(value))
        elif value is not None:
            parts.append(f"{key} {value}")
    if record.get("skipped"):
        parts.append("skipped (non-finite)")
    return "  ".join(parts)


def truncate_jsonl(path: Path, max_step: int) -> None:
    """Drop records after ``max_step`` (on resume: the steps re-run after the checkpoint are logged once)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= max_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    path.write_text("".join(x + "\n" for x in kept), encoding="utf-8")
