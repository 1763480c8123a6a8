"""The sampler (kernel/llm/sampler.c) against numpy: for each parameter, the empirical distribution of many draws
from the C chain equals the distribution numpy computes from llama.cpp's documented definitions
(penalties -> top-k -> top-p -> min-p -> temperature -> draw), and seeds make draws repeatable."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "host" / "llm"))
import llm_lib  # noqa: E402

N_VOCAB = 64
N_DRAWS = 40000
# Draw frequencies are binomial: std <= 0.5 / sqrt(N_DRAWS) = 0.0025; allow 5 standard deviations.
FREQ_TOL = 5 * 0.5 / np.sqrt(N_DRAWS)
# Probabilities the C chain reports (float32 softmax) against numpy's float64.
PROB_TOL = 1e-5

OFF = dict(top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0, presence=0.0, frequency=0.0)


@pytest.fixture(scope="module")
def lib():
    return llm_lib.Lib()


@pytest.fixture(scope="module")
def logits():
    return (np.random.default_rng(7).standard_normal(N_VOCAB) * 2.0).astype(np.float32)


def softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def expected(logits, temp=1.0, top_k=0, top_p=1.0, min_p=0.0):
    """llama.cpp's chain in numpy (float64): returns the final probability of every token id."""
    l = np.asarray(logits, np.float64)
    order = sorted(range(len(l)), key=lambda i: (-l[i], i))
    keep = order[:top_k] if top_k > 0 else order
    if top_p < 1.0:
        p = softmax(l[keep])
        cum = np.cumsum(p)
        n = int(np.argmax(cum >= top_p)) + 1 if (cum >= top_p).any() else len(keep)
        keep = keep[:n]
    if min_p > 0.0:
        p = softmax(l[keep])
        keep = [t for t, q in zip(keep, p) if q >= min_p * p.max()]
    out = np.zeros(len(l))
    out[keep] = softmax(l[keep] / temp)
    return out


def draw(lib, logits, n=N_DRAWS, history=(), **kw):
    s = llm_lib.Sampler(lib, len(logits), **kw)
    for t in history:
        s.accept(t)
    return s.histogram(logits, n) / n


def check(freq, want):
    assert set(np.flatnonzero(freq)) <= set(np.flatnonzero(want)), "a token outside the kept set was drawn"
    assert np.abs(freq - want).max() < FREQ_TOL, (np.abs(freq - want).max(), FREQ_TOL)


def test_same_seed_same_tokens(lib, logits):
    a = [llm_lib.Sampler(lib, N_VOCAB, temp=1.0, seed=1234, **OFF) for _ in range(2)]
    seq = [[s.sample(logits) for _ in range(200)] for s in a]
    assert seq[0] == seq[1]
    other = llm_lib.Sampler(lib, N_VOCAB, temp=1.0, seed=1235, **OFF)
    assert [other.sample(logits) for _ in range(200)] != seq[0]


@pytest.mark.parametrize("temp", [0.5, 1.0, 1.7])
def test_temperature(lib, logits, temp):
    check(draw(lib, logits, temp=temp, seed=1, **OFF), expected(logits, temp=temp))


def test_greedy_is_argmax(lib, logits):
    for temp in (0.0, -1.0):
        s = llm_lib.Sampler(lib, N_VOCAB, temp=temp, top_k=5, top_p=0.5, seed=3)
        assert all(s.sample(logits) == int(np.argmax(logits)) for _ in range(20))


@pytest.mark.parametrize("k", [1, 5, 20])
def test_top_k(lib, logits, k):
    check(draw(lib, logits, temp=1.0, seed=2, **{**OFF, "top_k": k}), expected(logits, top_k=k))


@pytest.mark.parametrize("p", [0.3, 0.7, 0.95])
def test_top_p(lib, logits, p):
    check(draw(lib, logits, temp=1.0, seed=3, **{**OFF, "top_p": p}), expected(logits, top_p=p))


@pytest.mark.parametrize("m", [0.05, 0.2, 0.5])
def test_min_p(lib, logits, m):
    check(draw(lib, logits, temp=1.0, seed=4, **{**OFF, "min_p": m}), expected(logits, min_p=m))


