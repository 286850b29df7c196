"""The ``cap_soft_<task>`` / ``cap_topk_<task>`` spaces: registered, valid in every profile."""

from __future__ import annotations

import optuna
import pytest

import search_spaces
from orchestrator.settings import build_settings
from search_spaces.tasks import GLUE_TASKS
from trainables.cap.config import CapConfig
from trainables.config import from_mapping

CAP_SPACES = [f"cap_{kind}_{task}" for task in GLUE_TASKS for kind in ("soft", "topk")]
PROFILES = ("paper", "dev", "demo", "smoke")


def test_every_glue_task_has_both_spaces():
    assert set(CAP_SPACES) <= set(search_spaces.space_names())
    for name in CAP_SPACES:
        space = search_spaces.get_space(name)
        assert space.trainable == "cap"
        assert space.objectives == (("score", "max"), ("weight_sparsity", "max"))


def test_soft_searches_lambda_topk_the_keep_ratio():
    soft = search_spaces.get_space("cap_soft_qqp").suggestions()
    topk = search_spaces.get_space("cap_topk_qqp").suggestions()
    assert soft["final_lambda"].log and soft["final_lambda"].low <= 190
    assert soft["final_lambda"].high >= 2000 and "final_threshold" not in soft
    assert (topk["final_threshold"].low, topk["final_threshold"].high) == (0.02, 0.5)
    common = {"contrastive_temperature", "cl_unsupervised_loss_weight",
              "cl_supervised_loss_weight", "ce_loss_weight", "distill_loss_weight",
              "extra_examples"}
    assert common <= set(soft) and common <= set(topk)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", ["cap_soft_qqp", "cap_topk_mnli", "cap_soft_stsb",
                                  "cap_topk_rte"])
def test_sampled_configs_are_valid_cap_configs(name, profile):
    space = search_spaces.get_space(name)
    define = space.define_by_run(profile)
    study = optuna.create_study(directions=["maximize", "maximize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        cfg = from_mapping(CapConfig, define(study.ask()))
        assert cfg.pruning_method == name.split("_")[1]
        assert cfg.task == name.split("_")[2]


@pytest.mark.parametrize("profile", PROFILES)
def test_orchestrator_validates_every_profile(profile):
    for name in CAP_SPACES:
        build_settings(search_spaces.get_space(name), profile)


def test_paper_profile_is_the_scripts():
    paper = search_spaces.get_space("cap_soft_qqp").settings("paper")
    assert paper["model"] == "bert-base-uncased" and paper["warmup_steps"] == 11000
    assert (paper["train_batch_size"], paper["num_train_epochs"], paper["max_seq_length"]) == \
        (32, 10, 128)
    cfg = from_mapping(CapConfig, {**paper, "final_lambda": 550.0})
    assert (cfg.initial_warmup, cfg.final_warmup, cfg.learning_rate) == (2.0, 3.0, 3e-5)
    assert (cfg.ce_loss_weight, cfg.distill_loss_weight, cfg.alignrep) == (0.1, 0.9, "cls")
    rte = search_spaces.get_space("cap_topk_rte").settings("paper")  # 11000 cannot fit RTE
    assert rte["warmup_steps"] == 0 and rte["warmup_ratio"] == 0.1


def test_fixed_trial_gives_the_scripts_values():
    values = {"final_lambda": 550.0, "contrastive_temperature": 0.1,
              "cl_unsupervised_loss_weight": 0.1, "cl_supervised_loss_weight": 10.0,
              "ce_loss_weight": 0.1, "distill_loss_weight": 0.9, "extra_examples": 4096}
    space = search_spaces.get_space("cap_soft_mnli")
    config = space.define_by_run("paper")(optuna.trial.FixedTrial(values))
    cfg = from_mapping(CapConfig, config)
    assert cfg.final_lambda == 550.0 and cfg.extra_examples == 4096 and cfg.task == "mnli"
