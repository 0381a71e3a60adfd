"""Models: the registry, fused cores, the step-by-step engine, cells and the registered models."""

# Each model file registers itself; add new models here.
from seqnet.models import (  # noqa: F401
    gru,
    gru_layernorm,
    indrnn,
    irnn,
    lstm,
    lstm_cifg,
    lstm_layernorm,
    lstm_peephole,
    mingru,
    minlstm,
    rnn,
)
from seqnet.models.cells import Cell, GRUCell, LSTMCell, RNNCell
from seqnet.models.cells.gru_layernorm import LayerNormGRUCell
from seqnet.models.cells.indrnn import IndRNNCell
from seqnet.models.cells.irnn import IRNNCell
from seqnet.models.cells.lstm_cifg import CIFGLSTMCell
from seqnet.models.cells.lstm_layernorm import LayerNormLSTMCell
from seqnet.models.cells.lstm_peephole import PeepholeLSTMCell
from seqnet.models.cells.mingru import MinGRUCell
from seqnet.models.cells.minlstm import MinLSTMCell
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
from seqnet.models.scan import ScanRNN, log_linear_scan
from seqnet.models.sequence_model import SequenceModel, concat_predictions

__all__ = [
    "MODEL_FOR_SHAPE",
    "MODEL_REGISTRY",
    "CIFGLSTMCell",
    "Cell",
    "Decoder",
    "EncoderDecoder",
    "FusedGRU",
    "FusedLSTM",
    "FusedRNN",
    "GRUCell",
    "IRNNCell",
    "IndRNNCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "Model",
    "ModelConfig",
    "PeepholeLSTMCell",
    "Probes",
    "RNNCell",
    "ScanRNN",
    "SequenceModel",
    "StepRNN",
    "VectorDecoder",
    "build_core",
    "build_model",
    "concat_predictions",
    "core_factory",
    "log_linear_scan",
    "register_model",
    "unroll",
]
