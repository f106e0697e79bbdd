"""Using trained models: loading (`loading`), scoring files (`scoring`),
exported-artefact backends (`backends`), evaluation against labels
(`evaluation`) and attention / Grad-CAM maps (`explain`)."""
