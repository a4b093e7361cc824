"""The two-tower network: user and item towers to unit vectors, an item bias, and their dropout."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from ml.recommender.features import ITEM_NUMERIC, ITEM_STATIC, USER_NUMERIC

SMALL_EMBEDDING = 16
CONTENT_COLUMNS = [ITEM_NUMERIC.index(name) for name in (*ITEM_STATIC, "static_missing", "log_price", "price_missing")]
POPULARITY_COLUMNS = [index for index in range(len(ITEM_NUMERIC)) if index not in CONTENT_COLUMNS]


def _embedding(rows: int, width: int, std: float = 0.05, sparse: bool = False) -> nn.Embedding:
    layer = nn.Embedding(rows, width, padding_idx=0, sparse=sparse)
    with torch.no_grad():
        layer.weight.normal_(0.0, std)
        layer.weight[0].zero_()
    return layer


class MaskDropout(nn.Module):
    """Dropout whose CPU masks come from a numpy generator once one is set (``TwoTowerNet.use_generator``).

    torch's CPU dropout draws its mask from a Mersenne twister one float at a time: at 100K
    orders that was a sixth of the two-tower's training. Sixteen bits per unit from PCG64
    cost a quarter as much; a unit is kept with probability 1 - p to within 2**-16, and
    the kept ones are scaled by the inverse of exactly that probability. On another device,
    or without a generator, it is torch's own dropout.
    """

    LEVELS = 2**16

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: np.random.Generator | None = None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return inputs
        if self.generator is None or inputs.device.type != "cpu":
            return functional.dropout(inputs, self.p, training=True)
        dropped = round(self.p * self.LEVELS)
        bits = self.generator.integers(0, self.LEVELS, tuple(inputs.shape), dtype=np.uint16)
        keep = torch.from_numpy(bits >= dropped)
        return inputs * keep * (self.LEVELS / (self.LEVELS - dropped))


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), MaskDropout(dropout), nn.Linear(hidden, outputs))


class TwoTowerNet(nn.Module):
    """User tower (state, hashed id, categories bought, numeric history) and item tower (id, category,
    content) to unit vectors, plus an item bias from popularity and category.

    score = user . item / temperature + item bias, where the bias, also from the item tower,
    carries the item's overall appeal (popularity as of the boundary) that the in-batch
    softmax with logQ correction lets the network learn.
    """

    def __init__(
        self,
        states: int,
        categories: int,
        items: int,
        user_hash_buckets: int,
        embedding_dim: int,
        hidden_dim: int,
        id_dim: int,
        temperature: float,
        dropout: float,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.state = _embedding(states, SMALL_EMBEDDING)
        # Zero rows: a customer the network never saw with history contributes nothing through the id.
        # The id tables are large and a batch touches few rows: sparse gradients (SparseAdam).
        self.user_id = _embedding(user_hash_buckets + 1, id_dim, std=0.0, sparse=True)
        # No bag of the individual products bought before: with one, training loss kept
        # falling while validation log-likelihood got worse from the second epoch (it learned
        # which product followed which); the categories bought carry what generalises.
        user_width = SMALL_EMBEDDING * 2 + id_dim + len(USER_NUMERIC)
        self.user_mlp = _mlp(user_width, hidden_dim, embedding_dim, dropout)
        self.category = _embedding(categories, SMALL_EMBEDDING)
        self.item_id = _embedding(items, id_dim, sparse=True)
        # The vector sees what the item is (id, category, size, price); popularity and life
        # cycle as of the boundary feed only the bias, with the category: they are the same
        # for every customer. Fed to the unit vector too, popularity took up its directions
        # (on validation, 12% of a repeat customer's top 10 fell in their main category,
        # against 18% with popularity in the bias alone).
        self.register_buffer("content_columns", torch.tensor(CONTENT_COLUMNS), persistent=False)
        self.register_buffer("popularity_columns", torch.tensor(POPULARITY_COLUMNS), persistent=False)
        self.item_mlp = _mlp(SMALL_EMBEDDING + id_dim + len(CONTENT_COLUMNS), hidden_dim, embedding_dim, dropout)
        self.bias_mlp = _mlp(SMALL_EMBEDDING + len(POPULARITY_COLUMNS), hidden_dim // 2, 1, dropout)

    def use_generator(self, generator: np.random.Generator) -> TwoTowerNet:
        """Draw every dropout mask from ``generator`` (seeded by the caller: runs repeat exactly)."""
        for module in self.modules():
            if isinstance(module, MaskDropout):
                module.generator = generator
        return self

    def sparse_parameters(self) -> list[nn.Parameter]:
        return [self.user_id.weight, self.item_id.weight]

    def dense_parameters(self) -> list[nn.Parameter]:
        sparse = {id(parameter) for parameter in self.sparse_parameters()}
        return [parameter for parameter in self.parameters() if id(parameter) not in sparse]

    def users(
        self,
        state: torch.Tensor,
        user_id: torch.Tensor,
        numeric: torch.Tensor,
        history_categories: torch.Tensor,
    ) -> torch.Tensor:
        parts = [
            self.state(state),
            self.user_id(user_id),
            # The categories bought before share the item tower's category table, so "more of
            # the same category" is a direction both towers already agree on.
            functional.embedding_bag(history_categories, self.category.weight, mode="mean", padding_idx=0),
            numeric,
        ]
        return functional.normalize(self.user_mlp(torch.cat(parts, dim=1)), dim=1)

    def items(
        self, item_id: torch.Tensor, category: torch.Tensor, numeric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        category_vector = self.category(category)
        content = numeric[:, self.content_columns]
        vector = self.item_mlp(torch.cat([self.item_id(item_id), category_vector, content], dim=1))
        bias = self.bias_mlp(torch.cat([category_vector, numeric[:, self.popularity_columns]], dim=1))[:, 0]
        return functional.normalize(vector, dim=1), bias

    def logits(self, users: torch.Tensor, items: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return users @ items.T / self.temperature + bias
