"""An index embedded by a model file (not a shipped model) keeps a copy of it,
so it scores after the original moves; a changed copy is refused by its sha256."""

import shutil

import numpy as np
import pytest

from aesthetics.sample_data import sample_images_dir


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    import keras

    from aesthetics.config import ModelConfig
    from aesthetics.models import Recipe, build_model

    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(alpha=0.25, backbone_weights=None), recipe=Recipe(image_size=64, resize_to=64))
    path = tmp_path_factory.mktemp("embedder") / "tiny.keras"
    model.save(path)
    return path


def test_an_index_keeps_its_file_embedder(tiny_model_file, tmp_path):
    from aesthetics.errors import ConfigError
    from aesthetics.references.embed import EMBEDDER_FILE, Embedder, public_recipe
    from aesthetics.references.index import ReferenceIndex
    from aesthetics.references.scoring import ReferenceScorer

    photos = sorted(sample_images_dir().glob("*.jpg"))[:12]
    original = tmp_path / "elsewhere.keras"
    shutil.copy(tiny_model_file, original)
    embedder = Embedder(original, style_layer="conv_pw_3_relu")
    vectors, ok, failures = embedder.embed_paths([str(p) for p in photos])
    assert not failures and len(ok) == 12
    assert np.allclose(np.linalg.norm(vectors[:, :embedder.dims[0]], axis=1), 1, atol=1e-5)
    dists = np.random.default_rng(0).dirichlet(np.ones(10), size=12).astype("float32")
    index = ReferenceIndex([p.stem for p in photos], dists, *embedder.split(vectors), public_recipe(embedder.recipe))
    folder = tmp_path / "idx"
    index.save(folder)
    embedder.keep_with_index(folder)
    assert index.embedding["model"] == EMBEDDER_FILE and "path" not in index.embedding
    original.unlink()  # the index no longer needs it

    scorer = ReferenceScorer(folder, k=3)
    entries, failures = scorer.for_paths([str(photos[0]), str(photos[5])])
    assert not failures and all(e["method"] == "knn" for e in entries)
    assert entries[0]["left_out"] == photos[0].stem  # the photo itself is in the index: left out
    assert photos[0].stem not in [n["id"] for n in entries[0]["neighbours"]]
    assert len(entries[1]["neighbours"]) == 6  # 3 by content, 3 by style

    with open(folder / EMBEDDER_FILE, "ab") as f:  # another file under the same name
        f.write(b"\0")
    with pytest.raises(ConfigError, match="sha256"):
        ReferenceScorer(folder)
