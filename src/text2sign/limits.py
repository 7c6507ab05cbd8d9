"""What a file may ask of this machine: every bound on the size of something read from disk, in one
place. A file past one of them is refused with one line naming the file and the limit, before
memory is allocated for it; none of them is near what real data needs.

Sizes are checked where they are declared (a header, a shape, a file's length) rather than after
the data is read: a 2 MB ``.npz`` can declare gigabytes, a 1 KB OpenPose frame can be numbered a
billion and a few bytes of YAML can expand to billions of values.
"""

from __future__ import annotations

KIB, MIB, GIB = 1024, 1024**2, 1024**3

# Experiment configs (YAML) and checkpoint configs (config.json).
MAX_CONFIG_BYTES = 1 * MIB  # an experiment YAML; the shipped ones are under 2 KiB
MAX_CHECKPOINT_CONFIG_BYTES = 32 * MIB  # a checkpoint's config.json: its vocabulary or BPE tokenizer included
MAX_CONFIG_DEPTH = 64  # nesting of mappings and lists in a config
MAX_CONFIG_VALUES = 1_000_000  # values in a config, each use of a YAML alias counted again
MAX_LIST_ITEMS = 200_000  # items of one list in a config (a word vocabulary of a large corpus is ~20,000)

# Poses.
MAX_POSE_FRAMES = 100_000  # frames of one pose sequence: over an hour at 25 fps
MAX_POSE_BYTES = 1 * GIB  # the arrays a pose file declares, before they are read
MAX_POSE_HEADER_BYTES = 16 * MIB  # a .pose header (its components' names, points, limbs and colours)
MAX_MISSING_FRAMES = 10_000  # OpenPose frames with no file (unobserved) before a clip's last, beyond as many as it has

# Corpora and the files they are built from.
MAX_INDEX_BYTES = 64 * MIB  # a corpus's stats.json, a lexicon's index
MAX_ITEM_TEXT_CHARS = 10_000  # the text of one corpus item (a sentence or a paragraph, not a book)
MAX_ITEM_TEXT_BYTES = 4 * MAX_ITEM_TEXT_CHARS  # a clip's NAME.txt, read only when this small

# Video.
MAX_VIDEO_BYTES = 2 * GIB  # decoded frames of a video loaded whole (importers stream instead, with no limit)
