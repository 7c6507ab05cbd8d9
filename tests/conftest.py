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
    return build_fs_words(root / "fs", FSWordsConfig(train_words=4, dev_words=2, test_words=3), signed_languages=["ase"])
