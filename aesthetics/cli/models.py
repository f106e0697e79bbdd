"""`aesthetics models`: the models shipped inside the package."""

from __future__ import annotations

import json


def register(sub, parents=()):
    p = sub.add_parser(
        "models",
        parents=list(parents),
        help="list the shipped (pretrained) models",
        description="List the models that ship inside the package: name, what it scores, "
        "training data, cross-validated SRCC/PLCC, size and licence. Use a name with "
        "`predict --model NAME`, `train --init-from NAME` or `aesthetics.load(NAME)`.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run, needs_tensorflow=False)


def _fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)


def run(args) -> int:
    from aesthetics.zoo import DEFAULT_MODEL, list_models

    models = list_models()
    if args.json:
        print(json.dumps([
            {"name": m.name, "aliases": list(m.aliases), "default": m.name == DEFAULT_MODEL,
             "scores": m.scores, "data": m.data, "reported": m.extra.get("reported"),
             "cv_srcc": m.cv_srcc, "cv_plcc": m.cv_plcc, "size_bytes": m.size_bytes,
             "licence": m.licence, "onnx": m.has("onnx"), "folder": str(m.folder)}
            for m in models
        ], indent=2))
        return 0
    if not models:
        print("no shipped models in this installation")
        return 0
    for m in models:
        star = " (default)" if m.name == DEFAULT_MODEL else ""
        aliases = f" (alias: {', '.join(m.aliases)})" if m.aliases else ""
        print(f"{m.name}{aliases}{star}")
        print(f"  scores:   {m.scores}")
        print(f"  data:     {m.data}")
        reported = m.extra.get("reported")
        if m.cv_srcc is not None or not reported:
            print(f"  CV SRCC:  {_fmt(m.cv_srcc)}   PLCC: {_fmt(m.cv_plcc)}")
        if reported:
            numbers = ", ".join(f"{k.upper()} {v}" for k, v in reported.items() if k != "by")
            print(f"  reported: {numbers} ({reported.get('by', '')})")
        print(f"  size:     {m.size_bytes / 1e6:.1f} MB (.keras){' + ONNX copy' if m.has('onnx') else ''}")
        print(f"  licence:  {m.licence}")
        print(f"  card:     {m.folder / 'MODEL_CARD.md'}")
    return 0
