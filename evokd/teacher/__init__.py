"""The teacher: start/stop the vLLM server (server.py), talk to it (client.py), cache its answers (cache.py)."""
