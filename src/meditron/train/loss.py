"""Next-token cross-entropy without vocabulary-sized buffers: the logits become their own gradient, a block at a time.

``F.cross_entropy`` over ``[tokens, vocab]`` logits walks that tensor about six times per step (log-softmax forward,
the target gather, a zero-filled gradient buffer, the scatter, log-softmax backward) and keeps a log-probability
tensor of the same size alive until the backward pass. Two functions here avoid that:

* ``cross_entropy_sum(logits, labels)`` computes, for a block of rows small enough to stay in the CPU's L2 cache, the
  log-sum-exp, the loss and the gradient ``softmax - one_hot``, written over the logits themselves; the backward pass
  only scales it.
* ``linear_cross_entropy_sum(hidden, weight, labels)`` goes one step further and takes the LM head's input: for a
  chunk of rows it computes the chunk's logits, turns them into their gradient as above and immediately multiplies
  that into the gradients of the hidden states and of the weight. The ``[tokens, vocab]`` logits never exist (a
  7B Llama's 4096-token micro-batch would have 0.5 GB of them in fp32), each chunk is still in cache when the three
  matmuls read it, and rows whose label is ignored (the prompt of an answer-only finetuning example, the last
  position of each sequence) are skipped: no logits are computed for them at all. The same technique as Liger
  Kernel's ``FusedLinearCrossEntropy`` (Hsu et al. 2024), in plain PyTorch so it runs on CPU and GPU alike.

Both give the same cross-entropy as ``F.cross_entropy`` (the loss is accumulated in float64 per block, so it is if
anything more exact; the tests compare loss and gradients). Measured on this project's 2-core CPU in
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from meditron.special_tokens import IGNORE_INDEX

#: CPU block size in bytes (one block of fp32 logits): about an L2 cache. Smaller blocks pay per-op overhead
#: (15 small ops per block: 64 KiB blocks cost 1.7× 1 MiB ones at 2048 × 8192), larger ones leave the cache.
_CPU_BLOCK_BYTES = 1024 * 1024
#: ... but never fewer rows than this (a 128k vocabulary would otherwise give 2-row blocks).
_MIN_BLOCK_ROWS = 16
#: CPU rows per chunk of the fused LM head. GEMMs of fewer rows lose speed on CPU: LM head + loss, forward and
#: backward, 2,048 × 512 hidden states, vocabulary 32k, cost 10 % more than with whole logits in 256-row chunks,
#: 3 % more in 512-row ones, the same in 1,024-row ones (this repo's 2-core CPU, median of 12).
_CPU_CHUNK_ROWS = 1024


def _block_rows(vocab: int, device: torch.device) -> int:
    if device.type == "cpu":
        return max(_MIN_BLOCK_ROWS, _CPU_BLOCK_BYTES // (vocab * 4))
    return 1 << 62  # one block: a handful of kernels


def _xent_grad_(x: torch.Tensor, targets: torch.Tensor, keep: torch.Tensor | None, block_rows: int) -> torch.Tensor:
    """Sum of the cross-entropies of the fp32 ``x [n, V]``; overwrites ``x`` with ``softmax - one_hot`` (× ``keep``).

    ``keep`` (0/1 per row, or None for all rows) zeroes the loss and gradient of ignored rows. Returns a float64 scalar.
    """
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], block_rows):
        xb = x[start : start + block_rows]
        y = targets[start : start + block_rows, None]
        top = xb.amax(dim=1, keepdim=True)
        target_logit = xb.gather(1, y).squeeze(1)
        xb.sub_(top).exp_()
        norm = xb.sum(dim=1)
        lse = top.squeeze(1) + norm.log()
        if keep is None:
            total += (lse - target_logit).sum(dtype=torch.float64)
            xb.div_(norm[:, None])  # softmax
            xb.scatter_add_(1, y, torch.full_like(target_logit[:, None], -1.0))  # - one_hot(target)
        else:
            k = keep[start : start + block_rows]
            total += ((lse - target_logit) * k).sum(dtype=torch.float64)
            xb.mul_((k / norm)[:, None])  # softmax, zero on ignored rows
            xb.scatter_add_(1, y, -k[:, None])
    return total


class _InPlaceCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, labels: torch.Tensor, block_rows: int) -> torch.Tensor:
        valid = labels != IGNORE_INDEX
        total = _xent_grad_(logits, labels.clamp_min(0), valid.to(logits.dtype), block_rows)
        ctx.save_for_backward(logits)
        return total.to(logits.dtype)

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad.mul_(grad_loss), None, None


def cross_entropy_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum of token cross-entropies of ``logits [N, V]`` (float32) against ``labels [N]``, ignoring IGNORE_INDEX.

    Overwrites ``logits`` with their gradient: callers pass logits nothing else reads (the LM head's backward needs
    its input and weight, not its output); if some autograd node had saved them, its backward would fail loudly on the
    version counter rather than silently use the overwritten values. Tensors that are not plain (DTensor) use
    ``F.cross_entropy``.
    """
    if type(logits) is not torch.Tensor or logits.dim() != 2 or not logits.requires_grad:
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="sum")
    return _InPlaceCrossEntropy.apply(logits, labels, _block_rows(logits.shape[1], logits.device))


