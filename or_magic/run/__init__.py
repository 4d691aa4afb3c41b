"""run: what a call is and how its runs are made — the run spec (`RunSpec`, `Run`, `Plan`),
templating, grids, the cost budget, the sequential and concurrent runners, progress.
Imports core and wire."""
