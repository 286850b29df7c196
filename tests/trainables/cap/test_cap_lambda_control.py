"""The in-run lambda controller (``lambda_control``, off by default): CAP-soft ends at its target."""

from __future__ import annotations

import math

import pytest
import torch
from cap_trial import tiny_cap_config

from trainables.cap.config import CapConfig
from trainables.cap.binarizers import sigmoid_threshold_mask
from trainables.cap.lambda_control import LambdaController
from trainables.cap.lambda_control import landing_offset
from trainables.cap.lambda_control import projected_kept
from trainables.cap.lambda_control import remaining_lr_steps
from trainables.cap.trainable import run
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.reporting import RecordingReporter


def test_update_creeps_up_when_short_drops_fast_when_over_and_stays_bounded():
    ctl = LambdaController(target=0.9, gain=3.0, every=5, max_scale=10.0)
    assert ctl.update(5, 0.7) == pytest.approx(math.exp(0.1))  # up: at most max_up
    assert ctl.update(10, 0.9) == pytest.approx(math.exp(0.1))  # on target: unchanged
    ctl.update(15, 1.0)  # over: down by down_gain * gain * error
    assert ctl.scale == pytest.approx(math.exp(0.1 - 0.9))
    for step in range(20, 400, 5):
        ctl.update(step, 0.0)
    assert ctl.scale == pytest.approx(10.0)  # the upper clip
    for step in range(400, 800, 5):
        ctl.update(step, 1.0)
    assert ctl.scale == pytest.approx(0.01)  # the lower clip: 1 / max_scale**2
    assert [h[0] for h in ctl.history][:3] == [5, 10, 15]
    assert not ctl.due(0) and ctl.due(5) and not ctl.due(7)


def test_remaining_steps_follow_the_learning_rate_schedule():
    assert remaining_lr_steps(10, 30, lambda k: 1.0) == 20
    # linear decay to 0 at step 100: from step 60 the rest is worth about half its steps
    decay = lambda k: (100 - k) / 100  # noqa: E731
    assert remaining_lr_steps(60, 100, decay) == pytest.approx(20.5)
    assert remaining_lr_steps(100, 100, decay) == 0.0


def test_projection_extrapolates_each_score_at_its_velocity():
    now = torch.tensor([[0.0, -1.0], [-2.0, 3.0]])
    before = now + 0.5  # every score fell by 0.5 over 2 steps
    # 8 steps more: -2.0 lower still; sigmoid > 0.1 keeps scores above logit(0.1) = -2.197
    ahead = now - 2.0  # [[-2, -3], [-4, 1]]: two kept
    assert projected_kept([now], [before], interval=2, horizon=8, threshold=0.1) == \
        int((torch.sigmoid(ahead) > 0.1).sum()) == 2


@pytest.mark.parametrize(("overrides", "says"), [
    ({"pruning_method": "topk"}, "lambda_control"),
    ({"pruning_method": "soft"}, "lambda_control_target"),
    ({"pruning_method": "soft", "lambda_control_target": 1.2}, "lambda_control_target"),
    ({"pruning_method": "soft", "lambda_control_target": 0.9, "lambda_control_gain": 0},
     "lambda_control_gain"),
    ({"pruning_method": "soft", "lambda_control_target": 0.9, "final_lambda": 0},
     "final_lambda"),
])
def test_bad_controller_settings_name_the_key(overrides, says):
    with pytest.raises(ConfigError, match=says):
        from_mapping(CapConfig, {"task": "qqp", "lambda_control": True, **overrides})


def _final(tmp_path, **overrides):
    rec = RecordingReporter()
    # lambda 0.01 on the tiny model leaves it almost dense (2% sparsity) after 60 steps
    config = tiny_cap_config(tmp_path, pruning_method="soft", final_lambda=0.01, max_steps=60,
                             eval_every=30, use_contrastive=False, distill_loss_weight=0.0,
                             mask_scores_learning_rate=0.1, **overrides)
    run(config, rec)
    return rec


@pytest.mark.parametrize("target", [0.6, 0.85])
def test_a_controlled_trial_ends_near_its_target_where_the_fixed_lambda_misses(tmp_path,
                                                                               target):
    fixed = _final(tmp_path).metrics[-1]["weight_sparsity"]
    controlled = _final(tmp_path, lambda_control=True, lambda_control_target=target,
                        lambda_control_landing=False)
    final = controlled.metrics[-1]
    assert abs(fixed - target) > 0.4, fixed
    assert abs(final["weight_sparsity"] - target) <= 0.1, final["weight_sparsity"]
    assert final["lambda_scale"] > 1.0  # it had to raise lambda to get there


# (0.9 is about the most the tiny model can reach: its biases, LayerNorms and 0.5% floors)
@pytest.mark.parametrize("target", [0.5, 0.75, 0.9])
def test_the_landing_ends_a_controlled_trial_on_its_target(tmp_path, target):
    final = _final(tmp_path, lambda_control=True, lambda_control_target=target).metrics[-1]
    # the tiny model's few thousand entries: within 0.2 points
    assert abs(final["weight_sparsity"] - target) <= 0.002, final["weight_sparsity"]


def test_the_landing_keeps_the_largest_scores_of_all_matrices_together():
    torch.manual_seed(0)
    scores = [torch.randn(64, 32) * 3, torch.randn(32, 32) * 3 - 4, torch.randn(128, 16) * 9]
    total = sum(s.numel() for s in scores)
    for keep in (1, 100, 1000, total // 2, total - 2):
        offset = landing_offset(scores, keep, threshold=0.1)
        kept = sum(int(sigmoid_threshold_mask(s + offset, 0.1).sum()) for s in scores)
        floors = sum(int(0.005 * s.numel()) + 1 for s in scores)
        assert kept == max(keep, floors) if keep < floors else kept == keep, (keep, kept)
        # one cut for all matrices above their floor: no dropped score beats a kept one
        masks = [sigmoid_threshold_mask(s + offset, 0.1).bool() for s in scores]
        free = [(s, m) for s, m in zip(scores, masks) if int(m.sum()) > int(0.005 * s.numel()) + 1]
        if free:
            lowest_kept = min(float(s[m].min()) for s, m in free)
            highest_dropped = max((float(s[~m].max()) for s, m in free if (~m).any()),
                                  default=-math.inf)
            assert highest_dropped < lowest_kept


def test_the_landing_is_exact_where_sigmoid_saturates():
    # scores of 40 and 41 are both sigmoid 1.0 in float32: the offset separates them anyway
    scores = [torch.tensor([[41.0, 40.0, 39.0, -5.0]])]
    offset = landing_offset(scores, 2, threshold=0.1)
    assert sigmoid_threshold_mask(scores[0] + offset, 0.1).tolist() == [[1.0, 1.0, 0.0, 0.0]]


def test_resume_restores_the_controller_scale(tmp_path):
    full = _final(tmp_path, lambda_control=True, lambda_control_target=0.6)
    config = tiny_cap_config(tmp_path, pruning_method="soft", final_lambda=0.01, max_steps=60,
                             eval_every=30, use_contrastive=False, distill_loss_weight=0.0,
                             mask_scores_learning_rate=0.1, lambda_control=True,
                             lambda_control_target=0.6)
    resumed = RecordingReporter()
    run(config, resumed, resume_from=full.checkpoints[0])
    assert [m["step"] for m in resumed.metrics] == [60]
    assert resumed.metrics[-1]["weight_sparsity"] == full.metrics[-1]["weight_sparsity"]
    assert resumed.metrics[-1]["lambda_scale"] == pytest.approx(
        full.metrics[-1]["lambda_scale"])
