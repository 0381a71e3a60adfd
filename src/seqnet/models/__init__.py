"""Models: the registry, fused cores, the step-by-step engine, cells and the registered models."""

from seqnet.models import gru, lstm, rnn  # noqa: F401  (each registers itself; add new models here)
from seqnet.models.cells import Cell, GRUCell, LSTMCell, RNNCell
from seqnet.models.cores import FusedGRU, FusedLSTM, FusedRNN, StepRNN
from seqnet.models.decoders import Decoder, EncoderDecoder, VectorDecoder
from seqnet.models.engine import Probes, unroll
from seqnet.models.registry import (
    MODEL_FOR_SHAPE,
    MODEL_REGISTRY,
    Model,
    ModelConfig,
    build_core,
    build_model,
    core_factory,
    register_model,
)
from seqnet.models.sequence_model import SequenceModel, concat_predictions

__all__ = [
    "MODEL_FOR_SHAPE",
    "MODEL_REGISTRY",
    "Cell",
    "Decoder",
    "EncoderDecoder",
    "FusedGRU",
    "FusedLSTM",
    "FusedRNN",
    "GRUCell",
    "LSTMCell",
    "Model",
    "ModelConfig",
    "Probes",
    "RNNCell",
    "SequenceModel",
    "StepRNN",
    "VectorDecoder",
    "build_core",
    "build_model",
    "concat_predictions",
    "core_factory",
    "register_model",
    "unroll",
]
