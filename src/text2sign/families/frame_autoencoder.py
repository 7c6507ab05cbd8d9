"""The trained frame autoencoder a latent video family starts from (``init.autoencoder``); not a
family itself. ``video-diffusion`` and ``pose-video`` both read it."""

from __future__ import annotations

from text2sign.errors import ConfigError


def load_frame_autoencoder(path, size: int):
    """The trained :class:`~text2sign.models.frame_codec.FrameAutoencoder` of ``init.autoencoder``:
    a ``video-ae`` run or checkpoint, or a latent video model that carries one (``fs-video``), whose
    autoencoder is then reused as it was trained. Its config's ``scaling_factor`` is the one its
    latents were scaled by there (1 for a ``video-ae`` stage)."""
    from text2sign.checkpoints import load_checkpoint
    from text2sign.models.frame_codec import FrameAutoencoder

    checkpoint = load_checkpoint(path)
    family = checkpoint.family.name
    carried = getattr(checkpoint.model.config, "autoencoder", None)
    if family == "video-ae":
        network = checkpoint.model
    elif carried is not None:
        network = FrameAutoencoder(carried)
        network.vae.load_state_dict(checkpoint.model.frame_vae.vae.state_dict())
    else:
        raise ConfigError(
            f"init.autoencoder {checkpoint.path} is a {family} checkpoint without a frame autoencoder: "
            "give a video-ae run or a latent video model"
        )
    if network.config.size and network.config.size != size:
        raise ConfigError(
            f"model.size is {size} px but the autoencoder in {checkpoint.path} learnt {network.config.size} px frames"
        )
    return network
