"""notebook: what a person in IPython or Jupyter touches — the magics, the magic-line parser, the
widgets panel, the live streamed display.  Imports every layer below, through api.py where it
can."""
