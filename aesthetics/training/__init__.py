"""Training: the supervised loop (`supervised`) and the utilities it shares
with self-supervised pretraining (`run_folder`, `optim`, `weights`,
`precision`, `callbacks`)."""
