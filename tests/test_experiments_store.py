"""Experiments as data (#16 item 1): created as drafts, started and raised stage by stage,
one running at a time per tenant, stopped for good, every change audited; the command line
says why it refuses."""

import pytest
from click.testing import CliRunner

from apps.cli import main
from retail_intel.experiments import DRAFT, RUNNING, STOPPED, ExperimentError, ExperimentStore
from tests.support import make_settings, register_recommender

ARMS = {"acme.recommender/3": 1.0, "acme.recommender/4": 1.0}


def test_an_experiment_goes_from_draft_through_the_stages_to_stopped_and_is_audited(tmp_path):
    store = ExperimentStore(tmp_path / "experiments.sqlite")
    created = store.create("rec-v4", "ab", ARMS, guardrails=["ctr"], by="ana")
    assert (created.status, created.rollout, created.primary_metric) == (DRAFT, 0.0, "revenue_14d")
    assert [store.advance("rec-v4", by="ana").rollout for _ in range(4)] == [0.10, 0.25, 0.50, 1.00]
    assert store.get("rec-v4").status == RUNNING and store.get("rec-v4").started_at
    with pytest.raises(ExperimentError, match="at 100% already"):
        store.advance("rec-v4")
    assert store.stop("rec-v4", by="bo", reason="enough").status == STOPPED
    with pytest.raises(ExperimentError, match="stopped"):
        store.advance("rec-v4")
    audit = store.audit("rec-v4")
    assert [entry["action"] for entry in audit] == ["create", "advance", "advance", "advance", "advance", "stop"]
    assert audit[1]["detail"] == "0% -> 10%" and audit[-1]["by"] == "bo" and audit[-1]["detail"] == "enough"
    # Another salt for every experiment: their draws are independent.
    assert store.create("again", "ab", ARMS).salt != created.salt


def test_one_experiment_runs_at_a_time_and_rollouts_only_go_up(tmp_path):
    store = ExperimentStore(tmp_path / "experiments.sqlite")
    store.create("first", "ab", ARMS)
    store.create("second", "bandit", ARMS)
    store.advance("first", 0.5)
    with pytest.raises(ExperimentError, match="first is running: one experiment at a time"):
        store.advance("second")
    with pytest.raises(ExperimentError, match="only goes up"):
        store.advance("first", 0.25)
    store.stop("first")
    assert store.advance("second").status == RUNNING


@pytest.mark.parametrize(
    ("kind", "arms", "message"),
    [
        ("ab", {"only": 1.0}, "at least two arms"),
        ("split", ARMS, "kind must be one of"),
        ("interleaving", {**ARMS, "popularity": 1.0}, "exactly two arms"),
        ("ab", {"popularity": 1.0, "random": 0.0}, "positive weights"),
        ("ab", {"popularity": 1.0, "champion": 1.0}, "an arm is a model version"),
    ],
)
def test_bad_experiments_are_refused(tmp_path, kind, arms, message):
    with pytest.raises(ExperimentError, match=message):
        ExperimentStore(tmp_path / "experiments.sqlite").create("x", kind, arms)


def test_the_command_line_creates_advances_lists_and_refuses_with_exit_2(tmp_path):
    settings = make_settings(tmp_path / "home")
    home = str(settings.home)
    register_recommender(settings, 0.3)

    def cli(*args):
        return CliRunner().invoke(main, ["--home", home, "experiments", *args])

    unknown = cli("create", "rec-v9", "--arm", "default.recommender/9", "--arm", "popularity")
    assert unknown.exit_code == 2 and "no such version of default.recommender: default.recommender/9" in unknown.output
    made = cli("create", "rec-v4", "--arm", "default.recommender/1", "--arm", "popularity=0.5", "--by", "ana")
    assert made.exit_code == 0, made.output
    assert "ab over default.recommender/1, popularity (draft)" in made.output
    assert "running at 10%" in cli("advance", "rec-v4").output
    listed = cli("list").output
    assert "rec-v4" in listed and "running" in listed and "popularity=0.5" in listed
    assert "create" in cli("status", "rec-v4").output and "0% -> 10%" in cli("status", "rec-v4").output
    again = cli("create", "rec-v4", "--arm", "random", "--arm", "nothing")
    assert again.exit_code == 2 and "exists already" in again.output
    assert cli("status", "nope").exit_code == 2
    assert cli("create", "w", "--arm", "a=x", "--arm", "b").exit_code == 2
