"""The teacher: start/stop the vLLM server (server.py), talk to it (client.py), cache its answers (cache.py)."""

import logging

# httpx (and httpx2, which the openai SDK uses) log every request at INFO: thousands of lines per stage.
for _name in ("httpx", "httpx2"):
    logging.getLogger(_name).setLevel(logging.WARNING)
