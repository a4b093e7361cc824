"""Golden output of the generator: a fixed seed gives these exact bytes, file by file.

The SHA-256 of every CSV below pins the generator's output for six small configurations
that between them take every path of the model: the default world with heavy messy
injection (messy_rate 3), a clean one (messy_rate 0) with many repeaters, a truncated
item mix and a configured orders_per_repeater, and the presets small_shop (a category
subset, a fixed catalogue and a single seller), subscription (people-driven timelines
with re-purchases), long_history (acquisition curve, one item per order) and growing (a
log-linear trend). tests/generator/test_generator.py pins the default configuration too.

They exist so that a refactoring of the generator (splitting it into stages, moving code
between modules) can prove it changed nothing: every random draw must happen in the same
order from the same stream. A deliberate change to the generator's output (a new draw, a
recalibrated constant, a new column) must update these hashes in the same commit, and its
message must say why the output changed. A new numpy or DuckDB release that changed a
random stream or the CSV writer would show here as well; that too is a reason to record
in the commit that updates them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from retail_intel.generator import GeneratorConfig, generate, preset_config
from retail_intel.raw.contract import RAW_FILES

CONFIGS = {
    "default_messy": lambda: GeneratorConfig(orders=1_500, seed=11, messy_rate=3.0),
    "clean_repeaters": lambda: GeneratorConfig(
        orders=1_200, seed=5, messy_rate=0.0, repeat_rate=0.3, orders_per_repeater=4, max_items_per_order=3
    ),
    "small_shop": lambda: preset_config("small_shop", orders=600, seed=3, messy_rate=2.0),
    "subscription": lambda: preset_config("subscription", orders=1_500, seed=3),
    "long_history": lambda: preset_config("long_history", orders=2_000, seed=3),
    "growing": lambda: preset_config("growing", orders=1_500, seed=3),
}

# Recorded from the generator as it was before simulate() was split into stages (issue #13).
GOLDEN = {
    "default_messy": {
        "olist_customers_dataset.csv": "fbc1ed2ff5d8ecda410103e474248bdf301b8075db9b58779fca91ae627a4c54",
        "olist_geolocation_dataset.csv": "1ad3362a2e5f5f09075a693c59074703c0e6ac4623c00c67743236277c682217",
        "olist_order_items_dataset.csv": "592dc235b927c40776dcf1db9f86d5b5c8962d64c903fa20faeadc60faeb994b",
        "olist_order_payments_dataset.csv": "c85d842bc5d2ee6c7adb7c13b079b1d06de6b26d5348cc04bf610bd86cc39010",
        "olist_order_reviews_dataset.csv": "b3887f9ee0002428dd2567c4f962c4ce28d199ab2a6c0f5f2ce8cf4db1f6b3c1",
        "olist_orders_dataset.csv": "ee6d5004f2279071c6c1e8ec331815eee4c5a85d5c12d294dc48a441316223c8",
        "olist_products_dataset.csv": "61e0d8596e2ba8d76393a0547e91899198d8f6ec46899a3b87b6d0c65ccac3d3",
        "olist_sellers_dataset.csv": "266328f97f62e8b71f6e943556c0eb219eeb72856395a3e837475c55b69164e6",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
    "clean_repeaters": {
        "olist_customers_dataset.csv": "eeb7fe0e243cf21659d08dc99ed9e332a19133389968e470e72d31ca2406d0cd",
        "olist_geolocation_dataset.csv": "76e7da077428ed07e33f10e1ad50bbf83f8437c12f4e46cd55f59aa8ae38fc9b",
        "olist_order_items_dataset.csv": "e7068ad79dea0b69c18664e98bc8b64b66b9ff20e461f8949eab1dab67a98c94",
        "olist_order_payments_dataset.csv": "f1d3e3ec7309bcae437594ac64c9a9a20c7c138b7924cb1b41853e92d023a200",
        "olist_order_reviews_dataset.csv": "42ea508d9c7c8029f20fe261190fc47537ab3200fc5a830dc828293541ea9230",
        "olist_orders_dataset.csv": "500d0743f64dd84f2f185c2ed0e9d31f7250b86d34ed0baa5aa5c5bb32989e61",
        "olist_products_dataset.csv": "8b2ac911d3eec288bcd786fbc0b78b18d9c411a406b197b00b6f7255f656033a",
        "olist_sellers_dataset.csv": "1e2bba9be614bf016b4f80175ac13f7fd9feaa6df4438d88fe0e2323a81c9545",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
    "small_shop": {
        "olist_customers_dataset.csv": "cbfd248c7691d81bd5a0d6ce245642866d7d93d66a9a3c0128235676f19d1a7e",
        "olist_geolocation_dataset.csv": "7ea0b13640af3411ca86034cb6032eac3241c938afab28e7f926ffa4c3b299d8",
        "olist_order_items_dataset.csv": "fcd67e911bc86059ff4fdcee31621d52b0dd7614e28c182a2bfc07f8f8a216e5",
        "olist_order_payments_dataset.csv": "52c6f415082b56b11e9e842d62eadc8a8e80001b1fd4803b6c4ffa33e91b900d",
        "olist_order_reviews_dataset.csv": "647bc7e0cb54e8417a6abe4d2f49d3aa0fdbe991169078cb26278eb6bb8bfb16",
        "olist_orders_dataset.csv": "0a0da97be9f4fb8045c6438fe0446e629b56d89c76a994f26d42367315a80fd6",
        "olist_products_dataset.csv": "9138cadefea6d744a179e1992251d3de43517b8fb0d4fbcfe3522f103e635212",
        "olist_sellers_dataset.csv": "19ddf05774061eef8891d2327789f76f49490305b7987e07a02ebd6a0c4a868e",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
    "subscription": {
        "olist_customers_dataset.csv": "c31923853b939fac1b35b72aad822aa95803e03704ce92f9da01235e33fc9edf",
        "olist_geolocation_dataset.csv": "8099e1586a5b807384392290bcb5b5845c89259f36c5326e294c794ec20b32d3",
        "olist_order_items_dataset.csv": "964cf4f88c73bef5aefa567f502be825568cf1095628b0a5d40bd2438ea8100c",
        "olist_order_payments_dataset.csv": "ceb5966c6968d7f1a580abfbfa2efa905bc5fc1b9c3aa870435599fef16e3af6",
        "olist_order_reviews_dataset.csv": "d52b307221b15d828ac2a9895be9e02d0e285ff0d430e4517adff243e7d037cd",
        "olist_orders_dataset.csv": "b956aad3c7d5d690cd486ce363bb10a7a8e173966bef62b18a768c885aea5dd9",
        "olist_products_dataset.csv": "13e4d17f7d7f2056821f4d488bc493a03ac8bd1f5760d9a9c91302b8252b49da",
        "olist_sellers_dataset.csv": "3b3526da7ffda1f3e74083fac1d1bbfc69909f0a621cf8719441b6418f4558c8",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
    "long_history": {
        "olist_customers_dataset.csv": "c83206bd0ac383cc8ac38b47105a5fd62fd5193b4c00feaa87d431b97db88a10",
        "olist_geolocation_dataset.csv": "fae5c73b29350333fe685d973744f30c3eb3beb368008c1086e6d9122e40674f",
        "olist_order_items_dataset.csv": "0c099a729ea992fae5a9a327a9fd91489bf3affbbae61c1b41da72c1d4c0b996",
        "olist_order_payments_dataset.csv": "03f816843d6733b4293848d6620a12d2a30df4a195bbeefd0a5c101da51edfba",
        "olist_order_reviews_dataset.csv": "d5205631ab77a34e2b1c9d456fc90be96919d03ecb2b17c8fecf2d229478e690",
        "olist_orders_dataset.csv": "e4051f0fc4302f401ed9df11c3aa02bccb1a5153563dcd2c154d38255256bf79",
        "olist_products_dataset.csv": "8551a5a9734fbb0b68d3af9627f1ee7bb327bacfa74fc98c9e2a99a4cfae9e9b",
        "olist_sellers_dataset.csv": "225e9ce1d832c1faea0e4e968113aba8b83058ed72927e6426f04baa27e4260c",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
    "growing": {
        "olist_customers_dataset.csv": "03213920fc7e5c0a81d005504a0dc4587ff636968d08dcaadf8af739ca55971e",
        "olist_geolocation_dataset.csv": "084ae5c13ebd8f6fa65519b305f8faf2169e868743b3d2045f65ce3a63ff5cdb",
        "olist_order_items_dataset.csv": "5bf9e90ed001e54da6355ba688c5323455e91bf6a646ad6f308fc2cabfdac4e8",
        "olist_order_payments_dataset.csv": "8f51b2de56f84d5ecf2dbec92d67a0ab6fb97dbc4374e42e47dd1e5662fdcd6e",
        "olist_order_reviews_dataset.csv": "40f5dc51bc7f7b791d50323d6f6108c1eaae0a8c66e22410cf66d5217c4f51a7",
        "olist_orders_dataset.csv": "7cc03a0a14b2d1070ef53900273d770d4605402674f55ee9a6cea5bc3b1046e0",
        "olist_products_dataset.csv": "25a33d6c1097f401db3940e7efadffdce12f372154c40d0c96785d49f44284de",
        "olist_sellers_dataset.csv": "fc3515a3b6d89c81e9485cae0faa18ebe3f05bb06caca3d0c07300a62d650689",
        "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
    },
}


def digests(directory: Path) -> dict[str, str]:
    return {raw.file_name: hashlib.sha256((directory / raw.file_name).read_bytes()).hexdigest() for raw in RAW_FILES}


def test_every_golden_configuration_has_hashes():
    assert set(CONFIGS) == set(GOLDEN)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_generator_output_matches_its_golden_hashes(tmp_path, name):
    generate(CONFIGS[name](), tmp_path)
    assert digests(tmp_path) == GOLDEN[name]
