"""The snapshot bank is encoded at the previous step's threshold, as the original does."""

from __future__ import annotations

from trainables.cap import PruningState
from trainables.cap.config import CapConfig
from trainables.cap.training import CapTraining
from trainables.finetune import Plan
from trainables.config import from_mapping

from tests.trainables.cap.cap_trial import tiny_cap_config


class RecordingBanks:
    """Stands in for TrialBanks: records the threshold each snapshot was encoded at."""

    def __init__(self, state: PruningState) -> None:
        self.state, self.thresholds, self.encode_seconds = state, [], []

    def snapshot(self, model) -> None:
        self.thresholds.append(self.state.threshold)
        self.encode_seconds.append(0.0)

    def describe(self) -> str:
        return "recording"


def test_snapshot_uses_the_threshold_of_the_last_step_of_the_previous_epoch(tmp_path):
    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path, final_threshold=0.1))
    state = PruningState("topk", 1.0)
    banks = RecordingBanks(state)
    plan = Plan(steps_per_epoch=4, total_steps=12, warmup_steps=1, eval_every=4)
    training = CapTraining(cfg, None, None, state, None, plan, banks)  # type: ignore[arg-type]
    training.epoch_start(None, 0)  # PrC/FiC are encoded before training: no snapshot
    training.epoch_start(None, 1)
    training.epoch_start(None, 2)
    expected = [training.threshold(3), training.threshold(7)]
    assert banks.thresholds == expected
    # the cubic schedule moves every step here, so the step that follows would differ
    assert expected != [training.threshold(4), training.threshold(8)]
    # the step that follows sets its own threshold first (tests/trainables/cap/test_cap_trainable.py)