def test_chain_order_filters_before_temperature(lib, logits):
    """top-k, top-p and min-p choose their set at temperature 1; the temperature only reshapes what is left."""
    kw = dict(top_k=12, top_p=0.8, min_p=0.02)
    want = expected(logits, temp=2.5, **kw)
    check(draw(lib, logits, temp=2.5, seed=5, repeat_penalty=1.0, **kw), want)
    # the same set as at temperature 1 (a temperature-first chain would keep more tokens)
    assert set(np.flatnonzero(want)) == set(np.flatnonzero(expected(logits, temp=1.0, **kw)))
    assert len(np.flatnonzero(expected(logits / 2.5, temp=1.0, **kw))) > len(np.flatnonzero(want))


def penalized(logits, history, last_n, rep=1.0, pres=0.0, freq=0.0):
    """llama.cpp's penalties over the last last_n accepted tokens."""
    l = np.asarray(logits, np.float64).copy()
    window = list(history)[-last_n:] if last_n > 0 else []
    for t in set(window):
        c = window.count(t)
        l[t] = l[t] * rep if l[t] <= 0 else l[t] / rep
        l[t] -= c * freq + pres
    return l.astype(np.float32)


@pytest.mark.parametrize("kw", [dict(repeat_penalty=1.5), dict(repeat_penalty=0.7), dict(presence=1.0),
                                dict(frequency=0.6), dict(repeat_penalty=1.3, presence=0.5, frequency=0.25)])
def test_penalties(lib, logits, kw):
    order = np.argsort(-logits)
    neg = [int(t) for t in np.flatnonzero(logits < 0)[:2]]
    history = [int(order[0])] * 3 + [int(order[1])] + [int(order[5])] * 2 + neg
    rep, pres, freq = kw.get("repeat_penalty", 1.0), kw.get("presence", 0.0), kw.get("frequency", 0.0)
    want = expected(penalized(logits, history, 64, rep, pres, freq))
    got = draw(lib, logits, history=history, temp=1.0, seed=6, last_n=64,
               **{**OFF, **kw})
    check(got, want)
    assert np.abs(want - expected(logits)).max() > 5 * FREQ_TOL  # the penalty visibly moved the distribution


def test_penalty_window(lib, logits):
    """Only the last repeat_last_n accepted tokens are penalized."""
    top = int(np.argmax(logits))
    others = [int(t) for t in np.argsort(logits)[:4]]
    history = [top] * 4 + others  # top is older than the last 4 tokens
    want = expected(penalized(logits, history, 4, rep=3.0))
    check(draw(lib, logits, history=history, temp=1.0, seed=7, last_n=4, **{**OFF, "repeat_penalty": 3.0}), want)
    assert penalized(logits, history, 4, rep=3.0)[top] == logits[top]


def test_n_probs(lib, logits):
    kw = dict(top_k=10, top_p=0.9, min_p=0.01)
    s = llm_lib.Sampler(lib, N_VOCAB, temp=0.7, seed=8, n_probs=5, repeat_penalty=1.0, **kw)
    s.sample(logits)
    ids, probs = s.top_probs(5)
    want = expected(logits, temp=0.7, **kw)
    order = sorted(np.flatnonzero(want), key=lambda i: (-want[i], i))[:5]
    assert ids == order
    assert np.allclose(probs, want[order], atol=PROB_TOL)
    # greedy: the softmax of the whole (penalized) vocabulary
    g = llm_lib.Sampler(lib, N_VOCAB, temp=0.0, seed=8, n_probs=3)
    assert g.sample(logits) == int(np.argmax(logits))
    ids, probs = g.top_probs(3)
    full = softmax(logits)
    assert ids == list(np.argsort(-full)[:3])
    assert np.allclose(probs, full[ids], atol=PROB_TOL)


def test_large_vocab_top_k_is_fast_and_right(lib):
    """A SmolLM2-sized vocabulary with llama.cpp's defaults (top_k 40, top_p 0.95, min_p 0.05, temp 0.8)."""
    l = (np.random.default_rng(9).standard_normal(49152) * 3).astype(np.float32)
    want = expected(l, temp=0.8, top_k=40, top_p=0.95, min_p=0.05)
    got = draw(lib, l, n=3000, temp=0.8, seed=10)
    assert set(np.flatnonzero(got)) <= set(np.flatnonzero(want))
    assert np.abs(got - want).max() < 5 * 0.5 / np.sqrt(3000)
