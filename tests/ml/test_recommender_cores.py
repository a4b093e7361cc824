"""Sharing cores between the two-tower's thread and the candidates working beside it."""

from __future__ import annotations

import dataclasses
import threading

import torch
from threadpoolctl import threadpool_info

from ml.recommender.cores import beside_caller, machine_cores, torch_threads, training_threads, working_beside
from tests.ml.test_recommender_model import CONFIG, marts  # noqa: F401  (module fixture)


def _openmp_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}


def test_a_thread_working_beside_keeps_to_one_openmp_thread():
    with working_beside():
        assert _openmp_threads() == {1}  # torch's libgomp is loaded, so the set is not empty
    assert _openmp_threads() != {1} or machine_cores() == 1


def test_training_beside_the_caller_leaves_it_one_core_on_its_own_thread_only():
    cores = machine_cores()
    assert training_threads() == cores
    assert training_threads(1) == 1
    with beside_caller():
        assert training_threads() == max(1, cores - 1)
        assert training_threads(1) == 1  # never fewer than one, even when every core is taken
        seen = []
        other = threading.Thread(target=lambda: seen.append(training_threads()))
        other.start()
        other.join()
        assert seen == [cores]  # another thread's training is not beside anything
    assert training_threads() == cores


def test_torch_threads_restores_the_callers_count():
    before = torch.get_num_threads()
    with beside_caller(), torch_threads() as threads:
        assert torch.get_num_threads() == threads == max(1, machine_cores() - 1)
    assert torch.get_num_threads() == before


def _training_log(tables: dict, config):
    from ml.recommender.features import check_orders, customer_states
    from ml.recommender.frames import object_ids
    from ml.recommender.split import split_by_time
    from ml.recommender.train import fit_two_tower

    interactions = object_ids(tables["user_item_interactions"])
    split = split_by_time(interactions, config.test_days, config.validation_days)
    states = customer_states(object_ids(tables["customer_rfm"]))
    products, orders = object_ids(tables["products"]), check_orders(object_ids(tables["orders"]))
    return fit_two_tower(
        split.train, split.validation_start, states, products, orders, config, validation=split.validation
    )[1]


def test_on_small_data_the_network_learns_the_same_with_one_or_two_threads(marts):  # noqa: F811
    # Not so on larger data (docs/model_selection.md), which is why the plan of threads is fixed per stage.
    logs = [_training_log(marts, dataclasses.replace(CONFIG, threads=threads)) for threads in (1, 2)]
    assert logs[0].epochs == logs[1].epochs and logs[0].best_epoch == logs[1].best_epoch


def test_the_network_learns_the_same_from_the_same_rows_in_any_order(marts):  # noqa: F811
    # A warehouse returns a table's rows in no fixed order; before the inputs were sorted, the
    # same marts read twice trained different networks.
    shuffled = {name: frame.sample(frac=1.0, random_state=3) for name, frame in marts.items()}
    assert not shuffled["user_item_interactions"].index.equals(marts["user_item_interactions"].index)
    assert _training_log(shuffled, CONFIG).epochs == _training_log(marts, CONFIG).epochs
