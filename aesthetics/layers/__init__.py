"""Custom Keras layers, one per module. Importing this package registers them
for `.keras` deserialisation."""

from aesthetics.layers.preprocess import BackbonePreprocess  # noqa: F401
from aesthetics.layers.adaptive_fusion import AdaptiveFusion  # noqa: F401
from aesthetics.layers.mean_std_pooling import MeanStdPooling  # noqa: F401
from aesthetics.layers.non_local import NonLocalBlock  # noqa: F401
from aesthetics.layers.spatial_attention import SpatialAttention  # noqa: F401
from aesthetics.layers.reference_prior import ReferencePrior  # noqa: F401
from aesthetics.layers.graph_attention_adjacency import GraphAttentionAdjacency  # noqa: F401
from aesthetics.layers.graph_convolution import GraphConvolution  # noqa: F401
from aesthetics.layers.cosine_distance import CosineDistance  # noqa: F401
