"""The `pose-video` family: video diffusion conditioned on poses (``fs-pose-video``).

Network :class:`PoseVideoNet` (``models/pose_video.py``), objective :class:`PoseVideoObjective`
(``objectives/pose_video.py``), pipeline :class:`PoseVideoPipeline` (``pipelines/pose_video.py``),
pairs ``data/pose_video_pairs.py``, config ``configs/fs-pose-video.yaml``, guide docs/pose-video.md.

Training pairs are the clips of a video corpus (``data.corpus``) and the poses they show
(``data.poses``): the pose corpus the videos were drawn from (``prepare video --from``; placement
``fit``), or ``extract``'s poses of a signer's own videos imported with ``prepare video-folder``
(placement ``frame``: joints where they are in the video, through the same resize and crop). The
frame autoencoder comes from ``init.autoencoder`` (a ``video-ae`` run, or ``fs-video``'s own),
its latents rescaled to unit spread over the training clips. The layout, the kinds, the rate and
(placement ``frame``) where the signer stands are filled in from the data.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2sign.config import bounded
from text2sign.data.config import VideoCorpusDataConfig
from text2sign.data.pose_video_pairs import PoseVideoWindows, pose_source
from text2sign.data.selection import split_items, train_clips
from text2sign.data.video_corpus import load_video_corpus
from text2sign.errors import ConfigError, CorpusError, InvalidPoseError
from text2sign.families.frame_autoencoder import load_frame_autoencoder
from text2sign.families.registry import Experiment, register_family
from text2sign.models.pose_video import PoseVideoConfig, PoseVideoNet
from text2sign.objectives.pose_video import PoseVideoObjective, PoseVideoObjectiveConfig, collate_pose_video
from text2sign.pipelines.pose_video import PoseVideoPipeline
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig, make_schedule
from text2sign.pose.canvas import canvas_positions, frame_positions
from text2sign.pose.layout import KINDS
from text2sign.pose.normalize import typical_frame
from text2sign.pose.sequence import PoseSequence

FAMILY = "pose-video"
SAMPLES = 2
# Clips whose poses say where the training signer stands (placement frame): enough for a median.
PLACEMENT_CLIPS = 200


@dataclass
class PoseVideoDataConfig(VideoCorpusDataConfig):
    poses: str = ""  # the clips' poses: a pose corpus (same item ids) or a folder of ID.pose (extract's)
    max_dev_items: int = bounded(32, min=1)


def build(config) -> Experiment:
    data: PoseVideoDataConfig = config.data
    if not data.poses:
        raise ConfigError("data.poses is empty: name the pose corpus the videos show, or extract's folder of poses")
    if "autoencoder" not in config.init:
        raise ConfigError("family pose-video needs init.autoencoder: a video-ae run, or fs-video (its autoencoder)")
    corpus = load_video_corpus(data)
    if corpus.width != corpus.height:
        raise CorpusError(f"{corpus.root} holds {corpus.width} x {corpus.height} frames; pose-video takes square ones")
    items = train_clips(corpus, data)
    pose_of = pose_source(data.poses)
    first = pose_of(items[0].id)
    layout = first.layout
    kinds = list(config.model.kinds) or [k for k in KINDS if k != "world" and k in {c.kind for c in layout.components}]
    size = corpus.width
    autoencoder = load_frame_autoencoder(config.init["autoencoder"], size)
    fps = float(np.median([i.fps for i in items]))
    model = dataclasses.replace(
        config.model, layout=layout.name, kinds=kinds, size=size, fps=fps, autoencoder=autoencoder.config
    )
    shaping = corpus.stats.get("shaping")
    if config.model.placement == "frame" and not isinstance(shaping, dict):
        raise CorpusError(
            f"{corpus.root} does not say how its frames were shaped: placement frame needs a video corpus made by "
            "`prepare video-folder` from the videos the poses were extracted from"
        )

    def clip_pose(item) -> PoseSequence:
        seq = pose_of(item.id).to_layout(layout)
        if abs(seq.fps - item.fps) > 1e-6:
            seq = seq.resample(item.fps)  # as `prepare video` drew it
        if seq.num_frames != item.num_frames:  # a video resampled by picking frames: match its count
            seq = seq.resample(num_frames=item.num_frames)
        return seq

    def positions_of(item) -> np.ndarray:
        try:
            if model.placement == "fit":
                return canvas_positions(clip_pose(item), size, size)
            return frame_positions(clip_pose(item), shaping["resize"], shaping["crop"], size, size)
        except (InvalidPoseError, ValueError) as exc:
            raise CorpusError(f"clip {item.id}: its pose cannot be placed on the frame ({exc})") from None

    if model.placement == "frame":
        model = dataclasses.replace(model, **_signer_place(items[:PLACEMENT_CLIPS], positions_of, layout, size))
    net = PoseVideoNet(model)
    net.frame_vae.vae.load_state_dict(autoencoder.vae.state_dict())
    inference = dataclasses.replace(config.inference, fps=fps)
    objective = PoseVideoObjective(net, make_schedule(inference, pixel_space=False), config.objective)
    dev_items = split_items(corpus, data.dev_split, data)[: data.max_dev_items]

    channels, _, side, _ = net.latent_shape(1)

    def windows(clips):
        return PoseVideoWindows(
            corpus, clips, positions_of, net.to_latent, (channels, side, side), net.num_joints, model.frames, size
        )

    train_set = windows(items)
    dev_set = windows(dev_items) if dev_items else None

    def prepare() -> None:
        clips = len(items) + len(dev_items)
        print(f"note: encoding {clips} clips through the autoencoder once, before training", file=sys.stderr)
        for encoded in (train_set, dev_set):
            if encoded is not None:
                encoded.encode_all()
        measured = train_set.unit_scaling()
        scaling = net.frame_vae.scaling * measured  # the stored latents were already scaled by the old factor
        net.frame_vae.scaling = net.config.autoencoder.scaling_factor = scaling
        for encoded in (train_set, dev_set):
            if encoded is not None:
                encoded.scale = measured

    sample_items = dev_items[:: max(1, len(dev_items) // SAMPLES)][:SAMPLES]

    def sample(network, device):
        pipeline = PoseVideoPipeline(network, inference, device)
        return {f"{i.signed_language}-{i.text}": pipeline.animate(clip_pose(i))[0] for i in sample_items}

    return Experiment(
        objective,
        train_set,
        dev_data=dev_set,
        collate_fn=collate_pose_video,
        sample=sample,
        prepare=prepare,
        measured=("model.autoencoder.scaling_factor",),
        config=dataclasses.replace(config, model=net.config, inference=inference),
        metadata={"language_pairs": sorted({(i.spoken_language, i.signed_language) for i in items})},
    )


def _signer_place(items, positions_of, layout, size: int) -> dict:
    """Where the signer of the training videos stands: median shoulder centre (fractions of the
    frame) and shoulder width (a fraction of its width), from their poses on the frame."""
    sequences = []
    for item in items:
        positions = positions_of(item)
        data = np.concatenate([positions[..., :2] * size, np.zeros_like(positions[..., :1])], axis=-1)
        sequences.append(PoseSequence(data, positions[..., 2] > 0, item.fps, layout))
    try:
        frame, _ = typical_frame(sequences)
    except InvalidPoseError as exc:
        raise CorpusError(f"cannot tell where the signer stands in the videos: {exc}") from None
    centre = (np.asarray(frame.center, np.float64).ravel()[:2] / size).round(4).tolist()
    return {"signer_centre": centre, "signer_width": round(float(frame.scale) / size, 4)}


def tiny_config(workdir: Path) -> dict:
    """A seconds-long run on a three-word ASL FS-Words drawn at 16 px, for the contract test."""
    from text2sign.testing import tiny_frame_autoencoder, tiny_fs_words, tiny_video_corpus

    return {
        "family": FAMILY,
        "data": {"corpus": str(tiny_video_corpus(workdir)), "poses": str(tiny_fs_words(workdir / "fs-ase"))},
        "init": {"autoencoder": str(tiny_frame_autoencoder(workdir))},
        "model": {"frames": 4, "width": 16, "heads": 2, "depth": 1, "patch": 2},
        "inference": {"train_timesteps": 100, "steps": 2, "guidance_scale": 1.0},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }


register_family(
    FAMILY,
    output="video",
    pipeline=PoseVideoPipeline.from_checkpoint,
    about="video diffusion conditioned on poses: joint positions -> video in the training videos' appearance",
    model_config=PoseVideoConfig,
    build_model=PoseVideoNet,
    inference_config=VideoDiffusionInferenceConfig,
    objective_config=PoseVideoObjectiveConfig,
    data_config=PoseVideoDataConfig,
    build=build,
    init_keys=("autoencoder",),
    load_options=("lexicon", "pose_model"),
    tiny=tiny_config,
    extra="video",
)
