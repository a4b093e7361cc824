"""Page-Hinkley on excess error: one bad day does not fire it, a lasting drop does, and noise
around the promised quality never does."""

import numpy as np

from ml.monitoring.change import page_hinkley


def test_one_bad_day_is_not_a_change_and_a_lasting_drop_is():
    calm = [0.01, -0.02, 0.0, 0.02, -0.01]
    assert not page_hinkley([*calm, 0.4, *calm], tolerance=0.05, threshold=0.5).fired
    lasting = page_hinkley([*calm, 0.3, 0.25, 0.3, 0.28], tolerance=0.05, threshold=0.5)
    assert lasting.fired and lasting.at == 7  # the third bad day: 0.25 + 0.2 + 0.25 > 0.5


def test_noise_around_the_promised_quality_never_fires():
    rng = np.random.default_rng(0)
    false_alarms = sum(
        page_hinkley(rng.normal(0.0, 0.05, 60).tolist(), tolerance=0.05, threshold=0.5).fired for _ in range(200)
    )
    assert false_alarms <= 2, false_alarms
