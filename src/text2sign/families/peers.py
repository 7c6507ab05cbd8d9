"""Other systems wrapped as families, so they are listed, scored and timed exactly like ours."""

from __future__ import annotations

from text2sign.families.registry import register_family


def load_spoken_to_signed():
    from text2sign.pipelines.peers import SpokenToSignedPipeline

    return SpokenToSignedPipeline()


register_family(
    "spoken-to-signed",
    output="pose",
    pipeline=load_spoken_to_signed,
    about="the spoken-to-signed package's text -> gloss -> pose pipeline (peer)",
)
