"""analysis: the Result a call returns and everything computed from its runs — tables, logprob
metrics, token views, choices, divergence, summaries.  Imports core, wire and run."""
