"""Writes of generation, one module per capability: requests (create a request; request_inputs
resolves what it asks for), conversations, jobs (the generation job's state rules), pipeline (run a
claimed request; completion stores its designs), renders (PNGs of stored designs).

Import from the module that owns a write; this package re-exports nothing.
"""
