import os

# Rich and typer size their output from COLUMNS when they create a console (at import time for the
# CLI's), so a narrow terminal would wrap the tables and help texts that tests read. Tests assert on
# what is printed, not on how a terminal of some width lays it out: give them one wide, fixed width.
os.environ["COLUMNS"] = "200"
os.environ.pop("LINES", None)

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models run faster on one thread than on two contended ones (CI has two cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_fs_words(tmp_path_factory):
    """FS-Words for ASL only, with a few words: real letter clips, built in a few seconds."""
    from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words

    root = tmp_path_factory.mktemp("tiny-fs-words")
    return build_fs_words(
        root / "fs", FSWordsConfig(train_words=4, dev_words=2, test_words=3), signed_languages=["ase"]
    )
