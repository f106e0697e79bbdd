"""The TF-free names in aesthetics.constants match the registries that
implement them (config validation and the CLI use the constants). Models,
losses and backbones have one list only: the registries of aesthetics.catalog."""

from aesthetics import constants as C


def test_constants_match_registries():
    from aesthetics.data.images import IMAGE_EXTENSIONS
    from aesthetics.data.labels import LABEL_FORMATS
    from aesthetics.export.metadata import FORMATS
    from aesthetics.inference.backends import BACKENDS
    from aesthetics.inference.explain import METHODS
    from aesthetics.pretext.degrade import DEGRADATION_NAMES, NUM_LEVELS

    assert C.DEGRADATION_NAMES == DEGRADATION_NAMES and C.NUM_DEGRADATION_LEVELS == NUM_LEVELS
    assert C.LABEL_FORMATS == LABEL_FORMATS and C.IMAGE_EXTENSIONS == IMAGE_EXTENSIONS
    assert C.EXPORT_FORMATS == FORMATS and C.PREDICT_BACKENDS == BACKENDS and C.EXPLAIN_METHODS == METHODS


def test_cli_choices_come_from_the_constants():
    from aesthetics.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices

    def choices(command, dest):
        return tuple(next(a for a in sub[command]._actions if a.dest == dest).choices)

    assert choices("predict", "backend") == C.PREDICT_BACKENDS
    assert choices("export", "format") == C.EXPORT_FORMATS
    assert choices("export", "quantize") == C.QUANTIZE_MODES
    assert choices("evaluate", "label_format") == ("auto",) + C.LABEL_FORMATS
    assert choices("train", "label_format") == ("auto",) + C.LABEL_FORMATS
