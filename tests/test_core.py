"""The encoder-decoder core: padding, cached == uncached decoding, the generic decoding loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from signllm.errors import UsageError
from signllm.models.core import (
    Decoder,
    Dims,
    Encoder,
    beam_search,
    eval_mode,
    greedy_decode,
    pad_sequences,
    sinusoidal_range,
)

DIMS = Dims(d_model=16, n_heads=2, d_ff=32)


def test_pad_sequences_lists_arrays_and_empty() -> None:
    ids = pad_sequences([[5, 6, 7], np.array([8], np.int32), []], pad_id=1)
    assert ids.dtype == torch.long
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1], [1, 1, 1]]
    assert pad_sequences([[], []], 0).shape == (2, 1)  # at least one column
    assert pad_sequences([], 0).shape == (0, 1)


def test_dims_validates_heads_and_dropout() -> None:
    with pytest.raises(UsageError, match="even-sized heads"):
        Dims(d_model=12, n_heads=4, d_ff=8)  # head size 3
    with pytest.raises(UsageError, match="dropout"):
        Dims(d_model=16, n_heads=2, d_ff=8, dropout=1.0)


def test_decoder_cache_equals_recompute_and_state_dict_keys() -> None:
    torch.manual_seed(0)
    enc, dec = Encoder(2, DIMS).eval(), Decoder(2, DIMS).eval()
    # a plain list of layers: keys are "<i>.<block>...", as the models' old nn.ModuleLists
    assert "0.attn.qkv.weight" in enc.state_dict()
    assert "1.cross_attn.kv.bias" in dec.state_dict()
    src = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    memory = enc(src, mask)
    kv = dec.memory_kv(memory)
    x = torch.randn(2, 6, 16) + sinusoidal_range(0, 6, 16, src.device)
    full = dec(x, kv, mask)  # (b, t, d), causal
    caches = dec.new_caches(2, 6, memory)
    steps = [dec(x[:, i : i + 1], kv, mask, caches) for i in range(6)]
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-5, atol=1e-5)
    with pytest.raises(UsageError, match="one position per step"):
        dec(x[:, :2], kv, mask, dec.new_caches(2, 6, memory))


def _markov(table: torch.Tensor):
    """A step function whose next-token log-probabilities depend on the last token only."""

    def step(history: torch.Tensor, i: int) -> torch.Tensor:
        return table[history[:, -1]]

    return step


def test_greedy_stops_at_eos_pads_and_forces_the_first_token() -> None:
    bos, eos, pad = 2, 3, 0
    # next token = last + 1, except 6 -> eos; bos -> 4
    table = torch.full((8, 8), -10.0)
    table[bos, 4], table[4, 5], table[5, 6], table[6, eos], table[7, 4] = 0, 0, 0, 0, 0
    ids, lengths = greedy_decode(
        _markov(table), 2, 6, bos, eos, pad, torch.device("cpu"), torch.tensor([-1, 7])
    )
    assert ids.tolist() == [[4, 5, 6, 0], [7, 4, 5, 6]]
    assert lengths.tolist() == [3, 4]  # <eos> not counted
    with pytest.raises(UsageError, match="max_len"):
        greedy_decode(_markov(table), 1, 0, bos, eos, pad, torch.device("cpu"))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_finds_the_brute_force_best_and_beam1_is_greedy(alpha: float) -> None:
    bos, eos, vocab = 0, 1, 4
    g = torch.Generator().manual_seed(54)  # a table where alpha changes the answer
    logits = torch.randn(vocab, vocab, generator=g)
    logits[:, bos] = -torch.inf  # never generated, as in the text models
    table = logits.log_softmax(-1)
    step = _markov(table)
    dev = torch.device("cpu")
    max_len = 3
    scored = []
    for n in range(max_len):
        for seq in itertools.product([2, 3], repeat=n):
            path = [bos, *seq, eos]
            logp = sum(float(table[a, b]) for a, b in itertools.pairwise(path))
            scored.append((logp / ((5 + n + 1) / 6) ** alpha, list(seq)))
    best = max(scored)[1]
    assert best == {0.0: [2], 1.0: [2, 3]}[alpha]  # the table is not a trivial one
    assert beam_search(step, 1, 50, max_len, bos, eos, dev, alpha) == [best]
    ids, lengths = greedy_decode(step, 1, max_len, bos, eos, -1, dev)
    assert beam_search(step, 1, 1, max_len, bos, eos, dev, alpha) == [
        ids[0, : int(lengths[0])].tolist()
    ]
    with pytest.raises(UsageError, match="beam must be >= 1"):
        beam_search(step, 1, 0, max_len, bos, eos, dev)


def test_eval_mode_restores_training() -> None:
    m = Encoder(1, DIMS).train()
    with eval_mode(m):
        assert not m.training
    assert m.training
