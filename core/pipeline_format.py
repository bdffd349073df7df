"""The names every pipeline module shares: the format number, the index file's name and the
error a pipeline folder raises. Kept apart so that :mod:`.pipeline` (reading and writing) and
:mod:`.pipeline_hub` (finding a folder by name) need not import each other."""
from __future__ import annotations

__all__ = ["FORMAT", "INDEX", "PipelineError"]

#: Version of the folder layout; a reader refuses a newer one.
FORMAT = 1
#: The pipeline's index (and model card), at the folder's top.
INDEX = "pipeline.json"


class PipelineError(ValueError):
    """A pipeline folder is missing, corrupt, of another format or of another class."""
