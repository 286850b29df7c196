"""cap_contrastive (methods.md 2.7): a hand-computed case and a loop-by-loop reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainables.cap import cap_contrastive


def hand_case():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    bank = torch.tensor([[[0.6, 0.8]], [[0.8, 0.6]]])  # [N=2, r=1, d=2]
    return q, torch.tensor([0, 1]), bank


def test_hand_computed_example_with_double_normalisation():
    q, idx, bank = hand_case()
    # Candidates [q0, b0, q1, b1], tau = 0.5. Row 0 logits [2, 1.2, 0, 1.6], row 1
    # [0, 1.6, 2, 1.2]; the self entries (2) drop out, so both rows normalise over
    # {1.2, 0, 1.6} with lse = log(1 + e^1.2 + e^1.6).
    lse = math.log(1 + math.exp(1.2) + math.exp(1.6))
    unsup = -((1.2 - lse) + (1.2 - lse)) / 2  # P_0 = {b0}, P_1 = {b1}, sum |P_i| = 2
    # Same label for both: P_0 = {b0, q1, b1}, P_1 = {q0, b0, b1}; each row's mean over its
    # 3 positives, summed, then divided by sum |P_i| = 6 (not by B = 2).
    per_row = ((1.2 - lse) + (0.0 - lse) + (1.6 - lse)) / 3
    sup = -(2 * per_row) / 6
    assert unsup == pytest.approx(1.027123, abs=1e-6) and sup == pytest.approx(0.431263, abs=1e-6)

    labels = torch.tensor([0, 0])
    loss = cap_contrastive(
        q, idx, labels, bank, labels, tau=0.5, extra_examples=0, w_u=0.1, w_s=10.0
    )
    assert loss.item() == pytest.approx(0.1 * unsup + 10.0 * sup, rel=1e-6)  # 4.415345
    only_u = cap_contrastive(q, idx, labels, bank, labels, 0.5, 0, 1.0, 0.0)
    assert only_u.item() == pytest.approx(unsup, rel=1e-6)
    # Different labels: the supervised positives are the bank copies alone, as unsupervised.
    diff = torch.tensor([0, 1])
    assert cap_contrastive(q, idx, diff, bank, diff, 0.5, 0, 0.0, 1.0).item() == pytest.approx(
        unsup, rel=1e-6
    )


def reference(q, idx, labels, bank, bank_labels, tau, rows, w_u, w_s):
    """Plain loops over anchors and candidates, straight from the 2.7 text."""
    n_batch, depth = q.size(0), bank.size(1)
    cands, owner, klass, is_self = [], [], [], []
    for j in range(n_batch):
        cands.append(q[j].detach())
        owner.append(int(idx[j]))
        klass.append(int(labels[j]))
        is_self.append(j)
        for s in range(depth):
            cands.append(bank[idx[j], s])
            owner.append(int(idx[j]))
            klass.append(int(labels[j]))
            is_self.append(-1)
    for row in rows.tolist():
        for s in range(depth):
            cands.append(bank[row, s])
            owner.append(row)
            klass.append(int(bank_labels[row]))
            is_self.append(-1)
    terms = {"u": [], "s": []}
    for i in range(n_batch):
        logits = torch.stack([q[i] @ c / tau for c in cands])
        logits = torch.where(torch.tensor([s == i for s in is_self]), -1e6, logits)
        log_p = F.log_softmax(logits, dim=0)
        for key, same in (
            ("u", [o == int(idx[i]) for o in owner]),
            ("s", [k == int(labels[i]) for k in klass]),
        ):
            positives = [j for j in range(len(cands)) if same[j] and is_self[j] != i]
            nonzero = sum(1 for j in positives if log_p[j].item() != 0.0)
            terms[key].append(
                (sum(log_p[j] for j in positives) / len(positives), len(positives), nonzero))
    loss = 0.0
    for key, weight in (("u", w_u), ("s", w_s)):
        # the original's outer count: positives whose log-probability is not exactly 0
        loss = loss - weight * sum(t for t, _, _ in terms[key]) / sum(c for _, _, c in terms[key])
    return loss


@pytest.mark.parametrize("depth,extra", [(1, 0), (1, 6), (3, 7), (2, 1000)])
def test_matches_the_loop_reference_and_its_gradient(depth, extra):
    gen = torch.Generator().manual_seed(depth)
    n_rows, dim = 10, 5
    bank = F.normalize(torch.randn(n_rows, depth, dim, generator=gen), dim=-1)
    bank_labels = torch.randint(0, 3, (n_rows,), generator=gen)
    idx = torch.tensor([7, 2, 4, 0])
    q = F.normalize(torch.randn(4, dim, generator=gen), dim=-1).requires_grad_()

    loss = cap_contrastive(
        q,
        idx,
        bank_labels[idx],
        bank,
        bank_labels,
        0.1,
        extra,
        0.1,
        10.0,
        generator=torch.Generator().manual_seed(42),
    )
    # The extra rows: floor(E / r) distinct rows, capped at N (here 1000 // 2 -> all 10).
    rows = torch.randperm(n_rows, generator=torch.Generator().manual_seed(42))
    rows = rows[: min(extra // depth, n_rows)]
    assert len(set(rows.tolist())) == len(rows)
    q_ref = q.detach().clone().requires_grad_()
    expected = reference(q_ref, idx, bank_labels[idx], bank, bank_labels, 0.1, rows, 0.1, 10.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    expected.backward()
    assert torch.allclose(q.grad, q_ref.grad, atol=1e-5)


def zero_log_prob_case():
    # d = 3, r = 1, candidates [q0, b0, q1, b1], tau = 0.01. Anchor 0: b0 at logit 100, q1 and
    # b1 at 0, so log p(b0) = -log(1 + 2 e^-100), which is exactly 0.0 in float32. Anchor 1:
    # b0, q0 and b1 all at 0, so log p(b1) = -log 3.
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    bank = torch.tensor([[[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]]])
    return q, torch.tensor([0, 1]), bank


def test_outer_count_skips_a_positive_whose_log_probability_is_exactly_zero():
    q, idx, bank = zero_log_prob_case()
    labels = torch.tensor([0, 1])  # different labels: supervised positives = the bank copies
    # per anchor: [0, -log 3]; the original divides by the one non-zero entry, not by 2
    unsup = cap_contrastive(q, idx, labels, bank, labels, 0.01, 0, 1.0, 0.0)
    assert unsup.item() == pytest.approx(math.log(3), rel=1e-6)  # 1.098612 (was 0.549306)
    # Same label: anchor 0's positives b0, q1, b1 have log p 0, -100, -100 (mean -200/3);
    # anchor 1's b0, q0, b1 have -log 3 each (mean -log 3); 5 non-zero entries of 6.
    same = torch.tensor([0, 0])
    sup = cap_contrastive(q, idx, same, bank, same, 0.01, 0, 0.0, 1.0)
    assert sup.item() == pytest.approx((200 / 3 + math.log(3)) / 5, rel=1e-6)  # 13.55306
    assert reference(q, idx, same, bank, same, 0.01, torch.tensor([], dtype=torch.long),
                     0.1, 10.0).item() == pytest.approx(
        cap_contrastive(q, idx, same, bank, same, 0.01, 0, 0.1, 10.0).item(), rel=1e-6)


def test_guard_where_the_original_gives_nan():
    # Batch size 1, no extra rows: the only other candidate is the anchor's own bank copy,
    # log p = 0 exactly, and the original computes 0 / 0. We return 0 (and a finite gradient).
    q = F.normalize(torch.tensor([[0.3, 0.4]]), dim=-1).requires_grad_()
    bank = F.normalize(torch.tensor([[[0.5, -0.2]]]), dim=-1)
    labels = torch.tensor([1])
    loss = cap_contrastive(q, torch.tensor([0]), labels, bank, labels, 0.1, 0, 0.1, 10.0)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(q.grad).all()


def test_empty_bank_contributes_zero():
    q, idx, _ = hand_case()
    empty = torch.empty(2, 0, 2)
    loss = cap_contrastive(
        q, idx, torch.tensor([0, 1]), empty, torch.tensor([0, 1]), 0.1, 4096, 0.1, 10.0
    )
    assert loss.item() == 0.0


def test_regression_skips_the_supervised_term():
    q, idx, bank = hand_case()
    scores = torch.tensor([0.5, 3.2])
    unsup = cap_contrastive(q, idx, None, bank, None, 0.5, 0, 1.0, 0.0, supervised=False)
    skipped = cap_contrastive(q, idx, scores, bank, scores, 0.5, 0, 1.0, 10.0, supervised=False)
    assert skipped.item() == pytest.approx(unsup.item())
    with pytest.raises(ValueError, match="supervised=False for regression"):
        cap_contrastive(q, idx, scores, bank, scores, 0.5, 0, 1.0, 10.0)


def test_argument_errors():
    q, idx, bank = hand_case()
    labels = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="`tau` must be > 0"):
        cap_contrastive(q, idx, labels, bank, labels, 0.0, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="`extra_examples` must be >= 0"):
        cap_contrastive(q, idx, labels, bank, labels, 0.1, -1, 1.0, 1.0)
    with pytest.raises(ValueError, match="bank"):
        cap_contrastive(q, idx, labels, bank[:, 0], labels, 0.1, 0, 1.0, 1.0)
