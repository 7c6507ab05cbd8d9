"""Model families (see :mod:`text2sign.families.registry`): one file per family registers its
config, network, objective, pipeline and output kind."""

from text2sign.families.registry import (
    DEFAULT_MODEL,
    MODELS,
    Experiment,
    Family,
    NamedModel,
    NoOptions,
    get_family,
    loaded_families,
    register_family,
    register_model,
    registered_families,
)

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "Experiment",
    "Family",
    "NamedModel",
    "NoOptions",
    "get_family",
    "loaded_families",
    "register_family",
    "register_model",
    "registered_families",
]
