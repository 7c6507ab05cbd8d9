"""Read-back scoring of a text-to-pose model while it trains: generate, let the shipped recognizer
read the poses back, score the CER (``objective.dev_metric: cer`` of GAN-NAT and the latent stages)."""

from __future__ import annotations


def generate_item(pipeline, item):
    """`item` signed by a text-to-pose `pipeline`, reading what its model was trained on (its
    gloss for a gloss model, its signer where the model knows it; a model reading neither, such
    as one that refines a plan, gets the text alone)."""
    cfg = getattr(getattr(pipeline, "generator", None), "cfg", None)
    if cfg is None:
        return pipeline(item.text, item.spoken_language, item.signed_language)
    gloss = item.gloss if cfg.input != "text" else None
    signer = item.signer if item.signer in cfg.text.signers else None
    return pipeline(item.text, item.spoken_language, item.signed_language, gloss=gloss, signer=signer)


def read_back_cer(pipeline, items):
    """Validation by back-translation: ``validate(generator, device) -> {"dev/cer": ...}`` generates
    every item with ``pipeline(generator, device)`` and reads it with the shipped recognizer."""
    from text2sign.evaluation.metrics import cer
    from text2sign.evaluation.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained()

    def validate(generator, device) -> dict[str, float]:
        generate = pipeline(generator, device)
        poses = [generate_item(generate, i).outputs[0] for i in items]
        read = recognizer.recognize(poses, [i.signed_language for i in items])
        return {"dev/cer": cer(read, [i.text for i in items])}

    return validate
