"""Other systems wrapped as families, so they are listed, scored and timed exactly like ours."""

from __future__ import annotations

from text2sign.families.registry import register_family
from text2sign.pipelines.peers import SpokenToSignedPipeline  # the package itself is imported when one is made

register_family(
    "spoken-to-signed",
    output="pose",
    pipeline=SpokenToSignedPipeline,
    about="the spoken-to-signed package's text -> gloss -> pose pipeline (peer)",
)
