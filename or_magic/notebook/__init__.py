"""notebook: what a person in IPython or Jupyter touches — the magics, the magic-line parser, the
widgets panel, the live streamed display.  Imports every layer below, through the api where it
can."""
