"""hwlib — the small library of the meta-learning homework.

Data (:mod:`~hwlib.omniglot`, :mod:`~hwlib.splits`, :mod:`~hwlib.download`), tasks
(:mod:`~hwlib.tasks`, :mod:`~hwlib.sinusoid`), functional models (:mod:`~hwlib.models`) and the
meta-learning skeleton (:mod:`~hwlib.learner`, :mod:`~hwlib.outer_loop`,
:mod:`~hwlib.evaluate`, :mod:`~hwlib.checkpoint`), and what two algorithms add to it
(:mod:`~hwlib.protonet`, :mod:`~hwlib.metasgd`).  The algorithm-specific pieces — the inner
loop and the meta-loss — are yours to write in the notebook.
"""

from .profiles import notebook_budget
from .device import default_device
from .download import download_omniglot
from .errors import CacheError, CorruptDataError, DataNotFoundError, DownloadError, HwlibError
from .evaluate import EvalResult, accuracy, evaluate, evaluate_steps, graph_memory_mb, mean_ci95
from .learner import MetaLearner, inner_loop, pretrain_loss
from .metasgd import init_alphas, metasgd_learner, pack, unpack
from .models import (MLP, Conv4, Params, detach_params, forward, init_params, split_body_head,
                     task_loss)
from .omniglot import CharacterSet, load_set
from .outer_loop import TrainConfig, TrainResult, meta_train
from .protonet import embed, prototype_head, protonet_learner
from .sinusoid import SineTasks, SinusoidSampler, tiny_sine_problem
from .splits import Splits, omniglot_splits
from .tasks import EpisodeSampler, FixedTaskSet, TaskBatch

__version__ = "0.1.0"

__all__ = [
    "CacheError", "CharacterSet", "Conv4", "CorruptDataError", "DataNotFoundError",
    "DownloadError", "EpisodeSampler", "EvalResult", "FixedTaskSet", "HwlibError", "MLP",
    "MetaLearner", "Params", "SineTasks", "SinusoidSampler", "Splits", "TaskBatch",
    "TrainConfig", "TrainResult", "accuracy", "default_device", "detach_params",
    "download_omniglot", "embed", "evaluate", "evaluate_steps", "forward", "graph_memory_mb",
    "init_alphas", "init_params", "inner_loop", "load_set", "mean_ci95", "meta_train",
    "metasgd_learner", "notebook_budget", "protonet_learner",
    "omniglot_splits", "pack", "pretrain_loss", "prototype_head", "split_body_head", "task_loss", "tiny_sine_problem",
    "unpack",
]
