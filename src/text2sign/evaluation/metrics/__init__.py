"""Evaluation metrics of text2sign: pure functions on numpy arrays, one module per modality.

``pose``
    Pose distances on ``(T, J, D)`` data with ``(T, J)`` masks: DTW alignment (``dtw_path``,
    ``frame_path``), DTW-MJE as SLRTP 2025 computes it (``dtw_mje``), nDTW-MJE as Ham2Pose
    computes it (``ndtw_mje_ham2pose``) and pose-evaluation's default DTW-MJE
    (``ndtw_mje_pose_evaluation``) -- three definitions whose numbers do not compare --,
    per-channel MSE/MAE, the poolable ``Pooled`` / ``ChannelErrors`` results and their ``pool``
    helpers, and hand-face synchronisation (``sync_metrics``).
``text``
    Back-translation text metrics on lists of sentences, 0-100: BLEU-1..4, ROUGE-L, WER, CER,
    as Progressive Transformers, Sign Language Transformers and SLRTP report them.
``distribution``
    Feature-set metrics on ``(N, C)`` recognizer features: Fréchet distance (FID for poses) and
    diversity (Action2Motion / HumanML3D).
``video``
    Video metrics on uint8 ``(T, H, W, 3)`` frames: PSNR, SSIM, temporal consistency.

Every public name is re-exported here, so ``from text2sign.evaluation import metrics;
metrics.dtw_mje(...)`` and ``from text2sign.evaluation.metrics import bleu`` work as they did
when this was one module. Every function validates its inputs and raises
:class:`~text2sign.errors.MetricInputError` with one line naming the problem.
"""

# Every module lists its public names in __all__; this package is their union.
from text2sign.evaluation.metrics import distribution, pose, text, video
from text2sign.evaluation.metrics.distribution import *
from text2sign.evaluation.metrics.pose import *
from text2sign.evaluation.metrics.text import *
from text2sign.evaluation.metrics.video import *

__all__ = pose.__all__ + text.__all__ + distribution.__all__ + video.__all__
