"""store: what outlives the kernel — the history database (every run recorded), its queries, and
the cache served from it.  Imports core, wire and run."""
