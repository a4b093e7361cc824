"""Training the two-tower model on windows that mirror the evaluation.

The training period is cut into windows of ``window_days`` ending at the boundary. In each
window the examples are the (customer, product) pairs first bought inside it, and both
towers see features as of the window's start, exactly as the evaluation scores the test
window from features as of the cutoff. A customer's first-ever purchase is therefore a
cold-start example (state only), and a repeat purchase sees only the history before its
window.

Loss: softmax over the batch's positives plus ``random_negatives`` uniform catalogue items,
with the logQ correction log(expected copies of the item among the candidates) =
log(batch size x window share of the item + random_negatives / catalogue size). A batch
holds examples of a single window, so its in-batch negatives follow that window's
popularity, which the correction turns into the score's popularity term.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from ml.recommender.cores import training_threads
from ml.recommender.encoder import FeatureEncoder, UserInputs
from ml.recommender.evaluation import recall_at_k
from ml.recommender.features import item_dynamic_features
from ml.recommender.frames import in_key_order, isin
from ml.recommender.network import TwoTowerNet
from ml.recommender.scorer import TwoTowerRecommender
from ml.recommender.split import known_before, purchase_events, sample_customers, training_windows
from ml.recommender.torch_runtime import choose_device, seeded_torch


@dataclass
class TrainingLog:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_validation: float | None = None
    seconds: float = 0.0
    examples: int = 0
    windows: int = 0
    device: str = "cpu"
    threads: int = 1

    def schedule(self) -> list[float]:
        """Learning rates of the epochs up to the best one: what a refit replays."""
        return [entry["learning_rate"] for entry in self.epochs[: self.best_epoch]]


@dataclass
class _TrainingData:
    users: UserInputs
    example_user: np.ndarray
    example_item: np.ndarray
    example_window: np.ndarray
    window_counts: np.ndarray
    item_numeric: np.ndarray  # (windows, catalogue, features), scaled
    item_id: np.ndarray
    item_category: np.ndarray


def _training_data(
    known: pd.DataFrame,
    boundary: pd.Timestamp,
    states: pd.Series,
    catalog: pd.DataFrame,
    orders: pd.DataFrame | None,
    encoder: FeatureEncoder,
    window_days: int,
) -> _TrainingData:
    catalog_ids = pd.Index(catalog["product_id"])
    static = encoder.item_static(catalog)
    user_blocks, example_user, example_item, example_window, counts, item_blocks = [], [], [], [], [], []
    offset = 0
    for start in training_windows(known, boundary, window_days):
        first = known["first_purchased_at"]
        targets = known.loc[(first >= start) & (first < start + pd.Timedelta(days=window_days))]
        if targets.empty:
            continue
        events = purchase_events(known_before(known, start))
        users = pd.Index(np.sort(targets["customer_unique_id"].unique()), name="customer_unique_id")
        user_blocks.append(encoder.user_inputs(users, states, events, orders, start, scaled=False))
        example_user.append(offset + users.get_indexer(targets["customer_unique_id"]))
        example_item.append(catalog_ids.get_indexer(targets["product_id"]))
        example_window.append(np.full(len(targets), len(counts)))
        counts.append(np.bincount(example_item[-1], minlength=len(catalog_ids)))
        dynamic = item_dynamic_features(catalog_ids, catalog["category"], events, start).to_numpy()
        item_blocks.append(np.concatenate([static, dynamic], axis=1))
        offset += len(users)
    if not user_blocks:
        raise ValueError(f"no interaction before {boundary} to train on")
    users = UserInputs(
        *(np.concatenate([getattr(block, name) for block in user_blocks]) for name in UserInputs.__annotations__)
    )
    item_numeric = np.stack(item_blocks)
    encoder.fit_scales(users.numeric, item_numeric.reshape(-1, item_numeric.shape[-1]))
    users.numeric = encoder.scale_users(users.numeric)
    return _TrainingData(
        users=users,
        example_user=np.concatenate(example_user),
        example_item=np.concatenate(example_item),
        example_window=np.concatenate(example_window),
        window_counts=np.stack(counts).astype("float64"),
        item_numeric=encoder.scale_items(item_numeric.reshape(-1, item_numeric.shape[-1])).reshape(item_numeric.shape),
        item_id=encoder.items.encode(catalog_ids),
        item_category=encoder.categories.encode(catalog["category"]),
    )


def fit_two_tower(
    known: pd.DataFrame,
    boundary: pd.Timestamp,
    states: pd.Series,
    products: pd.DataFrame,
    orders: pd.DataFrame | None,
    config,
    validation: pd.DataFrame | None = None,
    schedule: list[float] | None = None,
) -> tuple[TwoTowerRecommender, TrainingLog]:
    """Train on ``known`` (interactions known before ``boundary``) and return the model as of the boundary.

    With ``validation`` (pairs first bought in the window after the boundary), the learning
    rate is multiplied by ``config.learning_rate_decay`` after every epoch that does not
    improve the validation target (``config.early_stopping``: "log_likelihood", the mean
    log-softmax of the validation purchases over the catalogue, or "recall_at_10"); training
    stops after ``config.patience`` such epochs in a row and keeps the best epoch's weights.
    Without validation (the refit), one epoch runs per learning rate in ``schedule``: the
    rates the validated run used up to its best epoch.
    """
    if (validation is None) == (schedule is None):
        raise ValueError("give either validation pairs (early stopping) or a learning-rate schedule (refit)")
    started = time.perf_counter()
    # The rows in a fixed order, whatever order the warehouse gave them in (frames.py).
    known = in_key_order(known_before(known, boundary), ["customer_unique_id", "product_id"])
    orders = None if orders is None else in_key_order(orders, list(orders.columns))
    validation = in_key_order(validation, ["customer_unique_id", "product_id"])
    catalog = products.sort_values("product_id", kind="stable").reset_index(drop=True)
    catalog_ids = pd.Index(catalog["product_id"])
    unknown = ~isin(known["product_id"], catalog_ids)
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} interactions name products missing from the products frame")
    # Only products with enough buyers get an id row; the rest share the zero "unknown" row
    # and are scored from their features, like products launched after training.
    buyers = known["product_id"].value_counts()
    encoder = FeatureEncoder.with_vocabularies(
        states,
        catalog,
        pd.Series(buyers.index[buyers >= config.item_id_min_buyers]),
        config.history_length,
        config.user_hash_buckets,
    )
    data = _training_data(known, boundary, states, catalog, orders, encoder, config.window_days)
    device = choose_device(config.device)
    # One count for the whole fit: torch's reductions split by thread count, so a count that
    # changed on the way would make the weights depend on timing (see cores.py).
    threads = training_threads(config.threads)
    log = TrainingLog(
        examples=len(data.example_item), windows=len(data.window_counts), device=str(device), threads=threads
    )
    rng = np.random.default_rng(config.seed)
    with seeded_torch(config.seed, threads):
        net = TwoTowerNet(
            states=len(encoder.states),
            categories=len(encoder.categories),
            items=len(encoder.items),
            user_hash_buckets=config.user_hash_buckets,
            embedding_dim=config.embedding_dim,
            hidden_dim=config.hidden_dim,
            id_dim=config.id_dim,
            temperature=config.temperature,
            dropout=config.dropout,
        ).to(device)
        net.use_generator(np.random.default_rng([config.seed, 1]))
        recommender = TwoTowerRecommender(
            net, encoder, boundary, purchase_events(known), orders, states, catalog, device=config.device
        )
        optimizers = [
            torch.optim.Adam(net.dense_parameters(), lr=config.learning_rate, weight_decay=config.weight_decay),
            torch.optim.SparseAdam(net.sparse_parameters(), lr=config.learning_rate),
        ]
        tensors = _device_tensors(data, device)
        if validation is not None:
            # Early stopping watches a fixed sample of the validation customers, the same
            # one every other validation choice is made on.
            validation_customers = sample_customers(validation, config.validation_customers, config.seed)
            held_out = validation.loc[isin(validation["customer_unique_id"], validation_customers)]
            repeat = isin(held_out["customer_unique_id"], known["customer_unique_id"])
        best_state, since_best = None, 0
        learning_rate = config.learning_rate
        for epoch in range(1, (len(schedule) if schedule is not None else config.max_epochs) + 1):
            if schedule is not None:
                learning_rate = schedule[epoch - 1]
            for optimizer in optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate
            loss = _train_epoch(net, optimizers, data, tensors, config, rng, device)
            entry = {"epoch": float(epoch), "loss": loss, "learning_rate": learning_rate}
            if validation is not None:
                recommender.clear_cache()
                ranked, log_likelihood = recommender.window_figures(held_out, validation_customers, top_k=10)
                entry["validation_recall_at_10"] = recall_at_k(ranked, held_out, 10)
                if repeat.any():
                    entry["validation_recall_at_10_repeat"] = recall_at_k(ranked, held_out.loc[repeat], 10)
                entry["validation_log_likelihood"] = float(log_likelihood.mean())
                target = entry[f"validation_{config.early_stopping}"]
                if log.best_validation is None or target > log.best_validation:
                    log.best_validation = target
                    log.best_epoch = epoch
                    best_state = copy.deepcopy(net.state_dict())
                    since_best = 0
                else:
                    since_best += 1
                    learning_rate *= config.learning_rate_decay
            log.epochs.append(entry)
            if validation is not None and since_best >= config.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            log.best_epoch = len(log.epochs)
    net.eval()
    recommender.clear_cache()
    log.seconds = time.perf_counter() - started
    return recommender, log


def _device_tensors(data: _TrainingData, device: torch.device) -> dict[str, torch.Tensor]:
    return {
        "users": data.users.tensors(device),
        "item_numeric": torch.as_tensor(data.item_numeric, device=device),
        "window_share": torch.as_tensor(
            data.window_counts / data.window_counts.sum(axis=1, keepdims=True), device=device
        ),
        "item_id": torch.as_tensor(data.item_id, device=device),
        "category": torch.as_tensor(data.item_category, device=device),
    }


def _train_epoch(
    net: TwoTowerNet,
    optimizers: list[torch.optim.Optimizer],
    data: _TrainingData,
    tensors: dict[str, torch.Tensor],
    config,
    rng: np.random.Generator,
    device: torch.device,
) -> float:
    net.train()
    batches = []
    for window in range(len(data.window_counts)):
        members = rng.permutation(np.flatnonzero(data.example_window == window))
        batches.extend((window, chunk) for chunk in np.array_split(members, -(-len(members) // config.batch_size)))
    total, count = 0.0, 0
    catalog_size = data.item_numeric.shape[1]
    state, user_hash, user_numeric, history_categories = tensors["users"]
    for batch in rng.permutation(len(batches)):
        window, examples = batches[batch]
        size = len(examples)
        rows = torch.as_tensor(data.example_user[examples], device=device)
        positives = data.example_item[examples]
        negatives = rng.integers(0, catalog_size, config.random_negatives)
        candidates = torch.as_tensor(np.concatenate([positives, negatives]), device=device)
        # Hide the id now and then, so the tower also learns to score from features alone.
        hashes = user_hash[rows].clone()
        dropped = torch.as_tensor(rng.random(size) < config.user_id_dropout, device=device)
        hashes[dropped] = 0
        item_ids = tensors["item_id"][candidates]
        if config.item_id_dropout > 0:
            item_ids = item_ids.masked_fill(
                torch.as_tensor(rng.random(len(candidates)) < config.item_id_dropout, device=device), 0
            )
        users = net.users(state[rows], hashes, user_numeric[rows], history_categories[rows])
        item_vectors, item_bias = net.items(
            item_ids, tensors["category"][candidates], tensors["item_numeric"][window, candidates]
        )
        logits = net.logits(users, item_vectors, item_bias)
        expected_copies = size * tensors["window_share"][window, candidates] + config.random_negatives / catalog_size
        logits = logits - torch.log(expected_copies).float()
        positive_tensor = torch.as_tensor(positives, device=device)
        # Another copy of the positive, or another item this customer bought in the window, is no
        # negative; the example's own positive stays. Built in place: the mask is batch x candidates.
        masked = positive_tensor[:, None] == candidates[None, :]
        in_batch = masked[:, :size]
        in_batch |= rows[:, None] == rows[None, :]
        in_batch.fill_diagonal_(False)
        logits = logits.masked_fill(masked, float("-inf"))
        loss = functional.cross_entropy(logits, torch.arange(size, device=device))
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        total += loss.item() * size
        count += size
    return total / max(count, 1)
