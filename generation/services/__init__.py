"""Writes of generation, one module per capability: requests (create a request, conversations), jobs
(the generation job's state rules), pipeline (run a claimed request), renders (PNGs of stored designs).

Import from the module that owns a write; this package re-exports nothing.
"""
