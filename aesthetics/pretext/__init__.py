"""Self-supervised pretraining: graded degradations (`degrade`), pretext
batches (`batches`), the pretext model (`model`), its losses (`losses`) and
the resumable loop (`training`). See docs/PRETRAINING.md."""