def _is_plain(t: torch.Tensor) -> bool:
    """A local tensor or parameter (not a DTensor, whose ``.data`` is a DTensor too)."""
    return isinstance(t, torch.Tensor) and type(t.data) is torch.Tensor


def _chunk_rows(rows: int, vocab: int, hidden: int, device: torch.device) -> int:
    if device.type == "cpu":
        return _CPU_CHUNK_ROWS
    # GPU: Liger Kernel's rule — chunk logits about as large as the hidden states, in power-of-two rows.
    per_chunk = -(-rows // max(1, -(-vocab // hidden)))
    return 1 << max(0, (per_chunk - 1).bit_length())


class _LinearCrossEntropy(torch.autograd.Function):
    """Loss of ``hidden @ weight.T`` against ``targets``; the gradients are computed in the forward pass, chunk by chunk."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, dtype: torch.dtype):
        rows, vocab = hidden.shape[0], weight.shape[0]
        w = weight.to(dtype)
        index = (labels != IGNORE_INDEX).nonzero().squeeze(1)
        every_row = index.numel() == rows
        h = (hidden if every_row else hidden.index_select(0, index)).to(dtype)
        targets = labels if every_row else labels.index_select(0, index)
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        total = torch.zeros((), dtype=torch.float64, device=hidden.device)
        chunk = _chunk_rows(h.shape[0], vocab, hidden.shape[1], hidden.device)
        block = _block_rows(vocab, hidden.device)
        buffer = torch.empty((min(chunk, h.shape[0]), vocab), dtype=h.dtype, device=h.device)  # reused: no page faults
        for start in range(0, h.shape[0], chunk):
            hc = h[start : start + chunk]
            logits = torch.mm(hc, w.t(), out=buffer[: hc.shape[0]])
            x = logits if logits.dtype == torch.float32 else logits.float()
            total += _xent_grad_(x, targets[start : start + chunk], None, block)
            g = x.to(h.dtype)
            torch.mm(g, w, out=grad_h[start : start + chunk])
            if g.dtype == torch.float32:
                grad_w.addmm_(g.t(), hc)
            else:
                grad_w += (g.t() @ hc).float()
        grad_h = grad_h.to(hidden.dtype)
        if not every_row:
            grad_h = torch.zeros_like(hidden).index_copy_(0, index, grad_h)
        ctx.save_for_backward(grad_h, grad_w.to(weight.dtype))
        return total.to(torch.float32)

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_h, grad_w = ctx.saved_tensors
        return grad_h.mul_(grad_loss.to(grad_h.dtype)), grad_w.mul_(grad_loss.to(grad_w.dtype)), None, None


def linear_cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum of token cross-entropies of the logits ``hidden [N, D] @ weight[V, D].T`` against ``labels [N]`` (IGNORE_INDEX ignored).

    Equal to ``cross_entropy_sum(F.linear(hidden, weight).float(), labels)`` without the ``[N, V]`` logits (see the
    module docstring). The matmuls run in autocast's dtype when autocast is on (as ``F.linear`` would), else in
    ``hidden``'s; the softmax always in fp32. Without gradients (evaluation) it is computed chunk by chunk as well;
    DTensors take the plain path.
    """
    if not (_is_plain(hidden) and _is_plain(weight)):
        return cross_entropy_sum(F.linear(hidden, weight).float(), labels)
    device_type = hidden.device.type
    autocast = torch.is_autocast_enabled(device_type)
    dtype = torch.get_autocast_dtype(device_type) if autocast else hidden.dtype
    with torch.autocast(device_type, enabled=False):
        if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
            return _LinearCrossEntropy.apply(hidden, weight, labels, dtype)
        h, w = hidden.to(dtype), weight.to(dtype)
        chunk = _chunk_rows(h.shape[0], w.shape[0], h.shape[1], h.device)
        total = torch.zeros((), dtype=torch.float64, device=h.device)
        for start in range(0, h.shape[0], chunk):
            logits = (h[start : start + chunk] @ w.t()).float()
            total += F.cross_entropy(
                logits, labels[start : start + chunk], ignore_index=IGNORE_INDEX, reduction="sum"
            ).double()
        return total.to(torch.float32)
