"""The `concat` family: lookup + coarticulated concatenation (``pipelines/concat.py``), no network.

Its one load option is ``lexicon``: a corpus of isolated signs looked up before fingerspelling.
"""

from __future__ import annotations

from text2sign.families.registry import register_family
from text2sign.pipelines.concat import ConcatPipeline

register_family(
    "concat",
    output="pose",
    pipeline=ConcatPipeline,  # called with the load options: ConcatPipeline(lexicon=...)
    about="dictionary lookup + coarticulated concatenation (sign.mt's baseline)",
    load_options=("lexicon",),
)
