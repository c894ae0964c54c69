"""Inference graphs: the SeldonDeployment spec, validation, layout and the in-process executor."""
