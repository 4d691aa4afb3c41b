"""wire: talking HTTP to an OpenRouter-compatible server — the client and its retries, SSE, stream
assembly, answers and errors as received, both logprob formats.  Imports only core."""
