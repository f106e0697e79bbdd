"""Training a `reference_gcn` model: `aesthetics train` with ``"model": "reference_gcn"``.

    labels + photos ──► split ──► embeddings (the embedder's backbone, once per
    photo, cached in the run folder) ──► the index of the training photos ──►
    neighbourhoods (training photos: leave-self-out; validation photos: the
    training index) ──► ReferenceGCN fitted on them ──► run folder

The embedder stays frozen, so the model trains as a head: `train.epochs_head`
epochs at `train.lr_head` with `train.optimizer`, early stopping on the
validation loss after `train.early_stopping_patience` epochs (best weights
restored). A training photo never sees itself among its references, as a
new photo would not: without that the model learns to copy the nearest
neighbour (its own label).

The run folder, besides the usual config.json, split.json, history.csv,
model.keras and metrics.json, holds::

    embeddings.npz   every photo's embedding (a resumed or repeated run
                     skips the backbone: the expensive part)
    references/      the index of the training photos, with the trained model
                     as gcn.keras: `aesthetics predict --references RUN/references`

metrics.json has the model's validation metrics and, under "knn", those of
the model-free k-NN estimate over the same neighbours (the baseline the
graph has to beat).
"""

from __future__ import annotations

import logging
import time

import keras
import numpy as np

from aesthetics.config import Config
from aesthetics.errors import DataError
from aesthetics.losses import get_loss
from aesthetics.metrics.scores import evaluate_distributions
from aesthetics.models.reference_gcn import ReferenceGCN, ReferenceGCNConfig
from aesthetics.references.embed import Embedder, public_recipe
from aesthetics.references.graph import graph_inputs, knn_distribution
from aesthetics.references.index import ReferenceIndex
from aesthetics.training.optim import make_optimizer
from aesthetics.training.row_cache import RowCache
from aesthetics.training.run_folder import RunFolder, save_model_atomic, write_json
from aesthetics.training.supervised import begin_cached_run, stack_targets

log = logging.getLogger("aesthetics")
OUTPUTS = ("model.keras", "metrics.json", "split.json", "references/gcn.keras")
GCN_FILE = "gcn.keras"


