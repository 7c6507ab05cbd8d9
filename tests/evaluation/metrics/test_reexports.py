import importlib

import pytest

from text2sign.evaluation import metrics

# Every public name of the single-module metrics.py this package replaced, by its new home.
OLD_PUBLIC_NAMES = {
    "pose": [
        "CHANNELS",
        "ChannelErrors",
        "Pooled",
        "SyncResult",
        "channel_errors",
        "dtw_mje",
        "dtw_path",
        "frame_path",
        "ndtw_mje",
        "pool",
        "pool_channel_errors",
        "sync_metrics",
    ],
    "text": ["bleu", "cer", "rouge_l", "wer"],
    "distribution": ["diversity", "frechet_distance"],
}
NEW_NAMES = {"video": ["SSIM_MIN_SIZE", "psnr", "ssim", "temporal_consistency"]}


@pytest.mark.parametrize(
    "module, name",
    [(module, name) for table in (OLD_PUBLIC_NAMES, NEW_NAMES) for module, names in table.items() for name in names],
)
def test_package_re_exports_every_public_name(module, name):
    submodule = importlib.import_module(f"text2sign.evaluation.metrics.{module}")
    assert getattr(metrics, name) is getattr(submodule, name)
    assert name in metrics.__all__ and name in submodule.__all__
    namespace: dict = {}
    exec(f"from text2sign.evaluation.metrics import {name}", namespace)
    assert namespace[name] is getattr(submodule, name)


def test_all_lists_exactly_the_submodules_public_names():
    expected = {name for table in (OLD_PUBLIC_NAMES, NEW_NAMES) for names in table.values() for name in names}
    assert set(metrics.__all__) == expected and len(metrics.__all__) == len(expected)
