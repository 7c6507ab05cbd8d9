"""What the latent chain's stage-2 families (``latent-regressor``, ``latent-flow``,
``latent-distill``) build alike; not a family itself.

Each is a :class:`LatentGenerator` (``models/latent.py``) trained from an earlier stage's
checkpoint and sampled by :class:`LatentPipeline` (``pipelines/latent.py``); the families differ in
the generator's mode, the checkpoint they start from and their objective.
"""

from __future__ import annotations

import dataclasses
import sys

from text2sign.data.selection import alphabets, corpus_frame, model_conditioning
from text2sign.data.torch_data import collate_pose_batch, pose_splits
from text2sign.errors import ConfigError, CorpusError
from text2sign.evaluation.read_back import read_back_cer
from text2sign.families.registry import Experiment
from text2sign.models.latent import LatentGenerator, LatentGeneratorConfig
from text2sign.pipelines.latent import LatentPipeline
from text2sign.text.encoders import resolve_text_config
from text2sign.text.inputs import model_input

SAMPLES = 2
PRIOR_NOTES = {
    "mamba": "the prior is a Mamba (mambapy)",
    "transformer": "mambapy is not installed, so the prior is the design's transformer fallback "
    "(pip install 'text2sign[ssm]' for Mamba)",
}


def build_stage2(config, make_objective, *, mode: str, init_key: str = "autoencoder") -> Experiment:
    """A stage-2 experiment of the generator in `mode` (regressor or flow), started from the
    checkpoint ``init.<init_key>`` (an autoencoder, or a latent generator to distill):
    `make_objective(generator, earlier_checkpoint, objective_config)` makes its objective."""
    from text2sign.checkpoints import load_checkpoint

    if init_key not in config.init:
        raise ConfigError(f"family {config.family} needs init.{init_key}: a checkpoint directory of the earlier stage")
    earlier = load_checkpoint(config.init[init_key])
    if earlier.feature_stats is None:
        raise ConfigError(f"init.{init_key} {earlier.path} has no normalization.json")
    if init_key == "autoencoder":
        if earlier.family.name != "latent-ae":
            raise ConfigError(f"init.autoencoder {earlier.path} is a {earlier.family.name} checkpoint, not latent-ae")
        ae = earlier.model_config
        model: LatentGeneratorConfig = dataclasses.replace(config.model, autoencoder=ae, mode=mode)
    else:
        if not isinstance(earlier.model, LatentGenerator):
            raise ConfigError(
                f"init.{init_key} {earlier.path} is a {earlier.family.name} checkpoint, not a latent generator"
            )
        model = dataclasses.replace(earlier.model.cfg, step_conditioned=True)
        ae = model.autoencoder
    data = pose_splits(
        config.data,
        ae.kinds,
        ae.hand_relative,
        config.train.seed,
        stats=earlier.feature_stats,
        input_mode=model.predictor.input,
    )
    items = data.items
    if init_key == "autoencoder":
        predictor = model.predictor.with_conditioning(
            *model_conditioning(items, config.data, model.predictor.text.signers)
        )
        text = resolve_text_config(predictor.text, [model_input(i.text, i.gloss, predictor.input) for i in items])
        if not text.signed_languages:
            text.signed_languages = sorted({i.signed_language for i in items})
        model = dataclasses.replace(model, predictor=dataclasses.replace(predictor, text=text))
    generator = LatentGenerator(model)
    if model.prior == "ssm":  # which prior was built is in the checkpoint's config; say it here too
        print(f"note: model.prior ssm: {PRIOR_NOTES[generator.cfg.prior]}", file=sys.stderr)
    if init_key == "autoencoder":
        generator.decoder.load_state_dict(earlier.model.decoder.state_dict())
    if "predictor" in config.init:
        warm_start(generator.predictor, config.init["predictor"])
    objective = make_objective(generator, earlier, config.objective)
    frame, canvas = corpus_frame(data.corpus, items)
    inference = dataclasses.replace(
        config.inference,
        shoulder_center=tuple(float(v) for v in frame.center),
        shoulder_width=frame.scale,
        canvas=canvas,
    )
    if model.step_conditioned:  # a student: it samples well only with the step counts it learnt
        inference = dataclasses.replace(inference, max_steps=max(config.objective.student_steps))
    pairs = sorted({(i.spoken_language, i.signed_language) for i in items})
    resolved = dataclasses.replace(config, model=objective.generator.cfg, inference=inference)
    metadata = {"language_pairs": [list(p) for p in pairs], "alphabets": alphabets(items, objective.generator.cfg)}

    def pipeline(generator, device):
        return LatentPipeline(
            generator,
            data.stats,
            language_pairs=pairs,
            inference=inference,
            device=device,
            alphabets=metadata["alphabets"],
        )

    sample_items = data.dev_items[:: max(1, len(data.dev_items) // SAMPLES)][:SAMPLES]

    def sample(generator, device):
        generate = pipeline(generator, device)
        return {
            f"{i.signed_language}-{i.text}": generate(i.text, i.spoken_language, i.signed_language).outputs[0]
            for i in sample_items
        }

    validate, metric = None, "dev/loss"
    if config.objective.dev_metric == "cer":
        if not data.dev_items:
            raise CorpusError(f"objective.dev_metric is cer but {data.corpus.root} has no dev items to read back")
        validate, metric = read_back_cer(pipeline, data.dev_items), "dev/cer"
    return Experiment(
        objective,
        data.train,
        dev_data=data.dev,
        validate=validate,
        metric=metric,
        collate_fn=collate_pose_batch,
        feature_stats=data.stats,
        sample=sample,
        config=resolved,
        metadata=metadata,
    )


def warm_start(predictor, path) -> None:
    """Start the predictor (``init.predictor``) from a GAN-NAT checkpoint or from an earlier
    latent stage's predictor (e.g. a flow trained on an earlier autoencoder): every tensor whose
    name and shape match (text encoder, attention blocks, duration head), so letters and their
    timing need not be learnt again; heads of another size stay new. The decoder is never taken
    from there: it is always ``init.autoencoder``'s."""
    from text2sign.checkpoints import load_checkpoint

    source = load_checkpoint(path)
    if source.family.name == "gan-nat":
        network = source.model
    elif isinstance(source.model, LatentGenerator):
        network = source.model.predictor
    else:
        raise ConfigError(
            f"init.predictor {source.path} is a {source.family.name} checkpoint, not gan-nat or a latent stage"
        )
    if network.cfg.text.to_dict() != predictor.cfg.text.to_dict():
        raise ConfigError(f"init.predictor {source.path} reads text differently (its text encoder config differs)")
    own = predictor.state_dict()
    fitting = {k: v for k, v in network.state_dict().items() if k in own and own[k].shape == v.shape}
    predictor.load_state_dict(fitting, strict=False)