def train_reference(config: Config, run_dir, resume: bool = True, verbose: int = 1) -> dict:
    """Trains the reference model of `config` into `run_dir` (see the module
    docstring); returns the validation metrics."""
    run, data = begin_cached_run(config, run_dir, OUTPUTS, resume)
    if data is None:
        return run.finished_metrics()
    options = config.model.options
    t0 = time.time()

    embedder = Embedder(options["embedder"], style_layer=options.get("style_layer"))
    train, train_vectors = _embedded(run, embedder, data.train, "training")
    val, val_vectors = _embedded(run, embedder, data.val, "validation")
    k, retrieve = int(options["k"]), list(options["retrieve"])
    if len(train) < k + 1:
        raise DataError(f"model.options.k={k} needs more than {len(train)} usable training photos "
                        "(each one's references leave itself out)")
    recipe = public_recipe(embedder.recipe)
    index = ReferenceIndex(list(train["image_id"]), stack_targets(train), *embedder.split(train_vectors),
                           recipe, sources=[str(config.data.labels)])
    train_graph = graph_inputs(index, *embedder.split(train_vectors), k, retrieve,
                               exclude=np.arange(len(train)))
    val_graph = graph_inputs(index, *embedder.split(val_vectors), k, retrieve)
    y_train, y_val = stack_targets(train), stack_targets(val)
    embed_seconds = time.time() - t0
    log.info("reference graphs: %d training photos (leave-self-out), %d validation photos, %d neighbours "
             "each (%s)", len(train), len(val), k * len(retrieve), "+".join(retrieve))

    gcn_config = ReferenceGCNConfig(
        content_dim=embedder.dims[0], style_dim=embedder.dims[1], k=k, retrieve=retrieve,
        num_bins=config.model.num_bins, hidden=int(options["hidden"]), gcn_layers=int(options["gcn_layers"]),
        learned_adjacency=bool(options["learned_adjacency"]), similarity_prior=bool(options["similarity_prior"]),
        temperature=float(options["temperature"]), dropout=float(config.model.dropout), embedding=recipe)
    info = {"data": {k_: getattr(config.data, k_) for k_ in ("labels", "label_format", "score_range")},
            "references": len(index)}
    model = ReferenceGCN(gcn_config, info=info)
    t = config.train
    model.compile(optimizer=make_optimizer(t.optimizer, t.lr_head, weight_decay=t.weight_decay),
                  loss=get_loss(t.loss, **t.loss_options))
    run.file("history.csv").unlink(missing_ok=True)  # the fit starts from scratch on the cached embeddings
    callbacks = [keras.callbacks.EarlyStopping(patience=t.early_stopping_patience, restore_best_weights=True,
                                               start_from_epoch=0),
                 keras.callbacks.CSVLogger(str(run.file("history.csv")))]
    t1 = time.time()
    history = model.fit(train_graph.inputs, y_train, validation_data=(val_graph.inputs, y_val),
                        epochs=t.epochs_head, batch_size=config.data.batch_size, callbacks=callbacks,
                        verbose=verbose, shuffle=True)
    fit_seconds = time.time() - t1

    predicted = np.asarray(model.predict(val_graph.inputs, batch_size=256, verbose=0), np.float32)
    knn = knn_distribution(val_graph.inputs["similarities"], val_graph.inputs["neighbour_distributions"],
                           gcn_config.temperature)
    metrics = evaluate_distributions(y_val, predicted, t.accuracy_threshold)
    knn_metrics = evaluate_distributions(y_val, knn, t.accuracy_threshold)
    model.info = {**model.info, "validation": {k_: metrics[k_] for k_ in ("n", "srcc", "plcc")},
                  "validation_knn": {k_: knn_metrics[k_] for k_ in ("n", "srcc", "plcc")}}
    save_model_atomic(model, run.file("model.keras"))
    references = run.file("references")
    index.save(references)
    embedder.keep_with_index(references)
    save_model_atomic(model, references / GCN_FILE)
    losses = history.history.get("val_loss", [])
    metrics.update({"split": "val", "n_train": int(len(train)), "n_missing": int(len(data.missing)),
                    "knn": knn_metrics, "best_epoch": int(np.argmin(losses)) + 1 if losses else None,
                    "embed_seconds": round(embed_seconds, 1), "train_seconds": round(fit_seconds, 1),
                    "references": str(references)})
    write_json(run.file("metrics.json"), metrics)
    run.update_state(finished=True)
    log.info("validation SRCC %.3f (k-NN over the same references: %.3f)", metrics["srcc"], knn_metrics["srcc"])
    return metrics


def _embedded(run: RunFolder, embedder: Embedder, table, what: str):
    """(the rows of `table` whose photos could be embedded, their vectors),
    through the run folder's embedding cache."""
    cache = RowCache(run.file("embeddings.npz"),
                     f"{embedder.recipe['model_sha256']}:{embedder.recipe['style_layer']}")
    paths = [str(p) for p in table["filepath"]]
    todo = [p for p in paths if p not in cache.rows]
    if todo:
        log.info("embedding %d %s photo(s) with %s", len(todo), what, embedder.recipe["model"])
        vectors, ok, failures = embedder.embed_paths(todo)
        for p, reason in failures.items():
            log.warning("skipped %s: %s", p, reason)
        cache.add({todo[i]: v for i, v in zip(ok, vectors)})
    keep = [i for i, p in enumerate(paths) if p in cache.rows]
    if not keep:
        raise DataError(f"none of the {len(paths)} {what} photos could be embedded")
    rows = table.iloc[keep].reset_index(drop=True)
    return rows, np.stack([cache.rows[paths[i]] for i in keep]).astype(np.float32)
