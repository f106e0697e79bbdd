"""`aesthetics zero-shot`: a CLIP-IQA scoring model from a CLIP preset, no training."""

from __future__ import annotations

import sys
from pathlib import Path

from aesthetics.cli.common import check_writable_file, require_path
from aesthetics.errors import ConfigError


def register(sub, parents=()):
    p = sub.add_parser("zero-shot", parents=list(parents), help="build a zero-shot CLIP-IQA model (no training)",
                       description="Build a scoring model from a KerasHub CLIP preset (vision and text encoders "
                       "and its tokenizer) that compares each photo with a pair of antonym prompts (CLIP-IQA): "
                       "score = 1 + 9 p(first prompt). The prompts are embedded once, now; the .keras file "
                       "scores, explains and exports like any other model (`predict --model FILE`).")
    p.add_argument("--preset", required=True, help="a KerasHub CLIP preset folder (or a preset name, online)")
    p.add_argument("--output", required=True, help="the .keras file to write")
    p.add_argument("--prompts", nargs="+", default=["Good photo.", "Bad photo."], metavar="TEXT",
                   help="the good prompt first, then its antonym(s) (default: 'Good photo.' 'Bad photo.')")
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    if len(args.prompts) < 2 or any(not t.strip() for t in args.prompts):
        raise ConfigError("--prompts: give at least two non-empty prompts (the good one first)")
    if any(c in args.preset for c in "/\\.~"):
        require_path(args.preset, "--preset", "dir")
    check_writable_file(args.output, "--output", (".keras",))


def run(args) -> int:
    from aesthetics.config import ModelConfig
    from aesthetics.models import Recipe, build_model
    from aesthetics.models.keras_hub_backbones import encoder_of, image_size_of, keras_hub, load_preset_backbone

    keras_hub()
    size = image_size_of(encoder_of(load_preset_backbone(args.preset, "clip", load_weights=False), "clip"))
    config = ModelConfig(model="clip_zero_shot", backbone="clip", backbone_preset=args.preset,
                         backbone_weights="preset", options={"prompts": list(args.prompts)})
    recipe = Recipe(image_size=size, resize_to=size, output="score")
    model = build_model(config, recipe=recipe, head="zero_shot",
                        info={"zero_shot": {"prompts": list(args.prompts), "method": "CLIP-IQA antonym prompts"}})
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"aesthetics: wrote {out}: zero-shot {' / '.join(repr(p) for p in args.prompts)} at {size} px",
          file=sys.stderr)
    return 0
