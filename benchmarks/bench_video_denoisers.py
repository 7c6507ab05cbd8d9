"""Per-step cost of every video denoiser at the shipped size, and the issue's sampling target: a
4-step sample (8 frames, 32 x 32, batch 2, with guidance) on one CPU thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_video_denoisers.py --config configs/fs-video-dit.yaml

Untrained networks built from each config's `model:` section (with `denoiser` swapped in), a
made-up vocabulary: cost does not depend on the weights. Prints one Markdown row per denoiser
(diffusers-unet3d needs the [video] extra).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from functools import partial

import torch
import yaml

from text2sign.config import from_dict
from text2sign.models.video_diffusion import DENOISERS, VideoDiffusionConfig, VideoDiffusionNet
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig, VideoDiffusionPipeline

UNET_WIDTH = 32  # configs/fs-video-unet3d.yaml: a UNet's channels cost more per unit of width than a DiT's


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/fs-video-dit.yaml")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.config, encoding="utf-8") as f:
        raw = yaml.safe_load(f)["model"]
    raw["text"] = {
        **raw.get("text", {}),
        "vocab": ["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz"],
        "signed_languages": ["ase"],
    }
    base = from_dict(VideoDiffusionConfig, raw, "model", args.config)
    print(
        "| denoiser | parameters | ms per denoiser call (batch 4 = 2 samples x guidance) | 4-step sample, batch "
        "2, guided, ms |"
    )
    print("| --- | --- | --- | --- |")
    # Tune-A-Video is Stable Diffusion's UNet: its cost is that of the directory it is built from.
    for denoiser in (d for d in DENOISERS if d != "tune-a-video"):
        width = UNET_WIDTH if denoiser.endswith("unet3d") else base.width
        cfg = dataclasses.replace(base, denoiser=denoiser, width=width)
        torch.manual_seed(0)
        net = VideoDiffusionNet(cfg).eval()
        params = sum(p.numel() for p in net.parameters())
        x = torch.randn(4, *net.latent_shape(cfg.frames))
        t = torch.full((4,), 500)
        with torch.inference_mode():
            context = net.encode(["hello", "world", "hello", "world"], ["ase"] * 4)
            step_ms = median_ms(partial(net, x, t, *context), args.repeats)
        pipeline = VideoDiffusionPipeline(
            net, VideoDiffusionInferenceConfig(steps=4, guidance_scale=2.0, fps=3.6), [("en", "ase")]
        )
        sample_ms = median_ms(partial(pipeline, ["hello", "world"], "en", "ase", seed=0), args.repeats)
        print(f"| {denoiser} (width {width}) | {params:,} | {step_ms:.1f} | {sample_ms:.1f} |")


if __name__ == "__main__":
    main()
